"""The therapist's "Session report (PDF)" button: the report built on the server, then offered to download.

The UI of program.therapist.report, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.elements.lib.mutable_status_container import StatusContainer

from program.infra.db import read_session, write_session
from program.infra.models import utcnow
from program.privacy import access
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import report
from program.ui import runtime
from program.ui.errors import SOMETHING_WENT_WRONG
from program.ui.localtime import local_today

log = logging.getLogger("kindred")

BUTTON = "Session report (PDF)"
DOWNLOAD = "Download the report"
NO_ACCESS = "This couple no longer gives you access, so no report was built."
_BUILT = "kindred_report::{couple_id}"


def render_report(viewer: Viewer, couple_id: int) -> None:
    """The report button; once built, the download button (kept while the couple stays open)."""
    built_key = _BUILT.format(couple_id=couple_id)
    # A report built earlier in this session is offered only while access stands: revoking it takes the
    # download away too.
    with read_session(runtime.engine()) as session:
        allowed = access.can_view_couple(session=session, viewer=viewer, couple_id=couple_id)
    if not allowed:
        st.session_state.pop(built_key, None)
        return
    st.caption(
        "A PDF of what both partners see on their progress page: the charts with their numbers, homework "
        "for both and the questionnaires both completed. The couple can see that you downloaded it."
    )
    if st.button(BUTTON, key=f"report_build_{couple_id}", icon=":material/picture_as_pdf:"):
        st.session_state.pop(built_key, None)
        pdf = _build(viewer, couple_id)
        if pdf is not None:
            st.session_state[built_key] = (pdf, f"kindred-report-{local_today().isoformat()}.pdf")
    built = st.session_state.get(built_key)
    if built is not None:
        pdf, file_name = built
        st.download_button(
            DOWNLOAD,
            data=pdf,
            file_name=file_name,  # a date, never a name: file names show in download lists and mail
            mime="application/pdf",
            key=f"report_download_{couple_id}",
            on_click="ignore",
            icon=":material/download:",
        )


def _build(viewer: Viewer, couple_id: int) -> bytes | None:
    """Build the PDF inside a status box that names each step; None (with a message shown) on failure."""
    engine = runtime.engine()
    with st.status("Building the session report…", expanded=True) as status:
        try:
            # Read in a read session, draw with no database open, then record the download in its own
            # short write: on SQLite a write session holds the write lock for the seconds chromium draws.
            _step(status, report.STEPS[0])
            with read_session(engine) as session:
                data = runtime.couple_read(report.gather, session, viewer, couple_id, now=utcnow())
            _step(status, report.STEPS[1])
            pages = report.draw_charts(data.charts)
            _step(status, report.STEPS[2])
            pdf = report.write_pdf(data, pages)
            with write_session(engine) as session:
                report.record_download(session=session, viewer=viewer, couple_id=couple_id)
        except AccessDenied:
            status.update(label="No report", state="error")
            st.error(NO_ACCESS)
            return None
        except report.ReportError as error:
            log.exception("the session report could not be built")
            status.update(label="No report", state="error")
            st.error(str(error))
            return None
        except Exception:
            log.exception("unexpected error while building the session report")
            status.update(label="No report", state="error")
            st.error(SOMETHING_WENT_WRONG)
            return None
        status.update(label="The report is ready", state="complete", expanded=False)
    return pdf


def _step(status: StatusContainer, step: str) -> None:
    status.update(label=f"{step}…")
    status.write(step)
