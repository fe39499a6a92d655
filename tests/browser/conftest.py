"""One real Kindred server per test module, driven by Debian's chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.actions import TIMEOUT_MS, wait_for_app_loaded
from tests.conftest import ROOT, TEST_COOKIE_KEY, TEST_ENCRYPTION_KEYS
from tests.databases import fresh_database

CHROMIUM = os.environ.get("KINDRED_CHROMIUM", "/usr/bin/chromium")
# Starting includes the first script run (imports, migrating the new database), the slowest run of all.
SERVER_START_TIMEOUT_S = 60
# The page the first run opens: a page file, as a deep link would, so the server is still in folder mode as
# a fresh one is (a run of app.py switches it to st.navigation, and the gate test checks the fresh state).
FIRST_RUN_PATH = "/" + sorted(p for p in (ROOT / "pages").glob("*.py") if p.name != "__init__.py")[0].stem

# Every assertion waits up to the one generous limit unless a test says otherwise (Playwright's own is 5 s).
expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here as a browser test, and skip them where chromium is missing (never in CI)."""
    missing = shutil.which(CHROMIUM) is None
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(
                    pytest.mark.skip(reason=f"no chromium at {CHROMIUM}: apt-get install chromium")
                )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's chromium, headless, with no calls home (this machine has no internet anyway)."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll the server's health URL until it answers, the server exits, or the start-up limit passes."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # the interval between polls, not a wait for anything
    raise RuntimeError(f"the server was not healthy within {SERVER_START_TIMEOUT_S}s:\n{log.read_text()}")


def _first_run(browser: Browser, url: str) -> None:
    """Open one page in a throwaway browser and wait for its run, so no test pays for the server's first."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url + FIRST_RUN_PATH, timeout=SERVER_START_TIMEOUT_S * 1000)
        wait_for_app_loaded(page, timeout=SERVER_START_TIMEOUT_S * 1000)
    finally:
        context.close()


@contextmanager
def _serve(
    folder: Path, *, demo: bool, browser: Browser | None = None, database_urls: list[str] | None = None
) -> Iterator[str]:
    """Start Kindred on a fresh database (with the demo loaded through the operator command, if asked).

    Given a browser, it also waits for a first script run before yielding the server's base URL. Given a
    list, it appends the database's URL, for a module that seeds or inspects the server's data.
    """
    with fresh_database(folder) as database_url:
        if database_urls is not None:
            database_urls.append(database_url)
        port = _free_port()
        env = {
            **os.environ,
            "KINDRED_DATABASE_URL": database_url,
            "KINDRED_DATA_DIR": str(folder / "data"),
            "KINDRED_COOKIE_KEY": TEST_COOKIE_KEY,
            "KINDRED_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,  # the tests seed texts with this process's key
            "KINDRED_BCRYPT_ROUNDS": "4",
        }
        if demo:
            subprocess.run(
                [sys.executable, "-m", "program", "demo"], cwd=ROOT, env=env, check=True, capture_output=True
            )
        log = folder / "server.log"
        with log.open("wb") as log_file:
            # No file watcher: others editing the checkout during a run made the server re-import our
            # modules mid-test ("a class with the same class name", then a traceback), and watching costs CPU.
            command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
                       "--server.port", str(port), "--server.headless", "true",
                       "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]  # fmt: skip
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process, log)
            if browser is not None:
                _first_run(browser, url)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """A fresh Kindred server on its own empty database, past its first run; yields its base URL."""
    with _serve(tmp_path_factory.mktemp("server"), demo=False, browser=browser) as url:
        yield url


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """A fresh Kindred server with the demo couple and therapist loaded by `python -m program demo`."""
    with _serve(tmp_path_factory.mktemp("demo-server"), demo=True, browser=browser) as url:
        yield url


AXE_DIR = ROOT / ".cache" / "axe-core"
AXE_VERSION = "4.14"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core, installed from the npm registry on first use (not committed), for accessibility checks."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is needed to fetch axe-core (apt-get install npm)")
        quiet = ["--no-save", "--no-package-lock", "--no-audit", "--no-fund"]
        install = [npm, "install", "--prefix", str(AXE_DIR), *quiet, f"axe-core@~{AXE_VERSION}"]
        subprocess.run(install, check=True, capture_output=True)
    return script
