"""The database: one engine per process, a session per unit of work, migrations applied on start."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option that marks a connection whose transactions will write (see write_session).
_WRITE = "kindred_write"


def create_db_engine(database_url: str) -> Engine:
    """Make the engine for a URL, with the settings each backend needs for safe concurrent use."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and transactions we begin ourselves.

    Python's sqlite3 module begins transactions lazily with a plain BEGIN, so two writers that both read
    first deadlock and one gets "database is locked" at once. We switch that handling off and issue
    BEGIN IMMEDIATE for write sessions, which waits (busy timeout) for the write lock instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        writes = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading; nothing it changes is committed."""
    with Session(engine) as session:
        yield session


def write_engine(engine: Engine) -> Engine:
    """The same engine, marked so that its transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{_WRITE: True})


@contextmanager
def write_session(engine: Engine, *, commit_on: tuple[type[Exception], ...] = ()) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error, so nothing is half-saved.

    `commit_on` lists errors that are outcomes rather than failures (a wrong code whose try must still
    be counted): the work is committed, then the error goes on to the caller.
    """
    with Session(write_engine(engine)) as session:
        try:
            yield session
        except commit_on:
            session.commit()
            raise
        except BaseException:
            session.rollback()
            raise
        session.commit()


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that runs against this engine (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    command.upgrade(alembic_config(engine), "head")
