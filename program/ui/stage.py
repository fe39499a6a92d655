"""A skill stage: overview, start check, exercises, homework and end check, for one partner."""

from __future__ import annotations

import streamlit as st

from program.course import conversations, journey, problem_solving, reflections, scoring
from program.course.curriculum import (
    ConversationExercise,
    PracticeLogExercise,
    Program,
    ReflectionExercise,
    Stage,
)
from program.course.questionnaires import own_answers, stage_occasion
from program.infra.db import read_session
from program.infra.models import Reflection, utcnow
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.couple_goals import render_goal_ratings
from program.ui.localtime import local_today, local_zone
from program.ui.problem_solving import render_problem_solving
from program.ui.questionnaire_form import render_questionnaire
from program.ui.text import md
from program.ui.widgets import private_text, render_overview
from program.ui.writes import written


def render_stage(viewer: Viewer, stage_key: str) -> None:
    """Everything a partner does in one stage, in order, with the partner's progress alongside."""
    program = runtime.program()
    stage = program.stage_by_key[stage_key]
    with read_session(runtime.engine()) as session:
        progress = journey.load_journey(session=session, viewer=viewer, program=program)
        saved = reflections.own_texts(session=session, viewer=viewer, prefix=f"{stage.key}:")
    st.title(stage.title)
    st.write(stage.summary)
    if not progress.is_open(stage.key):
        st.info(md(progress.why_closed(stage.key)))  # it names the partner, as they typed it
        render_overview(stage.overview, expanded=True)
        return
    _progress_line(progress, stage)
    render_overview(stage.overview, expanded=progress.next_step(stage.key) == "check-start")
    partner = progress.partner.name if progress.partner else None

    st.header("1 · Where you start")
    _check(viewer, program, progress, stage, "start", partner)
    if not progress.me.did(stage.key, "check-start"):
        st.caption("The exercises open once you have sent the start check.")
        return

    st.header("2 · Exercises")
    for exercise in stage.exercises:
        done = progress.me.did(stage.key, exercise.key)
        with st.expander(f"{exercise.title}{' · done' if done else ''}", expanded=not done):
            end_early = False
            if isinstance(exercise, ReflectionExercise):
                _reflection(viewer, stage, exercise, saved)
            elif isinstance(exercise, ConversationExercise):
                _conversation(viewer, progress, stage, exercise, saved)
            else:
                end_early = _practice_log(viewer, stage, exercise, saved, done)
            if done or not (
                progress.is_joint(stage.key, exercise.key)
                and (progress.joint_closed_reason() or progress.couple_opened_at(stage.key) is None)
            ):
                _mark_done(viewer, program, stage.key, exercise.key, done, end_log_early=end_early)
    if stage.key == problem_solving.STAGE:
        # Done together: while the stage is open for this partner alone (solo track), it waits like the
        # guided conversations (the reason names the partner as typed: escaped here, shown as text).
        waits = progress.joint_waiting_reason(stage.key)
        alone = waits is not None and progress.couple_opened_at(stage.key) is None
        render_problem_solving(
            viewer, partner, progress.joint_closed_reason() or (md(waits) if alone and waits else None)
        )

    st.header("3 · Homework")
    _homework(viewer, program, progress, stage, saved)

    st.header("4 · Where you end")
    try:
        progress.check_allowed(stage.key, "check-end")
    except journey.JourneyError as reason:
        st.caption(str(reason))
        return
    if _check(viewer, program, progress, stage, "end", partner):
        _change(viewer, program, stage)
        render_goal_ratings(viewer, stage.key)  # progress on the shared goals, once the end check is sent


def _progress_line(progress: journey.Journey, stage: Stage) -> None:
    steps = journey.stage_steps(progress.program, stage.key)
    mine = sum(progress.me.did(stage.key, step) for step in steps)
    line = f"You: {mine} of {len(steps)} steps done."
    if progress.partner is not None:
        theirs = sum(progress.partner.did(stage.key, step) for step in steps)
        line += f" {md(progress.partner.name)}: {theirs} of {len(steps)}."
    st.caption(line)


def _check(
    viewer: Viewer, program: Program, progress: journey.Journey, stage: Stage, when: str, partner: str | None
) -> bool:
    return render_questionnaire(
        viewer,
        program.instruments[stage.check],
        stage_occasion(stage.key, when),
        partner_name=partner,
        couple_id=progress.couple_id,
    )


def _mark_done(
    viewer: Viewer,
    program: Program,
    stage: str,
    step: str,
    done: bool,
    *,
    note: str | None = None,
    end_log_early: bool = False,
) -> None:
    if done:
        st.success("You marked this done.")
        return
    if st.button("Mark as done", key=f"done::{stage}::{step}"):
        # The domain decides whether the step is done (turns, days, due day or note); a refusal is shown
        # here and nothing of it is saved.
        if written(
            lambda session: journey.complete_step(
                session=session,
                viewer=viewer,
                program=program,
                stage=stage,
                step=step,
                now=utcnow(),
                note=note,
                end_log_early=end_log_early,
                today=local_today(),
            ),
            journey.JourneyError,
        ):
            st.rerun()


def _reflection(
    viewer: Viewer, stage: Stage, exercise: ReflectionExercise, saved: dict[str, Reflection]
) -> None:
    st.caption(f"On your own · about {exercise.minutes} minutes")
    st.write(exercise.intro)
    for number, prompt in enumerate(exercise.prompts, start=1):
        context = f"{stage.key}:{exercise.key}:{number}"
        private_text(viewer, context, prompt, saved.get(context))


def _conversation(
    viewer: Viewer,
    progress: journey.Journey,
    stage: Stage,
    exercise: ConversationExercise,
    saved: dict[str, Reflection],
) -> None:
    st.caption(f"Together · about {exercise.minutes} minutes · one screen is enough")
    if (closed := progress.joint_closed_reason()) is not None:
        # While joint work is paused: the same sentence for the partner whatever the reason, and nothing
        # of the conversation to start.
        st.info(closed, icon=":material/pause_circle:")
        return
    if (solo_wait := progress.joint_waiting_reason(stage.key)) is not None:
        # The solo track: the conversation waits for the partner, and says why (their name as typed).
        st.info(md(solo_wait), icon=":material/hourglass_empty:")
        if progress.couple_opened_at(stage.key) is None:
            return
    waiting = conversations.waiting_reason(progress, stage.key, exercise, local_today(), local_zone())
    if waiting is not None:
        st.info(waiting, icon=":material/event:")
        return
    partner = progress.partner.name if progress.partner else conversations.NO_PARTNER
    if progress.partner is not None and progress.partner.did(stage.key, exercise.key):
        if not progress.me.did(stage.key, exercise.key):
            st.info(
                f"{md(partner)} marked this conversation as done. "
                "Once you have had it together, mark yours too."
            )
    with read_session(runtime.engine()) as session:
        order = conversations.parts(session=session, journey=progress)
        marked = journey.marked_turns(
            session=session, journey=progress, stage=stage.key, exercise=exercise.key
        )
    # Both screens offer the same default (A joined first); whoever is picked takes the first turn's part.
    first_part = exercise.turns[0].speaker
    starter = st.radio(
        "Who speaks first?",
        [0, 1],
        index=0 if first_part == "A" else 1,
        format_func=lambda index: md(order[index]),
        horizontal=True,
        key=f"starter::{stage.key}::{exercise.key}",
    )
    a, b = order if (starter == 0) == (first_part == "A") else (order[1], order[0])
    st.write(conversations.shown_text(exercise.intro, a, b, md))
    st.markdown(
        "**Ground rules**\n"
        + "\n".join(f"- {conversations.shown_text(rule, a, b, md)}" for rule in exercise.rules)
    )
    turn_key = f"turn::{stage.key}::{exercise.key}"
    total = len(exercise.turns)
    # A reload (or the partner's screen) starts at the first turn not yet gone through.
    first_left = next((n - 1 for n in range(1, total + 1) if n not in marked), total)
    turn = st.session_state.setdefault(turn_key, first_left)
    st.caption(f"Turns gone through: {len(marked & set(range(1, total + 1)))} of {total}.")
    if turn < total:
        shown = conversations.shown_turn(exercise.turns[turn], a, b, md)
        st.markdown(f"#### Turn {turn + 1} of {total}: {shown.speaker} speaks, {shown.listener} listens")
        st.markdown(f"**{shown.speaker}, speaking:** {shown.prompt}")
        st.markdown(f"**{shown.listener}, listening:** {shown.listening}")
    else:
        st.markdown("#### Closing")
        st.write(conversations.shown_text(exercise.closing, a, b, md))

    back, forward, _ = st.columns([1, 1, 3])
    if back.button("Back", key=f"back::{turn_key}", disabled=turn == 0):
        st.session_state[turn_key] = turn - 1
        st.rerun()
    if forward.button(
        "Next turn" if turn < total - 1 else "To the closing", key=f"next::{turn_key}", disabled=turn >= total
    ):
        # Moving on marks the turn just had as gone through, on the server: "mark done" counts these.
        if written(
            lambda session: journey.mark_turn(
                session=session,
                viewer=viewer,
                program=progress.program,
                stage=stage.key,
                exercise=exercise.key,
                turn=turn + 1,
                now=utcnow(),
            ),
            journey.JourneyError,
        ):
            st.session_state[turn_key] = turn + 1
            st.rerun()
    context = f"{stage.key}:{exercise.key}:takeaway"
    private_text(
        viewer, context, "What I'll take from this conversation (optional)", saved.get(context), height=90
    )


def _practice_log(
    viewer: Viewer, stage: Stage, exercise: PracticeLogExercise, saved: dict[str, Reflection], done: bool
) -> bool:
    """The log's days; returns whether the partner confirmed ending it early (asked only while days are
    left, after at least one is noted)."""
    st.caption(f"Through the week · a couple of minutes a day for {exercise.days} days")
    st.write(exercise.intro)
    with read_session(runtime.engine()) as session:
        entries = journey.log_entries(session=session, viewer=viewer, stage=stage.key, exercise=exercise.key)
        ended = journey.log_ended_early(
            session=session, viewer=viewer, stage=stage.key, exercise=exercise.key
        )
    filled = journey.noted_days(exercise, entries)
    st.caption(f"Days noted so far: {', '.join(map(str, filled)) or 'none yet'}.")
    if done and ended is not None:
        st.caption(f"You ended this log early after {ended[0]} of {ended[1]} days.")
    day = st.selectbox("Day", range(1, exercise.days + 1), key=f"day::{stage.key}::{exercise.key}")
    today = entries.get(str(day), {})
    values: dict[str, int | bool | None] = {}
    with st.form(f"log::{stage.key}::{exercise.key}::{day}"):
        for field in exercise.fields:
            if field.type == "rating":
                values[field.key] = st.slider(field.label, 0, 10, value=int(today.get(field.key, 5) or 0))
            elif field.type == "yesno":
                current = today.get(field.key)
                choice = st.radio(
                    field.label,
                    ["Yes", "No"],
                    index=None if current is None else (0 if current else 1),
                    horizontal=True,
                )
                values[field.key] = None if choice is None else choice == "Yes"
        saved_day = st.form_submit_button(f"Save day {day}")
    if saved_day:
        if written(
            lambda session: journey.save_log_entry(
                session=session,
                viewer=viewer,
                stage=stage,
                exercise=exercise.key,
                day=day,
                values=values,
                now=utcnow(),
            ),
            journey.JourneyError,
        ):
            st.success(f"Day {day} is saved.")
            with read_session(runtime.engine()) as session:
                entries = journey.log_entries(
                    session=session, viewer=viewer, stage=stage.key, exercise=exercise.key
                )
            filled = journey.noted_days(exercise, entries)
    for field in exercise.fields:
        if field.type == "text":
            context = f"{stage.key}:{exercise.key}:day{day}:{field.key}"
            private_text(viewer, context, f"{field.label} (day {day})", saved.get(context), height=80)
    if done or not 0 < len(filled) < exercise.days:
        return False
    return st.checkbox(
        f"End this log early after {len(filled)} of {exercise.days} days",
        key=f"early::{stage.key}::{exercise.key}",
        help="The log then counts as done, and your progress shows that it ended early.",
    )


def _homework(
    viewer: Viewer, program: Program, progress: journey.Journey, stage: Stage, saved: dict[str, Reflection]
) -> None:
    st.subheader(stage.homework.title)
    st.markdown(stage.homework.instructions)
    due = progress.homework_due(stage.key)
    done = progress.me.did(stage.key, journey.HOMEWORK)
    if done and (kept := saved.get(journey.homework_note_context(stage.key))) is not None:
        st.caption(f"Your note (private): {md(kept.body)}")
    note: str | None = None
    if due is not None and not done:
        today = local_today()
        days = (due - today).days
        when = f"{due:%A %d %B}" + (f" ({-days} days ago)" if days < 0 else "")
        (st.warning if days < 0 else st.caption)(f"Due {when}.")
        if today < due:
            note = st.text_area(
                "What you did (needed to mark it done before the due day; kept private)",
                key=f"note::{stage.key}::{journey.HOMEWORK}",
                max_chars=reflections.MAX_CHARS,
                height=80,
            )
    _mark_done(viewer, program, stage.key, journey.HOMEWORK, done, note=note)


def _change(viewer: Viewer, program: Program, stage: Stage) -> None:
    instrument = program.instruments[stage.check]
    with read_session(runtime.engine()) as session:
        start, end = (
            own_answers(
                session=session,
                viewer=viewer,
                instrument=instrument.key,
                occasion=stage_occasion(stage.key, when),
            )
            for when in ("start", "end")
        )
    before, after = scoring.score(instrument, start.answers), scoring.score(instrument, end.answers)
    for subscale in instrument.subscales:
        first, last = before[subscale.key].score, after[subscale.key].score
        if first is not None and last is not None:
            st.metric(f"{subscale.title}: start to end", f"{last:.1f}", f"{last - first:+.1f}")
    st.success(f"You have finished {stage.title}. Well done for sticking with it.")
