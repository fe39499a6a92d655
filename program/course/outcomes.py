"""The program's outcome measure: which instrument it is and the occasions on which it is given.

The outcome instrument (settings.outcome_instrument, by default Kindred's own baseline questionnaire) is
given at the start, at the end of every skill stage (the last one's end being the end of the program) and
at a follow-up some weeks after that. Each filling-in is an ordinary questionnaire submission whose
occasion names the moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from program.course import journey, questionnaires, scoring
from program.course.curriculum import STAGE_KEYS, Instrument, Program
from program.course.questionnaires import BASELINE
from program.infra.settings import Settings, SettingsError
from program.privacy.viewer import Viewer

PROGRAM_END = "outcome:program-end"
FOLLOW_UP = "outcome:follow-up"


def stage_end_occasion(stage: str) -> str:
    """The outcome occasion after a skill stage: "outcome:end:communication"."""
    return f"outcome:end:{stage}"


def occasions(program: Program) -> list[str]:
    """Every outcome occasion, in the order they come due. The last stage's end is the program's end: one
    occasion, not the same questionnaire twice in a row."""
    return [BASELINE, *(stage_end_occasion(s.key) for s in program.stages[:-1]), PROGRAM_END, FOLLOW_UP]


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


class OutcomeError(questionnaires.QuestionnaireError):
    """An outcome occasion that cannot be sent now; the message is meant for the person."""


def _stage_of(occasion: str) -> str | None:
    """The skill stage whose end this occasion marks (None for the others)."""
    return next((key for key in STAGE_KEYS if occasion == stage_end_occasion(key)), None)


def _moment(
    occasion: str,
    progress: journey.Journey,
    sent: Mapping[str, datetime],
    *,
    last_stage: str,
    follow_up_weeks: int,
) -> datetime | None:
    """When an occasion's moment comes for this partner (None: not yet known).

    The start is due from the first day (alongside the assessment); a stage's end once this partner has
    finished that stage (its end check sent); the program's end once they finished the last stage; the
    follow-up the configured number of weeks after they sent the program's end."""
    if occasion == BASELINE:
        return datetime.min.replace(tzinfo=UTC)
    if occasion == PROGRAM_END:
        return progress.me.finished_at(last_stage)
    if occasion == FOLLOW_UP:
        ended = sent.get(PROGRAM_END)
        return ended + timedelta(weeks=follow_up_weeks) if ended else None
    stage = _stage_of(occasion)
    return progress.me.finished_at(stage) if stage else None


def due_occasions(
    progress: journey.Journey,
    sent: Mapping[str, datetime],
    *,
    follow_up_weeks: int,
    now: datetime,
) -> list[str]:
    """The outcome occasions this partner is asked for now, in order: the first one not yet sent, once
    its moment has come. Never a later one before an earlier one is sent, so each score follows the one
    before it (a partner who finished two stages first answers for the earlier)."""
    upcoming = next((o for o in occasions(progress.program) if o not in sent), None)
    if upcoming is None:
        return []
    moment = _moment(
        upcoming,
        progress,
        sent,
        last_stage=progress.program.stages[-1].key,
        follow_up_weeks=follow_up_weeks,
    )
    return [upcoming] if moment is not None and moment <= now else []


@dataclass(frozen=True)
class OutcomeStatus:
    """Where one partner is with the outcome measure: what is due now, and what comes next and when."""

    instrument: Instrument
    sent: dict[str, datetime]  # occasion -> when sent, in this couple, in the order of the occasions
    due: list[str]
    upcoming: str | None  # the next occasion not yet sent (None: all sent)
    upcoming_at: datetime | None  # when it comes due, where that is already known (the follow-up)
    # The measure is the assessment's own questionnaire: its start is answered on the assessment page.
    start_in_assessment: bool


def status(
    *,
    session: Session,
    viewer: Viewer,
    program: Program,
    settings: Settings,
    now: datetime,
    progress: journey.Journey | None = None,
) -> OutcomeStatus:
    """The viewer's outcome occasions in their current couple (a new couple starts afresh); `progress` is
    the viewer's journey when the caller has already loaded it."""
    instrument = outcome_instrument(program, settings)
    progress = progress or journey.load_journey(session=session, viewer=viewer, program=program)
    history = questionnaires.sent_times(session=session, viewer=viewer, instrument=instrument.key)
    known = occasions(program)
    when = {occasion: submitted_at for occasion, submitted_at in history if occasion in known}
    sent = {o: when[o] for o in known if o in when}
    due = due_occasions(progress, sent, follow_up_weeks=settings.follow_up_weeks, now=now)
    upcoming = next((o for o in known if o not in sent), None)
    upcoming_at = None
    if upcoming is not None and not due:
        upcoming_at = _moment(
            upcoming,
            progress,
            sent,
            last_stage=program.stages[-1].key,
            follow_up_weeks=settings.follow_up_weeks,
        )
    return OutcomeStatus(
        instrument,
        sent,
        due,
        upcoming,
        upcoming_at,
        start_in_assessment=instrument.key == program.assessment.overview.questionnaire,
    )


def submit(
    *,
    session: Session,
    viewer: Viewer,
    program: Program,
    settings: Settings,
    occasion: str,
    now: datetime,
) -> dict[str, scoring.SubscaleScore]:
    """Send the viewer's answers to an outcome occasion: refused, with nothing changed, unless it is due
    for them now (the draft stays, to send when it comes due)."""
    current = status(session=session, viewer=viewer, program=program, settings=settings, now=now)
    if occasion in current.sent:
        raise OutcomeError("You have already sent these answers.")
    if occasion not in current.due:
        raise OutcomeError("This questionnaire is not due for you yet.")
    return questionnaires.submit(
        session=session, viewer=viewer, instrument=current.instrument, occasion=occasion, now=now
    )
