"""Progression through the program: solo start, stages opening for both, steps in order, homework dates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from program.course import journey, reminders
from program.infra.db import read_session, write_session
from program.infra.models import Role
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, do_step, finish_assessment, finish_stage


def _journey(engine: Engine, viewer: Viewer) -> journey.Journey:
    with read_session(engine) as session:
        return journey.load_journey(session=session, viewer=viewer, program=PROGRAM)


def test_a_partner_can_start_the_assessment_alone(engine: Engine) -> None:
    """Before the other partner joins, the assessment is open and the skill stages wait."""
    ana = make_person(engine, "ana")
    progress = _journey(engine, ana)
    assert progress.is_open("assessment") and not progress.is_open("communication")
    assert "once your partner has joined" in progress.why_closed("communication")
    finish_assessment(engine, ana)
    assert _journey(engine, ana).me.finished_at("assessment") is not None


def test_a_stage_opens_when_both_partners_finished_the_previous_one(engine: Engine) -> None:
    """Communication waits for both assessments, and says who still has to finish."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    finish_assessment(engine, ana)
    progress = _journey(engine, ana)
    assert not progress.is_open("communication")
    assert progress.why_closed("communication").endswith("Still to finish it: Ben.")
    finish_assessment(engine, ben, now=T0 + timedelta(days=2))
    progress = _journey(engine, ana)
    assert progress.is_open("communication") and not progress.is_open("conflict")
    assert progress.opened_at("communication") == T0 + timedelta(days=2)
    assert progress.homework_due("communication") == (T0 + timedelta(days=9)).date()


def test_steps_go_in_order_within_a_stage(engine: Engine) -> None:
    """Exercises wait for the start check; the end check waits for every exercise and the homework."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    finish_assessment(engine, ana)
    finish_assessment(engine, ben)
    first_exercise = PROGRAM.stage_by_key["communication"].exercises[0].key
    with (
        pytest.raises(journey.JourneyError, match="Start with the short check"),
        write_session(engine) as session,
    ):
        journey.complete_step(
            session=session, viewer=ana, program=PROGRAM, stage="communication", step=first_exercise, now=T0
        )
    answer_all(engine, ana, "communication-check", "communication:start", 4)
    with pytest.raises(journey.JourneyError, match="Before the end check, finish"):
        _journey(engine, ana).check_allowed("communication", "check-end")
    for step in journey.stage_steps(PROGRAM, "communication")[1:-1]:
        do_step(engine, ana, "communication", step)
    answer_all(engine, ana, "communication-check", "communication:end", 6)
    assert _journey(engine, ana).me.finished_at("communication") is not None


def test_a_therapist_can_open_a_stage_early(engine: Engine) -> None:
    """With both partners' grants, the therapist opens Conflict before Communication is done."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    with pytest.raises(AccessDenied), write_session(engine) as session:
        journey.open_stage(session=session, viewer=kim, couple_id=couple, stage="conflict", now=T0)
    grant(engine, couple, kim, ana)
    grant(engine, couple, kim, ben)
    with write_session(engine) as session:
        journey.open_stage(session=session, viewer=kim, couple_id=couple, stage="conflict", now=T0)
    progress = _journey(engine, ana)
    assert progress.is_open("conflict") and not progress.is_open("communication")


def test_a_couple_can_go_from_assessment_through_connection(engine: Engine) -> None:
    """Both partners finish every stage in turn; each stage opens after the one before."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
    for stage in ("communication", "conflict", "trust", "connection"):
        assert _journey(engine, ana).is_open(stage)
        for partner in (ana, ben):
            finish_stage(engine, partner, stage)
    progress = _journey(engine, ben)
    assert all(progress.me.finished_at(s.key) for s in PROGRAM.stages)
    assert progress.current_stage() == "connection" and progress.next_step("connection") is None


def test_due_now_lists_the_next_steps_and_late_homework(engine: Engine) -> None:
    """The home panel shows the check-in, the next step, and homework past its date as overdue."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    finish_assessment(engine, ana)
    finish_assessment(engine, ben)
    answer_all(engine, ana, "communication-check", "communication:start")
    for step in journey.stage_steps(PROGRAM, "communication")[1:-2]:
        do_step(engine, ana, "communication", step)
    progress = _journey(engine, ana)
    late = reminders.due_now(progress, checkin_done=False, today=(T0 + timedelta(days=30)).date())
    assert late[0].page == "checkin"
    assert late[1].overdue and "homework" in late[1].text and late[1].page == "communication"
    on_time = reminders.due_now(progress, checkin_done=True, today=T0.date())
    assert not on_time[0].overdue and on_time[0].page == "communication"


def test_partner_news_mentions_a_shared_conversation_the_partner_marked_done(engine: Engine) -> None:
    """When Ben marks the joint conversation done, Ana is told and asked to mark hers."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    finish_assessment(engine, ana)
    finish_assessment(engine, ben)
    answer_all(engine, ben, "communication-check", "communication:start")
    conversation = next(
        e for e in PROGRAM.stage_by_key["communication"].exercises if e.kind == "conversation"
    )
    do_step(engine, ben, "communication", conversation.key)
    news = reminders.partner_news(_journey(engine, ana))
    assert news == [f"Ben marked the conversation '{conversation.title}' as done; mark yours too."]


def test_practice_log_entries_are_kept_per_day_and_checked(engine: Engine) -> None:
    """A day's ratings are saved and merged; an out-of-range rating is refused."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    stage = PROGRAM.stage_by_key["communication"]
    log = next(e for e in stage.exercises if e.kind == "practice_log")
    rating = next(f.key for f in log.fields if f.type == "rating")
    with write_session(engine) as session:
        journey.save_log_entry(
            session=session, viewer=ana, stage=stage, exercise=log.key, day=2, values={rating: 7}, now=T0
        )
    with pytest.raises(journey.JourneyError, match="0 to 10"), write_session(engine) as session:
        journey.save_log_entry(
            session=session, viewer=ana, stage=stage, exercise=log.key, day=3, values={rating: 11}, now=T0
        )
    with read_session(engine) as session:
        assert journey.log_entries(session=session, viewer=ana, stage="communication", exercise=log.key) == {
            "2": {rating: 7}
        }
