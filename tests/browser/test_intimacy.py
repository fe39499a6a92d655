"""In a real browser: Ana and Ben each choose the intimacy module on their home page, mark the wishes list
on their own screens, and both then see only the ideas they both marked yes or maybe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from program.course import intimacy, questionnaires
from program.infra.db import create_db_engine
from program.ui import intimacy as ui
from tests.browser import conftest as browser_setup
from tests.browser.actions import TIMEOUT_MS, log_in, open_app, open_menu_page, wait_idle
from tests.factories import PASSWORD, make_couple, make_person
from tests.program_helpers import PROGRAM, answer_all

TEXT = intimacy.content()
WISHES = TEXT.wishes.items
# Ana's and Ben's marks on the first five ideas; the rest they leave unmarked.
ANA = {WISHES[0].key: "Yes", WISHES[1].key: "Maybe", WISHES[2].key: "Yes", WISHES[3].key: "No"}
BEN = {WISHES[0].key: "Maybe", WISHES[1].key: "Yes", WISHES[2].key: "No", WISHES[3].key: "Yes",
       WISHES[4].key: "Yes"}  # fmt: skip
COMMON = [WISHES[0].text, WISHES[1].text]
NEVER_COMMON = [w.text for w in WISHES[2:]]


@pytest.fixture(scope="module")
def couple_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """A fresh server with Ana and Ben, who have both finished Staying close."""
    urls: list[str] = []
    with browser_setup._serve(
        tmp_path_factory.mktemp("intimacy-server"), demo=False, browser=browser, database_urls=urls
    ) as url:
        engine: Engine = create_db_engine(urls[0])
        ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
        make_couple(engine, ana, ben)
        check = PROGRAM.stage_by_key[intimacy.LAST_STAGE].check
        for who in (ana, ben):
            answer_all(engine, who, check, questionnaires.stage_occasion(intimacy.LAST_STAGE, "end"), 6)
        yield url
        engine.dispose()


def _log_in(page: Page, url: str, username: str) -> None:
    open_app(page, url)
    log_in(page, username, PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    wait_idle(page)


def _choose_yes(page: Page) -> None:
    expect(page.get_by_text(TEXT.offer)).to_be_visible()
    question = page.get_by_test_id("stRadio").filter(has_text=TEXT.choice_question)
    question.get_by_text(ui.CHOICE_LABELS["yes"], exact=True).click()
    page.get_by_role("button", name=ui.SAVE_CHOICE).click()
    wait_idle(page)


def _menu(page: Page) -> str:
    text: str = page.get_by_test_id("stSidebar").inner_text()
    return text


def _mark_and_finish(page: Page, marks: dict[str, str]) -> None:
    open_menu_page(page, "Intimacy")
    expect(page.get_by_text(ui.COMMON_WAITING)).to_be_visible()
    for wish in WISHES:
        if wish.key in marks:
            question = page.get_by_test_id("stRadio").filter(has_text=wish.text)
            question.get_by_text(marks[wish.key], exact=True).click()  # no run: the radios sit in a form
    page.get_by_role("button", name=ui.FINISH).click()
    wait_idle(page)
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("Your list is finished")


def _common(page: Page) -> str:
    """What the page shows under "What you both chose" (the form's own labels come before it)."""
    heading = page.get_by_role("heading", name="What you both chose").first
    expect(heading).to_be_visible(timeout=TIMEOUT_MS)
    text: str = page.get_by_test_id("stMain").inner_text()
    return text.split("What you both chose", 1)[1]


def test_both_opt_in_and_see_only_their_common_wishes(
    page: Page, browser: Browser, couple_server: str
) -> None:
    """Ana's yes opens nothing and says only that it opens when both choose it; Ben's yes opens it for
    both; after both finished their lists each sees the two ideas both marked yes or maybe, no other."""
    _log_in(page, couple_server, "ana")
    _choose_yes(page)
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_have_text(ui.SAVED_CLOSED)
    assert "Intimacy" not in _menu(page)

    ben_context = browser.new_context()
    try:
        ben_page = ben_context.new_page()
        _log_in(ben_page, couple_server, "ben")
        _choose_yes(ben_page)
        expect(ben_page.get_by_test_id("stAlertContentSuccess").first).to_have_text(ui.SAVED_OPEN)
        _mark_and_finish(ben_page, BEN)
        expect(ben_page.get_by_text(ui.COMMON_WAITING)).to_be_visible()

        page.reload()
        wait_idle(page)
        _mark_and_finish(page, ANA)
        ben_page.reload()
        wait_idle(ben_page)
        for shown in (_common(page), _common(ben_page)):
            assert all(text in shown for text in COMMON), shown
            assert not [text for text in NEVER_COMMON if text in shown], shown
    finally:
        ben_context.close()
