"""The account page, for partners and therapists alike."""

from __future__ import annotations

import streamlit as st

from program import couples
from program.access import Viewer
from program.db import read_session
from program.ui import runtime


def render_account(viewer: Viewer) -> None:
    """The viewer's own details."""
    with read_session(runtime.engine()) as session:
        summary = couples.account_summary(session=session, viewer=viewer)
    st.title("Your account")
    st.write(f"**Name:** {summary.display_name}")
    st.write(f"**Username:** {summary.username}")
    st.write(f"**Role:** {summary.role}")
    st.write(f"**Member since:** {summary.member_since:%d %B %Y}")
