"""AppTest helpers: run the app or one page, logged out or as a given person."""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from program.privacy.viewer import Viewer
from program.ui.gate import SESSION_ID
from program.ui.text import WORD_JOINER
from tests.conftest import ROOT
from tests.factories import start_login_session

LOGIN_BUTTON = "FormSubmitter:login-Log in"
REGISTER_BUTTON = "FormSubmitter:register-Create account"
# Every page script (pages/__init__.py only makes pages/ a package for the import contracts).
PAGE_FILES = sorted(
    path.relative_to(ROOT).as_posix() for path in (ROOT / "pages").glob("*.py") if path.name != "__init__.py"
)


def app(script: str = "app.py") -> AppTest:
    """An AppTest of the app (or of one page file, as a deep link on a fresh server runs it)."""
    return AppTest.from_file(str(ROOT / script), default_timeout=30)


def as_viewer(at: AppTest, viewer: Viewer, engine: Engine) -> AppTest:
    """Seed the session as the login form leaves it: the library's keys and a live server session."""
    at.session_state[SESSION_ID] = start_login_session(engine, viewer)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = viewer.username
    at.session_state["name"] = viewer.display_name
    at.session_state["roles"] = [viewer.role]
    return at


def button_keys(at: AppTest) -> set[str]:
    """The keys of the buttons on screen (AppTest's `at.button(key=...)` raises when there is none, so it
    cannot be compared with None)."""
    return {b.key for b in at.button if b.key}


def texts(at: AppTest) -> str:
    """Everything the page wrote, as one string to search, with typed text as the reader sees it (the
    backslash escapes and word joiners of program.ui.text.md resolved; Markdown of our own is kept)."""
    parts = [
        e.value
        for kind in (
            "title",
            "header",
            "subheader",
            "markdown",
            "info",
            "warning",
            "error",
            "success",
            "caption",
        )
        for e in getattr(at, kind)
    ]
    return "\n".join(_as_read(str(part)) for part in parts)


def _as_read(markdown: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(WORD_JOINER, "")


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    """Fill in and submit the login form."""
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button(key=LOGIN_BUTTON).click().run()


def click(at: AppTest, label: str) -> AppTest:
    """Click the (one) button with this label and run."""
    matches = [b for b in at.button if b.label == label]
    assert len(matches) == 1, f"{len(matches)} buttons labelled {label!r}: {[b.label for b in at.button]}"
    return matches[0].click().run()


def fill(at: AppTest, label: str, value: str) -> AppTest:
    """Type into the (one) text input with this label."""
    matches = [t for t in at.text_input if t.label == label]
    assert len(matches) == 1, f"{len(matches)} inputs labelled {label!r}: {[t.label for t in at.text_input]}"
    matches[0].input(value)
    return at


def open_couple(at: AppTest, couple_id: int) -> AppTest:
    """On the therapist's caseload, choose this couple and open it."""
    at.selectbox(key="kindred_caseload_open_choice").set_value(couple_id)
    return at.button(key="kindred_caseload_open").click().run()
