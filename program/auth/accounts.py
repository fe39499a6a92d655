"""Accounts: registering people and looking up their credentials for the login form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import bcrypt
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from program.auth import login_sessions, throttle
from program.infra import audit, codes
from program.infra.db import read_session, write_session
from program.infra.models import InviteCode, PasswordResetCode, Person, Role
from program.privacy import couples, grants
from program.privacy.viewer import Viewer, normalise_username

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
MIN_PASSWORD_CHARS = 10
# bcrypt only reads the first 72 bytes; longer passwords would be silently truncated, so we refuse them.
MAX_PASSWORD_BYTES = 72
MAX_NAME_CHARS = 80
MAX_PRONOUN_CHARS = 40
# Names people could mistake for the service speaking; refused with the same words as a taken name.
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "kindred",
        "support",
        "help",
        "security",
        "system",
        "operator",
        "therapist",
        "moderator",
        "staff",
        "official",
        "nobody",
        "null",
        "none",
        "undefined",
    }
)
UNAVAILABLE = "That username isn't available. Please choose another."
CONTROL_CHARACTERS = (
    "Usernames and passwords can't contain control characters (such as tabs, line breaks or invisible "
    "codes). Please type them again."
)


class AccountError(ValueError):
    """A request about an account that cannot be done; the message is meant for the person."""


class UsernameUnavailable(AccountError):
    """The name is taken, reserved or a look-alike of one; the message never says which."""

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE)


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


def refuse_control_characters(*typed: str) -> None:
    """Raise AccountError if any typed text holds NUL or another control character (never sent to the
    database: PostgreSQL refuses NUL in text with an error no person should see)."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for text in typed for ch in text):
        raise AccountError(CONTROL_CHARACTERS)


def check_username(raw: str) -> str:
    """Return the normalised username or raise AccountError saying what is wrong with it."""
    username = normalise_username(raw)
    if not USERNAME_PATTERN.fullmatch(username):
        raise AccountError(
            "Choose a username of 3 to 32 characters: letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit."
        )
    return username


def check_password_shape(password: str, repeat: str | None = None) -> str:
    """The quick checks (characters, length, repeat): the trimmed password, or AccountError."""
    refuse_control_characters(password, repeat or "")
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


def zxcvbn(password: str, user_inputs: list[str]) -> Any:
    """zxcvbn's verdict on a password, imported on first use: its word lists load when someone sets a
    password, not on every login page."""
    from zxcvbn import zxcvbn as judge

    return judge(password, user_inputs=user_inputs)


def check_password(password: str, repeat: str | None = None, *, known: Sequence[str] = ()) -> str:
    """Return the password as it will be stored (login trims surrounding spaces) or raise AccountError.

    `known` holds words from the account (username, name) that make a password easy to guess. This
    takes a while (zxcvbn): never call it inside a write transaction.
    """
    password = check_password_shape(password, repeat)
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


@dataclass(frozen=True)
class PreparedAccount:
    """A registration that passed every check and has its hash: only the short insert is left."""

    username: str
    display_name: str
    role: Role
    password_hash: str


def _display_name(raw: str) -> str:
    return check_display_name(raw)


# A display name is shown to partners and therapists on every page, in charts and in legends: letters,
# marks, numbers and spaces from any script, and only the punctuation names need. Anything else ([, <, $,
# :, #, control and format characters such as NUL, bidi overrides or zero-width spaces) could be markup,
# tracking or a disguise somewhere it is shown.
NAME_PUNCTUATION = frozenset(".,'’-‐()&")
MAX_MARKS_IN_A_ROW = 3  # enough for any script's accents; more stack over the text around them


def check_display_name(raw: str) -> str:
    """Return the name as it will be stored (spaces folded, NFC) or raise AccountError saying why not."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not any(unicodedata.category(char)[0] in "LN" for char in name):
        raise AccountError("Tell us what to call you: a name with at least one letter or number.")
    if len(name) > MAX_NAME_CHARS:
        raise AccountError(f"Please keep your name to {MAX_NAME_CHARS} characters or fewer.")
    marks = 0
    for char in name:
        category = unicodedata.category(char)
        marks = marks + 1 if category[0] == "M" else 0
        if not (category[0] in "LMN" or char == " " or char in NAME_PUNCTUATION):
            raise AccountError(
                "Please use only letters, numbers, spaces and the punctuation . , ' - ( ) & in your name."
            )
        if marks > MAX_MARKS_IN_A_ROW:
            raise AccountError("Your name has too many accents on one letter. Please simplify it.")
    return name


def check_quickly(account: NewAccount) -> None:
    """The cheap checks of a registration, made before any rate limit is spent or anything is hashed."""
    refuse_control_characters(account.username)
    check_username(account.username)
    _display_name(account.display_name)
    check_password_shape(account.password, account.password_repeat)


def prepare_account(account: NewAccount, *, bcrypt_rounds: int) -> PreparedAccount:
    """Check a registration and hash its password, outside any transaction (this is the slow part).

    Whether the name is free is decided later, in the insert, so a taken name costs the same hash.
    """
    check_quickly(account)
    username = check_username(account.username)
    display_name = _display_name(account.display_name)
    password = check_password(account.password, account.password_repeat, known=[username, display_name])
    return PreparedAccount(
        username, display_name, Role(account.role), hash_password(password, rounds=bcrypt_rounds)
    )


def add_person(*, session: Session, prepared: PreparedAccount) -> Person:
    """The short write of a registration: re-check the name inside the transaction, insert, audit."""
    if prepared.username in RESERVED_USERNAMES:
        raise UsernameUnavailable()
    if session.exec(select(Person.id).where(Person.username == prepared.username)).first() is not None:
        raise UsernameUnavailable()
    person = Person(
        username=prepared.username,
        display_name=prepared.display_name,
        role=prepared.role,
        password_hash=prepared.password_hash,
    )
    session.add(person)
    session.flush()
    audit.record(session, action="account.registered", actor_id=person.id, detail=person.role)
    return person


def register(*, session: Session, account: NewAccount, bcrypt_rounds: int) -> Person:
    """Create an account in the caller's session (operator commands, demo, tests); pages use register_account,
    which keeps the hashing outside the write transaction."""
    return add_person(session=session, prepared=prepare_account(account, bcrypt_rounds=bcrypt_rounds))


@dataclass(frozen=True)
class RegistrationPolicy:
    """What an operator allows: open or invite-only sign-up, and how many accounts per hour."""

    invite_only: bool
    per_client_per_hour: int
    per_hour: int


REGISTRATION_WINDOW = timedelta(hours=1)
NO_TICKET = "We don't recognise that code. Please check it with your partner or therapist."


def _ticket(session: Session, *, code: str, role: Role, key: bytes, now: datetime) -> str:
    """Which kind of live code admits this sign-up ("invite" or "therapist"), or AccountError."""
    by_invitation = (
        "Kindred is open by invitation here: enter the code your partner or therapist gave you "
        "(12 letters and digits, like 7KQ2-M9XD-4RTB)."
    )
    # A hidden character gets the same words as any other text that is not a code: control characters
    # were refused before this (refuse_control_characters), with their own message.
    digest = codes.typed_digest(
        code,
        groups=couples.INVITE_GROUPS,
        key=key,
        refuse=AccountError,
        malformed=by_invitation,
        hidden=by_invitation,
    )
    invite = session.exec(select(InviteCode).where(InviteCode.code_hash == digest)).first()
    if invite is not None and invite.used_at is None and invite.expires_at > now:
        if role != Role.PARTNER:
            raise AccountError(
                "A partner's invite code is for their partner. Therapists, ask a colleague for theirs."
            )
        return "invite"
    if grants.therapist_code_is_live(session=session, code_hash=digest, now=now):
        return "therapist"
    raise AccountError(NO_TICKET)


def register_account(
    *,
    engine: Engine,
    account: NewAccount,
    policy: RegistrationPolicy,
    client: str,
    invite_code: str = "",
    key: bytes,
    bcrypt_rounds: int,
    now: datetime,
) -> Person:
    """Register from the sign-up form: cheap checks, ticket and rate limits, then hashing with no transaction
    open, then one short write. Raises AccountError with a message for the page; nothing is half-saved."""
    check_quickly(account)
    ticket = ""
    if policy.invite_only:
        refuse_control_characters(invite_code)
        with read_session(engine) as session:
            ticket = _ticket(session, code=invite_code, role=Role(account.role), key=key, now=now)
    with write_session(engine) as session:
        # Both counters in one transaction: a refusal by the second undoes the first.
        for name, limit in (
            ("client " + client, policy.per_client_per_hour),
            ("all clients", policy.per_hour),
        ):
            retry = throttle.take(
                session=session,
                key=throttle.key_for(name, key, purpose="registration"),
                limit=limit,
                window=REGISTRATION_WINDOW,
                now=now,
            )
            if retry is not None:
                raise AccountError(
                    f"Too many accounts have been created recently. Please try again after {retry:%H:%M} UTC."
                )
    prepared = prepare_account(account, bcrypt_rounds=bcrypt_rounds)
    with write_session(engine) as session:
        person = add_person(session=session, prepared=prepared)
        if ticket == "invite":
            try:
                couples.join_couple(
                    session=session, viewer=Viewer.of(person), code=invite_code, key=key, now=now
                )
            except couples.CoupleError as error:  # used or retired meanwhile: nothing is saved
                raise AccountError(str(error)) from error
        session.expunge(person)
    return person


def find_person(*, session: Session, username: str) -> Person | None:
    """The active (not disabled) person with this username, if any."""
    person = session.exec(select(Person).where(Person.username == normalise_username(username))).first()
    if person is None or person.disabled_at is not None:
        return None
    return person


class LoginRefused(AccountError):
    """A wrong username or password: one message for both, so nobody learns which names exist."""

    def __init__(self) -> None:
        super().__init__(WRONG_LOGIN)


WRONG_LOGIN = "That username and password don't match an account. Please check them and try again."


def attempt_login(
    *, engine: Engine, username: str, password: str, key: bytes, rounds: int, now: datetime
) -> Person:
    """Check a login from the form and return the person, or raise.

    Raises AccountError for text that cannot be a login (control characters), throttle.LoginThrottled
    when this username must wait, and LoginRefused for a wrong username or password. The attempt is
    counted in one short write BEFORE the password is checked, so parallel guesses each cost a try;
    every refusal after that costs exactly one bcrypt check, whether the name exists or the password is
    too long. The caller starts the session and resets the throttle on success (see the login gate).
    """
    refuse_control_characters(username, password)
    name = normalise_username(username)
    candidate = password.strip().encode()
    throttle_key = throttle.key_for(name, key)
    with write_session(engine) as session:
        retry_at = throttle.reserve(session=session, key=throttle_key, now=now)
    person: Person | None = None
    if USERNAME_PATTERN.fullmatch(name):
        with read_session(engine) as session:
            person = find_person(session=session, username=name)
            if person is not None:
                session.expunge(person)
    if retry_at is not None:
        _audit_login(engine, person, "login.throttled")
        raise throttle.LoginThrottled(retry_at)
    if person is None or not candidate or len(candidate) > MAX_PASSWORD_BYTES:
        spend_like_a_password_check(rounds=rounds)
        matched = False
    else:
        matched = bcrypt.checkpw(candidate, person.password_hash.encode())
    if not matched or person is None:
        _audit_login(engine, person, "login.failed")
        raise LoginRefused()
    return person


def _audit_login(engine: Engine, person: Person | None, outcome: str) -> None:
    """Write a failed or throttled login to the audit trail."""
    with write_session(engine) as session:
        audit.record(
            session,
            action=outcome,
            actor_id=person.id if person else None,
            # Never the typed name: people sometimes type their password into the username field.
            detail="" if person else "unknown username",
        )


def change_password(
    *, engine: Engine, person_id: int, current: str, new: str, repeat: str, rounds: int, now: datetime
) -> None:
    """Set a new password after checking the current one, and end every login of this person.

    The checks and the hashing run with no transaction open; the write is one short update.
    """
    refuse_control_characters(current, new, repeat)
    with read_session(engine) as session:
        person = session.get(Person, person_id)
        if person is None:
            raise AccountError("This account no longer exists.")
        old_hash, username, display_name = person.password_hash, person.username, person.display_name
    if not verify_password(current, old_hash):
        raise AccountError("Your current password is not right.")
    password = check_password(new, repeat, known=[username, display_name])
    new_hash = hash_password(password, rounds=rounds)
    with write_session(engine) as session:
        locked = select(Person).where(col(Person.id) == person_id).with_for_update()
        person = session.exec(locked.execution_options(populate_existing=True)).first()
        if person is None or person.password_hash != old_hash:  # changed or reset meanwhile
            raise AccountError("Your password was changed meanwhile. Please log in again and retry.")
        person.password_hash = new_hash
        session.add(person)
        login_sessions.end_all(session=session, person_id=person_id, now=now)
        audit.record(session, action="password.changed", actor_id=person_id)


RESET_CODE_GROUPS = 3
RESET_CODE_LIFETIME = timedelta(minutes=30)
RESET_CODE_MAX_TRIES = 5


def issue_reset_code(*, session: Session, username: str, key: bytes, now: datetime) -> tuple[str, datetime]:
    """Make a one-time password-reset code for the operator to hand over; earlier codes stop working."""
    person = find_person(session=session, username=username)
    if person is None or person.id is None:
        raise AccountError(f"There is no active account named {normalise_username(username)!r}.")
    person_id = person.id
    issued = codes.issue(
        session,
        table=PasswordResetCode,
        replaces=col(PasswordResetCode.person_id) == person_id,
        row=lambda code_hash, issued: PasswordResetCode(
            person_id=person_id, code_hash=code_hash, created_at=now, expires_at=issued.expires_at
        ),
        groups=RESET_CODE_GROUPS,
        lifetime=RESET_CODE_LIFETIME,
        key=key,
        now=now,
    )
    audit.record(session, action="password.reset_code_issued", subject_id=person_id)
    return issued.code, issued.expires_at


def reset_password(
    *,
    engine: Engine,
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
    stops working, so it cannot be guessed. The code is checked (and a wrong try counted) in one short
    write, the new password is checked and hashed with no transaction open, then a second short write
    uses the code, re-checking that nobody used it meanwhile.
    """
    refuse_control_characters(username, code, new, repeat)
    wrong = WrongResetCode("That code doesn't match this username. Check both, or ask for a new code.")
    name = normalise_username(username)
    with write_session(engine, commit_on=(WrongResetCode,)) as session:
        person = find_person(session=session, username=name) if USERNAME_PATTERN.fullmatch(name) else None
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
        person_id, code_id = person.id, issued.id
        known = [person.username, person.display_name]
    password = check_password(new, repeat, known=known)
    new_hash = hash_password(password, rounds=rounds)
    with write_session(engine) as session:
        locked = select(PasswordResetCode).where(col(PasswordResetCode.id) == code_id).with_for_update()
        issued = session.exec(locked.execution_options(populate_existing=True)).first()
        person = session.get(Person, person_id)
        if issued is None or issued.used_at is not None or person is None:
            raise wrong
        person.password_hash = new_hash
        issued.used_at = now
        session.add_all([person, issued])
        login_sessions.end_all(session=session, person_id=person_id, now=now)
        audit.record(session, action="password.reset", actor_id=person_id)


PRONOUNS_TOO_LONG = f"Please keep your pronouns to {MAX_PRONOUN_CHARS} characters or fewer."
PRONOUNS_CONTROL = (
    "Pronouns can't contain control characters (such as tabs or line breaks). Please type them again."
)


def check_pronouns(raw: str | None) -> str | None:
    """The pronouns as they will be stored (trimmed, spaces folded; None when left empty), or raise
    AccountError saying why not. Free text: shown as text wherever it appears."""
    if raw is None:
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in raw.strip()):
        raise AccountError(PRONOUNS_CONTROL)
    pronouns = " ".join(unicodedata.normalize("NFC", raw).split())
    if len(pronouns) > MAX_PRONOUN_CHARS:
        raise AccountError(PRONOUNS_TOO_LONG)
    return pronouns or None


def own_pronouns(*, session: Session, viewer: Viewer) -> str | None:
    """The viewer's own pronouns, as they gave them (None: none given)."""
    person = session.get(Person, viewer.person_id)
    return None if person is None else person.pronouns


def set_pronouns(*, session: Session, viewer: Viewer, pronouns: str | None) -> str | None:
    """Keep the viewer's pronouns (empty: none, so text about them says "they"); returns what was kept.
    Checked before anything is written."""
    kept = check_pronouns(pronouns)
    person = session.get(Person, viewer.person_id)
    if person is None:
        raise AccountError("This account no longer exists.")
    person.pronouns = kept
    session.add(person)
    return kept
