"""After the last stage: each partner's plan, the check-in rhythm, the booster review at the follow-up, and
the kind suggestion to see a couples therapist when the program isn't working for someone
(program/course/content/keeping.toml).

- The plan is three of the writer's own texts (reflections, private unless its writer shares them).
- The booster review comes due at the follow-up occasion of the outcome measure (outcomes.FOLLOW_UP): the
  configured number of weeks after the partner sent the program's end. It is their own exercise record
  (stage appreciation.ONGOING, exercise BOOSTER).
- The suggestion is about the viewer's own scores only, never their partner's: their outcome measure fell
  reliably (scoring.reliable_change, first filling against the latest), or stays in the concern range after
  the program, or their own weekly check-ins fell by the declared amount. Shown until they dismiss it
  (NoticeDismissal), in each couple afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from sqlmodel import Session, select

from program.course import journey, outcomes, questionnaires, scoring
from program.course.appreciation import ONGOING
from program.course.checkins import own_history as own_checkins
from program.course.curriculum import Instrument, Program, Text, _Content, exactly_in_order, read_content
from program.infra.models import ExerciseRecord, NoticeDismissal, Role
from program.infra.settings import CONTENT_DIR, Settings
from program.privacy import access, couples
from program.privacy.viewer import Viewer

BOOSTER = "booster"
PLAN_PREFIX = "keeping:plan:"
PLAN_KEYS = ("keep", "warning-signs", "then")
# The booster review's note: what the partner will adjust (their own text, private unless shared).
BOOSTER_NOTE = "keeping:booster:note"
SUGGESTION = "couples-therapist"


class KeepingError(ValueError):
    """Something on the "Keeping it going" page that cannot be saved; the message is for the person."""


class PlanPart(_Content):
    """One part of the plan: its key (PLAN_KEYS), the question and a hint."""

    key: str
    label: Text
    help: Text


class Rhythm(_Content):
    """The suggested rhythm of check-ins after the program."""

    title: Text
    steps: Annotated[list[Text], Field(min_length=1)]


class Booster(_Content):
    """The booster review's words; `not_yet` holds "{day}"."""

    title: Text
    intro: Text
    not_yet: Text
    rating: Text
    low: Text
    high: Text
    note: Text
    done: Text
    thanks: Text

    @field_validator("not_yet")
    @classmethod
    def _names_the_day(cls, value: str) -> str:
        if "{day}" not in value:
            raise ValueError("must say when, with {day}")
        return value


class Suggestion(_Content):
    """The suggestion to see a couples therapist, how to find one, and when to suggest it."""

    title: Text
    body: Text
    how_to_find: Annotated[list[Text], Field(min_length=1)]
    dismiss: Text
    checkin_window: Annotated[int, Field(ge=1, le=26)]
    checkin_drop: Annotated[float, Field(gt=0, le=10)]


class KeepingContent(_Content):
    """keeping.toml."""

    title: Text
    intro: Text
    not_yet: Text
    plan: list[PlanPart]
    rhythm: Rhythm
    booster: Booster
    suggestion: Suggestion

    @field_validator("plan")
    @classmethod
    def _the_three_parts(cls, plan: list[PlanPart]) -> list[PlanPart]:
        return exactly_in_order(plan, PLAN_KEYS)


def load_content(path: Path = CONTENT_DIR / "keeping.toml") -> KeepingContent:
    """Read and validate the words; ContentError names the file and the field when it is broken."""
    return read_content(KeepingContent, path)


@cache
def content() -> KeepingContent:
    """The shipped words, read once per process."""
    return load_content()


def plan_context(part: str) -> str:
    """Where one part of a partner's plan is kept, as their own text: "keeping:plan:warning-signs"."""
    return f"{PLAN_PREFIX}{part}"


def describe_context(context: str) -> str | None:
    """A reader's label for a text of this page ("Keeping it going · Warning signs"); None for others."""
    if context == BOOSTER_NOTE:
        return f"{content().title} · {content().booster.title}"
    if not context.startswith(PLAN_PREFIX):
        return None
    part = next((p for p in content().plan if plan_context(p.key) == context), None)
    return content().title + (f" · {part.label}" if part else "")


def finished_program(progress: journey.Journey) -> bool:
    """Whether this partner finished the last stage (the plan and the page's menu entry open then)."""
    return (
        progress.couple_id is not None
        and progress.me.finished_at(progress.program.stages[-1].key) is not None
    )


# ---- the booster review ------------------------------------------------------------------------------


def booster_due_at(sent: Mapping[str, datetime], *, follow_up_weeks: int) -> datetime | None:
    """When the booster review comes due: at the follow-up occasion, the configured number of weeks after
    the partner sent the program's end (None until they have)."""
    ended = sent.get(outcomes.PROGRAM_END)
    return ended + timedelta(weeks=follow_up_weeks) if ended is not None else None


def booster_done_at(*, session: Session, viewer: Viewer) -> datetime | None:
    """When the viewer did their booster review in their current couple (None: not yet)."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    return session.exec(
        select(ExerciseRecord.completed_at).where(
            journey.own_records(viewer, couple_id, ONGOING), ExerciseRecord.exercise == BOOSTER
        )
    ).first()


def booster_due(
    *, status: outcomes.OutcomeStatus, done_at: datetime | None, follow_up_weeks: int, now: datetime
) -> bool:
    """Whether the booster review is due for this partner now: from its moment on, until they did it."""
    due_at = booster_due_at(status.sent, follow_up_weeks=follow_up_weeks)
    return done_at is None and due_at is not None and due_at <= now


def do_booster(
    *,
    session: Session,
    viewer: Viewer,
    program: Program,
    settings: Settings,
    rating: int,
    now: datetime,
) -> None:
    """Mark the viewer's booster review done with their 0-10 rating; refused before it is due."""
    if viewer.role != Role.PARTNER:
        raise KeepingError("The booster review is for partners.")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 10:
        raise KeepingError("Please choose a rating from 0 to 10.")
    couples.lock_person(session, viewer.person_id)
    status = outcomes.status(session=session, viewer=viewer, program=program, settings=settings, now=now)
    done_at = booster_done_at(session=session, viewer=viewer)
    if done_at is not None:
        return
    if not booster_due(status=status, done_at=None, follow_up_weeks=settings.follow_up_weeks, now=now):
        raise KeepingError("Your booster review isn't due yet.")
    record = journey.exercise_record(session=session, viewer=viewer, stage=ONGOING, exercise=BOOSTER, now=now)
    record.data = {"rating": rating}
    record.completed_at = now
    record.updated_at = now
    session.add(record)


# ---- when it isn't working ---------------------------------------------------------------------------

Reason = Literal["outcome fell", "outcome in concern range", "check-ins fell"]


def suggestion_reasons(
    *,
    instrument: Instrument,
    fillings: Sequence[tuple[str, Mapping[str, int | None]]],
    overall_checkins: Sequence[int],
    checkin_window: int,
    checkin_drop: float,
) -> list[Reason]:
    """Why to suggest a couples therapist to this partner, from their own scores alone (empty: no reason).

    fillings: their sent outcome questionnaires (occasion, answers), oldest first; overall_checkins: their
    own weekly "overall" ratings, oldest week first.
    - "outcome fell": some subscale is reliably worse in the latest filling than in the first.
    - "outcome in concern range": the latest filling is the program's end or the follow-up, and some
      subscale is in the instrument's concern range there.
    - "check-ins fell": the mean of the last `checkin_window` ratings is at least `checkin_drop` below the
      mean of the first `checkin_window` (two full windows needed, not overlapping).
    """
    reasons: list[Reason] = []
    if len(fillings) >= 2:
        first = scoring.score(instrument, fillings[0][1])
        latest = scoring.score(instrument, fillings[-1][1])
        for subscale in instrument.subscales:
            before, after = first[subscale.key].score, latest[subscale.key].score
            if before is None or after is None:
                continue
            change = scoring.reliable_change(subscale, before, after)
            if change is not None and change.verdict == "reliably worse":
                reasons.append("outcome fell")
                break
    if fillings and fillings[-1][0] in (outcomes.PROGRAM_END, outcomes.FOLLOW_UP):
        latest = scoring.score(instrument, fillings[-1][1])
        for subscale in instrument.subscales:
            value = latest[subscale.key].score
            if value is not None and scoring.in_concern_range(subscale, value):
                reasons.append("outcome in concern range")
                break
    if len(overall_checkins) >= 2 * checkin_window:
        first_mean = sum(overall_checkins[:checkin_window]) / checkin_window
        last_mean = sum(overall_checkins[-checkin_window:]) / checkin_window
        # Rounded so that floating-point noise cannot push a drop of exactly the threshold either way.
        if round(first_mean - last_mean, 9) >= checkin_drop:
            reasons.append("check-ins fell")
    return reasons


def notice_key(couple_id: int | None) -> str:
    """The dismissal's key: one per couple, so a new couple's own scores can bring it back once."""
    return f"{SUGGESTION}:{couple_id if couple_id is not None else 'solo'}"


def suggestion_due(*, session: Session, viewer: Viewer, program: Program, settings: Settings) -> bool:
    """Whether to show the viewer the suggestion now: they have a reason in their own scores in their
    current couple, and have not dismissed it there."""
    if viewer.role != Role.PARTNER:
        return False
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if _dismissed(session, viewer, couple_id):
        return False
    instrument = outcomes.outcome_instrument(program, settings)
    known = set(outcomes.occasions(program))
    history = questionnaires.own_history(session=session, viewer=viewer, instrument=instrument.key)
    fillings = [(h.occasion, h.answers) for h in history if h.occasion in known]
    rules = content().suggestion
    return bool(
        suggestion_reasons(
            instrument=instrument,
            fillings=fillings,
            overall_checkins=[c.overall for c in own_checkins(session=session, viewer=viewer)],
            checkin_window=rules.checkin_window,
            checkin_drop=rules.checkin_drop,
        )
    )


def _dismissed(session: Session, viewer: Viewer, couple_id: int | None) -> bool:
    return (
        session.exec(
            select(NoticeDismissal.id).where(
                NoticeDismissal.person_id == viewer.person_id,
                NoticeDismissal.notice == notice_key(couple_id),
            )
        ).first()
        is not None
    )


def dismiss_suggestion(*, session: Session, viewer: Viewer, now: datetime) -> None:
    """The viewer hides the suggestion in their current couple (again: nothing changes)."""
    couples.lock_person(session, viewer.person_id)
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if not _dismissed(session, viewer, couple_id):
        session.add(
            NoticeDismissal(person_id=viewer.person_id, notice=notice_key(couple_id), dismissed_at=now)
        )
