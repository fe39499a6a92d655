"""Session feedback: the therapist marks a session held, and each partner then rates it, privately, on four
0-10 items (program/course/content/session_feedback.toml).

Who reads the ratings is decided in program.privacy.access (readable_session_feedback): the partner who
gave them and the therapist who held the session, never the other partner. A rating is asked for, on the
partner's home page, for DUE_DAYS days after the session; once sent it is kept as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from program.charts.progress_data import Partner
from program.course.curriculum import exactly_in_order, read_content
from program.infra import audit
from program.infra.db import memo
from program.infra.models import (
    FEEDBACK_ITEMS,
    Role,
    SessionFeedback,
    TherapySession,
)
from program.infra.settings import CONTENT_DIR
from program.privacy import access, couples, membership
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer

MIN_RATING, MAX_RATING = 0, 10
DUE_DAYS = 14
CONTENT_FILE = CONTENT_DIR / "session_feedback.toml"
SESSION_HELD = "therapist.session_held"
SESSION_HELD_DETAIL = "marked a session held"
ALREADY_SENT = "You have already sent your ratings of that session; they are kept as you sent them."
# Time zones run from UTC-12 to UTC+14. Dates are the person's own calendar day, and `now` is UTC, so a
# day is judged by the clock that is kindest to the person: a session "today" in Auckland is not refused
# as future, and a rating sent on the 14th day in Honolulu is still in time.
_AHEAD = timedelta(hours=14)
_BEHIND = timedelta(hours=12)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class FeedbackError(ValueError):
    """A session mark or rating that cannot be saved; the message is meant for the person."""


class FeedbackItem(BaseModel):
    """One rating: the question, a short name for charts and tables, and the words at each end."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: Text
    short: Text
    low: Text
    high: Text


class FeedbackForm(BaseModel):
    """session_feedback.toml: the four items, in the order of FEEDBACK_ITEMS (the table's columns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Text
    intro: Text
    items: list[FeedbackItem]

    @field_validator("items")
    @classmethod
    def _the_four_items(cls, items: list[FeedbackItem]) -> list[FeedbackItem]:
        return exactly_in_order(items, FEEDBACK_ITEMS)

    @property
    def short_labels(self) -> dict[str, str]:
        """Each item's short name, by key."""
        return {item.key: item.short for item in self.items}


def load_form(path: Path = CONTENT_FILE) -> FeedbackForm:
    """Read and validate the items; ContentError names the file and the field when it is broken."""
    return read_content(FeedbackForm, path)


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


@cache
def form() -> FeedbackForm:
    """The shipped items, read once per process."""
    return load_form()


@dataclass(frozen=True)
class HeldSession:
    """A session a therapist marked held with a couple."""

    id: int
    couple_id: int
    held_on: date


def _earliest_day(moment: datetime) -> date:
    """The calendar day this moment fell on where the clock is furthest behind UTC."""
    return (moment - _BEHIND).date()


def _formed_at(session: Session, couple_id: int) -> datetime | None:
    """When the couple became two: the later of its current partners' joins (None without two)."""
    joins = [m.joined_at for m in membership.current_partners(session, couple_id)]
    return max(joins) if len(joins) == 2 else None


def mark_held(*, session: Session, viewer: Viewer, couple_id: int, held_on: date, now: datetime) -> int:
    """The therapist records a session held with this couple on that day; returns its id.

    Only a therapist the couple lets in now. The day may not be in the future (on any clock on earth), nor
    before the couple was formed. One session per couple and day: marking the same day again returns the
    same session and records nothing new; a day another of the couple's therapists already marked is
    refused. Recorded in the audit trail the couple reads.
    """
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only the couple's therapist marks a session held.")
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    if isinstance(held_on, datetime) or not isinstance(held_on, date):
        raise FeedbackError("Please choose the day the session was held.")
    if held_on > (now + _AHEAD).date():
        raise FeedbackError(f"{_day(held_on)} is in the future: mark a session held once it has taken place.")
    # Wait for a partner leaving right now, and for the other click of a double click (one per day).
    couples.lock_couple(session, couple_id)
    formed = _formed_at(session, couple_id)
    if formed is None:
        raise AccessDenied("You do not have access to this couple.")
    if held_on < _earliest_day(formed):
        raise FeedbackError(
            f"{_day(held_on)} is before this couple was formed ({_day(formed.date())}): "
            "choose the day of a session held with them both."
        )
    existing = session.exec(
        select(TherapySession).where(TherapySession.couple_id == couple_id, TherapySession.held_on == held_on)
    ).first()
    if existing is not None:
        if existing.therapist_id != viewer.person_id:
            raise FeedbackError(
                f"Another therapist of this couple has already marked a session held on {_day(held_on)}."
            )
        assert existing.id is not None
        return existing.id
    held = TherapySession(couple_id=couple_id, therapist_id=viewer.person_id, held_on=held_on, created_at=now)
    session.add(held)
    session.flush()
    assert held.id is not None
    audit.record(
        session,
        action=SESSION_HELD,
        actor_id=viewer.person_id,
        couple_id=couple_id,
        detail=SESSION_HELD_DETAIL,
    )
    return held.id


def due_for_partner(*, session: Session, viewer: Viewer, today: date) -> list[HeldSession]:
    """The sessions the viewer is asked to rate, oldest first.

    Only sessions of the viewer's CURRENT couple (a session of a couple that ended is never due in the
    next one), held since the viewer joined it, not yet rated by them, and held within the last DUE_DAYS
    (14) days of `today`, the viewer's own calendar day; older sessions are no longer asked about. Empty
    for therapists and for partners without a couple. Read once per read session (home asks twice).
    """
    if viewer.role != Role.PARTNER:
        return []
    return list(
        memo(
            session,
            ("feedback_due_for_partner", viewer.person_id, today),
            lambda: tuple(_due_for_partner(session=session, viewer=viewer, today=today)),
        )
    )


def _due_for_partner(*, session: Session, viewer: Viewer, today: date) -> list[HeldSession]:
    current = membership.current_membership(session, viewer.person_id)
    if current is None:
        return []
    rated = select(SessionFeedback.session_id).where(SessionFeedback.person_id == viewer.person_id)
    rows = session.exec(
        select(TherapySession)
        .where(
            TherapySession.couple_id == current.couple_id,
            col(TherapySession.held_on) >= _earliest_day(current.joined_at),
            col(TherapySession.held_on) >= today - timedelta(days=DUE_DAYS),
            col(TherapySession.id).not_in(rated),
        )
        .order_by(col(TherapySession.held_on), col(TherapySession.id))
    ).all()
    return [HeldSession(r.id, r.couple_id, r.held_on) for r in rows if r.id is not None]


def _valid_ratings(ratings: Mapping[str, int]) -> dict[str, int]:
    names = form().short_labels
    missing = [names[key] for key in FEEDBACK_ITEMS if key not in ratings]
    if missing:
        raise FeedbackError(f"Please give every rating before sending (missing: {', '.join(missing)}).")
    unknown = sorted(set(ratings) - set(FEEDBACK_ITEMS))
    if unknown:
        raise FeedbackError("Only the four session ratings can be sent.")
    for key in FEEDBACK_ITEMS:
        value = ratings[key]
        # bool is an int subclass; True is not a rating of 1.
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_RATING <= value <= MAX_RATING:
            raise FeedbackError(
                f"Each rating is a whole number from {MIN_RATING} to {MAX_RATING} "
                f"({names[key]} was {value!r})."
            )
    return {key: ratings[key] for key in FEEDBACK_ITEMS}


def submit(
    *, session: Session, viewer: Viewer, session_id: int, ratings: Mapping[str, int], now: datetime
) -> None:
    """Send the viewer's four ratings of a session due for them (see due_for_partner), all at once.

    Refused, with nothing saved, for anyone but a partner, for a rating missing or out of 0-10, for a
    session not due for them (another couple's, an earlier couple's, too old) and for one already rated.
    """
    if viewer.role != Role.PARTNER:
        raise FeedbackError("Session ratings are the partners' own; therapists read them in the couple view.")
    values = _valid_ratings(ratings)
    due = due_for_partner(session=session, viewer=viewer, today=_earliest_day(now))
    if session_id not in {held.id for held in due}:
        # Read after the due check: a send from another tab committed in between is "already sent" too.
        already = select(SessionFeedback.id).where(
            SessionFeedback.session_id == session_id, SessionFeedback.person_id == viewer.person_id
        )
        if session.exec(already).first() is not None:
            raise FeedbackError(ALREADY_SENT)
        raise FeedbackError(
            f"That session is not one you can rate now: you can rate the sessions of your current couple "
            f"for {DUE_DAYS} days after each."
        )
    try:
        # Two tabs sending at once: the database keeps one rating per session and person.
        with session.begin_nested():
            session.add(
                SessionFeedback(session_id=session_id, person_id=viewer.person_id, submitted_at=now, **values)
            )
    except IntegrityError:
        raise FeedbackError(ALREADY_SENT) from None


def held_by_viewer(*, session: Session, viewer: Viewer, couple_id: int) -> list[HeldSession]:
    """The sessions this therapist marked held with this couple, oldest first (therapists only)."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only a therapist reads the sessions they held.")
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    rows = session.exec(
        select(TherapySession)
        .where(TherapySession.couple_id == couple_id, TherapySession.therapist_id == viewer.person_id)
        .order_by(col(TherapySession.held_on), col(TherapySession.id))
    ).all()
    return [HeldSession(r.id, r.couple_id, r.held_on) for r in rows if r.id is not None]


def partners(*, session: Session, viewer: Viewer, couple_id: int) -> tuple[Partner, ...]:
    """The couple's current partners in the order they joined (the charts' colour order)."""
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    return tuple(
        Partner(m.person_id, m.display_name) for m in membership.current_partners(session, couple_id)
    )


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"
