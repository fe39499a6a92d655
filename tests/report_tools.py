"""Whether this machine can build the session report: chromium for the chart images (kaleido) and the DejaVu
font for the PDF. Where either is missing the report's tests are skipped locally, as the browser tests are;
CI forbids skips (KINDRED_FORBID_SKIPS), so there they always run."""

from __future__ import annotations

import os
import shutil

import pytest

from program.therapist import report


def _missing() -> str | None:
    if not (os.environ.get("BROWSER_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")):
        return "no chromium on the PATH for the report's charts: apt-get install chromium"
    try:
        report._font_dir()
    except report.ReportError as error:
        return str(error)
    return None


needs_report_tools = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
