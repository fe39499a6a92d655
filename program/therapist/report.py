"""The session report: a PDF of a couple's progress that their therapist builds on the server.

It holds what both partners see on their own progress page and nothing private to one of them: the
charts (drawn as images by Plotly's export engine, kaleido, in the system's chromium) with their captions
and numbers, the homework their therapist gave BOTH of them with each partner's done status, and the
questionnaire occasions both completed. Never read here: session notes, session feedback ratings,
homework for one partner, safety screens, reflections or any shared text.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlmodel import Session

from program.charts import figures, progress_data
from program.charts.progress_data import ProgressData
from program.course import outcomes
from program.course.curriculum import Program
from program.infra import audit
from program.infra.models import Role
from program.infra.settings import Settings
from program.privacy import access
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import homework

DOWNLOADED = "therapist.report_downloaded"
DOWNLOADED_DETAIL = "downloaded a session report (PDF)"
STEPS = (
    "Reading the couple's progress",
    "Drawing the charts",
    "Writing the PDF",
)
# Debian's DejaVu (fonts-dejavu-core, which chromium's fontconfig brings): fpdf2's core fonts are Latin-1
# only, so a name such as "Zoë" is fine but "Łucja" or "Оля" would not print. KINDRED_REPORT_FONT_DIR
# points elsewhere.
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
FONT = "DejaVu"
# Charts are drawn 800 layout pixels wide at twice the resolution, and placed 180 mm wide on an A4 page.
IMAGE_WIDTH_PX = 800
IMAGE_DEFAULT_HEIGHT_PX = 450
IMAGE_SCALE = 2
IMAGE_WIDTH_MM = 180
RENDER_TIMEOUT_S = 60


class ReportError(RuntimeError):
    """The report could not be built; the message says why, in words for the therapist or operator."""


@dataclass(frozen=True)
class ChartPage:
    """One chart: its title, the PNG, its caption and its numbers."""

    title: str
    png: bytes
    width_px: int
    height_px: int
    caption: str
    table: list[dict[str, object]]


@dataclass(frozen=True)
class ReportData:
    """Everything the PDF shows, read for a therapist who may see the couple."""

    couple_id: int
    partners: tuple[progress_data.Partner, ...]
    first_day: date | None
    last_day: date | None
    built_at: datetime
    charts: list[tuple[str, figures.Chart]]
    homework: list[homework.HomeworkStatus]  # for both partners only
    occasions: list[tuple[str, str, date]]  # questionnaire, occasion, the day the second partner sent it
    repeated: list[tuple[str, str, int]]  # questionnaire, partner, fillings over time


def _require_therapist(session: Session, viewer: Viewer, couple_id: int) -> None:
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only the couple's therapist builds a session report.")
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)


def gather(
    *, session: Session, viewer: Viewer, couple_id: int, program: Program, settings: Settings, now: datetime
) -> ReportData:
    """Read what the report shows (AccessDenied unless the viewer is a therapist who may see the couple)."""
    _require_therapist(session, viewer, couple_id)
    data = progress_data.load_progress(session=session, viewer=viewer, couple_id=couple_id, program=program)
    outcome = outcomes.outcome_instrument(program, settings)
    # The same charts, in the same order, as the couple's progress page (program/ui/progress.py), with
    # the overall check-in rating; empty ones are left out.
    built: list[tuple[str, figures.Chart | figures.EmptyChart]] = [
        ("Weekly check-ins", figures.checkin_trends(data, "overall", "Overall")),
        ("Over the whole program", figures.outcome_trajectory(data, program, outcome)),
        ("Where each of you stands", figures.domain_profile(data, program)),
        ("Where you see things differently", figures.perception_gap(data, program)),
        ("Progress through the program", figures.stage_progress(data, program)),
        ("How practice went", figures.practice_trends(data)),
        ("Each stage, start and end", figures.stage_changes(data, program)),
        *figures.added_trends(data, program),
    ]
    shared_homework = [
        h
        for h in homework.couple_homework(session=session, viewer=viewer, couple_id=couple_id)
        if h.for_person_id is None
    ]
    first, last = _span(data, shared_homework)
    return ReportData(
        couple_id=couple_id,
        partners=data.partners,
        first_day=first,
        last_day=last,
        built_at=now,
        charts=[(title, chart) for title, chart in built if isinstance(chart, figures.Chart)],
        homework=sorted(shared_homework, key=lambda h: (h.due_on, h.id)),
        occasions=[
            (
                program.instruments[f.instrument].title,
                occasion_words(f.occasion, program),
                max(f.sent_on.values()),
            )
            for f in data.fillings
        ],
        repeated=_repeated(data, program),
    )


def occasion_words(occasion: str, program: Program) -> str:
    """How a person reads a questionnaire occasion: "Start", "After Talking and listening", "Start of
    Handling conflict", "3 November 2026"."""
    try:
        return outcomes.occasion_label(occasion, program)
    except ValueError:
        pass
    stage_key, _, when = occasion.partition(":")
    if stage_key in program.stage_by_key and when in ("start", "end"):
        return f"{'Start' if when == 'start' else 'End'} of {program.stage_by_key[stage_key].title}"
    if occasion.startswith(access.REPEATED_PREFIX):
        try:
            return _long_day(date.fromisoformat(occasion.removeprefix(access.REPEATED_PREFIX)))
        except ValueError:
            pass
    return occasion


def _repeated(data: ProgressData, program: Program) -> list[tuple[str, str, int]]:
    counts: dict[tuple[str, int], int] = {}
    for row in data.repeated:
        counts[(row.instrument, row.person_id)] = counts.get((row.instrument, row.person_id), 0) + 1
    names = {p.person_id: p.name for p in data.partners}
    return [
        (program.instruments[key].title, names[person_id], count)
        for (key, person_id), count in counts.items()
        if person_id in names and key in program.instruments
    ]


def _span(
    data: ProgressData, shared_homework: Sequence[homework.HomeworkStatus]
) -> tuple[date | None, date | None]:
    """The first and last day with anything the report shows."""
    days = [c.week_start for c in data.checkins]
    days += [d for f in data.fillings for d in f.sent_on.values()]
    days += [r.sent_on for r in data.repeated]
    days += [n.day for n in data.practice]
    days += [h.assigned_at.date() for h in shared_homework]
    days += [done.date() for h in shared_homework for done in h.done.values()]
    return (min(days), max(days)) if days else (None, None)


# ---- chart images ------------------------------------------------------------------------------------


def draw_charts(chart_list: Sequence[tuple[str, figures.Chart]]) -> list[ChartPage]:
    """Every chart as a PNG, drawn by one chromium kept warm between reports (see _Renderer)."""
    if not chart_list:
        return []
    sizes = [(IMAGE_WIDTH_PX, _height(chart)) for _, chart in chart_list]
    try:
        pngs = RENDERER.draw([chart.figure for _, chart in chart_list], sizes)
    except Exception as error:  # kaleido and choreographer raise many kinds; all mean the same here
        raise ReportError(
            "The charts could not be drawn: the server needs chromium for this (Debian: apt-get install "
            "chromium; set BROWSER_PATH if it is not on the PATH)."
        ) from error
    return [
        ChartPage(title, png, width, height, chart.caption, chart.table)
        for (title, chart), png, (width, height) in zip(chart_list, pngs, sizes, strict=True)
    ]


def _height(chart: figures.Chart) -> int:
    """The figure's own height where it sets one (charts with many rows do), else the default."""
    height = chart.figure.layout.height
    return int(height) if height else IMAGE_DEFAULT_HEIGHT_PX


class _Renderer:
    """One chromium, through kaleido (Plotly's export engine), kept open between reports.

    Starting chromium is most of a report's cost (1 to 5 s on a busy two-core server, against about 0.4 s
    a chart), so it stays open, in a thread of its own running its event loop, and closes after IDLE_S
    seconds unused. One report draws at a time: kaleido's own shared server (kaleido.start_sync_server)
    hands results back through one queue, so two reports drawn at once could swap their images; and it
    cannot turn MathJax off (nor can plotly.io.write_images), without which chromium fetches MathJax from
    a CDN for every report though no chart uses LaTeX. A failure closes chromium: the next report, or the
    one retry here, starts a fresh one.
    """

    IDLE_S = 300.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kaleido: Any = None
        self._idle: asyncio.TimerHandle | None = None
        self._drawing = False  # an idle timer that fired as a report began must not close its chromium

    def draw(self, figures: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[bytes]:
        """The figures as PNGs, in order (retried once with a fresh chromium)."""
        with self._lock:
            loop = self._running_loop()
            for attempt in (1, 2):
                future = asyncio.run_coroutine_threadsafe(self._draw(figures, sizes), loop)
                try:
                    return future.result(timeout=RENDER_TIMEOUT_S * max(1, len(figures)))
                except Exception:
                    future.cancel()
                    asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=RENDER_TIMEOUT_S)
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

    def close(self) -> None:
        """Close chromium now (tests, and the process's exit)."""
        with self._lock:
            if self._loop is not None:
                asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=RENDER_TIMEOUT_S)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="kindred-report-charts", daemon=True).start()
            self._loop = loop
            atexit.register(self.close)
        return self._loop

    async def _draw(self, figures: Sequence[Any], sizes: Sequence[tuple[int, int]]) -> list[bytes]:
        if self._idle is not None:
            self._idle.cancel()
        self._drawing = True
        try:
            if self._kaleido is None:
                import kaleido  # type: ignore[import-untyped]  # here: slow to import, only reports need it

                renderer = kaleido.Kaleido(n=1, mathjax=False, timeout=RENDER_TIMEOUT_S)
                await renderer.open()
                self._kaleido = renderer
            pngs = [
                bytes(
                    await self._kaleido.calc_fig(
                        figure, opts={"format": "png", "width": width, "height": height, "scale": IMAGE_SCALE}
                    )
                )
                for figure, (width, height) in zip(figures, sizes, strict=True)
            ]
        finally:
            self._drawing = False
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(self.IDLE_S, lambda: loop.create_task(self._close_if_idle()))
        return pngs

    async def _close_if_idle(self) -> None:
        if not self._drawing:
            await self._close()

    async def _close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        renderer, self._kaleido = self._kaleido, None
        if renderer is not None:
            # A chromium that already died has nothing left to close.
            with contextlib.suppress(Exception):
                await renderer.close()


RENDERER = _Renderer()


# ---- the PDF -----------------------------------------------------------------------------------------


def _font_dir() -> Path:
    dirs = [os.environ["KINDRED_REPORT_FONT_DIR"]] if os.environ.get("KINDRED_REPORT_FONT_DIR") else []
    for folder in (*dirs, *FONT_DIRS):
        path = Path(folder)
        if (path / "DejaVuSans.ttf").is_file() and (path / "DejaVuSans-Bold.ttf").is_file():
            return path
    raise ReportError(
        "The report needs the DejaVu Sans font (Debian: apt-get install fonts-dejavu-core), or "
        "KINDRED_REPORT_FONT_DIR naming a folder with DejaVuSans.ttf and DejaVuSans-Bold.ttf."
    )


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(90)
        self.cell(0, 6, f"Kindred session report · page {self.page_no()}", align="C")


def write_pdf(data: ReportData, pages: Sequence[ChartPage]) -> bytes:
    """The report as PDF bytes. Every typed string goes in as plain text (no Markdown, no HTML)."""
    fonts = _font_dir()
    pdf = _Pdf(format="A4")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
    # No names in the file's metadata: it travels with the file, wherever it is sent.
    pdf.set_title("Kindred session report")
    pdf.set_creator("Kindred")
    pdf.set_creation_date(data.built_at)
    _cover(pdf, data)
    for page in pages:
        _chart(pdf, page)
    _homework(pdf, data)
    _occasions(pdf, data)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str, size: int = 15) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(FONT, size=10)


def _para(pdf: FPDF, text: str, size: int = 10) -> None:
    pdf.set_font(FONT, size=size)
    pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _cover(pdf: FPDF, data: ReportData) -> None:
    pdf.add_page()
    pdf.ln(30)
    _heading(pdf, "Session report", 24)
    names = " & ".join(p.name for p in data.partners) or "(no current partners)"
    _heading(pdf, names, 16)
    if data.first_day and data.last_day:
        _para(pdf, f"From {_long_day(data.first_day)} to {_long_day(data.last_day)}", 12)
    else:
        _para(pdf, "Nothing has been recorded yet.", 12)
    _para(pdf, f"Built on {_long_day(data.built_at.date())}", 12)
    pdf.ln(6)
    _para(
        pdf,
        "What both partners see on their progress page: the charts with their numbers, the homework given "
        "to both of them and the questionnaires both completed. Nothing private to one partner is in it.",
    )


def _chart(pdf: FPDF, page: ChartPage) -> None:
    pdf.add_page()
    _heading(pdf, page.title)
    height_mm = IMAGE_WIDTH_MM * page.height_px / page.width_px
    pdf.image(io.BytesIO(page.png), x=pdf.l_margin, w=IMAGE_WIDTH_MM, h=height_mm)
    pdf.ln(3)
    _para(pdf, page.caption)
    if page.table:
        columns = list(dict.fromkeys(key for row in page.table for key in row))
        _table(pdf, columns, [[_cell(row.get(c)) for c in columns] for row in page.table])


def _table(pdf: FPDF, headings: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    pdf.set_font(FONT, size=8)
    with pdf.table(
        text_align="LEFT", line_height=4.5, first_row_as_headings=True, repeat_headings=1
    ) as table:
        table.row(list(headings))
        for row in rows:
            table.row(list(row))
    pdf.ln(4)
    pdf.set_font(FONT, size=10)


def _homework(pdf: FPDF, data: ReportData) -> None:
    pdf.add_page()
    _heading(pdf, "Homework for both of you")
    if not data.homework:
        _para(pdf, "No homework has been given to both partners yet.")
    else:
        rows = [
            [
                h.title,
                _long_day(h.due_on),
                *(
                    f"Done {_long_day(h.done[p.person_id].date())}" if p.person_id in h.done else "Not yet"
                    for p in data.partners
                ),
            ]
            for h in data.homework
        ]
        _table(pdf, ["Homework", "Due", *(p.name for p in data.partners)], rows)


def _occasions(pdf: FPDF, data: ReportData) -> None:
    pdf.ln(4)
    _heading(pdf, "Questionnaires both of you completed")
    if not data.occasions:
        _para(pdf, "No questionnaire has been completed by both partners yet.")
    else:
        _table(
            pdf,
            ["Questionnaire", "Occasion", "Completed by both on"],
            [[title, when, _long_day(day)] for title, when, day in data.occasions],
        )
    if data.repeated:
        _table(
            pdf,
            ["Questionnaire filled in over time", "Partner", "Times"],
            [[title, name, str(count)] for title, name, count in data.repeated],
        )


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return _long_day(value.date())
    if isinstance(value, date):
        return _long_day(value)
    return str(value)


def _long_day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


# ---- the whole --------------------------------------------------------------------------------------


def record_download(*, session: Session, viewer: Viewer, couple_id: int) -> None:
    """Put the report's download in the audit trail the couple reads (checked again: access may have
    ended while the report was built)."""
    _require_therapist(session, viewer, couple_id)
    audit.record(
        session, action=DOWNLOADED, actor_id=viewer.person_id, couple_id=couple_id, detail=DOWNLOADED_DETAIL
    )


def build_report(
    *,
    session: Session,
    viewer: Viewer,
    couple_id: int,
    program: Program,
    settings: Settings,
    now: datetime,
    on_step: Callable[[str], None] | None = None,
) -> bytes:
    """The couple's session report as PDF bytes, for their therapist; the download is recorded in
    `session` (the caller commits). AccessDenied for anyone else, ReportError if it cannot be drawn."""
    step = on_step or (lambda _: None)
    step(STEPS[0])
    data = gather(
        session=session, viewer=viewer, couple_id=couple_id, program=program, settings=settings, now=now
    )
    step(STEPS[1])
    pages = draw_charts(data.charts)
    step(STEPS[2])
    pdf = write_pdf(data, pages)
    record_download(session=session, viewer=viewer, couple_id=couple_id)
    return pdf
