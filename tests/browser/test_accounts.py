"""Accounts in a real browser: linking a couple, therapist access, cookies after logout, throttling."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import conftest as browser_setup
from tests.browser.actions import (
    fill_and_submit,
    log_in,
    open_app,
    open_couple,
    open_menu_page,
    register,
    wait_for_app_loaded,
    wait_for_login_form_after_dead_cookie,
    wait_idle,
)
from tests.conftest import ROOT, TEST_COOKIE_KEY, TEST_ENCRYPTION_KEYS

_DATABASE_URLS: list[str] = []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The shared fresh server, keeping its database URL for the operator's command run below."""
    with browser_setup._serve(
        tmp_path_factory.mktemp("server"), demo=False, browser=browser, database_urls=_DATABASE_URLS
    ) as url:
        yield url


def _operator(*command: str) -> str:
    """Run `python -m program COMMAND` against the server's database, as its operator would."""
    env = {
        **os.environ,
        "KINDRED_DATABASE_URL": _DATABASE_URLS[-1],
        "KINDRED_COOKIE_KEY": TEST_COOKIE_KEY,
        "KINDRED_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
    }
    done = subprocess.run([sys.executable, "-m", "program", *command], cwd=ROOT, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def _fresh(browser: Browser, server: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(server)
    wait_idle(page)
    return page


def _signed_up(browser: Browser, server: str, name: str, username: str, role: str) -> Page:
    """A new browser for a new person: registered, logged in, on their account page."""
    page = _fresh(browser, server)
    register(page, name, username, role)
    log_in(page, username)
    open_menu_page(page, "Your account")
    return page


def _return_to(page: Page) -> None:
    """Come back to a browser left in the background (Chromium pauses those) and see the latest."""
    page.bring_to_front()
    page.reload()
    wait_idle(page)


def _shown_code(page: Page) -> str:
    return page.get_by_test_id("stCode").first.inner_text().strip()


def test_two_partners_link_up_and_their_therapist_sees_them_after_both_grant(
    browser: Browser, server: str
) -> None:
    """Register two partners and a therapist, whom the operator approves; link the couple; each partner
    confirms the therapist's name and grants access; the therapist opens the couple."""
    ana = _signed_up(browser, server, "Ana", "ana", "a partner in a couple")
    ana.get_by_role("button", name="Start a couple and get an invite code").click()
    wait_idle(ana)
    invite = _shown_code(ana)

    ben = _signed_up(browser, server, "Ben", "ben", "a partner in a couple")
    fill_and_submit(ben, "Invite code from your partner", invite.lower(), "Join")
    expect(ben.get_by_text("You are doing Kindred with Ana.")).to_be_visible()

    kim = _signed_up(browser, server, "Dr Kim", "dr.kim", "a therapist")
    expect(kim.get_by_text("waiting for approval by this server's operator").first).to_be_visible()
    expect(kim.get_by_role("button", name="Make a code")).to_have_count(0)
    assert "is approved as a therapist" in _operator("approve-therapist", "dr.kim")
    _return_to(kim)
    kim.get_by_role("button", name="Make a code").click()
    wait_idle(kim)
    therapist_code = _shown_code(kim)

    _return_to(ana)
    fill_and_submit(ana, "Your therapist's code", therapist_code, "Check the code")
    expect(ana.get_by_text("Give Dr Kim access to your couple?")).to_be_visible()
    ana.get_by_role("button", name="Give Dr Kim access").click()
    wait_idle(ana)
    expect(ana.get_by_test_id("stAlertContentSuccess")).to_contain_text("Access given")
    _return_to(kim)
    open_menu_page(kim, "Your couples")
    expect(kim.get_by_text("No couple has given you access yet")).to_be_visible()

    _return_to(ben)
    fill_and_submit(ben, "Your therapist's code", therapist_code, "Check the code")
    ben.get_by_role("button", name="Give Dr Kim access").click()
    wait_idle(ben)
    _return_to(kim)
    open_couple(kim, "Ana & Ben")

    _return_to(ana)
    expect(ana.get_by_text("can see your couple")).to_be_visible()
    expect(ana.get_by_test_id("stDataFrame")).to_be_visible()  # the record of Dr Kim's view


def test_a_cookie_copied_before_logout_does_not_log_in(browser: Browser, server: str) -> None:
    """The login cookie works in another browser until its owner logs out; replayed after that, it fails."""
    page = _fresh(browser, server)
    register(page, "Cam", "cam", "a partner in a couple")
    log_in(page, "cam")
    expect(page.get_by_role("heading", name="Hello, Cam").first).to_be_visible()
    cookies = page.context.cookies()
    assert any(cookie["name"] == "kindred_session" for cookie in cookies)

    copy = browser.new_context()
    copy.add_cookies(cookies)  # type: ignore[arg-type]
    other = copy.new_page()
    other.goto(server)
    wait_idle(other)
    expect(other.get_by_role("heading", name="Hello, Cam").first).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    wait_idle(page)
    replay = browser.new_context()
    replay.add_cookies(cookies)  # type: ignore[arg-type]
    stranger = replay.new_page()
    stranger.goto(server)
    wait_for_login_form_after_dead_cookie(stranger)
    expect(stranger.get_by_role("heading", name="Hello, Cam")).to_have_count(0)
    other.reload()  # the copy's own session on the server ended with the logout too
    wait_for_login_form_after_dead_cookie(other)


def test_repeated_wrong_passwords_bring_a_wait_message(page: Page, server: str) -> None:
    """After five failed logins the form says to wait, and says until when."""
    page.goto(server)
    wait_idle(page)
    register(page, "Dee", "dee", "a partner in a couple")
    for _ in range(5):
        log_in(page, "dee", "not my password at all")
        expect(page.get_by_test_id("stAlertContentError")).to_contain_text("don't match")
    log_in(page, "dee", "a long enough browser passphrase")
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("Too many attempts")
    expect(page.get_by_role("heading", name="Hello, Dee")).to_have_count(0)


def _token(payload: str, header: str) -> str:
    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}.c2lnbmF0dXJl"


BAD_COOKIES = [
    _token('{"username": "eve", "exp_date": 4100000000}', '{"alg": "none", "typ": "JWT"}'),
    _token('{"username": "eve", "exp_date": 4100000000}', '{"alg": "HS512", "typ": "JWT"}'),
    _token('{"username": "eve"}', '{"alg": "HS256", "typ": "JWT"}'),
    _token('{"username": "eve", "exp_date": "soon"}', '{"alg": "HS256", "typ": "JWT"}'),
    "garbage-that-is-no-token",
]


def test_a_bad_login_cookie_of_any_kind_still_shows_the_login_form(browser: Browser, server: str) -> None:
    """Forged, malformed or garbage cookies: the login form appears (on reload too), never an error page."""
    for value in BAD_COOKIES:
        context = browser.new_context()
        context.add_cookies([{"name": "kindred_session", "value": value, "url": server}])
        page = context.new_page()
        open_app(page, server)
        # Deleting the cookie makes the cookie component rerun the app: the form may show twice meanwhile.
        expect(page.get_by_role("button", name="Log in").first).to_be_visible()
        expect(page.get_by_text("Something went wrong")).to_have_count(0)
        page.reload()
        wait_for_app_loaded(page)
        expect(page.get_by_role("button", name="Log in").first).to_be_visible()
        expect(page.get_by_text("Something went wrong")).to_have_count(0)
        context.close()
