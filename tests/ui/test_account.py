"""The account page and the login form's protections, driven through AppTest."""

from __future__ import annotations

import bcrypt
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.infra.db import read_session
from program.infra.models import AuditEvent, Role
from program.privacy.viewer import Viewer
from tests.factories import PASSWORD, make_person
from tests.ui.helpers import app, as_viewer, click, fill, log_in, texts


def _account(engine: Engine, viewer: Viewer) -> AppTest:
    return as_viewer(app("pages/account.py"), viewer, engine).run()


def _link(engine: Engine, first: Viewer, second: Viewer) -> tuple[AppTest, AppTest]:
    at_first = _account(engine, first)
    click(at_first, "Start a couple and get an invite code")
    code = at_first.code[0].value
    at_second = _account(engine, second)
    fill(at_second, "Invite code from your partner", code)
    at_second.button(key="FormSubmitter:join_couple-Join").click().run()
    return at_first, at_second


def test_partners_link_up_with_an_invite_code(app_env: Engine) -> None:
    """One partner starts the couple and reads out the code; the other enters it; both see each other."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    at_ana, at_ben = _link(app_env, ana, ben)
    assert "You are linked with your partner." in at_ben.success[0].value
    assert "You are doing Kindred with **Ana**." in texts(at_ben)
    assert "You are doing Kindred with **Ben**." in texts(at_ana.run())


def test_a_mistyped_invite_code_gets_a_clear_message(app_env: Engine) -> None:
    """A wrong code is refused in the page, and the partner stays unlinked."""
    ben = make_person(app_env, "ben")
    at = _account(app_env, ben)
    fill(at, "Invite code from your partner", "7KQ2-M9XD-4RTB")
    at.button(key="FormSubmitter:join_couple-Join").click().run()
    assert "don't recognise that code" in at.error[0].value
    assert [b.label for b in at.button if b.label.startswith("Start a couple")] == [
        "Start a couple and get an invite code"
    ]


def _linked_with_therapist(engine: Engine) -> tuple[Viewer, AppTest, AppTest]:
    """Ana and Ben linked, and both of them having entered Dr Kim's code on their account pages."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, name="Dr Kim")
    at_ana, at_ben = _link(engine, ana, ben)
    at_kim = _account(engine, kim)
    click(at_kim, "Make a code")
    code = at_kim.code[0].value
    for at in (at_ana.run(), at_ben.run()):
        fill(at, "Your therapist's code", code)
        at.button(key="FormSubmitter:grant_therapist-Check the code").click().run()
        at.button(key="grant_confirm").click().run()
        assert "Access given" in at.success[0].value
    return kim, at_ana, at_ben


def test_therapist_sees_the_couple_once_both_grant_and_the_couple_sees_each_view(app_env: Engine) -> None:
    """Both partners enter the therapist's code; the therapist opens the couple; the opening is on record."""
    kim, at_ana, at_ben = _linked_with_therapist(app_env)
    assert "**Dr Kim** can see your couple" in texts(at_ana.run())
    caseload = as_viewer(app("pages/therapist.py"), kim, app_env).run()
    click(caseload, "Open")
    assert caseload.header[0].value == "Ana & Ben"
    at_ben.run()
    record = at_ben.dataframe[0].value
    assert list(record["Therapist"]) == ["Dr Kim"] and list(record["What"]) == ["opened your record"]


def test_withdrawing_access_hides_the_couple_from_the_therapist_at_once(app_env: Engine) -> None:
    """Either partner's withdrawal takes effect on the therapist's next rerun."""
    kim, at_ana, _ = _linked_with_therapist(app_env)
    caseload = as_viewer(app("pages/therapist.py"), kim, app_env).run()
    click(caseload, "Open")
    at_ana.run().button(key=f"revoke_{kim.person_id}").click().run()
    assert "no longer has your access" in at_ana.success[0].value
    caseload.run()
    assert "No couple has given you access yet" in texts(caseload)
    assert not caseload.header


def test_changing_the_password_signs_out_and_the_new_one_works(app_env: Engine) -> None:
    """After a password change the page returns to the login form, which accepts only the new password."""
    make_person(app_env, "ana", name="Ana")
    at = log_in(app().run(), "ana", PASSWORD).run()
    at.switch_page("pages/account.py").run()
    new = "seven orange bicycles dancing"
    fill(at, "Current password", PASSWORD)
    fill(at, "New password", new)
    fill(at, "Type the new password again", new)
    at.button(key="FormSubmitter:change_password-Change password").click().run()
    assert "Your password is changed" in at.success[0].value
    at = log_in(at, "ana", PASSWORD)
    assert "don't match" in at.error[0].value
    at = log_in(at, "ana", new).run()
    assert at.title[0].value == "Your account"  # logged in again, back on the page they were on


def test_sign_out_everywhere_returns_to_the_login_form(app_env: Engine) -> None:
    """The button ends this login (and every other) with a message saying so."""
    ana = make_person(app_env, "ana")
    at = _account(app_env, ana)
    click(at, "Sign out everywhere")
    assert at.title[0].value == "Kindred"
    assert "signed out on every device" in at.success[0].value


def test_after_five_failures_even_the_right_password_must_wait(app_env: Engine) -> None:
    """The sixth attempt is refused with when to retry, even with the right password; the wait is audited."""
    make_person(app_env, "ana")
    at = app().run()
    for _ in range(5):
        at = log_in(at, "ana", "wrong password attempt")
        assert "don't match" in at.error[0].value
    at = log_in(at, "ana", PASSWORD)
    assert "Too many attempts" in at.error[0].value and "try again" in at.error[0].value
    assert at.session_state["authentication_status"] is not True
    with read_session(app_env) as session:
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action == "login.throttled")).first() is not None
        )


def test_unknown_usernames_cost_a_password_check_and_are_throttled_alike(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown name takes one bcrypt check like a wrong password, and is throttled after five tries too."""
    make_person(app_env, "ana")
    checks: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        checks.append(hashed)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    at = log_in(app().run(), "ana", "wrong password attempt")
    wrong_password = (len(checks), at.error[0].value)
    checks.clear()
    at = log_in(at, "nobody-at-all", "wrong password attempt")
    assert (len(checks), at.error[0].value) == wrong_password == (1, wrong_password[1])
    for _ in range(5):
        at = log_in(at, "nobody-at-all", "wrong password attempt")
    assert "Too many attempts" in at.error[0].value
