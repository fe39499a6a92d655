"""In a real browser: Ana flags her private safety check and pauses joint work; Ben's home, stage and progress
pages show only the neutral line, and nothing of why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.course import pauses, safety
from program.infra.db import create_db_engine, read_session, write_session
from program.infra.models import JointPause, PauseReason
from tests.browser import conftest as browser_setup
from tests.browser.actions import log_in, open_app, open_menu_page, wait_idle
from tests.factories import PASSWORD, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, finish_assessment

STAGE = PROGRAM.stage_by_key["communication"]
# Words that would give a pause's reason away; "private safety check" is the progress page's own promise.
REASON_WORDS = ("safety", "busy", "travel", "break", "flag")


@pytest.fixture(scope="module")
def couple_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[tuple[str, Engine]]:
    """A fresh server with Ana and Ben, both started on Communication; Ben's own safety check is done."""
    urls: list[str] = []
    with browser_setup._serve(
        tmp_path_factory.mktemp("pause-server"), demo=False, browser=browser, database_urls=urls
    ) as url:
        engine = create_db_engine(urls[0])
        ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
        make_couple(engine, ana, ben)
        for who in (ana, ben):
            finish_assessment(engine, who)
            answer_all(engine, who, STAGE.check, "communication:start", 4)
        with write_session(engine) as session:
            safety.submit_screen(
                session=session,
                viewer=ben,
                content=PROGRAM.safety,
                answers={item.key: 0 for item in PROGRAM.safety.items},
                now=T0,
            )
        yield url, engine
        engine.dispose()


def _log_in(page: Page, url: str, username: str) -> None:
    open_app(page, url)
    log_in(page, username, PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    wait_idle(page)


def _main_text(page: Page) -> str:
    text: str = page.get_by_test_id("stMain").inner_text()
    return text.replace("\u2060", "")


def _reveals_nothing(text: str) -> None:
    lowered = text.lower().replace("private safety check", "")
    assert [word for word in REASON_WORDS if word in lowered] == []


def test_a_flagged_partner_pauses_and_the_other_sees_only_the_neutral_line(
    couple_server: tuple[str, Engine], browser: Browser
) -> None:
    """Ana's flagged check offers "Pause joint work" and she takes it; Ben's home, Communication and progress
    pages then say only that his partner isn't available, with no reason anywhere."""
    url, engine = couple_server
    ana_context, ben_context = browser.new_context(), browser.new_context()
    try:
        ana = ana_context.new_page()
        _log_in(ana, url, "ana")
        open_menu_page(ana, "Assessment")
        ana.get_by_role("tab", name="3 · Private safety check").click()
        for item in PROGRAM.safety.items:
            answer = PROGRAM.safety.scale.options[1 if item.key == "hurt" else 0]
            ana.get_by_test_id("stRadio").filter(has_text=item.text).get_by_text(answer, exact=True).click()
        ana.get_by_role("button", name="Keep my answers private and continue").click()
        wait_idle(ana)
        ana.get_by_role("tab", name="3 · Private safety check").click()
        expect(ana.get_by_text(PROGRAM.safety.guidance.flagged_title)).to_be_visible()
        ana.get_by_role("button", name="Pause joint work").click()
        wait_idle(ana)
        with read_session(engine) as session:
            standing = session.exec(select(JointPause.reason).where(col(JointPause.ended_at).is_(None))).all()
        assert standing == [PauseReason.SAFETY]

        ben = ben_context.new_page()
        _log_in(ben, url, "ben")
        open_menu_page(ben, "Home")
        expect(ben.get_by_text(pauses.PARTNER_PAUSED)).to_be_visible()
        _reveals_nothing(_main_text(ben))
        open_menu_page(ben, "Talking and listening")
        expect(ben.get_by_text(pauses.PARTNER_PAUSED)).to_be_visible()
        assert ben.get_by_text("Who speaks first?").count() == 0
        _reveals_nothing(_main_text(ben))
        open_menu_page(ben, "Our progress")
        expect(ben.get_by_test_id("stPlotlyChart").first).to_be_visible()
        _reveals_nothing(_main_text(ben))
        assert "paus" not in _main_text(ben).lower()
    finally:
        ana_context.close()
        ben_context.close()
