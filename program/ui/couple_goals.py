"""Shared couple goals on screen: agreeing them after the assessment, and rating them at each stage's end.

The UI of program.course.couple_goals, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from program.course import couple_goals
from program.course.couple_goals import GoalError, GoalsState
from program.infra.db import read_session, write_session
from program.infra.models import utcnow
from program.privacy.access import CoupleGoalView
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.text import md
from program.ui.writes import step_written

MESSAGE = "couple_goals_message"  # what the last goal action said, shown once on the next run
PROPOSAL = "couple_goals_proposal"
_T = TypeVar("_T")
SECTION_TITLE = "Our shared goals"


def _state(viewer: Viewer) -> GoalsState:
    with read_session(runtime.engine()) as session:
        return couple_goals.goals_state(session=session, viewer=viewer, program=runtime.program())


def _say(kind: str, text: str) -> None:
    st.session_state[MESSAGE] = (kind, text)


def _show_message() -> None:
    said = st.session_state.pop(MESSAGE, None)
    if said is not None:
        kind, text = said
        (st.error if kind == "error" else st.success)(text)


# Buttons act through callbacks with the goal's text as drawn bound in: accepting confirms the text the
# partner read, not whatever the goal says by the time the click arrives.


def _act(step: Callable[..., _T], viewer: Viewer, done: Callable[[_T], str], **values: object) -> bool:
    """Run one goal step as the viewer, in the running program and now, and say how it went on the next
    run (a callback's own messages would be gone by then): the step's refusal, or `done` of its result."""
    try:
        with write_session(runtime.engine()) as session:
            result = step(session=session, viewer=viewer, program=runtime.program(), now=utcnow(), **values)
    except GoalError as error:
        _say("error", str(error))
        return False
    _say("success", done(result))
    return True


def _accept(viewer: Viewer, goal_id: int, seen_body: str) -> None:
    _act(
        couple_goals.confirm,
        viewer,
        lambda agreed: "You have both agreed this goal." if agreed else "You accepted this goal.",
        goal_id=goal_id,
        seen_body=seen_body,
    )


def _edit(viewer: Viewer, goal_id: int, key: str) -> None:
    body = str(st.session_state.get(key, ""))
    _act(
        couple_goals.edit,
        viewer,
        lambda _: "Your edit is saved. Your partner confirms the new wording next.",
        goal_id=goal_id,
        body=body,
    )


def _withdraw(viewer: Viewer, goal_id: int) -> None:
    _act(couple_goals.withdraw, viewer, lambda _: "The goal is withdrawn.", goal_id=goal_id)


def _propose(viewer: Viewer) -> None:
    body = str(st.session_state.get(PROPOSAL, ""))
    if _act(
        couple_goals.propose,
        viewer,
        lambda _: "Your proposal is saved. Your partner accepts it or suggests other wording.",
        body=body,
    ):
        st.session_state[PROPOSAL] = ""


def render_couple_goals(viewer: Viewer) -> None:
    """After the assessment: the couple's one to three shared goals, proposed, edited and confirmed."""
    state = _state(viewer)
    st.subheader(SECTION_TITLE)
    if state.closed_reason is not None:
        st.caption(state.closed_reason)
        return
    partner = md(state.partner_name or "your partner")
    st.write(
        f"Turn what you each hope for into one to {couple_goals.MAX_GOALS} goals you agree together. "
        f"Your own goals above stay private: what you write here is new, and {partner} reads it. "
        "One of you proposes a goal; the other accepts it as it reads or suggests other wording; "
        "a goal you both confirmed is agreed, and you rate your progress on it at the end of each stage."
    )
    _show_message()
    for number, goal in enumerate(state.goals, start=1):
        _goal(viewer, number, goal, partner)
    if state.standing >= couple_goals.MAX_GOALS:
        st.caption(f"You have {couple_goals.MAX_GOALS} shared goals, the most there can be at once.")
        return
    with st.form("goal_propose", border=True):
        st.text_area(
            "Propose a goal for you both",
            key=PROPOSAL,
            max_chars=couple_goals.MAX_CHARS,
            height=80,
            placeholder="For example: we take ten minutes each evening to talk about our day.",
        )
        st.form_submit_button("Propose this goal", on_click=_propose, args=(viewer,))


def _goal(viewer: Viewer, number: int, goal: CoupleGoalView, partner: str) -> None:
    with st.container(border=True):
        st.markdown(f"**Goal {number}:** {md(goal.body)}")
        if goal.agreed:
            st.caption("Agreed by you both.")
            return
        if viewer.person_id in goal.confirmed_by:
            st.caption(f"Waiting for {partner} to accept it or suggest other wording.")
        else:
            st.caption(f"{partner} wrote this wording. Accept it as it reads, or suggest other wording.")
            st.button(
                "Accept as it reads",
                key=f"goal_accept::{goal.goal_id}",
                type="primary",
                on_click=_accept,
                args=(viewer, goal.goal_id, goal.body),
            )
        # The box's key follows the wording, so a box opened before the partner's edit shows the new one.
        key = f"goal_edit_text::{goal.goal_id}::{hashlib.sha256(goal.body.encode()).hexdigest()[:12]}"
        with st.expander("Suggest other wording"):
            with st.form(f"goal_edit::{goal.goal_id}", border=False):
                st.text_area(
                    "The goal in your words",
                    value=goal.body,
                    key=key,
                    max_chars=couple_goals.MAX_CHARS,
                    height=80,
                )
                st.form_submit_button("Save my wording", on_click=_edit, args=(viewer, goal.goal_id, key))
        st.button(
            "Withdraw this goal",
            key=f"goal_withdraw::{goal.goal_id}",
            on_click=_withdraw,
            args=(viewer, goal.goal_id),
        )


def render_goal_ratings(viewer: Viewer, stage_key: str) -> None:
    """At a stage's end (after its end check): rate progress on each agreed goal, 0 to 10, once."""
    state = _state(viewer)
    agreed = [g for g in state.goals if g.agreed]
    if not agreed:
        return
    st.subheader("Progress on your shared goals")
    _show_message()
    given = state.rated(viewer, stage_key)
    for number, goal in enumerate(agreed, start=1):
        if goal.goal_id in given:
            st.caption(f"Goal {number}, {md(goal.body)}: you rated it {given[goal.goal_id]} of 10 here.")
    todo = [(n, g) for n, g in enumerate(agreed, start=1) if g.goal_id not in given]
    if not todo:
        return
    st.write("How much progress have you made on each goal? 0 is none, 10 is as much as you hoped.")
    with st.form(f"goal_ratings::{stage_key}"):
        for number, goal in todo:
            st.radio(
                f"Goal {number}: {md(goal.body)}",
                list(range(couple_goals.RATING_MIN, couple_goals.RATING_MAX + 1)),
                index=None,
                horizontal=True,
                key=f"goal_rating::{stage_key}::{goal.goal_id}",
            )
        sent = st.form_submit_button("Save my ratings")
    if sent:
        ratings = {
            goal.goal_id: value
            for _, goal in todo
            if (value := st.session_state.get(f"goal_rating::{stage_key}::{goal.goal_id}")) is not None
        }
        if not ratings:
            st.error("Please choose a rating for at least one goal.")
            return
        if step_written(couple_goals.rate, viewer, GoalError, stage=stage_key, ratings=ratings):
            _say("success", "Your ratings are saved. They appear on the progress page.")
            st.rerun()
