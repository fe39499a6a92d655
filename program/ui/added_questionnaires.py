"""Questionnaires an operator added from data files: fill them in again over time, see your scores."""

from __future__ import annotations

import streamlit as st

from program.course import questionnaires, scoring
from program.infra.db import read_session
from program.infra.models import utcnow
from program.privacy import access
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.questionnaire_form import render_questionnaire


def render_extra_questionnaires(viewer: Viewer) -> None:
    """Each added instrument: who wrote it and its licence, today's filling-in, and the history of scores."""
    program = runtime.program()
    st.title("More questionnaires")
    if not program.extra_instruments:
        st.info("Whoever runs this Kindred server has not added any further questionnaires.")
        return
    key = st.selectbox(
        "Questionnaire", program.extra_instruments, format_func=lambda k: program.instruments[k].title
    )
    instrument = program.instruments[key]
    st.caption(f"Source: {instrument.source} · Licence: {instrument.licence}")
    with read_session(runtime.engine()) as session:
        history = questionnaires.own_history(session=session, viewer=viewer, instrument=instrument.key)
        couple_id = access.current_couple_id(session=session, viewer=viewer)
    if history:
        st.subheader("Your scores so far")
        st.dataframe(
            [
                {"Date": f"{when:%d %B %Y}"}
                | {s.title: None if s.score is None else round(s.score, 2) for s in scores.values()}
                for when, scores in ((h.submitted_at, scoring.score(instrument, h.answers)) for h in history)
            ],
            hide_index=True,
        )
    st.subheader("Today")
    render_questionnaire(
        viewer,
        instrument,
        questionnaires.extra_occasion(utcnow().date()),
        partner_name=None,
        couple_id=couple_id,
    )
