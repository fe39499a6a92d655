"""Scoring: golden answers and scores for a made-up instrument, reliable change, cut-offs and the baseline."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path
from typing import Literal

import pytest

from program.curriculum import Instrument, Subscale, load_instruments, load_program
from program.scoring import ScoringError, in_concern_range, reliable_change, score, score_range

GOLDEN = Path(__file__).resolve().parent / "golden"
INSTRUMENTS = load_instruments(GOLDEN)
BY_AGGREGATE: dict[str, Instrument] = {
    "sum": INSTRUMENTS["test-instrument"],
    "mean": INSTRUMENTS["test-instrument-mean"],
}
SUBSCALES = ("warmth", "strain")
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


# ---- answers that do not fit --------------------------------------------------------------------


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
