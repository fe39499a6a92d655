"""Which pages each role may open. app.py builds st.navigation from this; each page also checks itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from program.course import intimacy, journey, keeping
from program.infra.db import read_session
from program.infra.models import Role
from program.privacy.viewer import Viewer
from program.ui import phone_menu, runtime

# Set while app.py runs the chosen page, so the page reuses app.py's login instead of repeating it.
_routed_viewer: ContextVar[Viewer | None] = ContextVar("kindred_routed_viewer", default=None)

# One name per page: the menu label is the page's own title (tests/ui/test_home_path.py checks every one).
# A skill stage's name is its title in the program content (program/course/content/stages/*.toml), which the
# reminders, the "why is this closed" sentences and the charts use too.
PARTNER_PAGES = (
    ("pages/home.py", "Home", ":material/home:", "home"),
    ("pages/assessment.py", "Assessment", ":material/assignment:", "assessment"),
    ("pages/communication.py", "Talking and listening", ":material/forum:", "communication"),
    ("pages/conflict.py", "Handling disagreements", ":material/handshake:", "conflict"),
    ("pages/trust.py", "Building trust", ":material/verified_user:", "trust"),
    ("pages/connection.py", "Staying close", ":material/favorite:", "connection"),
    # Listed once the partner has finished the last stage (see _unlisted).
    ("pages/keeping.py", "Keeping it going", ":material/autorenew:", "keeping"),
    # Listed (and routed) only while open: both partners chose it (see _unlisted and
    # program/course/intimacy.py).
    ("pages/intimacy.py", "Intimacy", ":material/spa:", "intimacy"),
    ("pages/checkin.py", "Weekly check-in", ":material/event_available:", "checkin"),
    ("pages/progress.py", "Our progress", ":material/monitoring:", "progress"),
    ("pages/outcome.py", "How we're doing", ":material/trending_up:", "outcome"),
    ("pages/questionnaires.py", "More questionnaires", ":material/quiz:", "questionnaires"),
    ("pages/account.py", "Your account", ":material/person:", "account"),
)
THERAPIST_PAGES = (
    ("pages/therapist.py", "Your couples", ":material/groups:", "couples"),
    ("pages/account.py", "Your account", ":material/person:", "account"),
)
PAGE_TITLES: dict[str, str] = {url: title for _, title, _, url in PARTNER_PAGES + THERAPIST_PAGES}
LOCKED_ICON = ":material/lock:"
LOCKED_SUFFIX = " (locked)"


def pages_for(viewer: Viewer, *, extra_questionnaires: bool) -> list[st.Page]:
    """The pages this viewer's role may open; the first is the default. "More questionnaires" appears
    only when the operator added some."""
    table = PARTNER_PAGES if viewer.role == Role.PARTNER else THERAPIST_PAGES
    unlisted = _unlisted(viewer)
    return [
        st.Page(path, title=title, icon=icon, url_path=url, default=index == 0)
        for index, (path, title, icon, url) in enumerate(table)
        if (url != "questionnaires" or extra_questionnaires) and url not in unlisted
    ]


def _unlisted(viewer: Viewer) -> set[str]:
    """Partner pages left out of the menu until they open for this partner: "Keeping it going" until
    they have finished the last stage; "Intimacy" until both partners chose it."""
    if viewer.role != Role.PARTNER:
        return set()
    with read_session(runtime.engine()) as session:
        progress = journey.load_journey(session=session, viewer=viewer, program=runtime.program())
        # The same for "partner said no" and "partner hasn't answered": open needs both yeses.
        intimacy_open = intimacy.is_open(session=session, viewer=viewer)
    unlisted = set() if keeping.finished_program(progress) else {"keeping"}
    return unlisted if intimacy_open else unlisted | {"intimacy"}


def render_menu(pages: list[st.Page], viewer: Viewer) -> None:
    """The sidebar menu of this role's pages (Streamlit's own list is hidden in config.toml). A partner's
    stages that are not open yet say so in words and with a lock; they stay reachable, and their page
    says why they are closed and what opens them."""
    locked: set[str] = set()
    if viewer.role == Role.PARTNER:
        with read_session(runtime.engine()) as session:
            progress = journey.load_journey(session=session, viewer=viewer, program=runtime.program())
        locked = {stage for stage in journey.ORDER if not progress.is_open(stage)}
    for page in pages:
        if page.url_path in locked:
            st.sidebar.page_link(page, label=page.title + LOCKED_SUFFIX, icon=LOCKED_ICON)
        else:
            st.sidebar.page_link(page)
    with st.sidebar:  # on a phone, choosing a page here closes the sidebar over it
        phone_menu.render()


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
