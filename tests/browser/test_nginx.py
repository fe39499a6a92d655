"""The shipped nginx configuration in front of a real Kindred: every response carries the security headers,
the app works under its content security policy, and no other site can frame it."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import extra_streamlit_components
import pytest
import streamlit
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from program.ops.demo import DEMO_PASSWORD
from tests.browser.actions import log_in, open_app, open_menu_page, wait_for_app_loaded
from tests.conftest import ROOT

SHIPPED = ROOT / "deploy" / "nginx" / "kindred.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# What every response must carry, by header name: a check on the value.
EXPECTED: dict[str, Callable[[str], bool]] = {
    "X-Content-Type-Options": lambda v: v == "nosniff",
    "Referrer-Policy": lambda v: v == "no-referrer",
    "Strict-Transport-Security": lambda v: re.fullmatch(r"max-age=\d{7,}.*", v) is not None,
    "Permissions-Policy": lambda v: all(f"{f}=()" in v for f in ("camera", "microphone", "geolocation")),
}
CSP_MUST = (
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "frame-src 'self'",
    "worker-src 'self' blob:",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def _swap(text: str, pattern: str, replacement: str, count: int) -> str:
    """Replace a directive of the shipped file, failing if the file no longer has it as expected."""
    changed, found = re.subn(pattern, replacement, text, flags=re.M)
    assert found == count, f"{pattern!r} found {found} times in {SHIPPED.name}, expected {count}"
    return changed


def _test_config(
    folder: Path,
    app_port: int,
    http_port: int,
    https_port: int,
    *,
    second_app_port: int | None = None,
    log_format: str | None = None,
) -> Path:
    """The shipped file, unchanged but for ports, certificate and upstream, inside a minimal nginx.conf.

    The upstream's second process is dropped, or pointed at `second_app_port`; `log_format` replaces the
    access log's default format (test_scale_out.py logs which process served each request).
    """
    cert, key = _self_signed(folder)
    site = SHIPPED.read_text()
    site = _swap(site, r"^\s*listen \[::\]:\d+.*;$", "", 2)
    site = _swap(site, r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{http_port};", 1)
    site = _swap(site, r"^(\s*)listen 443 ssl http2;", rf"\1listen 127.0.0.1:{https_port} ssl http2;", 1)
    site = _swap(site, r"^(\s*)ssl_certificate\s+\S+;", rf"\1ssl_certificate {cert};", 1)
    site = _swap(site, r"^(\s*)ssl_certificate_key\s+\S+;", rf"\1ssl_certificate_key {key};", 1)
    site = _swap(site, r"^(\s*)server 127\.0\.0\.1:8501;", rf"\1server 127.0.0.1:{app_port};", 1)
    second = "" if second_app_port is None else rf"\1server 127.0.0.1:{second_app_port};"
    site = _swap(site, r"^(\s*)server 127\.0\.0\.1:8502;.*$", second, 1)
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = folder / "nginx.conf"
    config.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
        + "events { worker_connections 256; }\n"
        + "http {\n"
        + (f"    log_format kindred '{log_format}';\n" if log_format else "")
        + f"    access_log {folder / 'access.log'}{' kindred' if log_format else ''};\n{temp}\n{site}\n}}\n"
    )
    return config


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # the interval between polls
    raise RuntimeError(f"nginx did not listen within 30 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def proxy(demo_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """nginx with the shipped configuration in front of the demo server: (https URL, http URL)."""
    if shutil.which(NGINX) is None:
        pytest.skip("nginx is needed: apt-get install nginx")
    folder = tmp_path_factory.mktemp("nginx")
    app_port = int(demo_server.rsplit(":", 1)[1])
    http_port, https_port = _free_port(), _free_port()
    config = _test_config(folder, app_port, http_port, https_port)
    checked = subprocess.run([NGINX, "-t", "-c", str(config), "-p", str(folder)], capture_output=True)
    assert checked.returncode == 0, checked.stderr.decode()
    log = folder / "nginx.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [NGINX, "-c", str(config), "-p", str(folder)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_listening(https_port, process, log)
        yield f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _fetch(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (repeated ones joined) and body, following no redirect and trusting the test cert."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: object, **_kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
    try:
        request = urllib.request.Request(url, data=data, headers=headers or {})
        with opener.open(request, timeout=30) as response:
            received, status, body = response.headers, response.status, response.read()
    except urllib.error.HTTPError as error:
        received, status, body = error.headers, error.code, error.read()
    joined = {name: ", ".join(received.get_all(name) or []) for name in received}
    return status, joined, body


def _inline_script_hashes() -> dict[str, str]:
    """The CSP hash of every inline script in the pages Streamlit and the cookie component serve."""
    pages = {
        "streamlit": Path(streamlit.__file__).parent / "static" / "index.html",
        "cookie component": Path(extra_streamlit_components.__file__).parent
        / "CookieManager"
        / "frontend"
        / "build"
        / "index.html",
    }
    found = {}
    for name, page in pages.items():
        scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page.read_text(), re.S)
        assert scripts, f"no inline script in {name}'s page any more: drop its hash from the CSP"
        for number, script in enumerate(scripts):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            found[f"{name} #{number}"] = f"'sha256-{digest}'"
    return found


def _assert_secured(url: str, status: int, headers: dict[str, str], *, framed_by_self: bool = False) -> None:
    for name, good in EXPECTED.items():
        assert name in headers, f"{url} ({status}) has no {name}"
        assert good(headers[name]), f"{url} ({status}): {name}: {headers[name]!r}"
    csp = headers.get("Content-Security-Policy", "")
    assert csp, f"{url} ({status}) has no Content-Security-Policy"
    directives = [d.strip() for d in csp.split(";")]
    for directive in CSP_MUST:
        assert directive in directives, f"{url}: CSP lacks {directive!r}: {csp}"
    script_src = next(d for d in directives if d.startswith("script-src "))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, script_src
    connect_src = next(d for d in directives if d.startswith("connect-src "))
    assert connect_src == "connect-src 'self'", connect_src
    ancestors = "frame-ancestors 'self'" if framed_by_self else "frame-ancestors 'none'"
    assert ancestors in directives, f"{url}: {csp}"
    assert headers.get("X-Frame-Options") == ("SAMEORIGIN" if framed_by_self else "DENY"), url


def test_the_csp_allows_exactly_the_inline_scripts_streamlit_serves() -> None:
    """The hashes in the shipped CSP match the inline scripts of the installed Streamlit and cookie
    component (an upgrade that changes one fails here, before the login form breaks in browsers)."""
    csp = re.search(r'add_header Content-Security-Policy "([^"]*)"', SHIPPED.read_text())
    assert csp is not None
    script_src = next(d.strip() for d in csp.group(1).split(";") if d.strip().startswith("script-src"))
    allowed = set(re.findall(r"'sha256-[^']+'", script_src))
    assert allowed == set(_inline_script_hashes().values())


def test_every_kind_of_response_carries_every_security_header(proxy: tuple[str, str]) -> None:
    """The page shell, a page URL, health, a static asset, a 404, nginx's own refusal and the component
    page all carry CSP, framing, nosniff, referrer, permissions and HSTS headers."""
    https, http = proxy
    status, headers, body = _fetch(https + "/")
    assert status == 200
    asset = re.search(rb'src="\./(static/js/[^"]+\.js)"', body)
    assert asset is not None
    cases = {
        "/": 200,
        "/progress": 200,
        "/_stcore/health": 200,
        "/" + asset.group(1).decode(): 200,
        "/media/no-such-file.txt": 404,
    }
    for path, expected in cases.items():
        status, headers, _ = _fetch(https + path)
        assert status == expected, (path, status)
        _assert_secured(path, status, headers)
    status, headers, _ = _fetch(https + "/", data=b"x" * (2 * 1024 * 1024))  # over client_max_body_size
    assert status == 413
    _assert_secured("/ (POST 2 MB)", status, headers)
    component = "/component/extra_streamlit_components.CookieManager.cookie_manager/index.html"
    status, headers, _ = _fetch(https + component)
    assert status == 200
    _assert_secured(component, status, headers, framed_by_self=True)
    status, headers, _ = _fetch(http + "/progress?x=1")
    assert status == 301 and headers["Location"].startswith("https://"), (status, headers)


def _watch_console(page: Page) -> list[str]:
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Refused to" in message.text or "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", note)
    return refused


def test_kindred_works_through_nginx_with_no_csp_violation(proxy: tuple[str, str], browser: Browser) -> None:
    """Through nginx: the login form, logging in, the progress charts, and a reload that logs in again by
    cookie (the hidden cookie component), with no "Refused to" in the console."""
    https, _ = proxy
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        refused = _watch_console(page)
        open_app(page, https)
        expect(page.get_by_role("tab", name="Log in")).to_be_visible()
        log_in(page, "demo-alex", DEMO_PASSWORD)
        open_menu_page(page, "Our progress")
        expect(page.get_by_test_id("stPlotlyChart")).to_have_count(7)  # the demo draws every couple chart
        page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                     .every(c => c.querySelector('.js-plotly-plot .main-svg'))"""
        )
        page.reload()
        wait_for_app_loaded(page)
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        # The policy must never block anything: Kindred asks for nothing from elsewhere, and its own
        # resources all pass.
        assert refused == [], refused
    finally:
        context.close()


def test_kindred_asks_the_browser_for_nothing_from_elsewhere(
    proxy: tuple[str, str], browser: Browser
) -> None:
    """Loading Kindred makes no request the CSP must block (its page icon is its own file)."""
    https, _ = proxy
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        refused = _watch_console(page)
        open_app(page, https)
        assert refused == []
    finally:
        context.close()


def test_another_site_cannot_frame_kindred(proxy: tuple[str, str], browser: Browser) -> None:
    """A page elsewhere that frames Kindred gets nothing: chromium refuses it by frame-ancestors."""
    https, _ = proxy
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        refused = _watch_console(page)
        page.set_content(f'<iframe id="victim" src="{https}/"></iframe>')
        deadline = time.monotonic() + 30
        while not refused and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert any("frame-ancestors" in text for text in refused), refused
        frame = page.frame_locator("#victim")
        expect(frame.get_by_test_id("stApp")).to_have_count(0)
    finally:
        context.close()
