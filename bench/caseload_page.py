"""Benchmark: the therapist's caseload ("Your couples") at 5 and at 200 couples, against its Streamlit floor.

Run: `uv run python bench/caseload_page.py`. Each size is seeded in its own SQLite file (every couple with a
full history: check-ins, the outcome measure, exercises, homework, sessions rated, safety screens; the seed
of tests/therapist/test_caseload_queries.py) and measured in its own
process. The floor is a plain script that draws
the page's elements (title, table, alerts, the open box and button) from memory. Page and floor are rerun
in AppTest, interleaved; it prints the medians, their ratio (these machines are shared and noisy: compare
ratios, not times) and the SQL statements one rerun makes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 15
SIZES = (5, 200)


def _floor_script(
    title: str, captions: list[str], rows: list[dict[str, str]], alerts: list[str], options: list[str]
) -> str:
    return f"""
import streamlit as st
rows = {rows!r}
alerts = {alerts!r}
st.title({title!r})
for caption in {captions!r}:
    st.caption(caption)
st.dataframe(rows, hide_index=True, on_select="rerun", selection_mode="single-row", key="table")
st.selectbox("Open a couple", {options!r})
st.button("Open")
st.subheader("Alerts")
for alert in alerts:
    st.markdown(alert)
"""


def measure(couples: int) -> None:
    """Seed one caseload of this size and print its line."""
    folder = Path(tempfile.mkdtemp(prefix=f"kindred-bench-caseload-{couples}-"))
    os.environ.update(
        KINDRED_DATA_DIR=str(folder),
        KINDRED_DATABASE_URL=f"sqlite:///{folder / 'bench.db'}",
        KINDRED_COOKIE_KEY="benchmark-only-cookie-key-0123456789abcdef",
        KINDRED_BCRYPT_ROUNDS="4",
    )
    from streamlit.testing.v1 import AppTest

    from bench.progress_page import _count_queries, interleaved_medians, logged_in_page
    from program.infra import crypto
    from program.infra.db import create_db_engine, migrate
    from program.infra.settings import get_settings
    from program.ui import runtime
    from tests.therapist.test_caseload_queries import _caseload_of

    crypto.configure(get_settings().encryption_key_list())
    engine = create_db_engine(get_settings().database_url)
    migrate(engine)
    viewer = _caseload_of(engine, couples)
    page = logged_in_page("therapist.py", engine, viewer, timeout=120)
    page.run()
    assert not page.exception, page.exception
    rows = [{str(k): str(v) for k, v in row.items()} for row in page.dataframe[0].value.to_dict("records")]
    alerts = [str(m.value) for m in page.markdown]
    captions = [str(c.value) for c in page.caption]
    options = [str(o) for o in page.selectbox[0].options]
    floor = AppTest.from_string(
        _floor_script(page.title[0].value, captions, rows, alerts, options), default_timeout=60
    )
    floor.run()
    page_ms, floor_ms = interleaved_medians(page, floor, RUNS)
    statements = _count_queries(runtime.engine(), page.run)
    print(
        f"{couples:>4} couples ({len(alerts)} with alerts): page {page_ms:.0f} ms, floor {floor_ms:.0f} ms, "
        f"ratio {page_ms / floor_ms:.2f}x (medians of {RUNS} warm reruns); {statements} SQL statements "
        "per rerun",
        flush=True,
    )


def main() -> None:
    """Each size in a process of its own (settings and engine are per process)."""
    if len(sys.argv) == 2:
        measure(int(sys.argv[1]))
        return
    for size in SIZES:
        subprocess.run([sys.executable, __file__, str(size)], check=True)


if __name__ == "__main__":
    main()
