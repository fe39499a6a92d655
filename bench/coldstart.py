"""Benchmark: cold start, from spawning a server process to the first login form visible in chromium.

Run: `uv run python bench/coldstart.py [--runs N]`. Prints one markdown table (median and spread of N
repetitions, the ways of starting alternating so that the machine's load falls on each alike):
- Kindred started as the README says (`python -m program serve`: migrate, compile, then serve) on an
  already-migrated database, and on an empty one (the first start of a new install);
- Kindred started as plain `streamlit run app.py` on an already-migrated database;
- a plain Streamlit app whose first page is a similar login form (the floor).
Each repetition is a fresh server process and a fresh browser context (no cookie, no cache); the browser
itself is started once, as a person's browser is already open. The target: Kindred at most 1.3x the plain app.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("KINDRED_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_LIMIT_S = 90
RUNS = 5
# The same flags for every server: a named address (no external IP look-up), no file watcher, no stats.
SERVER_FLAGS = [
    "--server.address", "127.0.0.1", "--server.headless", "true",
    "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
]  # fmt: skip
# The floor: a login page as Kindred's is drawn (title, three tabs, a form in each), with no logic behind it.
PLAIN_APP = """\
import streamlit as st

st.set_page_config(page_title="Plain", layout="centered")
st.title("Welcome")
login_tab, register_tab, reset_tab = st.tabs(["Log in", "Create an account", "Reset password"])
with login_tab, st.form("login"):
    st.subheader("Log in")
    st.text_input("Username")
    st.text_input("Password", type="password")
    st.form_submit_button("Log in")
with register_tab, st.form("register"):
    st.radio("I am joining as", ["a partner in a couple", "a therapist"])
    st.text_input("What should we call you?")
    st.text_input("Username")
    st.text_input("Password", type="password")
    st.text_input("Type the password again", type="password")
    st.form_submit_button("Create account")
with reset_tab, st.form("reset"):
    st.text_input("Username")
    st.text_input("Reset code")
    st.text_input("New password", type="password")
    st.form_submit_button("Set new password")
"""


@dataclass(frozen=True)
class Start:
    """One way of starting a server: its label, its command (given a port), and what runs before each."""

    label: str
    command: Callable[[int], list[str]]
    prepare: Callable[[], None]
    env: dict[str, str]
    cwd: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _kindred_env(folder: Path, database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KINDRED_DATA_DIR": str(folder / "data"),
        "KINDRED_DATABASE_URL": f"sqlite:///{database}",
    }


def _migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "program", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True
    )


def _remove(database: Path) -> Callable[[], None]:
    def remove() -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)

    return remove


def starts(folder: Path) -> list[Start]:
    """The ways of starting compared, each on its own database in `folder`."""
    plain_dir = folder / "plain"
    plain_dir.mkdir()
    (plain_dir / "plain_app.py").write_text(PLAIN_APP)
    migrated_db, empty_db = folder / "migrated.db", folder / "empty.db"
    migrated_env, empty_env = _kindred_env(folder, migrated_db), _kindred_env(folder, empty_db)
    _migrate(migrated_env)  # also writes the data folder's generated keys, which both databases share
    python = sys.executable

    def serve(port: int) -> list[str]:
        return [python, "-m", "program", "serve", "--server.port", str(port), *SERVER_FLAGS]

    def run(script: str) -> Callable[[int], list[str]]:
        return lambda port: [
            python,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            *SERVER_FLAGS,
        ]

    def keep() -> None:
        pass

    plain = dict(os.environ)
    return [
        Start("plain Streamlit app (floor)", run("plain_app.py"), keep, plain, plain_dir),
        Start("Kindred, `python -m program serve`, migrated database", serve, keep, migrated_env, ROOT),
        Start(
            "Kindred, `python -m program serve`, empty database", serve, _remove(empty_db), empty_env, ROOT
        ),
        Start("Kindred, `streamlit run app.py`, migrated database", run("app.py"), keep, migrated_env, ROOT),
    ]


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)  # the polling interval, as fine as a person's browser retrying would be
    raise RuntimeError(f"not healthy within {START_LIMIT_S} s")


def time_start(start: Start, browser: object) -> tuple[float, float]:
    """Seconds from spawning the server to healthy, and to its login form visible in a fresh context."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    start.prepare()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    process = subprocess.Popen(
        start.command(port),
        cwd=start.cwd,
        env=start.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(url, process)
        healthy = time.perf_counter() - began
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url, timeout=START_LIMIT_S * 1000)
            form = page.get_by_test_id("stForm").filter(has_text="Log in").first
            expect(form.get_by_role("button", name="Log in")).to_be_visible(timeout=START_LIMIT_S * 1000)
            shown = time.perf_counter() - began
        finally:
            context.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return healthy, shown


def measure(runs: int = RUNS) -> list[tuple[str, list[float], list[float]]]:
    """Per way of starting: its label, and the times to healthy and to the form, over `runs` repetitions."""
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="kindred-coldstart-"))
    try:
        compared = starts(folder)
        healthy: dict[str, list[float]] = {start.label: [] for start in compared}
        shown: dict[str, list[float]] = {start.label: [] for start in compared}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                time_start(compared[0], browser)  # warms the OS file cache and chromium; not counted
                for run in range(runs):
                    # Alternate the order, so that no way of starting always follows the same one.
                    for start in compared if run % 2 == 0 else list(reversed(compared)):
                        to_health, to_form = time_start(start, browser)
                        healthy[start.label].append(to_health)
                        shown[start.label].append(to_form)
            finally:
                browser.close()
        return [(start.label, healthy[start.label], shown[start.label]) for start in compared]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def table(results: Sequence[tuple[str, list[float], list[float]]]) -> str:
    """The results as a markdown table, each start's median against the plain app's."""
    floor = statistics.median(results[0][2])
    lines = [
        "| start | spawn to healthy, median (s) | spawn to login form, median (s) | min-max (s) | vs plain |",
        "|---|---|---|---|---|",
    ]
    for label, to_health, to_form in results:
        median = statistics.median(to_form)
        lines.append(
            f"| {label} | {statistics.median(to_health):.2f} | {median:.2f} | "
            f"{min(to_form):.2f}-{max(to_form):.2f} | {median / floor:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"repetitions of each start (default {RUNS})")
    args = parser.parse_args(argv)
    results = measure(max(1, args.runs))
    print(
        f"Cold start, {args.runs} alternating runs, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}:\n"
    )
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
