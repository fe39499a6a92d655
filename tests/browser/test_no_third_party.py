"""No request leaves the app's origin: every page of each role, and the login page, load only from Kindred's
own host (a remote font, image, script or analytics call would tell a third party who uses Kindred)."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Request, expect

from program.infra.models import Role
from program.ops.demo import ALEX, DEMO_PASSWORD, THERAPIST
from program.ui.navigation import LOCKED_SUFFIX, PARTNER_PAGES, THERAPIST_PAGES
from tests.browser.actions import log_in, open_app, open_couple, open_menu_page, wait_idle


def _recorded(context: BrowserContext) -> list[str]:
    """Every URL the pages of this browser context request from now on (documents, scripts, sockets...)."""
    urls: list[str] = []

    def note(request: Request) -> None:
        urls.append(request.url)

    context.on("request", note)
    # WebSockets are not requests to Playwright; each page reports its own.
    context.on("page", lambda page: page.on("websocket", lambda socket: urls.append(socket.url)))
    return urls


def _foreign(urls: list[str], app_url: str) -> list[str]:
    """The URLs that are not the app's own origin (data: needs no request; blob: URLs carry their origin)."""
    own = urlsplit(app_url)
    foreign = []
    for url in urls:
        parts = urlsplit(url.removeprefix("blob:"))
        if parts.scheme == "data":
            continue
        if (parts.hostname, parts.port) != (own.hostname, own.port):
            foreign.append(url)
    return foreign


def _menu_titles(page: Page, role: Role) -> list[str]:
    """The titles of this role's pages that the sidebar menu shows."""
    table = PARTNER_PAGES if role == Role.PARTNER else THERAPIST_PAGES
    menu = page.get_by_test_id("stSidebar")
    # The menu is drawn by the run after login; wait for its first entry before counting the rest.
    expect(menu.get_by_role("link", name=table[0][1], exact=True)).to_be_visible()
    # A stage not open yet is in the menu as "<title> (locked)".
    labels = [label for _, title, *_ in table for label in (title, title + LOCKED_SUFFIX)]
    return [label for label in labels if menu.get_by_role("link", name=label, exact=True).count()]


def test_the_login_page_loads_only_from_the_app(demo_server: str, context: BrowserContext) -> None:
    """Logged out, the login page and its three tabs request nothing from anywhere else."""
    urls = _recorded(context)
    page = context.new_page()
    open_app(page, demo_server)
    for tab in ("Create an account", "Reset password", "Log in"):
        page.get_by_role("tab", name=tab).click()
        wait_idle(page)
    assert len(urls) > 5, urls  # the recorder saw the page load
    assert _foreign(urls, demo_server) == []


def test_every_partner_page_loads_only_from_the_app(demo_server: str, context: BrowserContext) -> None:
    """The demo partner opens every page of the menu; every request goes to the app's own host."""
    urls = _recorded(context)
    page = context.new_page()
    open_app(page, demo_server)
    log_in(page, ALEX[0], DEMO_PASSWORD)
    titles = _menu_titles(page, Role.PARTNER)
    assert {"Home", "Our progress", "Weekly check-in", "Your account"} <= set(titles), titles
    for title in titles:
        open_menu_page(page, title)
    page.wait_for_function(  # charts drawn (Plotly loads its own code and fonts when it draws)
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(c => c.querySelector('.js-plotly-plot .main-svg'))"""
    )
    assert any("_stcore/stream" in url for url in urls), urls
    assert _foreign(urls, demo_server) == []


def test_every_therapist_page_loads_only_from_the_app(demo_server: str, context: BrowserContext) -> None:
    """The demo therapist opens their couples, the couple's view with its charts, and their account."""
    urls = _recorded(context)
    page = context.new_page()
    open_app(page, demo_server)
    log_in(page, THERAPIST[0], DEMO_PASSWORD)
    open_couple(page, "Alex & Sam")
    wait_idle(page)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(7)  # the demo draws every couple chart
    titles = _menu_titles(page, Role.THERAPIST)
    assert titles == ["Your couples", "Your account"], titles
    for title in titles:
        open_menu_page(page, title)
    assert _foreign(urls, demo_server) == []
