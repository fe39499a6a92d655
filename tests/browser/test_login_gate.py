"""The real server in a real browser: nothing behind the login, and a full register-login-logout round."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.actions import (
    PASSWORD,
    log_in,
    open_app,
    register,
    wait_for_app_loaded,
    wait_for_login_form_after_dead_cookie,
    wait_idle,
)
from tests.ui.helpers import PAGE_FILES

# Every URL a page can be reached at, routed (url_path) or by its file name (folder mode on a fresh server).
PAGE_URLS = sorted(
    {"/home", "/account", "/couples", *(f"/{p.removeprefix('pages/')[:-3]}" for p in PAGE_FILES)}
)


@pytest.mark.parametrize("path", PAGE_URLS)
def test_every_page_url_on_a_fresh_server_shows_only_the_login_form(
    server: str, page: Page, path: str
) -> None:
    """Logged out, each page's URL shows the login form and none of the page's own content."""
    open_app(page, server + path)
    expect(page.get_by_role("heading", name="Kindred").first).to_be_visible()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    for private_heading in ("Your couples", "Your account", "Hello"):
        expect(page.get_by_role("heading", name=private_heading)).to_have_count(0)


def test_a_partner_registers_logs_in_stays_in_on_reload_and_logs_out(server: str, page: Page) -> None:
    """Register, log in, reload (the cookie logs in again), then log out and land on the login form."""
    open_app(page, server)
    register(page, "Robin", "robin", "a partner in a couple")
    log_in(page, "robin", "wrong password here")
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("don't match")
    log_in(page, "robin", PASSWORD)
    expect(page.get_by_role("heading", name="Hello, Robin").first).to_be_visible(timeout=20_000)
    page.reload()
    wait_for_app_loaded(page)
    expect(page.get_by_role("heading", name="Hello, Robin").first).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Log out").click()
    wait_for_login_form_after_dead_cookie(page)
    expect(page.get_by_role("heading", name="Hello, Robin")).to_have_count(0)


def test_a_therapist_is_routed_to_their_couples(server: str, page: Page) -> None:
    """A therapist who logs in lands on their couples page, which (until the operator approves the new
    account) says whom to ask and with what command, and can open their account page."""
    open_app(page, server)
    register(page, "Dr Kim", "dr.kim", "a therapist")
    log_in(page, "dr.kim", PASSWORD)
    expect(page.get_by_role("heading", name="Your couples").first).to_be_visible(timeout=20_000)
    expect(page.get_by_text("python -m program approve-therapist dr.kim")).to_be_visible()
    page.get_by_role("link", name="Your account").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Your account").first).to_be_visible()
    expect(page.get_by_text("dr.kim", exact=True)).to_be_visible()
