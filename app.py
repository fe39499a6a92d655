"""Kindred's entry point: log in, then route each role to its own pages."""

from pathlib import Path

import streamlit as st

from program.infra.db import shared_reads
from program.ui import runtime
from program.ui.errors import friendly_errors
from program.ui.gate import authenticate
from program.ui.navigation import pages_for, render_menu, routed_as

# Our own icon file: a `:material/...:` page icon makes browsers fetch the favicon from Google's font CDN.
ICON = Path(__file__).parent / "program" / "ui" / "assets" / "kindred-icon.png"
st.set_page_config(page_title="Kindred", page_icon=str(ICON), layout="centered")

# One read session (and one memo of the viewer's couple, partners and grants) for the whole run.
with friendly_errors(), shared_reads(runtime.engine()):
    viewer = authenticate()
    pages = pages_for(viewer, extra_questionnaires=bool(runtime.program().extra_instruments))
    page = st.navigation(pages, position="hidden")
    render_menu(pages, viewer)
    with routed_as(viewer):
        page.run()
