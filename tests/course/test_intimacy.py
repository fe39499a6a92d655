"""The intimacy module: offered after the last stage, opened only by both partners' yes, and a wishes list
whose common items reach both only after both finished, never an item either marked no."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from program.course import intimacy, questionnaires
from program.course.curriculum import ContentError
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, ModuleChoice, Role, WishMark
from program.infra.settings import CONTENT_DIR
from program.privacy import access, couples
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all

ITEMS = intimacy.content().item_keys


def finish_program(engine: Engine, viewer: Viewer) -> None:
    """The last stage's end check sent in the viewer's current couple: what "finished Connection" means."""
    check = PROGRAM.stage_by_key[intimacy.LAST_STAGE].check
    answer_all(engine, viewer, check, questionnaires.stage_occasion(intimacy.LAST_STAGE, "end"), 6)


def choose(engine: Engine, viewer: Viewer, wants: bool) -> access.ModuleView:
    with write_session(engine) as session:
        return intimacy.choose(session=session, viewer=viewer, program=PROGRAM, wants=wants, now=T0)


def mark(engine: Engine, viewer: Viewer, marks: Mapping[str, str | None], *, done: bool = False) -> None:
    with write_session(engine) as session:
        intimacy.save_marks(session=session, viewer=viewer, program=PROGRAM, marks=marks, done=done, now=T0)


def module_view(engine: Engine, viewer: Viewer) -> access.ModuleView | None:
    with read_session(engine) as session:
        return intimacy.standing(session=session, viewer=viewer, program=PROGRAM).module


def wishes_of(engine: Engine, viewer: Viewer) -> access.WishesView:
    with read_session(engine) as session:
        couple_id = access.current_couple_id(session=session, viewer=viewer)
        assert couple_id is not None
        return intimacy.wishes(session=session, viewer=viewer, couple_id=couple_id)


@pytest.fixture
def pair(engine: Engine) -> tuple[Viewer, Viewer, int]:
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    finish_program(engine, ana)
    finish_program(engine, ben)
    return ana, ben, couple


def test_the_shipped_content_is_valid_and_warm() -> None:
    """Sections on meaning, desire and barriers (doctor, sex therapist), a touch practice whose every step
    says you can stop, and 20-30 wishes."""
    text = intimacy.content()
    assert [s.key for s in text.sections] == ["beyond-sex", "desire", "barriers"]
    barriers = text.sections[2].body
    assert "doctor" in barriers and "sex therapist" in barriers
    assert all("you can stop here, and that is fine" in s.opt_out.lower() for s in text.touch.steps)
    assert 20 <= len(text.wishes.items) <= 30
    assert {w.kind for w in text.wishes.items} == {"tender", "playful", "practical"}
    assert text.offer == "An optional module on intimacy. It opens when you both choose it."


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        ('opt_out = "You can stop here, and that is fine."', "opt_out must say plainly"),
        ('key = "morning-hug"', "wishes keys must be unique"),
        ('kind = "tender"', "wishes.items"),
    ],
)
def test_broken_content_is_refused_naming_the_field(tmp_path: Path, broken: str, field: str) -> None:
    """A step without an opt-out, a repeated wish key, or too few wishes stop the load with a message."""
    source = (CONTENT_DIR / "intimacy.toml").read_text()
    if broken.startswith("opt_out"):
        changed = source.replace(broken, 'opt_out = "Carry on to the next step."', 1)
    elif broken.startswith("key"):
        changed = source.replace('key = "hold-hands-walk"', broken, 1)
    else:  # drop wishes until fewer than 20 remain
        head, *items = source.split("[[wishes.items]]")
        changed = head + "[[wishes.items]]".join(["", *items[:5]])
    assert changed != source
    path = tmp_path / "intimacy.toml"
    path.write_text(changed)
    with pytest.raises(ContentError, match=field):
        intimacy.load_content(path)


def test_not_offered_before_the_last_stage_is_finished(engine: Engine) -> None:
    """Finishing Connection is what offers the module; before that a choice is refused and nothing saved."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    with pytest.raises(intimacy.IntimacyError, match="finished Staying close"):
        choose(engine, ana, True)
    with read_session(engine) as session:
        assert session.exec(select(ModuleChoice)).all() == []
    finish_program(engine, ana)
    assert choose(engine, ana, True) == access.ModuleView(True, False, False)


def test_it_opens_only_when_both_choose_it(pair: tuple[Viewer, Viewer, int], engine: Engine) -> None:
    """One yes opens nothing; the second yes opens it for both; either changing to no closes it for both."""
    ana, ben, _ = pair
    assert choose(engine, ana, True).is_open is False
    assert choose(engine, ben, True).is_open is True
    assert module_view(engine, ana) == access.ModuleView(True, True, False)
    choose(engine, ben, False)
    assert module_view(engine, ana) == access.ModuleView(True, False, False)
    assert module_view(engine, ben) == access.ModuleView(False, False, False)


def test_no_and_no_answer_read_the_same_to_the_other(engine: Engine) -> None:
    """Ana's view, her menu and what she can do are the same whether Ben said no, said nothing, or said
    yes and then no."""
    seen: list[tuple[access.ModuleView | None, bool, str]] = []
    for ben_does in ("nothing", "no", "yes then no"):
        ana, ben = make_person(engine, f"ana-{len(seen)}"), make_person(engine, f"ben-{len(seen)}")
        make_couple(engine, ana, ben)
        finish_program(engine, ana)
        finish_program(engine, ben)
        choose(engine, ana, True)
        if ben_does != "nothing":
            choose(engine, ben, ben_does == "yes then no")
            if ben_does == "yes then no":
                choose(engine, ben, False)
        with read_session(engine) as session:
            menu_open = intimacy.is_open(session=session, viewer=ana)
        with pytest.raises(intimacy.IntimacyError) as refused:
            mark(engine, ana, {ITEMS[0]: "yes"})
        seen.append((module_view(engine, ana), menu_open, str(refused.value)))
    assert seen[0] == seen[1] == seen[2]
    assert seen[0][0] == access.ModuleView(True, False, False)


def test_only_common_yes_or_maybe_items_show_and_only_after_both_finished(
    pair: tuple[Viewer, Viewer, int], engine: Engine
) -> None:
    """yes+yes and yes+maybe show (in the list's order); anything with a no or no mark never does."""
    ana, ben, _ = pair
    choose(engine, ana, True)
    choose(engine, ben, True)
    a, b, c, d, e, f = ITEMS[:6]
    mark(engine, ana, {a: "yes", b: "maybe", c: "no", d: "yes", e: "maybe"}, done=True)
    assert wishes_of(engine, ana).common is None  # Ben has not finished
    mark(engine, ben, {a: "maybe", b: "maybe", c: "yes", d: "no", f: "yes"})
    assert wishes_of(engine, ana).common is None and wishes_of(engine, ben).common is None
    mark(engine, ben, {}, done=True)
    assert wishes_of(engine, ana).common == (a, b)
    assert wishes_of(engine, ben).common == (a, b)
    assert wishes_of(engine, ana).own_marks == {a: "yes", b: "maybe", c: "no", d: "yes", e: "maybe"}
    # Changing after done: Ben stays done and the common list follows at once.
    mark(engine, ben, {a: "no", e: "yes"})
    assert wishes_of(engine, ana).common == (b, e)
    # Closing hides the list for both; marks are kept, and it comes back when both choose again.
    choose(engine, ana, False)
    assert wishes_of(engine, ben).common is None
    choose(engine, ana, True)
    assert wishes_of(engine, ben).common == (b, e)


def test_marks_are_refused_while_closed_and_bad_marks_change_nothing(
    pair: tuple[Viewer, Viewer, int], engine: Engine
) -> None:
    """An unknown item or mark is refused as a whole: the good marks of that save are not kept either."""
    ana, ben, _ = pair
    with pytest.raises(intimacy.IntimacyError, match="not open"):
        mark(engine, ana, {ITEMS[0]: "yes"})
    choose(engine, ana, True)
    choose(engine, ben, True)
    for bad in ({ITEMS[0]: "yes", "<script>": "yes"}, {ITEMS[0]: "yes", ITEMS[1]: "YES please"}):
        with pytest.raises(intimacy.IntimacyError):
            mark(engine, ana, bad, done=True)
    with read_session(engine) as session:
        assert session.exec(select(WishMark)).all() == []
    assert module_view(engine, ana) == access.ModuleView(True, True, False)


def test_a_therapist_learns_no_choice_and_no_wish(pair: tuple[Viewer, Viewer, int], engine: Engine) -> None:
    """Even a therapist both partners let in is refused both readers."""
    ana, ben, couple = pair
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    grant(engine, couple, kim, ana)
    grant(engine, couple, kim, ben)
    with read_session(engine) as session:
        with pytest.raises(access.AccessDenied):
            access.readable_module(session=session, viewer=kim, couple_id=couple, module=intimacy.MODULE)
        with pytest.raises(access.AccessDenied):
            access.readable_wishes(
                session=session, viewer=kim, couple_id=couple, module=intimacy.MODULE, items=ITEMS
            )


def test_another_couple_cannot_read_and_a_new_couple_starts_fresh(
    pair: tuple[Viewer, Viewer, int], engine: Engine
) -> None:
    """Cai in another couple is refused Ana's couple; after Ana and Ben part and pair again, their old
    yeses and marks open nothing and show nothing."""
    ana, ben, couple = pair
    cai, dee = make_person(engine, "cai"), make_person(engine, "dee")
    make_couple(engine, cai, dee)
    choose(engine, ana, True)
    choose(engine, ben, True)
    mark(engine, ana, {ITEMS[0]: "yes"}, done=True)
    mark(engine, ben, {ITEMS[0]: "yes"}, done=True)
    with read_session(engine) as session:
        with pytest.raises(access.AccessDenied):
            access.readable_wishes(
                session=session, viewer=cai, couple_id=couple, module=intimacy.MODULE, items=ITEMS
            )
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=T0)
    make_couple(engine, ana, ben)
    assert module_view(engine, ana) is not None
    assert module_view(engine, ana) == access.ModuleView(None, False, False)
    finish_program(engine, ana)
    finish_program(engine, ben)
    choose(engine, ana, True)
    choose(engine, ben, True)
    assert wishes_of(engine, ana) == access.WishesView({}, None)


def test_the_audit_trail_and_export_hold_no_partners_answer(
    pair: tuple[Viewer, Viewer, int], engine: Engine
) -> None:
    """The trail records that a choice was made, not which; Ana's export has her own rows only."""
    ana, ben, _ = pair
    choose(engine, ana, True)
    choose(engine, ben, True)
    mark(engine, ana, {ITEMS[0]: "yes"}, done=True)
    mark(engine, ben, {ITEMS[0]: "yes", ITEMS[1]: "no"}, done=True)
    choose(engine, ben, False)
    with read_session(engine) as session:
        details = {e.detail for e in session.exec(select(AuditEvent)) if e.action == "module.choice"}
        data = export.export_zip(session=session, viewer=ana, program=PROGRAM, now=T0)
    assert details == {"intimacy"}
    exported = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("intimacy.json"))
    assert [c["wants"] for c in exported["choices"]] == [True]
    assert [(m["item"], m["mark"]) for m in exported["wish_marks"]] == [(ITEMS[0], "yes")]
    assert ITEMS[1] not in json.dumps(exported)


def test_parallel_answers_and_marks_from_two_tabs_leave_one_row_each(
    pair: tuple[Viewer, Viewer, int], engine: Engine
) -> None:
    """Eight tabs of Ana's answering and marking at once: no error page, one choice row, one mark per idea."""
    ana, ben, _ = pair
    choose(engine, ben, True)

    def answer(wants: bool) -> None:
        choose(engine, ana, wants)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(answer, [True] * 8))
    errors: list[BaseException] = []

    def tab(value: str) -> None:
        try:
            mark(engine, ana, {ITEMS[0]: value, ITEMS[1]: value})
        except IntegrityError as error:  # the page then says "please try again"; nothing half-saved
            errors.append(error)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(tab, ["yes", "maybe"] * 4))
    with read_session(engine) as session:
        assert (
            len(session.exec(select(ModuleChoice).where(ModuleChoice.person_id == ana.person_id)).all()) == 1
        )
        rows = session.exec(select(WishMark).where(WishMark.person_id == ana.person_id)).all()
    assert sorted(r.item for r in rows) == sorted(ITEMS[:2])
    assert len({r.mark for r in rows}) == 1  # both ideas from the same tab's save
    assert len(errors) < 8


def test_marks_from_an_earlier_couple_never_count_toward_what_a_new_couple_shares(
    pair: tuple[Viewer, Viewer, int], engine: Engine
) -> None:
    """Ana said yes to an idea in their first couple and leaves it unmarked now; Ben said no then and yes
    now. In the new couple only Ben wants it, so it is not common (counting the first couple's marks would
    make it so: mutation testing found nothing checked this)."""
    ana, ben, _ = pair
    for who in (ana, ben):
        choose(engine, who, True)
    mark(engine, ana, {ITEMS[0]: "yes", ITEMS[1]: "yes"}, done=True)
    mark(engine, ben, {ITEMS[0]: "no", ITEMS[1]: "yes"}, done=True)
    assert wishes_of(engine, ana).common == (ITEMS[1],)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=T0)
    make_couple(engine, ana, ben)
    for who in (ana, ben):
        finish_program(engine, who)
        choose(engine, who, True)
    mark(engine, ana, {ITEMS[1]: "maybe"}, done=True)
    mark(engine, ben, {ITEMS[0]: "yes", ITEMS[1]: "yes"}, done=True)
    assert wishes_of(engine, ana).common == wishes_of(engine, ben).common == (ITEMS[1],)


def test_a_former_members_choice_and_marks_count_for_nothing(engine: Engine) -> None:
    """A couple row that still holds someone who left (written straight into the database: the app ends a
    couple for both): their "yes" to the module and their marks neither open it nor make an idea common."""
    ana, ben, old = make_person(engine, "ana"), make_person(engine, "ben"), make_person(engine, "old")
    couple = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        session.add(CoupleMembership(couple_id=couple, person_id=old.person_id, joined_at=T0, left_at=T0))
        session.add(
            ModuleChoice(person_id=old.person_id, couple_id=couple, module=intimacy.MODULE, wants=True)
        )
        session.add(WishMark(person_id=old.person_id, couple_id=couple, item=ITEMS[0], mark="yes"))
    for who in (ana, ben):
        finish_program(engine, who)
        choose(engine, who, True)
    assert module_view(engine, ana) == access.ModuleView(True, True, False)
    mark(engine, ana, {ITEMS[0]: "yes", ITEMS[1]: "yes"}, done=True)
    mark(engine, ben, {ITEMS[0]: "no", ITEMS[1]: "yes"}, done=True)
    assert wishes_of(engine, ana).common == wishes_of(engine, ben).common == (ITEMS[1],)
