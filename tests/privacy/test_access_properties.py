"""Who reads what, checked over random worlds of partners, couples (some ended and re-formed), therapists,
grants, shared text, questionnaire answers and step records, against an independent reading of the privacy
rules in PRODUCT.md. Every `readable_*` function of program.privacy.access and the progress charts' data are
read by every viewer for every couple and compared with the oracle below."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TypeVar

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from program.charts import progress_data
from program.course import journey, scoring
from program.infra.db import read_session, write_session
from program.infra.models import (
    CheckIn,
    Couple,
    ExerciseRecord,
    Person,
    QuestionnaireSubmission,
    Reflection,
    Role,
    SafetyScreen,
    SubmissionStatus,
    TherapistNote,
    Visibility,
)
from program.privacy import access
from program.privacy.access import AccessDenied, CheckInView
from program.privacy.tables import CoupleMembership, QuestionnaireAnswer, TherapistApproval, TherapistGrant
from program.privacy.viewer import Viewer
from tests.program_helpers import PROGRAM

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
UNDER_MUTATION = "MUTANT_UNDER_TEST" in os.environ
FIRST_WEEK = date(2026, 11, 2)
Row = TypeVar("Row")
BASELINE = PROGRAM.assessment.overview.questionnaire
FIRST_STAGE = PROGRAM.stages[0]
# Two questionnaire occasions: the baseline, and the first stage's opening check.
QUESTIONNAIRES = ((BASELINE, "baseline"), (FIRST_STAGE.check, f"{FIRST_STAGE.key}:start"))
EXERCISES = tuple((FIRST_STAGE.key, e.key) for e in FIRST_STAGE.exercises[:2])


def _ratings(first: int) -> tuple[int, int, int, int, int]:
    """Five different 0-10 ratings, so that a rating read from the wrong column shows."""
    a, b, c, d, e = ((first + step) % 11 for step in range(5))
    return a, b, c, d, e


@dataclass(frozen=True)
class CoupleSpec:
    """A couple by its partners' indices: those in it now, and those who have left it (a past couple is
    one with nobody in it now)."""

    current: tuple[int, ...]
    former: tuple[int, ...] = ()


@dataclass(frozen=True)
class GrantSpec:
    """One partner's grant for one therapist on one couple (indices into the world's lists)."""

    couple: int
    therapist: int
    partner: int
    revoked: bool
    share_safety_screen: bool


@dataclass(frozen=True)
class TextSpec:
    """A reflection, by writer, the couple it was written in (None when solo), sharing and age."""

    writer: int
    couple: int | None
    visibility: Visibility
    minutes: int


@dataclass(frozen=True)
class CheckInSpec:
    """A weekly check-in, by writer, couple, week, note and the note's sharing."""

    writer: int
    couple: int | None
    week: int
    rating: int
    note: str | None
    visibility: Visibility


@dataclass(frozen=True)
class AnswerSpec:
    """One filling-in of a questionnaire: writer, couple it was given in, which one, sent or a draft, and a
    seed for its item answers (each item's answer differs, so answers read from the wrong row show)."""

    writer: int
    couple: int | None
    questionnaire: int  # index into QUESTIONNAIRES
    submitted: bool
    seed: int


@dataclass(frozen=True)
class RecordSpec:
    """One exercise record (a step), by writer, couple, which exercise, and whether it is done."""

    writer: int
    couple: int | None
    exercise: int  # index into EXERCISES
    completed: bool


@dataclass(frozen=True)
class NoteSpec:
    """A therapist's session note on a couple (indices), written while or after the couple let them in."""

    therapist: int
    couple: int


@dataclass(frozen=True)
class World:
    """Everything one example puts in the database."""

    partners: int
    therapists: int
    couples: tuple[CoupleSpec, ...]
    grants: tuple[GrantSpec, ...]
    reflections: tuple[TextSpec, ...]
    checkins: tuple[CheckInSpec, ...]
    screens: tuple[int, ...]
    answers: tuple[AnswerSpec, ...] = ()
    records: tuple[RecordSpec, ...] = ()
    # Therapists the operator has not approved (or approved and then withdrew): they see no couple.
    unapproved: tuple[int, ...] = ()
    # Session notes: the writing therapist's alone, while the couple lets them in; never a partner's read.
    notes: tuple[NoteSpec, ...] = ()


def _item_answers(spec: AnswerSpec) -> dict[str, int | None]:
    """The item answers an AnswerSpec stands for: every item answered, values cycling over the scale."""
    instrument = PROGRAM.instruments[QUESTIONNAIRES[spec.questionnaire][0]]
    points = list(instrument.scale.points)
    return {item.key: points[(spec.seed + n) % len(points)] for n, item in enumerate(instrument.items)}


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """2-6 partners in disjoint couples (some of one member, some partners solo), maybe a past couple,
    0-2 therapists, grants (some revoked, some sharing the safety screen), texts, check-ins and screens."""
    partners = draw(st.integers(2, 6))
    # Therapists in most worlds, so that the rules about them are exercised on every run.
    therapists = draw(st.sampled_from((0, 1, 1, 2, 2)))
    order = draw(st.permutations(range(partners)))
    couples: list[CoupleSpec] = []
    i = 0
    while i < partners:
        kind = draw(
            st.sampled_from(("pair", "one member", "solo") if i + 1 < partners else ("one member", "solo"))
        )
        size = {"pair": 2, "one member": 1, "solo": 0}[kind]
        if size:
            current = tuple(order[i : i + size])
            others = [p for p in range(partners) if p not in current]
            # Someone who was in this couple and left it (their old rows and grants must not count).
            former = tuple(draw(st.lists(st.sampled_from(others), max_size=1))) if others else ()
            couples.append(CoupleSpec(current, former))
        i += max(size, 1)
    if draw(st.booleans()):
        pairs_now: list[tuple[int, ...]] = [c.current for c in couples if len(c.current) == 2]
        pair: tuple[int, ...]
        reform: bool = draw(st.sampled_from((True, False)))
        if pairs_now and reform:
            # The same two people were a couple before and re-formed: the old couple is a different one.
            pair = draw(st.sampled_from(pairs_now))
        else:
            pair = tuple(draw(st.lists(st.integers(0, partners - 1), min_size=2, max_size=2, unique=True)))
        couples.append(CoupleSpec((), pair))

    grants: list[GrantSpec] = []
    for c, couple in enumerate(couples):
        for t in range(therapists):
            # Half the time every current partner lets this therapist in, so that seen couples are common.
            everyone_in = draw(st.booleans())
            for p in couple.current + couple.former:
                # Earlier revoked grants, then at most one standing one (a second is refused by the app).
                for share in draw(st.lists(st.booleans(), max_size=2)):
                    grants.append(GrantSpec(c, t, p, revoked=True, share_safety_screen=share))
                if (everyone_in and p in couple.current) or draw(st.booleans()):
                    # A former partner's grant that was somehow left standing must not complete a pair;
                    # it never shares the safety screen, so that rule stays about current partners.
                    share = p in couple.current and draw(st.booleans())
                    grants.append(GrantSpec(c, t, p, revoked=False, share_safety_screen=share))

    def couples_of(p: int) -> list[int | None]:
        """Where a partner's rows may be filed: their current couple (none when solo), or a past one."""
        mine = [c for c, couple in enumerate(couples) if p in couple.current + couple.former]
        solo: list[int | None] = [] if any(p in couples[c].current for c in mine) else [None]
        return solo + mine

    reflections: list[TextSpec] = []
    checkins: list[CheckInSpec] = []
    for p in range(partners):
        for _ in range(draw(st.integers(0, 3))):
            reflections.append(
                TextSpec(
                    p,
                    draw(st.sampled_from(couples_of(p))),
                    draw(st.sampled_from(Visibility)),
                    draw(st.integers(0, 5)),
                )
            )
        for week in draw(st.lists(st.integers(0, 4), unique=True, max_size=3)):
            checkins.append(
                CheckInSpec(
                    p,
                    draw(st.sampled_from(couples_of(p))),
                    week,
                    draw(st.integers(0, 10)),
                    draw(st.sampled_from((None, f"note {p}/{week}"))),
                    draw(st.sampled_from(Visibility)),
                )
            )
    screens = draw(st.lists(st.integers(0, partners - 1), max_size=partners))
    answers: list[AnswerSpec] = []
    records: list[RecordSpec] = []
    for p in range(partners):
        # At most one filling-in (and one record) per person, couple and occasion, as the app keeps them.
        for given_in in couples_of(p):
            # Sent answers are common in a current couple, so both partners' having sent one is too.
            now = given_in is not None and p in couples[given_in].current
            states = ("sent", "sent", "draft", "none") if now else ("none", "none", "draft", "sent")
            for q in range(len(QUESTIONNAIRES)):
                state = draw(st.sampled_from(states))
                if state != "none":
                    answers.append(AnswerSpec(p, given_in, q, state == "sent", draw(st.integers(0, 6))))
            for e in range(len(EXERCISES)):
                completed = draw(st.sampled_from((None, False, True)))
                if completed is not None:
                    records.append(RecordSpec(p, given_in, e, completed))
    return World(
        partners,
        therapists,
        tuple(couples),
        tuple(grants),
        tuple(reflections),
        tuple(checkins),
        tuple(screens),
        tuple(answers),
        tuple(records),
        unapproved=tuple(t for t in range(therapists) if draw(st.integers(0, 4)) == 0),
        # Every therapist may have written on any couple: ones that let them in, ended, or never did.
        notes=tuple(
            NoteSpec(t, c)
            for t in range(therapists)
            for c in range(len(couples))
            for _ in range(draw(st.integers(0, 2)))
        ),
    )


@dataclass(frozen=True)
class Built:
    """The world's database ids: people (partners first), couples, and each spec's row."""

    partners: list[Viewer]
    therapists: list[Viewer]
    couple_ids: list[int]
    missing_couple_id: int
    reflection_ids: list[int]
    screen_ids: list[int]


def _empty(session: Session) -> None:
    for table in reversed(SQLModel.metadata.sorted_tables):
        session.execute(table.delete())


def _ids(
    session: Session, rows: list[Person] | list[Couple] | list[Reflection] | list[SafetyScreen]
) -> list[int]:
    session.add_all(rows)
    session.flush()
    ids = [row.id for row in rows]
    assert all(i is not None for i in ids)
    return [i for i in ids if i is not None]


def _build(engine: Engine, world: World) -> Built:
    """Insert the world as rows, in one unit of work, on emptied tables."""
    with write_session(engine) as session:
        _empty(session)
        people = [
            Person(username=f"p{i}", display_name=f"P{i}", role=Role.PARTNER, password_hash="x")
            for i in range(world.partners)
        ] + [
            Person(username=f"t{i}", display_name=f"T{i}", role=Role.THERAPIST, password_hash="x")
            for i in range(world.therapists)
        ]
        person_ids = _ids(session, people)
        viewers = [
            Viewer(i, p.username, p.display_name, Role(p.role))
            for i, p in zip(person_ids, people, strict=True)
        ]
        partners, therapists = viewers[: world.partners], viewers[world.partners :]
        couple_ids = _ids(session, [Couple(created_at=T0) for _ in world.couples])
        for couple_id, spec in zip(couple_ids, world.couples, strict=True):
            for p in spec.current + spec.former:
                session.add(
                    CoupleMembership(
                        couple_id=couple_id,
                        person_id=partners[p].person_id,
                        joined_at=T0,
                        left_at=None if p in spec.current else T0 + timedelta(days=1),
                    )
                )
        for t, therapist in enumerate(therapists):
            if t not in world.unapproved:
                session.add(
                    TherapistApproval(person_id=therapist.person_id, approved_at=T0, approved_by="operator")
                )
        for g in world.grants:
            session.add(
                TherapistGrant(
                    couple_id=couple_ids[g.couple],
                    therapist_id=therapists[g.therapist].person_id,
                    partner_id=partners[g.partner].person_id,
                    share_safety_screen=g.share_safety_screen,
                    granted_at=T0,
                    revoked_at=T0 + timedelta(hours=1) if g.revoked else None,
                )
            )

        def couple_id_of(index: int | None) -> int | None:
            return None if index is None else couple_ids[index]

        reflection_ids = _ids(
            session,
            [
                Reflection(
                    person_id=partners[r.writer].person_id,
                    couple_id=couple_id_of(r.couple),
                    context=f"context {n}",
                    body=f"body {n}",
                    visibility=r.visibility,
                    created_at=T0 + timedelta(minutes=r.minutes),
                )
                for n, r in enumerate(world.reflections)
            ],
        )
        for c in world.checkins:
            closeness, communication, conflict, trust, overall = _ratings(c.rating)
            session.add(
                CheckIn(
                    person_id=partners[c.writer].person_id,
                    couple_id=couple_id_of(c.couple),
                    week_start=FIRST_WEEK + timedelta(weeks=c.week),
                    closeness=closeness,
                    communication=communication,
                    conflict=conflict,
                    trust=trust,
                    overall=overall,
                    note=c.note,
                    note_visibility=c.visibility,
                )
            )
        screen_ids = _ids(
            session,
            [
                SafetyScreen(person_id=partners[p].person_id, answers={"n": n}, submitted_at=T0)
                for n, p in enumerate(world.screens)
            ],
        )
        for n, a in enumerate(world.answers):
            instrument, occasion = QUESTIONNAIRES[a.questionnaire]
            submission = QuestionnaireSubmission(
                person_id=partners[a.writer].person_id,
                couple_id=couple_id_of(a.couple),
                instrument=instrument,
                occasion=occasion,
                status=SubmissionStatus.SUBMITTED if a.submitted else SubmissionStatus.DRAFT,
                started_at=T0,
                submitted_at=_sent_at(n) if a.submitted else None,
            )
            session.add(submission)
            session.flush()
            assert submission.id is not None
            session.add_all(
                QuestionnaireAnswer(submission_id=submission.id, item=item, value=value)
                for item, value in _item_answers(a).items()
            )
        for r in world.records:
            stage, exercise = EXERCISES[r.exercise]
            session.add(
                ExerciseRecord(
                    person_id=partners[r.writer].person_id,
                    couple_id=couple_id_of(r.couple),
                    stage=stage,
                    exercise=exercise,
                    completed_at=T0 if r.completed else None,
                )
            )
        for n, note in enumerate(world.notes):
            session.add(
                TherapistNote(
                    therapist_id=therapists[note.therapist].person_id,
                    couple_id=couple_ids[note.couple],
                    body=f"note {n}",
                    created_at=T0 + timedelta(minutes=n),
                    updated_at=T0 + timedelta(minutes=n),
                )
            )
        return Built(
            partners, therapists, couple_ids, max(couple_ids, default=0) + 1, reflection_ids, screen_ids
        )


def therapist_sees(world: World, therapist: int, couple: int) -> bool:
    """A therapist the operator approves sees a couple while it has two current partners, each with a
    standing grant."""
    members = world.couples[couple].current
    return (
        therapist not in world.unapproved
        and len(members) == 2
        and all(
            any(
                (g.couple, g.therapist, g.partner, g.revoked) == (couple, therapist, p, False)
                for g in world.grants
            )
            for p in members
        )
    )


def _sent_at(n: int) -> datetime:
    """When the n-th filling-in was sent: a different day for each, so dates read from the wrong row show."""
    return T0 + timedelta(days=n)


class Oracle:
    """The privacy rules, read from PRODUCT.md and program.privacy.access's docstrings, over the world's
    specs."""

    def __init__(self, world: World, built: Built) -> None:
        self.world = world
        self.built = built
        self.index = {v.person_id: i for i, v in enumerate(built.partners)}
        self.therapist_index = {v.person_id: i for i, v in enumerate(built.therapists)}

    def members(self, couple: int) -> tuple[int, ...]:
        """Current partners of a couple (by index); nobody for a past couple."""
        return self.world.couples[couple].current

    def standing(self, couple: int, therapist: int, partner: int) -> GrantSpec | None:
        """The partner's standing grant for this therapist on this couple, if any."""
        return next(
            (
                g
                for g in self.world.grants
                if (g.couple, g.therapist, g.partner) == (couple, therapist, partner) and not g.revoked
            ),
            None,
        )

    def therapist_sees(self, therapist: int, couple: int) -> bool:
        """A therapist sees a couple while it has two current partners, each with a standing grant."""
        return therapist_sees(self.world, therapist, couple)

    def may_view(self, viewer: Viewer, couple: int | None) -> bool:
        """A partner views their current couple only; a therapist as above; nobody a missing couple."""
        if couple is None:
            return False
        if viewer.role == Role.PARTNER:
            return self.index[viewer.person_id] in self.members(couple)
        return self.therapist_sees(self.therapist_index[viewer.person_id], couple)

    def shared_with(self, viewer: Viewer, writer: int, visibility: Visibility) -> bool:
        """Own text always; the partner's if shared with the partner; a therapist's if shared with either."""
        if viewer.person_id == self.built.partners[writer].person_id:
            return True
        if viewer.role == Role.THERAPIST:
            return visibility in (Visibility.PARTNER, Visibility.THERAPIST)
        return visibility == Visibility.PARTNER

    def reflections(self, viewer: Viewer, couple: int | None) -> list[int] | None:
        """Ids of the reflections the viewer reads in a couple, or None when refused."""
        if not self.may_view(viewer, couple):
            return None
        assert couple is not None
        return sorted(
            row_id
            for row_id, r in zip(self.built.reflection_ids, self.world.reflections, strict=True)
            if r.couple == couple
            and r.writer in self.members(couple)
            and self.shared_with(viewer, r.writer, r.visibility)
        )

    def checkins(self, viewer: Viewer, couple: int | None) -> list[CheckInView] | None:
        """The check-ins the viewer reads in a couple, ratings always, notes only where shared."""
        if not self.may_view(viewer, couple):
            return None
        assert couple is not None
        return sorted(
            (
                CheckInView(
                    self.built.partners[c.writer].person_id,
                    FIRST_WEEK + timedelta(weeks=c.week),
                    *_ratings(c.rating),
                    c.note if self.shared_with(viewer, c.writer, c.visibility) else None,
                )
                for c in self.world.checkins
                if c.couple == couple and c.writer in self.members(couple)
            ),
            key=_checkin_order,
        )

    def screens(self, viewer: Viewer, person_id: int) -> list[int] | None:
        """A person's screens: for themself only. A therapist told "my safety check needs attention"
        (share_safety_screen) learns just that, through access.safety_attention, never the answers."""
        allowed = viewer.person_id == person_id
        if not allowed:
            return None
        return sorted(
            row_id
            for row_id, p in zip(self.built.screen_ids, self.world.screens, strict=True)
            if self.built.partners[p].person_id == person_id
        )

    def notes(self, viewer: Viewer, couple: int | None) -> list[str] | None:
        """The session notes the viewer reads on a couple, newest first: a therapist's own, while the couple
        lets them in; refused for every partner and any other therapist."""
        if viewer.role != Role.THERAPIST or not self.may_view(viewer, couple):
            return None
        therapist = self.therapist_index[viewer.person_id]
        return [
            f"note {n}"
            for n, note in reversed(list(enumerate(self.world.notes)))
            if (note.therapist, note.couple) == (therapist, couple)
        ]

    def answers(
        self, viewer: Viewer, couple: int | None, questionnaire: int
    ) -> dict[int, dict[str, int | None]] | None:
        """Item answers the viewer reads for one occasion in a couple (None: refused). Without a couple, a
        partner reads only their own couple-less answers. In a couple, only answers given in it by its
        current partners: one's own (drafts too) always, the other's, and any for a therapist, only once
        both current partners sent it in this couple."""
        person = self.index.get(viewer.person_id)
        if couple is None:
            mine = next(
                (
                    a
                    for a in self.world.answers
                    if a.writer == person and a.couple is None and a.questionnaire == questionnaire
                ),
                None,
            )
            return {} if mine is None else {viewer.person_id: _item_answers(mine)}
        if not self.may_view(viewer, couple):
            return None
        members = self.members(couple)
        given = [
            a
            for a in self.world.answers
            if a.couple == couple and a.writer in members and a.questionnaire == questionnaire
        ]
        both_sent = len(members) == 2 and {a.writer for a in given if a.submitted} == set(members)
        return {
            self.built.partners[a.writer].person_id: _item_answers(a)
            for a in given
            if a.writer == person or both_sent
        }

    def progress(self, viewer: Viewer, couple: int | None) -> dict[str, object] | None:
        """The chart data of a couple: its current partners in joining order, check-in ratings without
        notes, occasions both sent in this couple with answers and scores, and steps done in this couple."""
        if not self.may_view(viewer, couple):
            return None
        assert couple is not None
        members = self.members(couple)
        ids = [self.built.partners[p].person_id for p in members]
        sent = {
            (n, a)
            for n, a in enumerate(self.world.answers)
            if a.couple == couple and a.writer in members and a.submitted
        }
        fillings: dict[tuple[str, str], object] = {}
        for q, (instrument, occasion) in enumerate(QUESTIONNAIRES):
            of_q = {a.writer: (n, a) for n, a in sent if a.questionnaire == q}
            if len(members) == 2 and set(of_q) == set(members):
                answers = {self.built.partners[p].person_id: _item_answers(a) for p, (_, a) in of_q.items()}
                fillings[(instrument, occasion)] = (
                    {self.built.partners[p].person_id: _sent_at(n).date() for p, (n, _) in of_q.items()},
                    answers,
                    {
                        pid: {
                            k: v.score for k, v in scoring.score(PROGRAM.instruments[instrument], a).items()
                        }
                        for pid, a in answers.items()
                    },
                )
        steps: dict[int, dict[str, int]] = {pid: {} for pid in ids}
        for r in self.world.records:
            if r.couple == couple and r.writer in members and r.completed:
                done = steps[self.built.partners[r.writer].person_id]
                done[EXERCISES[r.exercise][0]] = done.get(EXERCISES[r.exercise][0], 0) + 1
        steps_of_questionnaire = {0: journey.ASSESSMENT, 1: FIRST_STAGE.key}
        for _, a in sent:
            done = steps[self.built.partners[a.writer].person_id]
            stage = steps_of_questionnaire[a.questionnaire]
            done[stage] = done.get(stage, 0) + 1
        checkins = self.checkins(viewer, couple)
        assert checkins is not None
        return {
            "partners": [(pid, f"P{p}") for pid, p in zip(ids, members, strict=True)],
            "checkins": [replace(c, note=None) for c in checkins],
            "fillings": fillings,
            "steps_done": steps,
        }


def _progress_as_seen(data: progress_data.ProgressData) -> dict[str, object]:
    """The parts of ProgressData the oracle predicts, in the oracle's shape."""
    return {
        "partners": [(p.person_id, p.name) for p in data.partners],
        "checkins": sorted(data.checkins, key=_checkin_order),
        "fillings": {(f.instrument, f.occasion): (f.sent_on, f.answers, f.scores) for f in data.fillings},
        "steps_done": data.steps_done,
    }


def _checkin_order(view: CheckInView) -> tuple[date, int]:
    return (view.week_start, view.person_id)


def _situations(world: World) -> set[str]:
    """The interesting situations in this world (shown by --hypothesis-show-statistics, and counted by
    test_generated_worlds_reach_the_interesting_situations)."""
    seen = [
        (t, c)
        for t in range(world.therapists)
        for c in range(len(world.couples))
        if therapist_sees(world, t, c)
    ]
    found: set[str] = set()
    if seen:
        found.add("a therapist sees a couple")
    if any(g.share_safety_screen and (g.therapist, g.couple) in seen for g in world.grants if not g.revoked):
        found.add("a therapist was told a safety check needs attention")
    if any(c.former and len(c.current) == 2 for c in world.couples):
        found.add("a couple of two has a former partner")
    if any(
        set(c.former) == set(d.current) and len(d.current) == 2 for c in world.couples for d in world.couples
    ):
        found.add("a pair ended and re-formed as a new couple")
    if any(r.couple is not None and r.writer in world.couples[r.couple].former for r in world.reflections):
        found.add("a former partner's reflection is filed in the couple")
    if any(a.couple is not None and a.writer in world.couples[a.couple].former for a in world.answers):
        found.add("a former partner's answers are filed in the couple")
    sent_both = [
        c
        for c, couple in enumerate(world.couples)
        if len(couple.current) == 2
        and any(
            {a.writer for a in world.answers if a.couple == c and a.submitted and a.questionnaire == q}
            >= set(couple.current)
            for q in range(len(QUESTIONNAIRES))
        )
    ]
    if sent_both:
        found.add("both partners sent a questionnaire in their couple")
    if any((t, c) in seen for t in range(world.therapists) for c in sent_both):
        found.add("a therapist sees answers both partners sent")
    if any((n.therapist, n.couple) in seen for n in world.notes):
        found.add("a therapist reads their notes on a couple")
    if any((t, n.couple) in seen and n.therapist != t for n in world.notes for t in range(world.therapists)):
        found.add("another therapist's notes sit on a couple a therapist sees")
    return found


def _label(world: World) -> None:
    for situation in sorted(_situations(world)):
        event(situation)


# Hand-made worlds run on every run, whatever the generator draws.
# Ana (0) and Ben (1) sent the baseline in couple 0 and ended it; Ana and Cai (2) are couple 1, Cai sent his.
# Their therapist (0) holds both current grants in couple 1 and a standing grant of Ben's in couple 0.
ANA_BEN_THEN_CAI = World(
    partners=3,
    therapists=1,
    couples=(CoupleSpec((), (0, 1)), CoupleSpec((0, 2))),
    grants=(
        GrantSpec(0, 0, 1, revoked=False, share_safety_screen=False),
        GrantSpec(1, 0, 0, revoked=False, share_safety_screen=True),
        GrantSpec(1, 0, 2, revoked=False, share_safety_screen=False),
    ),
    reflections=(TextSpec(0, 0, Visibility.PARTNER, 0), TextSpec(0, 1, Visibility.THERAPIST, 1)),
    checkins=(
        CheckInSpec(0, 0, 0, 3, "Ana about Ben", Visibility.PARTNER),
        CheckInSpec(2, 1, 1, 7, "Cai", Visibility.THERAPIST),
    ),
    screens=(0, 1, 2),
    answers=(
        AnswerSpec(0, 0, 0, True, 1),
        AnswerSpec(1, 0, 0, True, 2),
        AnswerSpec(2, 1, 0, True, 3),
        AnswerSpec(0, 1, 1, False, 4),
    ),
    records=(RecordSpec(0, 0, 0, True), RecordSpec(2, 1, 1, True)),
)
# The same pair, re-formed: both sent the baseline in each couple; two therapists, one let in by one partner.
SAME_PAIR_AGAIN = World(
    partners=2,
    therapists=2,
    couples=(CoupleSpec((), (0, 1)), CoupleSpec((0, 1))),
    grants=(
        GrantSpec(0, 0, 0, revoked=False, share_safety_screen=True),
        GrantSpec(0, 0, 1, revoked=False, share_safety_screen=True),
        GrantSpec(1, 0, 0, revoked=False, share_safety_screen=False),
        GrantSpec(1, 0, 1, revoked=True, share_safety_screen=True),
        GrantSpec(1, 0, 1, revoked=False, share_safety_screen=True),
        GrantSpec(1, 1, 0, revoked=False, share_safety_screen=True),
    ),
    reflections=(TextSpec(1, 0, Visibility.PARTNER, 0), TextSpec(1, 1, Visibility.PRIVATE, 0)),
    checkins=(
        CheckInSpec(0, 0, 0, 1, "old", Visibility.PARTNER),
        CheckInSpec(0, 1, 2, 2, "new", Visibility.PARTNER),
    ),
    screens=(0, 1),
    answers=(
        AnswerSpec(0, 0, 0, True, 0),
        AnswerSpec(1, 0, 0, True, 5),
        AnswerSpec(0, 1, 0, True, 6),
        AnswerSpec(1, 1, 0, False, 2),
        AnswerSpec(0, 1, 1, True, 3),
        AnswerSpec(1, 1, 1, True, 1),
    ),
    records=(RecordSpec(0, 0, 0, True), RecordSpec(1, 1, 0, True), RecordSpec(1, 1, 1, False)),
    # Therapist 0's notes on the old couple and the new one; therapist 1 (let in by one partner) on the new.
    notes=(NoteSpec(0, 0), NoteSpec(0, 1), NoteSpec(1, 1), NoteSpec(0, 1)),
)
# Solo partners with couple-less work, a couple of one, and a therapist holding a grant from only one side.
SOLO_AND_HALF = World(
    partners=3,
    therapists=1,
    couples=(CoupleSpec((0,)), CoupleSpec((), (0, 2))),
    grants=(GrantSpec(0, 0, 0, revoked=False, share_safety_screen=True),),
    reflections=(TextSpec(1, None, Visibility.PARTNER, 0),),
    checkins=(CheckInSpec(1, None, 0, 4, "solo", Visibility.THERAPIST),),
    screens=(0, 1),
    answers=(AnswerSpec(1, None, 0, False, 1), AnswerSpec(2, None, 0, True, 2), AnswerSpec(0, 0, 0, True, 3)),
    records=(RecordSpec(1, None, 0, True),),
)


def _read(call: Callable[[], Row]) -> Row | None:
    """What a read returns, or None when it is refused."""
    try:
        return call()
    except AccessDenied:
        return None


@settings(
    # Under a mutation tool every surviving mutant reruns this test: fewer worlds there, the same ones every
    # run (derandomized, so a mutant's verdict does not depend on the draw), and always the explicit worlds.
    max_examples=12 if UNDER_MUTATION else 40,
    derandomize=UNDER_MUTATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(world=worlds())
@example(world=ANA_BEN_THEN_CAI)
@example(world=SAME_PAIR_AGAIN)
@example(world=SOLO_AND_HALF)
def test_every_viewer_reads_exactly_what_the_privacy_rules_allow(engine: Engine, world: World) -> None:
    """Each viewer reads exactly the texts, check-in notes, safety screens, item answers, chart data and
    session notes that consent, sharing, the blind rule and the couple they were given in allow (a partner
    never reads a session note, whatever the order of grants, revocations and couples)."""
    built = _build(engine, world)
    oracle = Oracle(world, built)
    _label(world)
    viewers = built.partners + built.therapists
    couples: list[tuple[int | None, int]] = [
        *enumerate(built.couple_ids),
        (None, built.missing_couple_id),
    ]
    with read_session(engine) as session:
        for viewer in viewers:
            for couple, couple_id in couples:
                where = f"viewer {viewer.username}, couple {couple} (id {couple_id})"
                reflections = _read(
                    partial(access.readable_reflections, session=session, viewer=viewer, couple_id=couple_id)
                )
                got = None if reflections is None else sorted(r.id for r in reflections if r.id is not None)
                assert got == oracle.reflections(viewer, couple), where

                notes = _read(
                    partial(
                        access.readable_session_notes, session=session, viewer=viewer, couple_id=couple_id
                    )
                )
                got_notes = None if notes is None else [n.body for n in notes]
                assert got_notes == oracle.notes(viewer, couple), f"{where}: session notes"

                checkins = _read(
                    partial(access.readable_checkins, session=session, viewer=viewer, couple_id=couple_id)
                )
                if checkins is not None:
                    weeks = [c.week_start for c in checkins]
                    assert weeks == sorted(weeks), f"{where}: check-ins are oldest first"
                    checkins = sorted(checkins, key=_checkin_order)
                assert checkins == oracle.checkins(viewer, couple), where

                for q, (instrument, occasion) in enumerate(QUESTIONNAIRES):
                    answers = _read(
                        partial(
                            access.readable_answers,
                            session=session,
                            viewer=viewer,
                            couple_id=couple_id,
                            instrument=instrument,
                            occasion=occasion,
                        )
                    )
                    # A couple id that does not exist is refused like any couple one may not see.
                    expected = None if couple is None else oracle.answers(viewer, couple, q)
                    assert answers == expected, f"{where}: answers to {occasion}"

                data = _read(
                    partial(
                        progress_data.load_progress,
                        session=session,
                        viewer=viewer,
                        couple_id=couple_id,
                        program=PROGRAM,
                    )
                )
                seen = None if data is None else _progress_as_seen(data)
                assert seen == oracle.progress(viewer, couple), f"{where}: progress data"
                if data is not None:
                    steps = {stage: len(journey.stage_steps(PROGRAM, stage)) for stage in journey.ORDER}
                    assert data.steps_total == steps and data.couple_id == couple_id

            for q, (instrument, occasion) in enumerate(QUESTIONNAIRES):
                solo = _read(
                    partial(
                        access.readable_answers,
                        session=session,
                        viewer=viewer,
                        couple_id=None,
                        instrument=instrument,
                        occasion=occasion,
                    )
                )
                assert solo == oracle.answers(viewer, None, q), (
                    f"viewer {viewer.username}: own answers, no couple"
                )

            for person in viewers:
                screens = _read(
                    partial(
                        access.readable_safety_screens,
                        session=session,
                        viewer=viewer,
                        person_id=person.person_id,
                    )
                )
                got = None if screens is None else sorted(s.id for s in screens if s.id is not None)
                assert got == oracle.screens(viewer, person.person_id), (
                    f"viewer {viewer.username}, screens of {person.username}"
                )


def test_generated_worlds_reach_the_interesting_situations() -> None:
    """The generator puts a therapist who sees a couple (and the other rare cases) in a good share of worlds,
    so the property test above exercises them in many of its examples, not by luck (measured on a fixed draw:
    hypothesis's own spread between random seeds made a floor on one random draw flaky)."""
    counts: dict[str, int] = {}
    drawn = 0

    @settings(
        max_examples=100,
        database=None,
        deadline=None,
        derandomize=True,  # a measure of the generator, not a search: the same worlds every run
        suppress_health_check=list(HealthCheck),
    )
    @given(world=worlds())
    def draw(world: World) -> None:
        nonlocal drawn
        drawn += 1
        for situation in _situations(world):
            counts[situation] = counts.get(situation, 0) + 1

    draw()
    share = {situation: counts.get(situation, 0) / drawn for situation in _SITUATION_FLOORS}
    short = {s: share[s] for s, floor in _SITUATION_FLOORS.items() if share[s] < floor}
    assert not short, f"too rare: {short} (all: {share})"


# The share of generated worlds that must show each situation (measured over 100 worlds, several seeds:
# 0.36-0.53, 0.22-0.41, 0.23-0.46, 0.14-0.28, 0.55-0.76, 0.43, 0.24-0.30).
_SITUATION_FLOORS = {
    "a therapist sees a couple": 0.2,
    "a therapist was told a safety check needs attention": 0.1,
    "a couple of two has a former partner": 0.1,
    "a pair ended and re-formed as a new couple": 0.05,
    "a former partner's answers are filed in the couple": 0.2,
    "both partners sent a questionnaire in their couple": 0.2,
    "a therapist sees answers both partners sent": 0.1,
}
