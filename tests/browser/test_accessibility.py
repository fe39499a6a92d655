"""axe-core finds no serious or critical accessibility problem in our own content."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.actions import log_in, open_app, open_menu_page, register, serious_accessibility_problems


@pytest.mark.parametrize(
    "menu_page", ["Home", "Assessment", "Talking and listening (locked)", "Weekly check-in"]
)
def test_pages_have_no_serious_accessibility_violations(
    page: Page, server: str, axe_script: Path, menu_page: str
) -> None:
    """The home page, a stage, the assessment and the check-in pass axe-core's serious and critical rules."""
    open_app(page, server)
    assert serious_accessibility_problems(page, axe_script) == []  # the login page too
    username = f"axe-{menu_page.split()[0].lower()}"
    register(page, "Alex", username, "a partner in a couple")
    log_in(page, username)
    open_menu_page(page, menu_page)
    assert serious_accessibility_problems(page, axe_script) == []
