"""Throttling in the database, so it holds across app processes: logins per username, and counters per window.

Logins: after FREE_ATTEMPTS failures, each further attempt must wait: 30 s, then 1, 2, 4 ... minutes, at most
MAX_WAIT. There is never a permanent lock (a stranger could otherwise lock anyone out by guessing), and
unknown usernames are throttled exactly like real ones, so the wait reveals nothing about who exists.

Every attempt is reserved (counted as a failure) in one short write BEFORE its password is checked, and a
success then resets the count. Attempts sent at the same moment therefore queue on the row: each is counted,
and only those within the allowance reach a password check.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from program.infra.models import LoginThrottle

FREE_ATTEMPTS = 5
FIRST_WAIT = timedelta(seconds=30)
MAX_WAIT = timedelta(minutes=15)
# Failures older than this are forgotten, so a few typos a month never add up to a wait.
FORGET_AFTER = timedelta(hours=24)


class LoginThrottled(Exception):
    """Too many failed attempts for this username; the next may be made at `retry_at`."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(f"retry at {retry_at.isoformat()}")
        self.retry_at = retry_at


def key_for(name: str, key: bytes, *, purpose: str = "login") -> str:
    """The row key for a name: a keyed digest, so a password typed into the name field is not kept.

    Each purpose digests under its own key, so no typed login name can land on another counter's row.
    """
    if purpose != "login":
        key = hmac.new(key, f"throttle purpose {purpose}".encode(), hashlib.sha256).digest()
    return hmac.new(key, name.encode(), hashlib.sha256).hexdigest()


def wait_after(failures: int) -> timedelta:
    """How long to wait after this many consecutive failures."""
    if failures < FREE_ATTEMPTS:
        return timedelta(0)
    doublings = min(failures - FREE_ATTEMPTS, 16)  # past the cap anyway; keeps the number small
    return min(FIRST_WAIT * (1 << doublings), MAX_WAIT)


def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    """The row for this key, created if missing and locked until the transaction ends.

    On PostgreSQL the row lock queues concurrent attempts; on SQLite the write session's BEGIN IMMEDIATE
    already holds the database's write lock, so the read and the update below cannot interleave.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.exec(
        insert(LoginThrottle)
        .values(key=key, failures=0, last_failure_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    locked = select(LoginThrottle).where(col(LoginThrottle.key) == key).with_for_update()
    return session.exec(locked.execution_options(populate_existing=True)).one()


def reserve(*, session: Session, key: str, now: datetime) -> datetime | None:
    """Count one login attempt before its password is checked; None if it may go ahead, else when it may.

    Run it in its own write_session, committed before the password check. A refused attempt changes
    nothing, so hammering the form does not lengthen anyone's wait.
    """
    row = _locked_row(session, key, now)
    last = row.last_failure_at
    failures = 0 if now - last >= FORGET_AFTER else row.failures
    allowed = last + wait_after(failures)
    if allowed > now:
        return allowed
    row.failures, row.last_failure_at = failures + 1, now
    session.add(row)
    session.flush()
    return None


def take(*, session: Session, key: str, limit: int, window: timedelta, now: datetime) -> datetime | None:
    """Take one of `limit` uses per fixed window (registrations); None if taken, else when the window ends.

    Reuses the login table: `failures` counts uses, `last_failure_at` is when the window started.
    """
    row = _locked_row(session, key, now)
    started = row.last_failure_at
    if now - started >= window or row.failures == 0:
        row.failures, row.last_failure_at = 0, now
        started = now
    if row.failures >= limit:
        return started + window
    row.failures += 1
    session.add(row)
    session.flush()
    return None


def reset(*, session: Session, key: str) -> None:
    """Forget the failures after a successful login."""
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)
