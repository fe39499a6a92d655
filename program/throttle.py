"""Login throttling per username, in the database so it holds across app processes.

After FREE_ATTEMPTS failures, each further attempt must wait: 30 s, then 1, 2, 4 ... minutes, at most
MAX_WAIT. There is never a permanent lock (a stranger could otherwise lock anyone out by guessing), and
unknown usernames are throttled exactly like real ones, so the wait reveals nothing about who exists.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from program.models import LoginThrottle

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


def key_for(username: str, key: bytes) -> str:
    """The row key for a username: a keyed digest, so a password typed into the name field is not kept."""
    return hmac.new(key, username.encode(), hashlib.sha256).hexdigest()


def wait_after(failures: int) -> timedelta:
    """How long to wait after this many consecutive failures."""
    if failures < FREE_ATTEMPTS:
        return timedelta(0)
    doublings = min(failures - FREE_ATTEMPTS, 16)  # past the cap anyway; keeps the number small
    return min(FIRST_WAIT * (1 << doublings), MAX_WAIT)


def retry_at(*, session: Session, key: str, now: datetime) -> datetime | None:
    """When the next attempt for this key may be made, if it must wait; else None."""
    row = session.get(LoginThrottle, key)
    if row is None or now - row.last_failure_at >= FORGET_AFTER:
        return None
    allowed = row.last_failure_at + wait_after(row.failures)
    return allowed if allowed > now else None


def record_failure(*, session: Session, key: str, now: datetime) -> None:
    """Count one more failure; an upsert, so two processes failing at once both count."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    failures = col(LoginThrottle.failures)
    stale = col(LoginThrottle.last_failure_at) <= now - FORGET_AFTER
    statement = insert(LoginThrottle).values(key=key, failures=1, last_failure_at=now)
    session.exec(
        statement.on_conflict_do_update(
            index_elements=["key"],
            set_={"failures": case((stale, 1), else_=failures + 1), "last_failure_at": now},
        )
    )
    session.expire_all()


def reset(*, session: Session, key: str) -> None:
    """Forget the failures after a successful login."""
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)
