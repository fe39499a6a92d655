"""Benchmark: the progress page with 52 weeks of demo history.

Run: `uv run python bench/progress_page.py`. Prints medians from one run (these machines are shared and
noisy, so compare ratios, not absolute times):
- warm reruns of the page against its floor (a plain script drawing, from memory, the elements and figures
  the page drew), interleaved in one run: medians, p95 and their ratio, at 12 and 52 weeks;
- server-side render time of the progress page (AppTest run), cold (figures built) and warm (cached), and a
  rerun switching to a check-in rating not drawn yet (one chart built);
- SQL statements per rerun, for 12 and 52 weeks of history (must be equal);
- load_progress alone, 12 vs 52 weeks.
"""

from __future__ import annotations

import json
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
FLOOR_RUNS = 30  # page and floor reruns, interleaved


def _setup(folder: Path, weeks: int) -> tuple[Engine, Any]:
    os.environ.update(
        KINDRED_DATA_DIR=str(folder),
        KINDRED_DATABASE_URL=f"sqlite:///{folder / f'bench{weeks}.db'}",
        KINDRED_COOKIE_KEY="benchmark-only-cookie-key-0123456789abcdef",
        KINDRED_BCRYPT_ROUNDS="4",
    )
    from program.course.curriculum import load_program
    from program.infra import crypto
    from program.infra.db import create_db_engine, migrate
    from program.infra.settings import get_settings
    from program.ops.demo import load_demo

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

    from tests.ui.helpers import as_viewer

    page = AppTest.from_file(str(ROOT / "pages" / page_file), default_timeout=timeout)
    return as_viewer(page, viewer, engine)


def interleaved_times(page: Any, floor: Any, runs: int) -> tuple[list[float], list[float]]:
    """Warm reruns of a page and its floor, interleaved in one run: each one's times in milliseconds."""
    times: dict[str, list[float]] = {"page": [], "floor": []}
    for _ in range(runs):
        for name, app in (("page", page), ("floor", floor)):
            start = time.perf_counter()
            app.run()
            times[name].append((time.perf_counter() - start) * 1000)
    return times["page"], times["floor"]


def interleaved_medians(page: Any, floor: Any, runs: int) -> tuple[float, float]:
    """Warm reruns of a page and its floor, interleaved in one run; their medians in milliseconds."""
    page_times, floor_times = interleaved_times(page, floor, runs)
    return statistics.median(page_times), statistics.median(floor_times)


def p95(times: list[float]) -> float:
    """The 95th percentile of some timings."""
    return statistics.quantiles(times, n=20)[-1]


# The floor: a plain Streamlit script drawing, from memory, the elements the page drew on its last run.
FLOOR_SCRIPT = """
import streamlit as st

def draw(ops):
    for op in ops:
        kind = op[0]
        if kind == "plotly_chart":
            st.plotly_chart(op[1], theme=None, config=op[2], key=op[3])
        elif kind == "dataframe":
            st.dataframe(op[1], hide_index=True)
        elif kind == "selectbox":
            st.selectbox(op[1], op[2], index=op[3], key=op[4])
        elif kind == "button":
            st.button(op[1], key=op[2])
        elif kind == "expander":
            with st.expander(op[1]):
                draw(op[2])
        elif kind == "container":
            with st.container(border=op[1]):
                draw(op[2])
        elif kind == "sidebar":
            with st.sidebar:
                draw(op[1])
        else:
            getattr(st, kind)(op[1])

draw(st.session_state["floor_ops"])
"""
TEXT_ELEMENTS = (
    "title",
    "header",
    "subheader",
    "markdown",
    "caption",
    "info",
    "warning",
    "error",
    "success",
    "text",
)


def _floor_ops(node: Any) -> list[tuple[Any, ...]]:
    """The elements under one node of a page's last run as drawing steps, their values held in memory
    (figures parsed here once, tables as row dicts, as pages hand them over); the login cookie component,
    which draws nothing, is left out."""
    import plotly.io

    ops: list[tuple[Any, ...]] = []
    for child in node.children.values():
        kind = child.type
        if kind == "plotly_chart":
            figure = plotly.io.from_json(child.proto.spec)
            ops.append((kind, figure, json.loads(child.proto.config), f"floor::{len(ops)}"))
        elif kind == "dataframe":
            ops.append((kind, child.value.to_dict("records")))
        elif kind == "selectbox":
            ops.append((kind, child.label, list(child.options), child.index, child.key))
        elif kind == "button":
            ops.append((kind, child.label, child.key))
        elif kind == "expander":
            ops.append((kind, child.label, _floor_ops(child)))
        elif kind == "flex_container":
            ops.append(("container", child.proto.flex_container.border, _floor_ops(child)))
        elif kind in TEXT_ELEMENTS:
            ops.append((kind, child.value))
        elif getattr(child, "children", None):
            ops.extend(_floor_ops(child))
    return ops


def floor_of(page: Any, timeout: int = 60) -> Any:
    """The page's floor: a plain script drawing from memory what the page drew on its last run."""
    from streamlit.testing.v1 import AppTest

    floor = AppTest.from_string(FLOOR_SCRIPT, default_timeout=timeout)
    floor.session_state["floor_ops"] = [*_floor_ops(page.main), ("sidebar", _floor_ops(page.sidebar))]
    floor.run()
    assert not floor.exception, floor.exception
    return floor


def compare(name: str, page: Any, runs: int) -> tuple[float, float]:
    """Print a page's warm reruns against its floor (median and p95 of each, and their ratio)."""
    floor = floor_of(page)
    page_times, floor_times = interleaved_times(page, floor, runs)
    page_ms, floor_ms = statistics.median(page_times), statistics.median(floor_times)
    print(
        f"{name}: page median {page_ms:.0f} ms (p95 {p95(page_times):.0f}), floor median {floor_ms:.0f} ms "
        f"(p95 {p95(floor_times):.0f}), ratio {page_ms / floor_ms:.2f}x ({runs} interleaved warm reruns)"
    )
    return page_ms, floor_ms


def _rating_switch_ms(page: Any, runs: int) -> float:
    """Median time of a rerun that switches to a check-in rating not drawn before (its chart built, the
    others from the cache)."""
    from program.ui.progress import CHECKIN_LABELS, clear_figure_caches

    others = [rating for rating in CHECKIN_LABELS if rating != "overall"]
    times: list[float] = []
    while len(times) < runs:
        clear_figure_caches()
        page.selectbox(key="progress_rating").set_value("overall").run()
        for rating in others:
            page.selectbox(key="progress_rating").set_value(rating)
            start = time.perf_counter()
            page.run()
            times.append((time.perf_counter() - start) * 1000)
    page.selectbox(key="progress_rating").set_value("overall").run()
    return statistics.median(times)


def main() -> None:
    """Measure and print."""
    from sqlmodel import select

    from program.charts.progress_data import load_progress
    from program.course.curriculum import load_program
    from program.infra.db import read_session
    from program.infra.models import Person
    from program.privacy.viewer import Viewer
    from program.ui import progress as progress_page
    from program.ui import runtime

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

        at = logged_in_page("progress.py", engine, viewer)
        at.run()  # imports and first build
        assert not at.exception, at.exception
        cold, warm = [], []
        for _ in range(RUNS):
            progress_page.clear_figure_caches()
            start = time.perf_counter()
            at.run()
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - start)
        assert not at.exception, at.exception
        switch_ms = _rating_switch_ms(at, RUNS)
        per_rerun = _count_queries(runtime.engine(), at.run)
        page_ms, floor_ms = compare(f"progress page, {weeks} weeks", at, FLOOR_RUNS)
        results[weeks] = {
            "load_ms": statistics.median(load_times) * 1000,
            "cold_ms": statistics.median(cold) * 1000,
            "warm_ms": statistics.median(warm) * 1000,
            "switch_ms": switch_ms,
            "queries_per_rerun": per_rerun,
            "charts": len(at.get("plotly_chart")),
        }
    for weeks, row in results.items():
        print(
            f"{weeks:>2} weeks: load_progress {row['load_ms']:.1f} ms, "
            f"page render cold {row['cold_ms']:.0f} ms, warm (cached figures) {row['warm_ms']:.0f} ms, "
            f"rerun switching the check-in rating {row['switch_ms']:.0f} ms, "
            f"{row['queries_per_rerun']:.0f} SQL statements per warm rerun, {row['charts']:.0f} charts"
        )
    print(
        f"52/12 weeks: load x{results[52]['load_ms'] / results[12]['load_ms']:.2f}, "
        f"cold render x{results[52]['cold_ms'] / results[12]['cold_ms']:.2f}; "
        f"warm/cold at 52 weeks: {results[52]['warm_ms'] / results[52]['cold_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
