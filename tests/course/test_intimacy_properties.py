"""The intimacy module's privacy rules over random histories: whatever the order in which two partners
choose, mark, finish and change their minds (and part and pair again), nothing one marked "no" ever
reaches the other, and what each sees of the module is the same whether the other said no or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, delete

from program.course import intimacy
from program.infra.db import read_session, write_session
from program.infra.models import Couple, ModuleChoice, QuestionnaireSubmission, SubmissionStatus, WishMark
from program.privacy import access, couples
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from tests.factories import make_person
from tests.program_helpers import PROGRAM

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ITEMS = intimacy.content().item_keys
PLAYED = ITEMS[:4]  # a few items, so that common ones and conflicts are frequent
WHO = st.sampled_from([0, 1])
MARK = st.sampled_from(["yes", "maybe", "no", None])
ACTIONS = st.one_of(
    st.tuples(st.just("choose"), WHO, st.booleans()),
    st.tuples(st.just("mark"), WHO, st.dictionaries(st.sampled_from(PLAYED), MARK, max_size=4)),
    st.tuples(st.just("done"), WHO),
    st.tuples(st.just("reform")),
)


@dataclass
class Model:
    """The rules, read independently of the code: each partner's own answer, marks and "done"."""

    choice: dict[int, bool | None] = field(default_factory=lambda: {0: None, 1: None})
    marks: dict[int, dict[str, str]] = field(default_factory=lambda: {0: {}, 1: {}})
    done: dict[int, bool] = field(default_factory=lambda: {0: False, 1: False})

    @property
    def open(self) -> bool:
        return self.choice[0] is True and self.choice[1] is True

    def view(self, me: int) -> tuple[access.ModuleView, access.WishesView]:
        module = access.ModuleView(self.choice[me], self.open, self.done[me])
        common: tuple[str, ...] | None = None
        if self.open and self.done[0] and self.done[1]:
            common = tuple(
                item for item in ITEMS if all(self.marks[p].get(item) in ("yes", "maybe") for p in (0, 1))
            )
        return module, access.WishesView(dict(self.marks[me]), common)


def _couple(engine: Engine, partners: list[Viewer]) -> int:
    """A couple of these two in which both finished the last stage (its end check sent)."""
    with write_session(engine) as session:
        couple = Couple(created_by_id=partners[0].person_id)
        session.add(couple)
        session.flush()
        assert couple.id is not None
        for partner in partners:
            session.add(CoupleMembership(couple_id=couple.id, person_id=partner.person_id))
            session.add(
                QuestionnaireSubmission(
                    person_id=partner.person_id,
                    couple_id=couple.id,
                    instrument=PROGRAM.stage_by_key[intimacy.LAST_STAGE].check,
                    occasion=f"{intimacy.LAST_STAGE}:end",
                    status=SubmissionStatus.SUBMITTED,
                    submitted_at=T0,
                )
            )
        return couple.id


def _seen(session: Session, viewer: Viewer, couple_id: int) -> tuple[Any, ...]:
    """Everything of the module one partner can see: the page's view, the menu, the wishes list."""
    module = intimacy.standing(session=session, viewer=viewer, program=PROGRAM).module
    return (
        module,
        intimacy.is_open(session=session, viewer=viewer),
        intimacy.wishes(session=session, viewer=viewer, couple_id=couple_id),
    )


def _without_others_no(session: Session, other: Viewer, couple_id: int) -> None:
    """Turn the other's "no" answer and "no" marks into no answer and no mark (rolled back by the caller)."""
    session.exec(
        delete(ModuleChoice).where(
            col(ModuleChoice.person_id) == other.person_id,
            col(ModuleChoice.couple_id) == couple_id,
            col(ModuleChoice.wants).is_(False),
        )
    )
    session.exec(
        delete(WishMark).where(
            col(WishMark.person_id) == other.person_id,
            col(WishMark.couple_id) == couple_id,
            col(WishMark.mark) == "no",
        )
    )
    session.flush()


def _check(engine: Engine, people: list[Viewer], couple_id: int, model: Model) -> None:
    for me in (0, 1):
        viewer, other = people[me], people[1 - me]
        with read_session(engine) as session:
            seen = _seen(session, viewer, couple_id)
            # The code agrees with the rules read independently.
            assert (seen[0], seen[2]) == model.view(me)
            assert seen[1] == model.open
            # Nothing the other marked no is among what this partner sees.
            common = seen[2].common or ()
            assert not {i for i in common if model.marks[1 - me].get(i) == "no"}
            # The other's "no" (answer or marks) read exactly like no answer at all.
            _without_others_no(session, other, couple_id)
            assert _seen(session, viewer, couple_id) == seen
            session.rollback()


def _act(engine: Engine, people: list[Viewer], action: tuple[Any, ...], model: Model) -> None:
    kind, who = action[0], action[1]
    viewer = people[who]
    with write_session(engine) as session:
        if kind == "choose":
            intimacy.choose(session=session, viewer=viewer, program=PROGRAM, wants=action[2], now=T0)
            model.choice[who] = action[2]
            return
        marks: Mapping[str, str | None] = action[2] if kind == "mark" else {}
        try:
            intimacy.save_marks(
                session=session, viewer=viewer, program=PROGRAM, marks=marks, done=kind == "done", now=T0
            )
        except intimacy.IntimacyError:
            assert not model.open  # refused only while closed
            return
    assert model.open
    for item, mark in marks.items():
        if mark is None:
            model.marks[who].pop(item, None)
        else:
            model.marks[who][item] = mark
    model.done[who] = model.done[who] or kind == "done"


def _empty(engine: Engine) -> None:
    with write_session(engine) as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.execute(table.delete())


EVERYTHING_THEN_NO = [
    ("choose", 0, True),
    ("choose", 1, True),
    ("mark", 0, {PLAYED[0]: "yes", PLAYED[1]: "no", PLAYED[2]: "maybe"}),
    ("mark", 1, {PLAYED[0]: "maybe", PLAYED[1]: "yes", PLAYED[2]: "no"}),
    ("done", 0),
    ("done", 1),
    ("mark", 1, {PLAYED[0]: "no"}),
    ("choose", 1, False),
    ("reform",),
    ("choose", 0, True),
]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(actions=st.lists(ACTIONS, max_size=12))
@example(actions=EVERYTHING_THEN_NO)
def test_no_never_reaches_the_other_whatever_the_order(
    engine: Engine, actions: list[tuple[Any, ...]]
) -> None:
    """After every step of a random history, each partner sees exactly what the rules allow, never an item
    the other marked no, and the same as if the other's no's were no answer; after parting and pairing
    again, the old couple is closed to both and the new one starts with nothing."""
    _empty(engine)
    people = [make_person(engine, "ana"), make_person(engine, "ben")]
    couple_id = _couple(engine, people)
    model = Model()
    for action in actions:
        if action[0] == "reform":
            with write_session(engine) as session:
                couples.leave_couple(session=session, viewer=people[0], now=T0)
            old, couple_id, model = couple_id, _couple(engine, people), Model()
            with read_session(engine) as session:
                for viewer in people:
                    with pytest.raises(access.AccessDenied):
                        access.readable_wishes(
                            session=session, viewer=viewer, couple_id=old, module=intimacy.MODULE, items=ITEMS
                        )
        else:
            _act(engine, people, action, model)
        _check(engine, people, couple_id, model)
