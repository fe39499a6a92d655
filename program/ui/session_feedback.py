"""Session feedback in the pages: the partner's private rating form on the home page, and the therapist's
"Session feedback" section of a couple (mark a session held, then both partners' ratings as a chart).

The UI of program.therapist.session_feedback, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from program.charts import figures
from program.charts.progress_data import Partner
from program.infra.db import read_session
from program.infra.models import utcnow
from program.privacy import couples
from program.privacy.access import AccessDenied, SessionFeedbackView, readable_session_feedback
from program.privacy.viewer import Viewer
from program.therapist import session_feedback
from program.therapist.session_feedback import FeedbackError, HeldSession
from program.ui import runtime
from program.ui.gate import clear_flash, confirm_for, show_own_flash
from program.ui.localtime import local_today, long_day
from program.ui.progress import PLOTLY_CONFIG
from program.ui.text import md
from program.ui.writes import written

SECTION = "Session feedback"
SEND = "Send my ratings"
HELD = "Session held"
DEFAULT_RATING = 5


def render_partner_feedback(viewer: Viewer) -> None:
    """A private form for each session due for the viewer (home page, under "Due for you"); nothing when
    none is due."""
    owner = "session-feedback"
    show_own_flash(owner)
    with read_session(runtime.engine()) as session:
        due = session_feedback.due_for_partner(session=session, viewer=viewer, today=local_today())
        partner = couples.partner_status(session=session, viewer=viewer).partner_name
    for held in due:
        _rating_form(viewer, held, partner, owner)


def _rating_form(viewer: Viewer, held: HeldSession, partner: str | None, owner: str) -> None:
    content = session_feedback.form()
    with st.form(f"session_feedback_{held.id}"):
        st.markdown(f"**How was your session on {long_day(held.held_on)}?**")
        st.caption(content.intro)
        ratings: dict[str, int] = {}
        for item in content.items:
            ratings[item.key] = st.slider(
                item.label,
                min_value=session_feedback.MIN_RATING,
                max_value=session_feedback.MAX_RATING,
                value=DEFAULT_RATING,
                step=1,
                key=f"session_feedback_{held.id}_{item.key}",
            )
            st.caption(
                f"{session_feedback.MIN_RATING} = {item.low} · {session_feedback.MAX_RATING} = {item.high}"
            )
        who = md(partner) if partner else "your partner"
        st.markdown(
            f":material/lock: Only you and your therapist see these ratings; {who} does not.",
        )
        sent = st.form_submit_button(SEND, type="primary")
    if not sent:
        return
    clear_flash()
    if not written(
        lambda session: session_feedback.submit(
            session=session, viewer=viewer, session_id=held.id, ratings=ratings, now=utcnow()
        ),
        FeedbackError,
    ):
        return
    confirm_for(
        owner,
        f"Thank you: your ratings of the session on {long_day(held.held_on)} are sent. "
        "Only you and your therapist see them.",
    )
    st.rerun()


def render_therapist_feedback(viewer: Viewer, couple_id: int) -> None:
    """The "Session feedback" section: mark a session held, then both partners' ratings of the sessions
    this therapist held, as a chart with its caption and numbers."""
    owner = f"session-feedback-{couple_id}"
    try:
        with read_session(runtime.engine()) as session:
            partners = session_feedback.partners(session=session, viewer=viewer, couple_id=couple_id)
            held = session_feedback.held_by_viewer(session=session, viewer=viewer, couple_id=couple_id)
            ratings = readable_session_feedback(session=session, viewer=viewer, couple_id=couple_id)
    except AccessDenied:
        st.warning("This couple no longer gives you access.")
        return
    st.subheader(SECTION)
    st.caption(
        "After a session, mark it held: each partner is then asked, on their home page, to rate it "
        "privately. You see both partners' ratings; neither partner ever sees the other's."
    )
    show_own_flash(owner)
    today = local_today()
    with st.form(f"session_held_{couple_id}"):
        held_on = st.date_input(
            "Date of the session", value=today, max_value=today, key=f"held_on_{couple_id}"
        )
        marked = st.form_submit_button(HELD)
    if marked:
        clear_flash()
        if _mark(viewer, couple_id, held_on):
            assert isinstance(held_on, date)
            confirm_for(
                owner, f"The session on {long_day(held_on)} is marked held. Each partner is asked to rate it."
            )
            st.rerun()
    chart = _feedback_chart(partners, tuple(h.held_on for h in held), tuple(ratings))
    if isinstance(chart, figures.EmptyChart):
        st.info(chart.message)
        return
    # theme=None keeps the figure's own colour-blind-safe styling; the figure carries its own title.
    st.plotly_chart(chart.figure, theme=None, config=PLOTLY_CONFIG, key=f"session_feedback_chart_{couple_id}")
    st.caption(md(chart.caption))
    with st.expander("Show the numbers as a table"):
        st.dataframe(chart.table, hide_index=True)


# Keyed by the very data it draws (a few rows), so a figure is only ever reused for the same ratings the
# viewer was just allowed to read; held read-only and shared, never copied per rerun (see ui/progress.py).
@st.cache_resource(max_entries=64, ttl="1h", show_spinner=False)
def _feedback_chart(
    partners: tuple[Partner, ...],
    held: tuple[date, ...],
    ratings: tuple[SessionFeedbackView, ...],
) -> figures.Chart | figures.EmptyChart:
    return figures.session_feedback(partners, held, ratings, session_feedback.form().short_labels)


def _mark(viewer: Viewer, couple_id: int, held_on: object) -> bool:
    if not isinstance(held_on, date):
        st.error("Choose the date of the session.")
        return False
    if not written(
        lambda session: session_feedback.mark_held(
            session=session, viewer=viewer, couple_id=couple_id, held_on=held_on, now=utcnow()
        ),
        FeedbackError,
        said={AccessDenied: "This couple no longer gives you access, so the session was not marked."},
    ):
        return False
    return True
