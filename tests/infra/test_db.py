"""The database layer: schema from migrations, UTC times, all-or-nothing writes, safe concurrency."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import program.infra.settings as settings_module
from program.infra.db import create_db_engine, migrate, read_session, write_session
from program.infra.models import AuditEvent, CheckIn, LoginThrottle
from program.infra.settings import load_settings
from tests.conftest import TEST_ENCRYPTION_KEYS
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


# ---- data files are the owner's alone ---------------------------------------------------------------


@pytest.fixture
def fresh_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No KINDRED_* database or key configured; the data folder (not yet created) in a temp dir."""
    for name in (
        "KINDRED_DATABASE_URL",
        "KINDRED_COOKIE_KEY",
        "KINDRED_ENCRYPTION_KEYS",
        "KINDRED_ENVIRONMENT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings_module, "STREAMLIT_SECRETS", tmp_path / "absent-secrets.toml")
    data_dir = tmp_path / "nested" / "data"
    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture(params=[0o022, 0o002, 0o000], ids=["umask-022", "umask-002", "umask-000"])
def permissive_umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run with a umask that would leave new files readable by others (as many servers and shells do)."""
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _modes(folder: Path) -> dict[str, str]:
    return {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("key_from", ["generated", "environment"])
@pytest.mark.usefixtures("permissive_umask")
def test_a_first_start_creates_every_data_file_for_the_owner_alone(
    fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch, key_from: str
) -> None:
    """A first start (settings, engine, migrations, a write) leaves a 0700 folder whose files
    (database, WAL, shared memory, generated secrets) are all 0600, whatever the umask."""
    if key_from == "environment":
        monkeypatch.setenv("KINDRED_COOKIE_KEY", "an-operator-key-0123456789-abcdefghijklmnopq")
        monkeypatch.setenv("KINDRED_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    try:
        migrate(engine)
        with write_session(engine) as session:
            session.add(AuditEvent(action="first write"))
        with engine.connect() as connection:  # an open connection keeps the -wal and -shm files
            connection.exec_driver_sql("SELECT 1")
            expected = {"kindred.db", "kindred.db-wal", "kindred.db-shm"}
            if key_from == "generated":
                expected.add("secrets.toml")
            modes = _modes(fresh_data_dir)
            assert set(modes) == expected
            assert modes == dict.fromkeys(expected, "0o600")
            assert stat.S_IMODE(fresh_data_dir.stat().st_mode) == 0o700
    finally:
        engine.dispose()


def test_an_existing_database_readable_by_others_is_made_owner_only(tmp_path: Path) -> None:
    """A database file left 0644 by an older Kindred is tightened to 0600 when the app opens it."""
    database = tmp_path / "kindred.db"
    older = create_db_engine(f"sqlite:///{database}")
    with older.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.commit()
    older.dispose()
    database.chmod(0o644)
    engine = create_db_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            connection.commit()
            assert _modes(tmp_path) == dict.fromkeys(
                ["kindred.db", "kindred.db-shm", "kindred.db-wal"], "0o600"
            )
    finally:
        engine.dispose()
