"""The partner home's path: each stage done, open or locked, where each partner stands on it, what the
couple is waiting on the partner for, and the one next thing to do.

Only whether a partner finished a stage is used here (what the partner's news already tells); never any
answer they gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from program.course import journey, reminders
from program.course.pronouns import pronoun_forms


class StageState(StrEnum):
    """How a stage stands for the couple, in the words the home page shows."""

    DONE = "Done"
    OPEN = "Open"
    LOCKED = "Locked"


@dataclass(frozen=True)
class PathStage:
    """One stage on the path as this partner sees it."""

    key: str
    title: str
    state: StageState
    # Why a locked stage is closed and what opens it (journey.why_closed; holds the partner's typed name).
    why_locked: str | None
    you: str
    partner: str | None


@dataclass(frozen=True)
class HomePath:
    """Everything the home page draws about where the couple is."""

    stages: list[PathStage]
    # What the partner still has to do before something opens for both (their typed name inside).
    waiting_on_partner: list[str]
    next_action: reminders.Reminder


HERE = "here now"
FINISHED = "finished"
NOT_YET = "not started yet"
PARTNER_NOT_JOINED = "Your partner hasn't joined yet: give them the code from your account page."


def _place(person: journey.PartnerProgress) -> str | None:
    """The first stage this person hasn't finished (None: every stage finished)."""
    return next((key for key in journey.ORDER if person.finished_at(key) is None), None)


def _standing(person: journey.PartnerProgress, stage: str) -> str:
    if person.finished_at(stage) is not None:
        return FINISHED
    return HERE if _place(person) == stage else NOT_YET


def build(
    progress: journey.Journey,
    *,
    titles: Mapping[str, str],
    due: list[reminders.Reminder],
) -> HomePath:
    """The path for this partner; `titles` are the page titles by stage key, `due` is reminders.due_now."""
    partner = progress.partner
    stages: list[PathStage] = []
    for key in journey.ORDER:
        members = [progress.me] if partner is None else [progress.me, partner]
        if all(p.finished_at(key) is not None for p in members):
            state = StageState.DONE
        elif progress.is_open(key):
            state = StageState.OPEN
        else:
            state = StageState.LOCKED
        stages.append(
            PathStage(
                key=key,
                title=titles[key],
                state=state,
                why_locked=progress.why_closed(key) if state == StageState.LOCKED else None,
                you=_standing(progress.me, key),
                partner=_standing(partner, key) if partner is not None else None,
            )
        )
    return HomePath(stages, _waiting(progress, titles), _next_action(progress, due))


def _waiting(progress: journey.Journey, titles: Mapping[str, str]) -> list[str]:
    partner = progress.partner
    if progress.couple_id is not None and partner is None:
        return [PARTNER_NOT_JOINED]
    if partner is None:
        return []
    waiting: list[str] = []
    for key, following in zip(journey.ORDER, journey.ORDER[1:], strict=False):
        if (
            progress.me.finished_at(key) is not None
            and partner.finished_at(key) is None
            and not progress.is_open(following)
        ):
            their = pronoun_forms(partner.pronouns).possessive
            half = f"{their} half of the assessment" if key == journey.ASSESSMENT else titles[key]
            waiting.append(
                f"{partner.name} still has to finish {half}; then {titles[following]} opens for you both."
            )
    return waiting


def _next_action(progress: journey.Journey, due: list[reminders.Reminder]) -> reminders.Reminder:
    """One thing to do next: the earliest step of the program; else bringing the partner in; else
    whatever else is due; else a look back at the way so far."""
    step = next((item for item in due if item.page in journey.ORDER and item not in reminders.SAFETY), None)
    # Without a partner, bringing them in comes before the solo track's stages (the due list has those).
    if step is not None and (progress.partner is not None or step.page == journey.ASSESSMENT):
        return step
    if progress.couple_id is None:
        return reminders.Reminder("Start your couple and invite your partner", "account")
    if progress.partner is None:
        return reminders.Reminder("Give your partner your code", "account")
    if due:
        return due[0]
    return reminders.Reminder("See how far you have come together", "progress")
