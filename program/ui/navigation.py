"""Which pages each role may open. app.py builds st.navigation from this; each page also checks itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from program.access import Viewer
from program.models import Role

# Set while app.py runs the chosen page, so the page reuses app.py's login instead of repeating it.
_routed_viewer: ContextVar[Viewer | None] = ContextVar("kindred_routed_viewer", default=None)

PARTNER_PAGES = (
    ("pages/home.py", "Home", ":material/home:", "home"),
    ("pages/assessment.py", "Assessment", ":material/assignment:", "assessment"),
    ("pages/communication.py", "Communication", ":material/forum:", "communication"),
    ("pages/conflict.py", "Conflict", ":material/handshake:", "conflict"),
    ("pages/trust.py", "Trust", ":material/verified_user:", "trust"),
    ("pages/connection.py", "Connection", ":material/favorite:", "connection"),
    ("pages/checkin.py", "Weekly check-in", ":material/event_available:", "checkin"),
    ("pages/progress.py", "Our progress", ":material/monitoring:", "progress"),
    ("pages/questionnaires.py", "More questionnaires", ":material/quiz:", "questionnaires"),
    ("pages/account.py", "Account", ":material/person:", "account"),
)
THERAPIST_PAGES = (
    ("pages/therapist.py", "Your couples", ":material/groups:", "couples"),
    ("pages/account.py", "Account", ":material/person:", "account"),
)


def pages_for(viewer: Viewer, *, extra_questionnaires: bool) -> list[st.Page]:
    """The pages this viewer's role may open; the first is the default. "More questionnaires" appears
    only when the operator added some."""
    table = PARTNER_PAGES if viewer.role == Role.PARTNER else THERAPIST_PAGES
    return [
        st.Page(path, title=title, icon=icon, url_path=url, default=index == 0)
        for index, (path, title, icon, url) in enumerate(table)
        if url != "questionnaires" or extra_questionnaires
    ]


def render_menu(pages: list[st.Page]) -> None:
    """The sidebar menu of this role's pages (Streamlit's own list is hidden in config.toml)."""
    for page in pages:
        st.sidebar.page_link(page)


@contextmanager
def routed_as(viewer: Viewer) -> Iterator[None]:
    """Mark the page run inside this block as already authenticated by app.py."""
    token = _routed_viewer.set(viewer)
    try:
        yield
    finally:
        _routed_viewer.reset(token)


def routed_viewer() -> Viewer | None:
    """The viewer app.py authenticated for this run, or None when a page runs on its own (deep link)."""
    return _routed_viewer.get()
