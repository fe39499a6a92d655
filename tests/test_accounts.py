"""Registering accounts and the credentials the login form checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit_authenticator.utilities.hasher import Hasher

from program import accounts
from program.db import read_session, write_session
from program.models import AuditEvent, LoginSession, Person, Role
from tests.factories import PASSWORD, make_person, start_login_session

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


def _register(engine: Engine, username: str, password: str = PASSWORD, repeat: str | None = None) -> Person:
    with write_session(engine) as session:
        person = accounts.register(
            session=session,
            account=accounts.NewAccount(
                username, "Sam", password, password if repeat is None else repeat, Role.PARTNER
            ),
            bcrypt_rounds=4,
        )
        session.expunge(person)
        return person


def test_registration_normalises_the_username_and_stores_only_a_hash(engine: Engine) -> None:
    """Usernames are trimmed and lower-cased; the password is kept as a bcrypt hash that verifies."""
    person = _register(engine, "  Sam.Rivera ")
    assert person.username == "sam.rivera"
    assert PASSWORD not in person.password_hash
    assert Hasher.check_pw(PASSWORD, person.password_hash)


def test_a_username_can_be_registered_once_whatever_its_case(engine: Engine) -> None:
    """A second account with the same name in other letters is refused with a clear message."""
    _register(engine, "sam")
    with pytest.raises(accounts.AccountError, match="taken"):
        _register(engine, "SAM")


@pytest.mark.parametrize(
    ("password", "repeat", "message"),
    [
        ("short one", None, "at least 10 characters"),
        ("é" * 37, None, "too long"),
        ("a long enough passphrase", "a different passphrase", "not the same"),
    ],
)
def test_unusable_passwords_are_refused_with_a_reason(
    engine: Engine, password: str, repeat: str | None, message: str
) -> None:
    """Short, over-long (bcrypt's 72 bytes) and mistyped passwords each get their own message."""
    with pytest.raises(accounts.AccountError, match=message):
        _register(engine, "sam", password, repeat)
    with read_session(engine) as session:
        assert session.exec(select(Person)).first() is None


def test_passphrases_with_spaces_and_any_characters_are_welcome(engine: Engine) -> None:
    """A passphrase of ordinary words, accents and symbols registers and verifies."""
    passphrase = "Grüne Äpfel & blue kites, 1987!"
    person = _register(engine, "sam", passphrase)
    assert Hasher.check_pw(passphrase, person.password_hash)


@pytest.mark.parametrize("username", ["ab", "has space", "-dash-first", "x" * 33, "émile"])
def test_odd_usernames_are_refused(engine: Engine, username: str) -> None:
    """Usernames outside 3-32 plain characters get a message saying what is allowed."""
    with pytest.raises(accounts.AccountError, match="3 to 32 characters"):
        _register(engine, username)


def test_credential_store_loads_only_the_account_being_tried(engine: Engine) -> None:
    """The login form's lookup reads one account from the database, and unknown names are absent."""
    make_person(engine, "alex", name="Alex Doe")
    make_person(engine, "blair")
    store = accounts.CredentialStore(engine)
    assert "nobody" not in store
    assert store.get("nobody") is None
    assert store["alex"]["name"] == "Alex Doe"
    assert Hasher.check_pw(PASSWORD, store["alex"]["password"])
    assert list(store) == ["alex"]
    assert store.last_username == "alex"


def test_disabled_accounts_cannot_log_in(engine: Engine) -> None:
    """A disabled account is invisible to the login form."""
    make_person(engine, "alex")
    with write_session(engine) as session:
        person = session.exec(select(Person).where(Person.username == "alex")).one()
        person.disabled_at = person.created_at
    assert "alex" not in accounts.CredentialStore(engine)


def test_login_attempts_are_audited_without_the_typed_name(engine: Engine) -> None:
    """Failed and successful logins are recorded; an unknown name is not written down."""
    alex = make_person(engine, "alex")
    accounts.record_login(engine=engine, username="alex", outcome="login.succeeded")
    accounts.record_login(engine=engine, username="my secret password", outcome="login.failed")
    with read_session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action != "account.registered")).all()
    assert [(e.action, e.actor_id) for e in events] == [
        ("login.succeeded", alex.person_id),
        ("login.failed", None),
    ]
    assert all("secret" not in e.detail for e in events)


@pytest.mark.parametrize(
    "password", ["password123", "qwertyuiop", "1234567890", "iloveyou123", "aaaaaaaaaaaa"]
)
def test_common_passwords_are_refused(engine: Engine, password: str) -> None:
    """Passwords from the common-password list, or trivial patterns, are refused with advice."""
    with pytest.raises(accounts.AccountError, match="too common or too easy to guess"):
        _register(engine, "sam", password)


def test_a_password_made_of_the_username_is_refused(engine: Engine) -> None:
    """Someone's own username with a digit is not a password."""
    with pytest.raises(accounts.AccountError, match="too common or too easy"):
        _register(engine, "riverdancer", "riverdancer1")


def test_long_passphrases_up_to_the_byte_limit_are_welcome(engine: Engine) -> None:
    """A 64-character passphrase registers, and so does one of exactly 72 bytes."""
    sixty_four = "the quiet kettle hums while autumn leaves drift past our window!"
    assert len(sixty_four) == 64
    assert Hasher.check_pw(sixty_four, _register(engine, "sam", sixty_four).password_hash)
    seventy_two = sixty_four + " so calm"
    assert len(seventy_two.encode()) == 72
    _register(engine, "kai", seventy_two)


def test_changing_the_password_needs_the_current_one_and_signs_out_everywhere(engine: Engine) -> None:
    """A wrong current password is refused; a right one sets the new password and ends every login."""
    ana = make_person(engine, "ana")
    live = start_login_session(engine, ana)
    new = "seven orange bicycles dancing"
    with (
        pytest.raises(accounts.AccountError, match="current password is not right"),
        write_session(engine) as session,
    ):
        accounts.change_password(
            session=session,
            person_id=ana.person_id,
            current="not it at all",
            new=new,
            repeat=new,
            rounds=4,
            now=NOW,
        )
    with write_session(engine) as session:
        accounts.change_password(
            session=session, person_id=ana.person_id, current=PASSWORD, new=new, repeat=new, rounds=4, now=NOW
        )
    with read_session(engine) as session:
        person = session.get(Person, ana.person_id)
        assert person is not None and accounts.verify_password(new, person.password_hash)
        assert session.get(LoginSession, live).revoked_at is not None  # type: ignore[union-attr]


def _reset(
    engine: Engine, username: str, code: str, new: str = "seven orange bicycles dancing", now: datetime = NOW
) -> None:
    with write_session(engine, commit_on=(accounts.WrongResetCode,)) as session:
        accounts.reset_password(
            session=session, username=username, code=code, new=new, repeat=new, key=KEY, rounds=4, now=now
        )


def _issue(engine: Engine, username: str, now: datetime = NOW) -> str:
    with write_session(engine) as session:
        code, expires_at = accounts.issue_reset_code(session=session, username=username, key=KEY, now=now)
    assert expires_at == now + timedelta(minutes=30)
    return code


def test_a_reset_code_sets_a_new_password_once_and_signs_out_everywhere(engine: Engine) -> None:
    """The operator's code lets its person choose a new password, only once, and ends old logins."""
    ana = make_person(engine, "ana")
    live = start_login_session(engine, ana)
    code = _issue(engine, "ana")
    _reset(engine, "ANA", code.lower().replace("-", " "))
    with read_session(engine) as session:
        person = session.get(Person, ana.person_id)
        assert person is not None and accounts.verify_password(
            "seven orange bicycles dancing", person.password_hash
        )
        assert session.get(LoginSession, live).revoked_at is not None  # type: ignore[union-attr]
    with pytest.raises(accounts.AccountError, match="doesn't match"):
        _reset(engine, "ana", code)


def test_wrong_reset_codes_and_unknown_names_get_the_same_message(engine: Engine) -> None:
    """Nobody learns from the reset form whether a username exists."""
    make_person(engine, "ana")
    _issue(engine, "ana")
    with pytest.raises(accounts.AccountError) as wrong_code:
        _reset(engine, "ana", "AAAA-BBBB-CCCC")
    with pytest.raises(accounts.AccountError) as unknown:
        _reset(engine, "nobody", "AAAA-BBBB-CCCC")
    assert str(wrong_code.value) == str(unknown.value)


def test_a_reset_code_stops_working_after_five_wrong_tries(engine: Engine) -> None:
    """Guessing is cut short: after five wrong codes even the right one is refused."""
    make_person(engine, "ana")
    code = _issue(engine, "ana")
    for _ in range(accounts.RESET_CODE_MAX_TRIES):
        with pytest.raises(accounts.WrongResetCode):
            _reset(engine, "ana", "AAAA-BBBB-CCCC")
    with pytest.raises(accounts.WrongResetCode):
        _reset(engine, "ana", code)


def test_an_expired_reset_code_is_refused_and_changes_nothing(engine: Engine) -> None:
    """After 30 minutes the code is refused with its own message, and the old password still works."""
    ana = make_person(engine, "ana")
    code = _issue(engine, "ana")
    with pytest.raises(accounts.AccountError, match="expired"):
        _reset(engine, "ana", code, now=NOW + timedelta(minutes=31))
    with read_session(engine) as session:
        person = session.get(Person, ana.person_id)
        assert person is not None and accounts.verify_password(PASSWORD, person.password_hash)


def test_a_reset_with_a_weak_new_password_keeps_the_code_usable(engine: Engine) -> None:
    """Choosing a too-short password is refused without using up the code."""
    make_person(engine, "ana")
    code = _issue(engine, "ana")
    with pytest.raises(accounts.AccountError, match="at least 10"):
        _reset(engine, "ana", code, new="short")
    _reset(engine, "ana", code)
