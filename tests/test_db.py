"""The database layer: schema from migrations, UTC times, all-or-nothing writes, safe concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from program.db import create_db_engine, migrate, read_session, write_session
from program.models import AuditEvent, CheckIn, LoginThrottle
from tests.factories import make_person


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    """Alembic's migrations build exactly the tables, columns, indexes and keys the models declare."""
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_migrating_twice_changes_nothing(engine: Engine) -> None:
    """Starting the app again on a migrated database is harmless."""
    migrate(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []


def test_times_come_back_aware_and_in_utc(engine: Engine) -> None:
    """A time written in another zone is read back as the same instant, in UTC, on every backend."""
    person = make_person(engine, "ana")
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    with write_session(engine) as session:
        session.add(AuditEvent(at=moment, action="test", actor_id=person.person_id))
    with read_session(engine) as session:
        stored = session.exec(select(AuditEvent).where(AuditEvent.action == "test")).one()
    assert stored.at == moment
    assert stored.at.tzinfo is not None and stored.at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(engine: Engine) -> None:
    """A naive datetime is a bug waiting to happen; writing one fails loudly."""
    with pytest.raises(sa.exc.StatementError, match="naive"), write_session(engine) as session:
        session.add(AuditEvent(at=datetime(2026, 1, 1), action="naive"))


def test_a_failed_write_leaves_nothing_half_saved(engine: Engine) -> None:
    """If any part of a unit of work fails, none of it is stored."""
    person = make_person(engine, "ben")
    with pytest.raises(sa.exc.IntegrityError), write_session(engine) as session:
        session.add(AuditEvent(action="first half", actor_id=person.person_id))
        session.flush()
        session.add(
            CheckIn(
                person_id=person.person_id,
                week_start=date(2026, 11, 16),
                closeness=11,  # out of the 0-10 range: the database refuses it
                communication=5,
                conflict=5,
                trust=5,
                overall=5,
            )
        )
    with read_session(engine) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "first half")).first() is None
        assert session.exec(select(CheckIn)).first() is None


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    """A row pointing at a person who does not exist is refused (SQLite needs this switched on)."""
    with pytest.raises(sa.exc.IntegrityError), write_session(engine) as session:
        session.add(AuditEvent(action="orphan", actor_id=987654))


def test_sqlite_is_configured_for_concurrent_use(tmp_path: Path) -> None:
    """The embedded database runs in WAL mode with foreign keys and a busy timeout."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    engine.dispose()


def test_concurrent_read_then_write_units_all_succeed(engine: Engine) -> None:
    """Eight threads that each read then write never fail with "database is locked"."""
    with write_session(engine) as session:
        session.add(LoginThrottle(key="counter", failures=0, last_failure_at=datetime.now(UTC)))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(5):
                with write_session(engine) as session:
                    row = session.exec(select(LoginThrottle).where(LoginThrottle.key == "counter")).one()
                    row.failures += 1
                    session.add(row)
        except BaseException as error:  # noqa: BLE001  (collected and asserted below)
            errors.append(error)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(engine) as session:
        row = session.exec(select(LoginThrottle).where(LoginThrottle.key == "counter")).one()
    if engine.dialect.name == "sqlite":
        # Writers are serialised from the start of each unit, so no increment is lost.
        assert row.failures == 40
