"""Scoring any questionnaire declared in content: one function for every instrument.

Rules, in order:
1. Every answer must be a point of its item's scale (the item's own `[items.scale]`, else the
   instrument's), or None for a skipped item.
2. Reverse-keyed items are inverted within their own item's scale: scored as max + min - answer.
3. Missing answers: a subscale is scored only if at least `min_answered` (a fraction) of its items were
   answered; otherwise its score is None ("not enough answers"). A "mean" subscale is the mean of the
   answered items; a "sum" subscale is that mean times the number of items (a prorated sum), so a
   skipped item neither lowers a sum nor is silently counted as zero.
4. Change between two scores is judged with the reliable change index of Jacobson and Truax (1991),
   where the subscale declares its reliability r and the norm group's standard deviation s:
   SE = s * sqrt(1 - r), S_diff = sqrt(2) * SE, RCI = (after - before) / S_diff; |RCI| > 1.96 is a
   reliable change (p < .05). Better or worse follows the subscale's `direction`.
5. Clinically significant change (Jacobson and Truax 1991): a reliable improvement that also crosses
   from the dysfunctional into the functional range. The line is criterion c,
   c = (s_clin * mean_func + s_func * mean_clin) / (s_clin + s_func), where the subscale declares the norms
   of both populations, else its declared cut-off. A score on the line counts as functional, as a score on
   the cut-off is outside the concern range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from program.course.curriculum import Instrument, Subscale

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
    results: dict[str, SubscaleScore] = {}
    for subscale in instrument.subscales:
        items = instrument.items_of(subscale.key)
        values: list[int] = []
        for item in items:
            answer = answers.get(item.key)
            if answer is None:
                continue
            scale = instrument.scale_of(item)
            if not scale.min <= answer <= scale.max:
                raise ScoringError(
                    f"{instrument.key}: {item.key} = {answer} is outside {scale.min}-{scale.max}"
                )
            values.append(scale.max + scale.min - answer if item.reverse else answer)
        enough = len(values) >= math.ceil(instrument.min_answered * len(items) - 1e-9)
        value: float | None = None
        if values and enough:
            mean = sum(values) / len(values)
            value = mean if instrument.aggregate == "mean" else mean * len(items)
        results[subscale.key] = SubscaleScore(subscale.key, subscale.title, value, len(values), len(items))
    return results


def score_range(instrument: Instrument, subscale: str) -> tuple[float, float]:
    """The lowest and highest score a subscale can take, from its items' own scales (a mean runs from the
    mean of the items' minimums to the mean of their maximums; a sum from their sums)."""
    return instrument.subscale_range(subscale)


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
    better = (index > 0) == _higher_is_better(subscale)
    return ReliableChange(index, "reliably better" if better else "reliably worse")


def _higher_is_better(subscale: Subscale) -> bool:
    # From direction, not concern: a subscale without a cut-off keeps the default concern "below" even
    # when lower is better, so concern would call a reliable improvement a worsening.
    return subscale.direction == "higher is better"


ClinicalVerdict = Literal[
    "recovered", "improved", "unchanged", "deteriorated", "crossed without reliable change"
]


@dataclass(frozen=True)
class ClinicalChange:
    """Reliable and clinically significant change between two scores (Jacobson and Truax 1991).

    crossed: moved from the dysfunctional side of the criterion to the functional side (False when the
    subscale declares no criterion). criterion: c from both populations' norms, else the cut-off, else None.
    """

    reliable: ReliableChange
    criterion: float | None
    crossed: bool
    verdict: ClinicalVerdict


def criterion(subscale: Subscale) -> float | None:
    """The line between dysfunctional and functional: Jacobson-Truax c, else the cut-off, else None."""
    clinical_mean, clinical_sd = subscale.norm_mean, subscale.norm_sd
    functional_mean, functional_sd = subscale.functional_mean, subscale.functional_sd
    if clinical_mean is None or clinical_sd is None or functional_mean is None or functional_sd is None:
        return subscale.cutoff
    return (clinical_sd * functional_mean + functional_sd * clinical_mean) / (clinical_sd + functional_sd)


def functional(subscale: Subscale, value: float, line: float) -> bool:
    """Whether a score is on the functional side of the line (on it counts as functional)."""
    return value >= line if _higher_is_better(subscale) else value <= line


def clinically_significant(subscale: Subscale, before: float, after: float) -> ClinicalChange | None:
    """Whether a change is reliable and crossed into the functional range (None without reliability)."""
    change = reliable_change(subscale, before, after)
    if change is None:
        return None
    line = criterion(subscale)
    crossed = (
        line is not None and not functional(subscale, before, line) and functional(subscale, after, line)
    )
    verdict: ClinicalVerdict
    if change.verdict == "reliably worse":
        verdict = "deteriorated"
    elif change.verdict == "reliably better":
        verdict = "recovered" if crossed else "improved"
    else:
        verdict = "crossed without reliable change" if crossed else "unchanged"
    return ClinicalChange(change, line, crossed, verdict)


def in_concern_range(subscale: Subscale, value: float) -> bool | None:
    """Whether a score falls on the concerning side of the subscale's cut-off (None without a cut-off)."""
    if subscale.cutoff is None:
        return None
    return value < subscale.cutoff if subscale.concern == "below" else value > subscale.cutoff
