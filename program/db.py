"""The database: one engine per process, a session per unit of work, migrations applied on start."""

from __future__ import annotations

import logging
import os
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
# The database holds mental-health data: its files and folder are the owner's alone, whatever the umask.
OWNER_ONLY_FILE = 0o600
OWNER_ONLY_FOLDER = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger("kindred")


def create_db_engine(database_url: str) -> Engine:
    """Make the engine for a URL, with the settings each backend needs for safe concurrent use."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = Path(url.database) if url.database and url.database != ":memory:" else None
        if database is not None:
            _create_owner_only(database)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine, database)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _create_owner_only(database: Path) -> None:
    """Create the database file 0600 (and its folder 0700) before SQLite opens it; SQLite then gives its
    -wal and -shm files the database file's mode. A file an older Kindred left readable is tightened."""
    folder = database.parent
    if not folder.exists():
        folder.mkdir(mode=OWNER_ONLY_FOLDER, parents=True, exist_ok=True)
        folder.chmod(OWNER_ONLY_FOLDER)  # mkdir's mode is narrowed by the umask, never widened
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, OWNER_ONLY_FILE))
    except OSError:
        return  # an unwritable location: SQLite itself will say so, more clearly, on connect
    _tighten(database)


def _tighten(path: Path) -> None:
    """Make an existing data file owner-only (best effort: a file we do not own is left alone and logged)."""
    try:
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(OWNER_ONLY_FILE)
    except OSError:
        log.warning("could not make %s readable by its owner only", path.name, exc_info=True)


def _configure_sqlite(engine: Engine, database: Path | None) -> None:
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
        # Deleted and overwritten text (plain text from before encryption, tokens under a retired key) is
        # zeroed, not left in free pages; Debian's SQLite does this by default, other builds may not.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()
        # SQLite copies the database file's mode to its companions; check anyway (files made by older
        # versions, or by another tool run with a loose umask).
        if database is not None:
            for suffix in SQLITE_COMPANIONS:
                _tighten(database.with_name(database.name + suffix))

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
