"""The therapist's list of couples."""

from __future__ import annotations

import streamlit as st

from program import couples
from program.access import Viewer
from program.db import read_session
from program.ui import runtime


def render_caseload(viewer: Viewer) -> None:
    """The couples who have given this therapist access."""
    with read_session(runtime.engine()) as session:
        caseload = couples.therapist_caseload(session=session, viewer=viewer)
    st.title("Your couples")
    if not caseload:
        st.info(
            "No couple has given you access yet. A couple appears here once both partners have granted it."
        )
        return
    for couple in caseload:
        st.write(" & ".join(couple.partner_names))
