"""The partner's home page."""

from __future__ import annotations

import streamlit as st

from program import couples
from program.access import Viewer
from program.db import read_session
from program.ui import runtime


def render_partner_home(viewer: Viewer) -> None:
    """Greet the partner and say where they stand."""
    with read_session(runtime.engine()) as session:
        status = couples.partner_status(session=session, viewer=viewer)
    st.title(f"Hello, {viewer.display_name}")
    if status.couple_id is None:
        st.info(
            "You haven't linked up with your partner yet. Once you have, you'll see what you are both "
            "working on here."
        )
    elif status.partner_name is None:
        st.info("Your couple is set up; your partner hasn't joined yet.")
    else:
        st.write(f"You're doing Kindred together with **{status.partner_name}**.")
