"""The stage page refuses steps marked done with nothing done, says why in the page, and saves nothing."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from streamlit.testing.v1 import AppTest

from program.course import journey
from program.course.curriculum import ConversationExercise, PracticeLogExercise
from program.infra.db import read_session, write_session
from program.infra.models import ExerciseRecord, Reflection, StageOpening, utcnow
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, answer_all
from tests.ui.helpers import app, as_viewer, texts

STAGE = PROGRAM.stage_by_key["communication"]
CONVERSATION = next(e for e in STAGE.exercises if isinstance(e, ConversationExercise))
LOG = next(e for e in STAGE.exercises if isinstance(e, PracticeLogExercise))
RATING = next(f.key for f in LOG.fields if f.type == "rating")


def _stage_page(engine: Engine) -> tuple[AppTest, Viewer]:
    """Ana on the communication page, the stage opened today by their therapist, her start check sent."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    couple = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        session.add(StageOpening(couple_id=couple, stage=STAGE.key, opened_at=utcnow()))
    answer_all(engine, ana, STAGE.check, "communication:start", 4, now=utcnow())
    return as_viewer(app("pages/communication.py"), ana, engine).run(), ana


def _completed(engine: Engine) -> list[str]:
    with read_session(engine) as session:
        return list(
            session.exec(
                select(ExerciseRecord.exercise).where(
                    col(ExerciseRecord.completed_at).is_not(None), ExerciseRecord.stage == STAGE.key
                )
            )
        )


def _done(at: AppTest, step: str) -> AppTest:
    return at.button(key=f"done::{STAGE.key}::{step}").click().run()


def test_a_conversation_with_no_turns_is_refused_in_the_page_then_done_turn_by_turn(app_env: Engine) -> None:
    """ "Mark as done" before any turn shows which turns are left and saves nothing; after going through
    every turn with "Next turn" it is accepted."""
    at, _ = _stage_page(app_env)
    total = len(CONVERSATION.turns)
    _done(at, CONVERSATION.key)
    left = ", ".join(str(n) for n in range(1, total))
    assert (
        f"Go through every turn of the conversation first: turns {left} and {total} of {total} are not "
        "marked yet."
    ) in [e.value for e in at.error]
    assert _completed(app_env) == []
    for _ in range(total):
        at.button(key=f"next::turn::{STAGE.key}::{CONVERSATION.key}").click().run()
    assert f"Turns gone through: {total} of {total}." in texts(at)
    _done(at, CONVERSATION.key)
    assert not at.error and _completed(app_env) == [CONVERSATION.key]
    assert not at.exception


def test_turns_gone_through_come_back_after_a_reload(app_env: Engine) -> None:
    """Two turns marked, then a new session: the page counts them and opens at turn 3."""
    at, ana = _stage_page(app_env)
    for _ in range(2):
        at.button(key=f"next::turn::{STAGE.key}::{CONVERSATION.key}").click().run()
    reloaded = as_viewer(app("pages/communication.py"), ana, app_env).run()
    assert f"Turns gone through: 2 of {len(CONVERSATION.turns)}." in texts(reloaded)
    assert f"Turn 3 of {len(CONVERSATION.turns)}:" in texts(reloaded)


def test_a_log_after_three_days_is_refused_until_its_early_end_is_confirmed(app_env: Engine) -> None:
    """Three of seven days: refused with the count; the confirm box names 3 of 7; ticked, it is done and
    the page says the log ended early."""
    at, ana = _stage_page(app_env)
    with write_session(app_env) as session:
        for day in (1, 2, 3):
            journey.save_log_entry(
                session=session, viewer=ana, stage=STAGE, exercise=LOG.key, day=day, values={RATING: 6},
                now=utcnow(),
            )  # fmt: skip
    at.run()
    _done(at, LOG.key)
    assert (
        f"This log has 3 of {LOG.days} days noted. Note the other days, or confirm that you are ending it "
        "early."
    ) in [e.value for e in at.error]
    assert _completed(app_env) == []
    at.checkbox(key=f"early::{STAGE.key}::{LOG.key}").check().run()
    assert (
        at.checkbox(key=f"early::{STAGE.key}::{LOG.key}").label
        == f"End this log early after 3 of {LOG.days} days"
    )
    _done(at, LOG.key)
    assert _completed(app_env) == [LOG.key]
    assert f"You ended this log early after 3 of {LOG.days} days." in texts(at)


def test_homework_before_its_due_day_needs_a_note_and_a_blank_one_saves_nothing(app_env: Engine) -> None:
    """Due in a week: "Mark as done" alone, or with spaces for a note, is refused naming the due day and
    keeps no text; with a note it is done and the note kept."""
    at, _ = _stage_page(app_env)
    _done(at, journey.HOMEWORK)
    assert any("This homework is due on" in e.value and "write a note" in e.value for e in at.error)
    at.text_area(key=f"note::{STAGE.key}::{journey.HOMEWORK}").input("   ").run()
    _done(at, journey.HOMEWORK)
    assert any("This homework is due on" in e.value for e in at.error)
    assert _completed(app_env) == []
    with read_session(app_env) as session:
        assert session.exec(select(Reflection)).all() == []
    at.text_area(key=f"note::{STAGE.key}::{journey.HOMEWORK}").input("Two talks, **Tue** and Sat.").run()
    _done(at, journey.HOMEWORK)
    assert not at.error and _completed(app_env) == [journey.HOMEWORK]
    shown = [c.value for c in at.caption if c.value.startswith("Your note (private): ")]
    assert shown == [r"Your note (private): Two talks, \*\*Tue\*\* and Sat\."]  # as typed, never bold
    with read_session(app_env) as session:
        assert [r.body for r in session.exec(select(Reflection))] == ["Two talks, **Tue** and Sat."]
