"""The couple's progress charts, for the partners and for their therapist in a session."""

from __future__ import annotations

import streamlit as st

from program import access, charts, outcomes, progress, shared
from program.access import Viewer
from program.db import read_session
from program.models import Visibility
from program.ui import runtime
from program.ui.localtime import local_date
from program.ui.text import md

# No Plotly toolbar: on a 390 px phone it sits over the chart's title, and the table below each chart
# gives its numbers. Used for every chart drawn, on the partners' page and in the therapist's view.
PLOTLY_CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}

CHECKIN_LABELS = {
    "overall": "Overall",
    "closeness": "Closeness",
    "communication": "Communication",
    "conflict": "Handling conflict",
    "trust": "Trust",
}


@st.cache_data(max_entries=256, show_spinner=False)
def _figures(
    couple_id: int, version: tuple[object, ...], rating: str, _viewer: Viewer
) -> list[tuple[str, object, bool]]:
    """Every chart of a couple, cached until its data version changes (the viewer's access is checked by
    the caller on every run; the data holds nothing that differs between allowed viewers)."""
    program = runtime.program()
    outcome = outcomes.outcome_instrument(program, runtime.settings())
    with read_session(runtime.engine()) as session:
        data = progress.load_progress(session=session, viewer=_viewer, couple_id=couple_id, program=program)
    # (title, chart, whether to say why when it is empty); the stages' chart, practice and the added
    # questionnaires simply wait for something to draw.
    return [
        ("Weekly check-ins", charts.checkin_trends(data, rating, CHECKIN_LABELS[rating]), True),
        ("Over the whole program", charts.outcome_trajectory(data, program, outcome), True),
        ("Where each of you stands", charts.domain_profile(data, program), True),
        ("Where you see things differently", charts.perception_gap(data, program), True),
        ("Progress through the program", charts.stage_progress(data, program), True),
        ("How practice went", charts.practice_trends(data, program), False),
        ("Each stage, start and end", charts.stage_changes(data, program), False),
        *((title, chart, False) for title, chart in charts.added_trends(data, program)),
        # Shared goals: one chart per agreed goal (its text and both partners' ratings at stage ends).
        *((title, chart, True) for title, chart in charts.goal_ratings(data, program)),
    ]


def render_shared_texts(
    viewer: Viewer,
    couple_id: int,
    *,
    only: Visibility | None = None,
    title: str = "Shared with you",
    empty: str = "Nothing has been shared with you yet. All writing is private unless its writer shares it.",
) -> None:
    """What the others in this couple chose to share with the viewer (with `only`, just the texts shared
    that way: a therapist's page shows what the couple shared apart from what was told to them alone)."""
    with read_session(runtime.engine()) as session:
        texts = shared.shared_with_viewer(
            session=session, viewer=viewer, couple_id=couple_id, program=runtime.program()
        )
    if only is not None:
        texts = [text for text in texts if text.visibility == only]
    st.subheader(title)
    if not texts:
        st.caption(empty)
        return
    for text in texts:
        with st.container(border=True):
            day = local_date(text.written_at) if text.written_at else f"{text.day.day} {text.day:%B %Y}"
            st.caption(md(f"{text.writer} · {text.where} · {day}"))
            st.text(text.body)


def render_couple_charts(viewer: Viewer, couple_id: int) -> None:
    """Draw the couple's charts, each with a plain caption and its numbers as a table."""
    with read_session(runtime.engine()) as session:
        access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
        version = progress.data_version(session=session, couple_id=couple_id)
    rating = st.selectbox(
        "Check-in rating to show",
        list(CHECKIN_LABELS),
        format_func=CHECKIN_LABELS.__getitem__,
        key="progress_rating",
    )
    for number, (title, chart, explain_when_empty) in enumerate(_figures(couple_id, version, rating, viewer)):
        if isinstance(chart, charts.EmptyChart):
            if not explain_when_empty:
                continue
            st.subheader(title)
            st.info(chart.message)
            continue
        assert isinstance(chart, charts.Chart)
        # theme=None keeps the figure's own colour-blind-safe styling; the figure carries its own title.
        st.plotly_chart(chart.figure, theme=None, config=PLOTLY_CONFIG, key=f"chart::{number}")
        st.caption(md(chart.caption))
        with st.expander("Show the numbers as a table"):
            st.dataframe(chart.table, hide_index=True)


def render_progress(viewer: Viewer) -> None:
    """A partner's view of the couple's progress."""
    st.title("Our progress")
    with read_session(runtime.engine()) as session:
        couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        st.info("Your charts appear here once you and your partner are linked (see your account page).")
        return
    st.caption("Both of you see the same charts. Notes and the private safety check never appear in them.")
    render_couple_charts(viewer, couple_id)
    render_shared_texts(viewer, couple_id)
