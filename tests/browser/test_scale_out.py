"""Two Kindred processes on one PostgreSQL behind the shipped nginx config: each browser sticks to one
process by nginx's route cookie (not by address: every client here is 127.0.0.1), what one process writes
the other reads, and when a process stops its people go on through the other after a reload."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser import conftest as browser_setup
from tests.browser.actions import (
    TIMEOUT_MS,
    fill_and_submit,
    log_in,
    open_app,
    open_menu_page,
    register,
    wait_for_app_loaded,
    wait_idle,
)
from tests.browser.test_nginx import NGINX, _assert_secured, _fetch, _test_config, _wait_listening
from tests.conftest import ROOT, TEST_COOKIE_KEY, TEST_ENCRYPTION_KEYS
from tests.databases import fresh_database, postgres_url

ROUTE_COOKIE = "kindred_route"
# One access log line per request: the route nginx chose by, the process(es) it tried, status, path.
LOG_FORMAT = '$kindred_route "$upstream_addr" $status "$request_uri"'
LOG_LINE = re.compile(r'^(?P<route>\S+) "(?P<upstream>[^"]*)" (?P<status>\d+) "(?P<uri>[^"]*)"$')


@contextmanager
def _postgres(folder: Path) -> Iterator[str]:
    """A fresh PostgreSQL database: on TEST_DATABASE_URL's server, else on a throwaway cluster started by
    .ci/postgres.sh (the SQLite half of CI runs this test too)."""
    if postgres_url() is not None:
        with fresh_database(folder) as url:
            yield url
        return
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.skip("PostgreSQL is needed: apt-get install postgresql, or set TEST_DATABASE_URL")
    env = {name: value for name, value in os.environ.items() if name != "KINDRED_PG_DIR"}
    start = 'source .ci/postgres.sh && kindred_pg_start >&2 && echo "$TEST_DATABASE_URL $KINDRED_PG_DIR"'
    started = subprocess.run(["bash", "-c", start], cwd=ROOT, env=env, capture_output=True, text=True)
    assert started.returncode == 0, f"no throwaway PostgreSQL (it needs root):\n{started.stderr}"
    url, cluster = started.stdout.split()
    try:
        yield url
    finally:
        stop = "source .ci/postgres.sh && kindred_pg_stop"
        subprocess.run(["bash", "-c", stop], cwd=ROOT, env={**env, "KINDRED_PG_DIR": cluster}, check=True)


@dataclass
class Replica:
    """One Kindred process: its address as nginx's upstream names it, and the process."""

    address: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Cluster:
    """nginx's HTTPS URL, its access log, and the two processes behind it by upstream address."""

    url: str
    access_log: Path
    replicas: dict[str, Replica] = field(default_factory=dict)

    def requests(self, route: str) -> list[tuple[str, str, str]]:
        """(last process tried, status, path) of every request logged so far under this route."""
        found = []
        for line in self.access_log.read_text().splitlines():
            match = LOG_LINE.match(line)
            assert match is not None, line
            if match["route"] == route:
                # A request nginx moved on from a dead process lists both: "A, B".
                found.append((match["upstream"].split(", ")[-1], match["status"], match["uri"]))
        return found

    def served_by(self, route: str, *, at_least: int = 1) -> set[str]:
        """The processes that served this route, once nginx has logged `at_least` of its requests (it
        writes a line just after the response, so a client can read the response first)."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while len(self.requests(route)) < at_least:
            assert time.monotonic() < deadline, (route, at_least, self.requests(route))
            time.sleep(0.05)  # the interval between reads of the log, not a wait for anything
        return {upstream for upstream, _, _ in self.requests(route)}


def _start_replica(folder: Path, env: dict[str, str], browser: Browser) -> Replica:
    port = browser_setup._free_port()
    log = folder / f"server-{port}.log"
    with log.open("wb") as log_file:
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
                   "--server.port", str(port), "--server.headless", "true",
                   "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    replica = Replica(f"127.0.0.1:{port}", process, log)
    try:
        browser_setup._wait_healthy(f"http://{replica.address}", process, log)
        browser_setup._first_run(browser, f"http://{replica.address}")
    except BaseException:
        replica.stop()
        raise
    return replica


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[Cluster]:
    """PostgreSQL, migrated once; two Kindred processes on it with the same keys; nginx in front."""
    if shutil.which(NGINX) is None:
        pytest.skip("nginx is needed: apt-get install nginx")
    folder = tmp_path_factory.mktemp("scale-out")
    with ExitStack() as stack:
        database_url = stack.enter_context(_postgres(folder))
        env = {
            **os.environ,
            "KINDRED_DATABASE_URL": database_url,
            "KINDRED_DATA_DIR": str(folder / "data"),
            "KINDRED_COOKIE_KEY": TEST_COOKIE_KEY,
            "KINDRED_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
            "KINDRED_BCRYPT_ROUNDS": "4",
        }
        # Migrate once, before any process serves (as docs/deploy.md says to).
        subprocess.run([sys.executable, "-m", "program", "migrate"], cwd=ROOT, env=env, check=True)
        replicas: list[Replica] = []
        for _ in range(2):
            replicas.append(_start_replica(folder, env, browser))
            stack.callback(replicas[-1].stop)
        http_port, https_port = browser_setup._free_port(), browser_setup._free_port()
        first, second = (int(r.address.rsplit(":", 1)[1]) for r in replicas)
        config = _test_config(
            folder, first, http_port, https_port, second_app_port=second, log_format=LOG_FORMAT
        )
        checked = subprocess.run([NGINX, "-t", "-c", str(config), "-p", str(folder)], capture_output=True)
        assert checked.returncode == 0, checked.stderr.decode()
        nginx_log = folder / "nginx.out"
        with nginx_log.open("wb") as out:
            nginx = subprocess.Popen(
                [NGINX, "-c", str(config), "-p", str(folder)], stdout=out, stderr=subprocess.STDOUT
            )
        stack.callback(nginx.wait, timeout=10)
        stack.callback(nginx.terminate)
        _wait_listening(https_port, nginx, nginx_log)
        yield Cluster(
            f"https://127.0.0.1:{https_port}", folder / "access.log", {r.address: r for r in replicas}
        )
    for replica in replicas:
        assert "Traceback" not in replica.log.read_text(), replica.log.read_text()


def _route_cookie(headers: dict[str, str]) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(headers.get("Set-Cookie", ""))
    return cookie


def test_the_route_cookie_is_random_private_and_spreads_one_address(cluster: Cluster) -> None:
    """A browser without the cookie gets a random one (HttpOnly, Secure, SameSite=Strict, nothing else in
    it) and keeps its process with it; a forged or hostile value is replaced; and twenty fresh browsers
    from one address land on both processes, which ip_hash never would."""
    status, headers, _ = _fetch(cluster.url + "/")
    assert status == 200
    _assert_secured("/", status, headers)
    morsel = _route_cookie(headers)[ROUTE_COOKIE]
    assert re.fullmatch(r"[0-9a-f]{32}", morsel.value), morsel.value
    assert morsel["path"] == "/" and morsel["secure"] and morsel["httponly"], headers["Set-Cookie"]
    assert morsel["samesite"] == "Strict" and not morsel["expires"] and not morsel["max-age"]
    route = morsel.value

    for path in ("/", "/_stcore/health", "/progress"):
        status, headers, _ = _fetch(cluster.url + path, headers={"Cookie": f"{ROUTE_COOKIE}={route}"})
        assert status == 200 and "Set-Cookie" not in headers, (path, headers)
    assert len(cluster.served_by(route, at_least=4)) == 1

    for hostile in ('"; Domain=evil.example', "../../../etc/passwd", "A" * 32, route + "0"):
        _, headers, _ = _fetch(cluster.url + "/", headers={"Cookie": f"{ROUTE_COOKIE}={hostile}"})
        fresh = _route_cookie(headers)[ROUTE_COOKIE].value
        assert re.fullmatch(r"[0-9a-f]{32}", fresh) and fresh != route, (hostile, headers)
        assert "evil" not in headers["Set-Cookie"], headers["Set-Cookie"]

    reached: set[str] = set()
    for _ in range(20):
        _, headers, _ = _fetch(cluster.url + "/_stcore/health")
        reached |= cluster.served_by(_route_cookie(headers)[ROUTE_COOKIE].value)
    assert reached == set(cluster.replicas), reached


def _new_browser(browser: Browser) -> BrowserContext:
    return browser.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 900})


def _route_of(context: BrowserContext) -> str:
    routes = [c.get("value", "") for c in context.cookies() if c.get("name") == ROUTE_COOKIE]
    assert len(routes) == 1, context.cookies()
    return routes[0]


def _on_another_process(browser: Browser, cluster: Cluster, avoid: str) -> BrowserContext:
    """A new browser whose route cookie (one nginx gave it) leads to a process other than `avoid`."""
    for _ in range(30):  # each try lands on either process by chance: 30 misses in a row is 1 in 10**9
        context = _new_browser(browser)
        response = context.request.get(cluster.url + "/_stcore/health")
        assert response.ok, response.status
        if cluster.served_by(_route_of(context)) - {avoid}:
            return context
        context.close()
    raise AssertionError(f"30 new browsers all landed on {avoid}")


def _wait_for_log(cluster: Cluster, route: str, uri: str, upstream: str) -> None:
    """Wait for nginx to log a request (a websocket is logged when it closes)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while (upstream, "101", uri) not in cluster.requests(route):
        assert time.monotonic() < deadline, (route, uri, upstream, cluster.requests(route))
        time.sleep(0.05)  # the interval between reads of the log, not a wait for anything


def test_two_processes_share_the_data_and_one_takes_over_when_the_other_stops(
    browser: Browser, cluster: Cluster
) -> None:
    """Ana registers and starts a couple through one process; Ben, whose browser nginx sends to the other,
    joins with her invite code (her write, read there); the process Ana is on stops; Ana reloads and is
    logged in again by her cookie on the other process, where she sees Ben. Every request of a browser,
    its websocket included, went to one process until that process stopped."""
    ana_browser = _new_browser(browser)
    ben_browser: BrowserContext | None = None
    try:
        ana = ana_browser.new_page()
        open_app(ana, cluster.url)
        ana_route = _route_of(ana_browser)
        register(ana, "Ana", "ana", "a partner in a couple")
        log_in(ana, "ana")
        open_menu_page(ana, "Your account")
        ana.get_by_role("button", name="Start a couple and get an invite code").click()
        wait_idle(ana)
        invite = ana.get_by_test_id("stCode").first.inner_text().strip()
        assert invite
        (ana_process,) = cluster.served_by(ana_route)  # the page, its files, health: one process

        ben_browser = _on_another_process(browser, cluster, ana_process)
        ben = ben_browser.new_page()
        open_app(ben, cluster.url)
        ben_route = _route_of(ben_browser)
        register(ben, "Ben", "ben", "a partner in a couple")
        log_in(ben, "ben")
        open_menu_page(ben, "Your account")
        fill_and_submit(ben, "Invite code from your partner", invite, "Join")
        expect(ben.get_by_text("You are doing Kindred with Ana.")).to_be_visible()
        (ben_process,) = cluster.served_by(ben_route)
        assert ben_process != ana_process
        assert cluster.served_by(ana_route) == {ana_process}  # Ana stayed put meanwhile

        cluster.replicas[ana_process].stop()
        # Ana's websocket was with her own process all along: nginx logs it as it closes.
        _wait_for_log(cluster, ana_route, "/_stcore/stream", ana_process)
        before = len(cluster.requests(ana_route))
        ana.reload()
        wait_for_app_loaded(ana)
        expect(ana.get_by_role("button", name="Log out")).to_be_visible()  # by her login cookie
        open_menu_page(ana, "Your account")
        expect(ana.get_by_text("You are doing Kindred with Ben.")).to_be_visible()
        cluster.served_by(ana_route, at_least=before + 1)
        after = cluster.requests(ana_route)[before:]
        assert after and {upstream for upstream, _, _ in after} == {ben_process}, after
        assert _route_of(ana_browser) == ana_route  # the same cookie: nginx moved her on by itself

        ana.close()  # her new websocket, on the process that took over, is logged as it closes
        _wait_for_log(cluster, ana_route, "/_stcore/stream", ben_process)
        ben.close()
        _wait_for_log(cluster, ben_route, "/_stcore/stream", ben_process)
    finally:
        ana_browser.close()
        if ben_browser is not None:
            ben_browser.close()
