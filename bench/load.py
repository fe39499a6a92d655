"""Benchmark: Kindred under 1, 10 and 50 concurrent sessions, against a plain Streamlit app, and server RSS.

Run: `uv run python bench/load.py [--seconds 20]` (about 3 minutes with the default 20 s per level).

Two real servers run side by side (`python -m streamlit run ...`, file watcher off): Kindred on the demo
data (52 weeks; SQLite in a temp folder, or PostgreSQL when TEST_DATABASE_URL is set), and a plain
Streamlit script that draws comparable elements from memory (title, text, a form, one Plotly chart).
Sessions speak Streamlit's own websocket protocol (bench/ws_client.py), not browsers. Kindred's sessions
are logged in as a browser is: a login cookie signed as streamlit-authenticator writes it, and the
server-side login row it must match. A rerun counts as done only when the logged-in home page was drawn
("Hello, <name>"); anything else (login form, error, timeout) is a failed rerun.

Each level keeps the sessions of the level before and opens more (1, then 10, then 50 connected), so the
server's RSS after each level is that of exactly that many login_sessions. Within a level the two apps take
alternating turns (`--slices`), so both see the same machine. Prints one markdown table.

Rows: reruns per second (all sessions together, finished and drawn ones only), p50/p95 of one rerun's time
from the BackMsg to `script_finished`, failed reruns, bytes received per rerun (websocket payloads after
decompression; in brackets, what it would be without the client's message cache), the server's RSS (its
process tree) after the level.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ws_client import RunResult, StreamlitSession  # noqa: E402

LEVELS = (1, 10, 50)
COOKIE_KEY = "benchmark-only-cookie-key-0123456789abcdef"
KINDRED = "Kindred"
PLAIN = "plain Streamlit"

# A plain Streamlit page with elements like Kindred's home page, all drawn from memory.
PLAIN_APP = """
import plotly.graph_objects as go
import streamlit as st


@st.cache_resource
def figure() -> go.Figure:
    weeks = list(range(1, 53))
    fig = go.Figure()
    fig.add_scatter(x=weeks, y=[5 + (w % 7) / 2 for w in weeks], name="Alex")
    fig.add_scatter(x=weeks, y=[4 + (w % 5) / 2 for w in weeks], name="Sam")
    fig.update_layout(title="Overall, week by week", yaxis_range=[0, 10])
    return fig


st.set_page_config(page_title="Plain", layout="centered")
st.sidebar.caption("Signed in as **Plain**")
st.sidebar.button("Log out")
st.title("Home")
st.subheader("Hello, Plain")
st.write("You're doing Kindred together with **Partner**.")
st.success("Your partner finished the assessment.", icon=":material/notifications:")
with st.container(border=True):
    st.markdown("**Your next step**")
    st.markdown("Next: this week's check-in")
st.subheader("Your path")
for number in range(1, 7):
    with st.container(border=True):
        st.markdown(f"**{number}. Stage {number}**: done")
        st.caption("You: done. Your partner: done.")
with st.form("note"):
    st.text_input("A note")
    st.slider("How close do you feel?", 0, 10, 5)
    st.form_submit_button("Save")
st.plotly_chart(figure())
"""


@dataclass(frozen=True)
class Client:
    """One browser's credentials and what its logged-in page shows."""

    cookies: dict[str, str]
    marker: bytes


@dataclass
class Server:
    """A running Streamlit server."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def rss_mb(self) -> float:
        """Resident memory of the server process and all its descendants, in MB."""
        return sum(_rss_kb(pid) for pid in _tree(self.process.pid)) / 1024

    def stop(self) -> None:
        """Stop the server we started (by its own pid)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class Level:
    """One app under one number of concurrent login_sessions."""

    app: str
    sessions: int
    seconds: float
    reruns: int
    failed: int
    failures: tuple[str, ...]
    p50_ms: float
    p95_ms: float
    kb_per_rerun: float
    kb_uncached: float
    rss_mb: float
    load_average: float

    @property
    def per_second(self) -> float:
        """Completed reruns per second, all sessions together."""
        return (self.reruns - self.failed) / self.seconds


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for current in pids:
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pids.extend(int(child) for child in children)
    return pids


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(name: str, script: Path, env: dict[str, str], folder: Path, options: Sequence[str] = ()) -> Server:
    port = _free_port()
    log = folder / f"{name.split()[0].lower()}-server.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            *options,
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} server exited at start; see {log}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return Server(name, process, port, log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{name} server did not answer /_stcore/health within 60 s; see {log}")


def _seed(folder: Path) -> dict[str, str]:
    """Migrate and load the demo into a fresh database; the environment the server must run with."""
    database_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{folder / 'load.db'}"
    env = {
        "KINDRED_DATA_DIR": str(folder),
        "KINDRED_DATABASE_URL": database_url,
        "KINDRED_COOKIE_KEY": COOKIE_KEY,
        "KINDRED_BCRYPT_ROUNDS": "4",
    }
    os.environ.update(env)
    from program.course.curriculum import load_program
    from program.infra import crypto
    from program.infra.db import create_db_engine, migrate
    from program.infra.settings import get_settings
    from program.ops.demo import load_demo

    get_settings.cache_clear()
    crypto.configure(get_settings().encryption_key_list())
    engine = create_db_engine(database_url)
    migrate(engine)
    # A PostgreSQL test database may hold other rows; the demo then goes in beside them.
    load_demo(
        engine=engine,
        program=load_program(),
        weeks=52,
        today=date.today(),
        bcrypt_rounds=4,
        force="TEST_DATABASE_URL" in os.environ,
    )
    engine.dispose()
    return {**os.environ, **env}


def _kindred_clients(count: int) -> list[Client]:
    """`count` browsers, each logged in as one of the demo's partners (round robin), each with its own
    login: a cookie as streamlit-authenticator signs it and the server-side row that cookie must match."""
    import jwt
    from sqlmodel import col, select

    from program.auth import login_sessions
    from program.infra.db import create_db_engine, write_session
    from program.infra.models import Person, Role
    from program.infra.settings import get_settings
    from program.ops.demo import CASELOAD_USERNAMES, MAIN_USERNAMES

    settings = get_settings()
    engine = create_db_engine(settings.database_url)
    policies = login_sessions.Policies.from_settings(settings)
    clients = []
    now = datetime.now(UTC)
    with write_session(engine) as session:
        people = session.exec(
            select(Person)
            .where(col(Person.username).in_((*MAIN_USERNAMES, *CASELOAD_USERNAMES)))
            .where(Person.role == Role.PARTNER)
            .order_by(col(Person.id))
        ).all()
        for number in range(count):
            person = people[number % len(people)]
            exp_date = now.timestamp() + settings.cookie_lifetime_days() * 86400 + number / 1000
            cookie = jwt.encode({"username": person.username, "exp_date": exp_date}, COOKIE_KEY, "HS256")
            exp_date = jwt.decode(cookie, COOKIE_KEY, algorithms=["HS256"])["exp_date"]
            login_sessions.start(
                session=session,
                person=person,
                token=login_sessions.token_id(person.username, exp_date),
                now=now,
                policies=policies,
            )
            clients.append(Client({settings.cookie_name: cookie}, f"Hello, {person.display_name}".encode()))
    engine.dispose()
    return clients


def _verdict(result: RunResult, marker: bytes) -> str:
    if result.status != "ok":
        return result.status
    if any(marker in text for text in result.texts):
        return "ok"
    if any(b"Log in" in text for text in result.texts):
        return "login form"
    return "page not drawn"


async def _open(server: Server, clients: Sequence[Client]) -> list[tuple[StreamlitSession, Client]]:
    """Open these sessions and run each once (a new tab's first run, not timed)."""

    async def one(client: Client) -> tuple[StreamlitSession, Client]:
        tab = StreamlitSession(server.port, cookies=client.cookies)
        await tab.open()
        first = await tab.rerun()
        verdict = _verdict(first, client.marker)
        if verdict != "ok":
            raise RuntimeError(
                f"{server.name}: a new session's first run failed ({verdict}); see {server.log}"
            )
        return tab, client

    return list(await asyncio.gather(*(one(client) for client in clients)))


async def _drive(
    tabs: Sequence[tuple[StreamlitSession, Client]], seconds: float
) -> tuple[list[float], list[str], tuple[int, int], float]:
    """Every session reruns back to back until the time is up: latencies, failures, bytes received (and
    without the client's cache), elapsed."""
    latencies: list[float] = []
    failures: list[str] = []
    received = uncached = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def loop(tab: StreamlitSession, client: Client) -> None:
        nonlocal received, uncached
        while time.perf_counter() < deadline:
            result = await tab.rerun()
            received += result.bytes_received
            uncached += result.bytes_uncached
            verdict = _verdict(result, client.marker)
            if verdict == "ok":
                latencies.append(result.seconds)
            else:
                failures.append(verdict)
                if verdict == "connection closed":  # the server went away: nothing more to time here
                    return

    await asyncio.gather(*(loop(tab, client) for tab, client in tabs))
    return latencies, failures, (received, uncached), time.perf_counter() - start


def _percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _profiler(server: Server, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the server's threads for this long, as collapsed stacks (run under
    `uv run --with py-spy`; it needs ptrace, e.g. root)."""
    return subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(server.process.pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "50",
        ]
        + ["--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _measure(
    servers: dict[str, Server],
    clients: dict[str, list[Client]],
    seconds: float,
    levels: Sequence[int],
    slices: int,
    profile: Path | None = None,
) -> tuple[list[Level], dict[str, float]]:
    """Each level runs in `slices` turns per app, alternating, so a change in the machine's other load
    falls on both apps alike."""
    idle = {name: server.rss_mb() for name, server in servers.items()}
    tabs: dict[str, list[tuple[StreamlitSession, Client]]] = {name: [] for name in servers}
    rows: list[Level] = []
    try:
        for level in levels:
            for name, server in servers.items():
                tabs[name] += await _open(server, clients[name][len(tabs[name]) : level])
            latencies: dict[str, list[float]] = {name: [] for name in servers}
            failures: dict[str, list[str]] = {name: [] for name in servers}
            received = {name: [0, 0] for name in servers}
            elapsed = dict.fromkeys(servers, 0.0)
            load: dict[str, list[float]] = {name: [] for name in servers}
            for turn in range(slices):
                for name, server in servers.items():
                    spy = None
                    if profile is not None and level == max(levels) and turn == 0:
                        out = profile.with_suffix(f".{name.split()[0].lower()}.txt")
                        spy = _profiler(server, seconds / slices, out)
                    done, failed, (got, uncached), took = await _drive(tabs[name], seconds / slices)
                    if spy is not None:
                        spy.wait()
                    latencies[name] += done
                    failures[name] += failed
                    received[name][0] += got
                    received[name][1] += uncached
                    elapsed[name] += took
                    load[name].append(os.getloadavg()[0])
            for name, server in servers.items():
                reruns = len(latencies[name]) + len(failures[name])
                rows.append(
                    Level(
                        app=name,
                        sessions=level,
                        seconds=elapsed[name],
                        reruns=reruns,
                        failed=len(failures[name]),
                        failures=tuple(sorted(set(failures[name]))),
                        p50_ms=statistics.median(latencies[name]) * 1000 if latencies[name] else float("nan"),
                        p95_ms=_percentile(latencies[name], 0.95) * 1000,
                        kb_per_rerun=received[name][0] / max(1, reruns) / 1024,
                        kb_uncached=received[name][1] / max(1, reruns) / 1024,
                        rss_mb=server.rss_mb(),
                        load_average=statistics.mean(load[name]),
                    )
                )
                print(f"  {name}, {level} sessions: {rows[-1].per_second:.1f} reruns/s", file=sys.stderr)
    finally:
        for opened in tabs.values():
            await asyncio.gather(*(tab.close() for tab, _ in opened), return_exceptions=True)
    return rows, idle


def table(rows: Sequence[Level], idle: dict[str, float]) -> str:
    """The results as one markdown table, then what they say about the issue's targets."""
    lines = [
        "| app | sessions | reruns/s | p50 ms | p95 ms | failed reruns | KB received/rerun (uncached) "
        "| server RSS MB | load avg (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rss in idle.items():
        lines.append(f"| {name} | 0 (idle) | | | | | | {rss:.0f} | |")
    for row in sorted(rows, key=lambda r: (r.app != KINDRED, r.sessions)):
        failed = f"{row.failed} ({', '.join(row.failures)})" if row.failed else "0"
        lines.append(
            f"| {row.app} | {row.sessions} | {row.per_second:.1f} | {row.p50_ms:.0f} | {row.p95_ms:.0f} "
            f"| {failed} | {row.kb_per_rerun:.1f} ({row.kb_uncached:.1f}) | {row.rss_mb:.0f} "
            f"| {row.load_average:.2f} |"
        )
    by = {(row.app, row.sessions): row for row in rows}
    top, bottom = max(row.sessions for row in rows), min(row.sessions for row in rows)
    notes = []
    if (KINDRED, top) in by and (PLAIN, top) in by and top > bottom:
        kindred, plain = by[(KINDRED, top)], by[(PLAIN, top)]
        ratio = kindred.per_second / plain.per_second if plain.per_second else float("nan")
        per_session = {
            name: (by[(name, top)].rss_mb - by[(name, bottom)].rss_mb) / (top - bottom)
            for name in (KINDRED, PLAIN)
        }
        notes.append(
            f"At {top} sessions Kindred does {ratio:.2f}x the plain app's reruns per second (target at least "
            f"0.5x) with {kindred.failed} failed reruns (target 0). Server RSS per added session "
            f"({bottom} to {top}): Kindred {per_session[KINDRED]:.2f} MB, plain {per_session[PLAIN]:.2f} MB "
            "(target under 2 MB)."
        )
    return "\n".join(lines + ([""] + notes if notes else []))


def run(
    seconds: float = 20,
    levels: Sequence[int] = LEVELS,
    *,
    slices: int = 2,
    options: Sequence[str] = (),
    profile: Path | None = None,
) -> tuple[list[Level], dict[str, float]]:
    """Start both servers, measure every level, stop them; the rows and each server's idle RSS."""
    folder = Path(tempfile.mkdtemp(prefix="kindred-load-"))
    servers: dict[str, Server] = {}
    try:
        env = _seed(folder)
        clients = {KINDRED: _kindred_clients(max(levels))}
        plain_script = folder / "plain_app.py"
        plain_script.write_text(PLAIN_APP)
        clients[PLAIN] = [Client({}, b"Hello, Plain") for _ in range(max(levels))]
        servers[KINDRED] = _start(KINDRED, ROOT / "app.py", env, folder, options)
        servers[PLAIN] = _start(PLAIN, plain_script, env, folder, options)
        return asyncio.run(_measure(servers, clients, seconds, sorted(levels), slices, profile))
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print one markdown table; `argv` are this command's options (none: the defaults, so
    another command can call main() without passing its own command line on)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20, help="how long each level runs (default 20)")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="sessions per level")
    parser.add_argument(
        "--slices", type=int, default=2, help="alternating turns per app per level (default 2)"
    )
    parser.add_argument(
        "--server-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Streamlit option for both servers, e.g. runner.postScriptGC=false (repeatable)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="FILE",
        help="sample each server with py-spy during the top level into FILE.<app>.txt (collapsed stacks); "
        "run as `uv run --with py-spy python bench/load.py --py-spy ...`",
    )
    args = parser.parse_args(list(argv or ()))
    started, client_cpu = time.perf_counter(), time.process_time()
    options = [
        part
        for option in args.server_option
        for part in (f"--{option.split('=', 1)[0]}", option.split("=", 1)[1])
    ]
    rows, idle = run(
        args.seconds, args.levels, slices=max(1, args.slices), options=options, profile=args.py_spy
    )
    print(table(rows, idle))
    database = "PostgreSQL" if "TEST_DATABASE_URL" in os.environ else "SQLite"
    print(
        f"\n{database}; {os.cpu_count()} CPUs; {args.seconds:g} s per level in {args.slices} alternating "
        f"turns per app; server options: {' '.join(options) or 'none'}; "
        f"whole run {time.perf_counter() - started:.0f} s, of which this client (seeding included) used "
        f"{time.process_time() - client_cpu:.0f} s of CPU. "
        "Load average: the machine's 1-minute average, over the level's turns."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
