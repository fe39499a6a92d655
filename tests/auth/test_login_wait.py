"""A throttled login says when the next try may be made, and every throttle purpose counts on its own row.
Written against the mutants that survived a mutation run of program/auth/throttle.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from program.auth import accounts, throttle
from tests.factories import PASSWORD, make_person

KEY = b"k" * 32
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _attempt(engine: Engine, password: str, now: datetime) -> None:
    accounts.attempt_login(engine=engine, username="ana", password=password, key=KEY, rounds=4, now=now)


def test_a_throttled_login_says_when_the_next_try_may_be_made(engine: Engine) -> None:
    """After five wrong passwords, the sixth try (even with the right password) is refused with the moment the
    30 s wait ends, counted from the fifth failure; the login page shows that time."""
    make_person(engine, "ana")
    for n in range(5):
        with pytest.raises(accounts.LoginRefused):
            _attempt(engine, "wrong guess number " + str(n), T0 + timedelta(seconds=n))
    with pytest.raises(throttle.LoginThrottled) as refused:
        _attempt(engine, PASSWORD, T0 + timedelta(seconds=10))
    assert refused.value.retry_at == T0 + timedelta(seconds=4) + throttle.FIRST_WAIT


def test_every_purpose_counts_on_its_own_row() -> None:
    """The same name under the login counter and two other counters gets three different keys, each the same
    every time and each depending on the server's key: no purpose's failures spill into another's."""
    purposes = ("login", "registration", "delete-account")
    keys = [throttle.key_for("ana", KEY, purpose=p) for p in purposes]
    assert len(set(keys)) == 3
    assert keys == [throttle.key_for("ana", KEY, purpose=p) for p in purposes]
    assert keys[0] == throttle.key_for("ana", KEY)
    assert not set(keys) & {throttle.key_for("ana", b"x" * 32, purpose=p) for p in purposes}
