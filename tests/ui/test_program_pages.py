"""The program's pages driven as a partner: assessment, every stage, and the home page's reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.course import questionnaires
from program.course.curriculum import ConversationExercise
from program.infra.db import read_session, write_session
from program.infra.models import ExerciseRecord, SafetyScreen, StageOpening, utcnow
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, answer_all, finish_assessment
from tests.ui.helpers import app, as_viewer, click, texts

BASELINE = PROGRAM.assessment.overview.questionnaire


def _page(engine: Engine, viewer: Viewer, page: str) -> AppTest:
    return as_viewer(app(f"pages/{page}.py"), viewer, engine).run()


def _couple(engine: Engine) -> tuple[Viewer, Viewer, int]:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    return ana, ben, make_couple(engine, ana, ben)


def test_the_assessment_questionnaire_is_answered_as_yourself_and_sent(app_env: Engine) -> None:
    """A solo partner sees whose answers these are; sending with items unanswered is refused naming them
    (and keeps what was chosen); with every item answered it is sent and the scores show."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana, "assessment")
    assert "You are answering as **Ana** (ana)" in texts(at)
    instrument = PROGRAM.instruments[BASELINE]
    radios = [r for r in at.radio if r.key and r.key.startswith(f"q::{BASELINE}::")]
    assert len(radios) == len(instrument.items) == 25
    for number, radio in enumerate(radios, start=1):
        if number not in (3, 7, 12):
            radio.set_value(6)
    click(at, "Send my answers")
    assert at.error[0].value == "Please answer 3, 7 and 12 first; then send your answers."
    assert "22 of 25 answers saved" in texts(at)
    for number in (3, 7, 12):  # the widgets are fresh after the run
        at.radio(key=f"q::{BASELINE}::baseline::{instrument.items[number - 1].key}").set_value(2)
    click(at, "Send my answers")
    assert "Your answers are sent" in texts(at)
    scores = at.dataframe[0].value
    assert list(scores["Area"]) == [s.title for s in instrument.subscales]
    with read_session(app_env) as session:
        own = questionnaires.own_answers(
            session=session, viewer=ana, instrument=BASELINE, occasion="baseline"
        )
    assert own.answers == {
        item.key: 2 if number in (3, 7, 12) else 6 for number, item in enumerate(instrument.items, start=1)
    }
    assert own.submitted_at is not None


def test_choosing_answers_saves_nothing_until_the_page_is_saved_then_all_at_once(app_env: Engine) -> None:
    """Choices cost no server write (the radios sit in a form); "Save draft" writes them all, and the
    counter says what the server holds, not what the page shows."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana, "assessment")
    assert [f.key for f in at.get("form")][:1] == [f"qform::{BASELINE}::baseline"]
    radios = [r for r in at.radio if r.key and r.key.startswith(f"q::{BASELINE}::")]
    for radio in radios[:10]:
        radio.set_value(5)
    click(at, "Save draft")
    assert "10 of 25 answers saved" in texts(at)
    with read_session(app_env) as session:
        own = questionnaires.own_answers(
            session=session, viewer=ana, instrument=BASELINE, occasion="baseline"
        )
    assert own.answers == {item.key: 5 for item in PROGRAM.instruments[BASELINE].items[:10]}
    reloaded = _page(app_env, ana, "assessment")  # a new session: what the server holds comes back
    assert [r.value for r in reloaded.radio if r.key and r.key.startswith(f"q::{BASELINE}::")] == [5] * 10 + [
        None
    ] * 15


def test_a_reloaded_page_draws_each_saved_answer_as_its_radios_default(app_env: Engine) -> None:
    """After a reload every saved answer is the radio's own default, the value a browser shows whenever it
    draws that radio afresh (not only a value sent once, which item 1 lost after a reload now and then);
    items not answered have none."""
    ana = make_person(app_env, "ana", name="Ana")
    instrument = PROGRAM.instruments[BASELINE]
    given = {item.key: 1 + number % 7 for number, item in enumerate(instrument.items[:10])}
    with write_session(app_env) as session:
        questionnaires.save_answers(
            session=session, viewer=ana, instrument=instrument, occasion="baseline", answers=given,
            now=utcnow(),
        )  # fmt: skip
    at = _page(app_env, ana, "assessment")
    radios = [r for r in at.radio if r.key and r.key.startswith(f"q::{BASELINE}::")]
    points = list(instrument.scale.points)
    for radio, item in zip(radios, instrument.items, strict=True):
        if item.key in given:
            assert radio.proto.HasField("default") and radio.proto.default == points.index(given[item.key])
            assert radio.value == given[item.key]
        else:
            assert not radio.proto.HasField("default") and radio.value is None


def test_answers_saved_in_another_tab_fill_this_tabs_blanks(app_env: Engine) -> None:
    """Ana's second tab saves items 1 and 2; the next run of the first tab shows them instead of blanks."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana, "assessment")
    instrument = PROGRAM.instruments[BASELINE]
    with write_session(app_env) as session:
        questionnaires.save_answers(
            session=session, viewer=ana, instrument=instrument, occasion="baseline",
            answers={instrument.items[0].key: 2, instrument.items[1].key: 7}, now=utcnow(),
        )  # fmt: skip
    at.run()
    radios = [r.value for r in at.radio if r.key and r.key.startswith(f"q::{BASELINE}::")]
    assert radios[:3] == [2, 7, None]
    assert "2 of 25 answers saved" in texts(at)


def test_item_answers_appear_beside_the_partners_only_once_both_sent(app_env: Engine) -> None:
    """After sending, Ana waits for Ben; once Ben sends too, both answer sets show side by side."""
    ana, ben, _ = _couple(app_env)
    answer_all(app_env, ana, BASELINE, "baseline", 2)
    answer_all(app_env, ben, BASELINE, "baseline", 6, submit=False)
    at = _page(app_env, ana, "assessment")
    assert "You'll see Ben's answers here once Ben has sent theirs too." in texts(at)
    assert len(at.dataframe) == 1
    with write_session(app_env) as session:  # Ben sends his draft
        questionnaires.submit(
            session=session,
            viewer=ben,
            instrument=PROGRAM.instruments[BASELINE],
            occasion="baseline",
            now=utcnow(),
        )
    at.run()
    side_by_side = at.dataframe[1].value
    assert set(side_by_side["You"]) == {2} and set(side_by_side["Ben"]) == {6}


def test_goals_are_needed_before_marking_goals_and_strengths_done(app_env: Engine) -> None:
    """Without a goal the step is refused; with one written it is marked done."""
    ana = make_person(app_env, "ana")
    at = _page(app_env, ana, "assessment")
    click(at, "I've named my goals and strengths")
    assert "write at least one goal" in at.error[0].value
    at.text_area(key="text::assessment:goals").input("Argue less about chores.").run()
    click(at, "I've named my goals and strengths")
    assert "You have named your goals and strengths" in texts(at)


def test_the_safety_check_stays_private_and_a_flagged_one_shows_help(app_env: Engine) -> None:
    """An incomplete check is refused; a flagged one shows help, and is stored under its writer alone."""
    ana, ben, _ = _couple(app_env)
    at = _page(app_env, ana, "assessment")
    click(at, "Keep my answers private and continue")
    assert "Please answer every question" in at.error[0].value
    for item in PROGRAM.safety.items:
        at.radio(key=f"safety::{item.key}").set_value(0 if item.key != "fear" else 3)
    click(at, "Keep my answers private and continue")
    assert PROGRAM.safety.guidance.flagged_title in texts(at)
    assert PROGRAM.safety.resources[0].name in texts(at)
    with read_session(app_env) as session:
        screens = session.exec(select(SafetyScreen)).all()
    assert [(s.person_id, s.flagged) for s in screens] == [(ana.person_id, True)]
    ben_view = _page(app_env, ben, "assessment")
    assert PROGRAM.safety.guidance.flagged_title not in texts(ben_view)


@pytest.mark.parametrize("stage", ["communication", "conflict", "trust", "connection"])
def test_each_stage_page_walks_a_partner_from_start_check_to_end_check(app_env: Engine, stage: str) -> None:
    """Closed until opened; then start check, exercises (a conversation turn by turn), homework, end check."""
    ana, ben, couple = _couple(app_env)
    content = PROGRAM.stage_by_key[stage]
    at = _page(app_env, ana, stage)
    assert at.title[0].value == content.title
    assert "opens when you have both finished" in at.info[0].value
    with write_session(app_env) as session:
        session.add(StageOpening(couple_id=couple, stage=stage))
    at.run()
    assert "The exercises open once you have sent the start check." in texts(at)
    for radio in (r for r in at.radio if r.key and r.key.startswith(f"q::{content.check}::")):
        radio.set_value(3)
    click(at, "Send my answers")
    conversation = next(e for e in content.exercises if e.kind == "conversation")
    assert f"Turn 1 of {len(conversation.turns)}: Ana speaks, Ben listens" in texts(at)
    at.button(key=f"next::turn::{stage}::{conversation.key}").click().run()
    assert f"Turn 2 of {len(conversation.turns)}: Ben speaks, Ana listens" in texts(at)
    assert "Before the end check, finish" in texts(at)
    for talk in (e for e in content.exercises if isinstance(e, ConversationExercise)):
        if talk.another_day_after is not None:
            # A conversation for another day waits until the day after the earlier one is marked done.
            assert f"next::turn::{stage}::{talk.key}" not in [b.key for b in at.button]
            at.button(key=f"done::{stage}::{talk.another_day_after}").click().run()
            assert "This conversation is for another day" in texts(at)
            with write_session(app_env) as session:
                earlier = session.exec(
                    select(ExerciseRecord).where(ExerciseRecord.exercise == talk.another_day_after)
                ).one()
                assert earlier.completed_at is not None
                earlier.completed_at -= timedelta(days=1)
            at.run()
        for _ in talk.turns[1 if talk == conversation else 0 :]:  # every turn not yet had, to the closing
            at.button(key=f"next::turn::{stage}::{talk.key}").click().run()
    log = next(e for e in content.exercises if e.kind == "practice_log")
    at.button(key=f"FormSubmitter:log::{stage}::{log.key}::1-Save day 1").click().run()
    at.checkbox(key=f"early::{stage}::{log.key}").check().run()  # ended early after 1 of 7 days
    for exercise in content.exercises:
        if f"done::{stage}::{exercise.key}" in [b.key for b in at.button]:  # not marked done on the way
            at.button(key=f"done::{stage}::{exercise.key}").click().run()

    at.text_area(key=f"note::{stage}::homework").input("Two short talks, as asked.").run()
    at.button(key=f"done::{stage}::homework").click().run()
    end = [r for r in at.radio if r.key and r.key.startswith(f"q::{content.check}::{stage}:end")]
    assert len(end) == len(PROGRAM.instruments[content.check].items)
    for radio in end:
        radio.set_value(6)
    click(at, "Send my answers")
    assert f"You have finished {content.title}" in texts(at)
    assert not at.exception


def test_home_lists_what_is_due_and_what_the_partner_finished(app_env: Engine) -> None:
    """The home page links the next steps and says when the partner has finished the assessment."""
    ana, ben, _ = _couple(app_env)
    finish_assessment(app_env, ben)
    at = as_viewer(app(), ana, app_env).run()  # through app.py, whose navigation the links point into
    assert "Ben has finished the assessment." in texts(at)
    links = [getattr(link, "label", "") for link in at.get("page_link")]
    assert "Answer the assessment questionnaire" in links


def test_home_run_directly_still_lists_what_is_due(app_env: Engine) -> None:
    """Opened by a deep link (the page file alone), the home page lists due items as text, not an error."""
    ana, _, _ = _couple(app_env)
    at = _page(app_env, ana, "home")
    assert not at.error
    assert "Answer the assessment questionnaire" in texts(at)
