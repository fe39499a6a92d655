"""Login lifetimes and idle limits as an operator sets them, to the second, and "sign out everywhere" counting
only the logins it ended. Written against the mutants that survived a mutation run of
program/auth/login_sessions.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from program.auth import login_sessions
from program.infra.db import read_session, write_session
from program.infra.models import LoginSession, Person, Role
from program.infra.settings import Settings
from tests.factories import make_person

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# Four different numbers, so a lifetime read from the wrong setting, role or unit shows.
SETTINGS = Settings(
    cookie_key=None,
    database_url="sqlite://",
    partner_session_hours=50,
    partner_idle_minutes=70,
    therapist_session_hours=2,
    therapist_idle_minutes=20,
)


def _policies() -> login_sessions.Policies:
    """The policies from the settings, built when a test runs (not once at import)."""
    return login_sessions.Policies.from_settings(SETTINGS)


def _login(engine: Engine, username: str, exp_date: float = 1.8e9) -> int:
    with write_session(engine) as session:
        person = session.exec(select(Person).where(Person.username == username)).one()
        row = login_sessions.start(
            session=session,
            person=person,
            token=login_sessions.token_id(username, exp_date),
            now=T0,
            policies=_policies(),
        )
        assert row.id is not None
        return row.id


def _resume(engine: Engine, session_id: int, now: datetime) -> login_sessions.Resumed | None:
    with read_session(engine) as session:
        return login_sessions.resume(session=session, session_id=session_id, now=now, policies=_policies())


def _touch(engine: Engine, session_id: int, now: datetime) -> None:
    with write_session(engine) as session:
        login_sessions.touch(session=session, session_id=session_id, now=now)


def test_each_role_gets_the_lifetime_and_idle_limit_the_operator_set() -> None:
    """Settings in hours and minutes become each role's own policy: none swapped, none in the wrong unit."""
    policies = _policies()
    assert policies.partner == login_sessions.SessionPolicy(timedelta(hours=50), timedelta(minutes=70))
    assert policies.therapist == login_sessions.SessionPolicy(timedelta(hours=2), timedelta(minutes=20))


def test_a_therapists_login_ends_after_the_therapist_lifetime_however_busy(engine: Engine) -> None:
    """A therapist who clicks every ten minutes is still logged out when the therapist lifetime (2 h) is up,
    not after the partners' 50 hours; a partner's login made at the same moment lives on."""
    make_person(engine, "rivera", Role.THERAPIST)
    make_person(engine, "ana")
    therapist, partner = _login(engine, "rivera", 1.8e9), _login(engine, "ana", 1.9e9)
    for minutes in range(10, 120, 10):
        _touch(engine, therapist, T0 + timedelta(minutes=minutes))
        _touch(engine, partner, T0 + timedelta(minutes=minutes))
    assert _resume(engine, therapist, T0 + timedelta(minutes=115)) is not None
    assert _resume(engine, therapist, T0 + timedelta(hours=2)) is None
    assert _resume(engine, partner, T0 + timedelta(hours=2)) is not None
    with read_session(engine) as session:
        row = session.get(LoginSession, therapist)
        assert row is not None and row.expires_at == T0 + timedelta(hours=2)


def test_a_login_ends_at_the_exact_second_of_its_expiry(engine: Engine) -> None:
    """Used a second before it expires, a login still works; at its expiry time it does not."""
    make_person(engine, "ana")
    login = _login(engine, "ana")
    expiry = T0 + timedelta(hours=50)
    _touch(engine, login, expiry - timedelta(minutes=30))
    assert _resume(engine, login, expiry - timedelta(seconds=1)) is not None
    assert _resume(engine, login, expiry) is None


def test_an_idle_login_ends_at_the_exact_second_of_its_idle_limit(engine: Engine) -> None:
    """Left alone for the idle limit to the second, a login is over (partner 70 min, therapist 20 min)."""
    make_person(engine, "ana")
    make_person(engine, "rivera", Role.THERAPIST)
    partner, therapist = _login(engine, "ana", 1.8e9), _login(engine, "rivera", 1.9e9)
    assert _resume(engine, partner, T0 + timedelta(minutes=70) - timedelta(seconds=1)) is not None
    assert _resume(engine, partner, T0 + timedelta(minutes=70)) is None
    assert _resume(engine, therapist, T0 + timedelta(minutes=20) - timedelta(seconds=1)) is not None
    assert _resume(engine, therapist, T0 + timedelta(minutes=20)) is None


def test_activity_is_due_a_write_from_exactly_one_minute(engine: Engine) -> None:
    """The last-seen time is rewritten once a full minute has passed, not later, so the idle limit never
    counts from a time more than a minute old."""
    make_person(engine, "ana")
    login = _login(engine, "ana")
    just_before = _resume(engine, login, T0 + login_sessions.TOUCH_EVERY - timedelta(seconds=1))
    on_the_minute = _resume(engine, login, T0 + login_sessions.TOUCH_EVERY)
    assert just_before is not None and not just_before.needs_touch
    assert on_the_minute is not None and on_the_minute.needs_touch


def _revoked_at(engine: Engine) -> dict[int, datetime | None]:
    with read_session(engine) as session:
        return {row.id: row.revoked_at for row in session.exec(select(LoginSession)) if row.id is not None}


def test_sign_out_everywhere_counts_and_ends_only_live_logins(engine: Engine) -> None:
    """Ana logged out of her laptop yesterday; "sign out everywhere" ends her phone and tablet, reports two,
    and leaves the laptop's logout time as it was. Run again, it ends nothing and says so."""
    make_person(engine, "ana")
    make_person(engine, "ben")
    laptop, phone, tablet = (_login(engine, "ana", exp) for exp in (1.7e9, 1.8e9, 1.9e9))
    bens = _login(engine, "ben", 2.0e9)
    yesterday, now = T0 + timedelta(minutes=5), T0 + timedelta(hours=20)
    with write_session(engine) as session:
        login_sessions.end(session=session, session_id=laptop, now=yesterday)
    ana_id = make_person_id(engine, "ana")
    with write_session(engine) as session:
        assert login_sessions.end_all(session=session, person_id=ana_id, now=now) == 2
    assert _revoked_at(engine) == {laptop: yesterday, phone: now, tablet: now, bens: None}
    with write_session(engine) as session:
        assert login_sessions.end_all(session=session, person_id=ana_id, now=now + timedelta(minutes=1)) == 0
    assert _revoked_at(engine)[phone] == now


def make_person_id(engine: Engine, username: str) -> int:
    with read_session(engine) as session:
        person_id = session.exec(select(Person.id).where(Person.username == username)).one()
        assert person_id is not None
        return person_id
