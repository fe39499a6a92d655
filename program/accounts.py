"""Accounts: registering people and looking up their credentials for the login form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import bcrypt
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from program import audit
from program.db import read_session, write_session
from program.models import Person, Role

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
MIN_PASSWORD_CHARS = 10
# bcrypt only reads the first 72 bytes; longer passwords would be silently truncated, so we refuse them.
MAX_PASSWORD_BYTES = 72
MAX_NAME_CHARS = 80


class AccountError(ValueError):
    """A request about an account that cannot be done; the message is meant for the person."""


@dataclass(frozen=True)
class NewAccount:
    """What someone types to register."""

    username: str
    display_name: str
    password: str
    password_repeat: str
    role: Role


def normalise_username(raw: str) -> str:
    """The canonical form of a username: trimmed, lower case, compatibility-normalised."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def check_username(raw: str) -> str:
    """Return the normalised username or raise AccountError saying what is wrong with it."""
    username = normalise_username(raw)
    if not USERNAME_PATTERN.fullmatch(username):
        raise AccountError(
            "Choose a username of 3 to 32 characters: letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit."
        )
    return username


def check_password(password: str, repeat: str | None = None) -> str:
    """Return the password as it will be stored (login trims surrounding spaces) or raise AccountError."""
    password = password.strip()
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(
            f"Your password needs at least {MIN_PASSWORD_CHARS} characters. "
            "A few unrelated words make a strong, memorable one."
        )
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise AccountError(
            f"Your password is too long: at most {MAX_PASSWORD_BYTES} bytes "
            "(about 72 plain letters, fewer with accents or symbols)."
        )
    if repeat is not None and password != repeat.strip():
        raise AccountError("The two passwords you typed are not the same.")
    return password


def hash_password(password: str, *, rounds: int) -> str:
    """A bcrypt hash, as streamlit-authenticator checks it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def register(*, session: Session, account: NewAccount, bcrypt_rounds: int) -> Person:
    """Create a partner or therapist account, or raise AccountError with a message for the page."""
    username = check_username(account.username)
    display_name = " ".join(account.display_name.split())
    if not display_name:
        raise AccountError("Tell us what to call you.")
    if len(display_name) > MAX_NAME_CHARS:
        raise AccountError(f"Please keep your name under {MAX_NAME_CHARS} characters.")
    password = check_password(account.password, account.password_repeat)
    if session.exec(select(Person.id).where(Person.username == username)).first() is not None:
        raise AccountError("That username is taken. Please choose another.")
    person = Person(
        username=username,
        display_name=display_name,
        role=Role(account.role),
        password_hash=hash_password(password, rounds=bcrypt_rounds),
    )
    session.add(person)
    session.flush()
    audit.record(session, action="account.registered", actor_id=person.id, detail=person.role)
    return person


def find_person(*, session: Session, username: str) -> Person | None:
    """The active (not disabled) person with this username, if any."""
    person = session.exec(select(Person).where(Person.username == normalise_username(username))).first()
    if person is None or person.disabled_at is not None:
        return None
    return person


class CredentialStore(dict[str, dict[str, Any]]):
    """The `usernames` mapping streamlit-authenticator reads, filled from the database on demand.

    The library expects every account in one dict; we look up only the username being tried, so a
    logged-out page does not load every account, and a login always sees the current password hash.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self.last_username: str | None = None

    def _load(self, username: object) -> bool:
        if not isinstance(username, str):
            return False
        self.last_username = username
        if dict.__contains__(self, username):
            return True
        with read_session(self._engine) as session:
            person = find_person(session=session, username=username)
        if person is None or person.username != username:
            return False
        self[username] = {
            "name": person.display_name,
            "password": person.password_hash,
            "roles": [person.role],
            "email": None,
        }
        return True

    def __contains__(self, username: object) -> bool:
        return self._load(username)

    def __getitem__(self, username: str) -> dict[str, Any]:
        if not self._load(username):
            raise KeyError(username)
        return dict.__getitem__(self, username)

    def get(self, username: str, default: Any = None) -> Any:
        return self[username] if self._load(username) else default

    def __iter__(self) -> Iterator[str]:
        # Only what has been looked up this run; the library iterates to count logged-in users.
        return dict.__iter__(self)


def record_login(*, engine: Engine, username: str, outcome: str) -> None:
    """Write a login, a failed login or a logout to the audit trail."""
    with write_session(engine) as session:
        person = session.exec(select(Person).where(Person.username == username)).first()
        audit.record(
            session,
            action=outcome,
            actor_id=person.id if person else None,
            # Never the typed name: people sometimes type their password into the username field.
            detail="" if person else "unknown username",
        )
