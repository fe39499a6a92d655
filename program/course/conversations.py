"""Guided conversations as a couple sees them: who takes part A and part B, the text with their names in it,
and whether a conversation that waits for another day has opened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlmodel import Session

from program.course.curriculum import ConversationExercise, Turn, with_names
from program.course.journey import Journey
from program.privacy import membership

NO_PARTNER = "your partner"


def parts(*, session: Session, journey: Journey) -> tuple[str, str]:
    """The names taking part A and part B by default: A is the partner who joined the couple first, so
    both partners' screens agree and the couple keeps the same parts from one conversation to the next.
    Without a partner the viewer is A and B is "your partner"."""
    if journey.partner is None or journey.couple_id is None:
        return journey.me.name, NO_PARTNER
    names = {journey.me.person_id: journey.me.name, journey.partner.person_id: journey.partner.name}
    order = [m.person_id for m in membership.current_partners(session, journey.couple_id)]
    first = next((person for person in order if person in names), journey.me.person_id)
    second = journey.partner.person_id if first == journey.me.person_id else journey.me.person_id
    return names[first], names[second]


@dataclass(frozen=True)
class ShownTurn:
    """One turn as shown: who speaks and listens, and what each is asked, with the names put in."""

    speaker: str
    listener: str
    prompt: str
    listening: str


def shown_turn(turn: Turn, a: str, b: str, escape: Callable[[str], str]) -> ShownTurn:
    """A turn for the partners named a (part A) and b (part B); escape makes a typed name safe where the
    text is shown (the content's own text is left as written)."""
    names = {key: escape(name) for key, name in turn.names(a, b).items()}
    return ShownTurn(
        names["speaker"], names["listener"], with_names(turn.prompt, names), with_names(turn.listener, names)
    )


def shown_text(text: str, a: str, b: str, escape: Callable[[str], str]) -> str:
    """A conversation's intro, rule or closing with the partners' names (escaped) put in."""
    return with_names(text, {"a": escape(a), "b": escape(b)})


def waiting_reason(
    journey: Journey, stage: str, exercise: ConversationExercise, today: date, zone: tzinfo
) -> str | None:
    """Why a conversation that waits for another day is not open yet (None: it is open). It opens on the
    day, in the partner's own time zone, after either partner first marked the earlier one done."""
    earlier_key = exercise.another_day_after
    if earlier_key is None or journey.me.did(stage, exercise.key):
        return None
    earlier = journey.program.stage_by_key[stage].exercise(earlier_key)
    partners = [journey.me] if journey.partner is None else [journey.me, journey.partner]
    marked = [p.done[stage][earlier_key] for p in partners if p.did(stage, earlier_key)]
    if not marked:
        return (
            f"This conversation is for another day: it opens the day after “{earlier.title}” is marked done."
        )
    first = min(_aware(moment) for moment in marked).astimezone(zone).date()
    if today <= first:
        opens = first + timedelta(days=1)
        return (
            "This conversation is for another day, so each of you gets a day of your own: "
            f"it opens on {opens:%A %d %B}."
        )

    return None


def _aware(moment: datetime) -> datetime:
    # SQLite gives naive datetimes (stored as UTC), PostgreSQL aware ones.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
