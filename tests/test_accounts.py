"""Registering accounts and the credentials the login form checks."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit_authenticator.utilities.hasher import Hasher

from program import accounts
from program.db import read_session, write_session
from program.models import AuditEvent, Person, Role
from tests.factories import PASSWORD, make_person


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
