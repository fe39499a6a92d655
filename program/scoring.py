"""Scoring any questionnaire declared in content: one function for every instrument.

Rules, in order:
1. Every answer must be a point of the instrument's scale (or None, for a skipped item).
2. Reverse-keyed items are inverted: scored as scale.max + scale.min - answer.
3. Missing answers: a subscale is scored only if at least `min_answered` (a fraction) of its items were
   answered; otherwise its score is None ("not enough answers"). A "mean" subscale is the mean of the
   answered items; a "sum" subscale is that mean times the number of items (a prorated sum), so a
   skipped item neither lowers a sum nor is silently counted as zero.
4. Change between two scores is judged with the reliable change index of Jacobson and Truax (1991),
   where the subscale declares its reliability r and the norm group's standard deviation s:
   SE = s * sqrt(1 - r), S_diff = sqrt(2) * SE, RCI = (after - before) / S_diff; |RCI| > 1.96 is a
   reliable change (p < .05).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from program.curriculum import Instrument, Subscale

RELIABLE_Z = 1.96


class ScoringError(ValueError):
    """Answers that do not fit the instrument; the message says which."""


@dataclass(frozen=True)
class SubscaleScore:
    """One subscale's score (None when too few items were answered)."""

    key: str
    title: str
    score: float | None
    answered: int
    items: int


def score(instrument: Instrument, answers: Mapping[str, int | None]) -> dict[str, SubscaleScore]:
    """Score every subscale of the instrument from item answers (see the module's rules)."""
    unknown = sorted(set(answers) - {item.key for item in instrument.items})
    if unknown:
        raise ScoringError(f"{instrument.key}: unknown items {', '.join(unknown)}")
    low, high = instrument.scale.min, instrument.scale.max
    results: dict[str, SubscaleScore] = {}
    for subscale in instrument.subscales:
        items = instrument.items_of(subscale.key)
        values: list[int] = []
        for item in items:
            answer = answers.get(item.key)
            if answer is None:
                continue
            if not low <= answer <= high:
                raise ScoringError(f"{instrument.key}: {item.key} = {answer} is outside {low}-{high}")
            values.append(high + low - answer if item.reverse else answer)
        enough = len(values) >= math.ceil(instrument.min_answered * len(items) - 1e-9)
        value: float | None = None
        if values and enough:
            mean = sum(values) / len(values)
            value = mean if instrument.aggregate == "mean" else mean * len(items)
        results[subscale.key] = SubscaleScore(subscale.key, subscale.title, value, len(values), len(items))
    return results


def score_range(instrument: Instrument, subscale: str) -> tuple[float, float]:
    """The lowest and highest score a subscale can take."""
    low, high = instrument.scale.min, instrument.scale.max
    if instrument.aggregate == "mean":
        return float(low), float(high)
    count = len(instrument.items_of(subscale))
    return float(low * count), float(high * count)


@dataclass(frozen=True)
class ReliableChange:
    """How a score moved between two occasions, judged against measurement error."""

    index: float
    verdict: Literal["reliably better", "reliably worse", "no reliable change"]


def reliable_change(subscale: Subscale, before: float, after: float) -> ReliableChange | None:
    """The Jacobson-Truax reliable change index, or None if the subscale declares no reliability/norm SD."""
    if subscale.reliability is None or subscale.norm_sd is None:
        return None
    standard_error = subscale.norm_sd * math.sqrt(1 - subscale.reliability)
    # Rounded so that floating-point noise cannot push an index of exactly 1.96 over the line.
    index = round((after - before) / (math.sqrt(2) * standard_error), 9)
    if abs(index) <= RELIABLE_Z:
        return ReliableChange(index, "no reliable change")
    higher_is_better = subscale.concern == "below"
    better = (index > 0) == higher_is_better
    return ReliableChange(index, "reliably better" if better else "reliably worse")


def in_concern_range(subscale: Subscale, value: float) -> bool | None:
    """Whether a score falls on the concerning side of the subscale's cut-off (None without a cut-off)."""
    if subscale.cutoff is None:
        return None
    return value < subscale.cutoff if subscale.concern == "below" else value > subscale.cutoff
