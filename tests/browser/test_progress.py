"""With the demo loaded, every progress chart renders in a real browser with both partners' traces."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from program.ops.demo import DEMO_PASSWORD
from tests.browser.actions import (
    TIMEOUT_MS,
    log_in,
    open_app,
    open_couple,
    open_menu_page,
    serious_accessibility_problems,
    wait_idle,
)

SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / ".cache" / "screenshots"  # git-ignored


# The demo couple's charts, in page order (the demo covers every outcome occasion and practice log; it
# adds no operator questionnaire, whose trend would follow the stages' chart).
DEMO_CHARTS = [
    "Weekly check-ins",
    "Outcome: Overall satisfaction",
    "Questionnaire profile",
    "Where you see things differently",
    "Progress through the program",
    "How practice went",
    "Each stage, start and end",
]


def _chart_titles(page: Page) -> list[str]:
    """The title of every Plotly chart on the page, in order."""
    titles: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
                 .map(plot => plot.layout.title.text)"""
    )
    return titles


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
    expect(charts).to_have_count(len(DEMO_CHARTS))
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(c => c.querySelector('.js-plotly-plot .main-svg'))"""
    )
    assert _chart_titles(page) == DEMO_CHARTS
    traces = _chart_traces(page)
    assert len(traces) == len(DEMO_CHARTS)
    for names in traces:
        assert any("Alex" in name for name in names) and any("Sam" in name for name in names), names
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "progress-demo.png"), full_page=True)
    assert serious_accessibility_problems(page, axe_script) == []


def test_the_demo_therapist_opens_the_couple_and_sees_its_charts(demo_server: str, page: Page) -> None:
    """The demo therapist has access: opening the couple shows its charts."""
    open_app(page, demo_server)
    log_in(page, "demo-therapist", DEMO_PASSWORD)
    open_couple(page, "Alex & Sam")
    wait_idle(page)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(len(DEMO_CHARTS))
    assert _chart_titles(page) == DEMO_CHARTS  # the same render function as the partners' page


# Per chart: its width, whether a toolbar button exists, rotated tick labels, and whether the x-axis title
# and the legend overlap (both sit below the plot) or the title runs past the figure's right edge.
PHONE_LAYOUT = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
  .map(plot => {
    const box = el => el ? el.getBoundingClientRect() : null;
    const overlap = (a, b) => !!(a && b && a.left < b.right && b.left < a.right
                                 && a.top < b.bottom && b.top < a.bottom);
    const svg = box(plot.querySelector('.main-svg'));
    const title = box(plot.querySelector('.gtitle'));
    return {
        title: plot.layout.title.text,
        right: svg.right,
        toolbarButtons: plot.querySelectorAll('.modebar-btn').length,
        rotatedTicks: [...plot.querySelectorAll('.xtick text')]
            .filter(t => (t.getAttribute('transform') || '').includes('rotate')).length,
        legendOverXTitle: overlap(box(plot.querySelector('.legend')), box(plot.querySelector('.g-xtitle'))),
        titleInside: !!title && title.right <= svg.right + 1,
    };
})"""


def test_the_charts_fit_a_phone(demo_server: str, page: Page) -> None:
    """At 390 px wide: no toolbar over the titles, no chart wider than the screen, level tick labels, and a
    legend that stays clear of the axis title; a screenshot is kept."""
    page.set_viewport_size({"width": 1200, "height": 900})
    open_app(page, demo_server)
    log_in(page, "demo-alex", DEMO_PASSWORD)
    open_menu_page(page, "Our progress")
    page.set_viewport_size({"width": 390, "height": 844})
    wait_idle(page)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(len(DEMO_CHARTS))
    # Plotly redraws responsive charts after the resize: wait until every figure fits the new width.
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg')]
                 .every(svg => svg.getBoundingClientRect().right <= 390)""",
        timeout=TIMEOUT_MS,
    )
    charts = page.evaluate(PHONE_LAYOUT)
    assert len(charts) == len(DEMO_CHARTS)
    for chart in charts:
        assert chart["right"] <= 390, chart
        assert chart["toolbarButtons"] == 0, chart
        assert chart["rotatedTicks"] == 0, chart
        assert not chart["legendOverXTitle"], chart
        assert chart["titleInside"], chart
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 390, overflow
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "progress-phone.png"), full_page=True)
    for index in range(len(charts)):  # the page scrolls inside Streamlit's container: one shot per chart
        chart = page.get_by_test_id("stPlotlyChart").nth(index)
        chart.scroll_into_view_if_needed()
        chart.screenshot(path=str(SCREENSHOTS / f"progress-phone-{index + 1}.png"))
