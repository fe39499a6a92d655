"""Registering accounts and the credentials the login form checks."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import pytest
import zxcvbn as zxcvbn_module
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit_authenticator.utilities.hasher import Hasher

from program.auth import accounts, throttle
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, LoginSession, Person, Role
from program.privacy import access, couples, grants
from program.privacy.viewer import Viewer
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
    with pytest.raises(accounts.AccountError, match="isn't available"):
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


def _login(engine: Engine, username: str, password: str, now: datetime = NOW) -> Person:
    return accounts.attempt_login(
        engine=engine, username=username, password=password, key=KEY, rounds=4, now=now
    )


def test_login_finds_the_account_in_any_case_and_refuses_wrong_passwords_alike(engine: Engine) -> None:
    """The right password logs in (any case, full-width); a wrong one and an unknown name get one message."""
    alex = make_person(engine, "alex", name="Alex Doe")
    assert _login(engine, "  ALEX ", PASSWORD).id == alex.person_id
    assert _login(engine, "ａｌｅｘ", PASSWORD).id == alex.person_id
    with pytest.raises(accounts.LoginRefused) as wrong:
        _login(engine, "alex", "not the password at all")
    with pytest.raises(accounts.LoginRefused) as unknown:
        _login(engine, "nobody", PASSWORD)
    assert str(wrong.value) == str(unknown.value)


def test_disabled_accounts_cannot_log_in(engine: Engine) -> None:
    """A disabled account is refused like an unknown one."""
    make_person(engine, "alex")
    with write_session(engine) as session:
        person = session.exec(select(Person).where(Person.username == "alex")).one()
        person.disabled_at = person.created_at
    with pytest.raises(accounts.LoginRefused):
        _login(engine, "alex", PASSWORD)


def test_login_attempts_are_audited_without_the_typed_name(engine: Engine) -> None:
    """Failed logins are recorded against the account, or as unknown; the typed name is not written down."""
    alex = make_person(engine, "alex")
    for username in ("alex", "my secret password"):
        with pytest.raises(accounts.AccountError):
            _login(engine, username, "not the password at all")
    with read_session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action != "account.registered")).all()
    assert [(e.action, e.actor_id) for e in events] == [
        ("login.failed", alex.person_id),
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
    with pytest.raises(accounts.AccountError, match="current password is not right"):
        accounts.change_password(
            engine=engine,
            person_id=ana.person_id,
            current="not it at all",
            new=new,
            repeat=new,
            rounds=4,
            now=NOW,
        )
    accounts.change_password(
        engine=engine, person_id=ana.person_id, current=PASSWORD, new=new, repeat=new, rounds=4, now=NOW
    )
    with read_session(engine) as session:
        person = session.get(Person, ana.person_id)
        assert person is not None and accounts.verify_password(new, person.password_hash)
        assert session.get(LoginSession, live).revoked_at is not None  # type: ignore[union-attr]


def _reset(
    engine: Engine, username: str, code: str, new: str = "seven orange bicycles dancing", now: datetime = NOW
) -> None:
    accounts.reset_password(
        engine=engine, username=username, code=code, new=new, repeat=new, key=KEY, rounds=4, now=now
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


def _race(count: int, work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    """Run work(i) in `count` threads released at once; what each returned, and what each raised."""
    barrier = threading.Barrier(count)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(number: int) -> None:
        barrier.wait()
        try:
            result = work(number)
        except BaseException as error:  # noqa: BLE001 (asserted by the caller)
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def _counting_hashes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record every bcrypt hash made (the slow step of a sign-up)."""
    hashes: list[bytes] = []
    real = bcrypt.hashpw

    def counting(password: bytes, salt: bytes) -> bytes:
        hashes.append(password)
        return real(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", counting)
    return hashes


def _counting_checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record every bcrypt check that completes (a check that raises at once costs no time)."""
    checks: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        result = real(password, hashed)
        checks.append(hashed)
        return result

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return checks


def test_parallel_guesses_after_the_wait_get_one_password_check(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After five failures and the wait, 16 logins at once (the right one among them) cost one check."""
    make_person(engine, "ana")
    for _ in range(5):
        with pytest.raises(accounts.LoginRefused):
            _login(engine, "ana", "a wrong guess at it")
    checks = _counting_checks(monkeypatch)
    later = NOW + timedelta(seconds=30)
    guesses = [PASSWORD if number == 15 else f"wrong guess number {number}" for number in range(16)]
    logged_in, errors = _race(16, lambda number: _login(engine, "ana", guesses[number], later))
    assert len(checks) == 1
    assert len(logged_in) <= 1
    throttled = [error for error in errors if isinstance(error, throttle.LoginThrottled)]
    assert len(throttled) == 15 and len(errors) == 16 - len(logged_in)
    assert all(isinstance(error, accounts.AccountError | throttle.LoginThrottled) for error in errors)


def test_parallel_first_guesses_get_only_the_free_checks(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sixteen wrong guesses at once on a fresh name: five are checked, the rest wait; no database error."""
    make_person(engine, "ana")
    checks = _counting_checks(monkeypatch)
    _, errors = _race(16, lambda number: _login(engine, "ana", f"wrong guess number {number}"))
    assert len(checks) == throttle.FREE_ATTEMPTS
    assert sorted(type(error).__name__ for error in errors) == sorted(
        ["LoginRefused"] * 5 + ["LoginThrottled"] * 11
    )


@pytest.mark.parametrize("username", ["ana", "nobody-here"])
def test_an_over_long_password_costs_one_check_like_any_refusal(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, username: str
) -> None:
    """A password over 72 bytes is refused after one full bcrypt check, for real and unknown names alike."""
    make_person(engine, "ana")
    checks = _counting_checks(monkeypatch)
    with pytest.raises(accounts.LoginRefused):
        _login(engine, username, "x" * 73)
    assert len(checks) == 1


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\n", "\x7f"])
def test_control_characters_are_refused_before_the_database(engine: Engine, bad: str) -> None:
    """NUL and control characters in login, sign-up, change or reset get a message, never a DB error."""
    ana = make_person(engine, "ana")
    attempts: list[Callable[[], object]] = [
        lambda: _login(engine, f"an{bad}a", PASSWORD),
        lambda: _login(engine, "ana", f"{PASSWORD}{bad}"),
        lambda: _register(engine, f"sam{bad}"),
        lambda: _register(engine, "sam", f"{PASSWORD}{bad}x"),
        lambda: accounts.change_password(
            engine=engine,
            person_id=ana.person_id,
            current=PASSWORD,
            new=f"new {bad} pass phrase",
            repeat=f"new {bad} pass phrase",
            rounds=4,
            now=NOW,
        ),
        lambda: _reset(engine, f"an{bad}a", "AAAA-BBBB-CCCC"),
    ]
    for attempt in attempts:
        with pytest.raises(accounts.AccountError, match="control characters"):
            attempt()
    with read_session(engine) as session:
        assert session.exec(select(Person.username)).all() == ["ana"]


def _record_open_connections(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Patch bcrypt and zxcvbn to record how many database connections are checked out while they run."""
    seen: list[tuple[str, int]] = []
    real_hash, real_check, real_zxcvbn = bcrypt.hashpw, bcrypt.checkpw, zxcvbn_module.zxcvbn

    def hashpw(password: bytes, salt: bytes) -> bytes:
        seen.append(("hash", engine.pool.checkedout()))  # type: ignore[attr-defined]
        return real_hash(password, salt)

    def checkpw(password: bytes, hashed: bytes) -> bool:
        seen.append(("check", engine.pool.checkedout()))  # type: ignore[attr-defined]
        return real_check(password, hashed)

    def zxcvbn(password: str, user_inputs: list[str] | None = None) -> Any:
        seen.append(("zxcvbn", engine.pool.checkedout()))  # type: ignore[attr-defined]
        return real_zxcvbn(password, user_inputs=user_inputs)

    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    monkeypatch.setattr(accounts, "zxcvbn", zxcvbn)
    return seen


OPEN = accounts.RegistrationPolicy(invite_only=False, per_client_per_hour=10, per_hour=100)


def _sign_up(
    engine: Engine,
    username: str,
    *,
    role: Role = Role.PARTNER,
    client: str = "203.0.113.7",
    policy: accounts.RegistrationPolicy = OPEN,
    code: str = "",
    password: str = PASSWORD,
) -> Person:
    return accounts.register_account(
        engine=engine,
        account=accounts.NewAccount(username, "Sam", password, password, role),
        policy=policy,
        client=client,
        invite_code=code,
        key=KEY,
        bcrypt_rounds=4,
        now=NOW,
    )


def test_no_transaction_is_open_while_passwords_are_hashed_or_judged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign-up, login, password change and reset hash and run zxcvbn with no connection (and no lock) held."""
    ana = make_person(engine, "ana")
    code = _issue(engine, "ana")
    seen = _record_open_connections(engine, monkeypatch)
    _sign_up(engine, "sam")
    _login(engine, "sam", PASSWORD)
    with pytest.raises(accounts.LoginRefused):
        _login(engine, "nobody", PASSWORD)
    new = "seven orange bicycles dancing"
    accounts.change_password(
        engine=engine, person_id=ana.person_id, current=PASSWORD, new=new, repeat=new, rounds=4, now=NOW
    )
    _reset(engine, "ana", code, new="nine purple kettles humming")
    assert {kind for kind, _ in seen} == {"hash", "check", "zxcvbn"}
    assert [(kind, open_) for kind, open_ in seen if open_] == []


def _transactions_held_by_others(engine: Engine) -> int:
    """How many other connections hold a transaction (PostgreSQL) or the write lock (SQLite) right now."""
    if engine.dialect.name == "sqlite":
        probe = sqlite3.connect(str(engine.url.database), timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # what a partner's check-in save needs
            probe.execute("ROLLBACK")
            return 0
        except sqlite3.OperationalError:  # "database is locked" after 0.2 s
            return 1
        finally:
            probe.close()
    with engine.connect() as connection:
        return int(
            connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%'"
            ).scalar_one()
        )


def test_a_partners_write_is_not_blocked_while_six_sign_ups_hash(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While six sign-ups are all inside bcrypt, no transaction is held: a check-in saves at once."""
    inside, release = threading.Barrier(7, timeout=30), threading.Barrier(7, timeout=30)
    real_hash = bcrypt.hashpw

    def hashpw(password: bytes, salt: bytes) -> bytes:
        inside.wait()
        release.wait()
        return real_hash(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    threads = [
        threading.Thread(target=_sign_up, args=(engine, f"sam{n}"), kwargs={"client": f"client {n}"})
        for n in range(6)
    ]
    for thread in threads:
        thread.start()
    inside.wait()
    try:
        held = _transactions_held_by_others(engine)
    finally:
        release.wait()
        for thread in threads:
            thread.join()
    assert held == 0
    with read_session(engine) as session:
        assert len(session.exec(select(Person)).all()) == 6


def test_taken_reserved_and_look_alike_names_get_one_answer_after_the_same_work(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign-up never says a name exists: taken, reserved, full-width names get one message, each hashed."""
    _sign_up(engine, "sam")
    hashes = _counting_hashes(monkeypatch)
    messages = set()
    for name in ("sam", "SAM", "ｓａｍ", "admin", "Kindred"):
        with pytest.raises(accounts.AccountError) as refused:
            _sign_up(engine, name, client=name)
        messages.add(str(refused.value))
    assert messages == {"That username isn't available. Please choose another."}
    assert len(hashes) == 5  # as much work as the successful sign-up below
    _sign_up(engine, "kai", client="kai")
    assert len(hashes) == 6
    with read_session(engine) as session:
        assert sorted(session.exec(select(Person.username)).all()) == ["kai", "sam"]


def test_sign_ups_are_limited_per_client_and_in_all(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its limit one address is refused (before hashing) while others go on, up to the total."""
    policy = accounts.RegistrationPolicy(invite_only=False, per_client_per_hour=2, per_hour=3)
    _sign_up(engine, "ann1", client="198.51.100.1", policy=policy)
    _sign_up(engine, "ann2", client="198.51.100.1", policy=policy)
    hashes = _counting_hashes(monkeypatch)
    with pytest.raises(accounts.AccountError, match="Too many accounts"):
        _sign_up(engine, "ann3", client="198.51.100.1", policy=policy)
    assert hashes == []
    _sign_up(engine, "bob1", client="198.51.100.2", policy=policy)
    with pytest.raises(accounts.AccountError, match="Too many accounts"):
        _sign_up(engine, "cat1", client="198.51.100.3", policy=policy)
    with read_session(engine) as session:
        assert sorted(session.exec(select(Person.username)).all()) == ["ann1", "ann2", "bob1"]
    # A refusal by the overall limit did not use up the new client's own allowance.
    loose = accounts.RegistrationPolicy(invite_only=False, per_client_per_hour=1, per_hour=100)
    _sign_up(engine, "cat1", client="198.51.100.3", policy=loose)


INVITE_ONLY = accounts.RegistrationPolicy(invite_only=True, per_client_per_hour=10, per_hour=100)


def test_invite_only_sign_up_needs_a_live_code_and_a_partners_code_links_the_couple(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a code nothing is hashed; a partner's invite links the couple; a therapist's code admits."""
    ana = make_person(engine, "ana")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    with write_session(engine) as session:
        invite = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW).code
        therapist_code = grants.issue_therapist_code(session=session, viewer=kim, key=KEY, now=NOW).code
    hashes = _counting_hashes(monkeypatch)
    with pytest.raises(accounts.AccountError, match="by invitation"):
        _sign_up(engine, "ben", policy=INVITE_ONLY)
    with pytest.raises(accounts.AccountError, match="don't recognise that code"):
        _sign_up(engine, "ben", policy=INVITE_ONLY, code="7KQ2-M9XD-4RTB")
    with pytest.raises(accounts.AccountError, match="for their partner"):
        _sign_up(engine, "dr.lee", role=Role.THERAPIST, policy=INVITE_ONLY, code=invite)
    assert hashes == []
    ben = _sign_up(engine, "ben", policy=INVITE_ONLY, code=invite.lower())
    with read_session(engine) as session:
        assert access.current_couple_id(session=session, viewer=Viewer.of(ben)) == access.current_couple_id(
            session=session, viewer=ana
        )
    with pytest.raises(accounts.AccountError, match="don't recognise that code"):
        _sign_up(engine, "eve", policy=INVITE_ONLY, code=invite)  # used: it admits nobody else
    _sign_up(engine, "dr.lee", role=Role.THERAPIST, policy=INVITE_ONLY, code=therapist_code)
    _sign_up(engine, "cai", policy=INVITE_ONLY, code=therapist_code)
    with read_session(engine) as session:
        assert sorted(session.exec(select(Person.username)).all()) == [
            "ana",
            "ben",
            "cai",
            "dr.kim",
            "dr.lee",
        ]
