"""The couple's progress as data for charts: one fixed set of queries, whatever the length of history.

Everything here is read through access.py, so it holds only what the viewer may see: check-in
ratings (never notes, not even shared ones), scores and item answers only of questionnaires BOTH
partners sent (the blind rule), scores (never item answers) of questionnaires filled in again over
time once the other partner has sent theirs on that day or later (access.couple_repeated_submissions),
stage steps, and the yes/no and 0-10 fields of practice logs (never their free text, which is kept as
private reflections). Safety screens are never read here, so they can never reach a chart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func
from sqlmodel import Session, col, select

from program.course import journey, scoring
from program.course.curriculum import PracticeLogExercise, Program
from program.infra.models import (
    CheckIn,
    CoupleGoal,
    ExerciseRecord,
    GoalConfirmation,
    GoalRating,
    QuestionnaireSubmission,
)
from program.privacy import access, membership
from program.privacy.access import CheckInView, SubmissionView
from program.privacy.viewer import Viewer


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
class DatedScores:
    """One partner's subscale scores of a questionnaire filled in again over time, on their own day.
    Scores only: item answers of a filling the other partner has no same-day filling of are never kept."""

    instrument: str
    person_id: int
    sent_on: date
    scores: dict[str, float | None]


@dataclass(frozen=True)
class PracticeNote:
    """One yes/no or 0-10 answer of a practice-log day (a yes is 1.0, a no 0.0)."""

    person_id: int
    stage: str
    exercise: str
    field: str
    kind: Literal["yesno", "rating"]
    day: date
    value: float


@dataclass(frozen=True)
class GoalRatings:
    """One goal both partners agreed, and each partner's 0-10 ratings of progress on it at stage ends."""

    goal_id: int
    body: str  # as the partners typed it: untrusted wherever shown
    ratings: dict[tuple[int, str], int]  # (person, stage) -> rating


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
    repeated: tuple[DatedScores, ...] = ()  # added questionnaires over time, each partner's own dates
    practice: tuple[PracticeNote, ...] = ()  # practice-log yes/no and rating answers, by day
    homework_done: dict[int, frozenset[str]] = field(default_factory=dict)  # person -> stages
    goals: tuple[GoalRatings, ...] = ()  # the couple's agreed goals, oldest first, with their ratings

    def fillings_of(self, instrument: str) -> list[Filling]:
        """The sent-by-both fillings of one instrument, oldest first."""
        return [f for f in self.fillings if f.instrument == instrument]


def data_version(*, session: Session, couple_id: int) -> tuple[object, ...]:
    """Changes whenever anything the charts draw changes: the cache key for a couple's figures. One
    statement (each count and latest change a scalar subquery), as every rerun of a chart page asks."""
    goal_ids = select(CoupleGoal.id).where(CoupleGoal.couple_id == couple_id)
    per_table: list[tuple[Any, Any, Any]] = [
        (CheckIn, CheckIn.updated_at, col(CheckIn.couple_id) == couple_id),
        (
            QuestionnaireSubmission,
            QuestionnaireSubmission.updated_at,
            col(QuestionnaireSubmission.couple_id) == couple_id,
        ),
        (ExerciseRecord, ExerciseRecord.updated_at, col(ExerciseRecord.couple_id) == couple_id),
        # Shared goals: a proposal, an edit or a withdrawal moves updated_at; confirmations and ratings add
        # rows.
        (CoupleGoal, CoupleGoal.updated_at, col(CoupleGoal.couple_id) == couple_id),
        (GoalConfirmation, GoalConfirmation.confirmed_at, col(GoalConfirmation.goal_id).in_(goal_ids)),
        (GoalRating, GoalRating.rated_at, col(GoalRating.goal_id).in_(goal_ids)),
    ]
    columns = [
        select(aggregate).select_from(table).where(where).scalar_subquery()
        for table, stamp, where in per_table
        for aggregate in (func.count(), func.max(stamp))
    ]
    columns += membership.change_marks(couple_id)  # someone joining
    return tuple(session.execute(select(*columns)).one())


def load_progress(*, session: Session, viewer: Viewer, couple_id: int, program: Program) -> ProgressData:
    """The couple's chart data, if the viewer may see the couple (AccessDenied otherwise).

    Only what was given in this couple counts: a partner's answers, steps and check-ins from an earlier
    couple never reach the next one.
    """
    # Notes and intimacy ratings are left out: charts never show them, and without them the data is the
    # same for every viewer allowed to see the couple, so it can be cached per couple. Reading through
    # access comes first: it refuses a viewer who may not see the couple before anything else is read.
    checkins = tuple(
        replace(row, note=None, intimacy=None)
        for row in access.readable_checkins(session=session, viewer=viewer, couple_id=couple_id)
    )
    # over_time: fillings of added questionnaires the other partner has answered since also come with
    # answers; they are scored for the trends (_dated_scores) and never kept as answers (a Filling needs
    # both partners on one occasion).
    submissions = access.couple_submissions(
        session=session, viewer=viewer, couple_id=couple_id, over_time=True
    )
    partners = tuple(
        Partner(m.person_id, m.display_name) for m in membership.current_partners(session, couple_id)
    )
    ids = [p.person_id for p in partners]
    steps = _steps_done(session, couple_id, ids, submissions, program)
    return ProgressData(
        couple_id=couple_id,
        partners=partners,
        checkins=checkins,
        fillings=tuple(_fillings(ids, submissions, program)),
        steps_done=steps.done,
        steps_total={stage: len(journey.stage_steps(program, stage)) for stage in journey.ORDER},
        logs_ended_early=steps.ended_early,
        repeated=tuple(_dated_scores(ids, submissions, program)),
        practice=steps.practice,
        homework_done=steps.homework_done,
        goals=_goal_ratings(session, viewer, couple_id),
    )


def _goal_ratings(session: Session, viewer: Viewer, couple_id: int) -> tuple[GoalRatings, ...]:
    """The agreed goals and their ratings, through access.py (the same for every viewer of the couple)."""
    goals, ratings = access.readable_goal_progress(session=session, viewer=viewer, couple_id=couple_id)
    return tuple(
        GoalRatings(
            goal.goal_id,
            goal.body,
            {(r.person_id, r.stage): r.rating for r in ratings if r.goal_id == goal.goal_id},
        )
        for goal in goals
        if goal.agreed
    )


def _dated_scores(
    ids: list[int], submissions: Sequence[SubmissionView], program: Program
) -> list[DatedScores]:
    """Scores of added questionnaires' fillings access.py let through, oldest first per partner."""
    rows = [
        DatedScores(
            instrument=s.instrument,
            person_id=s.person_id,
            sent_on=_day(s.submitted_at),
            scores={
                k: v.score for k, v in scoring.score(program.instruments[s.instrument], s.answers).items()
            },
        )
        for s in submissions
        if s.answers is not None
        and s.instrument in program.extra_instruments
        and s.occasion.startswith(access.REPEATED_PREFIX)
        and s.person_id in ids
    ]
    return sorted(rows, key=lambda r: (r.instrument, ids.index(r.person_id), r.sent_on))


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


@dataclass(frozen=True)
class _Steps:
    done: dict[int, dict[str, int]]
    ended_early: tuple[LogEndedEarly, ...]
    practice: tuple[PracticeNote, ...]
    homework_done: dict[int, frozenset[str]]


def _steps_done(
    session: Session,
    couple_id: int,
    ids: list[int],
    submissions: Sequence[SubmissionView],
    program: Program,
) -> _Steps:
    """How many steps of each stage each partner has done in this couple, the practice logs they ended
    early, their practice-log answers and the stages whose homework they did (one query, plus the
    submissions already read)."""
    done: dict[int, dict[str, int]] = {pid: defaultdict(int) for pid in ids}
    logs: dict[tuple[str, str], PracticeLogExercise] = {
        (s.key, e.key): e for s in program.stages for e in s.exercises if isinstance(e, PracticeLogExercise)
    }
    ended: list[LogEndedEarly] = []
    practice: list[PracticeNote] = []
    homework: dict[int, set[str]] = {pid: set() for pid in ids}
    records = session.exec(
        select(ExerciseRecord).where(
            access.in_couple(ExerciseRecord.couple_id, couple_id),
            col(ExerciseRecord.person_id).in_(ids),
        )
    ).all()
    for record in records:
        log = logs.get((record.stage, record.exercise))
        if log is not None:
            practice.extend(_practice_notes(record, log))
        if record.completed_at is None:
            continue
        done[record.person_id][record.stage] += 1
        if record.exercise == journey.HOMEWORK:
            homework[record.person_id].add(record.stage)
        if log is not None:
            early = journey.ended_early_of(record.data)
            if early is not None:
                ended.append(LogEndedEarly(record.person_id, record.stage, record.exercise, *early))
    for submission in submissions:
        stage, _ = journey.questionnaire_step(submission, program)
        if stage is not None and submission.person_id in done:
            done[submission.person_id][stage] += 1
    order = {key: number for number, key in enumerate(journey.ORDER)}
    ended.sort(key=lambda e: (order.get(e.stage, 0), ids.index(e.person_id)))
    practice.sort(key=lambda n: (ids.index(n.person_id), n.day, n.stage, n.exercise, n.field))
    return _Steps(
        {pid: dict(stages) for pid, stages in done.items()},
        tuple(ended),
        tuple(practice),
        {pid: frozenset(stages) for pid, stages in homework.items()},
    )


def _practice_notes(record: ExerciseRecord, log: PracticeLogExercise) -> list[PracticeNote]:
    """A log's yes/no and 0-10 answers, each on its day: day 1 is the day the log was started (entries
    are kept by day number, and the log is begun on its first day)."""
    kinds = {f.key: f.type for f in log.fields}
    entries = (record.data or {}).get("entries", {})
    notes: list[PracticeNote] = []
    if not isinstance(entries, dict):
        return notes
    first = _day(record.started_at)
    for number, values in entries.items():
        if not (isinstance(number, str) and number.isdigit() and isinstance(values, dict)):
            continue
        if not 1 <= int(number) <= log.days:
            continue
        day = first + timedelta(days=int(number) - 1)
        for key, value in values.items():
            kind = kinds.get(key)
            if kind == "yesno" and isinstance(value, bool):
                notes.append(
                    PracticeNote(
                        record.person_id, record.stage, record.exercise, key, kind, day, float(value)
                    )
                )
            elif (
                kind == "rating"
                and isinstance(value, int)
                and not isinstance(value, bool)
                and 0 <= value <= 10
            ):
                notes.append(
                    PracticeNote(
                        record.person_id, record.stage, record.exercise, key, kind, day, float(value)
                    )
                )
    return notes
