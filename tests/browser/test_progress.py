"""With the demo loaded, every progress chart renders in a real browser with both partners' traces."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from program.demo import DEMO_PASSWORD
from tests.browser.actions import log_in, open_app, open_menu_page, serious_accessibility_problems, wait_idle

SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / ".cache" / "screenshots"  # git-ignored


def _chart_traces(page: Page) -> list[list[str]]:
    """The legend names of the traces of every Plotly chart on the page."""
    traces: list[list[str]] = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
                 .map(plot => plot.data.map(trace => trace.name || ''))"""
    )
    return traces


def test_the_demo_couple_sees_every_chart_with_both_partners(
    demo_server: str, page: Page, axe_script: Path
) -> None:
    """Log in as the demo partner: each chart draws Alex's and Sam's traces; a screenshot is kept."""
    page.set_viewport_size({"width": 1200, "height": 900})
    open_app(page, demo_server)
    log_in(page, "demo-alex", DEMO_PASSWORD)
    open_menu_page(page, "Our progress")
    charts = page.get_by_test_id("stPlotlyChart")
    # Four couple charts, plus start-to-end change for the two stages the demo couple has finished.
    expect(charts).to_have_count(6)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(c => c.querySelector('.js-plotly-plot .main-svg'))"""
    )
    traces = _chart_traces(page)
    assert len(traces) == 6
    for names in traces:
        assert any("Alex" in name for name in names) and any("Sam" in name for name in names), names
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "progress-demo.png"), full_page=True)
    assert serious_accessibility_problems(page, axe_script) == []


def test_the_demo_therapist_opens_the_couple_and_sees_its_charts(demo_server: str, page: Page) -> None:
    """The demo therapist has access: opening the couple shows its charts."""
    open_app(page, demo_server)
    log_in(page, "demo-therapist", DEMO_PASSWORD)
    page.get_by_role("button", name="Open Alex & Sam").click()
    wait_idle(page)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(6)
