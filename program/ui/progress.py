"""The couple's progress charts, for the partners and for their therapist in a session."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from program.charts import figures, progress_data
from program.course import outcomes, shared_texts
from program.infra.db import read_session
from program.infra.models import Visibility
from program.privacy import access
from program.privacy.viewer import Viewer
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


# A titled chart: (title, chart, whether to say why when it is empty).
TitledChart = tuple[str, figures.Chart | figures.EmptyChart, bool]


@dataclass(frozen=True)
class _Source:
    """What a couple's figures are built from besides its data: the database (couple ids are only unique
    within one) and the program content and outcome measure the charts are drawn against."""

    database_url: str
    instruments_dir: str
    data_dir: str
    outcome_instrument: str


def _source() -> _Source:
    settings = runtime.settings()
    return _Source(
        settings.database_url,
        str(settings.instruments_dir),
        str(settings.data_dir),
        settings.outcome_instrument,
    )


# The figures are cached as shared, read-only objects (st.cache_resource), never copied per hit: st.cache_data
# unpickled every figure on every rerun and Plotly re-validated it (~190 ms for a year of history).
# st.plotly_chart only reads a figure (it draws a deep copy, Figure.to_dict), and nothing else here writes to
# one. Each is keyed by couple and data version alone, never by viewer: the caller checks the viewer's access
# to the couple on every run before asking, and the data holds nothing that differs between allowed viewers
# (load_progress leaves notes out). The data is cached too, so a change of rating reads nothing again.
# Held figures cost memory (about 1.1 MB for a couple with a year of history, 59 KB pickled), so the caches
# are bounded in entries and an hour: a couple's older data versions age out rather than pile up.
CACHE_ENTRIES = 64
CACHE_TTL = "1h"


@st.cache_resource(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _progress_data(
    source: _Source,  # noqa: ARG001 (a cache key: which database)
    couple_id: int,
    version: tuple[object, ...],  # noqa: ARG001 (a cache key: the couple's data version)
    _viewer: Viewer,
) -> progress_data.ProgressData:
    """The couple's chart data at this data version."""
    with read_session(runtime.engine()) as session:
        return progress_data.load_progress(
            session=session, viewer=_viewer, couple_id=couple_id, program=runtime.program()
        )


@st.cache_resource(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _couple_charts(
    source: _Source, couple_id: int, version: tuple[object, ...], _viewer: Viewer
) -> tuple[TitledChart, ...]:
    """Every chart of the couple but the check-ins' (which depends on the rating chosen), in page order."""
    program = runtime.program()
    outcome = outcomes.outcome_instrument(program, runtime.settings())
    data = _progress_data(source, couple_id, version, _viewer)
    # The stages' chart, practice and the added questionnaires simply wait for something to draw.
    return (
        ("Over the whole program", figures.outcome_trajectory(data, program, outcome), True),
        ("Where each of you stands", figures.domain_profile(data, program), True),
        ("Where you see things differently", figures.perception_gap(data, program), True),
        ("Progress through the program", figures.stage_progress(data, program), True),
        ("How practice went", figures.practice_trends(data), False),
        ("Each stage, start and end", figures.stage_changes(data, program), False),
        *((title, chart, False) for title, chart in figures.added_trends(data, program)),
        # Shared goals: one chart per agreed goal (its text and both partners' ratings at stage ends).
        *((title, chart, True) for title, chart in figures.goal_ratings(data, program)),
    )


@st.cache_resource(max_entries=2 * CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _checkin_chart(
    source: _Source, couple_id: int, version: tuple[object, ...], rating: str, _viewer: Viewer
) -> TitledChart:
    """The weekly check-ins' chart for one rating: the one chart a change of rating builds."""
    data = _progress_data(source, couple_id, version, _viewer)
    return ("Weekly check-ins", figures.checkin_trends(data, rating, CHECKIN_LABELS[rating]), True)


def clear_figure_caches() -> None:
    """Forget every cached chart and its data (for benchmarks measuring a first build)."""
    for cached in (_progress_data, _couple_charts, _checkin_chart):
        cached.clear()


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
        texts = shared_texts.shared_with_viewer(
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
        version = progress_data.data_version(session=session, couple_id=couple_id)
    rating = st.selectbox(
        "Check-in rating to show",
        list(CHECKIN_LABELS),
        format_func=CHECKIN_LABELS.__getitem__,
        key="progress_rating",
    )
    # Only after the access check above: a cached figure is drawn for viewers who may see this couple.
    source = _source()
    drawn = (
        _checkin_chart(source, couple_id, version, rating, viewer),
        *_couple_charts(source, couple_id, version, viewer),
    )
    for number, (title, chart, explain_when_empty) in enumerate(drawn):
        if isinstance(chart, figures.EmptyChart):
            if not explain_when_empty:
                continue
            st.subheader(title)
            st.info(chart.message)
            continue
        assert isinstance(chart, figures.Chart)
        # theme=None keeps the figure's own colour-blind-safe styling; the figure carries its own title.
        st.plotly_chart(chart.figure, theme=None, config=PLOTLY_CONFIG, key=f"chart::{number}")
        st.caption(md(chart.caption))
        with st.expander("Show the numbers as a table"):
            st.dataframe(chart.table, hide_index=True)


def render_progress(viewer: Viewer) -> None:
    """A partner's view of the couple's progress_data."""
    st.title("Our progress")
    with read_session(runtime.engine()) as session:
        couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        st.info("Your charts appear here once you and your partner are linked (see your account page).")
        return
    st.caption("Both of you see the same figures. Notes and the private safety check never appear in them.")
    render_couple_charts(viewer, couple_id)
    render_shared_texts(viewer, couple_id)
