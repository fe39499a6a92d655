"""The operator's command line: reset codes, disabling accounts, migrating."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.auth import accounts
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, LoginSession, Person, Role, utcnow
from program.infra.settings import get_settings
from program.ops.cli import main
from program.privacy import couples, grants
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
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


@pytest.mark.usefixtures("app_env")
def test_unknown_usernames_get_an_error_and_a_failing_exit(capsys: pytest.CaptureFixture[str]) -> None:
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


@pytest.mark.usefixtures("app_env")
def test_migrate_command_reports_an_up_to_date_database(capsys: pytest.CaptureFixture[str]) -> None:
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


def _approval_events(engine: Engine) -> list[tuple[str, int | None]]:
    with read_session(engine) as session:
        return [
            (event.action, event.subject_id)
            for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
            if event.action.startswith("therapist.") and event.action.endswith("approved")
        ]


def _make_a_code(engine: Engine, viewer: Viewer) -> str:
    with write_session(engine) as session:
        return grants.issue_therapist_code(
            session=session, viewer=viewer, key=get_settings().code_key(), now=utcnow()
        ).code


def test_approve_therapist_lets_a_waiting_therapist_make_a_code_and_is_audited(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`approve-therapist NAME` names the account it approved, the therapist can then make a code, and the
    audit trail has one approval; running it again says so and changes nothing."""
    eve = make_person(app_env, "dr.eve", Role.THERAPIST, "Dr Eve", approved=False)
    with pytest.raises(AccessDenied):
        _make_a_code(app_env, eve)
    assert main(["approve-therapist", "Dr.Eve"]) == 0
    out = capsys.readouterr().out
    assert "dr.eve ('Dr Eve') is approved as a therapist" in out
    assert _make_a_code(app_env, eve)
    assert main(["approve-therapist", "dr.eve"]) == 0
    assert "was already approved on" in capsys.readouterr().out
    assert _approval_events(app_env) == [("therapist.approved", eve.person_id)]


def test_unapprove_therapist_kills_the_code_and_is_audited(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`unapprove-therapist NAME`: a partner can no longer use the code the therapist handed out, the
    therapist cannot make another, and a second run says nothing changed."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, "Dr Kim")
    code = _make_a_code(app_env, kim)
    assert main(["unapprove-therapist", "dr.kim"]) == 0
    assert "dr.kim ('Dr Kim') is no longer approved" in capsys.readouterr().out
    with pytest.raises(grants.CodeError), write_session(app_env) as session:
        grants.grant_access(
            session=session, viewer=ana, code=code, key=get_settings().code_key(), now=utcnow()
        )
    with pytest.raises(AccessDenied, match="waiting for approval"):
        _make_a_code(app_env, kim)
    assert main(["unapprove-therapist", "dr.kim"]) == 0
    assert "is not approved. Nothing changed." in capsys.readouterr().out
    assert _approval_events(app_env) == [("therapist.unapproved", kim.person_id)]


@pytest.mark.parametrize("command", ["approve-therapist", "unapprove-therapist"])
def test_approving_an_unknown_name_or_a_partner_fails_clearly(
    app_env: Engine, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A typo or a partner's username gets an error and a failing exit, and nothing is recorded."""
    make_person(app_env, "ana")
    assert main([command, "anna"]) == 1
    assert "There is no account named 'anna'" in capsys.readouterr().err
    assert main([command, "ana"]) == 1
    assert "'ana' is a partner's account" in capsys.readouterr().err
    assert _approval_events(app_env) == []


def test_approving_prints_a_hostile_display_name_escaped(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A display name holding terminal escapes (older accounts may) reaches the operator's terminal as
    visible escapes, never as control characters that could rewrite what the operator reads."""
    eve = make_person(app_env, "dr.eve", Role.THERAPIST, approved=False)
    with write_session(app_env) as session:
        person = session.get(Person, eve.person_id)
        assert person is not None
        person.display_name = "Dr Eve\x1b[2K\rApproved nothing\x07"
    assert main(["approve-therapist", "dr.eve"]) == 0
    out = capsys.readouterr().out
    assert "\\x1b[2K\\rApproved nothing\\x07" in out
    assert not any(ch in out for ch in "\x1b\r\x07")


@pytest.mark.usefixtures("capsys")
def test_the_demo_loads_its_therapist_approved(app_env: Engine) -> None:
    """`python -m program demo` approves its own therapist, so the demo's therapist login works at once."""
    assert main(["demo", "--weeks", "2"]) == 0
    with read_session(app_env) as session:
        therapist = accounts.find_person(session=session, username="demo-therapist")
        assert therapist is not None
        viewer = Viewer.of(therapist)
        assert grants.approved_at(session=session, viewer=viewer) is not None
    assert _make_a_code(app_env, viewer)
