"""One partner completes the assessment in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from program.course.curriculum import load_program
from tests.browser.actions import log_in, open_app, open_menu_page, register, wait_idle

PROGRAM = load_program()


def test_a_partner_completes_the_assessment(page: Page, server: str) -> None:
    """Answer all 25 statements, send them, name a goal, and take the private safety check."""
    open_app(page, server)
    register(page, "Robin", "robin", "a partner in a couple")
    log_in(page, "robin")
    open_menu_page(page, "Assessment")
    expect(page.get_by_text("You are answering as Robin (robin)").first).to_be_visible()

    instrument = PROGRAM.instruments[PROGRAM.assessment.overview.questionnaire]
    agree = f"6 · {instrument.scale.labels[5]}"
    for number, item in enumerate(instrument.items, start=1):
        question = page.get_by_test_id("stRadio").filter(has_text=f"{number}. {item.text}")
        question.get_by_text(agree, exact=True).click()  # no wait: choosing costs no server run
    page.get_by_role("button", name="Send my answers").click()
    wait_idle(page)
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("Your answers are sent")

    page.get_by_role("tab", name="2 · Goals and strengths").click()
    page.get_by_label("My goals").fill("Talk about money without it turning into a fight.")
    page.get_by_label("Our strengths").click()  # leaving the box saves the draft
    wait_idle(page)
    page.get_by_role("button", name="I've named my goals and strengths").click()
    wait_idle(page)
    page.get_by_role("tab", name="2 · Goals and strengths").click()
    expect(page.get_by_text("You have named your goals and strengths")).to_be_visible()

    page.get_by_role("tab", name="3 · Private safety check").click()
    for safety_item in PROGRAM.safety.items:
        page.get_by_test_id("stRadio").filter(has_text=safety_item.text).get_by_text(
            "Never", exact=True
        ).click()
    page.get_by_role("button", name="Keep my answers private and continue").click()
    wait_idle(page)
    page.get_by_role("tab", name="3 · Private safety check").click()
    expect(page.get_by_text(PROGRAM.safety.guidance.clear)).to_be_visible()
