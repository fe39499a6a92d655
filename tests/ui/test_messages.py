"""Messages that stay until the person moves on: confirmations, why the login page is showing, and an
empty sidebar when nobody is logged in. Driven through AppTest, as a person clicking through would."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select, update
from streamlit.testing.v1 import AppTest
from streamlit_authenticator.controllers.cookie_controller import CookieController

from program.auth import login_sessions
from program.infra.db import write_session
from program.infra.models import InviteCode, Person, utcnow
from program.privacy.viewer import Viewer
from tests.conftest import TEST_COOKIE_KEY
from tests.factories import PASSWORD, TEST_POLICIES, make_person
from tests.ui.helpers import app, as_viewer, click, fill, log_in, texts

LOGGED_OUT = "You are logged out."
SIGNED_OUT_HERE = "You were signed out on this device"
NEW_PASSWORD = "seven orange bicycles dancing"


def _sidebar_is_empty(at: AppTest) -> bool:
    return len(at.sidebar.children) == 0


def _account(engine: Engine, viewer: Viewer) -> AppTest:
    """A new browser session (a reload, another device) logged in as this person, on the account page."""
    return as_viewer(app("pages/account.py"), viewer, engine).run()


def _change_password(at: AppTest) -> AppTest:
    fill(at, "Current password", PASSWORD)
    fill(at, "New password", NEW_PASSWORD)
    fill(at, "Type the new password again", NEW_PASSWORD)
    return at.button(key="FormSubmitter:change_password-Change password").click().run()


# --- confirmations that stay ---------------------------------------------------------------------------


def test_the_password_confirmation_is_still_there_after_another_run(app_env: Engine) -> None:
    """Ana changes her password: the login page says so, and still says so on the next run (the message does
    not vanish before she has read it). Logging in with the new password is moving on: it is gone after."""
    make_person(app_env, "ana", name="Ana")
    at = log_in(app().run(), "ana", PASSWORD).run()
    at.switch_page("pages/account.py").run()
    at = _change_password(at)
    assert "Your password is changed" in texts(at)
    at.run()
    assert "Your password is changed" in texts(at)
    assert at.title[0].value == "Kindred"
    at = log_in(at, "ana", NEW_PASSWORD).run()
    assert at.title[0].value == "Your account"
    assert "Your password is changed" not in texts(at.run())


def test_an_account_confirmation_stays_until_she_moves_to_another_page(app_env: Engine) -> None:
    """Ana starts a couple: the confirmation stays through later runs of the account page, and is gone once
    she has opened another page and come back."""
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app(), ana, app_env).run()
    at.switch_page("pages/account.py").run()
    click(at, "Start a couple and get an invite code")
    confirmation = "Give your partner the invite code below."
    assert any(confirmation in s.value for s in at.success)
    at.run()
    assert any(confirmation in s.value for s in at.success)
    at.switch_page("pages/home.py").run()
    assert confirmation not in texts(at)
    at.switch_page("pages/account.py").run()
    assert confirmation not in texts(at)


def test_a_refused_action_replaces_the_earlier_confirmation(app_env: Engine) -> None:
    """After "Your couple is set up", a wrong current password shows its error alone, not beside the old
    success (which would read as if the password had changed)."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _account(app_env, ana)
    click(at, "Start a couple and get an invite code")
    assert any("Your couple is set up" in s.value for s in at.success)
    fill(at, "Current password", "not my password at all")
    fill(at, "New password", NEW_PASSWORD)
    fill(at, "Type the new password again", NEW_PASSWORD)
    at.button(key="FormSubmitter:change_password-Change password").click().run()
    assert at.error
    assert not at.success


def test_signing_out_everywhere_stays_said_on_the_login_page(app_env: Engine) -> None:
    """The login page after "Sign out everywhere" says so, through another run."""
    ana = make_person(app_env, "ana")
    at = _account(app_env, ana)
    click(at, "Sign out everywhere")
    assert at.title[0].value == "Kindred"
    assert "signed out on every device" in texts(at)
    assert "signed out on every device" in texts(at.run())


# --- the login page says why it is showing -------------------------------------------------------------


def test_logging_out_says_so_and_leaves_an_empty_sidebar(app_env: Engine) -> None:
    """After "Log out" the login page says "You are logged out." (still on the next run), and the sidebar
    holds nothing: no name, no log-out button, no menu."""
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app(), ana, app_env).run().run()
    assert not _sidebar_is_empty(at)
    at.sidebar.button(key="log_out_button").click().run()
    assert at.title[0].value == "Kindred"
    assert LOGGED_OUT in texts(at)
    assert "Ana" not in texts(at)
    assert _sidebar_is_empty(at)
    at.run()
    assert LOGGED_OUT in texts(at)
    assert _sidebar_is_empty(at)


@pytest.mark.usefixtures("app_env")
def test_the_login_page_has_an_empty_sidebar() -> None:
    """A visitor's login page puts nothing in the sidebar (the quick exit lives outside it)."""
    at = app().run()
    assert at.title[0].value == "Kindred"
    assert _sidebar_is_empty(at)
    assert LOGGED_OUT not in texts(at) and SIGNED_OUT_HERE not in texts(at)


def test_a_device_signed_out_from_another_says_so(app_env: Engine) -> None:
    """Ana is logged in on two devices and signs out everywhere on the second: the first device's next run
    lands on the login page saying it was signed out, through a further run, with an empty sidebar."""
    ana = make_person(app_env, "ana", name="Ana")
    laptop = as_viewer(app(), ana, app_env).run()
    assert laptop.title[0].value != "Kindred"
    phone = _account(app_env, ana)
    click(phone, "Sign out everywhere")
    laptop.run()
    assert laptop.title[0].value == "Kindred"
    assert SIGNED_OUT_HERE in texts(laptop)
    assert _sidebar_is_empty(laptop)
    assert SIGNED_OUT_HERE in texts(laptop.run())


def test_a_password_changed_elsewhere_signs_this_device_out_with_a_word(app_env: Engine) -> None:
    """A password change on the phone ends the laptop's login; the laptop is told, not left wondering."""
    ana = make_person(app_env, "ana", name="Ana")
    laptop = as_viewer(app(), ana, app_env).run()
    _change_password(_account(app_env, ana))
    laptop.run()
    assert laptop.title[0].value == "Kindred"
    assert SIGNED_OUT_HERE in texts(laptop)
    assert "Your password is changed" not in texts(laptop)  # that was the phone's own confirmation


def test_a_disabled_account_is_told_it_was_signed_out(app_env: Engine) -> None:
    """The operator disables Ana's account: her open page's next run shows the login page with the notice."""
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app(), ana, app_env).run()
    with write_session(app_env) as session:
        session.exec(update(Person).where(col(Person.id) == ana.person_id).values(disabled_at=utcnow()))
    at.run()
    assert at.title[0].value == "Kindred"
    assert SIGNED_OUT_HERE in texts(at)


class _Client:
    """What a browser's connection tells Streamlit: its cookies, headers and address."""

    def __init__(self, cookies: dict[str, str]) -> None:
        self.cookies = cookies
        self.headers: list[tuple[str, str]] = []
        self.remote_ip = "198.51.100.9"


FUTURE = 4.1e9


def _reload_with_cookie(
    monkeypatch: pytest.MonkeyPatch, username: str, *, key: str = TEST_COOKIE_KEY
) -> AppTest:
    """A new tab (or a reload) of a browser holding a login cookie for this username."""
    token = jwt.encode({"username": username, "exp_date": FUTURE}, key, algorithm="HS256")
    client = _Client({"kindred_session": token})
    monkeypatch.setattr("streamlit.runtime.context._get_client_context", lambda: client)
    monkeypatch.setattr(CookieController, "delete_cookie", lambda _self: None)
    return app().run()


def _ended_cookie_login(engine: Engine, viewer: Viewer) -> None:
    """A login whose cookie this browser still holds, ended from elsewhere (sign out everywhere)."""
    with write_session(engine) as session:
        person = session.get(Person, viewer.person_id)
        assert person is not None
        login = login_sessions.start(
            session=session,
            person=person,
            token=login_sessions.token_id(viewer.username, FUTURE),
            now=utcnow(),
            policies=TEST_POLICIES,
        )
        assert login.id is not None
        login_sessions.end_all(session=session, person_id=viewer.person_id, now=utcnow())


def test_a_reload_with_the_cookie_of_an_ended_login_says_so(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reloading with the cookie of a login ended elsewhere shows the login page with the notice."""
    ana = make_person(app_env, "ana", name="Ana")
    _ended_cookie_login(app_env, ana)
    at = _reload_with_cookie(monkeypatch, "ana")
    assert at.title[0].value == "Kindred"
    assert SIGNED_OUT_HERE in texts(at)
    assert SIGNED_OUT_HERE in texts(at.run())


def test_the_signed_out_notice_tells_nothing_about_which_usernames_exist(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page shown for a signed cookie of an ended login is the page shown for a signed cookie naming
    nobody; a forged cookie (wrong key) naming a real person gets no notice at all."""
    ana = make_person(app_env, "ana", name="Ana")
    _ended_cookie_login(app_env, ana)
    ended = texts(_reload_with_cookie(monkeypatch, "ana"))
    nobody = texts(_reload_with_cookie(monkeypatch, "nobody.here"))
    assert ended == nobody
    forged = texts(_reload_with_cookie(monkeypatch, "ana", key="another key, not the server's " * 2))
    assert SIGNED_OUT_HERE not in forged


# --- the open invite code, shown again -----------------------------------------------------------------


def _start_couple(engine: Engine, viewer: Viewer) -> str:
    at = _account(engine, viewer)
    click(at, "Start a couple and get an invite code")
    return str(at.code[0].value)


def test_the_open_invite_code_is_shown_again_after_a_reload(app_env: Engine) -> None:
    """Ana starts a couple and reloads: the same code is on her account page, until Ben uses it. Ben never
    sees it; Cleo, waiting in her own couple, sees her own code and never Ana's."""
    ana, ben, cleo = (make_person(app_env, name) for name in ("ana", "ben", "cleo"))
    code = _start_couple(app_env, ana)
    cleos_code = _start_couple(app_env, cleo)
    again = _account(app_env, ana)
    assert [c.value for c in again.code] == [code]
    assert [c.value for c in _account(app_env, cleo).code] == [cleos_code]
    at_ben = _account(app_env, ben)
    assert not at_ben.code
    fill(at_ben, "Invite code from your partner", code)
    at_ben.button(key="FormSubmitter:join_couple-Join").click().run()
    assert "You are linked with your partner." in texts(at_ben)
    assert code not in texts(at_ben) and not at_ben.code
    assert not _account(app_env, ana).code
    assert not _account(app_env, ben).code


def test_an_expired_invite_code_is_not_shown_again(app_env: Engine) -> None:
    """Once Ana's code has expired, a reload no longer shows it; she is offered a new one."""
    ana = make_person(app_env, "ana")
    _start_couple(app_env, ana)
    with write_session(app_env) as session:
        session.exec(update(InviteCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    at = _account(app_env, ana)
    assert not at.code
    assert "Make a new invite code" in [b.label for b in at.button]
    with write_session(app_env) as session:
        assert session.exec(select(InviteCode.code_text)).all() == [None]


def test_a_saved_check_in_stays_confirmed_through_another_run(app_env: Engine) -> None:
    """The check-in page uses the same mechanism: "saved" is still there on the next run, and gone once
    Ana has been to another page."""
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app(), ana, app_env).run()
    at.switch_page("pages/checkin.py").run()
    at.button(key="FormSubmitter:checkin-Save my check-in").click().run()
    saved = "Your check-in for this week is saved."
    assert [s.value for s in at.success] == [saved]
    assert [s.value for s in at.run().success] == [saved]
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/checkin.py").run()
    assert saved not in [s.value for s in at.success]
