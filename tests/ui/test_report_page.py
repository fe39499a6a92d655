"""The "Session report (PDF)" button as a therapist uses it: build with steps shown, then download; a
failure is a plain message; a download is taken away once the couple revokes access."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Role, utcnow
from program.privacy import grants
from program.privacy.viewer import Viewer
from program.therapist import report
from program.ui.report import BUTTON, DOWNLOAD
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import finish_assessment
from tests.report_tools import needs_report_tools
from tests.ui.helpers import click, texts

pytestmark = needs_report_tools


def _report_script(person_id: int, username: str, name: str, couple_id: int) -> None:
    from program.infra.models import Role
    from program.privacy.viewer import Viewer
    from program.ui.report import render_report

    render_report(Viewer(person_id, username, name, Role.THERAPIST), couple_id)


def _app(viewer: Viewer, couple_id: int) -> AppTest:
    args = (viewer.person_id, viewer.username, viewer.display_name, couple_id)
    return AppTest.from_function(_report_script, args=args, default_timeout=60).run()


def _seed(engine: Engine) -> tuple[Viewer, Viewer, int]:
    kim = make_person(engine, "kim", Role.THERAPIST, "Dr Kim")
    zoe, ben = make_person(engine, "zoe", name="Zoë"), make_person(engine, "ben", name="Ben")
    couple_id = make_couple(engine, zoe, ben)
    for partner in (zoe, ben):
        grant(engine, couple_id, kim, partner)
        finish_assessment(engine, partner)
    return kim, zoe, couple_id


def _downloads(engine: Engine) -> int:
    with read_session(engine) as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.action == report.DOWNLOADED)).all())


def _download_buttons(at: AppTest) -> list[Any]:
    return list(at.get("download_button"))


def test_the_button_builds_the_report_and_offers_a_dated_pdf_without_names(app_env: Engine) -> None:
    """Click, see the steps, get "Download the report" with a dated file name; the couple's record has it."""
    kim, _, couple_id = _seed(app_env)
    at = _app(kim, couple_id)
    assert not _download_buttons(at)
    click(at, BUTTON)
    assert not at.exception and not at.error, [e.value for e in at.error]
    [download] = _download_buttons(at)
    assert download.proto.label == DOWNLOAD
    pdf, file_name = at.session_state[f"kindred_report::{couple_id}"]
    assert re.fullmatch(r"kindred-report-\d{4}-\d{2}-\d{2}\.pdf", file_name)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Zoë" in text and "Ben" in text
    [status] = at.get("status")
    assert status.proto.label == "The report is ready"
    assert [m.value for m in status.markdown] == list(report.STEPS)
    assert _downloads(app_env) == 1
    # A rerun keeps the download; it is not built again.
    at.run()
    assert len(_download_buttons(at)) == 1 and _downloads(app_env) == 1


def test_without_chromium_the_therapist_reads_why_and_nothing_is_recorded(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No browser to draw the charts: a plain message naming what the server needs, no traceback."""
    kim, _, couple_id = _seed(app_env)
    report.RENDERER.close()  # a chromium kept warm by an earlier report would still draw
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    at = _app(kim, couple_id)
    click(at, BUTTON)
    assert not at.exception
    assert "the server needs chromium" in texts(at)
    assert "Traceback" not in texts(at)
    assert not _download_buttons(at)
    assert _downloads(app_env) == 0


def test_a_built_report_is_taken_away_when_a_partner_revokes_access(app_env: Engine) -> None:
    """Once a partner withdraws access, the next run offers neither the button nor the built report."""
    kim, zoe, couple_id = _seed(app_env)
    at = _app(kim, couple_id)
    click(at, BUTTON)
    assert len(_download_buttons(at)) == 1
    with write_session(app_env) as session:
        grants.revoke_access(session=session, viewer=zoe, therapist_id=kim.person_id, now=utcnow())
    at.run()
    assert not _download_buttons(at)
    assert not [b for b in at.button if b.label == BUTTON]
    assert f"kindred_report::{couple_id}" not in at.session_state
