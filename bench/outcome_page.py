"""Benchmark: the "How we're doing" page against its Streamlit floor.

Run: `uv run python bench/outcome_page.py`. The floor is a plain script that draws the same elements (title,
text, caption, notice, table) from memory. Both are rerun in AppTest, interleaved in one run; it prints the
medians and their ratio (these machines are shared and noisy: compare the ratio, not the times), and the SQL
statements one rerun of the page makes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.progress_page import _count_queries, _setup, interleaved_medians, logged_in_page  # noqa: E402

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

    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-outcome-"))
    engine, accounts = _setup(folder, 52)
    with read_session(engine) as session:
        viewer = Viewer.of(session.exec(select(Person).where(Person.username == accounts.partners[0])).one())
    page = logged_in_page("outcome.py", engine, viewer)
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
    page_ms, floor_ms = interleaved_medians(page, floor, RUNS)
    from program.ui import runtime

    statements = _count_queries(runtime.engine(), page.run)
    print(
        f"How we're doing (demo Alex, every occasion sent): page {page_ms:.0f} ms, floor {floor_ms:.0f} ms, "
        f"ratio {page_ms / floor_ms:.2f}x (medians of {RUNS} warm reruns); "
        f"{statements} SQL statements per rerun"
    )


if __name__ == "__main__":
    main()
