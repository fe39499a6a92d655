"""The database: one engine per process, a session per unit of work, migrations applied on start."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import event

# The types and errors the pages name, re-exported so program.ui never imports the query layer itself
# (the import contracts in pyproject.toml forbid it).
from sqlalchemy.engine import Engine as Engine
from sqlalchemy.exc import IntegrityError as IntegrityError
from sqlalchemy.exc import OperationalError as OperationalError
from sqlmodel import Session as Session

if TYPE_CHECKING:  # Alembic is imported only when a migration is due (about 0.2 s of a cold start)
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option that marks a connection whose transactions will write (see write_session).
_WRITE = "kindred_write"
# The database holds mental-health data: its files and folder are the owner's alone, whatever the umask.
OWNER_ONLY_FILE = 0o600
OWNER_ONLY_FOLDER = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger("kindred")
T = TypeVar("T")


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


# The read session shared by every read of one unit of work (a Streamlit rerun), when one is open: one
# connection and one transaction for the run instead of one per `read_session` block, and a memo for what
# the run asks many times (the viewer's couple, its partners, a therapist's couples). See shared_reads.
_shared: ContextVar[Session | None] = ContextVar("kindred_shared_read_session", default=None)
_MEMO = "kindred_memo"
_FLUSHED = "kindred_flushed"


@contextmanager
def shared_reads(engine: Engine) -> Iterator[None]:
    """Let every `read_session(engine)` inside this block use one session (nested blocks reuse the outer).

    Each read block still behaves as its own session would: its objects are detached when it ends, and an
    error or anything it added rolls back. Every write committed meanwhile (write_session) ends the shared
    transaction and clears the memo, so later reads in the block see it.
    """
    current = _shared.get()
    if current is not None and current.get_bind() is engine:
        yield
        return
    with Session(engine) as session:
        token = _shared.set(session)
        try:
            yield
        finally:
            _shared.reset(token)


def _end_shared_transaction() -> None:
    """Something was written: the shared read session starts a new transaction, with an empty memo."""
    session = _shared.get()
    if session is not None:
        session.rollback()
        session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_flush")
def _forget_on_flush(session: Session, _context: Any) -> None:
    """A session that wrote forgets what it memoised; a shared read session marks that it must roll back."""
    session.info.pop(_MEMO, None)
    session.info[_FLUSHED] = True


def memo(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per read session (and per shared read transaction) for this key; forgotten on any
    write. Write sessions always compute.

    Only for values that are the same for everyone who asks with this key (the key names the viewer where
    the answer depends on them), and that the callers do not change."""
    if session.get_bind().get_execution_options().get(_WRITE, False):
        return compute()  # a write session may change the answer with statements no flush event sees
    cache: dict[Hashable, Any] = session.info.setdefault(_MEMO, {})
    if key not in cache:
        cache[key] = compute()
    return cast(T, cache[key])


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading; nothing it changes is committed."""
    shared = _shared.get()
    if shared is None or shared.get_bind() is not engine:
        with Session(engine) as session:
            yield session
        return
    try:
        yield shared
    except BaseException:
        shared.rollback()
        shared.info.pop(_MEMO, None)
        raise
    finally:
        if shared.info.pop(_FLUSHED, False) or shared.new or shared.dirty or shared.deleted:
            shared.rollback()  # a read block's changes are never kept, as when its own session closed
            shared.info.pop(_MEMO, None)
        shared.expunge_all()  # its objects are detached, as they were when its own session closed


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
            _end_shared_transaction()
            raise
        except BaseException:
            session.rollback()
            raise
        session.commit()
    _end_shared_transaction()


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that runs against this engine (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


# A migration file's own `revision = "..."` and `down_revision = ...` lines (alembic's template).
_REVISION_LINE = re.compile(
    r'^(down_revision|revision)\b[^=\n]*=[ \t]*(?:"([^"\n]*)"|None)[ \t]*$', re.MULTILINE
)


def head_revision() -> str | None:
    """The newest migration's id, read from the migration files without importing Alembic or them; None
    when it cannot be told that way (a branch, a file it cannot read), and then migrate() asks Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(engine: Engine) -> bool:
    """Whether the database already stands at the newest migration: one indexed read, no Alembic import."""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    except sa.exc.DBAPIError:
        return False  # a new database: no version table yet
    return versions == [head]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a quick check first: the usual start finds it there)."""
    if schema_is_current(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
