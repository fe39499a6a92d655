"""Accounts: registering people and looking up their credentials for the login form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import bcrypt
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from zxcvbn import zxcvbn

from program import audit, codes, sessions
from program.db import read_session, write_session
from program.models import PasswordResetCode, Person, Role

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
MIN_PASSWORD_CHARS = 10
# bcrypt only reads the first 72 bytes; longer passwords would be silently truncated, so we refuse them.
MAX_PASSWORD_BYTES = 72
MAX_NAME_CHARS = 80


class AccountError(ValueError):
    """A request about an account that cannot be done; the message is meant for the person."""


class WrongResetCode(AccountError):
    """A wrong reset code; the try was counted, so commit (write_session(commit_on=...))."""


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


def check_password(password: str, repeat: str | None = None, *, known: Sequence[str] = ()) -> str:
    """Return the password as it will be stored (login trims surrounding spaces) or raise AccountError.

    `known` holds words from the account (username, name) that make a password easy to guess.
    """
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
    # zxcvbn ships a list of 30,000 common passwords and spots keyboard runs, repeats and dates;
    # a score of 0 or 1 means fewer than a million guesses would find it.
    verdict = zxcvbn(password, user_inputs=[word for word in known if word])
    if verdict["score"] <= 1:
        hint = " ".join(filter(None, [verdict["feedback"]["warning"], *verdict["feedback"]["suggestions"]]))
        hint = hint or "Try a few unrelated words."
        raise AccountError(f"That password is too common or too easy to guess. {hint}")
    return password


def hash_password(password: str, *, rounds: int) -> str:
    """A bcrypt hash, as streamlit-authenticator checks it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    """Whether the password (trimmed, as at login) matches the hash."""
    candidate = password.strip().encode()
    if len(candidate) > MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(candidate, password_hash.encode())


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"no such account", bcrypt.gensalt(rounds))


def spend_like_a_password_check(*, rounds: int) -> None:
    """Take as long as checking a real password, so an unknown username is not faster to refuse."""
    bcrypt.checkpw(b"not the password", _dummy_hash(rounds))


def register(*, session: Session, account: NewAccount, bcrypt_rounds: int) -> Person:
    """Create a partner or therapist account, or raise AccountError with a message for the page."""
    username = check_username(account.username)
    display_name = " ".join(account.display_name.split())
    if not display_name:
        raise AccountError("Tell us what to call you.")
    if len(display_name) > MAX_NAME_CHARS:
        raise AccountError(f"Please keep your name under {MAX_NAME_CHARS} characters.")
    password = check_password(account.password, account.password_repeat, known=[username, display_name])
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

    def __init__(self, engine: Engine, guard: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self._engine = engine
        self._guard = guard
        self.last_username: str | None = None
        self.last_found = False

    def _load(self, username: object) -> bool:
        if not isinstance(username, str):
            return False
        self.last_username = username
        self.last_found = True
        if dict.__contains__(self, username):
            return True
        with read_session(self._engine) as session:
            person = find_person(session=session, username=username)
        if person is None or person.username != username:
            self.last_found = False
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
        # With max_login_attempts set, the library's login starts with this lookup, before it checks
        # the password: the one place to refuse a throttled username, known or not (guard raises).
        if self._guard is not None:
            self._guard(username)
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


def change_password(
    *, session: Session, person_id: int, current: str, new: str, repeat: str, rounds: int, now: datetime
) -> None:
    """Set a new password after checking the current one, and end every login of this person."""
    person = session.get(Person, person_id)
    if person is None:
        raise AccountError("This account no longer exists.")
    if not verify_password(current, person.password_hash):
        raise AccountError("Your current password is not right.")
    password = check_password(new, repeat, known=[person.username, person.display_name])
    person.password_hash = hash_password(password, rounds=rounds)
    session.add(person)
    sessions.end_all(session=session, person_id=person_id, now=now)
    audit.record(session, action="password.changed", actor_id=person_id)


RESET_CODE_GROUPS = 3
RESET_CODE_LIFETIME = timedelta(minutes=30)
RESET_CODE_MAX_TRIES = 5


def issue_reset_code(*, session: Session, username: str, key: bytes, now: datetime) -> tuple[str, datetime]:
    """Make a one-time password-reset code for the operator to hand over; earlier codes stop working."""
    person = find_person(session=session, username=username)
    if person is None or person.id is None:
        raise AccountError(f"There is no active account named {normalise_username(username)!r}.")
    for old in session.exec(select(PasswordResetCode).where(PasswordResetCode.person_id == person.id)):
        session.delete(old)
    code = codes.new_code(RESET_CODE_GROUPS)
    expires_at = now + RESET_CODE_LIFETIME
    session.add(
        PasswordResetCode(
            person_id=person.id, code_hash=codes.digest(code, key), created_at=now, expires_at=expires_at
        )
    )
    audit.record(session, action="password.reset_code_issued", subject_id=person.id)
    return code, expires_at


def reset_password(
    *,
    session: Session,
    username: str,
    code: str,
    new: str,
    repeat: str,
    key: bytes,
    rounds: int,
    now: datetime,
) -> None:
    """Choose a new password with a reset code; ends every login of the account.

    Wrong usernames and wrong codes get the same message. Each code allows a few wrong tries, then it
    stops working, so it cannot be guessed; run this in write_session(commit_on=(WrongResetCode,)).
    """
    wrong = WrongResetCode("That code doesn't match this username. Check both, or ask for a new code.")
    person = find_person(session=session, username=username)
    if person is None or person.id is None:
        raise wrong
    issued = session.exec(
        select(PasswordResetCode).where(
            PasswordResetCode.person_id == person.id, col(PasswordResetCode.used_at).is_(None)
        )
    ).first()
    if issued is None or issued.failed_attempts >= RESET_CODE_MAX_TRIES:
        raise wrong
    if issued.code_hash != codes.digest(code, key):
        issued.failed_attempts += 1
        session.add(issued)
        raise wrong
    if issued.expires_at <= now:
        raise AccountError("That code has expired. Please ask for a new one.")
    password = check_password(new, repeat, known=[person.username, person.display_name])
    person.password_hash = hash_password(password, rounds=rounds)
    issued.used_at = now
    session.add_all([person, issued])
    sessions.end_all(session=session, person_id=person.id, now=now)
    audit.record(session, action="password.reset", actor_id=person.id)
