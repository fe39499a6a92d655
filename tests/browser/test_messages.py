"""In a real browser: after "Log out" the login page says so and the sidebar is gone, and a reload stays
logged out (the cookie was deleted); a device whose login was ended from another device is told so when it
comes back, which only a real browser can show (it is its cookie that comes back)."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from program.ops.demo import DEMO_PASSWORD, SAM
from program.ui.gate import LOGGED_OUT
from tests.browser.actions import (
    log_in,
    open_app,
    wait_for_app_loaded,
    wait_for_cookie_gone,
    wait_for_login_form_after_dead_cookie,
    wait_idle,
)

SIGNED_OUT_HERE = "You were signed out on this device"


def test_logging_out_says_so_empties_the_sidebar_and_a_reload_stays_out(demo_server: str, page: Page) -> None:
    """Log out: "You are logged out.", no sidebar at all; reload: the login form, with no notice of a login
    ended elsewhere (the browser no longer holds the cookie)."""
    open_app(page, demo_server)
    log_in(page, SAM[0], DEMO_PASSWORD)
    expect(page.get_by_test_id("stSidebar")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    wait_idle(page)
    expect(page.get_by_text(LOGGED_OUT)).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    wait_for_cookie_gone(page)
    page.reload()
    wait_for_app_loaded(page)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    expect(page.get_by_text(SIGNED_OUT_HERE)).to_have_count(0)


def test_a_device_signed_out_elsewhere_is_told_when_it_comes_back(demo_server: str, browser: Browser) -> None:
    """Sam is logged in on a laptop and a phone; on the phone, "Sign out everywhere". The laptop, reloaded,
    shows the login page saying it was signed out, and no sidebar."""
    laptop = browser.new_context().new_page()
    phone = browser.new_context().new_page()
    try:
        for device in (laptop, phone):
            open_app(device, demo_server)
            log_in(device, SAM[0], DEMO_PASSWORD)
        open_app(phone, demo_server.rstrip("/") + "/account")
        phone.get_by_role("button", name="Sign out everywhere").click()
        wait_idle(phone)
        expect(phone.get_by_text("You are signed out on every device.")).to_be_visible()
        laptop.reload()
        wait_for_app_loaded(laptop)
        expect(laptop.get_by_text(SIGNED_OUT_HERE)).to_be_visible()
        wait_for_login_form_after_dead_cookie(laptop)
        expect(laptop.get_by_test_id("stSidebar")).to_have_count(0)
    finally:
        laptop.context.close()
        phone.context.close()
