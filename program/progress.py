"""The couple's progress as data for charts: one fixed set of queries, whatever the length of history.

Everything here is read through access.py, so it holds only what the viewer may see: check-in
ratings (never notes, not even shared ones), scores and item answers only of questionnaires BOTH
partners sent (the blind rule), and stage steps. Safety screens are never read here, so they can
never reach a chart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from program import access, journey, scoring
from program.access import CheckInView, SubmissionView, Viewer
from program.curriculum import Program
from program.models import (
    CheckIn,
    CoupleMembership,
    ExerciseRecord,
    Person,
    QuestionnaireSubmission,
)


@dataclass(frozen=True)
class Partner:
    """One partner, in a fixed order (the order they joined), so colours stay the same for everyone."""

    person_id: int
    name: str


@dataclass(frozen=True)
class Filling:
    """One questionnaire occasion both partners sent: when, item answers and subscale scores per partner."""

    instrument: str
    occasion: str
    sent_on: dict[int, date]
    answers: dict[int, dict[str, int | None]]
    scores: dict[int, dict[str, float | None]]


@dataclass(frozen=True)
class LogEndedEarly:
    """A practice log a partner confirmed ending before every day was noted."""

    person_id: int
    stage: str
    exercise: str
    days_logged: int
    days: int


@dataclass(frozen=True)
class ProgressData:
    """Everything the progress charts draw, for one couple."""

    couple_id: int
    partners: tuple[Partner, ...]
    checkins: tuple[CheckInView, ...]
    fillings: tuple[Filling, ...]  # oldest first
    steps_done: dict[int, dict[str, int]] = field(default_factory=dict)  # person -> stage -> steps done
    steps_total: dict[str, int] = field(default_factory=dict)  # stage -> steps
    logs_ended_early: tuple[LogEndedEarly, ...] = ()  # practice logs done with days left, stage order

    def fillings_of(self, instrument: str) -> list[Filling]:
        """The sent-by-both fillings of one instrument, oldest first."""
        return [f for f in self.fillings if f.instrument == instrument]


def data_version(*, session: Session, couple_id: int) -> tuple[object, ...]:
    """Changes whenever anything the charts draw changes: the cache key for a couple's figures."""
    versions: list[object] = []
    for table, stamp in (
        (CheckIn, CheckIn.updated_at),
        (QuestionnaireSubmission, QuestionnaireSubmission.updated_at),
        (ExerciseRecord, ExerciseRecord.updated_at),
    ):
        versions.extend(
            session.exec(select(func.count(), func.max(stamp)).where(col(table.couple_id) == couple_id)).one()
        )
    members = session.exec(
        select(func.count(), func.max(CoupleMembership.joined_at)).where(
            CoupleMembership.couple_id == couple_id
        )
    ).one()
    return (*versions, *members)


def load_progress(*, session: Session, viewer: Viewer, couple_id: int, program: Program) -> ProgressData:
    """The couple's chart data, if the viewer may see the couple (AccessDenied otherwise).

    Only what was given in this couple counts: a partner's answers, steps and check-ins from an earlier
    couple never reach the next one.
    """
    # Notes are left out: charts never show them, and without them the data is the same for every viewer
    # allowed to see the couple, so it can be cached per couple. Reading through access comes first: it
    # refuses a viewer who may not see the couple before anything else is read.
    checkins = tuple(
        replace(row, note=None)
        for row in access.readable_checkins(session=session, viewer=viewer, couple_id=couple_id)
    )
    submissions = access.couple_submissions(session=session, viewer=viewer, couple_id=couple_id)
    partners = tuple(
        Partner(person_id, name)
        for person_id, name in session.exec(
            select(CoupleMembership.person_id, Person.display_name)
            .join(Person, col(Person.id) == CoupleMembership.person_id)
            .where(CoupleMembership.couple_id == couple_id, col(CoupleMembership.left_at).is_(None))
            .order_by(col(CoupleMembership.joined_at), col(CoupleMembership.id))
        )
    )
    ids = [p.person_id for p in partners]
    steps_done, logs_ended_early = _steps_done(session, couple_id, ids, submissions, program)
    return ProgressData(
        couple_id=couple_id,
        partners=partners,
        checkins=checkins,
        fillings=tuple(_fillings(ids, submissions, program)),
        steps_done=steps_done,
        steps_total={stage: len(journey.stage_steps(program, stage)) for stage in journey.ORDER},
        logs_ended_early=logs_ended_early,
    )


def _fillings(ids: list[int], submissions: Sequence[SubmissionView], program: Program) -> list[Filling]:
    """Questionnaire occasions whose answers access.py let through for every partner, scored."""
    by_occasion: dict[tuple[str, str], dict[int, SubmissionView]] = defaultdict(dict)
    for submission in submissions:
        if submission.answers is not None and submission.instrument in program.instruments:
            by_occasion[(submission.instrument, submission.occasion)][submission.person_id] = submission
    fillings = []
    for (instrument_key, occasion), subs in by_occasion.items():
        if len(ids) != 2 or set(subs) != set(ids):
            continue
        instrument = program.instruments[instrument_key]
        item_answers = {pid: s.answers or {} for pid, s in subs.items()}
        fillings.append(
            Filling(
                instrument=instrument_key,
                occasion=occasion,
                sent_on={pid: _day(s.submitted_at) for pid, s in subs.items()},
                answers=item_answers,
                scores={
                    pid: {k: v.score for k, v in scoring.score(instrument, a).items()}
                    for pid, a in item_answers.items()
                },
            )
        )
    return sorted(fillings, key=lambda f: max(f.sent_on.values()))


def _day(moment: datetime | None) -> date:
    assert moment is not None
    return moment.date()


def _steps_done(
    session: Session,
    couple_id: int,
    ids: list[int],
    submissions: Sequence[SubmissionView],
    program: Program,
) -> tuple[dict[int, dict[str, int]], tuple[LogEndedEarly, ...]]:
    """How many steps of each stage each partner has done in this couple, and the practice logs they
    ended early (one query, plus the submissions already read)."""
    done: dict[int, dict[str, int]] = {pid: defaultdict(int) for pid in ids}
    logs = {(s.key, e.key) for s in program.stages for e in s.exercises if e.kind == "practice_log"}
    ended: list[LogEndedEarly] = []
    records = session.exec(
        select(ExerciseRecord).where(
            access.in_couple(ExerciseRecord.couple_id, couple_id),
            col(ExerciseRecord.person_id).in_(ids),
            col(ExerciseRecord.completed_at).is_not(None),
        )
    ).all()
    for record in records:
        done[record.person_id][record.stage] += 1
        if (record.stage, record.exercise) in logs:
            early = journey.ended_early_of(record.data)
            if early is not None:
                ended.append(LogEndedEarly(record.person_id, record.stage, record.exercise, *early))
    for submission in submissions:
        stage, _ = journey.questionnaire_step(submission, program)
        if stage is not None and submission.person_id in done:
            done[submission.person_id][stage] += 1
    order = {key: number for number, key in enumerate(journey.ORDER)}
    ended.sort(key=lambda e: (order.get(e.stage, 0), ids.index(e.person_id)))
    return {pid: dict(stages) for pid, stages in done.items()}, tuple(ended)
