"""Seeding for the benchmark: N couples with 52 weeks of history each, in bulk, plus one measured couple.

Bulk rows go in through SQLAlchemy core (executemany on the models' own tables, so dates and encrypted
columns pass through the same column types the app uses), with ids chosen here, one bcrypt hash for every
account, and no audit rows. Each couple: two partners, a weekly check-in from each for 52 weeks, the
baseline, and 0 to 4 finished stages (each stage's start and end checks, its exercises done, the outcome
measure after it); therapists see 25 couples each. The measured couple is the demo couple (program.ops.demo),
far enough along that every partner page has content: the whole program and its follow-up done, and both
partners chose the intimacy module. Its therapist, Dr Rivera, sees 25 couples: the demo's five and 20 of
the bulk ones.
"""

from __future__ import annotations

import shutil
import time as clock
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import select

from program.course import checkins, outcomes, questionnaires
from program.course.curriculum import Program
from program.infra.db import write_session
from program.infra.models import (
    CheckIn,
    Couple,
    ExerciseRecord,
    ModuleChoice,
    Person,
    QuestionnaireSubmission,
    Role,
    SubmissionStatus,
)
from program.ops.demo import DemoAccounts, load_demo
from program.privacy.tables import CoupleMembership, QuestionnaireAnswer, TherapistApproval, TherapistGrant

ROOT = Path(__file__).resolve().parent.parent
WEEKS = 52
CASELOAD = 25
# Dr Rivera's caseload: the demo's own five couples and this many of the bulk ones.
DEMO_COUPLES = 5
DEMO_CASELOAD_EXTRA = CASELOAD - DEMO_COUPLES
CHUNK = 20_000
# An operator's extra questionnaire, so the "More questionnaires" page is in the menu and has content.
EXTRA_INSTRUMENT = ROOT / "tests" / "golden" / "test-instrument.toml"


@dataclass(frozen=True)
class Seeded:
    """What was seeded and how long it took."""

    couples: int
    demo: DemoAccounts
    seconds_bulk: float
    seconds_demo: float
    rows: int


def add_operator_instrument(data_dir: Path) -> None:
    """Drop a questionnaire into the data folder's instruments/, as an operator would."""
    folder = data_dir / "instruments"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXTRA_INSTRUMENT, folder)


def seed(*, engine: Engine, program: Program, couples: int, today: date) -> Seeded:
    """The measured couple (demo) first, then `couples` bulk couples."""
    started = clock.perf_counter()
    demo = load_demo(engine=engine, program=program, today=today, bcrypt_rounds=4)
    with write_session(engine) as session:
        for username in demo.partners:
            person_id = session.exec(select(Person.id).where(Person.username == username)).one()
            assert person_id is not None
            session.add(
                ModuleChoice(person_id=person_id, couple_id=demo.couple_id, module="intimacy", wants=True)
            )
        therapist_id = session.exec(select(Person.id).where(Person.username == demo.therapist)).one()
    seconds_demo = clock.perf_counter() - started
    started = clock.perf_counter()
    assert therapist_id is not None
    with engine.begin() as connection:
        rows = _bulk(connection, program, couples, today, therapist_id)
    if engine.dialect.name == "postgresql":
        _reset_sequences(engine)
    return Seeded(couples, demo, clock.perf_counter() - started, seconds_demo, rows)


def _reset_sequences(engine: Engine) -> None:
    """Explicit ids leave PostgreSQL's sequences behind: move each past the largest id."""
    with engine.begin() as connection:
        for table in (
            "person",
            "couple",
            "couplemembership",
            "therapistgrant",
            "checkin",
            "questionnairesubmission",
            "questionnaireanswer",
            "exerciserecord",
        ):
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )


class _Ids:
    """The next free id of each table, read once."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.next: dict[str, int] = {}

    def take(self, table: sa.Table) -> int:
        if table.name not in self.next:
            largest = self.connection.execute(sa.select(sa.func.max(table.c.id))).scalar()
            self.next[table.name] = (largest or 0) + 1
        value = self.next[table.name]
        self.next[table.name] = value + 1
        return value


class _Writer:
    """Rows buffered per table and written with executemany in chunks (parents before children)."""

    ORDER = (
        "person",
        "therapistapproval",
        "couple",
        "couplemembership",
        "therapistgrant",
        "checkin",
        "questionnairesubmission",
        "questionnaireanswer",
        "exerciserecord",
    )

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in self.ORDER}
        self.tables: dict[str, sa.Table] = {}
        self.written = 0

    def add(self, table: sa.Table, row: dict[str, Any]) -> None:
        self.tables[table.name] = table
        self.rows[table.name].append(row)
        if len(self.rows[table.name]) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for name in self.ORDER:
            if self.rows[name]:
                self.connection.execute(self.tables[name].insert(), self.rows[name])
                self.written += len(self.rows[name])
                self.rows[name] = []


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _answers(values: Iterable[str], level: int, spread: int) -> Iterator[tuple[str, int]]:
    for n, item in enumerate(values):
        yield item, level + (n % (spread + 1))


def _bulk(connection: Connection, program: Program, couples: int, today: date, demo_therapist: int) -> int:
    person, approval, couple_t = _table(Person), _table(TherapistApproval), _table(Couple)
    member, grant, checkin = _table(CoupleMembership), _table(TherapistGrant), _table(CheckIn)
    submission, answer, record = (
        _table(QuestionnaireSubmission),
        _table(QuestionnaireAnswer),
        _table(ExerciseRecord),
    )
    ids, out = _Ids(connection), _Writer(connection)
    password_hash = bcrypt.hashpw(b"benchmark password", bcrypt.gensalt(4)).decode()
    first_monday = checkins.week_start(today) - timedelta(weeks=WEEKS - 1)
    start = datetime.combine(first_monday, time(9), tzinfo=UTC)
    baseline = program.instruments[program.assessment.overview.questionnaire]
    # The bulk couples' therapists: Dr Rivera takes the first DEMO_CASELOAD_EXTRA, the rest 25 each.
    therapists: list[int] = []

    def therapist_for(n: int) -> int:
        if n < DEMO_CASELOAD_EXTRA:
            return demo_therapist
        index = (n - DEMO_CASELOAD_EXTRA) // CASELOAD
        while len(therapists) <= index:
            therapist_id = ids.take(person)
            out.add(
                person,
                {
                    "id": therapist_id,
                    "username": f"bench-therapist-{len(therapists)}",
                    "display_name": f"Dr Bench {len(therapists)}",
                    "role": Role.THERAPIST,
                    "password_hash": password_hash,
                    "created_at": start,
                    "disabled_at": None,
                    "pronouns": None,
                },
            )
            out.add(approval, {"person_id": therapist_id, "approved_at": start, "approved_by": "bench"})
            therapists.append(therapist_id)
        return therapists[index]

    def submit(
        person_id: int,
        couple_id: int,
        instrument: str,
        occasion: str,
        items: Iterable[str],
        at: datetime,
        level: int,
    ) -> None:
        submission_id = ids.take(submission)
        out.add(
            submission,
            {
                "id": submission_id,
                "person_id": person_id,
                "couple_id": couple_id,
                "instrument": instrument,
                "occasion": occasion,
                "status": SubmissionStatus.SUBMITTED,
                "started_at": at,
                "updated_at": at,
                "submitted_at": at,
            },
        )
        for item, value in _answers(items, level, 1):
            out.add(
                answer, {"id": ids.take(answer), "submission_id": submission_id, "item": item, "value": value}
            )

    baseline_items = [i.key for i in baseline.items]
    for n in range(couples):
        therapist_id = therapist_for(n)
        couple_id = ids.take(couple_t)
        partners = [ids.take(person), ids.take(person)]
        for side, person_id in enumerate(partners):
            out.add(
                person,
                {
                    "id": person_id,
                    "username": f"bench-{n}-{'ab'[side]}",
                    "display_name": f"Partner {n}{'AB'[side]}",
                    "role": Role.PARTNER,
                    "password_hash": password_hash,
                    "created_at": start,
                    "disabled_at": None,
                    "pronouns": None,
                },
            )
        out.add(
            couple_t,
            {
                "id": couple_id,
                "created_at": start,
                "created_by_id": partners[0],
                "checkin_weekday": 6,
                "checkin_time": time(20),
            },
        )
        finished = n % (len(program.stages) + 1)  # 0 to 4 stages done
        for side, person_id in enumerate(partners):
            out.add(
                member,
                {
                    "id": ids.take(member),
                    "couple_id": couple_id,
                    "person_id": person_id,
                    "joined_at": start,
                    "left_at": None,
                },
            )
            out.add(
                grant,
                {
                    "id": ids.take(grant),
                    "couple_id": couple_id,
                    "therapist_id": therapist_id,
                    "partner_id": person_id,
                    "share_safety_screen": side == 0,
                    "granted_at": start,
                    "revoked_at": None,
                },
            )
            for week in range(WEEKS):
                moment = start + timedelta(weeks=week, days=6, hours=11)
                level = 3 + (n + week // 4 + side) % 6
                out.add(
                    checkin,
                    {
                        "id": ids.take(checkin),
                        "person_id": person_id,
                        "couple_id": couple_id,
                        "week_start": first_monday + timedelta(weeks=week),
                        "closeness": level,
                        "communication": level,
                        "conflict": max(0, level - 1),
                        "trust": level,
                        "overall": level,
                        "note": None,
                        "note_visibility": "private",
                        "intimacy": None,
                        "intimacy_visibility": "private",
                        "created_at": moment,
                        "updated_at": moment,
                    },
                )
            submit(
                person_id,
                couple_id,
                baseline.key,
                questionnaires.BASELINE,
                baseline_items,
                start + timedelta(days=1),
                2,
            )
            for number, stage in enumerate(program.stages[:finished]):
                week_start = start + timedelta(weeks=1 + 4 * number)
                check = program.instruments[stage.check]
                check_items = [i.key for i in check.items]
                for when, offset, level in (("start", 0, 1), ("end", 3, 3)):
                    submit(
                        person_id,
                        couple_id,
                        check.key,
                        questionnaires.stage_occasion(stage.key, when),
                        check_items,
                        week_start + timedelta(weeks=offset),
                        level,
                    )
                if number < len(program.stages) - 1:
                    submit(
                        person_id,
                        couple_id,
                        baseline.key,
                        outcomes.stage_end_occasion(stage.key),
                        baseline_items,
                        week_start + timedelta(weeks=3, days=1),
                        2 + number // 2,
                    )
                for exercise in stage.exercises:
                    done = week_start + timedelta(weeks=2)
                    out.add(
                        record,
                        {
                            "id": ids.take(record),
                            "person_id": person_id,
                            "couple_id": couple_id,
                            "stage": stage.key,
                            "exercise": exercise.key,
                            "data": {},
                            "started_at": done - timedelta(days=3),
                            "updated_at": done,
                            "completed_at": done,
                        },
                    )
    out.flush()
    return out.written


def counts(engine: Engine) -> dict[str, int]:
    """Rows per main table (to print beside the timing)."""
    names = ("person", "couple", "checkin", "questionnaireanswer", "exerciserecord", "therapistgrant")
    with engine.connect() as connection:
        return {
            name: int(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {name}").scalar() or 0)
            for name in names
        }
