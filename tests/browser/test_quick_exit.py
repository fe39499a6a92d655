"""In a real browser, Quick exit (a click, or Escape twice) lands on the neutral site at once, Back does not
return to Kindred, and the login is over: on this device and on the server, for any copy of its cookie."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session, select

from program.infra.db import create_db_engine
from program.infra.models import LoginSession, Person
from program.ops.demo import ALEX, DEMO_PASSWORD, SAM, THERAPIST
from program.ui.quick_exit import BUTTON_ID, DOUBLE_ESCAPE_MS
from tests.browser import conftest as browser_setup
from tests.browser.actions import log_in, open_app, open_menu_page, wait_for_app_loaded

NEUTRAL_TITLE = "Weather for your area"


class _NeutralSite(BaseHTTPRequestHandler):
    """A stand-in for the weather site: one plain page for any path, on loopback."""

    def do_GET(self) -> None:
        body = f"<!doctype html><title>{NEUTRAL_TITLE}</title><h1>Sunny intervals</h1>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def neutral_site() -> Iterator[str]:
    """The exit target: a tiny HTTP server on 127.0.0.1 (never the real internet)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NeutralSite)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/weather"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def exit_server(
    tmp_path_factory: pytest.TempPathFactory, browser: Browser, neutral_site: str
) -> Iterator[tuple[str, str]]:
    """A demo server whose quick exit goes to the loopback neutral site; yields (app URL, database URL)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KINDRED_QUICK_EXIT_URL", neutral_site)
        urls: list[str] = []
        with browser_setup._serve(
            tmp_path_factory.mktemp("exit-server"), demo=True, browser=browser, database_urls=urls
        ) as url:
            yield url, urls[0]


def _live_logins(database_url: str, username: str) -> int:
    engine = create_db_engine(database_url)
    try:
        with Session(engine) as session:
            person = session.exec(select(Person).where(Person.username == username)).one()
            rows = session.exec(select(LoginSession).where(LoginSession.person_id == person.id)).all()
            return sum(1 for row in rows if row.revoked_at is None)
    finally:
        engine.dispose()


def _assert_left_for_good(page: Page, app_url: str, neutral_site: str, copied: list[Any]) -> None:
    """On the neutral site; Back does not reach Kindred; this device and a copied cookie are logged out."""
    expect(page).to_have_url(neutral_site)
    expect(page).to_have_title(NEUTRAL_TITLE)
    page.go_back()
    page.wait_for_load_state()
    assert not page.url.startswith(app_url), page.url
    # A new page of the same browser: the cookie is gone, the login form shows.
    again = page.context.new_page()
    open_app(again, app_url)
    expect(again.get_by_role("button", name="Log in").first).to_be_visible()
    expect(again.get_by_role("button", name="Log out")).to_have_count(0)
    assert not any(c["name"] == "kindred_session" for c in page.context.cookies())
    # Someone who copied the cookie before the exit gets nowhere with it: the server ended that login.
    assert page.context.browser is not None
    thief = page.context.browser.new_context()
    try:
        thief.add_cookies(copied)
        stolen = thief.new_page()
        open_app(stolen, app_url)
        expect(stolen.get_by_role("button", name="Log in").first).to_be_visible()
        expect(stolen.get_by_role("button", name="Log out")).to_have_count(0)
    finally:
        thief.close()


def _logged_in(context: BrowserContext, app_url: str, username: str) -> tuple[Page, list[Any]]:
    """Log in and visit two pages (two history steps); return the page and a copy of the login cookie."""
    page = context.new_page()
    open_app(page, app_url)
    log_in(page, username, DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    open_menu_page(page, "Your account")
    copied = [c for c in context.cookies() if c["name"] == "kindred_session"]
    assert copied, "the login cookie was not set"
    return page, copied


def test_a_click_on_quick_exit_leaves_at_once_and_ends_the_login(
    exit_server: tuple[str, str], neutral_site: str, context: BrowserContext
) -> None:
    """Logged in, a click on Quick exit: neutral site, no way Back, cookie gone, server login revoked."""
    app_url, database_url = exit_server
    page, copied = _logged_in(context, app_url, ALEX[0])
    assert _live_logins(database_url, ALEX[0]) >= 1
    page.get_by_role("button", name="Quick exit").click()
    _assert_left_for_good(page, app_url, neutral_site, copied)
    assert _live_logins(database_url, ALEX[0]) == 0


def test_escape_twice_leaves_and_ends_the_login_but_once_does_not(
    exit_server: tuple[str, str], neutral_site: str, context: BrowserContext
) -> None:
    """One Escape, then another after the 1 s window, stay; two quick ones leave and end the login."""
    app_url, database_url = exit_server
    page, copied = _logged_in(context, app_url, SAM[0])
    page.keyboard.press("Escape")
    page.wait_for_timeout(DOUBLE_ESCAPE_MS + 300)
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    assert page.url.startswith(app_url)
    page.wait_for_timeout(DOUBLE_ESCAPE_MS + 300)
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    _assert_left_for_good(page, app_url, neutral_site, copied)
    assert _live_logins(database_url, SAM[0]) == 0


def test_the_therapist_has_it_too(
    exit_server: tuple[str, str], neutral_site: str, context: BrowserContext
) -> None:
    """A therapist's quick exit ends their login the same way, and a second Kindred tab left open in the
    same browser leaves with it (it would otherwise still show its page)."""
    app_url, database_url = exit_server
    page, copied = _logged_in(context, app_url, THERAPIST[0])
    other_tab = context.new_page()
    open_app(other_tab, app_url + "/account")
    expect(other_tab.get_by_role("heading", name="Your account").first).to_be_visible()
    page.bring_to_front()
    page.get_by_role("button", name="Quick exit").click()
    expect(other_tab).to_have_url(neutral_site)
    _assert_left_for_good(page, app_url, neutral_site, copied)
    assert _live_logins(database_url, THERAPIST[0]) == 0


def test_the_login_page_has_it_first_in_tab_order_at_the_same_place_as_inside(
    exit_server: tuple[str, str], neutral_site: str, page: Page
) -> None:
    """Logged out it is there too, the first stop of the Tab key, on top of everything, and in the same
    spot before and after logging in; Enter on it leaves."""
    app_url, _ = exit_server
    page.set_viewport_size({"width": 1200, "height": 800})
    open_app(page, app_url + "/progress")  # a deep link, logged out
    button = page.get_by_role("button", name="Quick exit")
    expect(button).to_be_visible()
    outside = button.bounding_box()
    on_top = page.evaluate(
        """id => { const b = document.getElementById(id).getBoundingClientRect();
                   return document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2).id; }""",
        BUTTON_ID,
    )
    assert on_top == BUTTON_ID
    log_in(page, ALEX[0], DEMO_PASSWORD)
    open_menu_page(page, "Our progress")
    assert button.bounding_box() == outside
    page.reload()
    wait_for_app_loaded(page)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == BUTTON_ID
    page.keyboard.press("Enter")
    expect(page).to_have_url(neutral_site)
