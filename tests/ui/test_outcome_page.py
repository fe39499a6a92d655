"""The "How we're doing" page: the outcome questionnaire when one of its occasions is due, else when the
next one comes; refused to anyone not logged in as a partner."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.course import outcomes, questionnaires
from program.infra.db import read_session, write_session
from program.infra.models import QuestionnaireSubmission, Role, SubmissionStatus, utcnow
from program.infra.settings import Settings
from program.privacy import couples
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, answer_all, finish_assessment, finish_stage
from tests.ui.helpers import LOGIN_BUTTON, app, as_viewer, button_keys, click, texts

PAGE = "pages/outcome.py"
TITLE = "How we're doing"
BASELINE_KEY = PROGRAM.assessment.overview.questionnaire
FIRST = PROGRAM.stages[0]
FIRST_END = outcomes.stage_end_occasion(FIRST.key)
SETTINGS = Settings(cookie_key=None, database_url="sqlite://")


def _page(engine: Engine, viewer: Viewer, script: str = PAGE) -> AppTest:
    return as_viewer(app(script), viewer, engine).run()


def _couple_after_first_stage(engine: Engine) -> tuple[Viewer, Viewer]:
    """Ana and Ben through the assessment; Ana (only) through the first stage, a week ago."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    start = utcnow() - timedelta(days=10)
    for partner in (ana, ben):
        finish_assessment(engine, partner, now=start)
    finish_stage(engine, ana, FIRST.key, now=start + timedelta(days=1))
    return ana, ben


def test_a_due_occasion_is_shown_on_home_and_sent_on_the_page(app_env: Engine) -> None:
    """Ana finished the first stage: home lists the questionnaire after it; the page names the occasion,
    offers the outcome questionnaire's form, and sending it keeps the answers under that occasion."""
    ana, _ = _couple_after_first_stage(app_env)
    home = texts(_page(app_env, ana, "pages/home.py"))
    assert f"How we're doing: the questionnaire after {FIRST.title}" in home
    at = _page(app_env, ana)
    assert not at.exception
    assert at.title[0].value == TITLE
    assert f"Now: After {FIRST.title}" in texts(at)
    instrument = PROGRAM.instruments[BASELINE_KEY]
    prefix = f"q::{BASELINE_KEY}::{FIRST_END}::"
    radios = [r for r in at.radio if r.key and r.key.startswith(prefix)]
    assert len(radios) == len(instrument.items)
    for radio in radios:
        radio.set_value(4)
    at = click(at, "Send my answers")
    assert not at.exception
    with read_session(app_env) as session:
        own = questionnaires.own_answers(
            session=session, viewer=ana, instrument=BASELINE_KEY, occasion=FIRST_END
        )
        status = outcomes.status(
            session=session, viewer=ana, program=PROGRAM, settings=SETTINGS, now=utcnow()
        )
    assert own.submitted_at is not None and set(own.answers.values()) == {4}
    assert status.due == []
    shown = texts(at)
    assert "Nothing to fill in now" in shown
    assert list(at.dataframe[-1].value["When"]) == ["Start", f"After {FIRST.title}"]  # what was sent
    assert not [r for r in at.radio if r.key and r.key.startswith(prefix)]


def test_nothing_due_says_what_comes_next(app_env: Engine) -> None:
    """Ben has not finished the first stage: no form, and the page says what comes next and when."""
    _, ben = _couple_after_first_stage(app_env)
    at = _page(app_env, ben)
    assert not at.exception and at.title[0].value == TITLE
    assert not at.radio
    assert (
        f"Nothing to fill in now; next: After {FIRST.title}, once you have finished {FIRST.title}."
        in texts(at)
    )


def test_the_follow_up_date_is_said_beforehand(app_env: Engine) -> None:
    """After the end of the program, the page names the follow-up's day (12 weeks on, by default)."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    when = utcnow() - timedelta(days=90)
    for partner in (ana, ben):
        finish_assessment(app_env, partner, now=when)
    instrument = PROGRAM.instruments[BASELINE_KEY]
    for stage in PROGRAM.stages:
        when += timedelta(days=8)
        for partner in (ana, ben):
            finish_stage(app_env, partner, stage.key, now=when)
        when += timedelta(days=8)
        answer_all(app_env, ana, BASELINE_KEY, outcomes.stage_end_occasion(stage.key), now=when)
    ended = when + timedelta(days=1)
    with write_session(app_env) as session:
        questionnaires.save_answers(
            session=session, viewer=ana, instrument=instrument, occasion=outcomes.PROGRAM_END,
            answers=dict.fromkeys((i.key for i in instrument.items), 5), now=ended,
        )  # fmt: skip
        outcomes.submit(
            session=session, viewer=ana, program=PROGRAM, settings=SETTINGS, occasion=outcomes.PROGRAM_END,
            now=ended,
        )  # fmt: skip
    follow_up = ended + timedelta(weeks=12)
    shown = texts(_page(app_env, ana))
    assert f"Nothing to fill in now; next: Follow-up on {follow_up.day} {follow_up:%B %Y}." in shown


def test_the_start_of_kindreds_own_measure_points_to_the_assessment(app_env: Engine) -> None:
    """A new partner's start is the assessment's questionnaire: the page sends them there, no second form."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana)
    assert not at.exception
    assert "Now: Start" in texts(at) and "assessment" in texts(at)
    assert not at.radio


def test_a_deep_link_without_login_or_as_a_therapist_shows_nothing(app_env: Engine) -> None:
    """Opened directly while logged out, the page stops at the login form; a therapist is refused."""
    ana, _ = _couple_after_first_stage(app_env)
    at = app(PAGE).run()
    assert not at.exception
    assert at.title[0].value == "Kindred" and LOGIN_BUTTON in button_keys(at)
    assert TITLE not in texts(at) and not [r for r in at.radio if r.key and r.key.startswith("q::")]
    kim = make_person(app_env, "dr.kim", Role.THERAPIST)
    at = _page(app_env, kim)
    assert "isn't part of your account" in at.error[0].value
    assert TITLE not in texts(at) and not at.radio


def test_a_form_left_open_cannot_send_an_occasion_no_longer_due(app_env: Engine) -> None:
    """Ana's page offers the first stage's occasion; before she presses Send, her couple ends. The form
    drawn earlier sends nothing: the occasion is checked again when Send is pressed."""
    ana, _ = _couple_after_first_stage(app_env)
    at = _page(app_env, ana)
    prefix = f"q::{BASELINE_KEY}::{FIRST_END}::"
    radios = [r for r in at.radio if r.key and r.key.startswith(prefix)]
    assert radios
    with write_session(app_env) as session:
        couples.leave_couple(session=session, viewer=ana, now=utcnow())
    for radio in radios:
        radio.set_value(4)
    at = click(at, "Send my answers")
    assert not at.exception
    with read_session(app_env) as session:
        sent = session.exec(
            select(QuestionnaireSubmission).where(
                QuestionnaireSubmission.occasion == FIRST_END,
                QuestionnaireSubmission.status == SubmissionStatus.SUBMITTED,
            )
        ).all()
    assert sent == []
