"""Progress charts: traces, axes, captions, tables and empty states, from ProgressData built by hand."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import plotly.io as pio
import pytest

from program.charts.figures import (
    MEAN_NAME,
    Chart,
    EmptyChart,
    added_trends,
    checkin_trends,
    domain_profile,
    outcome_trajectory,
    perception_gap,
    practice_trends,
    stage_changes,
    stage_progress,
)
from program.charts.progress_data import DatedScores, Filling, Partner, PracticeNote, ProgressData
from program.course import journey, scoring
from program.course.curriculum import Instrument, Program, Subscale, load_instruments, load_program
from program.privacy.access import CheckInView

PROGRAM = load_program()
GOLDEN = load_instruments(Path(__file__).resolve().parents[1] / "golden")
BASELINE = PROGRAM.instruments[PROGRAM.assessment.overview.questionnaire]
ANA, BEN = Partner(1, "Ana"), Partner(2, "Ben")
WEEKS = [date(2026, 11, 2) + timedelta(weeks=n) for n in range(4)]
BLUE, ORANGE, GREY = "#0072B2", "#E69F00", "#555555"


def _data(
    partners: tuple[Partner, ...] = (ANA, BEN),
    checkins: tuple[CheckInView, ...] = (),
    fillings: tuple[Filling, ...] = (),
    steps_done: dict[int, dict[str, int]] | None = None,
) -> ProgressData:
    return ProgressData(
        couple_id=7,
        partners=partners,
        checkins=checkins,
        fillings=fillings,
        steps_done=steps_done or {},
        steps_total={stage: len(journey.stage_steps(PROGRAM, stage)) for stage in journey.ORDER},
    )


def _checkin(
    partner: Partner, week: int, overall: int, closeness: int = 5, note: str | None = None
) -> CheckInView:
    return CheckInView(partner.person_id, WEEKS[week], closeness, 5, 5, 5, overall, note)


def _answered(
    instrument: Instrument, occasion: str, answers: dict[Partner, dict[str, int | None]], day: int = 0
) -> Filling:
    """A filling from item answers, scored the way load_progress scores them."""
    return Filling(
        instrument=instrument.key,
        occasion=occasion,
        sent_on={p.person_id: date(2026, 11, 2) + timedelta(days=day) for p in answers},
        answers={p.person_id: a for p, a in answers.items()},
        scores={
            p.person_id: {k: s.score for k, s in scoring.score(instrument, a).items()}
            for p, a in answers.items()
        },
    )


def _scored(
    instrument: str, occasion: str, scores: Mapping[Partner, Mapping[str, float | None]], day: int = 0
) -> Filling:
    """A filling with subscale scores given directly."""
    return Filling(
        instrument=instrument,
        occasion=occasion,
        sent_on={p.person_id: date(2026, 11, 2) + timedelta(days=day) for p in scores},
        answers={p.person_id: {} for p in scores},
        scores={p.person_id: dict(s) for p, s in scores.items()},
    )


def _with_baseline(key: str) -> Program:
    """The shipped program with the golden test instruments added and one of them as the baseline."""
    overview = PROGRAM.assessment.overview.model_copy(update={"questionnaire": key})
    return PROGRAM.model_copy(
        update={
            "instruments": {**PROGRAM.instruments, **GOLDEN},
            "assessment": PROGRAM.assessment.model_copy(update={"overview": overview}),
        }
    )


def _chart(result: Chart | EmptyChart) -> Chart:
    assert isinstance(result, Chart), result
    return result


def _trace(chart: Chart, name: str) -> Any:
    return next(t for t in chart.figure.data if t.name == name)


def _unwrapped(labels: Any) -> list[str]:
    """Axis labels as one line each (long ones are wrapped with <br> to fit a phone)."""
    return [label.replace("<br>", " ") for label in labels]


def _assert_common_layout(chart: Chart) -> None:
    layout = chart.figure.layout
    assert layout.template == pio.templates["simple_white"]
    assert layout.legend.orientation == "h" and layout.legend.yref == "container" and layout.legend.y == 0
    assert layout.title.text
    assert chart.caption.count(". ") == 0 and chart.caption.endswith(".")


# ---- check-in trends ------------------------------------------------------------------------------


def test_checkin_trends_draw_each_partner_and_the_couples_mean() -> None:
    """A line per partner in their own colour, dash and marker; a grey dotted mean for weeks both answered."""
    checkins = (
        _checkin(ANA, 0, 5),
        _checkin(BEN, 0, 6),
        _checkin(ANA, 1, 6),
        _checkin(ANA, 2, 7),
        _checkin(BEN, 2, 5),
        _checkin(BEN, 3, 6),
    )
    chart = _chart(checkin_trends(_data(checkins=checkins)))
    assert [t.name for t in chart.figure.data] == ["Ana", "Ben", MEAN_NAME]
    ana, ben, mean = chart.figure.data
    # Every week on every line; a week without a check-in is None, a gap.
    assert list(ana.x) == WEEKS and list(ana.y) == [5, 6, 7, None]
    assert list(ben.x) == WEEKS and list(ben.y) == [6, None, 5, 6]
    assert (ana.line.color, ana.line.dash, ana.marker.symbol) == (BLUE, "solid", "circle")
    assert (ben.line.color, ben.line.dash, ben.marker.symbol) == (ORANGE, "dash", "square")
    assert list(mean.x) == WEEKS and list(mean.y) == [5.5, None, 6.0, None]
    assert (mean.line.color, mean.line.dash) == (GREY, "dot")
    assert all("%{x|" in t.hovertemplate for t in chart.figure.data)
    assert (ana.hovertemplate.count("%{y:.0f}"), mean.hovertemplate.count("%{y:.1f}")) == (1, 1)
    layout = chart.figure.layout
    assert tuple(layout.yaxis.range) == (0, 10)
    assert list(layout.xaxis.tickvals) == WEEKS  # four weeks: a tick each
    assert layout.yaxis.title.text == "Overall rating (0-10)" and layout.xaxis.title.text == "Week"
    _assert_common_layout(chart)
    assert chart.caption == (
        "Ana's overall rating (0 to 10, higher is better) went from 5 to 7 since the first week; "
        "Ben's from 6 to 6; Ben missed 1 week, shown as a gap in the line."
    )
    assert chart.table == [
        {"Week": WEEKS[0], "Ana": 5, "Ben": 6, MEAN_NAME: 5.5},
        {"Week": WEEKS[1], "Ana": 6, "Ben": None, MEAN_NAME: None},
        {"Week": WEEKS[2], "Ana": 7, "Ben": 5, MEAN_NAME: 6.0},
        {"Week": WEEKS[3], "Ana": None, "Ben": 6, MEAN_NAME: None},
    ]


def test_checkin_trends_draw_the_chosen_rating_with_its_label() -> None:
    """Another rating is read from its own field; the axis and caption use its label, with "rating" added."""
    checkins = (
        _checkin(ANA, 0, 5, closeness=2),
        _checkin(ANA, 1, 5, closeness=8),
        _checkin(BEN, 0, 5, closeness=4),
    )
    chart = _chart(checkin_trends(_data(checkins=checkins), "closeness", "Closeness"))
    assert list(_trace(chart, "Ana").y) == [2, 8] and list(_trace(chart, MEAN_NAME).y) == [3.0, None]
    assert chart.figure.layout.yaxis.title.text == "Closeness rating (0-10)"
    assert chart.caption == (
        "Ana's closeness rating (0 to 10, higher is better) went from 2 to 8 since the first week; "
        "Ben's is 4 so far."
    )
    with pytest.raises(ValueError, match="unknown check-in rating"):
        checkin_trends(_data(checkins=checkins), "mood")


def test_checkin_notes_never_reach_a_chart() -> None:
    """A note shared with the viewer is still never drawn, tabled or captioned."""
    checkins = (_checkin(ANA, 0, 5, note="private words"), _checkin(BEN, 0, 6, note="more private words"))
    chart = _chart(checkin_trends(_data(checkins=checkins)))
    assert "private words" not in chart.figure.to_json()
    assert "private words" not in repr(chart.table) + chart.caption


def test_a_partner_without_checkins_gets_no_line_and_a_word_in_the_caption() -> None:
    """Ana's line is drawn; Ben has none and no mean, and the caption says his line comes after his first."""
    chart = _chart(checkin_trends(_data(checkins=(_checkin(ANA, 0, 5), _checkin(ANA, 1, 7)))))
    assert [t.name for t in chart.figure.data] == ["Ana"]
    assert chart.caption == (
        "Ana's overall rating (0 to 10, higher is better) went from 5 to 7 since the first week; "
        "Ben hasn't done a check-in yet, and their line appears after their first one."
    )
    assert chart.table == [
        {"Week": WEEKS[0], "Ana": 5, "Ben": None, MEAN_NAME: None},
        {"Week": WEEKS[1], "Ana": 7, "Ben": None, MEAN_NAME: None},
    ]


def test_checkin_trends_empty_states() -> None:
    """No couple, or no check-ins at all: a message instead of an empty chart; alone: your own line."""
    assert checkin_trends(_data(partners=())) == EmptyChart(
        "Check-in trends appear once you have done your first weekly check-in."
    )
    assert checkin_trends(_data()) == EmptyChart(
        "No check-ins yet: the lines appear after your first weekly check-ins."
    )
    solo = _chart(checkin_trends(_data(partners=(ANA,), checkins=(_checkin(ANA, 0, 4),))))
    assert [t.name for t in solo.figure.data] == ["Ana"]
    assert solo.caption == (
        "Ana's overall rating (0 to 10, higher is better) is 4 so far; "
        "your partner's line appears once they have joined and done a check-in."
    )


# ---- domain profile -------------------------------------------------------------------------------

START = {"communication": 4.0, "conflict": 3.5, "trust": 6.2, "connection": 5.0, "satisfaction": 5.6}
LATEST = {"communication": 5.5, "conflict": 4.0, "trust": 6.0, "connection": 5.0, "satisfaction": 6.0}
BEN_START = {"communication": 5.0, "conflict": 4.0, "trust": 4.0, "connection": 4.2, "satisfaction": 5.0}
BEN_LATEST = {"communication": 5.0, "conflict": 4.8, "trust": 4.0, "connection": 4.0, "satisfaction": 5.0}


def test_domain_profile_groups_start_and_latest_bars_per_partner() -> None:
    """Four bar traces over the subscales on the full 1-7 range; partners differ by colour and pattern."""
    fillings = (
        _scored(BASELINE.key, "baseline", {ANA: START, BEN: BEN_START}),
        _scored(BASELINE.key, "extra:2026-12-01", {ANA: START, BEN: BEN_START}, day=20),
        _scored(BASELINE.key, "extra:2027-01-10", {ANA: LATEST, BEN: BEN_LATEST}, day=60),
    )
    chart = _chart(domain_profile(_data(fillings=fillings), PROGRAM))
    assert [t.name for t in chart.figure.data] == ["Ana, start", "Ana, latest", "Ben, start", "Ben, latest"]
    titles = [s.title for s in BASELINE.subscales]
    for trace, scores in zip(chart.figure.data, (START, LATEST, BEN_START, BEN_LATEST), strict=True):
        assert trace.type == "bar" and trace.orientation == "h" and _unwrapped(trace.y) == titles
        assert trace.base == 1  # bars grow from the scale's minimum: their length is the score above it
        assert list(trace.x) == pytest.approx([scores[s.key] - 1 for s in BASELINE.subscales])
    ana_start, ana_latest, ben_start, ben_latest = chart.figure.data
    assert (ana_start.marker.color, ana_latest.marker.color) == ("#8CC0DC", BLUE)  # start: a lighter tint
    assert (ben_start.marker.color, ben_latest.marker.color) == ("#F4D48C", ORANGE)
    assert {ana_start.marker.line.color, ana_latest.marker.line.color} == {BLUE}
    assert {ben_start.marker.line.color, ben_latest.marker.line.color} == {ORANGE}
    assert {ana_start.marker.pattern.shape, ana_latest.marker.pattern.shape} == {""}
    assert {ben_start.marker.pattern.shape, ben_latest.marker.pattern.shape} == {"/"}
    layout = chart.figure.layout
    assert layout.barmode == "group"
    assert tuple(layout.xaxis.range) == (1, 7)
    assert layout.xaxis.title.text == "Average (1-7, higher is better)"
    assert layout.yaxis.autorange == "reversed" and not layout.shapes  # the baseline declares no cut-offs
    _assert_common_layout(chart)
    assert chart.caption == (
        "Since the start, Ana's biggest change is in Communication from 4.0 to 5.5 "
        "(1 to 7, higher is better); "
        "Ben's in Handling conflict from 4.0 to 4.8."
    )
    assert chart.table[0] == {
        "Area": "Communication", "Partner": "Ana", "Start": 4.0, "Latest": 5.5,
        "Range": "1 to 7, higher is better", "In the concern range": None,
    }  # fmt: skip
    assert [(r["Partner"], r["Start"], r["Latest"]) for r in chart.table if r["Area"] == "Trust"] == [
        ("Ana", 6.2, 6.0),
        ("Ben", 4.0, 4.0),
    ]


def test_domain_profile_with_one_filling_shows_start_bars_only() -> None:
    """Sent once: the start bars at full strength, and the caption names each partner's highest area."""
    chart = _chart(
        domain_profile(
            _data(fillings=(_scored(BASELINE.key, "baseline", {ANA: START, BEN: BEN_START}),)), PROGRAM
        )
    )
    assert [t.name for t in chart.figure.data] == ["Ana, start", "Ben, start"]
    assert [t.marker.color for t in chart.figure.data] == [BLUE, ORANGE]
    assert (
        chart.caption == "At the start, Ana scored highest on Trust 6.2 of 7 (1 to 7, higher is better); "
        "Ben on Communication 5.0 of 7."
    )
    assert set(chart.table[0]) == {"Area", "Partner", "Start", "Range", "In the concern range"}


def test_domain_profile_shades_declared_concern_ranges() -> None:
    """A sum-scored baseline with cut-offs: full 0-16 axis and one labelled band per subscale, on its side."""
    program = _with_baseline("test-instrument")
    filling = _scored(
        "test-instrument",
        "baseline",
        {ANA: {"warmth": 6.0, "strain": 9.0}, BEN: {"warmth": 12.0, "strain": None}},
    )
    chart = _chart(domain_profile(_data(fillings=(filling,)), program))
    layout = chart.figure.layout
    assert tuple(layout.xaxis.range) == (0, 16) and layout.xaxis.title.text == "Total score (0-16)"
    assert [r["Range"] for r in chart.table] == ["0 to 16, higher is better"] * 2 + [
        "0 to 12, lower is better"
    ] * 2
    warmth, strain = layout.shapes
    assert (warmth.x0, warmth.x1, warmth.y0, warmth.y1) == (0, 8.0, -0.5, 0.5)
    assert (strain.x0, strain.x1, strain.y0, strain.y1) == (7.5, 12, 0.5, 1.5)
    assert (warmth.name, strain.name) == ("Fictional low-warmth range", "Fictional high-strain range")
    assert warmth.showlegend and strain.showlegend  # named in the legend, where bars cannot hide the label
    assert list(_trace(chart, "Ben, start").x) == [12.0, None]
    assert [r["In the concern range"] for r in chart.table] == [True, False, True, None]


def test_domain_profile_waits_until_both_sent_the_questionnaire() -> None:
    """Not sent by both: a message naming the questionnaire, and whether the partner still has to join."""
    assert domain_profile(_data(), PROGRAM) == EmptyChart(
        "Charts of the questionnaire “How things are between you” appear once you have both sent it."
    )
    alone = domain_profile(_data(partners=(ANA,)), PROGRAM)
    assert (
        isinstance(alone, EmptyChart)
        and "once your partner has joined and you have both sent it" in alone.message
    )


# ---- perception gap -------------------------------------------------------------------------------


def _baseline_answers(changes: Mapping[int, int | None]) -> dict[str, int | None]:
    """Every baseline item answered 4, except the items at the given positions."""
    return {item.key: changes.get(n, 4) for n, item in enumerate(BASELINE.items)}


def test_perception_gap_lists_the_biggest_differences_first() -> None:
    """From the latest filling: biggest difference first, ties in item order, one bar trace per partner."""
    earlier = _answered(
        BASELINE, "baseline", {ANA: _baseline_answers({0: 1}), BEN: _baseline_answers({0: 7})}
    )
    latest = _answered(
        BASELINE,
        "extra:2027-01-10",
        {ANA: _baseline_answers({1: 1, 3: 2, 6: 5, 9: 6}), BEN: _baseline_answers({1: 5, 3: 6, 6: 7, 9: 3})},
        day=60,
    )
    chart = _chart(perception_gap(_data(fillings=(earlier, latest)), PROGRAM, top=3))
    picked = [
        BASELINE.items[n] for n in (1, 3, 9)
    ]  # differences 4, 4, 3 (item 6 differs by 2; item 0 is old)
    assert [row["Statement"] for row in chart.table] == [item.text for item in picked]
    assert [(row["Ana"], row["Ben"], row["Difference"]) for row in chart.table] == [
        (1, 5, 4),
        (2, 6, 4),
        (6, 3, 3),
    ]
    ana, ben = chart.figure.data
    assert (ana.name, ben.name) == ("Ana", "Ben") and ana.orientation == ben.orientation == "h"
    assert list(ana.x) == [0, 1, 5] and list(ben.x) == [4, 5, 2] and ana.base == ben.base == 1
    assert ana.texttemplate == "%{customdata[1]}"  # the answer as text: an answer of 1 is a bar of no length
    assert [c[0] for c in ana.customdata] == [item.text for item in picked]
    assert (ana.marker.color, ben.marker.color, ben.marker.pattern.shape) == (BLUE, ORANGE, "/")
    layout = chart.figure.layout
    assert tuple(layout.xaxis.range) == (1, 7) and list(layout.xaxis.tickvals) == [1, 2, 3, 4, 5, 6, 7]
    assert layout.xaxis.title.text == "Answer (1 to 7)"
    assert layout.yaxis.autorange == "reversed"
    _assert_common_layout(chart)
    assert chart.caption == (
        "The biggest difference is about “I can count on my partner to do what they say they will do.” "
        "(Ana answered 1, Ben 5; answers run from 1, Strongly disagree, to 7, Strongly agree): "
        "worth talking about gently."
    )


def test_perception_gap_shortens_long_statements() -> None:
    """Axis labels keep to about 60 characters, on short lines; the hover text keeps the whole statement."""
    latest = _answered(
        BASELINE, "baseline", {ANA: _baseline_answers({15: 1}), BEN: _baseline_answers({15: 7})}
    )
    chart = _chart(perception_gap(_data(fillings=(latest,)), PROGRAM))
    (label,) = chart.figure.data[0].y
    assert len(label.replace("<br>", " ")) <= 60 and label.endswith("…") and "<br>" in label
    assert chart.figure.data[0].customdata[0][0] == BASELINE.items[15].text
    assert "“After we talk something through, we understand each other…”" in chart.caption


def test_perception_gap_empty_states() -> None:
    """Not sent by both, or the same answers throughout: a message, not an empty chart."""
    assert perception_gap(_data(), PROGRAM) == EmptyChart(
        "Charts of the questionnaire “How things are between you” appear once you have both sent it."
    )
    same = _answered(BASELINE, "baseline", {ANA: _baseline_answers({}), BEN: _baseline_answers({2: None})})
    result = perception_gap(_data(fillings=(same,)), PROGRAM)
    assert isinstance(result, EmptyChart) and "same answer to every statement" in result.message


# ---- stage progress -------------------------------------------------------------------------------


def test_stage_progress_shows_the_share_of_steps_done_per_stage() -> None:
    """One horizontal bar trace per partner, stages in program order by title, 0-100%."""
    done = {ANA.person_id: {"assessment": 2, "communication": 3}, BEN.person_id: {"assessment": 1}}
    chart = _chart(stage_progress(_data(steps_done=done), PROGRAM))
    titles = [PROGRAM.assessment.title, *(s.title for s in PROGRAM.stages)]
    ana, ben = chart.figure.data
    assert (ana.name, ben.name) == ("Ana", "Ben") and _unwrapped(ana.y) == _unwrapped(ben.y) == titles
    assert ana.y[0] == "Getting started:<br>where you are now"  # long names wrap, leaving the plot room
    assert list(ana.x) == [100, 50, 0, 0, 0] and list(ben.x) == [50, 0, 0, 0, 0]
    assert (ana.marker.color, ana.marker.pattern.shape, ben.marker.color, ben.marker.pattern.shape) == (
        BLUE, "", ORANGE, "/"
    )  # fmt: skip
    layout = chart.figure.layout
    assert tuple(layout.xaxis.range) == (0, 100) and layout.xaxis.title.text == "Steps done (%)"
    assert ana.texttemplate == "%{x:.0f}%%{customdata[2]}"  # zero bars still say 0%
    _assert_common_layout(chart)
    assert chart.table[2] == {
        "Stage": "Talking and listening",
        "Partner": "Ana",
        "Steps done": 3,
        "Steps": 6,
        "Percent done": 50,
        "Homework": "homework not done",
    }
    total = sum(len(journey.stage_steps(PROGRAM, key)) for key in journey.ORDER)
    assert total == 28  # the assessment's 2, then each stage's checks, exercises and homework
    assert chart.caption == f"Ana has done 5 of the program's {total} steps and Ben 1."


def test_stage_progress_empty_states() -> None:
    """No couple, or nothing done yet: a message that says where to begin."""
    assert isinstance(stage_progress(_data(partners=()), PROGRAM), EmptyChart)
    nothing = stage_progress(_data(), PROGRAM)
    assert isinstance(nothing, EmptyChart) and "starting with the assessment" in nothing.message
    solo = _chart(
        stage_progress(_data(partners=(ANA,), steps_done={ANA.person_id: {"assessment": 1}}), PROGRAM)
    )
    assert [t.name for t in solo.figure.data] == ["Ana"] and "once they have joined" in solo.caption


# ---- change over the stages ----------------------------------------------------------------------


def _ws(warmth: float, strain: float | None) -> dict[str, float | None]:
    """Scores of the golden test instrument's two subscales."""
    return {"warmth": warmth, "strain": strain}


def test_the_stage_chart_judges_reliable_change_where_the_check_declares_reliability() -> None:
    """A stage check with published reliability: verdicts in hover, table and caption, and no chance note."""
    check = PROGRAM.instruments[PROGRAM.stage_by_key["trust"].check]
    # Jacobson-Truax with SD 1 and reliability 0.5: a change beyond 1.96 points is reliable.
    judged = check.model_copy(
        update={"subscales": [check.subscales[0].model_copy(update={"reliability": 0.5, "norm_sd": 1.0})]}
    )
    program = PROGRAM.model_copy(update={"instruments": {**PROGRAM.instruments, check.key: judged}})
    fillings = (
        _scored(check.key, "trust:start", {ANA: {"me": 2.0}, BEN: {"me": 5.0}}),
        _scored(check.key, "trust:end", {ANA: {"me": 6.5}, BEN: {"me": 4.0}}, day=30),
    )
    chart = _chart(stage_changes(_data(fillings=fillings), program))
    ana, ben = chart.figure.data
    assert ana.hovertext[1] == "Building trust, end: 6.5 of 7 (reliably better)"
    assert ben.hovertext[1] == "Building trust, end: 4.0 of 7 (no reliable change)"
    assert [r["Reliable change"] for r in chart.table] == ["reliably better", "no reliable change"]
    assert chart.caption == (
        "Ana went from 2.0 to 6.5 in “Building trust” (reliably better); "
        "Ben went from 5.0 to 4.0 in “Building trust” (no reliable change); "
        "scores run 1 to 7, higher is better."
    )


def test_partners_with_the_same_name_are_numbered() -> None:
    """Two partners called Sam get distinct legend entries and table columns."""
    sams = (Partner(1, "Sam"), Partner(2, "Sam"))
    checkins = (CheckInView(1, WEEKS[0], 5, 5, 5, 5, 3, None), CheckInView(2, WEEKS[0], 5, 5, 5, 5, 9, None))
    chart = _chart(checkin_trends(_data(partners=sams, checkins=checkins)))
    assert [t.name for t in chart.figure.data] == ["Sam (1)", "Sam (2)", MEAN_NAME]
    assert chart.table == [{"Week": WEEKS[0], "Sam (1)": 3, "Sam (2)": 9, MEAN_NAME: 6.0}]


# ---- names and texts are text, never HTML ---------------------------------------------------------

# Plotly renders a subset of HTML in trace names, legend entries, tick labels, annotations and hover text
# (<a href> becomes a link, <span style> can cover the chart), and fills %{...} placeholders in templates.
HOSTILE_ANA = Partner(1, '<a href="http://evil.example/a">Ana</a> %{customdata[0]}')
HOSTILE_BEN = Partner(2, '<img src="http://evil.example/i.png"><span style="font-size:90px">Ben</span>')
TAGS = ("<a", "<img", "<span", "</a", "</span")


def _strings(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a figure's dict, with where it sits (e.g. data.0.name)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")


def _every_chart_with_hostile_names() -> list[Chart]:
    check = PROGRAM.stage_by_key["communication"].check
    ana, ben = HOSTILE_ANA, HOSTILE_BEN
    data = _data(
        partners=(ana, ben),
        checkins=(_checkin(ana, 0, 5), _checkin(ben, 0, 6), _checkin(ana, 1, 7), _checkin(ben, 1, 4)),
        fillings=(
            _answered(BASELINE, "baseline", {ana: {i.key: 2 for i in BASELINE.items},
                                             ben: {i.key: 6 for i in BASELINE.items}}),
            _scored(check, "communication:start", {ana: {"me": 3.0, "us": 4.0}, ben: {"me": 4.4, "us": 3.6}}),
            _scored(check, "communication:end", {ana: {"me": 5.2, "us": 4.5}, ben: {"me": 4.0, "us": 4.0}}),
        ),
        steps_done={1: {journey.ASSESSMENT: 2}, 2: {journey.ASSESSMENT: 1}},
    )  # fmt: skip
    return [
        _chart(checkin_trends(data)),
        _chart(domain_profile(data, PROGRAM)),
        _chart(perception_gap(data, PROGRAM)),
        _chart(stage_progress(data, PROGRAM)),
        _chart(stage_changes(data, PROGRAM)),
    ]


def test_hostile_names_reach_no_chart_as_html_or_template() -> None:
    """Names with links, images, styled spans and template placeholders are escaped in every string Plotly
    renders (trace names, legend, hover text, annotations, ticks), and never pasted into a template."""
    for chart in [*_every_chart_with_hostile_names(), *_issue11_charts(HOSTILE_ANA, HOSTILE_BEN)]:
        figure = chart.figure.to_plotly_json()
        for where, text in _strings(figure):
            assert not any(tag in text for tag in TAGS), (
                f"{chart.figure.layout.title.text}: {where} = {text!r}"
            )
        names = [trace.name for trace in chart.figure.data if trace.name != MEAN_NAME]
        assert names and all("&lt;" in name for name in names), names
        # Plotly fills placeholders only in templates; no name may carry one into a template.
        for trace in chart.figure.data:
            template = trace.hovertemplate or ""
            assert "evil" not in template and "Ana" not in template and "Ben" not in template, template


def test_tables_and_captions_keep_names_as_typed() -> None:
    """The table alternative and the caption carry the name itself (shown as text by the page), not
    HTML entities a reader would see."""
    trends = _every_chart_with_hostile_names()[0]
    assert set(trends.table[0]) == {"Week", HOSTILE_ANA.name, HOSTILE_BEN.name, MEAN_NAME}
    assert HOSTILE_ANA.name in trends.caption and "&lt;" not in trends.caption


def test_hostile_names_are_shown_as_the_same_text_in_the_legend() -> None:
    """Escaping is exact: Plotly turns the entities back into the characters the person typed."""
    trends = _every_chart_with_hostile_names()[0]
    shown = [html.unescape(trace.name) for trace in trends.figure.data]
    assert shown[:2] == [HOSTILE_ANA.name, HOSTILE_BEN.name]


# ---- charts that tell the truth (issue 10) -------------------------------------------------------

TWO_DECIMALS = re.compile(r"\d\.\d\d")


def _every_chart() -> list[Chart]:
    """Every chart drawn from one couple with check-ins, baselines and two finished stages."""
    checks = {key: PROGRAM.stage_by_key[key].check for key in ("communication", "trust")}
    data = _data(
        checkins=(_checkin(ANA, 0, 5), _checkin(BEN, 0, 6), _checkin(ANA, 1, 7), _checkin(BEN, 3, 4)),
        fillings=(
            _scored(BASELINE.key, "baseline", {ANA: START, BEN: BEN_START}),
            _answered(BASELINE, "extra:2027-01-10", {ANA: _baseline_answers({1: 1, 3: 2}),
                                                     BEN: _baseline_answers({1: 5, 3: 6})}, day=60),
            _scored(checks["communication"], "communication:start",
                    {ANA: {"me": 3.0, "us": 4.0}, BEN: {"me": 4.4, "us": 3.6}}),
            _scored(checks["communication"], "communication:end",
                    {ANA: {"me": 5.2, "us": 4.5}, BEN: {"me": 4.0, "us": 4.0}}, day=30),
            _scored(checks["trust"], "trust:start", {ANA: {"me": 4.25, "partner": 5.0, "us": 4.0},
                                                     BEN: {"me": 5.0, "partner": 4.0, "us": 4.5}}, day=40),
            _scored(checks["trust"], "trust:end", {ANA: {"me": 4.5, "partner": 5.0, "us": 4.5},
                                                   BEN: {"me": 3.0, "partner": 4.0, "us": 4.5}}, day=50),
        ),
        steps_done={1: {journey.ASSESSMENT: 2}, 2: {journey.ASSESSMENT: 1}},
    )  # fmt: skip
    return [
        _chart(checkin_trends(data)),
        _chart(domain_profile(data, PROGRAM)),
        _chart(perception_gap(data, PROGRAM)),
        _chart(stage_progress(data, PROGRAM)),
        _chart(stage_changes(data, PROGRAM)),
    ]


def test_a_missed_week_leaves_a_gap_in_the_line_and_the_caption_says_so() -> None:
    """Ana skipped week 3: her line has None there and does not bridge it; the caption never fills it in."""
    checkins = (
        _checkin(ANA, 0, 5),
        _checkin(ANA, 1, 6),
        _checkin(ANA, 3, 8),
        _checkin(BEN, 0, 6),
        _checkin(BEN, 1, 6),
        _checkin(BEN, 2, 7),
        _checkin(BEN, 3, 7),
    )
    chart = _chart(checkin_trends(_data(checkins=checkins)))
    ana, ben, mean = chart.figure.data
    assert list(ana.x) == WEEKS and list(ana.y) == [5, 6, None, 8]
    assert list(ben.y) == [6, 6, 7, 7]
    assert list(mean.x) == WEEKS and list(mean.y) == [5.5, 6.0, None, 7.5]
    assert ana.connectgaps is False and mean.connectgaps is False
    assert chart.table[2] == {"Week": WEEKS[2], "Ana": None, "Ben": 7, MEAN_NAME: None}
    assert "Ana missed 1 week" in chart.caption
    assert "Ben missed" not in chart.caption


def test_axes_start_at_the_scale_minimum() -> None:
    """A 1-7 scale runs 1..7: bars grow from 1, not from 0 or from below the scale."""
    trends, profile, gap, _, stages = _every_chart()
    assert tuple(trends.figure.layout.yaxis.range) == (0, 10)  # the check-in scale is 0-10
    assert tuple(profile.figure.layout.xaxis.range) == (1, 7)
    assert {trace.base for trace in profile.figure.data} == {1}
    assert tuple(gap.figure.layout.xaxis.range) == (1, 7) and {t.base for t in gap.figure.data} == {1}
    assert tuple(stages.figure.layout.xaxis.range) == (1, 7)


def test_bars_from_the_scale_minimum_still_show_the_true_score() -> None:
    """The bar's length is the score above the minimum; the hover and table give the score itself."""
    fillings = (_scored(BASELINE.key, "baseline", {ANA: START, BEN: BEN_START}),)
    chart = _chart(domain_profile(_data(fillings=fillings), PROGRAM))
    ana = chart.figure.data[0]
    assert list(ana.x) == pytest.approx([START[s.key] - 1 for s in BASELINE.subscales])
    assert [c[0] for c in ana.customdata] == [f"{START[s.key]:.1f}" for s in BASELINE.subscales]
    assert "%{customdata[0]}" in ana.hovertemplate and "%{x}" not in ana.hovertemplate
    assert chart.table[0]["Start"] == 4.0


def test_captions_carry_the_direction_and_the_range_of_each_score() -> None:
    """Each caption says which way is better and what the scale runs from and to."""
    trends, profile, _, _, stages = _every_chart()
    assert "(0 to 10, higher is better)" in trends.caption
    assert "(1 to 7, higher is better)" in profile.caption
    assert "1 to 7, higher is better" in stages.caption
    assert "higher is better" in profile.figure.layout.xaxis.title.text


def test_a_lower_is_better_subscale_says_so() -> None:
    """The golden Strain subscale declares that lower is better, and its chart says so."""
    assert GOLDEN["test-instrument"].subscales[1].direction == "lower is better"
    assert BASELINE.subscales[0].direction == "higher is better"  # the default
    program = _with_baseline("test-instrument")
    filling = _scored("test-instrument", "baseline", {ANA: _ws(6, 9), BEN: _ws(12, 2)})
    chart = _chart(domain_profile(_data(fillings=(filling,)), program))
    assert "lower is better" in chart.caption or "lower is better" in str(chart.table)


def test_a_direction_that_contradicts_the_concern_range_is_refused() -> None:
    """Content check: a 'higher is better' subscale cannot have its concern range above the cut-off."""
    strain = GOLDEN["test-instrument"].subscales[1].model_dump()
    assert Subscale.model_validate(strain).direction == "lower is better"
    with pytest.raises(ValueError, match="concern range .*contradicts"):
        Subscale.model_validate({**strain, "direction": "higher is better"})
    with pytest.raises(ValueError, match="concern range .*contradicts"):
        Subscale.model_validate({**strain, "direction": "lower is better", "concern": "below"})
    with pytest.raises(ValueError, match="direction"):
        Subscale.model_validate({**strain, "direction": "better when odd"})


def test_one_number_format_everywhere() -> None:
    """Means have one decimal, counts and percentages none: never 4.25 or 4.20 beside 4.2."""
    for chart in [*_every_chart(), *_issue11_charts()]:
        shown = [chart.caption, repr(chart.table)]
        for trace in chart.figure.data:
            shown += [str(trace.hovertext or ""), str(trace.hovertemplate or ""), str(trace.customdata or "")]
            shown.append(str(getattr(trace, "texttemplate", "") or ""))
        for text in shown:
            assert not TWO_DECIMALS.search(text), (chart.figure.layout.title.text, text)
        for trace in chart.figure.data:  # a raw %{x} or %{y} over numbers shows them unformatted
            template = trace.hovertemplate or ""
            for axis in ("x", "y"):
                values = [v for v in (getattr(trace, axis) or ()) if v is not None]
                if values and all(isinstance(v, int | float) for v in values):
                    assert f"%{{{axis}}}" not in template, template
    profile = _every_chart()[1]
    assert "from 5.0 to 4.0" in profile.caption  # one decimal even when it is .0
    progress = _every_chart()[3]
    assert progress.table[0]["Percent done"] == 100 and isinstance(progress.table[0]["Percent done"], int)


def test_the_stage_chart_shows_start_and_end_per_partner_for_every_finished_stage() -> None:
    """One figure: a row per stage with both checks, each partner's start and end on it."""
    stages = _every_chart()[4]
    ana, ben = stages.figure.data
    # A row per subscale: each check scores "what I do" apart from "how we are" (and, for trust, my partner).
    talking, trust = (PROGRAM.stage_by_key[k].title for k in ("communication", "trust"))
    me, partner, us = "What I do", "What my partner does", "How we are together"
    titles = [
        f"{talking}: {me}",
        f"{talking}: {us}",
        f"{trust}: {me}",
        f"{trust}: {partner}",
        f"{trust}: {us}",
    ]
    assert _unwrapped(stages.figure.layout.yaxis.ticktext) == titles
    gap = None
    assert list(ana.x) == [
        3.0,
        5.2,
        gap,
        4.0,
        4.5,
        gap,
        4.2,
        4.5,
        gap,
        5.0,
        5.0,
        gap,
        4.0,
        4.5,
        gap,
    ]  # one decimal
    assert list(ben.x) == [4.4, 4.0, gap, 3.6, 4.0, gap, 5.0, 3.0, gap, 4.0, 4.0, gap, 4.5, 4.5, gap]
    assert list(ana.marker.symbol)[:2] == ["circle-open", "circle"]
    assert stages.figure.layout.height >= 150 + 60 * len(titles)  # room for labels wrapped to three lines
    assert [(r["Stage"], r["Partner"], r["Start"], r["End"]) for r in stages.table] == [
        (titles[0], "Ana", 3.0, 5.2),
        (titles[0], "Ben", 4.4, 4.0),
        (titles[1], "Ana", 4.0, 4.5),
        (titles[1], "Ben", 3.6, 4.0),
        (titles[2], "Ana", 4.2, 4.5),
        (titles[2], "Ben", 5.0, 3.0),
        (titles[3], "Ana", 5.0, 5.0),
        (titles[3], "Ben", 4.0, 4.0),
        (titles[4], "Ana", 4.0, 4.5),
        (titles[4], "Ben", 4.5, 4.5),
    ]
    assert ana.hovertext[1] == f"{titles[0]}, end: 5.2 of 7"


def test_the_stage_caption_says_which_stage_moved_most_for_whom_once() -> None:
    """Plain words: the stage that moved most for each partner, which way, and one note on chance."""
    caption = _every_chart()[4].caption
    assert caption == (
        "Ana moved most in “Talking and listening: What I do”, from 3.0 to 5.2 (better); "
        "Ben moved most in “Building trust: What I do”, from 5.0 to 3.0 (worse); "
        "scores run 1 to 7, higher is better. "
        "These short checks have no known reliability, so small changes may be chance."
    )
    assert "reliability judgement" not in caption
    assert caption.count("may be chance") == 1


def test_the_stage_chart_waits_for_a_stage_with_both_checks() -> None:
    """Only start checks so far: a message, not an empty figure."""
    check = PROGRAM.stage_by_key["trust"].check
    started = _scored(check, "trust:start", {ANA: {"me": 4.0}, BEN: {"me": 5.0}})
    result = stage_changes(_data(fillings=(started,)), PROGRAM)
    assert isinstance(result, EmptyChart) and "end check" in result.message


def test_charts_fit_a_phone() -> None:
    """At 390 px: horizontal ticks, a legend below the plot, axis titles that make room for themselves."""
    for chart in [*_every_chart(), *_issue11_charts()]:
        layout = chart.figure.layout
        where = layout.title.text
        assert layout.xaxis.tickangle == 0, where
        # The legend sits at the very bottom of the figure, below the axis title, in room kept for it.
        assert layout.legend.orientation == "h" and layout.legend.yref == "container", where
        assert (layout.legend.y, layout.legend.yanchor) == (0, "bottom") and layout.margin.b >= 90, where
        assert layout.legend.xref == "container", where  # from the figure's edge: a row, not a column
        assert layout.xaxis.automargin and layout.yaxis.automargin, where
        for axis in (layout.xaxis, layout.yaxis):
            assert len(axis.title.text or "") <= 40, (where, axis.title.text)
    trends = _every_chart()[0].figure.layout.xaxis
    assert trends.tickformat == "%-d %b" and trends.tickvals is not None and len(trends.tickvals) <= 5


def test_date_ticks_stay_few_over_a_long_history() -> None:
    """Twenty weeks of check-ins: at most five date ticks, so they read horizontally on a phone."""
    weeks = [date(2026, 1, 5) + timedelta(weeks=n) for n in range(20)]
    checkins = tuple(CheckInView(ANA.person_id, w, 5, 5, 5, 5, 6, None) for w in weeks)
    layout = _chart(checkin_trends(_data(checkins=checkins))).figure.layout
    assert 2 <= len(layout.xaxis.tickvals) <= 5 and layout.xaxis.tickangle == 0


# ---- the outcome measure over the program (issue 11) ----------------------------------------------

OUTCOME = GOLDEN["test-instrument"]  # warmth: 0-16, reliability .92, SD 5 (S_diff 2), cut-off 8 below
OUTCOME_PROGRAM = PROGRAM.model_copy(update={"instruments": {**PROGRAM.instruments, **GOLDEN}})
STAGE_1 = PROGRAM.stages[0]


def _outcome(ana: list[float | None], ben: list[float | None], occasions: list[str]) -> ProgressData:
    """Warmth scores of the outcome instrument at the given occasions, listed newest first on purpose."""
    fillings = tuple(
        _scored(OUTCOME.key, occasion, {ANA: _ws(a, 3.0), BEN: _ws(b, 3.0)}, day=10 * n)  # type: ignore[arg-type]
        for n, (occasion, a, b) in enumerate(zip(occasions, ana, ben, strict=True))
    )
    return _data(fillings=tuple(reversed(fillings)))


THREE = ["baseline", f"outcome:end:{STAGE_1.key}", "outcome:program-end"]


@pytest.mark.parametrize(
    ("before", "after", "verdict", "symbol", "words"),
    [
        (4.0, 10.0, "recovered", "star", "a reliable improvement that crossed the line (recovered)"),
        (9.0, 14.0, "improved", "triangle-up", "a reliable improvement (improved)"),
        (12.0, 6.0, "deteriorated", "triangle-down", "a reliable worsening (deteriorated)"),
        (10.0, 11.0, "unchanged", "circle-dot", "no reliable change (unchanged)"),
        (7.0, 9.0, "crossed without reliable change", "diamond",
         "over the line, but by no more than chance (crossed the line without a "
         "reliable change)"),
    ],
)  # fmt: skip
def test_the_outcome_chart_marks_and_says_reliable_and_clinically_significant_change(
    before: float, after: float, verdict: str, symbol: str, words: str
) -> None:
    """Crafted histories: Ana's latest point carries the verdict's marker, the hover, table and caption
    say it in words (start against latest, whatever lies between)."""
    data = _outcome([before, 8.0, after], [10.0, 10.0, 10.0], THREE)
    chart = _chart(outcome_trajectory(data, OUTCOME_PROGRAM, OUTCOME))
    ana, ben, mean = chart.figure.data
    assert list(ana.marker.symbol) == ["circle", "circle", symbol]
    assert list(ben.marker.symbol)[-1] == "circle-dot"  # Ben: 10 to 10, unchanged
    assert ana.hovertext[-1].endswith(f"({verdict})")
    assert [r["Change since the start"] for r in chart.table if r["Partner"] == "Ana"] == [
        None,
        None,
        verdict,
    ]
    assert (
        f"Ana went from {before:.1f} at “Start” to {after:.1f} at “End of the program”: {words}"
        in chart.caption
    )
    assert "no published reliability" not in chart.caption
    _assert_common_layout(chart)


def test_the_verdict_is_judged_on_the_true_score_not_the_one_rounded_for_display() -> None:
    """7.96 shows as 8.0, the cut-off, yet it is below the line: a reliable improvement that did not cross
    it (judged on 7.96, "recovered" would be claimed for a score still in the range of concern)."""
    data = _outcome([4.0, 6.0, 7.96], [10.0, 10.0, 10.0], THREE)
    chart = _chart(outcome_trajectory(data, OUTCOME_PROGRAM, OUTCOME))
    ana = chart.figure.data[0]
    assert ana.hovertext[-1].endswith("(improved)"), ana.hovertext[-1]
    assert (
        "Ana went from 4.0 at “Start” to 8.0 at “End of the program”: a reliable improvement (improved)"
        in (chart.caption)
    )


def test_the_outcome_chart_follows_the_occasions_in_order_with_the_couples_mean_and_band() -> None:
    """x is the occasions' labels in program order (not the order sent), the mean only where both have a
    score, the y axis the subscale's full range from its minimum, and the cut-off band shaded."""
    data = _outcome([4.0, None, 10.0], [6.0, 9.0, 12.0], THREE)
    chart = _chart(outcome_trajectory(data, OUTCOME_PROGRAM, OUTCOME))
    ana, ben, mean = chart.figure.data
    assert _unwrapped(ana.x) == ["Start", "After stage 1", "End"]  # short, to fit seven on a phone
    assert [h.split(":")[0] for h in ana.hovertext] == [
        "Start",
        f"After {STAGE_1.title}",
        "End of the program",
    ]
    assert list(ana.y) == [4.0, None, 10.0] and ana.connectgaps is False
    assert list(ben.y) == [6.0, 9.0, 12.0] and mean.name == MEAN_NAME and list(mean.y) == [5.0, None, 11.0]
    assert (ana.marker.color, ana.line.dash, ben.marker.color, ben.line.dash) == (
        BLUE,
        "solid",
        ORANGE,
        "dash",
    )
    layout = chart.figure.layout
    assert (
        tuple(layout.yaxis.range) == (0, 16) and layout.yaxis.title.text == "Total (0-16, higher is better)"
    )
    (band,) = layout.shapes
    assert (band.xref, band.x0, band.x1, band.y0, band.y1) == ("paper", 0, 1, 0, 8.0)
    assert band.name == "Fictional low-warmth range" and band.showlegend
    assert "“Warmth” run 0 to 16, higher is better" in chart.caption
    assert "the line is 8.0 (the edge of the shaded range)" in chart.caption  # no functional norms declared


def test_an_outcome_without_published_reliability_is_shown_without_a_verdict_said_once() -> None:
    """Kindred's own baseline declares no reliability: no verdict markers, and one plain sentence."""
    fillings = (
        _scored(BASELINE.key, "baseline", {ANA: START, BEN: BEN_START}),
        _scored(BASELINE.key, "outcome:program-end", {ANA: LATEST, BEN: BEN_LATEST}, day=90),
    )
    chart = _chart(outcome_trajectory(_data(fillings=fillings), PROGRAM, BASELINE))
    ana, ben, _ = chart.figure.data
    assert list(ana.marker.symbol)[-1] == list(ben.marker.symbol)[-1] == "circle-open-dot"
    assert chart.caption.count("no published reliability") == 1
    assert "so the change is shown without a verdict" in chart.caption
    assert not any(v in chart.caption for v in ("improved", "deteriorated", "unchanged", "recovered"))
    assert {r["Change since the start"] for r in chart.table} == {None, "no verdict"}


def test_the_outcome_chart_leaves_out_other_occasions_and_waits_for_the_start() -> None:
    """Stage checks' and added fillings' occasions are not outcome occasions; nothing sent yet: a message."""
    stray = _scored(OUTCOME.key, "extra:2026-12-01", {ANA: _ws(1.0, 1.0), BEN: _ws(1.0, 1.0)})
    assert isinstance(outcome_trajectory(_data(fillings=(stray,)), OUTCOME_PROGRAM, OUTCOME), EmptyChart)
    data = _outcome([4.0], [6.0], ["baseline"])
    with_stray = replace(data, fillings=(*data.fillings, stray))
    chart = _chart(outcome_trajectory(with_stray, OUTCOME_PROGRAM, OUTCOME))
    assert _unwrapped(chart.figure.data[0].x) == ["Start"]


def test_the_domain_profile_sets_the_start_against_the_latest_occasion_both_sent() -> None:
    """Latest is the most recent occasion both partners sent (an outcome occasion at a stage's end)."""
    fillings = (
        _scored(BASELINE.key, "baseline", {ANA: START, BEN: BEN_START}),
        _scored(BASELINE.key, f"outcome:end:{STAGE_1.key}", {ANA: LATEST, BEN: BEN_LATEST}, day=30),
    )
    chart = _chart(domain_profile(_data(fillings=fillings), PROGRAM))
    assert [t.name for t in chart.figure.data] == ["Ana, start", "Ana, latest", "Ben, start", "Ben, latest"]
    assert chart.table[0]["Latest"] == LATEST["communication"]


# ---- added questionnaires, practice and homework (issue 11) ---------------------------------------

EXTRA_PROGRAM = PROGRAM.model_copy(
    update={"instruments": {**PROGRAM.instruments, **GOLDEN}, "extra_instruments": ("test-instrument",)}
)


def _dated(partner: Partner, day: int, warmth: float) -> DatedScores:
    return DatedScores("test-instrument", partner.person_id, date(2026, 11, 2) + timedelta(days=day),
                       {"warmth": warmth, "strain": 2.0})  # fmt: skip


def test_an_added_questionnaire_is_a_trend_per_partner_on_each_partners_own_dates() -> None:
    """Ana sent it three times, Ben twice on other days: each line on its own dates, with the band."""
    repeated = (_dated(ANA, 0, 6.0), _dated(ANA, 9, 8.0), _dated(ANA, 30, 11.0), _dated(BEN, 4, 12.0),
                _dated(BEN, 40, 10.0))  # fmt: skip
    data = replace(_data(), repeated=repeated)
    ((title, result),) = added_trends(data, EXTRA_PROGRAM)
    chart = _chart(result)
    assert title == GOLDEN["test-instrument"].title
    ana, ben = chart.figure.data
    assert [d.day for d in ana.x] == [2, 11, 2] and list(ana.y) == [6.0, 8.0, 11.0]
    assert [(d.month, d.day) for d in ben.x] == [(11, 6), (12, 12)] and list(ben.y) == [12.0, 10.0]
    (band,) = chart.figure.layout.shapes
    assert (band.y0, band.y1) == (0, 8.0) and tuple(chart.figure.layout.yaxis.range) == (0, 16)
    assert "Ana went from 6.0 to 11.0" in chart.caption and "Ben went from 12.0 to 10.0" in chart.caption
    _assert_common_layout(chart)


def test_an_added_questionnaire_only_one_partner_filled_in_gets_no_chart() -> None:
    """Only Ana sent it: no trend (and nothing of hers shown) until Ben has too."""
    data = replace(_data(), repeated=(_dated(ANA, 0, 6.0),))
    assert added_trends(data, EXTRA_PROGRAM) == []


def _note(partner: Partner, day: int, kind: str, value: float) -> PracticeNote:
    return PracticeNote(partner.person_id, "communication", "daily-listening-log",
                        "listened-well" if kind == "rating" else "spoke-for-myself", kind,  # type: ignore[arg-type]
                        WEEKS[0] + timedelta(days=day), value)  # fmt: skip


def test_practice_is_charted_per_partner_per_week_with_gaps() -> None:
    """Yes/no as the week's share of yes, ratings as the week's mean; a week with no entries is a gap."""
    notes = (
        _note(ANA, 0, "yesno", 1.0), _note(ANA, 1, "yesno", 0.0), _note(ANA, 2, "yesno", 1.0),
        _note(ANA, 0, "rating", 6.0), _note(ANA, 1, "rating", 7.0),
        _note(ANA, 21, "yesno", 1.0), _note(ANA, 21, "rating", 9.0),
        _note(BEN, 7, "rating", 4.0),
    )  # fmt: skip
    chart = _chart(practice_trends(replace(_data(), practice=notes)))
    traces = {t.name: t for t in chart.figure.data}
    ana_rating, ana_yes = traces["Ana, mean rating"], traces["Ana, days with a yes"]
    assert list(ana_rating.x) == WEEKS and ana_rating.connectgaps is False
    assert list(ana_rating.y) == [6.5, None, None, 9.0]
    assert list(ana_yes.y) == [67, None, None, 100] and ana_yes.yaxis == "y2"
    assert list(traces["Ben, mean rating"].y) == [None, 4.0, None, None]
    assert "Ben, days with a yes" not in traces
    assert "Ana noted practice in 2 weeks, and 2 weeks without entries show as a gap" in chart.caption
    assert chart.table[0] == {"Week": WEEKS[0], "Partner": "Ana", "Mean rating (0-10)": 6.5, "Yes (%)": 67}
    layout = chart.figure.layout
    assert tuple(layout.yaxis2.range) == (0, 100) and layout.yaxis2.domain[1] < layout.yaxis.domain[0]
    assert layout.xaxis.anchor == "y2"  # the week axis under the lower panel, clear of its points
    _assert_common_layout(chart)
    assert isinstance(practice_trends(_data()), EmptyChart)


def test_homework_done_or_not_is_on_the_stage_progress_chart() -> None:
    """Ana did the first stage's homework, Ben began the stage and did not: each bar and row says so."""
    stage = STAGE_1.key
    done = {ANA.person_id: {"assessment": 2, stage: 4}, BEN.person_id: {"assessment": 2, stage: 1}}
    data = replace(_data(steps_done=done), homework_done={ANA.person_id: frozenset({stage})})
    chart = _chart(stage_progress(data, PROGRAM))
    ana, ben = chart.figure.data
    assert [c[2] for c in ana.customdata][:3] == ["", " · homework done", ""]
    assert [c[2] for c in ben.customdata][:3] == ["", " · homework not done", ""]
    assert "%{customdata[2]}" in ana.texttemplate
    rows = {(r["Partner"], r["Stage"]): r["Homework"] for r in chart.table}
    assert (
        rows[("Ana", STAGE_1.title)] == "homework done"
        and rows[("Ben", STAGE_1.title)] == "homework not done"
    )
    assert rows[("Ana", PROGRAM.stages[1].title)] is None  # not begun: nothing to say


def _issue11_charts(ana: Partner = ANA, ben: Partner = BEN) -> list[Chart]:
    """The outcome, added-questionnaire, practice and homework charts of one couple, for the shared checks
    (phone layout, one number format, hostile names)."""
    fillings = tuple(
        _scored(OUTCOME.key, occasion, {ana: _ws(a, 3.0), ben: _ws(b, 3.0)}, day=10 * n)
        for n, (occasion, a, b) in enumerate(zip(THREE, (4.25, 8.0, 10.0), (12.0, 11.0, 6.0), strict=True))
    )
    repeated = tuple(
        DatedScores("test-instrument", p.person_id, date(2026, 11, 2) + timedelta(days=d), {"warmth": w})
        for p, d, w in ((ana, 0, 6.25), (ana, 9, 8.0), (ben, 4, 12.0))
    )
    notes = (_note(ana, 0, "yesno", 1.0), _note(ana, 1, "yesno", 0.0), _note(ana, 2, "yesno", 0.0),
             _note(ana, 0, "rating", 6.0), _note(ben, 14, "rating", 7.0))  # fmt: skip
    steps = {ana.person_id: {"assessment": 2, STAGE_1.key: 3}, ben.person_id: {"assessment": 2}}
    data = replace(
        _data(partners=(ana, ben), fillings=fillings, steps_done=steps),
        repeated=repeated, practice=notes, homework_done={ana.person_id: frozenset({STAGE_1.key})},
    )  # fmt: skip
    ((_, added),) = added_trends(data, EXTRA_PROGRAM)
    return [
        _chart(outcome_trajectory(data, OUTCOME_PROGRAM, OUTCOME)),
        _chart(added),
        _chart(practice_trends(data)),
        _chart(stage_progress(data, PROGRAM)),
    ]
