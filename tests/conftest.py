"""Shared fixtures: one migrated database per test session, emptied after every test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from program.infra import crypto
from program.infra.db import create_db_engine, migrate
from program.infra.settings import get_settings
from tests.databases import fresh_database, postgres_url

ROOT = Path(__file__).resolve().parent.parent
TEST_COOKIE_KEY = "test-only-cookie-key-0123456789-abcdefghijklmnop"
# Test-only Fernet key for the free text encrypted at rest; this process's engines all use it, and the
# app's settings and servers under test are given the same one.
TEST_ENCRYPTION_KEYS = "N8nmjGf-InSwKJ9K04QNM8CgJrTn18qYdnS5YAYU4ms="
crypto.configure([TEST_ENCRYPTION_KEYS])


def pytest_report_header() -> str:
    """Say which database this run exercises."""
    return f"kindred database: {'PostgreSQL (TEST_DATABASE_URL)' if postgres_url() else 'SQLite'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the whole test session."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The engine the data-layer tests use, on the migrated schema."""
    engine = create_db_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts from empty tables (only for tests that use the shared database)."""
    yield
    if "engine" in request.fixturenames:
        engine: Engine = request.getfixturevalue("engine")
        with Session(engine) as session:
            for table in reversed(SQLModel.metadata.sorted_tables):
                session.execute(table.delete())
            session.commit()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A plain session on the test database."""
    with Session(engine) as session:
        yield session


@pytest.fixture
def app_env(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """Point the app's settings at the test database, for AppTest runs in this process."""
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KINDRED_COOKIE_KEY", TEST_COOKIE_KEY)
    monkeypatch.setenv("KINDRED_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("KINDRED_BCRYPT_ROUNDS", "4")
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()


# Under mutmut (which sets MUTANT_UNDER_TEST and runs in its mutants/ copy) the quickest tests go first, so
# a mutant one fast test kills costs that test only (mutmut passes `-x`); durations are mutmut's own record.
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if "MUTANT_UNDER_TEST" not in os.environ:
        return
    try:
        durations: dict[str, float] = json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))


# In CI every test must run: a skipped browser or PostgreSQL test would hide a gap.
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and os.environ.get("KINDRED_FORBID_SKIPS") == "1":
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _skipped:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        assert reporter is not None
        lines = [f"KINDRED_FORBID_SKIPS=1 but {len(_skipped)} test(s) were skipped:", *_skipped]
        reporter.write_line("\n  ".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
