"""The operator's command line: reset codes, disabling accounts, migrating."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import Engine

from program import accounts, couples
from program.__main__ import main
from program.db import read_session
from program.models import LoginSession, Person, utcnow
from program.settings import get_settings
from tests.factories import make_couple, make_person, start_login_session


def test_reset_code_command_prints_a_code_that_works(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m program reset-code NAME` prints a code the person can use on the login page."""
    ana = make_person(app_env, "ana")
    assert main(["reset-code", "Ana"]) == 0
    found = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", capsys.readouterr().out)
    assert found is not None
    new = "seven orange bicycles dancing"
    accounts.reset_password(
        engine=app_env,
        username="ana",
        code=found.group(),
        new=new,
        repeat=new,
        key=get_settings().code_key(),
        rounds=4,
        now=utcnow(),
    )
    with read_session(app_env) as session:
        person = session.get(Person, ana.person_id)
        assert person is not None and accounts.verify_password(new, person.password_hash)


def test_unknown_usernames_get_an_error_and_a_failing_exit(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in the username is reported, not silently ignored."""
    assert main(["reset-code", "nobody"]) == 1
    assert "no active account named 'nobody'" in capsys.readouterr().err


def test_disable_ends_sessions_and_enable_restores_login(app_env: Engine) -> None:
    """Disabling signs the person out everywhere and hides the account from login; enabling undoes it."""
    ana = make_person(app_env, "ana")
    live = start_login_session(app_env, ana)
    assert main(["disable", "ana"]) == 0
    with read_session(app_env) as session:
        assert session.get(LoginSession, live).revoked_at is not None  # type: ignore[union-attr]
        assert accounts.find_person(session=session, username="ana") is None
    assert main(["enable", "ana"]) == 0
    with read_session(app_env) as session:
        assert accounts.find_person(session=session, username="ana") is not None


def test_migrate_command_reports_an_up_to_date_database(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m program migrate` succeeds on a migrated database and says so."""
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_delete_command_with_yes_deletes_the_account_and_ends_the_couple(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m program delete NAME --yes` removes the person; the partner stays, without a couple."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    assert main(["delete", "Ana", "--yes"]) == 0
    assert "ana is deleted" in capsys.readouterr().out
    with read_session(app_env) as session:
        assert session.get(Person, ana.person_id) is None
        assert couples.partner_status(session=session, viewer=ben).couple_id is None


def test_delete_command_asks_for_the_username_and_a_wrong_answer_deletes_nothing(
    app_env: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --yes the operator must type the username again; anything else (or no input) keeps it."""
    ana = make_person(app_env, "ana")
    for answer in ("y", "ben", EOFError):
        monkeypatch.setattr("builtins.input", lambda _prompt, a=answer: _answer(a))
        assert main(["delete", "ana"]) == 1
        assert "Nothing was deleted" in capsys.readouterr().err
        with read_session(app_env) as session:
            assert session.get(Person, ana.person_id) is not None
    monkeypatch.setattr("builtins.input", lambda _prompt: " ana ")
    assert main(["delete", "ana"]) == 0
    with read_session(app_env) as session:
        assert session.get(Person, ana.person_id) is None


def _answer(answer: str | type[EOFError]) -> str:
    if isinstance(answer, str):
        return answer
    raise answer()


def test_delete_command_reports_unknown_usernames(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo is reported with a failing exit, and nobody is deleted."""
    make_person(app_env, "ana")
    assert main(["delete", "anna", "--yes"]) == 1
    assert "no account named 'anna'" in capsys.readouterr().err
