"""The program's outcome measure: which instrument it is and the occasions on which it is given.

The outcome instrument (settings.outcome_instrument, by default Kindred's own baseline questionnaire) is
given at the start, at the end of every skill stage, at the end of the program and at a follow-up some
weeks after that. Each filling-in is an ordinary questionnaire submission whose occasion names the moment.
"""

from __future__ import annotations

from program.curriculum import STAGE_KEYS, Instrument, Program
from program.questionnaires import BASELINE
from program.settings import Settings, SettingsError

PROGRAM_END = "outcome:program-end"
FOLLOW_UP = "outcome:follow-up"


def stage_end_occasion(stage: str) -> str:
    """The outcome occasion after a skill stage: "outcome:end:communication"."""
    return f"outcome:end:{stage}"


def occasions(program: Program) -> list[str]:
    """Every outcome occasion, in the order they come due."""
    return [BASELINE, *(stage_end_occasion(s.key) for s in program.stages), PROGRAM_END, FOLLOW_UP]


def occasion_label(occasion: str, program: Program) -> str:
    """How a person reads an occasion: "Start", "After Talking and listening", "End of the program"."""
    if occasion == BASELINE:
        return "Start"
    if occasion == PROGRAM_END:
        return "End of the program"
    if occasion == FOLLOW_UP:
        return "Follow-up"
    for key in STAGE_KEYS:
        if occasion == stage_end_occasion(key):
            return f"After {program.stage_by_key[key].title}"
    raise ValueError(f"{occasion!r} is not an outcome occasion")


def outcome_instrument(program: Program, settings: Settings) -> Instrument:
    """The instrument the operator named as the outcome measure; a clear error when it is unknown."""
    key = settings.outcome_instrument or program.assessment.overview.questionnaire
    instrument = program.instruments.get(key)
    if instrument is None:
        known = ", ".join(sorted(program.instruments))
        raise SettingsError(
            f"outcome_instrument (KINDRED_OUTCOME_INSTRUMENT) names {key!r}, which is not an instrument "
            f"Kindred knows; known instruments: {known} (an operator's own go in the instruments/ folder "
            "of the data directory)"
        )
    return instrument
