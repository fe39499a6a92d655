"""Every page the benchmark measures, and how to bring an AppTest of the app to it.

Each case runs `app.py` (the router, as the server does: authentication, the menu, then the page) in an
AppTest with the person's session as the login form leaves it, switches to the page and does what a
person would to reach the state measured (the therapist opens a couple, turns presentation mode off).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from program.privacy.viewer import Viewer

ROOT = Path(__file__).resolve().parent.parent
OPEN_CHOICE, OPEN_BUTTON = "kindred_caseload_open_choice", "kindred_caseload_open"
PRESENTATION = "kindred_presentation_mode"


@dataclass(frozen=True)
class PageCase:
    """One page as one person sees it."""

    name: str
    who: str | None  # "partner", "therapist", or None: logged out
    page: str | None  # the page file to switch to (None: the app's own first page)
    opens_couple: bool = False
    presentation: bool = True


PARTNER_PAGES = ("home", "assessment", "communication", "conflict", "trust", "connection", "keeping",
                 "intimacy", "checkin", "progress", "outcome", "questionnaires", "account")  # fmt: skip
CASES: tuple[PageCase, ...] = (
    PageCase("login (logged out)", None, None),
    *(PageCase(name, "partner", f"pages/{name}.py") for name in PARTNER_PAGES),
    PageCase("therapist: your couples", "therapist", "pages/therapist.py"),
    PageCase("therapist: couple, presenting", "therapist", "pages/therapist.py", opens_couple=True),
    PageCase("therapist: couple, not presenting", "therapist", "pages/therapist.py", True, False),
    PageCase("therapist: account", "therapist", "pages/account.py"),
)


def reach(case: PageCase, engine: Engine, viewer: Viewer | None, couple_id: int) -> AppTest:
    """An AppTest of the app showing this case's page, after its first (cold) runs."""
    from tests.ui.helpers import as_viewer

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if viewer is not None:
        as_viewer(at, viewer, engine)
    _checked(at.run)
    if case.page is not None:
        at.switch_page(case.page)
        _checked(at.run)
    if case.opens_couple:
        at.selectbox(key=OPEN_CHOICE).set_value(couple_id)
        _checked(at.button(key=OPEN_BUTTON).click().run)
        if not case.presentation:
            _checked(at.toggle(key=PRESENTATION).set_value(False).run)
    _checked(at.run)
    return at


def _checked(run: Callable[[], AppTest]) -> None:
    at = run()
    if at.exception:
        raise RuntimeError(f"the page raised: {[e.value for e in at.exception]}")
