"""The assessment: the baseline questionnaire, goals and strengths, and the private safety check."""

from __future__ import annotations

import streamlit as st

from program.course import journey, reflections, safety
from program.course.curriculum import Program
from program.course.questionnaires import BASELINE
from program.infra.db import read_session, write_session
from program.infra.models import utcnow
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.couple_goals import render_couple_goals
from program.ui.navigation import PAGE_TITLES
from program.ui.questionnaire_form import render_questionnaire
from program.ui.safety_choices import render_safety_form, render_safety_result
from program.ui.text import md
from program.ui.widgets import answering_as, private_text, render_overview


def render_assessment(viewer: Viewer) -> None:
    """The first stage, open to each partner on their own (even before the other has joined)."""
    program = runtime.program()
    with read_session(runtime.engine()) as session:
        progress = journey.load_journey(session=session, viewer=viewer, program=program)
    content = program.assessment
    st.title(PAGE_TITLES["assessment"])  # the menu's name for this page
    st.write(f"**{content.title}.** {content.summary}")
    _partner_line(progress)
    render_overview(content.overview, expanded=progress.next_step(journey.ASSESSMENT) == "questionnaire")
    questionnaire, goals, check = st.tabs(
        ["1 · Questionnaire", "2 · Goals and strengths", "3 · Private safety check"]
    )
    with questionnaire:
        instrument = program.instruments[content.overview.questionnaire]
        render_questionnaire(
            viewer,
            instrument,
            BASELINE,
            partner_name=progress.partner.name if progress.partner else None,
            couple_id=progress.couple_id,
        )
    with goals:
        _goals_and_strengths(viewer, program, progress)
        _relationship_history(viewer)
        render_couple_goals(viewer)  # shared goals, once both partners named their own
    with check:
        _safety_check(viewer, program)


def _partner_line(progress: journey.Journey) -> None:
    if progress.partner is None:
        st.caption("You can do all of this before your partner joins. Your answers wait for them.")
    elif progress.partner.finished_at(journey.ASSESSMENT):
        st.caption(f"{md(progress.partner.name)} has finished the assessment.")
    else:
        st.caption(f"{md(progress.partner.name)} hasn't finished the assessment yet.")


def _goals_and_strengths(viewer: Viewer, program: Program, progress: journey.Journey) -> None:
    content = program.assessment
    with read_session(runtime.engine()) as session:
        saved = reflections.own_texts(session=session, viewer=viewer, prefix="assessment:")
    for section, context, label in (
        (content.goals, journey.GOALS_CONTEXT, "My goals"),
        (content.strengths, journey.STRENGTHS_CONTEXT, "Our strengths"),
    ):
        st.write(section.intro)
        st.markdown("\n".join(f"- {prompt}" for prompt in section.prompts))
        private_text(viewer, context, label, saved.get(context), height=140)
    if progress.me.did(journey.ASSESSMENT, journey.GOALS):
        st.success("You have named your goals and strengths. You can still edit them above.")
    elif st.button("I've named my goals and strengths", type="primary"):
        if journey.GOALS_CONTEXT not in saved:
            st.error("Please write at least one goal first (click outside the box so it is saved).")
            return
        with write_session(runtime.engine()) as session:
            journey.complete_step(
                session=session,
                viewer=viewer,
                program=program,
                stage=journey.ASSESSMENT,
                step=journey.GOALS,
                now=utcnow(),
            )
        st.rerun()


def _relationship_history(viewer: Viewer) -> None:
    """Four short questions about the couple's story so far, each answered in the partner's own words."""
    st.subheader("Your relationship so far (optional)")
    st.write(
        "A few lines in your own words. Your partner answers these on their own, and your answers stay "
        "private unless you choose to share them (each one has its own choice)."
    )
    with read_session(runtime.engine()) as session:
        saved = reflections.own_texts(session=session, viewer=viewer, prefix=journey.HISTORY_PREFIX)
    for key, (_, question) in journey.HISTORY_QUESTIONS.items():
        context = journey.HISTORY_PREFIX + key
        private_text(viewer, context, question, saved.get(context), height=120 if key == "why" else 68)


def _safety_check(viewer: Viewer, program: Program) -> None:
    content = program.safety
    answering_as(viewer)
    st.subheader(content.title)
    st.write(content.intro)
    with read_session(runtime.engine()) as session:
        latest = safety.latest_own_screen(session=session, viewer=viewer)
    if latest is not None:
        render_safety_result(viewer, program, latest)
        if not st.toggle("Answer the check again", key="safety_again"):
            return
    render_safety_form(viewer, program, form="full", key="safety_check")
