"""Server-side login sessions: a cookie logs in only while its login is live on the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.auth import login_sessions
from program.infra.db import read_session, write_session
from program.infra.models import LoginSession, Person, Role
from tests.factories import TEST_POLICIES, make_person

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _login(engine: Engine, username: str, exp_date: float = 1.8e9, now: datetime = T0) -> int:
    with write_session(engine) as session:
        person = session.exec(select(Person).where(Person.username == username)).one()
        row = login_sessions.start(
            session=session,
            person=person,
            token=login_sessions.token_id(username, exp_date),
            now=now,
            policies=TEST_POLICIES,
        )
        assert row.id is not None
        return row.id


def _cookie(
    engine: Engine, username: str, exp_date: float = 1.8e9, now: datetime = T0
) -> login_sessions.Resumed | None:
    with read_session(engine) as session:
        return login_sessions.resume_from_cookie(
            session=session, username=username, exp_date=exp_date, now=now, policies=TEST_POLICIES
        )


def _resume(engine: Engine, session_id: int, now: datetime) -> login_sessions.Resumed | None:
    with read_session(engine) as session:
        return login_sessions.resume(session=session, session_id=session_id, now=now, policies=TEST_POLICIES)


def test_a_cookie_from_a_live_login_logs_in_again(engine: Engine) -> None:
    """Reloading the page with the login's cookie finds the same person."""
    ana = make_person(engine, "ana")
    session_id = _login(engine, "ana")
    resumed = _cookie(engine, "ana", now=T0 + timedelta(hours=1))
    assert resumed is not None
    assert (resumed.session_id, resumed.viewer) == (session_id, ana)


def test_a_cookie_copied_before_logout_does_not_log_in(engine: Engine) -> None:
    """After logout the same cookie, replayed, is refused by the server."""
    make_person(engine, "ana")
    session_id = _login(engine, "ana")
    with write_session(engine) as session:
        login_sessions.end(session=session, session_id=session_id, now=T0 + timedelta(minutes=5))
    assert _cookie(engine, "ana", now=T0 + timedelta(minutes=6)) is None
    assert _resume(engine, session_id, T0 + timedelta(minutes=6)) is None


def test_a_cookie_names_one_person_only(engine: Engine) -> None:
    """A login's token cannot be presented under another username."""
    make_person(engine, "ana")
    make_person(engine, "ben")
    _login(engine, "ana")
    assert _cookie(engine, "ben") is None
    assert _cookie(engine, "ana", exp_date=1.8e9 + 1) is None


def test_sign_out_everywhere_ends_every_login_of_that_person_only(engine: Engine) -> None:
    """Ending all of Ana's logins leaves Ben's alone."""
    make_person(engine, "ana")
    make_person(engine, "ben")
    laptop, phone = _login(engine, "ana", 1.8e9), _login(engine, "ana", 1.9e9)
    bens = _login(engine, "ben", 2.0e9)
    with write_session(engine) as session:
        assert login_sessions.end_all(session=session, person_id=_id(engine, "ana"), now=T0) == 2
    later = T0 + timedelta(minutes=1)
    assert _resume(engine, laptop, later) is None and _resume(engine, phone, later) is None
    assert _resume(engine, bens, later) is not None


def _id(engine: Engine, username: str) -> int:
    with read_session(engine) as session:
        person_id = session.exec(select(Person.id).where(Person.username == username)).one()
        assert person_id is not None
        return person_id


def test_logins_expire_and_go_idle_by_role(engine: Engine) -> None:
    """A therapist's login ends after 30 idle minutes; a partner's survives that and ends after 14 days."""
    make_person(engine, "ana")
    make_person(engine, "dr.kim", Role.THERAPIST)
    partner, therapist = _login(engine, "ana", 1.8e9), _login(engine, "dr.kim", 1.9e9)
    assert _resume(engine, therapist, T0 + timedelta(minutes=29)) is not None
    assert _resume(engine, therapist, T0 + timedelta(minutes=31)) is None
    assert _resume(engine, partner, T0 + timedelta(minutes=31)) is not None
    with write_session(engine) as session:  # Ana keeps using it every day
        login_sessions.touch(session=session, session_id=partner, now=T0 + timedelta(days=13, hours=23))
    assert _resume(engine, partner, T0 + timedelta(days=13, hours=23, minutes=30)) is not None
    assert _resume(engine, partner, T0 + timedelta(days=14, minutes=1)) is None


def test_activity_is_written_at_most_once_a_minute(engine: Engine) -> None:
    """Reruns within a minute do not each write the last-seen time."""
    make_person(engine, "ana")
    session_id = _login(engine, "ana")
    soon, later = (
        _resume(engine, session_id, T0 + timedelta(seconds=20)),
        _resume(engine, session_id, T0 + timedelta(minutes=2)),
    )
    assert soon is not None and not soon.needs_touch
    assert later is not None and later.needs_touch


def test_a_disabled_account_loses_its_live_logins(engine: Engine) -> None:
    """Disabling an account ends its sessions at their next rerun."""
    make_person(engine, "ana")
    session_id = _login(engine, "ana")
    with write_session(engine) as session:
        person = session.exec(select(Person).where(Person.username == "ana")).one()
        person.disabled_at = T0
    assert _resume(engine, session_id, T0 + timedelta(minutes=1)) is None
    with read_session(engine) as session:
        assert (
            session.exec(select(LoginSession)).one().revoked_at is None
        )  # refused by the check, not deleted


def test_logging_out_ends_exactly_one_login_among_many(engine: Engine) -> None:
    """With Ana on two devices and Ben and Cai logged in, Ana's laptop logout ends that login and no other."""
    for username in ("ana", "ben", "cai"):
        make_person(engine, username)
    laptop, phone = _login(engine, "ana", 1.8e9), _login(engine, "ana", 1.9e9)
    others = [_login(engine, "ben", 2.0e9), _login(engine, "cai", 2.1e9)]
    with write_session(engine) as session:
        login_sessions.end(session=session, session_id=laptop, now=T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=2)
    assert _resume(engine, laptop, later) is None
    assert _cookie(engine, "ana", 1.8e9, now=later) is None
    assert all(_resume(engine, session_id, later) is not None for session_id in (phone, *others))
    assert _cookie(engine, "ana", 1.9e9, now=later) is not None
    with read_session(engine) as session:
        revoked = session.exec(select(LoginSession.id).where(col(LoginSession.revoked_at).is_not(None))).all()
    assert revoked == [laptop]


def test_ending_a_login_twice_keeps_the_first_time(engine: Engine) -> None:
    """A second logout of the same login (two tabs) does not rewrite when it ended."""
    make_person(engine, "ana")
    laptop = _login(engine, "ana")
    for minutes in (1, 5):
        with write_session(engine) as session:
            login_sessions.end(session=session, session_id=laptop, now=T0 + timedelta(minutes=minutes))
    with read_session(engine) as session:
        row = session.get(LoginSession, laptop)
        assert row is not None and row.revoked_at == T0 + timedelta(minutes=1)


def _revoked_at(engine: Engine) -> dict[int, datetime | None]:
    with read_session(engine) as session:
        return {row.id: row.revoked_at for row in session.exec(select(LoginSession)) if row.id is not None}


def test_one_logout_ends_that_login_only(engine: Engine) -> None:
    """Ana logs out on her phone: her laptop, Ben and the therapist stay logged in; a second logout of the
    same login does not move the time it ended."""
    for name, role in (("ana", Role.PARTNER), ("ben", Role.PARTNER), ("rivera", Role.THERAPIST)):
        make_person(engine, name, role)
    phone = _login(engine, "ana", exp_date=1.8e9)
    laptop = _login(engine, "ana", exp_date=1.9e9)
    others = [_login(engine, "ben"), _login(engine, "rivera")]
    out, again = T0 + timedelta(minutes=5), T0 + timedelta(minutes=9)
    for when in (out, again):
        with write_session(engine) as session:
            login_sessions.end(session=session, session_id=phone, now=when)
    assert _revoked_at(engine) == {phone: out, laptop: None, others[0]: None, others[1]: None}
    still = [_resume(engine, i, T0 + timedelta(minutes=10)) for i in (laptop, *others)]
    assert [r.session_id if r else None for r in still] == [laptop, *others]
    assert _resume(engine, phone, T0 + timedelta(minutes=10)) is None
