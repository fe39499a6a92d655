"""In a real browser, hostile display names show as text: no link, image or styled element comes from them,
and the browser never contacts the host they name (a remote image in a name is a tracking pixel)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, expect
from sqlmodel import Session, select

from program.infra.db import create_db_engine
from program.infra.models import Person
from program.ops.demo import ALEX, DEMO_PASSWORD, SAM, THERAPIST
from tests.browser import conftest as browser_setup
from tests.browser.actions import log_in, open_couple, open_menu_page, wait_idle

HOST = "evil.example"
# Each at most 80 characters (the column's size); written straight into the database, as an account made
# before the display-name rule may still hold such a name.
NAMES = {
    ALEX[0]: "![t](http://evil.example/a.png)[Reset](http://evil.example/r) %{y}",
    SAM[0]: '<a href="http://evil.example/s">Sam</a><img src="http://evil.example/i.png">',
    THERAPIST[0]: '<span style="position:fixed;outline:9px red">Dr</span>![](http://evil.example/t)',
}
# Attributes through which a name would make a link, load something or cover the page.
FROM_NAMES = """() => [...document.querySelectorAll('*')].flatMap(element =>
    ['href', 'src', 'srcset', 'xlink:href', 'style', 'action', 'poster']
      .map(name => [element.tagName, name, element.getAttribute(name) || ''])
      .filter(([, name, value]) => value.includes('evil.example') ||
        (name === 'style' && value.replace(/\\s/g, '').includes('outline:9px'))))"""


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The demo couple and therapist, renamed to hostile names, on a fresh server (first run done)."""
    urls: list[str] = []
    with browser_setup._serve(
        tmp_path_factory.mktemp("hostile-server"), demo=True, browser=browser, database_urls=urls
    ) as url:
        engine = create_db_engine(urls[0])
        with Session(engine) as session:
            for person in session.exec(select(Person).where(Person.username.in_(NAMES))):  # type: ignore[attr-defined]
                person.display_name = NAMES[person.username]
                session.add(person)
            session.commit()
        engine.dispose()
        yield url


@pytest.fixture
def requests_made(page: Page) -> list[str]:
    """Every URL the page asks for."""
    urls: list[str] = []

    def note(request: Request) -> None:
        urls.append(request.url)

    page.on("request", note)
    return urls


def _texts(page: Page, selector: str) -> list[str]:
    """What a reader sees in these elements (word joiners are invisible: program.ui.text.md adds them)."""
    texts: list[str] = page.eval_on_selector_all(
        selector, "elements => elements.map(e => e.textContent.replaceAll('\\u2060', ''))"
    )
    return texts


def _charts_drawn(page: Page) -> None:
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(7)  # the demo draws every couple chart
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(c => c.querySelector('.js-plotly-plot .main-svg'))"""
    )


def test_a_partner_sees_the_others_hostile_name_as_text(
    hostile_server: str, page: Page, requests_made: list[str]
) -> None:
    """On "Our progress", Sam's name (a link and an image) appears as the characters typed, in captions and
    the chart legends, and nothing on the page links to or loads from the host it names."""
    page.goto(hostile_server)
    wait_idle(page)
    log_in(page, ALEX[0], DEMO_PASSWORD)
    open_menu_page(page, "Our progress")
    _charts_drawn(page)
    wait_idle(page)
    assert page.evaluate(FROM_NAMES) == []
    assert any(NAMES[SAM[0]] in caption for caption in _texts(page, '[data-testid="stCaptionContainer"]'))
    legends = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .legendtext')]
                 .map(text => text.textContent)"""
    )
    assert NAMES[SAM[0]] in legends and NAMES[ALEX[0]] in legends
    assert [url for url in requests_made if HOST in url] == []


def test_a_therapist_opens_a_couple_with_hostile_names_safely(
    hostile_server: str, page: Page, requests_made: list[str]
) -> None:
    """The caseload and the opened couple show the partners' names as text, with no link, image or
    covering element from them, and no request to their host."""
    page.goto(hostile_server)
    wait_idle(page)
    log_in(page, THERAPIST[0], DEMO_PASSWORD)
    assert page.evaluate(FROM_NAMES) == []
    open_couple(page, None)
    _charts_drawn(page)
    wait_idle(page)
    assert page.evaluate(FROM_NAMES) == []
    assert any(NAMES[SAM[0]] in heading for heading in _texts(page, '[data-testid="stMain"] h2'))
    assert [url for url in requests_made if HOST in url] == []
