"""What a person does in the browser, as steps the browser tests share."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

PASSWORD = "a long enough browser passphrase"


def wait_idle(page: Page) -> None:
    """Wait until Streamlit has finished the current run and nothing on screen is stale."""
    # Chromium pauses pages in background windows, and with them the cookie component; keep this one in front.
    page.bring_to_front()
    app = page.locator('[data-testid="stApp"]')
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=20_000)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=20_000)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=20_000)


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
    if password == PASSWORD:  # the cookie component reruns the app once the cookie is stored
        expect(
            page.get_by_role("button", name="Log out").or_(page.get_by_test_id("stAlertContentError"))
        ).to_be_visible()
        wait_idle(page)


def open_menu_page(page: Page, title: str) -> None:
    """Follow a link in the sidebar menu."""
    page.bring_to_front()
    page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
    wait_idle(page)


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
