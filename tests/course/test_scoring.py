"""Scoring: golden answers and scores for made-up instruments (one scale, mixed scales), reliable and
clinically significant change, cut-offs and the baseline."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path
from typing import Literal

import pytest

from program.course.curriculum import Instrument, Subscale, load_instruments, load_program
from program.course.scoring import (
    ScoringError,
    clinically_significant,
    criterion,
    in_concern_range,
    reliable_change,
    score,
    score_range,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
INSTRUMENTS = load_instruments(GOLDEN)
BY_AGGREGATE: dict[str, Instrument] = {
    "sum": INSTRUMENTS["test-instrument"],
    "mean": INSTRUMENTS["test-instrument-mean"],
}
SUBSCALES = ("warmth", "strain")
# First item on its own 0-6 scale, the rest on the instrument's 0-5 (see tests/golden/test-mixed.toml).
MIXED: dict[str, Instrument] = {
    "sum": INSTRUMENTS["test-mixed"],
    "mean": INSTRUMENTS["test-mixed-mean"],
}
MIXED_SUBSCALES = ("bond", "strain")
Aggregate = Literal["sum", "mean"]


def _rows(name: str) -> list[dict[str, str]]:
    with (GOLDEN / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def _score_cases() -> list[pytest.ParameterSet]:
    return [
        pytest.param(row, aggregate, id=f"{row['case']}-{aggregate}")
        for row in _rows("scores.csv")
        for aggregate in BY_AGGREGATE
    ]


def _mixed_cases() -> list[pytest.ParameterSet]:
    return [
        pytest.param(row, aggregate, id=f"{row['case']}-{aggregate}")
        for row in _rows("mixed_scores.csv")
        for aggregate in MIXED
    ]


def _clinical_cases() -> list[pytest.ParameterSet]:
    return [pytest.param(row, id=row["case"]) for row in _rows("clinical_change.csv")]


def _change_cases() -> list[pytest.ParameterSet]:
    return [pytest.param(row, id=row["case"]) for row in _rows("reliable_change.csv")]


def _answers(instrument: Instrument, row: dict[str, str]) -> dict[str, int | None]:
    return {item.key: int(row[item.key]) if row[item.key] else None for item in instrument.items}


def _subscale(instrument: Instrument, key: str) -> Subscale:
    return next(s for s in instrument.subscales if s.key == key)


# ---- golden scores --------------------------------------------------------------------------------


def test_golden_table_covers_every_item_and_subscale() -> None:
    """The golden CSV has a column for every item and an expected score for every subscale and aggregate."""
    header = set(_rows("scores.csv")[0])
    for instrument in BY_AGGREGATE.values():
        assert {item.key for item in instrument.items} <= header
        assert {f"{s.key}_{instrument.aggregate}" for s in instrument.subscales} <= header


@pytest.mark.parametrize(("row", "aggregate"), _score_cases())
def test_golden_scores(row: dict[str, str], aggregate: Aggregate) -> None:
    """Each subscale scores what the hand-worked golden row says, with skipped items shown as not answered."""
    instrument = BY_AGGREGATE[aggregate]
    answers = _answers(instrument, row)
    result = score(instrument, answers)
    assert set(result) == set(SUBSCALES)
    for key in SUBSCALES:
        expected = row[f"{key}_{aggregate}"]
        got = result[key]
        if expected:
            assert got.score == pytest.approx(float(Fraction(expected)), rel=1e-12, abs=1e-12), key
        else:
            assert got.score is None, key
        items = instrument.items_of(key)
        assert got.items == len(items)
        assert got.answered == sum(answers[item.key] is not None for item in items)


def test_leaving_an_item_out_is_the_same_as_skipping_it() -> None:
    """An item missing from the answers counts as skipped, exactly like an explicit None."""
    instrument = BY_AGGREGATE["sum"]
    skipped = score(instrument, {"w1": 3, "w2": 2, "w3": None, "w4": 1, "s1": 2, "s2": 2, "s3": 2})
    omitted = score(instrument, {"w1": 3, "w2": 2, "w4": 1, "s1": 2, "s2": 2, "s3": 2})
    assert skipped == omitted


@pytest.mark.parametrize("aggregate", ["sum", "mean"])
def test_no_answers_at_all_scores_nothing(aggregate: Aggregate) -> None:
    """With no answers every subscale says 'not enough answers' (None) instead of a zero."""
    result = score(BY_AGGREGATE[aggregate], {})
    assert {key: r.score for key, r in result.items()} == {"warmth": None, "strain": None}


@pytest.mark.parametrize(("row", "aggregate"), _mixed_cases())
def test_golden_mixed_scale_scores(row: dict[str, str], aggregate: Aggregate) -> None:
    """Mixed scales (first item 0-6, rest 0-5) score what the hand-worked row says: each reverse-keyed
    item inverted within its own item's scale, skipped items prorated under min_answered."""
    instrument = MIXED[aggregate]
    answers = _answers(instrument, row)
    result = score(instrument, answers)
    assert set(result) == set(MIXED_SUBSCALES)
    for key in MIXED_SUBSCALES:
        expected = row[f"{key}_{aggregate}"]
        got = result[key]
        if expected:
            assert got.score == pytest.approx(float(Fraction(expected)), rel=1e-12, abs=1e-12), key
        else:
            assert got.score is None, key
        assert got.answered == sum(answers[item.key] is not None for item in instrument.items_of(key))


def test_mixed_golden_table_covers_every_item_and_subscale() -> None:
    """The mixed-scale golden CSV has a column for every item and every subscale score of both twins."""
    header = set(_rows("mixed_scores.csv")[0])
    for instrument in MIXED.values():
        assert {item.key for item in instrument.items} <= header
        assert {f"{s.key}_{instrument.aggregate}" for s in instrument.subscales} <= header


def test_an_item_scale_overrides_the_instruments() -> None:
    """The first item is answered on its own 0-6 scale, the others on the instrument's 0-5."""
    instrument = MIXED["sum"]
    assert [instrument.scale_of(item).max for item in instrument.items] == [6, 5, 5, 5, 5, 5]
    assert instrument.scale_of(instrument.items[0]).labels[0] == "Extremely happy"


# ---- answers that do not fit --------------------------------------------------------------------


@pytest.mark.parametrize("aggregate", ["sum", "mean"])
@pytest.mark.parametrize(
    ("item", "answer", "scale"),
    [("m1", 7, "0-6"), ("m1", -1, "0-6"), ("m2", 6, "0-5"), ("m3", 6, "0-5"), ("m6", 6, "0-5")],
)
def test_an_answer_outside_its_items_scale_is_refused(
    aggregate: Aggregate, item: str, answer: int, scale: str
) -> None:
    """A 6 is an answer to the 0-6 first item only: on a 0-5 item (reverse-keyed or not) it is refused,
    naming the item and that item's own range."""
    with pytest.raises(ScoringError, match=rf"{item} = {answer} is outside {scale}$"):
        score(MIXED[aggregate], {"m1": 6, item: answer})


@pytest.mark.parametrize("aggregate", ["sum", "mean"])
@pytest.mark.parametrize(("item", "answer"), [("w1", 5), ("w1", -1), ("w3", 5), ("s3", 99)])
def test_an_answer_outside_the_scale_is_refused(aggregate: Aggregate, item: str, answer: int) -> None:
    """An answer that is not a point of the 0-4 scale is refused, naming the item, even on a reverse item."""
    with pytest.raises(ScoringError, match=rf"{item} = {answer} is outside 0-4"):
        score(BY_AGGREGATE[aggregate], {"w1": 2, item: answer})


def test_an_unknown_item_is_refused() -> None:
    """An answer to an item the instrument does not have is refused, naming the item."""
    with pytest.raises(ScoringError, match="unknown items not-an-item"):
        score(BY_AGGREGATE["sum"], {"w1": 2, "not-an-item": 2})


def test_an_unknown_item_is_refused_even_when_skipped() -> None:
    """An unknown item key is refused even if its answer is None, so typos in keys surface."""
    with pytest.raises(ScoringError, match="unknown items typo"):
        score(BY_AGGREGATE["sum"], {"typo": None})


# ---- score ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aggregate", "subscale", "expected"),
    [
        ("sum", "warmth", (0.0, 16.0)),  # 4 items x 0-4
        ("sum", "strain", (0.0, 12.0)),  # 3 items x 0-4
        ("mean", "warmth", (0.0, 4.0)),
        ("mean", "strain", (0.0, 4.0)),
    ],
)
def test_score_range(aggregate: Aggregate, subscale: str, expected: tuple[float, float]) -> None:
    """Scores run from lowest to highest possible: items x scale for a sum, the scale itself for a mean."""
    assert score_range(BY_AGGREGATE[aggregate], subscale) == expected


@pytest.mark.parametrize(
    ("aggregate", "subscale", "expected"),
    [
        ("sum", "bond", (0.0, 21.0)),  # 6 + 5 + 5 + 5
        ("sum", "strain", (0.0, 10.0)),  # 5 + 5
        ("mean", "bond", (0.0, 5.25)),  # (6 + 5 + 5 + 5) / 4
        ("mean", "strain", (0.0, 5.0)),
    ],
)
def test_score_range_of_mixed_scales(
    aggregate: Aggregate, subscale: str, expected: tuple[float, float]
) -> None:
    """A subscale's range comes from its items' own scales: the sum of their maximums, or their mean."""
    assert score_range(MIXED[aggregate], subscale) == expected


@pytest.mark.parametrize("aggregate", ["sum", "mean"])
@pytest.mark.parametrize("best", [True, False], ids=["best-answers", "worst-answers"])
def test_mixed_best_and_worst_answers_reach_the_ends_of_the_range(aggregate: Aggregate, best: bool) -> None:
    """The best answers on every item's own scale score the top of the range, the worst the bottom."""
    instrument = MIXED[aggregate]
    answers: dict[str, int | None] = {}
    for item in instrument.items:
        scale = instrument.scale_of(item)
        good = scale.min if item.reverse else scale.max
        bad = scale.max if item.reverse else scale.min
        answers[item.key] = good if best else bad
    bond = score(instrument, answers)["bond"].score
    assert bond == score_range(instrument, "bond")[1 if best else 0]


# ---- reliable change ------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _change_cases())
def test_golden_reliable_change(row: dict[str, str]) -> None:
    """The reliable change index and its verdict match the hand-worked Jacobson-Truax golden row."""
    subscale = _subscale(BY_AGGREGATE[row["aggregate"]], row["subscale"])
    change = reliable_change(subscale, float(row["before"]), float(row["after"]))
    assert change is not None
    assert change.index == pytest.approx(float(row["expected_rci"]), abs=5e-4)
    assert change.verdict == row["expected_verdict"]


def test_reliable_change_needs_declared_reliability() -> None:
    """Without a declared reliability (like Kindred's own instruments) no reliable-change verdict is given."""
    baseline = load_program().instruments["kindred-baseline"]
    for subscale in baseline.subscales:
        assert reliable_change(subscale, 1.0, 7.0) is None


def test_reliable_change_needs_the_norm_spread_too() -> None:
    """A reliability without the norm group's SD gives no verdict rather than a made-up one."""
    subscale = Subscale(key="lonely", title="Reliability only", reliability=0.9)
    assert reliable_change(subscale, 1.0, 7.0) is None


def test_a_change_of_exactly_1_96_is_not_reliable() -> None:
    """A change whose RCI is exactly 1.96 is within measurement error, as the |RCI| > 1.96 rule says."""
    warmth = _subscale(BY_AGGREGATE["sum"], "warmth")
    change = reliable_change(warmth, 8.0, 11.92)  # 3.92 / S_diff 2 = 1.96 exactly, by hand
    assert change is not None
    assert change.verdict == "no reliable change"


def test_reliable_change_follows_direction_without_a_cutoff() -> None:
    """A lower-is-better subscale with reliability and no cut-off (so concern keeps its default 'below')
    calls a reliable fall better and a reliable rise worse."""
    worry = Subscale(key="worry", title="Worry", reliability=0.875, norm_sd=2.0, direction="lower is better")
    fall = reliable_change(worry, 8.0, 5.0)  # S_diff = sqrt(2) * 2 * sqrt(0.125) = 1; RCI -3
    rise = reliable_change(worry, 5.0, 8.0)
    assert fall is not None and rise is not None
    assert (fall.index, fall.verdict) == (-3.0, "reliably better")
    assert (rise.index, rise.verdict) == (3.0, "reliably worse")
    change = clinically_significant(worry, 8.0, 5.0)
    assert change is not None
    assert (change.verdict, change.criterion, change.crossed) == ("improved", None, False)


# ---- clinically significant change ----------------------------------------------------------------


@pytest.mark.parametrize("row", _clinical_cases())
def test_golden_clinically_significant_change(row: dict[str, str]) -> None:
    """Reliable change, the criterion, whether the score crossed into the functional range and the
    verdict match the hand-worked Jacobson-Truax row."""
    subscale = _subscale(INSTRUMENTS[row["instrument"]], row["subscale"])
    change = clinically_significant(subscale, float(row["before"]), float(row["after"]))
    assert change is not None
    assert change.reliable.index == pytest.approx(float(row["expected_rci"]), abs=5e-4)
    assert change.criterion == pytest.approx(float(row["expected_criterion"]), abs=1e-12)
    assert change.crossed is (row["expected_crossed"] == "True")
    assert change.verdict == row["expected_verdict"]


def test_clinical_golden_table_covers_every_verdict() -> None:
    """The crafted histories include every verdict and a lower-is-better subscale."""
    rows = _rows("clinical_change.csv")
    assert {row["expected_verdict"] for row in rows} == {
        "recovered",
        "improved",
        "unchanged",
        "deteriorated",
        "crossed without reliable change",
    }
    assert any(row["subscale"] == "strain" for row in rows)


def test_criterion_c_lies_between_the_two_populations() -> None:
    """Criterion c is the SD-weighted point between the clinical and functional means (12 for bond)."""
    bond = _subscale(MIXED["sum"], "bond")
    assert criterion(bond) == pytest.approx(12.0)
    assert bond.norm_mean is not None and bond.functional_mean is not None
    assert bond.norm_mean < criterion(bond) < bond.functional_mean  # type: ignore[operator]


def test_clinically_significant_needs_declared_reliability() -> None:
    """Without a declared reliability there is no verdict at all (None), never a made-up 'unchanged'."""
    for subscale in (
        Subscale(key="cut", title="Cut-off only", cutoff=3.0),
        Subscale(key="norms", title="Norms only", norm_mean=2.0, norm_sd=1.0, cutoff=3.0),
    ):
        assert clinically_significant(subscale, 1.0, 7.0) is None


# ---- cut-offs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aggregate", "subscale", "value", "expected"),
    [
        ("sum", "warmth", 7.5, True),  # cut-off 8, concern below
        ("sum", "warmth", 8.5, False),
        ("sum", "warmth", 8.0, False),  # on the cut-off is not below it
        ("sum", "strain", 8.0, True),  # cut-off 7.5, concern above
        ("sum", "strain", 7.0, False),
        ("sum", "strain", 7.5, False),  # on the cut-off is not above it
        ("mean", "warmth", 1.75, True),  # cut-off 2.0, concern below
        ("mean", "warmth", 2.25, False),
        ("mean", "strain", 2.75, True),  # cut-off 2.5, concern above
        ("mean", "strain", 2.25, False),
    ],
)
def test_in_concern_range(aggregate: Aggregate, subscale: str, value: float, expected: bool) -> None:
    """A score is flagged only on the concerning side of its cut-off: below for warmth, above for strain."""
    assert in_concern_range(_subscale(BY_AGGREGATE[aggregate], subscale), value) is expected


def test_in_concern_range_is_none_without_a_cutoff() -> None:
    """Without a declared cut-off nothing is flagged either way (None), as for Kindred's own baseline."""
    baseline = load_program().instruments["kindred-baseline"]
    for subscale in baseline.subscales:
        assert in_concern_range(subscale, 1.0) is None
        assert in_concern_range(subscale, 7.0) is None


# ---- the shipped baseline -------------------------------------------------------------------------


@pytest.mark.parametrize("best", [True, False], ids=["best-answers", "worst-answers"])
def test_baseline_best_and_worst_answers_reach_the_ends_of_every_subscale(best: bool) -> None:
    """The baseline's reverse keying is right: best answers top every area, worst answers bottom it."""
    baseline = load_program().instruments["kindred-baseline"]
    top, bottom = baseline.scale.max, baseline.scale.min
    answers: dict[str, int | None] = {
        item.key: (bottom if item.reverse else top) if best else (top if item.reverse else bottom)
        for item in baseline.items
    }
    result = score(baseline, answers)
    assert set(result) == {s.key for s in baseline.subscales}
    for key, subscale_score in result.items():
        low, high = score_range(baseline, key)
        assert subscale_score.score == (high if best else low), key
