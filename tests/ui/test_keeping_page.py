"""The "Keeping it going" page and what of it shows on home: the plan after the last stage (private unless
shared), its menu entry, the weekly appreciation while due, the booster in "Due for you", and the
suggestion to see a couples therapist, to the partner whose own scores fell, dismissible once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.course import appreciation, checkins, keeping, reflections
from program.infra.db import read_session, write_session
from program.infra.models import NoticeDismissal, Person, Role, Visibility, utcnow
from program.privacy import couples
from program.privacy.viewer import Viewer
from tests.course.test_keeping import through_the_program
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, finish_assessment, finish_stage
from tests.ui.helpers import app, as_viewer, click, texts
from tests.ui.test_hostile_strings import HOSTILE, unescaped

PAGE = "pages/keeping.py"
TITLE = "Keeping it going"
KEEP = keeping.plan_context("keep")
WORDS = keeping.content()


def _page(engine: Engine, viewer: Viewer) -> AppTest:
    at = as_viewer(app(PAGE), viewer, engine).run()
    assert not at.exception, at.exception
    return at


def _home(engine: Engine, viewer: Viewer) -> AppTest:
    at = as_viewer(app(), viewer, engine).run()
    assert not at.exception, at.exception
    return at


def _menu(at: AppTest) -> set[str]:
    return {link.proto.label for link in at.sidebar.get("page_link")}


def _finished(engine: Engine) -> tuple[Viewer, Viewer]:
    """Ana and Ben through every stage but the last; Ana (only) through the last, a few days ago."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    start = utcnow() - timedelta(days=30)
    for partner in (ana, ben):
        finish_assessment(engine, partner, now=start)
    for stage in PROGRAM.stages[:-1]:
        for partner in (ana, ben):
            finish_stage(engine, partner, stage.key, now=start)
    finish_stage(engine, ana, PROGRAM.stages[-1].key, now=start + timedelta(days=1))
    return ana, ben


def _rename(engine: Engine, viewer: Viewer, name: str) -> None:
    with write_session(engine) as session:
        person = session.get(Person, viewer.person_id)
        assert person is not None
        person.display_name = name
        session.add(person)


def test_a_therapist_is_refused(app_env: Engine) -> None:
    """The page checks its own access: a therapist gets the refusal, not the page."""
    kim = make_person(app_env, "dr.kim", Role.THERAPIST)
    at = _page(app_env, kim)
    assert "This page isn't part of your account" in texts(at)
    assert not at.text_area


def test_before_the_first_stage_the_page_says_when_things_open(app_env: Engine) -> None:
    """A couple in the assessment: the page's title, that the plan comes after the last stage and the
    appreciation log when the first stage opens; no form, and no menu entry."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    at = _page(app_env, ana)
    assert at.title[0].value == TITLE
    shown = texts(at)
    assert WORDS.not_yet in shown
    assert f"starts when {PROGRAM.stages[0].title} opens" in shown
    assert not at.text_area
    assert TITLE not in _menu(_home(app_env, ana))


def test_the_menu_lists_the_page_once_the_viewer_finished_the_last_stage(app_env: Engine) -> None:
    """Ana finished the last stage: her menu has "Keeping it going" and it opens; Ben's not yet."""
    ana, ben = _finished(app_env)
    home = _home(app_env, ana)
    assert TITLE in _menu(home)
    at = home.switch_page(PAGE).run()
    assert not at.exception
    assert at.title[0].value == TITLE
    assert TITLE not in _menu(_home(app_env, ben))


def test_the_plan_is_private_until_its_writer_shares_it(app_env: Engine) -> None:
    """Ana writes what to keep doing: kept as her private text, Ben (who finishes too) does not see it;
    once she shares it with him, his page shows it under her name, as text."""
    ana, ben = _finished(app_env)
    at = _page(app_env, ana)
    assert {t.label for t in at.text_area} >= {part.label for part in WORDS.plan}
    at.text_area(key=f"text::{KEEP}").input("Sunday walks, the daily question").run()
    assert not at.exception
    with read_session(app_env) as session:
        saved = reflections.own_texts(session=session, viewer=ana, prefix=KEEP)[KEEP]
    assert (saved.body, saved.visibility) == ("Sunday walks, the daily question", Visibility.PRIVATE)
    finish_stage(app_env, ben, PROGRAM.stages[-1].key, now=utcnow() - timedelta(days=1))
    assert "Sunday walks" not in texts(_page(app_env, ben))
    assert all("Sunday walks" not in t.value for t in _page(app_env, ben).text)
    at.selectbox(key=f"sharing::{KEEP}").set_value(Visibility.PARTNER).run()
    theirs = _page(app_env, ben)
    assert "Ana's plan, shared with you" in texts(theirs)
    assert "Sunday walks, the daily question" in [t.value for t in theirs.text]


@pytest.mark.parametrize("payload", [HOSTILE["image"], HOSTILE["html link"], HOSTILE["directives"]])
def test_hostile_plan_and_name_show_as_typed(app_env: Engine, payload: str) -> None:
    """A shared plan and a partner name full of markup reach Ben's page as text, never Markdown."""
    ana, ben = _finished(app_env)
    finish_stage(app_env, ben, PROGRAM.stages[-1].key, now=utcnow() - timedelta(days=1))
    _rename(app_env, ana, payload)
    with write_session(app_env) as session:
        reflections.save_text(
            session=session,
            viewer=ana,
            context=KEEP,
            body=payload,
            visibility=Visibility.PARTNER,
            now=utcnow(),
        )
    at = _page(app_env, ben)
    assert unescaped(at) == []
    assert payload in [t.value for t in at.text]
    assert f"{payload}'s plan, shared with you" in texts(at)


def test_the_weekly_appreciation_on_home_while_due(app_env: Engine) -> None:
    """Once the first stage is open, home asks for this week's appreciation; sending it keeps Ana's note
    (hostile text as typed) and the form leaves home until next week; Ben is still asked."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    home = _home(app_env, ana)
    assert appreciation.content().prompt not in [t.label for t in home.text_area]  # not open yet
    for partner in (ana, ben):
        finish_assessment(app_env, partner, now=utcnow() - timedelta(days=1))
    home = _home(app_env, ana)
    [box] = [t for t in home.text_area if t.label == appreciation.content().prompt]
    box.input(HOSTILE["link"])
    home.checkbox[0].check()
    home = click(home, appreciation.content().save)
    assert not home.exception
    assert appreciation.content().saved in texts(home)
    assert appreciation.content().prompt not in [t.label for t in home.text_area]
    with read_session(app_env) as session:
        [entry] = appreciation.own_entries(session=session, viewer=ana)
    assert (entry.text, entry.said) == (HOSTILE["link"], True)
    assert appreciation.content().prompt in [t.label for t in _home(app_env, ben).text_area]
    page = _page(app_env, ana)  # the page keeps this week's note in its form
    assert [t.value for t in page.text_area if t.label == appreciation.content().prompt] == [HOSTILE["link"]]
    assert unescaped(page) == []


def test_an_empty_appreciation_is_refused_with_a_message(app_env: Engine) -> None:
    """Sending the form empty says what to do, saves nothing, and keeps the form."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    for partner in (ana, ben):
        finish_assessment(app_env, partner, now=utcnow() - timedelta(days=1))
    home = click(_home(app_env, ana), appreciation.content().save)
    assert not home.exception
    assert [e.value for e in home.error] == [
        "Write one thing you appreciated first (a few words are enough)."
    ]
    with read_session(app_env) as session:
        assert appreciation.own_entries(session=session, viewer=ana) == []


def test_the_booster_is_in_due_for_you_at_the_follow_up_and_done_on_the_page(app_env: Engine) -> None:
    """Ana sent the program's end long enough ago: home lists the booster; the page takes her rating,
    then thanks her, and home no longer lists it. Ben, who has not sent his end, is never asked."""
    ana, ben, _ = through_the_program(app_env, start=utcnow() - timedelta(days=220))
    booster = "Keeping it going: your booster review"
    assert booster in texts(_home(app_env, ana)) or booster in _main_links(_home(app_env, ana))
    assert booster not in texts(_home(app_env, ben)) and booster not in _main_links(_home(app_env, ben))
    at = _page(app_env, ana)
    at.slider[0].set_value(8)
    at = click(at, WORDS.booster.done)
    assert not at.exception
    assert WORDS.booster.thanks in texts(at)
    assert booster not in _main_links(_home(app_env, ana))


def _main_links(at: AppTest) -> set[str]:
    return {link.proto.label for link in at.main.get("page_link")}


def _falling_checkins(engine: Engine, viewer: Viewer, overall: list[int]) -> None:
    first = checkins.week_start(date.today()) - timedelta(weeks=len(overall) - 1)
    for week, value in enumerate(overall):
        day = first + timedelta(weeks=week)
        with write_session(engine) as session:
            checkins.save_checkin(
                session=session,
                viewer=viewer,
                ratings={"closeness": 5, "communication": 5, "conflict": 5, "trust": 5, "overall": value},
                note=None,
                today=day,
                now=utcnow(),
            )


def test_the_suggestion_shows_to_whose_scores_fell_and_stays_dismissed(app_env: Engine) -> None:
    """Ana's own check-ins fell: her home suggests a couples therapist, with how to find one; Ben's home
    does not (nothing about her scores reaches him). She hides it: gone, and still gone next time."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    _falling_checkins(app_env, ana, [8, 8, 8, 5, 5, 5])
    _falling_checkins(app_env, ben, [6, 6, 6, 6, 6, 6])
    home = _home(app_env, ana)
    shown = texts(home)
    assert WORDS.suggestion.title in shown
    assert WORDS.suggestion.how_to_find[0] in shown
    assert WORDS.suggestion.title not in texts(_home(app_env, ben))
    home = click(home, WORDS.suggestion.dismiss)
    assert not home.exception
    assert WORDS.suggestion.title not in texts(home)
    assert WORDS.suggestion.title not in texts(_home(app_env, ana))
    with read_session(app_env) as session:
        assert [d.person_id for d in session.exec(select(NoticeDismissal))] == [ana.person_id]


def test_a_new_couple_starts_without_the_old_plan_or_menu_entry(app_env: Engine) -> None:
    """Ana wrote her plan with Ben, then leaves and forms a couple with Cai: no "Keeping it going" in her
    menu, and the page shows neither her old plan nor its text boxes."""
    ana, _ = _finished(app_env)
    with write_session(app_env) as session:
        reflections.save_text(
            session=session, viewer=ana, context=KEEP, body="Walks with Ben", visibility=None, now=utcnow()
        )
        couples.leave_couple(session=session, viewer=ana, now=utcnow())
    cai = make_person(app_env, "cai", name="Cai")
    make_couple(app_env, ana, cai)
    assert TITLE not in _menu(_home(app_env, ana))
    at = _page(app_env, ana)
    assert WORDS.not_yet in texts(at)
    assert not at.text_area
    assert "Walks with Ben" not in texts(at) + "".join(t.value for t in at.text)
