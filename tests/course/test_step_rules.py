"""Steps are done when they are done: a conversation's turns, a practice log's days (or a confirmed early
end, which the progress data shows), homework's due day or a note. Refusals save nothing."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.charts import figures, progress_data
from program.course import journey
from program.course.curriculum import ConversationExercise, PracticeLogExercise
from program.infra.db import read_session, write_session
from program.infra.models import ExerciseRecord, Reflection, Visibility
from program.privacy import couples
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, finish_assessment

STAGE = PROGRAM.stage_by_key["communication"]
CONVERSATION = next(e for e in STAGE.exercises if isinstance(e, ConversationExercise))
LOG = next(e for e in STAGE.exercises if isinstance(e, PracticeLogExercise))
RATING = next(f.key for f in LOG.fields if f.type == "rating")
TURNS = len(CONVERSATION.turns)
# Communication opens at T0 (both assessments done then); its homework is due this many days later.
DUE = (T0 + timedelta(days=STAGE.homework.due_days)).date()
KEY = b"k" * 32
PRIVATE = Visibility.PRIVATE


def _started_couple(engine: Engine) -> tuple[Viewer, Viewer, int]:
    """Ana and Ben, both through the assessment and the communication start check."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    couple = make_couple(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
        answer_all(engine, partner, STAGE.check, "communication:start", 4)
    return ana, ben, couple


def _complete(
    engine: Engine, viewer: Viewer, step: str, *, now: datetime = T0, note: str | None = None,
    end_log_early: bool = False, today: date | None = None,
) -> None:  # fmt: skip
    with write_session(engine) as session:
        journey.complete_step(
            session=session, viewer=viewer, program=PROGRAM, stage=STAGE.key, step=step, now=now,
            note=note, end_log_early=end_log_early, today=today,
        )  # fmt: skip


def _mark_turns(engine: Engine, viewer: Viewer, turns: range | list[int]) -> None:
    with write_session(engine) as session:
        for turn in turns:
            journey.mark_turn(
                session=session, viewer=viewer, program=PROGRAM, stage=STAGE.key,
                exercise=CONVERSATION.key, turn=turn, now=T0,
            )  # fmt: skip


def _log_days(engine: Engine, viewer: Viewer, days: range) -> None:
    with write_session(engine) as session:
        for day in days:
            journey.save_log_entry(
                session=session, viewer=viewer, stage=STAGE, exercise=LOG.key, day=day,
                values={RATING: 6}, now=T0,
            )  # fmt: skip


def _did(engine: Engine, viewer: Viewer, step: str) -> bool:
    with read_session(engine) as session:
        return journey.load_journey(session=session, viewer=viewer, program=PROGRAM).me.did(STAGE.key, step)


def _completed_rows(engine: Engine) -> list[tuple[int, str]]:
    with read_session(engine) as session:
        return [
            (r.person_id, r.exercise)
            for r in session.exec(
                select(ExerciseRecord).where(
                    col(ExerciseRecord.completed_at).is_not(None), ExerciseRecord.stage == STAGE.key
                )
            )
        ]


# ---- guided conversation ---------------------------------------------------------------------------


def test_a_conversation_with_no_turns_marked_is_refused_naming_the_turns_left(engine: Engine) -> None:
    """Mark done with nothing had: refused, the message lists every turn, nothing is completed."""
    ana, _, _ = _started_couple(engine)
    with pytest.raises(journey.JourneyError) as refusal:
        _complete(engine, ana, CONVERSATION.key)
    every = ", ".join(str(n) for n in range(1, TURNS))
    assert str(refusal.value) == (
        f"Go through every turn of the conversation first: turns {every} and {TURNS} of {TURNS} are not "
        "marked yet."
    )
    assert _completed_rows(engine) == []


def test_a_conversation_with_one_turn_left_names_that_turn(engine: Engine) -> None:
    """All but the last turn marked: still refused, and the refusal names just that turn."""
    ana, _, _ = _started_couple(engine)
    _mark_turns(engine, ana, range(1, TURNS))
    with pytest.raises(journey.JourneyError, match=f"turn {TURNS} of {TURNS} is not marked yet"):
        _complete(engine, ana, CONVERSATION.key)
    assert not _did(engine, ana, CONVERSATION.key)


def test_a_conversation_with_every_turn_marked_is_done_for_both_on_one_screen(engine: Engine) -> None:
    """Turns marked on Ana's screen count for the conversation they had together: both may mark it done."""
    ana, ben, _ = _started_couple(engine)
    _mark_turns(engine, ana, range(1, TURNS + 1))
    _complete(engine, ana, CONVERSATION.key)
    _complete(engine, ben, CONVERSATION.key)
    assert _did(engine, ana, CONVERSATION.key) and _did(engine, ben, CONVERSATION.key)


def test_a_turn_outside_the_conversation_is_refused(engine: Engine) -> None:
    """Turn 0 or one past the last is not a turn; a reflection has no turns."""
    ana, _, _ = _started_couple(engine)
    for turn in (0, TURNS + 1, -1):
        with pytest.raises(journey.JourneyError, match="not a turn of this conversation"):
            _mark_turns(engine, ana, [turn])
    reflection = next(e for e in STAGE.exercises if e.kind == "reflection")
    with (
        pytest.raises(journey.JourneyError, match="not a turn of this conversation"),
        write_session(engine) as session,
    ):
        journey.mark_turn(
            session=session, viewer=ana, program=PROGRAM, stage=STAGE.key, exercise=reflection.key, turn=1,
            now=T0,
        )  # fmt: skip


def test_turns_wait_for_the_start_check(engine: Engine) -> None:
    """Before the start check no turn can be marked (the stage's order holds for turns too)."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    finish_assessment(engine, ana)
    finish_assessment(engine, ben)
    with pytest.raises(journey.JourneyError, match="Start with the short check"):
        _mark_turns(engine, ana, [1])


# ---- practice log ----------------------------------------------------------------------------------


def test_a_seven_day_log_after_three_days_is_refused(engine: Engine) -> None:
    """Three of seven days noted: refused, saying how many and how to end it early; nothing completed."""
    ana, _, _ = _started_couple(engine)
    _log_days(engine, ana, range(1, 4))
    with pytest.raises(journey.JourneyError) as refusal:
        _complete(engine, ana, LOG.key)
    assert str(refusal.value) == (
        f"This log has 3 of {LOG.days} days noted. Note the other days, or confirm that you are ending it "
        "early."
    )
    assert _completed_rows(engine) == []


def test_a_log_ended_early_is_done_and_the_progress_data_shows_it(engine: Engine) -> None:
    """Confirming the early end after 3 of 7 days completes the log; both partners' progress data say so."""
    ana, ben, couple = _started_couple(engine)
    _log_days(engine, ana, range(1, 4))
    _complete(engine, ana, LOG.key, end_log_early=True)
    assert _did(engine, ana, LOG.key)
    with read_session(engine) as session:
        for viewer in (ana, ben):
            data = progress_data.load_progress(
                session=session, viewer=viewer, couple_id=couple, program=PROGRAM
            )
            assert data.logs_ended_early == (
                progress_data.LogEndedEarly(ana.person_id, STAGE.key, LOG.key, days_logged=3, days=LOG.days),
            )
        assert journey.log_ended_early(session=session, viewer=ana, stage=STAGE.key, exercise=LOG.key) == (
            3,
            LOG.days,
        )


def test_a_log_with_no_days_cannot_be_ended_early(engine: Engine) -> None:
    """Ending early with nothing noted is nothing done: refused."""
    ana, _, _ = _started_couple(engine)
    with pytest.raises(journey.JourneyError, match="Note at least one day"):
        _complete(engine, ana, LOG.key, end_log_early=True)
    assert _completed_rows(engine) == []


def test_a_log_with_every_day_noted_is_done_and_not_marked_as_ended_early(engine: Engine) -> None:
    """Seven of seven days: done without any confirmation, and the progress data shows no early end."""
    ana, _, couple = _started_couple(engine)
    _log_days(engine, ana, range(1, LOG.days + 1))
    _complete(engine, ana, LOG.key, end_log_early=True)
    with read_session(engine) as session:
        data = progress_data.load_progress(session=session, viewer=ana, couple_id=couple, program=PROGRAM)
    assert _did(engine, ana, LOG.key) and data.logs_ended_early == ()


def test_an_empty_day_does_not_count_as_noted(engine: Engine) -> None:
    """A day saved with every answer blank is not a day noted."""
    ana, _, _ = _started_couple(engine)
    _log_days(engine, ana, range(1, LOG.days))
    with write_session(engine) as session:
        journey.save_log_entry(
            session=session, viewer=ana, stage=STAGE, exercise=LOG.key, day=LOG.days, values={RATING: None},
            now=T0,
        )  # fmt: skip
    with pytest.raises(journey.JourneyError, match=f"{LOG.days - 1} of {LOG.days} days noted"):
        _complete(engine, ana, LOG.key)


# ---- homework --------------------------------------------------------------------------------------


def test_homework_before_its_due_day_without_a_note_is_refused(engine: Engine) -> None:
    """The day before it is due, no note (or only spaces): refused with the due day; nothing saved."""
    ana, _, _ = _started_couple(engine)
    day_before = T0 + timedelta(days=STAGE.homework.due_days - 1)
    for note in (None, "", "   \n\t "):
        with pytest.raises(journey.JourneyError) as refusal:
            _complete(engine, ana, journey.HOMEWORK, now=day_before, note=note)
        assert str(refusal.value) == (
            f"This homework is due on {DUE:%A %d %B}. To mark it done before then, write a note saying "
            "what you did."
        )
    assert _completed_rows(engine) == []
    with read_session(engine) as session:
        assert session.exec(select(Reflection)).all() == []


def test_homework_before_its_due_day_with_a_note_is_done_and_the_note_kept_private(engine: Engine) -> None:
    """With a note, early homework is done; the note is kept, trimmed, as the writer's private text."""
    ana, _, _ = _started_couple(engine)
    _complete(
        engine, ana, journey.HOMEWORK, now=T0 + timedelta(days=1), note="  Two short talks, Tue and Thu. "
    )
    assert _did(engine, ana, journey.HOMEWORK)
    with read_session(engine) as session:
        notes = session.exec(select(Reflection)).all()
    assert [(n.person_id, n.context, n.body, n.visibility) for n in notes] == [
        (ana.person_id, f"{STAGE.key}:{journey.HOMEWORK}:note", "Two short talks, Tue and Thu.", PRIVATE)
    ]


def test_homework_on_its_due_day_needs_no_note(engine: Engine) -> None:
    """From the due day on, marking homework done is enough."""
    ana, _, _ = _started_couple(engine)
    _complete(engine, ana, journey.HOMEWORK, now=T0 + timedelta(days=STAGE.homework.due_days))
    assert _did(engine, ana, journey.HOMEWORK)


def test_the_due_day_is_the_persons_own_day_not_the_servers(engine: Engine) -> None:
    """Late evening UTC the day before it is due is already the due day in Auckland, and still the day
    before in Honolulu: the person's own calendar day decides, as the page's "Due ..." line says."""
    ana, ben, _ = _started_couple(engine)
    evening_before = datetime.combine(DUE - timedelta(days=1), datetime.min.time(), T0.tzinfo) + timedelta(
        hours=22
    )
    _complete(engine, ana, journey.HOMEWORK, now=evening_before, today=DUE)
    assert _did(engine, ana, journey.HOMEWORK)
    morning_of = evening_before + timedelta(hours=4)
    with pytest.raises(journey.JourneyError, match="due on"):
        _complete(engine, ben, journey.HOMEWORK, now=morning_of, today=DUE - timedelta(days=1))
    assert not _did(engine, ben, journey.HOMEWORK)


def test_a_too_long_homework_note_is_refused_and_nothing_saved(engine: Engine) -> None:
    """A note over the text limit: a clear refusal, the step not done, no text kept."""
    ana, _, _ = _started_couple(engine)
    with pytest.raises(journey.JourneyError, match="under 5,000 characters"):
        _complete(engine, ana, journey.HOMEWORK, note="x" * 5_001)
    assert _completed_rows(engine) == []
    with read_session(engine) as session:
        assert session.exec(select(Reflection)).all() == []


# ---- other couples ---------------------------------------------------------------------------------


def test_another_couples_partner_cannot_mark_my_steps(engine: Engine) -> None:
    """Cai and Dee (another couple) mark every turn and log every day: Ana's steps stay undone and
    Ana's conversation is still refused; their work is theirs."""
    ana, _, _ = _started_couple(engine)
    cai, dee = make_person(engine, "cai"), make_person(engine, "dee")
    make_couple(engine, cai, dee)
    for partner in (cai, dee):
        finish_assessment(engine, partner)
        answer_all(engine, partner, STAGE.check, "communication:start", 4)
    _mark_turns(engine, cai, range(1, TURNS + 1))
    _log_days(engine, cai, range(1, LOG.days + 1))
    _complete(engine, cai, CONVERSATION.key)
    _complete(engine, cai, LOG.key)
    with pytest.raises(journey.JourneyError, match="Go through every turn"):
        _complete(engine, ana, CONVERSATION.key)
    with pytest.raises(journey.JourneyError, match=f"0 of {LOG.days} days noted"):
        _complete(engine, ana, LOG.key)
    assert not _did(engine, ana, CONVERSATION.key) and not _did(engine, ana, LOG.key)
    assert sorted(_completed_rows(engine)) == sorted(
        [(cai.person_id, CONVERSATION.key), (cai.person_id, LOG.key)]
    )


def test_turns_from_a_former_couple_do_not_count_in_the_next(engine: Engine) -> None:
    """Ana and Ben mark every turn; Ben leaves; with Cai, Ana's conversation starts again from no turns."""
    ana, ben, _ = _started_couple(engine)
    _mark_turns(engine, ana, range(1, TURNS + 1))
    _mark_turns(engine, ben, range(1, TURNS + 1))
    cai = make_person(engine, "cai")
    later = T0 + timedelta(days=1)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=later)
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=ana, key=KEY, now=later).code
    with write_session(engine) as session:
        couples.join_couple(session=session, viewer=cai, code=code, key=KEY, now=later)
    for partner in (ana, cai):
        finish_assessment(engine, partner, now=later)
        answer_all(engine, partner, STAGE.check, "communication:start", 4, now=later)
    with pytest.raises(journey.JourneyError, match=f"turns 1, .* and {TURNS} of {TURNS} are not marked"):
        _complete(engine, ana, CONVERSATION.key, now=later)


def test_the_stage_progress_caption_says_which_log_ended_early() -> None:
    """The progress chart's caption names the partner, the log and how many of its days were noted."""
    ana, ben = progress_data.Partner(1, "Ana"), progress_data.Partner(2, "Ben")
    data = progress_data.ProgressData(
        couple_id=7,
        partners=(ana, ben),
        checkins=(),
        fillings=(),
        steps_done={1: {"assessment": 2, STAGE.key: 4}, 2: {"assessment": 2}},
        steps_total={stage: len(journey.stage_steps(PROGRAM, stage)) for stage in journey.ORDER},
        logs_ended_early=(progress_data.LogEndedEarly(1, STAGE.key, LOG.key, days_logged=3, days=LOG.days),),
    )
    chart = figures.stage_progress(data, PROGRAM)
    assert isinstance(chart, figures.Chart)
    assert chart.caption.endswith(f"; Ana ended '{LOG.title}' early after 3 of {LOG.days} days.")


def test_turns_marked_at_the_same_moment_in_two_tabs_are_all_kept(engine: Engine) -> None:
    """Every turn marked at once (two tabs, a double click): none is lost and nobody gets a database error."""
    ana, _, _ = _started_couple(engine)
    for round_ in range(3):
        assert _mark_every_turn_at_once(engine, ana) == []
        with read_session(engine) as session:
            progress_ = journey.load_journey(session=session, viewer=ana, program=PROGRAM)
            turns = journey.marked_turns(
                session=session, journey=progress_, stage=STAGE.key, exercise=CONVERSATION.key
            )
        assert turns == set(range(1, TURNS + 1)), f"round {round_}"
        with write_session(engine) as session:  # the next round starts from no record at all
            for record in session.exec(select(ExerciseRecord).where(ExerciseRecord.stage == STAGE.key)):
                session.delete(record)


def _mark_every_turn_at_once(engine: Engine, viewer: Viewer) -> list[BaseException]:
    """Each turn marked in its own thread and unit of work, all released together; the errors raised."""
    barrier = threading.Barrier(TURNS)
    errors: list[BaseException] = []

    def mark(turn: int) -> None:
        barrier.wait()
        try:
            _mark_turns(engine, viewer, [turn])
        except BaseException as error:  # noqa: BLE001  (collected and asserted by the caller)
            errors.append(error)

    threads = [threading.Thread(target=mark, args=(turn,)) for turn in range(1, TURNS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
