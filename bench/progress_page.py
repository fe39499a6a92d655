"""Benchmark: the progress page with 52 weeks of demo history.

Run: `uv run python bench/progress_page.py`. Prints medians from one run (these machines are shared and
noisy, so compare ratios, not absolute times):
- server-side render time of the progress page (AppTest run), cold (figures built) and warm (cached);
- SQL statements per rerun, for 12 and 52 weeks of history (must be equal);
- load_progress alone, 12 vs 52 weeks.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

RUNS = 15


def _setup(folder: Path, weeks: int) -> tuple[Engine, Any]:
    os.environ.update(
        KINDRED_DATA_DIR=str(folder),
        KINDRED_DATABASE_URL=f"sqlite:///{folder / f'bench{weeks}.db'}",
        KINDRED_COOKIE_KEY="benchmark-only-cookie-key-0123456789abcdef",
        KINDRED_BCRYPT_ROUNDS="4",
    )
    from program import crypto
    from program.curriculum import load_program
    from program.db import create_db_engine, migrate
    from program.demo import load_demo
    from program.settings import get_settings

    get_settings.cache_clear()
    crypto.configure(get_settings().encryption_key_list())  # as the app does before making its engine
    engine = create_db_engine(get_settings().database_url)
    migrate(engine)
    accounts = load_demo(
        engine=engine, program=load_program(), weeks=weeks, today=date(2026, 11, 23), bcrypt_rounds=4
    )
    return engine, accounts


def _count_queries(engine: Engine, work: Any) -> int:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def logged_in_page(page_file: str, engine: Engine, viewer: Any, timeout: int = 60) -> Any:
    """An AppTest of one page file with this person logged in, as the login form leaves the session."""
    from streamlit.testing.v1 import AppTest

    from program.ui.gate import SESSION_ID
    from tests.factories import start_login_session

    page = AppTest.from_file(str(ROOT / "pages" / page_file), default_timeout=timeout)
    page.session_state[SESSION_ID] = start_login_session(engine, viewer)
    page.session_state["authentication_status"] = True
    page.session_state["username"] = viewer.username
    page.session_state["name"] = viewer.display_name
    page.session_state["roles"] = [viewer.role]
    return page


def interleaved_medians(page: Any, floor: Any, runs: int) -> tuple[float, float]:
    """Warm reruns of a page and its floor, interleaved in one run; their medians in milliseconds."""
    times: dict[str, list[float]] = {"page": [], "floor": []}
    for _ in range(runs):
        for name, app in (("page", page), ("floor", floor)):
            start = time.perf_counter()
            app.run()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["page"]) * 1000, statistics.median(times["floor"]) * 1000


def main() -> None:
    """Measure and print."""
    from sqlmodel import select
    from streamlit.testing.v1 import AppTest

    from program.access import Viewer
    from program.curriculum import load_program
    from program.db import read_session
    from program.models import Person
    from program.progress import load_progress
    from program.ui.gate import SESSION_ID
    from tests.factories import start_login_session

    program = load_program()
    results: dict[int, dict[str, float]] = {}
    for weeks in (12, 52):
        folder = Path(tempfile.mkdtemp(prefix=f"kindred-bench-{weeks}-"))
        engine, accounts = _setup(folder, weeks)
        with read_session(engine) as session:
            viewer = Viewer.of(
                session.exec(select(Person).where(Person.username == accounts.partners[0])).one()
            )

        load_times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            with read_session(engine) as session:
                load_progress(session=session, viewer=viewer, couple_id=accounts.couple_id, program=program)
            load_times.append(time.perf_counter() - start)

        at = AppTest.from_file(str(ROOT / "pages" / "progress.py"), default_timeout=60)
        at.session_state[SESSION_ID] = start_login_session(engine, viewer)
        at.session_state["authentication_status"] = True
        at.session_state["username"] = viewer.username
        at.session_state["name"] = viewer.display_name
        at.session_state["roles"] = [viewer.role]
        at.run()  # imports and first build
        cold, warm = [], []
        from program.ui import progress as progress_page

        for _ in range(RUNS):
            progress_page._figures.clear()
            start = time.perf_counter()
            at.run()
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - start)
        assert not at.exception, at.exception
        from program.ui import runtime

        per_rerun = _count_queries(runtime.engine(), at.run)
        results[weeks] = {
            "load_ms": statistics.median(load_times) * 1000,
            "cold_ms": statistics.median(cold) * 1000,
            "warm_ms": statistics.median(warm) * 1000,
            "queries_per_rerun": per_rerun,
            "charts": len(at.get("plotly_chart")),
        }
    for weeks, row in results.items():
        print(
            f"{weeks:>2} weeks: load_progress {row['load_ms']:.1f} ms, "
            f"page render cold {row['cold_ms']:.0f} ms, warm (cached figures) {row['warm_ms']:.0f} ms, "
            f"{row['queries_per_rerun']:.0f} SQL statements per warm rerun, {row['charts']:.0f} charts"
        )
    print(
        f"52/12 weeks: load x{results[52]['load_ms'] / results[12]['load_ms']:.2f}, "
        f"cold render x{results[52]['cold_ms'] / results[12]['cold_ms']:.2f}; "
        f"warm/cold at 52 weeks: {results[52]['warm_ms'] / results[52]['cold_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
