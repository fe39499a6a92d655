"""Benchmark: the "How we're doing" page against its Streamlit floor.

Run: `uv run python bench/outcome_page.py`. The floor is a plain script that draws, from memory, the elements
the page drew (title, text, caption, notice, table, the sidebar: bench.progress_page.floor_of). Both are rerun
in AppTest, interleaved in one run; it prints the medians, p95s and their ratio (these machines are shared and
noisy: compare the ratio, not the times), and the SQL statements one rerun of the page makes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.progress_page import _count_queries, _setup, compare, logged_in_page  # noqa: E402

RUNS = 30


def main() -> None:
    """Measure and print."""
    from sqlmodel import select

    from program.infra.db import read_session
    from program.infra.models import Person
    from program.privacy.viewer import Viewer
    from program.ui import runtime

    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-outcome-"))
    engine, accounts = _setup(folder, 52)
    with read_session(engine) as session:
        viewer = Viewer.of(session.exec(select(Person).where(Person.username == accounts.partners[0])).one())
    page = logged_in_page("outcome.py", engine, viewer)
    page.run()
    assert not page.exception, page.exception
    compare("How we're doing (demo Alex, every occasion sent)", page, RUNS)
    statements = _count_queries(runtime.engine(), page.run)
    print(f"{statements} SQL statements per rerun")


if __name__ == "__main__":
    main()
