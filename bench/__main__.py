"""The benchmark: every page against its floor, at 100, 1,000 and 10,000 couples.

Run: `uv run python -m bench [--sizes 100,1000,10000] [--runs 20] [--out FILE]`. Each size runs in a
process of its own (settings and the engine are per process), on a fresh SQLite file in a temporary
folder, or on a fresh database of the PostgreSQL server that TEST_DATABASE_URL names. In each:
1. seed the couples in bulk (bench/seed.py), with the measured couple and their therapist;
2. per page (bench/pages.py): warm AppTest reruns of the app on that page, interleaved with reruns of its
   floor (bench/floor.py), the median and p95 of each, their ratio, and the SQL statements of one rerun;
3. one couple's progress load (program.charts.progress_data.load_progress) and the therapist's caseload
   (program.therapist.caseload.load_caseload), medians and statements.
The parent prints the machine, the command and one markdown table (and writes it to --out).
These machines are shared and noisy: compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (100, 1000, 10000)
RUNS = 20
COOKIE_KEY = "benchmark-only-cookie-key-0123456789abcdef"


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]


def _timed(work: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


@contextmanager
def _database(folder: Path) -> Iterator[str]:
    from tests.databases import fresh_database

    with fresh_database(folder) as url:
        yield url


def measure(size: int, runs: int, keep: bool = False) -> dict[str, Any]:
    """Seed one database of this size and measure every page on it (in this process). The data folder
    (an SQLite file of ~350 MB at 10,000 couples, and each page's floor script) is deleted afterwards
    unless kept."""
    folder = Path(tempfile.mkdtemp(prefix=f"kindred-bench-{size}-"))
    try:
        with _database(folder) as url:
            os.environ.update(
                KINDRED_DATA_DIR=str(folder),
                KINDRED_DATABASE_URL=url,
                KINDRED_COOKIE_KEY=COOKIE_KEY,
                KINDRED_BCRYPT_ROUNDS="4",
            )
            return _measure(size, runs, folder)
    finally:
        if keep:
            print(f"[{size}] kept {folder} (the database and each page's floor-N.py)", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _measure(size: int, runs: int, folder: Path) -> dict[str, Any]:
    from sqlmodel import select
    from streamlit.testing.v1 import AppTest

    from bench.floor import compare, element_counts, floor_script
    from bench.pages import CASES, reach
    from bench.progress_page import _count_queries
    from bench.seed import DEMO_CASELOAD_EXTRA, DEMO_COUPLES, add_operator_instrument, counts, seed
    from program.charts.progress_data import load_progress
    from program.course.curriculum import load_program
    from program.infra import crypto
    from program.infra.db import create_db_engine, migrate, read_session
    from program.infra.models import Person
    from program.infra.settings import get_settings
    from program.privacy.viewer import Viewer
    from program.therapist import caseload
    from program.ui import runtime

    settings = get_settings()
    crypto.configure(settings.encryption_key_list())
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    add_operator_instrument(folder)
    program = load_program()
    seeded = seed(engine=engine, program=program, couples=size, today=date.today())
    print(
        f"[{size}] seeded {size} couples ({seeded.rows} rows) in {seeded.seconds_bulk:.1f} s, the measured "
        f"couple (demo) in {seeded.seconds_demo:.1f} s; {counts(engine)}",
        flush=True,
    )
    with read_session(engine) as session:
        viewers = {
            who: Viewer.of(session.exec(select(Person).where(Person.username == username)).one())
            for who, username in (("partner", seeded.demo.partners[0]), ("therapist", seeded.demo.therapist))
        }
    caseload_size = DEMO_COUPLES + min(size, DEMO_CASELOAD_EXTRA)
    app_program = runtime.program()  # as the pages see it: with the operator's questionnaire

    def progress_load() -> None:
        with read_session(engine) as session:
            load_progress(
                session=session,
                viewer=viewers["partner"],
                couple_id=seeded.demo.couple_id,
                program=app_program,
            )

    def caseload_load() -> None:
        with read_session(engine) as session:
            rows = caseload.load_caseload(
                session=session, viewer=viewers["therapist"], program=app_program, settings=settings,
                today=date.today(),
            )  # fmt: skip
            assert len(rows) == caseload_size, (len(rows), caseload_size)

    loads = {}
    caseload_name = f"caseload of {caseload_size} couples"
    for name, work in (("progress of one couple", progress_load), (caseload_name, caseload_load)):
        work()
        loads[name] = {
            "median": statistics.median(_timed(work, runs)),
            "statements": _count_queries(engine, work),
        }
    rows: list[dict[str, Any]] = []
    for case in CASES:
        viewer = None if case.who is None else viewers[case.who]
        page = reach(case, engine, viewer, seeded.demo.couple_id)
        script, unknown = floor_script(page._tree, folder / f"floor-{len(rows)}.pickle")
        (folder / f"floor-{len(rows)}.py").write_text(script)
        floor = AppTest.from_string(script, default_timeout=120).run()
        if floor.exception:
            raise RuntimeError(f"{case.name}: the floor raised {[e.value for e in floor.exception]}")
        drift = compare(element_counts(page._tree), element_counts(floor._tree))
        if drift or unknown:
            print(
                f"[{size}] WARNING {case.name}: floor differs from the page: {drift} {dict(unknown)}",
                flush=True,
            )
        times: dict[str, list[float]] = {"page": [], "floor": []}
        for _ in range(runs):
            for name, app in (("page", page), ("floor", floor)):
                times[name] += _timed(app.run, 1)
        if page.exception:
            raise RuntimeError(f"{case.name}: the page raised {[e.value for e in page.exception]}")
        row: dict[str, Any] = {
            "page": case.name,
            "size": size,
            "median": statistics.median(times["page"]),
            "p95": _p95(times["page"]),
            "floor": statistics.median(times["floor"]),
            "floor_p95": _p95(times["floor"]),
            "statements": _count_queries(runtime.engine(), page.run),
            "charts": len(page.get("plotly_chart")),
        }
        row["ratio"] = row["median"] / row["floor"]
        rows.append(row)
        print(
            f"[{size}] {case.name}: {row['median']:.0f} ms (p95 {row['p95']:.0f}), "
            f"floor {row['floor']:.0f} ms, x{row['ratio']:.2f}, {row['statements']} statements",
            flush=True,
        )
    return {
        "size": size,
        "seed_seconds": seeded.seconds_bulk,
        "seed_rows": seeded.rows,
        "rows": rows,
        "loads": loads,
    }


def _machine() -> str:
    import streamlit

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    database = "PostgreSQL (TEST_DATABASE_URL)" if os.environ.get("TEST_DATABASE_URL") else "SQLite"
    return (
        f"Machine: {os.cpu_count()} CPUs, load average {load}; Python {platform.python_version()}, "
        f"Streamlit {streamlit.__version__}; {database}; commit {commit}"
    )


def table(results: list[dict[str, Any]], runs: int) -> str:
    """The markdown table of every page at every size, then the load lines."""
    lines = [
        "| page | couples | page median ms | p95 | floor median | ratio | statements |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    pages = [row["page"] for row in results[0]["rows"]] if results else []
    for page in pages:
        for result in results:
            for row in result["rows"]:
                if row["page"] == page:
                    lines.append(
                        f"| {page} | {row['size']:,} | {row['median']:.0f} | {row['p95']:.0f} | "
                        f"{row['floor']:.0f} | {row['ratio']:.2f}x | {row['statements']} |"
                    )
    lines.append("")
    lines.append(f"Medians of {runs} warm reruns, page and floor interleaved. Loads (median of {runs}):")
    lines.append("")
    for result in results:
        loads = "; ".join(
            f"{name} {load['median']:.1f} ms in {load['statements']} statements"
            for name, load in result["loads"].items()
        )
        lines.append(
            f"- {result['size']:,} couples (seeded {result['seed_rows']:,} rows in "
            f"{result['seed_seconds']:.0f} s): {loads}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Each size in its own process; then the table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="couples per database, comma-separated"
    )
    parser.add_argument(
        "--runs", type=int, default=RUNS, help="warm reruns per page (at least 20 for the table)"
    )
    parser.add_argument("--out", type=Path, help="also write the markdown table to this file")
    parser.add_argument(
        "--keep", action="store_true", help="keep each size's data folder (database, floor scripts)"
    )
    parser.add_argument(
        "--parts",
        default="pages,load,coldstart",
        help="what to measure, comma-separated: pages (per size), load (bench/load.py: concurrent sessions "
        "and RSS), coldstart (bench/coldstart.py: spawn to the first login form); default all three",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        args.result.write_text(json.dumps(measure(args.one, args.runs, args.keep)))
        return
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()] if "pages" in parts else []
    command = "uv run python -m bench " + " ".join(sys.argv[1:])
    print(_machine(), flush=True)
    print(f"Command: {command.strip()}", flush=True)
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="kindred-bench-") as scratch:
        for size in sizes:
            result = Path(scratch) / f"{size}.json"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench",
                    "--one",
                    str(size),
                    "--runs",
                    str(args.runs),
                    "--result",
                    str(result),
                    *(["--keep"] if args.keep else []),
                ],
                check=True,
                cwd=ROOT,
            )
            results.append(json.loads(result.read_text()))
    tables = [table(results, args.runs)] if results else []
    # The server-level measures run real servers (one at a time, after the pages, never beside them).
    for part, script in (("load", "load.py"), ("coldstart", "coldstart.py")):
        if part in parts:
            print(f"== {script}", flush=True)
            done = subprocess.run(
                [sys.executable, str(ROOT / "bench" / script)],
                check=True,
                cwd=ROOT,
                stdout=subprocess.PIPE,  # the table; progress and errors go to the terminal
                text=True,
            )
            print(done.stdout, flush=True)
            tables.append(done.stdout)
    minutes = (time.perf_counter() - started) / 60
    report = f"{_machine()}\n\nCommand: `{command.strip()}` (took {minutes:.1f} min)\n\n" + "\n".join(tables)
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
