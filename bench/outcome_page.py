"""Benchmark: the "How we're doing" page against its Streamlit floor.

Run: `uv run python bench/outcome_page.py`. The floor is a plain script that draws the same elements (title,
text, caption, notice, table) from memory. Both are rerun in AppTest, interleaved in one run; it prints the
medians and their ratio (these machines are shared and noisy: compare the ratio, not the times), and the SQL
statements one rerun of the page makes.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.progress_page import _count_queries, _setup  # noqa: E402

RUNS = 30


def _floor_script(texts: list[str], rows: list[dict[str, str]]) -> str:
    """A plain Streamlit script that draws the page's elements from memory."""
    return f"""
import streamlit as st
texts = {texts!r}
rows = {rows!r}
st.title(texts[0])
st.write(texts[1])
st.caption(texts[2])
st.info(texts[3])
st.subheader(texts[4])
st.dataframe(rows, hide_index=True)
"""


def main() -> None:
    """Measure and print."""
    from sqlmodel import select
    from streamlit.testing.v1 import AppTest

    from program.access import Viewer
    from program.db import read_session
    from program.models import Person
    from program.ui.gate import SESSION_ID
    from tests.factories import start_login_session

    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-outcome-"))
    engine, accounts = _setup(folder, 52)
    with read_session(engine) as session:
        viewer = Viewer.of(session.exec(select(Person).where(Person.username == accounts.partners[0])).one())
    page = AppTest.from_file(str(ROOT / "pages" / "outcome.py"), default_timeout=60)
    page.session_state[SESSION_ID] = start_login_session(engine, viewer)
    for key, value in (
        ("authentication_status", True),
        ("username", viewer.username),
        ("name", viewer.display_name),
        ("roles", [viewer.role]),
    ):
        page.session_state[key] = value
    page.run()
    assert not page.exception, page.exception
    texts = [
        page.title[0].value,
        page.markdown[0].value,
        page.caption[0].value,
        page.info[0].value if page.info else "",
        page.subheader[-1].value if page.subheader else "",
    ]
    rows = page.dataframe[0].value.to_dict("records") if page.dataframe else []
    floor = AppTest.from_string(_floor_script(texts, rows), default_timeout=60)
    floor.run()
    times: dict[str, list[float]] = {"page": [], "floor": []}
    for _ in range(RUNS):
        for name, app in (("page", page), ("floor", floor)):
            start = time.perf_counter()
            app.run()
            times[name].append(time.perf_counter() - start)
    from program.ui import runtime

    statements = _count_queries(runtime.engine(), page.run)
    page_ms, floor_ms = (statistics.median(times[n]) * 1000 for n in ("page", "floor"))
    print(
        f"How we're doing (demo Alex, every occasion sent): page {page_ms:.0f} ms, floor {floor_ms:.0f} ms, "
        f"ratio {page_ms / floor_ms:.2f}x (medians of {RUNS} warm reruns); "
        f"{statements} SQL statements per rerun"
    )


if __name__ == "__main__":
    main()
