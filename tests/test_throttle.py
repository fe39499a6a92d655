"""Login throttling: waits grow after five failures, never lock for good, and treat every name alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from program import throttle
from program.db import read_session, write_session
from program.models import LoginThrottle

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KEY = throttle.key_for("ana", b"k" * 32)


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, 0), (4, 0), (5, 30), (6, 60), (7, 120), (9, 480), (10, 900), (50, 900)],
)
def test_the_wait_doubles_after_five_failures_up_to_fifteen_minutes(failures: int, wait: int) -> None:
    """Five tries are free; then 30 s, 1, 2, 4 minutes ... capped at 15 minutes."""
    assert throttle.wait_after(failures) == timedelta(seconds=wait)


def _fail(engine: Engine, times: int, now: datetime = T0, key: str = KEY) -> None:
    for _ in range(times):
        with write_session(engine) as session:
            throttle.record_failure(session=session, key=key, now=now)


def _retry_at(engine: Engine, now: datetime, key: str = KEY) -> datetime | None:
    with read_session(engine) as session:
        return throttle.retry_at(session=session, key=key, now=now)


def test_the_sixth_attempt_must_wait_and_then_may_try_again(engine: Engine) -> None:
    """After five failures the next attempt waits 30 seconds; after that it may go ahead."""
    _fail(engine, 4)
    assert _retry_at(engine, T0) is None
    _fail(engine, 1)
    assert _retry_at(engine, T0 + timedelta(seconds=10)) == T0 + timedelta(seconds=30)
    assert _retry_at(engine, T0 + timedelta(seconds=31)) is None


def test_a_success_resets_the_count(engine: Engine) -> None:
    """Logging in successfully forgets the earlier failures."""
    _fail(engine, 7)
    with write_session(engine) as session:
        throttle.reset(session=session, key=KEY)
    _fail(engine, 1)
    assert _retry_at(engine, T0) is None


def test_failures_are_forgotten_after_a_day(engine: Engine) -> None:
    """Typos spread over weeks never add up to a wait."""
    _fail(engine, 6)
    _fail(engine, 1, now=T0 + timedelta(days=2))
    assert _retry_at(engine, T0 + timedelta(days=2)) is None


def test_usernames_are_throttled_apart_and_stored_only_as_digests(engine: Engine) -> None:
    """One name's failures do not slow another, and the typed name is not stored."""
    other = throttle.key_for("ben", b"k" * 32)
    _fail(engine, 6)
    assert _retry_at(engine, T0, key=other) is None
    assert "ana" not in KEY and len(KEY) == 64
    with read_session(engine) as session:
        assert session.get(LoginThrottle, KEY) is not None


def test_failures_from_parallel_attempts_all_count(engine: Engine) -> None:
    """Failures made at the same moment from several processes are each counted."""
    threads = [threading.Thread(target=_fail, args=(engine, 3)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with read_session(engine) as session:
        row = session.get(LoginThrottle, KEY)
    assert row is not None and row.failures == 12
