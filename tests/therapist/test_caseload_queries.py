"""The caseload loads in the same number of SQL statements for 5 couples as for 200, each with a real
history: check-ins, the outcome measure sent by both, exercises done, a stage opened early, therapist
homework done and overdue, sessions held and rated, safety screens shared and not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from program.course import outcomes
from program.course.questionnaires import BASELINE
from program.infra.db import read_session
from program.infra.models import (
    CheckIn,
    Couple,
    ExerciseRecord,
    HomeworkAssignment,
    HomeworkCompletion,
    Person,
    QuestionnaireSubmission,
    Role,
    SafetyScreen,
    SessionFeedback,
    StageOpening,
    SubmissionStatus,
    TherapySession,
)
from program.infra.settings import Settings
from program.privacy.tables import CoupleMembership, QuestionnaireAnswer, TherapistApproval, TherapistGrant
from program.privacy.viewer import Viewer
from program.therapist import caseload
from tests.program_helpers import PROGRAM

SETTINGS = Settings(cookie_key=None, database_url="sqlite://")
TODAY = date(2026, 11, 30)
START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
INSTRUMENT = outcomes.outcome_instrument(PROGRAM, SETTINGS)
FIRST_STAGE = PROGRAM.stages[0]


def _person(session: Session, username: str, role: Role = Role.PARTNER) -> int:
    person = Person(username=username, display_name=username.title(), role=role, password_hash="-")
    session.add(person)
    session.flush()
    assert person.id is not None
    return person.id


def _submission(
    session: Session, person_id: int, couple_id: int, occasion: str, value: int, at: datetime
) -> None:
    row = QuestionnaireSubmission(
        person_id=person_id,
        couple_id=couple_id,
        instrument=INSTRUMENT.key,
        occasion=occasion,
        status=SubmissionStatus.SUBMITTED,
        started_at=at,
        updated_at=at,
        submitted_at=at,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add_all(
        QuestionnaireAnswer(submission_id=row.id, item=i.key, value=value) for i in INSTRUMENT.items
    )


def _caseload_of(engine: Engine, couples: int) -> Viewer:
    """A therapist with `couples` couples, each with a full history, plus couples they must not see."""
    with Session(engine) as session:
        therapist = _person(session, "dr.kim", Role.THERAPIST)
        session.add(TherapistApproval(person_id=therapist, approved_at=START, approved_by="test"))
        other = _person(session, "dr.lee", Role.THERAPIST)
        _add_couples(session, therapist, other, range(couples + 2), couples)
        session.commit()
        return Viewer(therapist, "dr.kim", "Dr.Kim", Role.THERAPIST)


def grow_caseload(engine: Engine, therapist: Viewer, couples: int) -> None:
    """`couples` more couples with full histories on the server: all but the last two in this therapist's
    caseload (one of those has given one grant only, the other is another therapist's)."""
    with Session(engine) as session:
        first = len(session.exec(select(Couple.id)).all())
        other = _person(session, f"dr.other{first}", Role.THERAPIST)
        numbers = range(first, first + couples)
        _add_couples(session, therapist.person_id, other, numbers, numbers[-2])
        session.commit()


def _add_couples(session: Session, therapist: int, other: int, numbers: range, granted_below: int) -> None:
    """Couples numbered `numbers` (partners p<n>a, p<n>b), each with a full history; couples below
    `granted_below` in the therapist's caseload, the next with one grant only, the rest another's."""
    for n in numbers:
        couple = Couple()
        session.add(couple)
        session.flush()
        assert couple.id is not None
        partners = [_person(session, f"p{n}a"), _person(session, f"p{n}b")]
        for person_id in partners:
            session.add(CoupleMembership(couple_id=couple.id, person_id=person_id, joined_at=START))
            if n < granted_below or (n == granted_below and person_id == partners[0]):
                session.add(
                    TherapistGrant(
                        couple_id=couple.id,
                        therapist_id=therapist,
                        partner_id=person_id,
                        share_safety_screen=person_id == partners[0],
                        granted_at=START,
                    )
                )
            elif n > granted_below:
                session.add(
                    TherapistGrant(
                        couple_id=couple.id, therapist_id=other, partner_id=person_id, granted_at=START
                    )
                )
            for week in range(10):
                day = START + timedelta(weeks=week)
                session.add(
                    CheckIn(
                        person_id=person_id,
                        couple_id=couple.id,
                        week_start=day.date() - timedelta(days=day.weekday()),
                        closeness=6,
                        communication=6,
                        conflict=6,
                        trust=6,
                        overall=(7 if week < 9 else 3) if n % 3 == 0 else 6,
                        created_at=day,
                        updated_at=day,
                    )
                )
            _submission(session, person_id, couple.id, BASELINE, 4, START)
            _submission(
                session,
                person_id,
                couple.id,
                outcomes.stage_end_occasion(FIRST_STAGE.key),
                2,
                START + timedelta(weeks=4),
            )
            for exercise in FIRST_STAGE.exercises:
                session.add(
                    ExerciseRecord(
                        person_id=person_id,
                        couple_id=couple.id,
                        stage=FIRST_STAGE.key,
                        exercise=exercise.key,
                        data={},
                        started_at=START,
                        updated_at=START + timedelta(weeks=2),
                        completed_at=START + timedelta(weeks=2),
                    )
                )
            session.add(SafetyScreen(person_id=person_id, flagged=n % 2 == 0, submitted_at=START))
        session.add(StageOpening(couple_id=couple.id, stage=PROGRAM.stages[1].key, opened_at=START))
        done = HomeworkAssignment(
            couple_id=couple.id, title="Walk", due_on=TODAY - timedelta(days=9), assigned_by_id=therapist
        )
        late = HomeworkAssignment(
            couple_id=couple.id,
            title="Talk",
            due_on=TODAY - timedelta(days=2),
            assigned_by_id=therapist,
            for_person_id=partners[1],
        )
        held = TherapySession(couple_id=couple.id, therapist_id=therapist, held_on=TODAY - timedelta(days=6))
        session.add_all([done, late, held])
        session.flush()
        assert done.id is not None and held.id is not None
        for person_id, rating in zip(partners, (9, 5), strict=True):
            session.add(HomeworkCompletion(assignment_id=done.id, person_id=person_id, completed_at=START))
            session.add(
                SessionFeedback(
                    session_id=held.id,
                    person_id=person_id,
                    heard=rating,
                    goals=rating,
                    approach=rating,
                    overall=rating,
                    submitted_at=datetime.combine(TODAY, datetime.min.time(), UTC),
                )
            )


@contextmanager
def _counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _load(engine: Engine, therapist: Viewer) -> tuple[list[caseload.CaseloadRow], int]:
    with read_session(engine) as session, _counting(engine) as statements:
        rows = caseload.load_caseload(
            session=session, viewer=therapist, program=PROGRAM, settings=SETTINGS, today=TODAY
        )
    return rows, len(statements)


def _counts(engine: Engine, couples: int) -> tuple[list[caseload.CaseloadRow], int]:
    therapist = _caseload_of(engine, couples)
    rows, count = _load(engine, therapist)
    assert len(rows) == couples
    return rows, count


def test_the_caseload_loads_in_the_same_number_of_statements_for_5_and_200_couples(engine: Engine) -> None:
    """Same statement count at 5 and at 200 couples with real histories (no per-couple query)."""
    small_rows, small = _counts(engine, 5)
    with Session(engine) as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.execute(table.delete())
        session.commit()
    large_rows, large = _counts(engine, 200)
    assert small == large
    # The histories were really read: every row has each partner's outcome, check-in and activity, and
    # the crafted alerts fire in every couple as in the small caseload.
    for rows in (small_rows, large_rows):
        for row in rows:
            assert all(p.latest_outcome is not None and p.latest_checkin is not None for p in row.partners)
            assert all(p.last_active is not None for p in row.partners)
            kinds = {a.kind for a in row.alerts}
            assert {"homework-overdue", "feedback-split"} <= kinds
            assert ("safety" in kinds) == (row.couple_id % 2 == rows[0].couple_id % 2)
    assert [sorted(a.kind for a in r.alerts) for r in small_rows] == [
        sorted(a.kind for a in r.alerts) for r in large_rows[:5]
    ]
