"""How we're doing: the program's outcome questionnaire, when one of its occasions is due for the partner."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from program.course import journey, outcomes
from program.course.curriculum import Instrument, Program
from program.course.questionnaires import BASELINE
from program.infra.db import Session, read_session
from program.infra.models import utcnow
from program.infra.settings import Settings, SettingsError
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.localtime import local_date
from program.ui.navigation import PAGE_TITLES
from program.ui.questionnaire_form import SubmitAnswers, render_questionnaire
from program.ui.text import md


def render_outcome(viewer: Viewer) -> None:
    """The due occasion's form; else when the next one comes; and what was sent so far."""
    program = runtime.program()
    settings = runtime.settings()
    st.title(PAGE_TITLES["outcome"])  # the menu's name for this page
    try:
        with read_session(runtime.engine()) as session:
            progress = journey.load_journey(session=session, viewer=viewer, program=program)
            status = outcomes.status(
                session=session,
                viewer=viewer,
                program=program,
                settings=settings,
                now=utcnow(),
                progress=progress,
            )
    except SettingsError as error:  # the instrument's file was removed after start-up
        st.error(f"Kindred is not configured correctly. {error}")
        return
    st.write(
        "The same questionnaire, asked at the start, after each stage, at the end of the program and "
        f"{settings.follow_up_weeks} weeks later, shows each of you whether things are changing."
    )
    st.caption(f"Questionnaire: {status.instrument.title}")
    if status.due:
        occasion = status.due[0]
        st.subheader(f"Now: {outcomes.occasion_label(occasion, program)}")
        if occasion == BASELINE and status.start_in_assessment:
            st.info("Your start is the questionnaire in the assessment; answer it there.")
            st.page_link("pages/assessment.py", label=PAGE_TITLES["assessment"], icon=":material/assignment:")
        else:
            render_questionnaire(
                viewer,
                status.instrument,
                occasion,
                partner_name=progress.partner.name if progress.partner else None,
                couple_id=progress.couple_id,
                submit=_outcome_submit(program, settings),
            )
    else:
        st.info(_nothing_due(status, program))
    if status.sent:
        st.subheader("Sent so far")
        st.dataframe(
            [
                {"When": outcomes.occasion_label(occasion, program), "Sent on": local_date(sent_at)}
                for occasion, sent_at in status.sent.items()
            ],
            hide_index=True,
        )


def _outcome_submit(program: Program, settings: Settings) -> SubmitAnswers:
    """Send through the outcome rules: refused unless the occasion is still due when Send is pressed (the
    couple may have changed since the form was drawn)."""

    def submit(
        *,
        session: Session,
        viewer: Viewer,
        instrument: Instrument,  # noqa: ARG001 (SubmitAnswers's keyword; the outcome rules know their own)
        occasion: str,
        now: datetime,
    ) -> object:
        return outcomes.submit(
            session=session, viewer=viewer, program=program, settings=settings, occasion=occasion, now=now
        )

    return submit


def _nothing_due(status: outcomes.OutcomeStatus, program: Program) -> str:
    """Nothing to fill in now, and what comes next: on a day, or once a stage is finished."""
    if status.upcoming is None:
        return "You have answered every one of these questionnaires. Thank you."
    label = outcomes.occasion_label(status.upcoming, program)
    if status.upcoming_at is not None:
        when = f" on {local_date(status.upcoming_at)}"
    elif status.upcoming == outcomes.PROGRAM_END:
        when = f", once you have finished {program.stages[-1].title}"
    else:
        stage = next(s for s in program.stages if status.upcoming == outcomes.stage_end_occasion(s.key))
        when = f", once you have finished {stage.title}"
    return md(f"Nothing to fill in now; next: {label}{when}.")
