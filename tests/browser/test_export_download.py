"""The export in a real browser: the zip downloads, and its /media link dies while the tab is still open."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
import zipfile

from playwright.sync_api import Browser, Request, expect

from program.ops.demo import ALEX, DEMO_PASSWORD
from tests.browser.actions import log_in, open_app, open_menu_page, wait_idle


def _status_without_cookies(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # a plain client: no login cookie at all
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_export_downloads_once_and_its_link_dies_after_the_next_runs(
    browser: Browser, demo_server: str
) -> None:
    """Alex prepares and downloads a zip with a README. His tab stays open (a /media link works without a
    cookie while it is), yet once any other run has swept Streamlit's files, the link answers 404: the
    export is not kept for his session's later runs."""
    page = browser.new_context(accept_downloads=True).new_page()
    media: list[str] = []
    page.on("request", lambda request: _note_media(request, media))
    open_app(page, demo_server)
    log_in(page, ALEX[0], DEMO_PASSWORD)
    open_menu_page(page, "Your account")
    expect(page.get_by_role("button", name="Download my data (zip)")).to_have_count(0)
    page.get_by_role("button", name="Prepare my export").click()
    wait_idle(page)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my data (zip)").click()
    data = open(download_info.value.path(), "rb").read()  # noqa: SIM115 - read once
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "README.txt" in archive.namelist() and "shared_with_me.json" in archive.namelist()
    wait_idle(page)
    expect(page.get_by_role("button", name="Download my data (zip)")).to_have_count(0)
    # Streamlit keeps a download one sweep past its last run; any later run of any session sweeps it.
    other = page.context.new_page()
    other.goto(demo_server)
    wait_idle(other)
    assert [_status_without_cookies(url) for url in media] == [404]


def _note_media(request: Request, media: list[str]) -> None:
    if "/media/" in request.url and request.url.endswith(".zip"):
        media.append(request.url)
