"""The partner's home page: where you stand, what is due now, and news from your partner."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from program import checkins, journey, reminders, safety
from program.access import Viewer
from program.db import read_session
from program.ui import runtime
from program.ui.checkin import local_today
from program.ui.text import md


def render_partner_home(viewer: Viewer) -> None:
    """Greet the partner, then list what is due and what the partner has finished."""
    program = runtime.program()
    with read_session(runtime.engine()) as session:
        progress = journey.load_journey(session=session, viewer=viewer, program=program)
        checkin_done = checkins.this_week(session=session, viewer=viewer, today=local_today()) is not None
        safety_due = safety.screen_due(
            session=session, viewer=viewer, opened_at=progress.opened_at(progress.current_stage())
        )
    st.title(f"Hello, {md(viewer.display_name)}")
    # The journey already knows the couple and the partner; no second lookup.
    if progress.couple_id is None:
        st.info(
            "You haven't linked up with your partner yet. Start or join your couple on your account page; "
            "meanwhile you can begin the assessment on your own."
        )
    elif progress.partner is None:
        st.info("Your couple is set up; your partner hasn't joined yet.")
    else:
        st.write(f"You're doing Kindred together with **{md(progress.partner.name)}**.")
    if (closed_reason := progress.joint_closed_reason()) is not None:
        # One fixed sentence for the partner, whatever the pauser's reason.
        st.info(closed_reason, icon=":material/pause_circle:")
    for news in reminders.partner_news(progress):
        st.success(md(news), icon=":material/notifications:")
    st.subheader("Due now")
    due = reminders.due_now(progress, checkin_done=checkin_done, today=local_today(), safety_due=safety_due)
    if not due:
        st.write("Nothing is due right now. Well done.")
    for item in due:
        icon = ":material/schedule:" if item.overdue else ":material/arrow_forward:"
        try:
            st.page_link(f"pages/{item.page}.py", label=item.text, icon=icon)
        except StreamlitAPIException:
            # A page file run on its own (a deep link before app.py has routed) knows no other pages.
            st.markdown(f"{icon} {item.text}")
    current = progress.current_stage()
    if not progress.is_open(current) or progress.next_step(current) is None:
        closed = next((s.key for s in program.stages if not progress.is_open(s.key)), None)
        if closed is not None:
            st.caption(md(progress.why_closed(closed)))
