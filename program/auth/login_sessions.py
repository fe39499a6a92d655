"""Server-side login sessions.

streamlit-authenticator's cookie is a signed token {username, exp_date} set by page JavaScript, so it
cannot be HttpOnly, and its logout only deletes the browser's copy. We keep a row per login: a cookie
logs someone in only while its row is live, so logout, "sign out everywhere", a password change, a
disabled account, expiry and idleness all end it on the server, whatever copies of the cookie exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select, update

from program.infra import audit
from program.infra.models import LoginSession, Person, Role
from program.infra.settings import Settings
from program.privacy import safety_screens
from program.privacy.viewer import Viewer

# Writing last_seen_at on every rerun would turn every click into a write; a minute is precise enough.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a login lasts, and how long it may sit unused, for one role."""

    lifetime: timedelta
    idle: timedelta


@dataclass(frozen=True)
class Policies:
    """The session policy of each role."""

    partner: SessionPolicy
    therapist: SessionPolicy
    # The idle limit of a person whose latest safety screen is flagged, when shorter than their role's.
    flagged_idle: timedelta = timedelta(minutes=15)

    def for_role(self, role: str) -> SessionPolicy:
        """The policy that applies to this role."""
        return self.therapist if role == Role.THERAPIST else self.partner

    @classmethod
    def from_settings(cls, settings: Settings) -> Policies:
        """The policies an operator configured."""
        return cls(
            partner=SessionPolicy(
                timedelta(hours=settings.partner_session_hours),
                timedelta(minutes=settings.partner_idle_minutes),
            ),
            therapist=SessionPolicy(
                timedelta(hours=settings.therapist_session_hours),
                timedelta(minutes=settings.therapist_idle_minutes),
            ),
            flagged_idle=timedelta(minutes=settings.flagged_idle_minutes),
        )


def token_id(username: str, exp_date: float) -> str:
    """The server's name for a cookie: a digest of its signed contents."""
    return hashlib.sha256(f"{username}|{exp_date!r}".encode()).hexdigest()


def start(*, session: Session, person: Person, token: str, now: datetime, policies: Policies) -> LoginSession:
    """Record a new login for this person."""
    assert person.id is not None
    policy = policies.for_role(person.role)
    row = LoginSession(
        person_id=person.id,
        token_id=token,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.lifetime,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Resumed:
    """A live session, the person it belongs to, and whether its last-seen time is due a write."""

    session_id: int
    viewer: Viewer
    needs_touch: bool


def _live(
    session: Session, condition: ColumnElement[bool], now: datetime, policies: Policies
) -> tuple[LoginSession, Person] | None:
    row = session.exec(
        select(LoginSession, Person).join(Person, col(Person.id) == LoginSession.person_id).where(condition)
    ).first()
    if row is None:
        return None
    login, person = row
    idle_limit = policies.for_role(person.role).idle
    if person.role == Role.PARTNER and login.last_seen_at + policies.flagged_idle <= now:
        # Idle longer than a flagged person may be: end it if their latest screen asked for attention.
        assert person.id is not None
        if safety_screens.is_flagged(session=session, person_id=person.id):
            idle_limit = min(idle_limit, policies.flagged_idle)
    if (
        login.revoked_at is not None
        or person.disabled_at is not None
        or login.expires_at <= now
        or login.last_seen_at + idle_limit <= now
    ):
        return None
    return login, person


def _resumed(login: LoginSession, person: Person, now: datetime) -> Resumed:
    assert login.id is not None
    return Resumed(login.id, Viewer.of(person), needs_touch=now - login.last_seen_at >= TOUCH_EVERY)


def resume(*, session: Session, session_id: int, now: datetime, policies: Policies) -> Resumed | None:
    """The viewer of a live session, or None if it ended, expired or went idle. Reads only."""
    found = _live(session, col(LoginSession.id) == session_id, now, policies)
    return _resumed(*found, now) if found else None


def resume_from_cookie(
    *, session: Session, username: str, exp_date: float, now: datetime, policies: Policies
) -> Resumed | None:
    """The live session a cookie belongs to, or None: a cookie from an ended login is refused."""
    found = _live(session, col(LoginSession.token_id) == token_id(username, exp_date), now, policies)
    if found is None or found[1].username != username:
        return None
    return _resumed(*found, now)


def touch(*, session: Session, session_id: int, now: datetime) -> None:
    """Note that the session was used now (what the idle timeout counts from)."""
    session.exec(update(LoginSession).where(col(LoginSession.id) == session_id).values(last_seen_at=now))


def end(*, session: Session, session_id: int, now: datetime) -> None:
    """End one login (the current browser's logout)."""
    session.exec(
        update(LoginSession)
        .where(col(LoginSession.id) == session_id, col(LoginSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def log_out(*, session: Session, session_id: int, now: datetime) -> int | None:
    """End this login if it is still open and record an ordinary logout for its person (a quick exit too
    leaves no trace that says someone fled); the person, or None when it was unknown or already ended."""
    login = session.get(LoginSession, session_id)
    if login is None or login.revoked_at is not None:
        return None
    end(session=session, session_id=session_id, now=now)
    audit.record(session, action="logout", actor_id=login.person_id)
    return login.person_id


def end_all(*, session: Session, person_id: int, now: datetime) -> int:
    """End every login of this person (sign out everywhere, password change); returns how many."""
    result = session.exec(
        update(LoginSession)
        .where(col(LoginSession.person_id) == person_id, col(LoginSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)
