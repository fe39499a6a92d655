"""A therapist's session with the demo couple, in a real browser: the caseload and its alerts, the couple
opened in presentation mode (nothing private on screen), then the brief, a note, homework that a partner
sees and marks done, and the session report downloaded as a PDF."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect

from program.ops.demo import ALEX, CASELOAD, DEMO_PASSWORD, SAM, SESSION_NOTE, THERAPIST
from tests.browser.actions import log_in, open_app, open_menu_page, wait_for_app_run

# Typed by the therapist: the asterisks must reach the partner as characters, not as emphasis.
HOMEWORK_TITLE = "Walk together after dinner, *twice*"
HOMEWORK_TODO = "Twenty minutes, no phones; each of you picks the route once."
NOTE = "Browser note: Sam spoke first today and the pace suited them both."
# What the demo couple told Dr Rivera alone, and the words of their alerts: none of it may be on screen
# while she presents.
THERAPIST_ONLY_TEXTS = (
    "Trust feels like the big one",  # Alex's check-in note for the therapist
    "Money, and who decides",  # Sam's exercise answer for the therapist
)
ALERT_WORDS = ("not marked done by", "Session feedback on the latest session is split")
PRIVATE_MARK = "Only you can see this"


def _tab(page: Page, name: str) -> None:
    """Show one tab of the couple view (clicking the open one again is harmless after a rerun)."""
    page.get_by_role("tab", name=name, exact=True).click()
    wait_for_app_run(page)


def _main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def test_a_therapist_runs_a_session_with_the_demo_couple(browser: Browser, demo_server: str) -> None:
    """Dr Rivera reads her caseload's alerts, opens Alex and Sam (presentation mode on: no private marker,
    note, therapist-only text or alert), turns it off, reads the brief, writes a note, assigns homework for
    both and downloads the session report; then Sam finds the homework on their home page and marks it
    done."""
    therapist = browser.new_context(accept_downloads=True).new_page()
    open_app(therapist, demo_server)
    log_in(therapist, THERAPIST[0], DEMO_PASSWORD)
    open_menu_page(therapist, "Your couples")
    expect(therapist.get_by_role("heading", name="Your couples").first).to_be_visible()

    # Several couples, and their alerts in words.
    main = _main(therapist)
    expect(main.get_by_text("overall check-in dropped to 3")).to_be_visible()  # Priya's drop
    # (A typed name before a colon is kept apart from it by an invisible word joiner.)
    expect(main.get_by_text(re.compile(r"^Morgan\W+no activity for \d+ days"))).to_be_visible()
    expect(main.get_by_text("not marked done by Alex or Sam")).to_be_visible()
    main.get_by_test_id("stSelectbox").filter(has_text="Open a couple").get_by_role("combobox").click()
    options = therapist.get_by_role("option")
    couples = ["Alex & Sam", *(" & ".join(name for _, name in c.partners) for c in CASELOAD)]
    expect(options).to_have_count(len(couples))
    for names in couples:
        expect(options.filter(has_text=names)).to_have_count(1)
    options.filter(has_text="Alex & Sam").click()
    # (The select box's own arrow is a button named "Open" too.)
    main.get_by_test_id("stButton").get_by_role("button", name="Open", exact=True).click()
    wait_for_app_run(therapist)
    expect(therapist.get_by_role("heading", name=f"{ALEX[1]} & {SAM[1]}").first).to_be_visible()

    # Presentation mode is on as the couple opens: the charts and what both shared, nothing private.
    toggle = therapist.get_by_role("switch", name="Presentation mode")
    expect(toggle).to_be_checked()
    expect(therapist.get_by_test_id("stPlotlyChart").first).to_be_visible()
    expect(therapist.get_by_role("tab", name="Shared by both of you")).to_be_visible()
    for private in (PRIVATE_MARK, SESSION_NOTE[:40], *THERAPIST_ONLY_TEXTS, *ALERT_WORDS):
        expect(main).not_to_contain_text(private)

    # Turned off, with the screen turned back to her.
    therapist.get_by_text("Presentation mode", exact=True).click()
    wait_for_app_run(therapist)
    expect(toggle).not_to_be_checked()
    _tab(therapist, "Before the session")
    expect(main.get_by_role("heading", name="What changed")).to_be_visible()
    # Alex did the week's homework after her last look, so the brief says so.
    expect(main.get_by_text("Ten minutes a day, phones away").first).to_be_visible()

    _tab(therapist, PRIVATE_MARK)
    # (Each note is also in its own Edit box's text area: .first is the note as shown.)
    expect(main.get_by_text(SESSION_NOTE).first).to_be_visible()
    # What presentation mode kept off the screen is here, marked as hers alone.
    for private in (*THERAPIST_ONLY_TEXTS, *ALERT_WORDS):
        expect(main.get_by_text(private).first).to_be_visible()
    note_form = main.get_by_test_id("stForm").filter(has_text="Write a session note")
    note_form.get_by_label("Note", exact=True).fill(NOTE)
    note_form.get_by_role("button", name="Save note").click()
    wait_for_app_run(therapist)
    _tab(therapist, PRIVATE_MARK)
    expect(main.get_by_text(NOTE, exact=True).first).to_be_visible()

    _tab(therapist, "Homework")
    expect(main.get_by_role("heading", name="Assign homework")).to_be_visible()
    homework_form = main.get_by_test_id("stForm").filter(has_text="Due date")
    homework_form.get_by_label("Title", exact=True).fill(HOMEWORK_TITLE)
    homework_form.get_by_label("What to do", exact=True).fill(HOMEWORK_TODO)
    expect(homework_form.get_by_role("combobox", name="For")).to_have_value("Both partners")
    homework_form.get_by_role("button", name="Assign homework").click()
    wait_for_app_run(therapist)
    _tab(therapist, "Homework")
    expect(main.get_by_text(HOMEWORK_TITLE, exact=True).first).to_be_visible()

    _tab(therapist, "Session report")
    main.get_by_role("button", name="Session report (PDF)").click()
    wait_for_app_run(therapist)
    with therapist.expect_download() as download_info:
        main.get_by_role("button", name="Download the report").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1024, pdf[:40]

    # Sam, on their own device: the homework is on their home page, and they mark it done.
    sam = browser.new_context().new_page()
    open_app(sam, demo_server)
    log_in(sam, SAM[0], DEMO_PASSWORD)
    expect(sam.get_by_role("heading", name="From your therapist")).to_be_visible()
    # The innermost block holding the title: its own bordered box, with its own button.
    item = (
        _main(sam)
        .get_by_test_id("stVerticalBlock")
        .filter(has=sam.get_by_text(HOMEWORK_TITLE, exact=True))
        .last
    )
    item.get_by_role("button", name="Mark done").click()
    wait_for_app_run(sam)
    expect(item.get_by_text("Done on")).to_be_visible()
    expect(item.get_by_role("button", name="Mark done")).to_have_count(0)
