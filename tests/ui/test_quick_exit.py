"""The quick exit is on every page, for everyone, logged in or not; its server half ends the login."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from streamlit.testing.v1 import AppTest

from program.infra.db import read_session
from program.infra.models import AuditEvent, LoginSession, Role
from program.infra.settings import Settings, get_settings
from program.ui import quick_exit
from program.ui.gate import SESSION_ID
from program.ui.navigation import PARTNER_PAGES, THERAPIST_PAGES
from tests.factories import make_couple, make_person
from tests.ui.helpers import LOGIN_BUTTON, PAGE_FILES, app, as_viewer, button_keys, texts

EXIT_URL = "http://127.0.0.1:9/weather"


def _quick_exits(at: AppTest) -> list[dict[str, Any]]:
    """The data of every quick-exit component the run drew."""
    return [
        json.loads(element.proto.json)
        for element in at.get("bidi_component")
        if element.proto.component_name == quick_exit.COMPONENT
    ]


def _assert_one_quick_exit(at: AppTest) -> None:
    assert not at.exception, at.exception
    drawn = _quick_exits(at)
    assert len(drawn) == 1, drawn
    assert drawn[0]["url"] == EXIT_URL
    assert drawn[0]["label"] == "Quick exit"
    assert drawn[0]["cookie"] == get_settings().cookie_name


@pytest.fixture
def exit_env(app_env: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The app's test settings with the quick exit pointed at a loopback address."""
    monkeypatch.setenv("KINDRED_QUICK_EXIT_URL", EXIT_URL)
    get_settings.cache_clear()
    return app_env


@pytest.mark.parametrize("script", ["app.py", *PAGE_FILES])
@pytest.mark.usefixtures("exit_env")
def test_the_login_page_has_the_quick_exit_through_the_app_and_every_deep_link(script: str) -> None:
    """Logged out, whichever URL is opened, the login form comes with one quick exit."""
    at = app(script).run()
    assert LOGIN_BUTTON in button_keys(at)
    _assert_one_quick_exit(at)


@pytest.mark.parametrize(("role", "page"), [(Role.PARTNER, p[0]) for p in PARTNER_PAGES])
def test_every_partner_page_has_the_quick_exit(exit_env: Engine, role: Role, page: str) -> None:
    """A partner in a couple sees one quick exit on each of their pages, routed and opened directly."""
    ana, ben = make_person(exit_env, "ana", role), make_person(exit_env, "ben")
    make_couple(exit_env, ana, ben)
    # Routed only when an operator added questionnaires, after the last stage, or once both chose it.
    if page not in ("pages/questionnaires.py", "pages/keeping.py", "pages/intimacy.py"):
        routed = as_viewer(app(), ana, exit_env).run()
        routed.switch_page(page).run()
        _assert_one_quick_exit(routed)
        assert "Signed in as" in texts(routed)
    direct = as_viewer(app(page), ana, exit_env).run()
    _assert_one_quick_exit(direct)


@pytest.mark.parametrize("page", [p[0] for p in THERAPIST_PAGES])
def test_every_therapist_page_has_the_quick_exit(exit_env: Engine, page: str) -> None:
    """Therapists get it too (a clinic machine may be shared)."""
    kim = make_person(exit_env, "dr.kim", Role.THERAPIST)
    routed = as_viewer(app(), kim, exit_env).run()
    routed.switch_page(page).run()
    _assert_one_quick_exit(routed)
    _assert_one_quick_exit(as_viewer(app(page), kim, exit_env).run())


def _end_login_script() -> None:
    """A run whose only work is the quick exit's server half (its widget callback)."""
    from program.ui import quick_exit, runtime
    from program.ui.gate import SESSION_ID

    quick_exit._end_this_login(runtime.engine(), SESSION_ID)


def test_the_server_half_ends_this_login_only_and_logs_an_ordinary_logout(exit_env: Engine) -> None:
    """The login of this browser is revoked, another login of the same person is not, and the audit row
    is a plain "logout" (nothing records that someone fled)."""
    ana = make_person(exit_env, "ana")
    other_device = as_viewer(AppTest.from_function(lambda: None), ana, exit_env)
    this_device = as_viewer(AppTest.from_function(_end_login_script), ana, exit_env)
    this_login = this_device.session_state[SESSION_ID]
    before = _audit_actions(exit_env)
    this_device.run()
    assert not this_device.exception
    with read_session(exit_env) as session:
        logins = {login.id: login for login in session.exec(select(LoginSession)).all()}
    assert logins[this_login].revoked_at is not None
    assert logins[other_device.session_state[SESSION_ID]].revoked_at is None
    assert _audit_actions(exit_env) == [*before, "logout"]
    assert this_device.session_state["authentication_status"] is None
    assert SESSION_ID not in this_device.session_state
    # A second trigger (both the click and Escape, say) records nothing more.
    this_device.session_state[SESSION_ID] = this_login
    this_device.run()
    assert _audit_actions(exit_env) == [*before, "logout"]


def _audit_actions(engine: Engine) -> list[str]:
    with read_session(engine) as session:
        return [event.action for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,hi", "/weather", "ftp://example.org/", "https://"]
)
def test_a_quick_exit_url_that_is_not_a_web_address_is_refused(url: str) -> None:
    """The browser would run a javascript: or data: address inside Kindred's page; it never gets one."""
    with pytest.raises(ValueError, match="quick exit URL"):
        Settings(quick_exit_url=url)


def test_the_quick_exit_url_defaults_to_a_weather_site() -> None:
    """Without a setting, the exit lands on an everyday weather page."""
    assert Settings.model_fields["quick_exit_url"].default == "https://www.bbc.com/weather"
