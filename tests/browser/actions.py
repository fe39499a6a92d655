"""What a person does in the browser, as steps the browser tests share."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Page, expect

PASSWORD = "a long enough browser passphrase"

# The one limit for every wait in the browser tests, as in Streamlit's own e2e tests: generous enough for a
# run on a machine busy with other work, where a first script run or a rerun after many clicks has been seen
# to take well over the 5 s that Playwright's assertions wait by default. conftest.py makes it their default.
TIMEOUT_MS = 30_000
# A click or a keystroke reaches the server a moment after Playwright returns from it; until the rerun it asks
# for has begun, the app still reports the previous run as finished. Streamlit's tests pause this long first.
RUN_START_MS = 210


def wait_for_app_run(
    page: Page, *, wait_delay: int = 100, initial_wait: int = RUN_START_MS, timeout: int = TIMEOUT_MS
) -> None:
    """Wait for the run a step may have started to end: connected, not running, nothing loading or stale."""
    # Chromium pauses pages in background windows, and with them the cookie component; keep this one in front.
    page.bring_to_front()
    page.wait_for_timeout(initial_wait)
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=timeout)
    if wait_delay > 0:  # the last elements of a run are drawn just after it reports itself finished
        page.wait_for_timeout(wait_delay)


def wait_for_app_loaded(page: Page, *, timeout: int = TIMEOUT_MS) -> None:
    """Wait for a page just opened (or reloaded) to show the app and finish its first run."""
    expect(page.get_by_test_id("stAppViewContainer")).to_be_attached(timeout=timeout)
    wait_for_app_run(page, timeout=timeout)


def open_app(page: Page, url: str) -> None:
    """Go to a URL of the app and wait for its first run to finish."""
    page.goto(url)
    wait_for_app_loaded(page)


def wait_idle(page: Page) -> None:
    """Wait until Streamlit has finished the current run (the name the other browser tests use)."""
    wait_for_app_run(page)


def wait_for_cookie_gone(page: Page, name: str = "kindred_session", *, timeout: int = TIMEOUT_MS) -> None:
    """Wait until the browser no longer holds this cookie: the cookie component deletes it in a run of its
    own after a logout, a moment after the page already says "logged out" (slower on a busy machine)."""
    deadline = time.monotonic() + timeout / 1000
    while any(cookie.get("name") == name for cookie in page.context.cookies()):
        assert time.monotonic() < deadline, f"the browser still holds the {name} cookie"
        page.wait_for_timeout(100)  # the poll interval, not a limit


def wait_for_login_form_after_dead_cookie(page: Page) -> None:
    """A page opened with a login cookie the server no longer honours: the cookie component deletes the
    cookie and reruns the page. Once that run is drawn there is one login form; under load the first run's
    form had been caught beside the rerun's."""
    page.bring_to_front()  # a page in a background window is paused, and its cookie component with it
    wait_for_cookie_gone(page)
    wait_for_app_run(page)
    login = page.get_by_role("button", name="Log in")
    expect(login).to_have_count(1)
    expect(login).to_be_visible()


def register(page: Page, name: str, username: str, role_label: str) -> None:
    """Create an account on the login page's registration tab."""
    page.get_by_role("tab", name="Create an account").click()
    form = page.locator('[data-testid="stForm"]').filter(has_text="Create account")
    form.get_by_text(role_label).click()
    form.get_by_label("What should we call you?", exact=True).fill(name)
    form.get_by_label("Username", exact=True).fill(username)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Type the password again", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    wait_idle(page)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Your account is ready")


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Submit the login form, and wait for the page that follows it."""
    page.bring_to_front()
    page.get_by_role("tab", name="Log in").click()
    form = page.locator('[data-testid="stForm"]').filter(has_text="Log in")
    form.get_by_label("Username", exact=True).fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Log in").click()
    wait_idle(page)
    # A login that succeeds is followed by one more run, when the cookie component has stored the cookie;
    # a click made before it ends is lost. Wait for the page after it, or for the refusal.
    expect(
        page.get_by_role("button", name="Log out").or_(page.get_by_test_id("stAlertContentError")).first
    ).to_be_visible()
    wait_idle(page)


def open_menu_page(page: Page, title: str) -> None:
    """Follow a link in the sidebar menu, and check that the page changed.

    A click that lands while a run started by something else is still being drawn (the cookie component's
    run after a login, say) can be lost on a busy machine; then the link is followed again.
    """
    page.bring_to_front()
    link = page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True)
    path = (link.get_attribute("href") or "").strip("/")
    for _ in range(3):
        link.click()
        wait_idle(page)
        if urlparse(page.url).path.strip("/") == path:
            return
    raise AssertionError(f"the menu link {title!r} did not open its page (at {page.url})")


def fill_and_submit(page: Page, label: str, value: str, button: str) -> None:
    """Type into one labelled input and press a button."""
    page.bring_to_front()
    page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name=button).click()
    wait_idle(page)


def serious_accessibility_problems(page: Page, axe_script: Path) -> list[str]:
    """Run axe-core on the page's own content and list serious or critical violations, one line each."""
    page.add_script_tag(path=str(axe_script))
    # Streamlit's own frame (toolbar, sidebar collapse control) is outside what our content controls.
    results = page.evaluate(
        """async () => await axe.run(document.querySelector('[data-testid="stMain"]'),
                                     {resultTypes: ['violations']})"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def open_menu_on_phone(page: Page) -> None:
    """On a narrow screen, where the menu starts closed, tap the header's button that opens it."""
    page.bring_to_front()
    sidebar = page.get_by_test_id("stSidebar")
    if sidebar.get_attribute("data-collapsed") == "true":
        page.get_by_test_id("stExpandSidebarButton").tap()
    expect(sidebar).to_have_attribute("data-collapsed", "false")
    expect(sidebar.get_by_test_id("stPageLink-NavLink").first).to_be_in_viewport()


def close_menu_on_phone(page: Page) -> None:
    """Close the menu, if it is open, as a person does on a phone: tap the page beside it.

    (Its own close button shows only while a mouse hovers over the menu, and the quick exit button sits
    over it on a narrow screen.)
    """
    sidebar = page.get_by_test_id("stSidebar")
    if sidebar.get_attribute("data-collapsed") == "false":
        viewport = page.viewport_size or {"width": 390, "height": 844}
        page.touchscreen.tap(viewport["width"] - 8, viewport["height"] // 2)
    expect(sidebar).to_have_attribute("data-collapsed", "true")


def open_couple(page: Page, names: str | None, *, tap: bool = False) -> None:
    """As a therapist on "Your couples", open one couple by its names ("Alex & Sam"; None: the first one
    listed) with the "Open a couple" box and its "Open" button, and wait for the couple view."""
    main = page.get_by_test_id("stMain")
    box = main.get_by_test_id("stSelectbox").filter(has_text="Open a couple").get_by_role("combobox")
    box.tap() if tap else box.click()
    options = page.get_by_role("option")
    option = options.first if names is None else options.filter(has_text=names)
    option.tap() if tap else option.click()
    # (The select box's own arrow is a button named "Open" too.)
    button = main.get_by_test_id("stButton").get_by_role("button", name="Open", exact=True)
    button.tap() if tap else button.click()
    wait_for_app_run(page)
    expect(page.get_by_role("switch", name="Presentation mode")).to_be_visible()
    if names is not None:
        expect(page.get_by_role("heading", name=names).first).to_be_visible()
