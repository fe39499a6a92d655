"""Answering quickly loses nothing: all 25 baseline answers clicked with no pause are on the server after a
reload, whether "Save draft" was pressed or the page saved them by itself; sending names what is missing.

Each test prints its timings (per answer: click until the choice shows; per questionnaire: first click until
the server holds every answer); run with -s to see them.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from program.course.curriculum import load_program
from tests.browser.actions import log_in, open_app, open_menu_page, register, wait_idle

PROGRAM = load_program()
INSTRUMENT = PROGRAM.instruments[PROGRAM.assessment.overview.questionnaire]
COUNT = len(INSTRUMENT.items)


def _choice(number: int) -> str:
    """The label of a different answer for each item, so an answer given to the wrong item would show."""
    point = INSTRUMENT.scale.points[number % len(INSTRUMENT.scale.points)]
    text = INSTRUMENT.scale.labels[point - INSTRUMENT.scale.min]
    return f"{point} · {text}" if text else str(point)


def _question(page: Page, number: int) -> Locator:
    item = INSTRUMENT.items[number - 1]
    return page.get_by_test_id("stRadio").filter(has_text=f"{number}. {item.text}")


def _start(page: Page, server: str, username: str) -> None:
    open_app(page, server)
    register(page, username.title(), username, "a partner in a couple")
    log_in(page, username)
    open_menu_page(page, "Assessment")
    expect(_question(page, 1)).to_be_visible()


def _click_all(page: Page, numbers: list[int]) -> None:
    """Click each item's answer with no pause between items, each checked before the next."""
    for number in numbers:
        option = _question(page, number).get_by_role("radio", name=_choice(number), exact=True)
        option.click(force=True)  # the input is visually hidden behind its label
        expect(option).to_be_checked()


def _expect_every_answer(page: Page, numbers: list[int]) -> None:
    for number in numbers:
        option = _question(page, number).get_by_role("radio", name=_choice(number), exact=True)
        expect(option).to_be_checked()


def test_answers_clicked_with_no_pause_are_all_there_after_save_and_reload(page: Page, server: str) -> None:
    """25 answers clicked back to back, "Save draft", reload: every answer is still chosen."""
    _start(page, server, "quick")
    _click_all(page, list(range(1, COUNT + 1)))
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text(f"{COUNT} of {COUNT} answers saved")).to_be_visible()
    page.reload()
    wait_idle(page)
    expect(page.get_by_text(f"{COUNT} of {COUNT} answers saved")).to_be_visible()
    _expect_every_answer(page, list(range(1, COUNT + 1)))


def test_answers_are_saved_by_themselves_a_moment_after_the_last_click(page: Page, server: str) -> None:
    """No button pressed: a moment after the last click the server holds all 25, and a reload shows them.
    A pause mid-way (its save running while clicking goes on) loses nothing either."""
    _start(page, server, "unhurried")
    _click_all(page, list(range(1, 11)))
    expect(page.get_by_text("10 of 25 answers saved")).to_be_visible()  # saved by itself
    # Clicking on at once, while the page still shows that save's run.
    _click_all(page, list(range(11, COUNT + 1)))
    expect(page.get_by_text(f"{COUNT} of {COUNT} answers saved")).to_be_visible()
    page.reload()
    wait_idle(page)
    _expect_every_answer(page, list(range(1, COUNT + 1)))


def test_sending_with_answers_missing_names_them_and_keeps_the_rest(page: Page, server: str) -> None:
    """Items 3, 7 and 12 left blank: "Send" is refused naming them; answering them sends everything."""
    _start(page, server, "gaps")
    given = [n for n in range(1, COUNT + 1) if n not in (3, 7, 12)]
    _click_all(page, given)
    page.get_by_role("button", name="Send my answers").click()
    wait_idle(page)
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("Please answer 3, 7 and 12 first")
    expect(page.get_by_text(f"{COUNT - 3} of {COUNT} answers saved")).to_be_visible()
    _expect_every_answer(page, given)
    _click_all(page, [3, 7, 12])
    page.get_by_role("button", name="Send my answers").click()
    wait_idle(page)
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("Your answers are sent")
