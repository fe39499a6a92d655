"""On a phone (390 x 844, touch): choosing a page in the menu closes the menu, so the page is seen, and no
page is wider than the screen. A screenshot of each page is kept under the test's tmp path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from program.ops.demo import ALEX, DEMO_PASSWORD, THERAPIST
from tests.browser.actions import (
    close_menu_on_phone,
    log_in,
    open_app,
    open_couple,
    open_menu_on_phone,
    register,
    wait_idle,
)

WIDTH, HEIGHT = 390, 844
# A phone's browser says it is one; Chrome on Android, since the engine is chromium.
PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36"
)

# Every visible element whose right edge passes the screen's, as "tag#test-id.class: right px text".
# Skipped: content inside a box meant to scroll sideways (a dataframe's grid, a code block, a wide table) or
# clipped by such a box (Plotly's own svg clip paths), as long as that box itself fits the screen.
# Streamlit's app-level scrollers (main, the view container) do not count as such boxes: content overflowing
# them is exactly the page being wider than the screen. Text in a chart is never skipped: a label or title
# that runs past the screen's edge (either one) is cut off, which is what a person notices; the line names
# the chart by its title.
_OVERFLOWING_JS = """
() => {
  const limit = window.innerWidth + 1;
  const appLevel = new Set(["stApp", "stAppViewContainer", "stMain", "stAppScrollToBottomContainer"]);
  function clippedBySafeBox(element) {
    for (let box = element.parentElement; box && box !== document.body; box = box.parentElement) {
      if (appLevel.has(box.dataset.testid)) return false;
      const style = getComputedStyle(box);
      const clips = ["auto", "scroll", "hidden", "clip"].includes(style.overflowX);
      if ((clips || box.tagName.toLowerCase() === "svg") && box.getBoundingClientRect().right <= limit) {
        return true;
      }
    }
    return false;
  }
  const found = [];
  for (const element of document.body.querySelectorAll("*")) {
    const rect = element.getBoundingClientRect();
    const tag = element.tagName.toLowerCase();
    const chartText = element instanceof SVGTextElement;
    if (rect.width === 0 || rect.height === 0) continue;
    if (rect.right <= limit && !(chartText && rect.left < -1)) continue;
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || style.display === "none") continue;
    if (element.closest('[data-testid="stSidebar"][data-collapsed="true"]')) continue;
    if (!chartText && clippedBySafeBox(element)) continue;
    const testId = element.dataset && element.dataset.testid ? "#" + element.dataset.testid : "";
    const className = String(element.className.baseVal ?? element.className).split(" ")[0];
    const text = (element.textContent || "").trim().slice(0, 40);
    const chart = element.closest('[data-testid="stPlotlyChart"]');
    const title = chart ? ` (in the chart "${chart.querySelector(".gtitle")?.textContent ?? ""}")` : "";
    found.push(`${tag}${testId}.${className}: ${Math.round(rect.left)} to ${Math.round(rect.right)}px ` +
               `${text}${title}`);
  }
  return found;
}
"""

_IN_CHART = " (in the chart "

# The widths of the document and of Streamlit's scrolling main area, against the screen's.
_WIDTHS_JS = """
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return {
    screen: window.innerWidth,
    document: document.documentElement.scrollWidth,
    main: main ? main.scrollWidth : 0,
    mainBox: main ? main.clientWidth : 0,
  };
}
"""


@contextmanager
def _phone_page(browser: Browser) -> Iterator[Page]:
    """A page in a phone-sized, touch browser context of its own."""
    context = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT},
        screen={"width": WIDTH, "height": HEIGHT},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=3,
        user_agent=PHONE_USER_AGENT,
    )
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page in a phone-sized, touch browser context of its own."""
    with _phone_page(browser) as page:
        yield page


def _misfits(page: Page, shots: Path, name: str) -> tuple[list[str], list[str]]:
    """Screenshot the page, then list what is wider than the screen: (the page's own elements, text in its
    charts). Each line names the page and the screenshot."""
    shot = shots / f"{name}.png"
    page.screenshot(path=str(shot))
    widths: dict[str, Any] = page.evaluate(_WIDTHS_JS)
    assert widths["screen"] == WIDTH, widths
    problems = []
    if widths["document"] > WIDTH or widths["main"] > widths["mainBox"] + 1:
        problems.append(f"{name}: the page scrolls sideways {widths} (see {shot})")
    lines: list[str] = page.evaluate(_OVERFLOWING_JS)
    problems += [f"{name}: {line} (see {shot})" for line in lines if _IN_CHART not in line]
    charts = [f"{name}: {line} (see {shot})" for line in lines if _IN_CHART in line]
    return problems, charts


def _wait_for_charts(page: Page) -> None:
    """Wait until the page's charts (one at least) are drawn: Plotly draws a moment after the run ends."""
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(c => c.querySelector('.js-plotly-plot .main-svg'))"""
    )


def _menu_links(page: Page) -> list[tuple[str, str]]:
    """(path, label) of each page in the sidebar menu, in order. The default page's link is the app's base
    URL (an empty href): read this while on the first page, whose path is that base."""
    links: list[list[str]] = page.evaluate(
        """() => [...document.querySelectorAll(
                     '[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]')]
                 .map(a => [new URL(a.href).pathname, a.innerText.trim()])"""
    )
    return [(path.strip("/"), label) for path, label in links]


def _choose_on_phone(page: Page, index: int, path: str) -> None:
    """Open the menu, tap its entry number `index`, and check that the page at `path` opened (a tap lost to
    a run still being drawn is tried again)."""
    for _ in range(3):
        open_menu_on_phone(page)
        page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink").nth(index).tap()
        wait_idle(page)
        if urlparse(page.url).path.strip("/") == path:
            return
        close_menu_on_phone(page)
    raise AssertionError(f"the menu link to {path!r} did not open its page (at {page.url})")


def _check_page_in_view(page: Page, shots: Path, name: str) -> None:
    """The menu is closed, and the page's title is on screen, not under the menu."""
    sidebar = page.get_by_test_id("stSidebar")
    shot = shots / f"{name}.png"
    page.screenshot(path=str(shot))
    assert sidebar.get_attribute("data-collapsed") == "true", f"{name}: the menu is still open; see {shot}"
    title = page.get_by_test_id("stMain").locator("h1").first
    expect(title).to_be_in_viewport()
    covered: bool = title.evaluate(
        """h => { const r = h.getBoundingClientRect();
                  const top = document.elementFromPoint(r.left + 5, r.top + r.height / 2);
                  return !(top && h.contains(top)); }"""
    )
    assert not covered, f"{name}: something covers the page title; see {shot}"
    expect(page.get_by_test_id("stExpandSidebarButton")).to_be_visible()  # the menu can be opened again


def test_the_login_page_fits_a_phone(demo_server: str, phone: Page, tmp_path: Path) -> None:
    """Logged out, the login page and its tabs fit a 390 px screen."""
    open_app(phone, demo_server)
    problems: list[str] = []
    for tab in ("Create an account", "Reset password", "Log in"):
        phone.get_by_role("tab", name=tab).tap()
        wait_idle(phone)
        own, charts = _misfits(phone, tmp_path, f"login-{tab.lower().replace(' ', '-')}")
        problems += own + charts
    assert problems == [], "wider than the screen:\n" + "\n".join(problems)
    # The check is not blind: a block wider than the screen in the page is reported, by name.
    phone.evaluate(
        """() => { const wide = document.createElement("div");
                   wide.style.width = "500px"; wide.textContent = "wide";
                   document.querySelector('[data-testid="stMainBlockContainer"]').append(wide); }"""
    )
    own, _ = _misfits(phone, tmp_path, "wide-block")
    assert any(line.startswith("wide-block: div.: ") and "px wide (see" in line for line in own), own


def test_a_partner_on_a_phone_sees_each_page_chosen_in_the_menu(
    demo_server: str, phone: Page, tmp_path: Path
) -> None:
    """The demo partner opens the menu and taps each page in turn: the menu closes, the page's title is in
    view, and nothing of the page but its charts' text (the next test) is wider than the screen."""
    open_app(phone, demo_server)
    log_in(phone, ALEX[0], DEMO_PASSWORD)
    links = _menu_links(phone)
    paths = [path for path, _ in links]
    assert {"progress", "checkin", "account"} <= set(paths), links
    problems: list[str] = []
    # The first page is open after logging in: choose it last, so that each choice changes the page.
    for index in [*range(1, len(paths)), 0]:
        path = paths[index]
        name = f"partner-{path or 'home'}"
        _choose_on_phone(phone, index, path)
        if path == "progress":
            _wait_for_charts(phone)
        _check_page_in_view(phone, tmp_path, name)
        problems += _misfits(phone, tmp_path, name)[0]
    assert problems == [], "wider than the screen:\n" + "\n".join(problems)


def test_a_long_unbroken_name_fits_a_phone(demo_server: str, phone: Page, tmp_path: Path) -> None:
    """A person whose name is one 80-letter word (the longest allowed) sees it wrapped, not running off the
    screen: on the home and account pages, and in the open menu's "Signed in as"."""
    name = "Wolfeschlegelsteinhausenbergerdorff" * 3
    name = name[:80]
    open_app(phone, demo_server)
    register(phone, name, "phone-long-name", "a partner in a couple")
    log_in(phone, "phone-long-name")
    expect(phone.get_by_test_id("stSidebar")).to_contain_text(name)
    problems = _misfits(phone, tmp_path, "long-name-home")[0]
    paths = [path for path, _ in _menu_links(phone)]
    _choose_on_phone(phone, paths.index("account"), "account")
    problems += _misfits(phone, tmp_path, "long-name-account")[0]
    open_menu_on_phone(phone)
    problems += _misfits(phone, tmp_path, "long-name-menu-open")[0]
    assert problems == [], "wider than the screen:\n" + "\n".join(problems)


def _couple_view(page: Page) -> None:
    """As the therapist, open the demo couple from the couples page."""
    open_couple(page, "Alex & Sam", tap=True)
    _wait_for_charts(page)


def test_a_therapist_on_a_phone_sees_the_couple_view(demo_server: str, phone: Page, tmp_path: Path) -> None:
    """The demo therapist chooses the couples page in the menu (the menu closes), opens the couple: the
    pages fit the screen, but for their charts' text (the next test)."""
    open_app(phone, demo_server)
    log_in(phone, THERAPIST[0], DEMO_PASSWORD)
    paths = [path for path, _ in _menu_links(phone)]
    assert paths[1:] == ["account"], paths
    _choose_on_phone(phone, 1, "account")
    _check_page_in_view(phone, tmp_path, "therapist-account")
    problems = _misfits(phone, tmp_path, "therapist-account")[0]
    _choose_on_phone(phone, 0, paths[0])
    _check_page_in_view(phone, tmp_path, "therapist-couples")
    _couple_view(phone)
    problems += _misfits(phone, tmp_path, "therapist-couple-view")[0]
    assert problems == [], "wider than the screen:\n" + "\n".join(problems)


def test_chart_text_stays_on_a_phone_screen(demo_server: str, browser: Browser, tmp_path: Path) -> None:
    """No title, axis title, tick or bar label of a chart runs past the edge of a 390 px screen, on the
    partner's progress page or in the therapist's couple view."""
    problems: list[str] = []
    for username, name in ((ALEX[0], "partner-progress"), (THERAPIST[0], "therapist-couple-view")):
        with _phone_page(browser) as page:
            open_app(page, demo_server)
            log_in(page, username, DEMO_PASSWORD)
            if username == ALEX[0]:
                _choose_on_phone(page, [path for path, _ in _menu_links(page)].index("progress"), "progress")
                _wait_for_charts(page)
            else:
                _couple_view(page)
            problems += _misfits(page, tmp_path, name)[1]
    assert problems == [], "chart text cut off at the screen's edge:\n" + "\n".join(problems)
