"""The server contacts nothing but its own host: not at start, not while people log in and use it.

Streamlit, started the way the README's quick start does it (no `--server.address`), prints the addresses it
can be reached at, and to find its "External URL" it asks an IP-detection service over the internet
(checkip.amazonaws.com). `.streamlit/config.toml` names the address instead (`browser.serverAddress`). This
test starts such a server with a Python audit hook that writes down every connection and name lookup the
process makes, then starts the server, logs in and opens pages, and finds no address but loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from program.ops.demo import ALEX, DEMO_PASSWORD
from tests.browser.actions import log_in, open_app, open_menu_page
from tests.browser.conftest import _free_port, _wait_healthy
from tests.conftest import ROOT, TEST_COOKIE_KEY, TEST_ENCRYPTION_KEYS
from tests.databases import fresh_database

# Loaded by every Python process that has its folder on PYTHONPATH (Python imports `sitecustomize` at start).
# It records each network call that names a host other than this machine's loopback.
RECORDER = textwrap.dedent(
    """
    import os, sys

    _LOG = os.environ["KINDRED_NETWORK_LOG"]
    _LOCAL = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::", "", None}
    _EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
               "socket.gethostbyname", "socket.gethostbyaddr", "urllib.Request"}

    def _host(event, args):
        if event == "urllib.Request":
            return args[0]
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            address = args[-1]
            if isinstance(address, tuple) and address and isinstance(address[0], str):
                return address[0]
            return None  # a Unix socket or a connected socket's send: nothing leaves the machine
        return args[0]

    def _record(event, args):
        if event not in _EVENTS:
            return
        host = _host(event, args)
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        if host in _LOCAL or (isinstance(host, str) and host.startswith("127.")):
            return
        with open(_LOG, "a") as log:
            log.write(f"{event} {host!r}\\n")

    sys.addaudithook(_record)
    """
)


@pytest.fixture(scope="module")
def recorded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A demo server started as the README does, with every outbound call of its process recorded."""
    folder = tmp_path_factory.mktemp("recorded-server")
    hooks = folder / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(RECORDER)
    network_log = folder / "network.log"
    network_log.touch()
    with fresh_database(folder) as database_url:
        env = {
            **os.environ,
            "KINDRED_DATABASE_URL": database_url,
            "KINDRED_DATA_DIR": str(folder / "data"),
            "KINDRED_COOKIE_KEY": TEST_COOKIE_KEY,
            "KINDRED_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
            "KINDRED_BCRYPT_ROUNDS": "4",
        }
        subprocess.run(
            [sys.executable, "-m", "program", "demo"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        env |= {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH")])),
            "KINDRED_NETWORK_LOG": str(network_log),
        }
        port = _free_port()
        log = folder / "server.log"
        with log.open("wb") as log_file:
            # The README's command; only the port differs, so that tests can run beside a real server.
            command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        url = f"http://localhost:{port}"
        try:
            _wait_healthy(url, process, log)
            yield url, network_log
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        output = log.read_text()
        assert "Traceback" not in output, output
        assert "External URL" not in output and "Did not auto detect" not in output, output


def test_the_recorder_sees_an_outbound_call(tmp_path: Path) -> None:
    """The hook is live: a process that looks up a foreign name is written down (else the next is void)."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(RECORDER)
    network_log = tmp_path / "network.log"
    env = {**os.environ, "PYTHONPATH": str(hooks), "KINDRED_NETWORK_LOG": str(network_log)}
    probe = (
        "import socket\ntry:\n    socket.getaddrinfo('checkip.amazonaws.com', 80)\nexcept OSError:\n    pass"
    )
    subprocess.run([sys.executable, "-c", probe], env=env, check=True)
    assert "checkip.amazonaws.com" in network_log.read_text()


def test_the_server_contacts_nothing_at_start_or_in_use(
    recorded_server: tuple[str, Path], browser: Browser
) -> None:
    """From start to a partner's login and a few pages, the server's process calls no other host."""
    url, network_log = recorded_server
    context = browser.new_context()
    try:
        page = context.new_page()
        open_app(page, url)
        log_in(page, ALEX[0], DEMO_PASSWORD)
        expect(page.get_by_role("heading", name=f"Hello, {ALEX[1]}").first).to_be_visible()
        for title in ("Weekly check-in", "Your account"):
            open_menu_page(page, title)
    finally:
        context.close()
    assert network_log.read_text() == ""
