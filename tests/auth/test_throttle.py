"""Login throttling: waits grow after five failures, never lock for good, and treat every name alike.

Every attempt is reserved (counted) before its password is checked, in one write, so attempts sent at the
same moment are each counted and only those within the allowance get a check.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from program.auth import throttle
from program.infra.db import read_session, write_session
from program.infra.models import LoginThrottle

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KEY = throttle.key_for("ana", b"k" * 32)


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, 0), (4, 0), (5, 30), (6, 60), (7, 120), (8, 240), (9, 480), (10, 900), (11, 900), (50, 900)],
)
def test_the_wait_doubles_after_five_failures_up_to_fifteen_minutes(failures: int, wait: int) -> None:
    """Five tries are free; then 30 s, 1, 2, 4, 8 minutes, capped at 15 minutes."""
    assert throttle.wait_after(failures) == timedelta(seconds=wait)


def _try(engine: Engine, now: datetime = T0, key: str = KEY) -> datetime | None:
    """One attempt: None if it may check a password (and is counted), else when to retry."""
    with write_session(engine) as session:
        return throttle.reserve(session=session, key=key, now=now)


def _fail(engine: Engine, times: int, now: datetime = T0, key: str = KEY) -> None:
    for _ in range(times):
        assert _try(engine, now, key) is None


def _failures(engine: Engine, key: str = KEY) -> int | None:
    with read_session(engine) as session:
        row = session.get(LoginThrottle, key)
        return None if row is None else row.failures


def test_the_fifth_attempt_is_free_and_the_sixth_must_wait(engine: Engine) -> None:
    """Five attempts in a row are each checked; the sixth at the same moment is refused for 30 s."""
    for _ in range(throttle.FREE_ATTEMPTS):
        assert _try(engine) is None
    assert _try(engine) == T0 + timedelta(seconds=30)
    assert _failures(engine) == 5  # a refused attempt does not lengthen the wait


@pytest.mark.parametrize(("after", "allowed"), [(29, False), (30, True), (31, True)])
def test_the_thirty_second_wait_ends_exactly_on_time(engine: Engine, after: int, allowed: bool) -> None:
    """One second early is refused; exactly at 30 s and after, the attempt goes ahead."""
    _fail(engine, 5)
    result = _try(engine, T0 + timedelta(seconds=after))
    assert (result is None) == allowed
    if not allowed:
        assert result == T0 + timedelta(seconds=30)


def test_each_further_failure_doubles_the_wait_up_to_the_cap(engine: Engine) -> None:
    """After the 6th, 7th ... failures the waits are 1, 2, 4, 8, then 15 minutes and no more."""
    _fail(engine, 5)
    now = T0 + timedelta(seconds=30)
    for expected in (60, 120, 240, 480, 900, 900, 900):
        assert _try(engine, now) is None  # the attempt after the wait is checked (and fails)
        wait = timedelta(seconds=expected)
        assert _try(engine, now + wait - timedelta(seconds=1)) == now + wait
        now += wait


def test_a_success_resets_the_count(engine: Engine) -> None:
    """Logging in successfully forgets the earlier failures."""
    _fail(engine, 5)
    with write_session(engine) as session:
        throttle.reset(session=session, key=KEY)
    _fail(engine, 5)
    assert _try(engine) is not None


@pytest.mark.parametrize(
    ("age", "forgotten"),
    [
        (timedelta(hours=24) - timedelta(seconds=1), False),
        (timedelta(hours=24), True),
        (timedelta(days=2), True),
    ],
)
def test_failures_a_day_old_are_forgotten(engine: Engine, age: timedelta, forgotten: bool) -> None:
    """Failures exactly 24 hours old no longer count; a second younger they still do (the cap applies)."""
    _fail(engine, 5)
    for minutes in (50, 100, 200, 400, 800, 1500, 1600):  # twelve failures: a 15-minute wait
        _fail(engine, 1, T0 + timedelta(minutes=minutes))
    last = T0 + timedelta(minutes=1600)
    assert _try(engine, last + timedelta(minutes=1)) == last + timedelta(minutes=15)
    assert _try(engine, last + age) is None
    assert _failures(engine) == (1 if forgotten else 13)
    assert (_try(engine, last + age) is None) == forgotten  # 13 failures wait 15 minutes; 1 does not


def test_usernames_are_throttled_apart_and_stored_only_as_digests(engine: Engine) -> None:
    """One name's failures do not slow another, and the typed name is not stored."""
    other = throttle.key_for("ben", b"k" * 32)
    _fail(engine, 5)
    assert _try(engine, key=other) is None
    assert "ana" not in KEY and len(KEY) == 64
    assert _failures(engine) == 5


@pytest.mark.usefixtures("engine")
def test_purposes_never_share_a_row() -> None:
    """A login name typed to match a registration counter's name gets a different key."""
    key = b"k" * 32
    login = throttle.key_for("registration", key)
    assert login != throttle.key_for("registration", key, purpose="registration")
    assert len(throttle.key_for("x", key, purpose="registration")) == 64


def test_parallel_attempts_each_count_and_only_five_go_through(engine: Engine) -> None:
    """Sixteen attempts released at once: exactly five are allowed a password check, all sixteen answered."""
    barrier = threading.Barrier(16)
    results: list[datetime | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        try:
            result = _try(engine)
        except BaseException as error:  # noqa: BLE001 (asserted below)
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(result is None for result in results) == throttle.FREE_ATTEMPTS
    assert len(results) == 16
    assert _failures(engine) == throttle.FREE_ATTEMPTS


def test_a_window_counter_allows_its_limit_per_window(engine: Engine) -> None:
    """The registration counter lets `limit` through per window, refuses the next, and starts afresh after."""
    key = throttle.key_for("client 10.0.0.1", b"k" * 32, purpose="registration")
    window = timedelta(hours=1)
    for _ in range(3):
        with write_session(engine) as session:
            assert throttle.take(session=session, key=key, limit=3, window=window, now=T0) is None
    with write_session(engine) as session:
        refused = throttle.take(session=session, key=key, limit=3, window=window, now=T0 + window / 2)
    assert refused == T0 + window
    with write_session(engine) as session:
        assert throttle.take(session=session, key=key, limit=3, window=window, now=T0 + window) is None
