"""The couple's progress charts: pure figure builders, ProgressData in, a Plotly figure out.

Every builder returns a Chart (the figure, a one-sentence plain-language caption and the same numbers as
table rows) or an EmptyChart saying what to do next. Partners are told apart by colour (Okabe-Ito blue and
orange, safe for colour-blind readers) and never by colour alone: partner 1 has solid lines, circles and
plain bars; partner 2 dashed lines, squares and hatched bars. Partner order is ProgressData.partners order,
so everyone sees the same colours. Only ratings, scores, item answers and step counts are drawn: check-in
notes are never read here, and safety screens never reach ProgressData at all.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go

from program.charts.progress_data import DatedScores, Filling, Partner, PracticeNote, ProgressData
from program.course import journey, outcomes
from program.course.curriculum import CHECKIN_KEYS, Instrument, Program, Stage, Subscale
from program.course.questionnaires import stage_occasion
from program.course.scoring import (
    ClinicalChange,
    clinically_significant,
    in_concern_range,
    reliable_change,
    score_range,
)
from program.privacy.access import SessionFeedbackView

MEAN_NAME = "Couple's mean"
WHO = "<extra>%{fullData.name}</extra>"  # the trace name in hover text, without pasting names into a template
MEAN_COLOUR = "#555555"
BAND_COLOUR = "#999999"
# Start bars are a lighter tint of the partner's colour: lightness, not hue, so colour-blind readers see it.
START_TINT = 0.55
LABEL_CHARS = 60  # item text on the perception-gap axis is shortened to about this many characters
ROW_CHARS = 18  # stage and area names on an axis wrap at about this many characters
RATING_LABELS = {
    "closeness": "Closeness rating",
    "communication": "Communication rating",
    "conflict": "Handling disagreements rating",
    "trust": "Trust rating",
    "overall": "Overall rating",
}
# The weekly check-in: every rating runs 0 to 10 and every label's high end is the good one (checkin.toml).
CHECKIN_MIN, CHECKIN_MAX = 0, 10
CHECKIN_DIRECTION = "higher is better"
MAX_DATE_TICKS = 5  # horizontal "3 Nov" labels fit a 390 px phone five at a time
CHANCE_NOTE = "These short checks have no known reliability, so small changes may be chance."


@dataclass(frozen=True)
class PartnerStyle:
    """How one partner is drawn: a colour plus a line style, marker and bar pattern that differ too."""

    colour: str
    dash: str
    symbol: str
    pattern: str


MEAN_STYLE = PartnerStyle(MEAN_COLOUR, "dot", "diamond", "")  # a line, never a bar: no pattern
STYLES = (
    PartnerStyle("#0072B2", "solid", "circle", ""),
    PartnerStyle("#E69F00", "dash", "square", "/"),
)


def _partner_line(
    name: str,
    style: PartnerStyle,
    *,
    x: Sequence[object],
    y: Sequence[object],
    size: int,
    symbol: str | Sequence[str] | None = None,
    ringed: bool = False,
    hover: Sequence[str] | None = None,
    **more: Any,
) -> go.Scatter:
    """One partner's line in their colour, dash and marker (or the symbols given, one a point); a gap in
    the data stays a gap, and a ringed marker is outlined so an open symbol still shows. `hover` is each
    point's own hover text, and then a marker at the plot's edge is drawn whole."""
    if hover is not None:
        more |= {"hovertext": hover, "hovertemplate": "%{hovertext}" + WHO, "cliponaxis": False}
    marker: dict[str, object] = {"color": style.colour, "symbol": style.symbol if symbol is None else symbol}
    marker["size"] = size
    if ringed:
        marker["line"] = {"width": 2}
    return go.Scatter(
        x=x,
        y=y,
        name=name,
        mode="lines+markers",
        connectgaps=False,
        line={"color": style.colour, "dash": style.dash, "width": 2},
        marker=marker,
        **more,
    )


def _mean_line(*, x: Sequence[object], y: Sequence[object], **more: Any) -> go.Scatter:
    """The couple's mean: a grey dotted line with small diamonds, drawn under the partners' names."""
    return _partner_line(MEAN_NAME, MEAN_STYLE, x=x, y=y, size=6, **more)


@dataclass(frozen=True)
class Chart:
    """A figure, one plain-language sentence about it, and its numbers as table rows."""

    figure: go.Figure
    caption: str
    table: list[dict[str, object]]


@dataclass(frozen=True)
class EmptyChart:
    """Nothing to draw yet, and what to do next."""

    message: str


# ---- 1. weekly check-in trends --------------------------------------------------------------------


def checkin_trends(
    data: ProgressData, rating: str = "overall", rating_label: str | None = None
) -> Chart | EmptyChart:
    """Each partner's weekly rating as a line, with the couple's mean for weeks both answered."""
    if rating not in CHECKIN_KEYS:
        raise ValueError(f"unknown check-in rating {rating!r}; expected one of {', '.join(CHECKIN_KEYS)}")
    label = rating_label or RATING_LABELS[rating]
    # "Overall" and "Overall rating" both read as "Overall rating (0-10)" and "Ana's overall rating".
    label = label if label.lower().endswith("rating") else f"{label} rating"
    partners = data.partners[:2]
    if not partners:
        return EmptyChart("Check-in trends appear once you have done your first weekly check-in.")
    names = _names(partners)
    series: list[dict[date, int]] = [
        {c.week_start: int(getattr(c, rating)) for c in data.checkins if c.person_id == p.person_id}
        for p in partners
    ]
    if not any(series):
        return EmptyChart("No check-ins yet: the lines appear after your first weekly check-ins.")

    # Every week from the first check-in to the last, so a missed week is a gap in the line (None, never
    # bridged) and not two neighbouring points joined as if the week between had data.
    weeks = _every_week(sorted({w for points in series for w in points}))
    figure = go.Figure()
    for name, style, points in zip(names, STYLES, series, strict=False):
        if points:
            figure.add_trace(
                _partner_line(
                    plot_text(name),
                    style,
                    x=weeks,
                    y=[points.get(w) for w in weeks],
                    size=8,
                    hovertemplate="Week of %{x|%-d %b %Y}: %{y:.0f}" + WHO,
                )
            )
    means: dict[date, float] = {}
    if len(series) == 2:
        means = {w: (series[0][w] + series[1][w]) / 2 for w in sorted(set(series[0]) & set(series[1]))}
    if means:
        figure.add_trace(
            _mean_line(
                x=weeks,
                y=[means.get(w) for w in weeks],
                hovertemplate="Week of %{x|%-d %b %Y}: %{y:.1f}" + WHO,
            )
        )
    _layout(figure, "Weekly check-ins")
    step = math.ceil(len(weeks) / MAX_DATE_TICKS)
    figure.update_xaxes(title_text="Week", tickformat="%-d %b", tickvals=weeks[::step])
    figure.update_yaxes(
        title_text=f"{label} ({CHECKIN_MIN}-{CHECKIN_MAX})", range=[CHECKIN_MIN, CHECKIN_MAX], dtick=2
    )

    table: list[dict[str, object]] = []
    for week in weeks:
        row: dict[str, object] = {"Week": week}
        row.update({name: points.get(week) for name, points in zip(names, series, strict=False)})
        if len(series) == 2:
            row[MEAN_NAME] = means.get(week)
        table.append(row)
    return Chart(figure, _checkin_caption(names, series, weeks, label, solo=len(partners) == 1), table)


def _every_week(weeks: list[date]) -> list[date]:
    """Every week from the first to the last, each seven days after the one before."""
    if not weeks:
        return []
    grid = [weeks[0] + timedelta(weeks=n) for n in range((weeks[-1] - weeks[0]).days // 7 + 1)]
    return sorted(set(grid) | set(weeks))  # a week start off the seven-day grid is kept, never dropped


def _checkin_caption(
    names: list[str], series: list[dict[date, int]], weeks: list[date], label: str, *, solo: bool
) -> str:
    what = label[:1].lower() + label[1:]
    scale = f"({CHECKIN_MIN} to {CHECKIN_MAX}, {CHECKIN_DIRECTION})"
    clauses: list[str] = []
    missed: list[str] = []
    said_what = False
    for name, points in zip(names, series, strict=False):
        if not points:
            clauses.append(f"{name} hasn't done a check-in yet, and their line appears after their first one")
            continue
        done = sorted(points)
        subject = f"{name}'s" if said_what else f"{name}'s {what} {scale}"
        first, last = points[done[0]], points[done[-1]]
        if len(done) == 1:
            clauses.append(f"{subject} is {first} so far")
        else:
            clauses.append(
                f"{subject} from {first} to {last}"
                if said_what
                else f"{subject} went from {first} to {last} since the first week"
            )
        said_what = True
        # Weeks between a partner's first and last check-in with none: drawn as a gap, and said here.
        gaps = sum(1 for w in weeks if done[0] < w < done[-1] and w not in points)
        if gaps:
            missed.append(f"{name} missed {gaps} week{'s' if gaps > 1 else ''}")
    if missed:
        clauses.append(" and ".join(missed) + ", shown as a gap in the line")
    if solo:
        clauses.append("your partner's line appears once they have joined and done a check-in")
    return _sentence(clauses)


# ---- 2. domain profile of the baseline questionnaire -----------------------------------------------


def domain_profile(data: ProgressData, program: Program) -> Chart | EmptyChart:
    """Each partner's baseline questionnaire scores per subscale: the first time and the latest."""
    instrument = program.instruments[program.assessment.overview.questionnaire]
    fillings = data.fillings_of(instrument.key)
    if not fillings:
        return EmptyChart(_not_sent(data, instrument))
    partners, names = data.partners[:2], _names(data.partners[:2])
    occasions = [("start", fillings[0])] + ([("latest", fillings[-1])] if len(fillings) > 1 else [])
    subscales = instrument.subscales
    titles = [_row_label(s.title) for s in subscales]
    low, high = _instrument_range(instrument)

    figure = go.Figure()
    for partner, name, style in zip(partners, names, STYLES, strict=False):
        for when, filling in occasions:
            lighter = when == "start" and len(occasions) > 1
            scores = [_score(filling, partner, s.key) for s in subscales]
            # Bars grow from the scale's minimum (a 1-7 scale starts at 1): the bar's length is the score
            # above it, and the hover shows the score itself. Horizontal, so the areas' names read in full
            # on a phone instead of running into each other under upright bars.
            figure.add_trace(
                go.Bar(
                    x=[None if v is None else v - low for v in scores],
                    y=titles,
                    base=low,
                    orientation="h",
                    name=plot_text(f"{name}, {when}"),
                    marker=_bar_marker(style, lighter=lighter),
                    customdata=[["no score" if v is None else _fmt(v)] for v in scores],
                    hovertemplate="%{y}: %{customdata[0]}" + WHO,
                )
            )
    for index, subscale in enumerate(subscales):
        _band(figure, instrument, subscale, across=(index - 0.5, index + 0.5))
    # Four partner entries and a band per cut-off rarely fit on one legend row.
    _layout(figure, "Questionnaire profile")
    figure.update_layout(barmode="group", height=120 + 70 * len(subscales))
    figure.update_xaxes(title_text=_score_title(instrument, low, high), range=[low, high])
    figure.update_yaxes(title_text=None, autorange="reversed")

    table: list[dict[str, object]] = []
    for subscale in subscales:
        for partner, name in zip(partners, names, strict=False):
            row: dict[str, object] = {"Area": subscale.title, "Partner": name}
            row.update(
                {when.capitalize(): _score(filling, partner, subscale.key) for when, filling in occasions}
            )
            latest = _score(occasions[-1][1], partner, subscale.key)
            row["Range"] = _range_label(instrument, subscale)
            row["In the concern range"] = None if latest is None else in_concern_range(subscale, latest)
            table.append(row)
    return Chart(figure, _profile_caption(instrument, partners, names, occasions), table)


def _profile_caption(
    instrument: Instrument,
    partners: Sequence[Partner],
    names: list[str],
    occasions: list[tuple[str, Filling]],
) -> str:
    first, last = occasions[0][1], occasions[-1][1]
    clauses: list[str] = []
    said: set[str] = set()  # range labels already given: each is said once
    said_change = False
    for partner, name in zip(partners, names, strict=False):
        if len(occasions) == 1:
            scored = [
                (s, v) for s in instrument.subscales if (v := _score(first, partner, s.key)) is not None
            ]
            if scored:
                best, value = max(scored, key=lambda sv: sv[1])  # max keeps the first of equal scores
                lead = "at the start, " if not clauses else ""
                verb = "scored highest on" if not clauses else "on"
                clauses.append(f"{lead}{name} {verb} {_scored_phrase(instrument, best, value, said)}")
            continue
        moves = [
            (s, a, b)
            for s in instrument.subscales
            if (a := _score(first, partner, s.key)) is not None
            and (b := _score(last, partner, s.key)) is not None
        ]
        if not moves:
            continue
        subscale, before, after = max(moves, key=lambda m: abs(m[2] - m[1]))
        if before == after:
            clauses.append(f"{name}'s scores are the same as at the start")
        elif not said_change:
            span = _change_phrase(instrument, subscale, before, after, said)
            clauses.append(f"since the start, {name}'s biggest change is in {span}")
            said_change = True
        else:
            clauses.append(f"{name}'s in {_change_phrase(instrument, subscale, before, after, said)}")
    return _sentence(clauses or ["There are not enough answers yet to show scores"])


def _scored_phrase(instrument: Instrument, subscale: Subscale, value: float, said: set[str]) -> str:
    """ "Trust 6.2 of 7 (1 to 7, higher is better)", the range left out when already said."""
    top = _fmt(score_range(instrument, subscale.key)[1], whole=True)
    return f"{subscale.title} {_fmt(value)} of {top}{_once(_range_label(instrument, subscale), said)}"


def _change_phrase(
    instrument: Instrument, subscale: Subscale, before: float, after: float, said: set[str]
) -> str:
    """ "Trust from 4.0 to 5.5 (1 to 7, higher is better)", the range left out when already said."""
    span = f"{subscale.title} from {_fmt(before)} to {_fmt(after)}"
    return span + _once(_range_label(instrument, subscale), said)


def _once(label: str, said: set[str]) -> str:
    if label in said:
        return ""
    said.add(label)
    return f" ({label})"


# ---- 3. perception gap ----------------------------------------------------------------------------


def perception_gap(data: ProgressData, program: Program, top: int = 5) -> Chart | EmptyChart:
    """The statements of the latest baseline questionnaire where the partners' answers differ most."""
    if top < 1:
        raise ValueError("top must be at least 1")
    instrument = program.instruments[program.assessment.overview.questionnaire]
    fillings = data.fillings_of(instrument.key)
    partners = data.partners[:2]
    if not fillings or len(partners) < 2:
        return EmptyChart(_not_sent(data, instrument))
    latest = fillings[-1]
    first, second = (latest.answers.get(p.person_id, {}) for p in partners)
    gaps = [
        (item, a, b)
        for item in instrument.items
        if (a := first.get(item.key)) is not None and (b := second.get(item.key)) is not None and a != b
    ]
    if not gaps:
        return EmptyChart(
            "You gave the same answer to every statement you both answered: no differences to show."
        )
    # sorted() is stable, so equal differences keep the questionnaire's item order.
    biggest = sorted(gaps, key=lambda gap: -abs(gap[1] - gap[2]))[:top]
    names = _names(partners)
    labels = [_wrap(item.text) for item, _, _ in biggest]
    scale = instrument.scale
    # Bars grow from the scale's minimum; each bar carries its answer as text, so the lowest answer (a bar
    # of no length) still shows as its number.
    zero = scale.min

    figure = go.Figure()
    for position, (name, style) in enumerate(zip(names, STYLES, strict=False)):
        answers = [b if position else a for _, a, b in biggest]
        figure.add_trace(
            go.Bar(
                x=[a - zero for a in answers],
                y=labels,
                base=zero,
                orientation="h",
                name=plot_text(name),
                marker=_bar_marker(style),
                texttemplate="%{customdata[1]}",
                textposition="outside",
                cliponaxis=False,
                customdata=[
                    [plot_text(item.text), a, plot_text(scale.labels[a - scale.min])]
                    for (item, _, _), a in zip(biggest, answers, strict=True)
                ],
                hovertemplate=("%{customdata[0]}<br>Answer: %{customdata[1]} (%{customdata[2]})" + WHO),
            )
        )
    _layout(figure, "Where you see things differently")
    figure.update_layout(barmode="group")
    figure.update_xaxes(
        title_text=f"Answer ({scale.min} to {scale.max})",
        range=[zero, scale.max],
        tickvals=list(scale.points),
    )
    figure.update_layout(margin={"r": 25})  # room for the answer written beyond a bar that reaches the end
    figure.update_yaxes(title_text=None, autorange="reversed", automargin=True)

    table: list[dict[str, object]] = [
        {"Statement": item.text, names[0]: a, names[1]: b, "Difference": abs(a - b)} for item, a, b in biggest
    ]
    item, a, b = biggest[0]
    caption = (
        f"The biggest difference is about “{_shorten(item.text)}” "
        f"({names[0]} answered {a}, {names[1]} {b}; answers run from {scale.min}, "
        f"{scale.labels[0]}, to {scale.max}, {scale.labels[-1]}): worth talking about gently."
    )
    return Chart(figure, caption, table)


# ---- 4. stage progress ----------------------------------------------------------------------------


def stage_progress(data: ProgressData, program: Program) -> Chart | EmptyChart:
    """How much of each stage each partner has done, as a percentage of its steps."""
    partners = data.partners[:2]
    if not partners:
        return EmptyChart("Progress appears once you have started the assessment.")
    names = _names(partners)
    titles = {journey.ASSESSMENT: program.assessment.title} | {s.key: s.title for s in program.stages}
    totals = {
        stage: data.steps_total.get(stage) or len(journey.stage_steps(program, stage))
        for stage in journey.ORDER
    }
    done = {
        p.person_id: {
            stage: min(data.steps_done.get(p.person_id, {}).get(stage, 0), totals[stage])
            for stage in journey.ORDER
        }
        for p in partners
    }
    if not any(any(stages.values()) for stages in done.values()):
        return EmptyChart(
            "Nothing done yet: the bars fill in as you work through the steps, starting with the assessment."
        )

    homework = {
        p.person_id: {
            stage: _homework_word(stage, done[p.person_id][stage], data.homework_done.get(p.person_id))
            for stage in journey.ORDER
        }
        for p in partners
    }
    figure = go.Figure()
    for partner, name, style in zip(partners, names, STYLES, strict=False):
        steps = done[partner.person_id]
        words = homework[partner.person_id]
        figure.add_trace(
            go.Bar(
                x=[_percent(steps[stage], totals[stage]) for stage in journey.ORDER],
                y=[_row_label(titles[stage]) for stage in journey.ORDER],
                orientation="h",
                name=plot_text(name),
                marker=_bar_marker(style),
                # Homework done or not, on the bar of each stage a partner has begun: inside a long bar,
                # beside a short one.
                texttemplate="%{x:.0f}%%{customdata[2]}",
                textposition="auto",
                insidetextanchor="end",
                cliponaxis=False,
                customdata=[
                    [steps[stage], totals[stage], f" · {words[stage]}" if words[stage] else ""]
                    for stage in journey.ORDER
                ],
                hovertemplate=(
                    "%{y}: %{x:.0f}% (%{customdata[0]} of %{customdata[1]} steps)%{customdata[2]}" + WHO
                ),
            )
        )
    _layout(figure, "Progress through the program")
    figure.update_layout(barmode="group")
    # Room on the right for the "100%" written beyond a full bar.
    figure.update_layout(margin={"r": 45})
    figure.update_xaxes(title_text="Steps done (%)", range=[0, 100], ticksuffix="%")
    figure.update_yaxes(title_text=None, autorange="reversed", automargin=True)

    table: list[dict[str, object]] = [
        {
            "Stage": titles[stage],
            "Partner": name,
            "Steps done": done[partner.person_id][stage],
            "Steps": totals[stage],
            "Percent done": _percent(done[partner.person_id][stage], totals[stage]),
            "Homework": homework[partner.person_id][stage] or None,
        }
        for stage in journey.ORDER
        for partner, name in zip(partners, names, strict=False)
    ]
    everything = sum(totals.values())
    clauses: list[str] = []
    for partner, name in zip(partners, names, strict=False):
        count = sum(done[partner.person_id].values())
        if not clauses:
            clauses.append(f"{name} has done {count} of the program's {everything} steps")
        else:
            clauses.append(f"{name} {count}")
    caption = " and ".join(clauses)
    if len(partners) == 1:
        caption += "; your partner's bars appear once they have joined"
    # A log counts as a step done when its early end was confirmed: say so, so the bar does not overstate it.
    exercises: dict[tuple[str, str], str] = {
        (s.key, e.key): e.title for s in program.stages for e in s.exercises
    }
    early = [
        f"{name} ended '{exercises.get((log.stage, log.exercise), log.exercise)}' early after "
        f"{log.days_logged} of {log.days} days"
        for log in data.logs_ended_early
        for partner, name in zip(partners, names, strict=False)
        if log.person_id == partner.person_id
    ]
    return Chart(figure, _sentence([caption, *early]), table)


def _homework_word(stage: str, steps: int, stages_done: frozenset[str] | None) -> str:
    """ "homework done" or "homework not done" for a skill stage a partner has begun; "" otherwise."""
    if stage == journey.ASSESSMENT:
        return ""
    if stages_done is not None and stage in stages_done:
        return "homework done"
    return "homework not done" if steps else ""


# ---- 5. every stage's start and end check ---------------------------------------------------------


@dataclass(frozen=True)
class _StageRow:
    """One row of the stage chart: a stage's check subscale, with the fillings at its start and end."""

    label: str
    instrument: Instrument
    subscale: Subscale
    start: Filling
    end: Filling


def stage_changes(data: ProgressData, program: Program) -> Chart | EmptyChart:
    """Each partner's start and end check of every stage both partners finished, in one figure."""
    partners = data.partners[:2]
    rows: list[_StageRow] = []
    for stage in program.stages:
        form = program.instruments.get(stage.check)
        if form is None:
            continue
        by_occasion = {f.occasion: f for f in data.fillings_of(form.key)}
        start = by_occasion.get(stage_occasion(stage.key, "start"))
        end = by_occasion.get(stage_occasion(stage.key, "end"))
        if start is None or end is None:
            continue
        for subscale in form.subscales:
            label = stage.title if len(form.subscales) == 1 else f"{stage.title}: {subscale.title}"
            rows.append(_StageRow(label, form, subscale, start, end))
    if not rows or len(partners) < 2:
        return EmptyChart(
            "How each stage changed things shows here once you have both done a stage's start and end check."
        )
    names = _names(partners)
    low = min(score_range(r.instrument, r.subscale.key)[0] for r in rows)
    high = max(score_range(r.instrument, r.subscale.key)[1] for r in rows)
    labels = [_range_label(r.instrument, r.subscale) for r in rows]
    offsets = (-0.15, 0.15)  # partner 1 just above a row's middle, partner 2 just below

    figure = go.Figure()
    table: list[dict[str, object]] = []
    moves: dict[str, list[tuple[_StageRow, float, float, str]]] = {name: [] for name in names}
    for position, (partner, name, style) in enumerate(zip(partners, names, STYLES, strict=False)):
        xs: list[float | None] = []
        ys: list[float | None] = []
        symbols: list[str] = []
        hover: list[str] = []
        for index, row in enumerate(rows):
            before, after = (
                _score(row.start, partner, row.subscale.key),
                _score(row.end, partner, row.subscale.key),
            )
            change = None if before is None or after is None else reliable_change(row.subscale, before, after)
            table.append(
                {
                    "Stage": row.label,
                    "Partner": name,
                    "Start": before,
                    "End": after,
                    "Change": None if before is None or after is None else round(after - before, 1),
                    "Range": _range_label(row.instrument, row.subscale),
                    "Reliable change": change.verdict if change else "not known",
                }
            )
            if before is None or after is None:
                continue
            top = _fmt(score_range(row.instrument, row.subscale.key)[1], whole=True)
            judgement = f" ({change.verdict})" if change else ""
            moves[name].append(
                (row, before, after, change.verdict if change else _which_way(row, before, after))
            )
            at = index + offsets[position]
            xs += [before, after, None]
            ys += [at, at, None]
            symbols += [f"{style.symbol}-open", style.symbol, style.symbol]
            hover += [
                plot_text(f"{row.label}, start: {_fmt(before)} of {top}"),
                plot_text(f"{row.label}, end: {_fmt(after)} of {top}{judgement}"),
                "",
            ]
        figure.add_trace(
            _partner_line(
                plot_text(name),
                style,
                x=xs,
                y=ys,
                size=11,
                symbol=symbols,
                ringed=True,
                hover=hover,
            )
        )
    mixed = len(set(labels)) > 1
    _layout(figure, "Each stage, start and end")
    # A row per stage and subscale (what I do, how we are): each row's label may wrap to three lines.
    figure.update_layout(height=max(300, 150 + 60 * len(rows)))
    figure.update_xaxes(
        title_text=_score_title(rows[0].instrument, low, high) if not mixed else "Score",
        range=[low, high],
    )
    figure.update_yaxes(
        title_text="Open: start, filled: end",
        tickvals=list(range(len(rows))),
        ticktext=[
            _row_label(f"{r.label} ({label})" if mixed else r.label)
            for r, label in zip(rows, labels, strict=True)
        ],
        range=[len(rows) - 0.5, -0.5],
        showgrid=False,
    )
    # Rows of the table by stage, then partner, as the chart reads from top to bottom.
    table.sort(key=lambda entry: [r.label for r in rows].index(str(entry["Stage"])))
    return Chart(figure, _stage_caption(names, moves, labels, rows), table)


def _which_way(row: _StageRow, before: float, after: float) -> str:
    """Better, worse or the same, by the subscale's direction (said plainly; chance is noted once)."""
    if after == before:
        return "the same"
    rising = after > before
    return "better" if rising == (row.subscale.direction == "higher is better") else "worse"


def _stage_caption(
    names: list[str],
    moves: dict[str, list[tuple[_StageRow, float, float, str]]],
    labels: list[str],
    rows: list[_StageRow],
) -> str:
    clauses: list[str] = []
    for name in names:
        if not moves[name]:
            continue
        row, before, after, way = max(moves[name], key=lambda m: abs(m[2] - m[1]))
        if before == after:
            clauses.append(f"{name}'s scores stayed the same")
        elif len(moves[name]) == 1:
            clauses.append(f"{name} went from {_fmt(before)} to {_fmt(after)} in “{row.label}” ({way})")
        else:
            clauses.append(
                f"{name} moved most in “{row.label}”, from {_fmt(before)} to {_fmt(after)} ({way})"
            )
    if len(set(labels)) == 1:
        clauses.append(f"scores run {labels[0]}")
    caption = _sentence(clauses or ["There are not enough answers yet to show change"])
    if any(r.subscale.reliability is None for r in rows):
        caption += " " + CHANCE_NOTE
    return caption


# ---- 6. the outcome measure over the program ------------------------------------------------------

# The marker on a partner's latest point says how their outcome changed since the start. Shapes, not
# colours, so they read beside each partner's own colour; the hover, table and caption say it in words.
VERDICT_SYMBOLS = {
    "recovered": "star",
    "improved": "triangle-up",
    "deteriorated": "triangle-down",
    "unchanged": "circle-dot",
    "crossed without reliable change": "diamond",
}
UNJUDGED_SYMBOL = "circle-open-dot"
VERDICT_WORDS = {
    "recovered": "a reliable improvement that crossed the line (recovered)",
    "improved": "a reliable improvement (improved)",
    "deteriorated": "a reliable worsening (deteriorated)",
    "unchanged": "no reliable change (unchanged)",
    "crossed without reliable change": (
        "over the line, but by no more than chance (crossed the line without a reliable change)"
    ),
}
# Subscales whose key names a score of the whole: the outcome is charted on the first one declared.
MAIN_KEYS = ("total", "overall", "satisfaction")


def main_subscale(instrument: Instrument) -> Subscale:
    """The subscale an outcome is charted on: a declared total or overall score, else the subscale with
    the most items (the first of equals)."""
    for key in MAIN_KEYS:
        for subscale in instrument.subscales:
            if subscale.key == key:
                return subscale
    return max(instrument.subscales, key=lambda s: len(instrument.items_of(s.key)))


def outcome_trajectory(data: ProgressData, program: Program, instrument: Instrument) -> Chart | EmptyChart:
    """Each partner's outcome score at every occasion both sent, the couple's mean, the cut-off band, and
    per partner a marker and a sentence for reliable and clinically significant change since the start."""
    partners = data.partners[:2]
    order = outcomes.occasions(program)
    fillings = sorted(
        (f for f in data.fillings_of(instrument.key) if f.occasion in order),
        key=lambda f: order.index(f.occasion),
    )
    if not fillings or len(partners) < 2:
        return EmptyChart(
            f"The outcome measure “{instrument.title}” is charted here once you have both sent it "
            "at the start."
        )
    subscale = main_subscale(instrument)
    names = _names(partners)
    labels = [outcomes.occasion_label(f.occasion, program) for f in fillings]
    # Up to seven occasions share a 390 px phone's width: short two-line ticks ("After<br>stage 2"); the
    # hover and the table give each occasion's full name.
    ticks = [_occasion_tick(f.occasion, program) for f in fillings]
    low, high = score_range(instrument, subscale.key)
    series = [[_score(f, p, subscale.key) for f in fillings] for p in partners]
    true_series = [[_raw_score(f, p, subscale.key) for f in fillings] for p in partners]
    figure = go.Figure()
    table: list[dict[str, object]] = []
    clauses: list[str] = []
    unjudged = False
    lines: set[float] = set()  # the lines clinically significant change was judged against
    for name, style, values, true_values in zip(names, STYLES, series, true_series, strict=True):
        scored = [(i, v) for i, v in enumerate(values) if v is not None]
        change: ClinicalChange | None = None
        symbols = [style.symbol] * len(values)
        hover = [
            plot_text(f"{label}: {'no score' if v is None else _fmt(v)}")
            for label, v in zip(labels, values, strict=True)
        ]
        if len(scored) >= 2:
            (first, before), (last, after) = scored[0], scored[-1]
            # Judged on the true scores: one rounded for display can land on the line it has not reached.
            true_before, true_after = true_values[first], true_values[last]
            assert true_before is not None and true_after is not None  # scored: the rounded ones are not None
            change = clinically_significant(subscale, true_before, true_after)
            symbols[last] = VERDICT_SYMBOLS.get(change.verdict, style.symbol) if change else UNJUDGED_SYMBOL
            if change:
                hover[last] += f" ({change.verdict})"
            clauses.append(_outcome_clause(name, labels[scored[0][0]], labels[last], before, after, change))
            unjudged = unjudged or change is None
            if change is not None and change.criterion is not None:
                lines.add(change.criterion)
        elif scored:
            clauses.append(f"{name} scored {_fmt(scored[0][1])} at “{labels[scored[0][0]]}”")
        figure.add_trace(
            _partner_line(
                plot_text(name),
                style,
                x=ticks,
                y=values,
                size=12,
                symbol=symbols,
                ringed=True,
                hover=hover,
            )
        )
        table.extend(
            {
                "Occasion": label,
                "Partner": name,
                "Score": value,
                "Range": _range_label(instrument, subscale),
                "Change since the start": (change.verdict if change else "no verdict")
                if index == (scored[-1][0] if len(scored) >= 2 else -1)
                else None,
            }
            for index, (label, value) in enumerate(zip(labels, values, strict=True))
        )
    means = [None if a is None or b is None else round((a + b) / 2, 1) for a, b in zip(*series, strict=True)]
    if any(m is not None for m in means):
        figure.add_trace(
            _mean_line(
                x=ticks,
                y=means,
                customdata=[["" if m is None else _fmt(m)] for m in means],
                hovertemplate="%{x}: %{customdata[0]}" + WHO,
            )
        )
    _score_band(figure, instrument, subscale)
    # Titles come from content files (an operator's own too): text, never HTML.
    _layout(figure, plot_text(f"Outcome: {subscale.title}") if len(subscale.title) < 30 else "Outcome")
    figure.update_xaxes(title_text=None, type="category", tickfont={"size": 11})
    figure.update_yaxes(title_text=_subscale_title(instrument, subscale), range=[low, high])
    clauses.append(f"scores of “{subscale.title}” run {_range_label(instrument, subscale)}")
    for line in sorted(lines):
        # The line is the declared cut-off (the band's edge), or criterion c between both populations' norms.
        where = "the edge of the shaded range" if line == subscale.cutoff else "between the published norms"
        clauses.append(f"the line is {_fmt(line)} ({where})")
    if unjudged:
        clauses.append(
            f"there's no published reliability for “{instrument.title}”, "
            "so the change is shown without a verdict"
        )
    return Chart(figure, _sentence(clauses), table)


def _occasion_tick(occasion: str, program: Program) -> str:
    """A short axis label for an outcome occasion: "Start", "After<br>stage 2", "End", "Follow-up"."""
    if occasion == outcomes.PROGRAM_END:
        return "End"
    if occasion == outcomes.FOLLOW_UP:
        return "Follow-<br>up"
    for number, stage in enumerate(program.stages, start=1):
        if occasion == outcomes.stage_end_occasion(stage.key):
            return f"After<br>stage {number}"
    return "Start"


def _outcome_clause(
    name: str, first: str, last: str, before: float, after: float, change: ClinicalChange | None
) -> str:
    span = f"{name} went from {_fmt(before)} at “{first}” to {_fmt(after)} at “{last}”"
    if change is None:
        return span
    return f"{span}: {VERDICT_WORDS.get(change.verdict, change.verdict)}"


def _concern_range(instrument: Instrument, subscale: Subscale) -> tuple[float, float, str] | None:
    """The side of a subscale's cut-off that is of concern: (start, end, legend label); None without one."""
    if subscale.cutoff is None:
        return None
    low, high = score_range(instrument, subscale.key)
    start, end = (low, subscale.cutoff) if subscale.concern == "below" else (subscale.cutoff, high)
    label = plot_text(subscale.cutoff_label or f"Concern range ({subscale.concern} {_fmt(subscale.cutoff)})")
    return start, end, label


def _score_band(figure: go.Figure, instrument: Instrument, subscale: Subscale) -> None:
    """Shade a subscale's concern range across the whole plot, scores running up the y axis."""
    _band(figure, instrument, subscale, across=(0, 1), scores_up=True)


# ---- 7. questionnaires the operator added, over time ----------------------------------------------


def added_trends(data: ProgressData, program: Program) -> list[tuple[str, Chart | EmptyChart]]:
    """For each questionnaire the operator added, a trend per partner over each partner's own dates, once
    both partners have filled it in (what access.py lets through: see couple_repeated_submissions)."""
    partners = data.partners[:2]
    charts: list[tuple[str, Chart | EmptyChart]] = []
    for key in program.extra_instruments:
        instrument = program.instruments[key]
        rows = [r for r in data.repeated if r.instrument == key]
        if len(partners) < 2 or {r.person_id for r in rows} != {p.person_id for p in partners}:
            continue
        charts.append((instrument.title, _added_trend(instrument, partners, rows)))
    return charts


def _added_trend(instrument: Instrument, partners: Sequence[Partner], rows: list[DatedScores]) -> Chart:
    subscale = main_subscale(instrument)
    names = _names(partners)
    low, high = score_range(instrument, subscale.key)
    figure = go.Figure()
    table: list[dict[str, object]] = []
    clauses: list[str] = []
    days: set[date] = set()
    for partner, name, style in zip(partners, names, STYLES, strict=False):
        mine = [r for r in rows if r.person_id == partner.person_id]
        points = [(r.sent_on, v) for r in mine if (v := r.scores.get(subscale.key)) is not None]
        values = [round(v, 1) for _, v in points]
        days.update(d for d, _ in points)
        figure.add_trace(
            _partner_line(
                plot_text(name),
                style,
                x=[d for d, _ in points],
                y=values,
                size=9,
                customdata=[[_fmt(v)] for v in values],
                hovertemplate="%{x|%-d %b %Y}: %{customdata[0]}" + WHO,
            )
        )
        table.extend(
            {"Date": d, "Partner": name, "Score": v, "Range": _range_label(instrument, subscale)}
            for (d, _), v in zip(points, values, strict=True)
        )
        if len(values) >= 2:
            clauses.append(
                f"{name} went from {_fmt(values[0])} to {_fmt(values[-1])} over {len(values)} times"
            )
        elif values:
            clauses.append(f"{name} scored {_fmt(values[0])} the one time so far")
    _score_band(figure, instrument, subscale)
    _layout(figure, plot_text(instrument.title) if len(instrument.title) <= 40 else "Added questionnaire")
    ticks = sorted(days)
    step = max(1, math.ceil(len(ticks) / MAX_DATE_TICKS))
    figure.update_xaxes(title_text="Date sent", tickformat="%-d %b", tickvals=ticks[::step])
    figure.update_yaxes(title_text=_subscale_title(instrument, subscale), range=[low, high])
    table.sort(key=lambda r: (str(r["Partner"]), str(r["Date"])))
    clauses.append(f"“{subscale.title}” runs {_range_label(instrument, subscale)}, each on their own dates")
    return Chart(figure, _sentence(clauses), table)


# ---- 8. how practice went -------------------------------------------------------------------------

YES_NAME = "days with a yes"
RATING_NAME = "mean rating"


def practice_trends(data: ProgressData) -> Chart | EmptyChart:
    """Per partner per week, from the practice logs: the share of yes answers and the mean 0-10 rating;
    a week without entries is a gap in the line."""
    partners = data.partners[:2]
    notes = [n for n in data.practice if any(p.person_id == n.person_id for p in partners)]
    if not notes:
        return EmptyChart("How practice went shows here once you have noted a day in a practice log.")
    names = _names(partners)
    weeks = _every_week(sorted({_week(n.day) for n in notes}))
    figure = go.Figure()
    table: list[dict[str, object]] = []
    clauses: list[str] = []
    for partner, name, style in zip(partners, names, STYLES, strict=False):
        mine = [n for n in notes if n.person_id == partner.person_id]
        yes = _weekly(mine, "yesno")
        ratings = _weekly(mine, "rating")
        shares = {w: _percent(round(v * 1000), 1000) for w, v in yes.items()}
        means = {w: round(v, 1) for w, v in ratings.items()}
        for values, axis, what, dash in (
            (means, "y", RATING_NAME, style.dash),
            (shares, "y2", YES_NAME, "dot"),
        ):
            if not values:
                continue
            shown = [values.get(w) for w in weeks]
            figure.add_trace(
                go.Scatter(
                    x=weeks,
                    y=shown,
                    yaxis=axis,
                    name=plot_text(f"{name}, {what}"),
                    mode="lines+markers",
                    connectgaps=False,
                    line={"color": style.colour, "dash": dash, "width": 2},
                    marker={
                        "color": style.colour,
                        "symbol": style.symbol if axis == "y" else f"{style.symbol}-open",
                        "size": 8,
                    },
                    customdata=[["" if v is None else (f"{v}%" if axis == "y2" else _fmt(v))] for v in shown],
                    hovertemplate="Week of %{x|%-d %b %Y}: %{customdata[0]}" + WHO,
                    cliponaxis=False,
                )
            )
        table.extend(
            {"Week": w, "Partner": name, "Mean rating (0-10)": means.get(w), "Yes (%)": shares.get(w)}
            for w in weeks
        )
        noted = sorted({_week(n.day) for n in mine})
        if noted:
            gaps = sum(1 for w in weeks if noted[0] < w < noted[-1] and w not in noted)
            part = f"{name} noted practice in {len(noted)} week{'s' if len(noted) != 1 else ''}"
            if gaps:
                part += f", and {gaps} week{'s' if gaps > 1 else ''} without entries show as a gap"
            clauses.append(part)
        else:
            clauses.append(f"{name} has noted no practice yet")
    _layout(figure, "How practice went")
    step = max(1, math.ceil(len(weeks) / MAX_DATE_TICKS))
    # Two panels on one week axis: the 0-10 ratings above, the share of yes answers below.
    figure.update_layout(
        height=460,
        yaxis={
            "domain": [0.55, 1],
            "range": [CHECKIN_MIN, CHECKIN_MAX],
            "title_text": "Mean rating (0-10)",
            "dtick": 2,
        },
        yaxis2={
            "domain": [0, 0.42],
            "range": [0, 100],
            "title_text": "Yes (%)",
            "ticksuffix": "%",
            "anchor": "x",
        },
    )
    # The week axis sits under the lower panel, so its ticks and title never run into the yes-share points.
    figure.update_xaxes(title_text="Week", tickformat="%-d %b", tickvals=weeks[::step], anchor="y2")
    figure.update_yaxes(automargin=True)
    clauses.append(f"ratings run {CHECKIN_MIN} to {CHECKIN_MAX}, {CHECKIN_DIRECTION}")
    return Chart(figure, _sentence(clauses), table)


def _week(day: date) -> date:
    """The Monday of a day's week (check-in weeks start on Monday too)."""
    return day - timedelta(days=day.weekday())


def _weekly(notes: Sequence[PracticeNote], kind: str) -> dict[date, float]:
    """The mean value per week of the notes of one kind (a yes/no mean is the share of yes)."""
    sums: dict[date, list[float]] = {}
    for note in notes:
        if note.kind == kind:
            sums.setdefault(_week(note.day), []).append(note.value)
    return {week: sum(values) / len(values) for week, values in sums.items()}


# ---- shared pieces --------------------------------------------------------------------------------


def plot_text(text: str) -> str:
    """Text for a string Plotly renders (trace and legend names, ticks, hover text, annotations): Plotly
    reads a subset of HTML there (<a href> makes a link, <span style> can cover the chart), so `&`, `<` and
    `>` become entities, which it shows as the characters typed. `%{` is broken up too, so no placeholder
    can ever be filled if the text reaches a template."""
    return html.escape(text, quote=False).replace("%{", "%&#123;")


def _names(partners: Sequence[Partner]) -> list[str]:
    """Partners' display names, numbered when two share a name so their rows and legend entries differ."""
    names = [p.name for p in partners]
    if len(set(names)) < len(names):
        return [f"{name} ({number})" for number, name in enumerate(names, start=1)]
    return names


def _not_sent(data: ProgressData, instrument: Instrument) -> str:
    if len(data.partners) < 2:
        return (
            f"Charts of the questionnaire “{instrument.title}” appear once your partner has joined "
            "and you have both sent it."
        )
    return f"Charts of the questionnaire “{instrument.title}” appear once you have both sent it."


def _raw_score(filling: Filling, partner: Partner, subscale: str) -> float | None:
    """A partner's subscale score in a filling as scored, unrounded (None when too few answers)."""
    return filling.scores.get(partner.person_id, {}).get(subscale)


def _score(filling: Filling, partner: Partner, subscale: str) -> float | None:
    """A partner's subscale score in a filling, rounded for display (None when too few answers)."""
    value = filling.scores.get(partner.person_id, {}).get(subscale)
    return None if value is None else round(value, 1)


def _instrument_range(instrument: Instrument) -> tuple[float, float]:
    """One axis range that holds every subscale's full score range."""
    ranges = [score_range(instrument, s.key) for s in instrument.subscales]
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def _score_title(instrument: Instrument, low: float, high: float) -> str:
    """The score axis: short enough for a phone, with the range and, when all agree, which way is better."""
    what = "Average" if instrument.aggregate == "mean" else "Total"
    span = f"{_fmt(low, whole=True)}-{_fmt(high, whole=True)}"
    directions = {s.direction for s in instrument.subscales}
    return f"{what} ({span}, {directions.pop()})" if len(directions) == 1 else f"{what} score ({span})"


def _subscale_title(instrument: Instrument, subscale: Subscale) -> str:
    """One subscale's score axis: "Total (0-16, higher is better)"."""
    low, high = score_range(instrument, subscale.key)
    what = "Average" if instrument.aggregate == "mean" else "Total"
    return f"{what} ({_fmt(low, whole=True)}-{_fmt(high, whole=True)}, {subscale.direction})"


def _band(
    figure: go.Figure,
    instrument: Instrument,
    subscale: Subscale,
    *,
    across: tuple[float, float],
    scores_up: bool = False,
) -> None:
    """Shade a subscale's concern range (the side of its cut-off that is of concern), if it declares one:
    `across` the other axis (of the plot's width when scores run up the y axis, else of y)."""
    if (concern := _concern_range(instrument, subscale)) is None:
        return
    start, end, label = concern
    # Scores run along x, or up y. Bars would hide a label inside the band, so it is named in the legend.
    if scores_up:
        place: dict[str, object] = {"xref": "paper", "x0": across[0], "x1": across[1], "y0": start, "y1": end}
    else:
        place = {"xref": "x", "x0": start, "x1": end, "y0": across[0], "y1": across[1]}
    figure.add_shape(
        type="rect",
        yref="y",
        **place,
        showlegend=True,
        legendgroup=label,
        name=label,
        fillcolor=BAND_COLOUR,
        opacity=0.25,
        line={"width": 0},
        layer="below",
    )


def _bar_marker(style: PartnerStyle, *, lighter: bool = False) -> dict[str, Any]:
    return {
        "color": _tint(style.colour, START_TINT) if lighter else style.colour,
        "line": {"color": style.colour, "width": 1},
        "pattern": {"shape": style.pattern, "fillmode": "overlay", "fgcolor": "#FFFFFF", "solidity": 0.3},
    }


def _tint(colour: str, white: float) -> str:
    """A colour mixed with a share of white, as #RRGGBB."""
    channels = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * white):02X}" for c in channels)


def _layout(figure: go.Figure, title: str) -> None:
    """The look every chart shares, made to fit a 390 px phone: plain template, the title alone at the top
    (the page hides Plotly's toolbar), the legend in rows at the very bottom under the axis title, tick
    labels horizontal, and axis titles that make room for themselves. Call it once the traces are in."""
    # Plotly lets a horizontal legend grow only as wide as the plot area (about half a phone's width beside
    # row labels, which is why those wrap): three entries or more may take two rows; the margin keeps room.
    entries = len(figure.data) + sum(1 for shape in figure.layout.shapes if shape.showlegend)
    legend_rows = 1 if entries <= 2 else 2
    figure.update_layout(
        template="simple_white",
        title={
            "text": title,
            "x": 0,
            "xanchor": "left",
            "pad": {"l": 8},
            "yref": "container",
            "y": 0.98,
            "yanchor": "top",
        },
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0,
            # From the figure's left edge, under the title, not from the plot's (halfway across a phone
            # beside long row labels).
            "xref": "container",
            "xanchor": "left",
            "x": 0.02,
        },
        margin={"t": 50, "b": 70 + 28 * legend_rows, "l": 10, "r": 10},
    )
    figure.update_xaxes(tickangle=0, automargin=True, title_standoff=8)
    figure.update_yaxes(automargin=True)


def _row_label(text: str) -> str:
    """A category label (a stage, an area) on lines of about ROW_CHARS characters, so that on a phone the
    labels leave the plot most of the width."""
    return "<br>".join(plot_text(line) for line in textwrap.wrap(text, ROW_CHARS))


def _wrap(text: str) -> str:
    """Item text shortened to about LABEL_CHARS characters, on lines of about half that."""
    return "<br>".join(plot_text(line) for line in textwrap.wrap(_shorten(text), LABEL_CHARS // 2))


def _shorten(text: str) -> str:
    """Text cut at a word to at most LABEL_CHARS characters, ending in an ellipsis when cut."""
    short = textwrap.shorten(text, LABEL_CHARS, placeholder="…")
    return short if short == text else short[:-1].rstrip(",;:") + "…"


def _percent(done: int, total: int) -> int:
    """A share as a whole percentage (counts and percentages are whole numbers everywhere)."""
    return round(100 * done / total) if total else 0


def _fmt(value: float, *, whole: bool = False) -> str:
    """The one number format: scores (means) with one decimal, so 4.0 sits beside 4.2 and never 4 or
    4.20; counts, percentages and the ends of a scale as whole numbers."""
    return f"{value:.0f}" if whole else f"{value:.1f}"


def _range_label(instrument: Instrument, subscale: Subscale) -> str:
    """A score's range and which way is better, in plain words: "1 to 7, higher is better"."""
    low, high = score_range(instrument, subscale.key)
    return f"{_fmt(low, whole=True)} to {_fmt(high, whole=True)}, {subscale.direction}"


def _sentence(clauses: list[str]) -> str:
    text = "; ".join(clauses)
    return text[:1].upper() + text[1:] + "."


# ---- session feedback (the therapist's view only) -------------------------------------------------

FEEDBACK_MIN, FEEDBACK_MAX = 0, 10
LOWEST_SYMBOLS = ("circle-open", "square-open")


def session_feedback(
    partners: Sequence[Partner],
    held: Sequence[date],
    ratings: Sequence[SessionFeedbackView],
    labels: Mapping[str, str],
) -> Chart | EmptyChart:
    """Each partner's overall rating of each session held, with the lowest of their four ratings beside it.

    Overall plus the lowest item rather than all four: eight lines do not read on a phone, the overall item
    is the partner's own summary, and the lowest item shows where a session fell short for them, which is
    what a low rating or a split between partners calls for. The table holds all four items. `labels` are
    the items' short names by key (session_feedback.toml). For the therapist only: a partner never sees
    the other's ratings.
    """
    partners = partners[:2]
    days = sorted(set(held))
    if not days:
        return EmptyChart(
            "No sessions marked held yet. Mark one above, and each partner is asked to rate it privately."
        )
    names = _names(partners)
    by_person: list[dict[date, SessionFeedbackView]] = [
        {r.held_on: r for r in ratings if r.person_id == p.person_id} for p in partners
    ]
    if not any(by_person):
        return EmptyChart(
            "No ratings yet. Each partner is asked on their home page for 14 days after a session."
        )
    keys = list(labels)
    figure = go.Figure()
    for name, style, symbol, points in zip(names, STYLES, LOWEST_SYMBOLS, by_person, strict=False):
        if not points:
            continue
        figure.add_trace(
            _partner_line(
                f"{plot_text(name)}: overall",
                style,
                x=days,
                y=[points[d].overall if d in points else None for d in days],
                size=9,
                hovertemplate="Session of %{x|%-d %b %Y}: overall %{y:.0f}" + WHO,
            )
        )
        lowest = {d: _lowest(points[d], keys) for d in days if d in points}
        figure.add_trace(
            go.Scatter(
                x=days,
                y=[lowest[d][1] if d in lowest else None for d in days],
                name=f"{plot_text(name)}: lowest rating",
                mode="markers",
                marker={"color": style.colour, "symbol": symbol, "size": 11, "line": {"width": 2}},
                customdata=[plot_text(labels[lowest[d][0]]) if d in lowest else "" for d in days],
                hovertemplate="Session of %{x|%-d %b %Y}: lowest %{customdata} %{y:.0f}" + WHO,
            )
        )
    _layout(figure, "Session feedback")
    step = math.ceil(len(days) / MAX_DATE_TICKS)
    figure.update_xaxes(title_text="Session", tickformat="%-d %b", tickvals=days[::step])
    # Half a point beyond each end, so a 0 or a 10 is drawn whole and not cut by the axis.
    figure.update_yaxes(
        title_text=f"Rating ({FEEDBACK_MIN}-{FEEDBACK_MAX}, higher is better)",
        range=[FEEDBACK_MIN - 0.5, FEEDBACK_MAX + 0.5],
        dtick=2,
    )
    table: list[dict[str, object]] = []
    for day in days:
        for name, points in zip(names, by_person, strict=False):
            rating = points.get(day)
            row: dict[str, object] = {"Session": day, "Partner": name}
            row.update({labels[k]: getattr(rating, k) if rating else None for k in keys})
            table.append(row)
    return Chart(figure, _feedback_caption(names, by_person, days, labels), table)


def _lowest(rating: SessionFeedbackView, keys: Sequence[str]) -> tuple[str, int]:
    """The item a partner rated lowest and its rating (the first in item order on a tie)."""
    values = [(key, int(getattr(rating, key))) for key in keys]
    return min(values, key=lambda pair: pair[1])


def _feedback_caption(
    names: list[str],
    by_person: list[dict[date, SessionFeedbackView]],
    days: list[date],
    labels: Mapping[str, str],
) -> str:
    latest = days[-1]
    when = f"{latest.day} {latest:%b %Y}"
    clauses: list[str] = []
    overall: list[int] = []
    for name, points in zip(names, by_person, strict=False):
        rating = points.get(latest)
        if rating is None:
            clauses.append(f"{name} hasn't rated it yet")
            continue
        key, low = _lowest(rating, list(labels))
        overall.append(rating.overall)
        clause = f"{name} rated it {rating.overall} overall"
        if low < rating.overall:
            clause += f", lowest “{labels[key]}” at {low}"
        clauses.append(clause)
    text = f"Session of {when} (ratings 0 to 10, higher is better): " + "; ".join(clauses)
    if len(overall) == 2 and abs(overall[0] - overall[1]) >= 3:
        text += f"; their overall ratings are {abs(overall[0] - overall[1])} apart, worth asking about"
    return text + "."


# ---- shared couple goals, rated at each stage's end ------------------------------------------------

GOAL_MIN, GOAL_MAX = 0, 10
GOALS_TITLE = "Our shared goals"


def goal_ratings(data: ProgressData, program: Program) -> list[tuple[str, Chart | EmptyChart]]:
    """For each goal the couple agreed, each partner's 0-10 rating of progress on it at the end of every
    stage (all stages on the axis, in program order, so the ratings to come have their place); nothing
    before a goal is agreed."""
    return [
        (GOALS_TITLE, _goal_chart(number, goal.body, goal.ratings, data.partners[:2], program.stages))
        for number, goal in enumerate(data.goals, start=1)
    ]


def _goal_chart(
    number: int,
    body: str,
    ratings: Mapping[tuple[int, str], int],
    partners: Sequence[Partner],
    stages: Sequence[Stage],
) -> Chart:
    names = _names(partners)
    labels = [_row_label(stage.title) for stage in stages]
    figure = go.Figure()
    table: list[dict[str, object]] = []
    clauses: list[str] = []
    for partner, name, style in zip(partners, names, STYLES, strict=False):
        values = [ratings.get((partner.person_id, stage.key)) for stage in stages]
        figure.add_trace(
            _partner_line(
                plot_text(name),
                style,
                x=labels,
                y=values,
                size=9,
                hovertemplate="%{y:.0f}" + WHO,
            )
        )
        given = [(stage, v) for stage, v in zip(stages, values, strict=True) if v is not None]
        table.extend({"Stage": stage.title, "Partner": name, "Rating (0-10)": v} for stage, v in given)
        if not given:
            clauses.append(f"{name} hasn't rated it yet")
        elif len(given) == 1:
            clauses.append(f"{name} rated it {given[0][1]} after {given[0][0].title}")
        else:
            clauses.append(
                f"{name} went from {given[0][1]} after {given[0][0].title} "
                f"to {given[-1][1]} after {given[-1][0].title}"
            )
    _layout(figure, _wrap(f"Goal {number}: {body}"))
    figure.update_layout(margin={"t": 80})  # room for a goal's text on two lines
    figure.update_xaxes(title_text="At the end of", type="category")
    figure.update_yaxes(
        title_text=f"Progress on this goal ({GOAL_MIN}-{GOAL_MAX})",
        range=[GOAL_MIN - 0.5, GOAL_MAX + 0.5],
        dtick=2,
    )
    if not ratings:
        clauses = [
            "neither of you has rated it yet: you each rate it at the end of every stage, after its end check"
        ]
    clauses.append(f"progress runs {GOAL_MIN} to {GOAL_MAX}, higher is more progress")
    return Chart(figure, f"Goal {number}, “{body}”: " + _sentence(clauses), table)
