"""The solo track and pronouns in the pages: a waiting conversation says why and offers nothing to start;
the solo steps stay doable; typed names and pronouns show as text."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, update
from streamlit.testing.v1 import AppTest

from program.auth import accounts
from program.course import journey, questionnaires
from program.infra.db import read_session, write_session
from program.infra.models import Person, utcnow
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, answer_all, do_step, finish_assessment
from tests.ui.helpers import app, as_viewer, button_keys, texts

STAGE = PROGRAM.stages[0]
TALKS = [e for e in STAGE.exercises if e.kind == "conversation"]
SOLO = [e for e in STAGE.exercises if e.kind != "conversation"]
HOSTILE = "Ben [click](http://e.vil) **now**"


def _stage_page(engine: Engine, viewer: Viewer) -> AppTest:
    return as_viewer(app(f"pages/{STAGE.key}.py"), viewer, engine).run()


def _started_alone(engine: Engine, ana: Viewer) -> None:
    finish_assessment(engine, ana, now=utcnow() - timedelta(days=1))
    answer_all(engine, ana, STAGE.check, questionnaires.stage_occasion(STAGE.key, "start"), now=utcnow())


def test_before_the_partner_joins_the_conversation_waits_and_the_rest_is_open(app_env: Engine) -> None:
    """Ana's partner hasn't joined: her first stage is open after her assessment; each conversation
    says it waits for her partner, with no turns and no 'Mark as done'; her solo exercises have theirs."""
    ana = make_person(app_env, "ana", name="Ana")
    make_couple(app_env, ana)
    _started_alone(app_env, ana)
    at = _stage_page(app_env, ana)
    assert not at.exception
    shown = texts(at)
    assert shown.count("waits until your partner has joined you") == len(TALKS)
    assert "Who speaks first?" not in [r.label for r in at.radio]
    keys = button_keys(at)
    assert not any(f"done::{STAGE.key}::{t.key}" in keys for t in TALKS)
    assert all(f"done::{STAGE.key}::{e.key}" in keys for e in SOLO)


def test_an_away_partners_typed_name_and_pronouns_show_as_text(app_env: Engine) -> None:
    """Ben (a name full of Markdown, pronouns she/her) has been away 20 days: Ana's home says so with
    her pronouns, his name as typed and no link; the conversation of a stage open for both stays there to
    have with a note that it may wait."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    couple = make_couple(app_env, ana, ben)
    long_ago = utcnow() - timedelta(days=20)
    with write_session(app_env) as session:
        session.exec(
            update(CoupleMembership)
            .where(col(CoupleMembership.couple_id) == couple)
            .values(joined_at=long_ago)
        )
        person = session.get(Person, ben.person_id)
        assert person is not None
        person.display_name = HOSTILE
        accounts.set_pronouns(session=session, viewer=ben, pronouns="she/her")
    finish_assessment(app_env, ben, now=long_ago)
    _started_alone(app_env, ana)
    home = as_viewer(app("pages/home.py"), ana, app_env).run()
    assert not home.exception
    assert f"{HOSTILE} hasn't finished a step, sent a questionnaire or checked in for 14 days" in texts(home)
    assert "until she is back" in texts(home)
    assert all("](http" not in s.value.replace("\\]", "") for s in home.success)
    at = _stage_page(app_env, ana)
    assert "for 14 days, so you may take the end check without it and have it with her later" in texts(at)
    # Open for both, so the conversation is there to have when Ben is around.
    assert "Who speaks first?" in [r.label for r in at.radio]


def test_pronouns_are_saved_on_the_account_page_and_shown_as_text(app_env: Engine) -> None:
    """A hostile entry is kept as typed (trimmed) and shown as text; too long is refused in the page."""
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app("pages/account.py"), ana, app_env).run()
    field = next(t for t in at.text_input if t.label == "Your pronouns (optional)")
    field.input("  **xe**/[x](http://e.vil)  ")
    at.button(key="FormSubmitter:pronouns-Save pronouns").click().run()
    assert not at.exception
    with read_session(app_env) as session:
        person = session.get(Person, ana.person_id)
        assert person is not None and person.pronouns == "**xe**/[x](http://e.vil)"
    assert "Your pronouns: **xe**/[x](http://e.vil)" in texts(at)
    [shown] = [c.value for c in at.caption if c.value.startswith("Your pronouns:")]
    assert "\\[x\\]" in shown and "\\*\\*" in shown  # escaped: no link, no bold


def test_a_stage_open_for_ana_alone_keeps_its_joint_work_waiting_for_ben(app_env: Engine) -> None:
    """Ben (a Markdown name) has been away since his assessment 20 days ago; Ana finished the first stage
    without its conversation, so the second opens for her alone: every guided conversation there (and the
    problem-solving, where the stage has it) says it waits until Ben reaches the stage, his name as text,
    with nothing to start; the stage is open for Ana, not for the couple."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    couple = make_couple(app_env, ana, ben)
    long_ago = utcnow() - timedelta(days=20)
    with write_session(app_env) as session:
        session.exec(
            update(CoupleMembership)
            .where(col(CoupleMembership.couple_id) == couple)
            .values(joined_at=long_ago)
        )
        person = session.get(Person, ben.person_id)
        assert person is not None
        person.display_name = HOSTILE
    finish_assessment(app_env, ben, now=long_ago)
    _started_alone(app_env, ana)
    for exercise in SOLO:
        do_step(app_env, ana, STAGE.key, exercise.key, now=utcnow())
    answer_all(app_env, ana, STAGE.check, questionnaires.stage_occasion(STAGE.key, "end"), now=utcnow())
    second = PROGRAM.stages[1]
    answer_all(app_env, ana, second.check, questionnaires.stage_occasion(second.key, "start"), now=utcnow())
    at = as_viewer(app(f"pages/{second.key}.py"), ana, app_env).run()
    assert not at.exception
    talks = [e for e in second.exercises if e.kind == "conversation"]
    waiting = [i.value for i in at.info if "reaches this stage" in i.value]
    assert len(waiting) >= len(talks) and all("\\[click\\]" in w for w in waiting)
    assert f"{HOSTILE} reaches this stage" in texts(at)
    assert "Who speaks first?" not in [r.label for r in at.radio]
    assert not any(f"done::{second.key}::{t.key}" in button_keys(at) for t in talks)
    with read_session(app_env) as session:
        seen = journey.load_journey(session=session, viewer=ana, program=PROGRAM)
    assert seen.is_open(second.key) and seen.couple_opened_at(second.key) is None
