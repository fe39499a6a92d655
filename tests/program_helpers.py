"""Helpers for tests of the program: answering questionnaires and completing steps through the domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from program.course import journey, questionnaires
from program.course.curriculum import ConversationExercise, PracticeLogExercise, Program, load_program
from program.infra.db import write_session
from program.privacy.viewer import Viewer

PROGRAM: Program = load_program()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def answer_all(
    engine: Engine, viewer: Viewer, instrument: str, occasion: str, value: int = 5, *, submit: bool = True,
    now: datetime = T0,
) -> None:  # fmt: skip
    """Answer every item of a questionnaire with one value, and send it."""
    form = PROGRAM.instruments[instrument]
    with write_session(engine) as session:
        for item in form.items:
            questionnaires.save_answer(
                session=session,
                viewer=viewer,
                instrument=form,
                occasion=occasion,
                item=item.key,
                value=value,
                now=now,
            )
        if submit:
            questionnaires.submit(session=session, viewer=viewer, instrument=form, occasion=occasion, now=now)


def finish_assessment(engine: Engine, viewer: Viewer, now: datetime = T0) -> None:
    """The baseline sent and goals named."""
    answer_all(engine, viewer, PROGRAM.assessment.overview.questionnaire, questionnaires.BASELINE, now=now)
    with write_session(engine) as session:
        journey.complete_step(
            session=session,
            viewer=viewer,
            program=PROGRAM,
            stage=journey.ASSESSMENT,
            step=journey.GOALS,
            now=now,
        )


def finish_stage(engine: Engine, viewer: Viewer, stage: str, now: datetime = T0) -> None:
    """Every step of a skill stage, in order."""
    check = PROGRAM.stage_by_key[stage].check
    answer_all(engine, viewer, check, questionnaires.stage_occasion(stage, "start"), 3, now=now)
    for step in journey.stage_steps(PROGRAM, stage)[1:-1]:
        do_step(engine, viewer, stage, step, now=now)
    answer_all(
        engine, viewer, check, questionnaires.stage_occasion(stage, "end"), 6, now=now + timedelta(days=7)
    )


def do_step(engine: Engine, viewer: Viewer, stage: str, step: str, now: datetime = T0) -> None:
    """Do what a step asks (every turn of a conversation, every day of a log, a note for homework that is
    not due yet), then mark it done."""
    with write_session(engine) as session:
        if step != journey.HOMEWORK:
            exercise = PROGRAM.stage_by_key[stage].exercise(step)
            if isinstance(exercise, ConversationExercise):
                for turn in range(1, len(exercise.turns) + 1):
                    journey.mark_turn(
                        session=session, viewer=viewer, program=PROGRAM, stage=stage, exercise=step,
                        turn=turn, now=now,
                    )  # fmt: skip
            elif isinstance(exercise, PracticeLogExercise):
                answers = {
                    f.key: True if f.type == "yesno" else 5 for f in exercise.fields if f.type != "text"
                }
                for day in range(1, exercise.days + 1):
                    journey.save_log_entry(
                        session=session, viewer=viewer, stage=PROGRAM.stage_by_key[stage],
                        exercise=step, day=day, values=answers, now=now,
                    )  # fmt: skip
        journey.complete_step(
            session=session, viewer=viewer, program=PROGRAM, stage=stage, step=step, now=now,
            note="We did it together." if step == journey.HOMEWORK else None,
        )  # fmt: skip
