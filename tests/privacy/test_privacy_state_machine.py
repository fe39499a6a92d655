"""Privacy as a story the attacker writes: people register, pair up, leave, pair again (with someone new or
the same person), let therapists in and out, answer the baseline, write and share texts, and look. After
every step, everyone tries to read every couple there ever was, and a model of who wrote what, where,
decides what they may see. Runs through the same domain functions the pages call."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from program.charts import progress_data
from program.course import questionnaires, reflections, safety
from program.course.questionnaires import QuestionnaireError
from program.course.reflections import TextError
from program.infra.db import read_session, write_session
from program.infra.models import Couple, Role, Visibility
from program.privacy import access, couples, grants
from program.privacy.access import AccessDenied
from program.privacy.couples import CoupleError
from program.privacy.grants import GrantError
from program.privacy.viewer import Viewer
from tests.factories import make_person
from tests.program_helpers import PROGRAM

KEY = b"k" * 32
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BASELINE = PROGRAM.instruments[PROGRAM.assessment.overview.questionnaire]
PARTNERS = 5
THERAPISTS = 2
# Under a mutation tool every surviving mutant reruns this test: fewer, shorter stories there.
UNDER_MUTATION = "MUTANT_UNDER_TEST" in os.environ


@dataclass
class Text:
    """A text as its writer left it: where it was written, and who may read it."""

    writer: int
    couple: int | None
    visibility: Visibility
    context: str


@dataclass
class Filling:
    """A person's baseline in one couple (or none): sent or a draft, and the one value every item got."""

    sent: bool
    value: int


@dataclass
class Model:
    """What the app should know: current couples, standing grants, texts and baselines by couple."""

    current: dict[int, int | None] = field(default_factory=dict)  # person -> couple
    members: dict[int, set[int]] = field(default_factory=dict)  # couple -> current partners
    grants: set[tuple[int, int, int]] = field(default_factory=set)  # (couple, partner, therapist)
    texts: dict[str, Text] = field(default_factory=dict)  # body -> text
    fillings: dict[tuple[int, int | None], Filling] = field(default_factory=dict)  # (person, couple)

    def adopt(self, person: int, couple: int) -> None:
        """Work begun without a couple joins the couple its writer starts or joins."""
        for text in self.texts.values():
            if text.writer == person and text.couple is None:
                text.couple = couple
        if (person, None) in self.fillings and (person, couple) not in self.fillings:
            self.fillings[(person, couple)] = self.fillings.pop((person, None))

    def therapist_sees(self, therapist: int, couple: int) -> bool:
        """Two current partners, each with a standing grant for this therapist in this couple."""
        members = self.members.get(couple, set())
        return len(members) == 2 and all((couple, p, therapist) in self.grants for p in members)

    def may_view(self, viewer: Viewer, couple: int) -> bool:
        if viewer.role == Role.PARTNER:
            return self.current.get(viewer.person_id) == couple
        return self.therapist_sees(viewer.person_id, couple)


class PrivacyStory(RuleBasedStateMachine):
    """One story of people, couples and consent; invariants say what each may read after every step."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.model = Model()
        self.partners: list[Viewer] = []
        self.therapists: list[Viewer] = []
        self.now = T0
        self.written = 0

    def _tick(self) -> datetime:
        self.now += timedelta(minutes=7)
        return self.now

    @initialize()
    def empty_world(self) -> None:
        with write_session(self.engine) as session:
            for table in reversed(SQLModel.metadata.sorted_tables):
                session.execute(table.delete())
        self.therapists = [
            make_person(self.engine, f"therapist{n}", Role.THERAPIST) for n in range(THERAPISTS)
        ]
        for n in range(2):
            self._register(n)

    def _register(self, n: int) -> None:
        viewer = make_person(self.engine, f"partner{n}")
        self.partners.append(viewer)
        self.model.current[viewer.person_id] = None

    @rule()
    def register(self) -> None:
        """Someone new signs up (up to a handful of partners)."""
        if len(self.partners) < PARTNERS:
            self._register(len(self.partners))

    def _partner(self, n: int) -> Viewer:
        return self.partners[n % len(self.partners)]

    def _therapist(self, n: int) -> Viewer:
        return self.therapists[n % len(self.therapists)]

    @rule(a=st.integers(0, PARTNERS - 1), b=st.integers(0, PARTNERS - 1))
    def link(self, a: int, b: int) -> None:
        """a starts a couple and b enters the invite code (a re-link when either was in a couple before)."""
        first, second = self._partner(a), self._partner(b)
        m = self.model
        now = self._tick()
        if m.current[first.person_id] is not None:
            with pytest.raises(CoupleError), write_session(self.engine) as session:
                couples.create_couple(session=session, viewer=first, key=KEY, now=now)
            return
        with write_session(self.engine) as session:
            code = couples.create_couple(session=session, viewer=first, key=KEY, now=now).code
            couple = access.current_couple_id(session=session, viewer=first)
        assert couple is not None and couple not in m.members
        m.current[first.person_id] = couple
        m.members[couple] = {first.person_id}
        m.adopt(first.person_id, couple)
        if first == second:
            return
        if m.current[second.person_id] is not None:
            with pytest.raises(CoupleError), write_session(self.engine) as session:
                couples.join_couple(session=session, viewer=second, code=code, key=KEY, now=now)
            return
        with write_session(self.engine) as session:
            joined = couples.join_couple(session=session, viewer=second, code=code, key=KEY, now=now)
        assert joined == couple
        m.current[second.person_id] = couple
        m.members[couple].add(second.person_id)
        m.adopt(second.person_id, couple)

    @rule(a=st.integers(0, PARTNERS - 1))
    def leave(self, a: int) -> None:
        """Either partner ends the couple, for both; therapist access to it ends too."""
        viewer, m = self._partner(a), self.model
        couple = m.current[viewer.person_id]
        if couple is None:
            with pytest.raises(CoupleError), write_session(self.engine) as session:
                couples.leave_couple(session=session, viewer=viewer, now=self._tick())
            return
        with write_session(self.engine) as session:
            couples.leave_couple(session=session, viewer=viewer, now=self._tick())
        for person in m.members.pop(couple):
            m.current[person] = None
        m.grants = {g for g in m.grants if g[0] != couple}

    @rule(a=st.integers(0, PARTNERS - 1), t=st.integers(0, THERAPISTS - 1))
    def grant(self, a: int, t: int) -> None:
        """A partner enters their therapist's code."""
        viewer, therapist, m = self._partner(a), self._therapist(t), self.model
        with write_session(self.engine) as session:
            code = grants.issue_therapist_code(session=session, viewer=therapist, key=KEY, now=self.now).code
        couple = m.current[viewer.person_id]
        refused = couple is None or (couple, viewer.person_id, therapist.person_id) in m.grants
        if refused:
            with pytest.raises(GrantError), write_session(self.engine) as session:
                grants.grant_access(session=session, viewer=viewer, code=code, key=KEY, now=self.now)
            return
        with write_session(self.engine) as session:
            grants.grant_access(session=session, viewer=viewer, code=code, key=KEY, now=self.now)
        assert couple is not None
        m.grants.add((couple, viewer.person_id, therapist.person_id))

    @rule(a=st.integers(0, PARTNERS - 1), t=st.integers(0, THERAPISTS - 1))
    def revoke(self, a: int, t: int) -> None:
        """A partner withdraws their grant."""
        viewer, therapist, m = self._partner(a), self._therapist(t), self.model
        couple = m.current[viewer.person_id]
        key = (couple, viewer.person_id, therapist.person_id)
        if couple is None or key not in m.grants:
            with pytest.raises(GrantError), write_session(self.engine) as session:
                grants.revoke_access(
                    session=session, viewer=viewer, therapist_id=therapist.person_id, now=self._tick()
                )
            return
        with write_session(self.engine) as session:
            grants.revoke_access(
                session=session, viewer=viewer, therapist_id=therapist.person_id, now=self._tick()
            )
        m.grants.discard((couple, viewer.person_id, therapist.person_id))

    @rule(
        a=st.integers(0, PARTNERS - 1), value=st.sampled_from(list(BASELINE.scale.points)), send=st.booleans()
    )
    def answer(self, a: int, value: int, send: bool) -> None:
        """A partner fills in the baseline (every item the same value), as a draft or sent."""
        viewer, m = self._partner(a), self.model
        where = (viewer.person_id, m.current[viewer.person_id])
        before = m.fillings.get(where)
        now = self._tick()
        try:
            with write_session(self.engine) as session:
                for item in BASELINE.items:
                    questionnaires.save_answer(
                        session=session, viewer=viewer, instrument=BASELINE, occasion="baseline",
                        item=item.key, value=value, now=now,
                    )  # fmt: skip
                if send:
                    questionnaires.submit(
                        session=session, viewer=viewer, instrument=BASELINE, occasion="baseline", now=now
                    )
        except QuestionnaireError:
            # Refused as a whole (already sent here): nothing changed.
            assert before is not None and before.sent, f"{viewer.username} was refused a baseline in {where}"
            return
        assert before is None or not before.sent
        m.fillings[where] = Filling(send, value)

    @rule(a=st.integers(0, PARTNERS - 1), visibility=st.sampled_from(Visibility))
    def write(self, a: int, visibility: Visibility) -> None:
        """A partner writes a new text (a reflection) with a sharing choice."""
        viewer = self._partner(a)
        self.written += 1
        body = f"text {self.written} by {viewer.username}"
        context = f"sm:{self.written}:"
        with write_session(self.engine) as session:
            reflections.save_text(
                session=session, viewer=viewer, context=context, body=body, visibility=visibility,
                now=self._tick(),
            )  # fmt: skip
        self.model.texts[body] = Text(
            viewer.person_id, self.model.current[viewer.person_id], visibility, context
        )

    @rule(n=st.integers(0, 50), visibility=st.sampled_from(Visibility))
    def share(self, n: int, visibility: Visibility) -> None:
        """The writer of an earlier text shares or unshares it (it may belong to a couple they left)."""
        if not self.model.texts:
            return
        text = list(self.model.texts.values())[n % len(self.model.texts)]
        viewer = next(p for p in self.partners if p.person_id == text.writer)
        try:
            with write_session(self.engine) as session:
                reflections.set_visibility(
                    session=session, viewer=viewer, context=text.context, visibility=visibility,
                    now=self._tick(),
                )  # fmt: skip
        except TextError:
            # Only a text from a couple its writer is no longer in may be out of reach.
            assert text.couple is not None and text.couple != self.model.current[text.writer]
            return
        text.visibility = visibility

    @rule(a=st.integers(0, PARTNERS - 1))
    def safety_screen(self, a: int) -> None:
        """A partner answers the private safety check."""
        content = PROGRAM.safety
        with write_session(self.engine) as session:
            safety.submit_screen(
                session=session, viewer=self._partner(a), content=content,
                answers={item.key: 0 for item in content.items}, now=self._tick(),
            )  # fmt: skip

    @rule(t=st.integers(0, THERAPISTS - 1), n=st.integers(0, 20))
    def therapist_opens(self, t: int, n: int) -> None:
        """A therapist opens a couple: allowed exactly while both current partners' grants stand."""
        therapist, m = self._therapist(t), self.model
        ever = sorted(m.members) or [0]
        couple = ever[n % len(ever)]
        if m.therapist_sees(therapist.person_id, couple):
            with write_session(self.engine) as session:
                grants.open_couple(session=session, viewer=therapist, couple_id=couple, what="x")
        else:
            with pytest.raises(AccessDenied), write_session(self.engine) as session:
                grants.open_couple(session=session, viewer=therapist, couple_id=couple, what="x")

    def _couples_ever(self, session: Session) -> list[int]:
        return sorted(c for c in session.exec(select(Couple.id)) if c is not None)

    @invariant()
    def nobody_reads_what_they_may_not(self) -> None:
        """Every viewer, every couple there ever was: access, texts, answers, chart data and screens."""
        with read_session(self.engine) as session:
            for viewer in self.partners + self.therapists:
                for couple in self._couples_ever(session):
                    self._check_couple(session, viewer, couple)
                if viewer.role == Role.PARTNER:
                    own = access.readable_answers(
                        session=session, viewer=viewer, couple_id=None, instrument=BASELINE.key,
                        occasion="baseline",
                    )  # fmt: skip
                    assert set(own) <= {viewer.person_id}, f"{viewer.username} without a couple read {own}"
                for person in self.partners:
                    if person == viewer:
                        continue
                    with pytest.raises(AccessDenied):
                        # No therapist is ever given a safety screen by the app, and partners never are.
                        access.readable_safety_screens(
                            session=session, viewer=viewer, person_id=person.person_id
                        )

    def _check_couple(self, session: Session, viewer: Viewer, couple: int) -> None:
        m = self.model
        where = f"{viewer.username} reading couple {couple}"
        allowed = m.may_view(viewer, couple)
        if not allowed:
            with pytest.raises(AccessDenied):
                access.readable_reflections(session=session, viewer=viewer, couple_id=couple)
            with pytest.raises(AccessDenied):
                access.readable_checkins(session=session, viewer=viewer, couple_id=couple)
            with pytest.raises(AccessDenied):
                access.readable_answers(
                    session=session,
                    viewer=viewer,
                    couple_id=couple,
                    instrument=BASELINE.key,
                    occasion="baseline",
                )
            with pytest.raises(AccessDenied):
                progress_data.load_progress(session=session, viewer=viewer, couple_id=couple, program=PROGRAM)
            return
        members = m.members[couple]
        for row in access.readable_reflections(session=session, viewer=viewer, couple_id=couple):
            text = m.texts[row.body]
            assert text.couple == couple, f"{where}: {row.body!r} was written in couple {text.couple}"
            assert text.writer in members, f"{where}: {row.body!r} is by someone no longer in it"
            if text.writer != viewer.person_id:
                readable = (Visibility.PARTNER,) + (
                    (Visibility.THERAPIST,) if viewer.role == Role.THERAPIST else ()
                )
                assert text.visibility in readable, f"{where}: {row.body!r} is {text.visibility}"
        answers = access.readable_answers(
            session=session, viewer=viewer, couple_id=couple, instrument=BASELINE.key, occasion="baseline"
        )
        both_sent = len(members) == 2 and all(
            (f := m.fillings.get((p, couple))) is not None and f.sent for p in members
        )
        for person, items in answers.items():
            filling = m.fillings.get((person, couple))
            assert person in members and filling is not None, f"{where}: answers of {person} from elsewhere"
            assert set(items.values()) == {filling.value}, (
                f"{where}: answers of {person} are not this couple's"
            )
            if person != viewer.person_id:
                assert both_sent, f"{where}: {person}'s answers before both sent them"
        data = progress_data.load_progress(session=session, viewer=viewer, couple_id=couple, program=PROGRAM)
        assert {p.person_id for p in data.partners} == members, where
        for filling_seen in data.fillings:
            assert both_sent, f"{where}: chart of answers before both sent them"
            for person, items in filling_seen.answers.items():
                model = m.fillings[(person, couple)]
                assert set(items.values()) == {model.value}, (
                    f"{where}: chart shows answers from another couple"
                )
        assert all(c.note is None for c in data.checkins), where


def test_nobody_reads_what_consent_and_couples_do_not_allow(engine: Engine) -> None:
    """Random stories of pairing, leaving, re-pairing, consent and writing never leak a byte."""

    class Story(PrivacyStory):
        def __init__(self) -> None:
            super().__init__(engine)

    run_state_machine_as_test(
        Story,
        settings=settings(
            max_examples=4 if UNDER_MUTATION else 10,
            stateful_step_count=15 if UNDER_MUTATION else 20,
            derandomize=UNDER_MUTATION,  # under mutation, the same stories every run
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
