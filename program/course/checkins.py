"""The weekly check-in: five 0-10 ratings, an optional note and an optional intimacy rating, once per
partner per week, and the couple's chosen check-in time with a calendar file for it.

A check-in belongs to the week (Monday to Sunday) of the day it is made and can be changed until that
week ends; earlier weeks are kept as they were, since they are the charts' time series. Who may read a
note, and who may see the intimacy rating, are each its writer's own choice, private by default, and stay
changeable for every week.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, select

from program.course.curriculum import CHECKIN_KEYS
from program.course.rows import add_or_winner
from program.infra.models import CheckIn, Couple, Role, Visibility
from program.privacy import access
from program.privacy.viewer import Viewer

MIN_RATING, MAX_RATING = 0, 10
MAX_NOTE_CHARS = 2_000
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# iCalendar's two-letter day codes, Monday first like date.weekday().
_ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The same for every couple and every download, so re-importing the file updates the event instead of
# adding a second one; it says nothing about who the couple is.
CALENDAR_UID = "kindred-weekly-checkin@kindred"
CALENDAR_SUMMARY = "Kindred weekly check-in"
CALENDAR_DESCRIPTION = (
    "Time for your weekly check-in in Kindred. It takes about two minutes, and each of you does it alone, "
    "on your own login: a few ratings of how the week felt, and a note if you like."
)
EVENT_LENGTH = timedelta(minutes=10)


class CheckinError(ValueError):
    """A check-in or check-in time that cannot be saved; the message is meant for the person."""


def week_start(day: date) -> date:
    """The Monday of the ISO week that contains this day."""
    return day - timedelta(days=day.weekday())


def _own_row(session: Session, viewer: Viewer, week: date) -> CheckIn | None:
    """The viewer's check-in of a week in their current couple (one made with a former partner is
    that couple's, and does not count for the next)."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    return session.exec(
        select(CheckIn).where(
            CheckIn.person_id == viewer.person_id,
            access.in_couple(CheckIn.couple_id, couple_id),
            CheckIn.week_start == week,
        )
    ).first()


def _require_partner(viewer: Viewer) -> None:
    if viewer.role != Role.PARTNER:
        raise CheckinError("The weekly check-in is for partners; therapists see it in a couple's charts.")


def _valid_ratings(ratings: Mapping[str, int]) -> dict[str, int]:
    missing = [key for key in CHECKIN_KEYS if key not in ratings]
    if missing:
        raise CheckinError(f"Please give every rating before saving (missing: {', '.join(missing)}).")
    unknown = sorted(set(ratings) - set(CHECKIN_KEYS))
    if unknown:
        raise CheckinError(f"These are not check-in ratings: {', '.join(unknown)}.")
    for key in CHECKIN_KEYS:
        value = ratings[key]
        # bool is an int subclass; True is not a rating of 1.
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_RATING <= value <= MAX_RATING:
            raise CheckinError(
                f"Each rating is a whole number from {MIN_RATING} to {MAX_RATING} ({key} was {value!r})."
            )
    return {key: ratings[key] for key in CHECKIN_KEYS}


def _valid_note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    if len(note) > MAX_NOTE_CHARS:
        raise CheckinError(
            f"Please keep the note under {MAX_NOTE_CHARS:,} characters (it has {len(note):,})."
        )
    return note


def _valid_visibility(visibility: Visibility | str, what: str = "may read your note") -> Visibility:
    try:
        return Visibility(visibility)
    except ValueError:
        raise CheckinError(f"Please choose who {what}.") from None


INTIMACY_SHARING = "may see your intimacy rating"


def _valid_intimacy(value: object) -> int | None:
    """The optional intimacy rating: None (not given) or a whole number from 0 to 10."""
    if value is None:
        return None
    # bool is an int subclass; True is not a rating of 1.
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_RATING <= value <= MAX_RATING:
        raise CheckinError(
            f"The intimacy rating is a whole number from {MIN_RATING} to {MAX_RATING}, or none at all "
            f"(it was {value!r})."
        )
    return value


def save_checkin(
    *,
    session: Session,
    viewer: Viewer,
    ratings: Mapping[str, int],
    note: str | None,
    note_visibility: Visibility = Visibility.PRIVATE,
    intimacy: int | None = None,
    intimacy_visibility: Visibility = Visibility.PRIVATE,
    today: date,
    now: datetime,
) -> CheckIn:
    """Create or update the viewer's check-in for the week of `today`; only the current week is editable.

    A note is private unless its writer chooses otherwise; an empty note is stored as no note. The
    intimacy rating is optional (None: none this week, which also removes one saved earlier in the week)
    and has its own sharing choice, private by default; without a rating the choice goes back to private,
    so a rating added later is never shared by an old choice.
    """
    _require_partner(viewer)
    # Everything is checked before anything is written: a refused save changes nothing.
    values = _valid_ratings(ratings)
    body = _valid_note(note)
    visibility = _valid_visibility(note_visibility)
    intimacy_value = _valid_intimacy(intimacy)
    intimacy_sharing = _valid_visibility(intimacy_visibility, INTIMACY_SHARING)
    if intimacy_value is None:
        intimacy_sharing = Visibility.PRIVATE
    week = week_start(today)
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    row = _own_row(session, viewer, week)
    if row is None:
        row = CheckIn(
            person_id=viewer.person_id,
            couple_id=couple_id,
            week_start=week,
            closeness=values["closeness"],
            communication=values["communication"],
            conflict=values["conflict"],
            trust=values["trust"],
            overall=values["overall"],
            created_at=now,
        )
        # Two tabs saving at once: the loser of the race updates the winner's row instead of failing.
        row = add_or_winner(session, row, lambda: _own_row(session, viewer, week))
    for key, value in values.items():
        setattr(row, key, value)
    row.note = body
    row.note_visibility = visibility
    row.intimacy = intimacy_value
    row.intimacy_visibility = intimacy_sharing
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def set_note_visibility(
    *, session: Session, viewer: Viewer, week: date, visibility: Visibility, now: datetime
) -> CheckIn:
    """Change who may read the note of one of the viewer's check-ins, of any week (the note itself stays)."""
    row = _own_row(session, viewer, week_start(week))
    if row is None or row.note is None:
        raise CheckinError("There is no note for that week to share or unshare.")
    row.note_visibility = _valid_visibility(visibility)
    row.updated_at = now
    session.add(row)
    return row


def set_intimacy_visibility(
    *, session: Session, viewer: Viewer, week: date, visibility: Visibility
) -> CheckIn:
    """Change who may see the intimacy rating of one of the viewer's check-ins, of any week (the rating
    itself stays as it was)."""
    sharing = _valid_visibility(visibility, INTIMACY_SHARING)
    row = _own_row(session, viewer, week_start(week))
    if row is None or row.intimacy is None:
        raise CheckinError("There is no intimacy rating for that week to share or unshare.")
    row.intimacy_visibility = sharing
    # updated_at stays: it dates the note for its readers ("new since you last looked"), and moving it
    # would tell them that something they cannot see was just shared or unshared.
    session.add(row)
    return row


def this_week(*, session: Session, viewer: Viewer, today: date) -> CheckIn | None:
    """The viewer's check-in for the week of `today`, if done."""
    return _own_row(session, viewer, week_start(today))


def own_history(*, session: Session, viewer: Viewer) -> list[CheckIn]:
    """The viewer's own check-ins in their current couple (solo: before joining one), oldest first."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    return list(
        session.exec(
            select(CheckIn)
            .where(CheckIn.person_id == viewer.person_id, access.in_couple(CheckIn.couple_id, couple_id))
            .order_by(col(CheckIn.week_start))
        )
    )


def _own_couple(session: Session, viewer: Viewer) -> Couple | None:
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    return None if couple_id is None else session.get(Couple, couple_id)


def set_checkin_time(*, session: Session, viewer: Viewer, weekday: int, at: time) -> None:
    """Store the couple's weekly check-in time (0 = Monday), a local clock time, to the minute."""
    _require_partner(viewer)
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise CheckinError("Please choose a day of the week.")
    if not isinstance(at, time):
        raise CheckinError("Please choose a time of day.")
    couple = _own_couple(session, viewer)
    if couple is None:
        raise CheckinError(
            "A shared check-in time is for couples. Start or join your couple on the Account page first."
        )
    couple.checkin_weekday = weekday
    # Floating local time: the calendar shows it at that clock time wherever each partner is.
    couple.checkin_time = at.replace(second=0, microsecond=0, tzinfo=None)
    session.add(couple)


def checkin_time(*, session: Session, viewer: Viewer) -> tuple[int, time] | None:
    """The viewer's couple's check-in day (0 = Monday) and time, if they picked one."""
    couple = _own_couple(session, viewer)
    if couple is None or couple.checkin_weekday is None or couple.checkin_time is None:
        return None
    return couple.checkin_weekday, couple.checkin_time


def describe_time(weekday: int, at: time) -> str:
    """A check-in time in words, e.g. "Sundays at 19:30"."""
    return f"{WEEKDAYS[weekday]}s at {at:%H:%M}"


def calendar_file(*, weekday: int, at: time, first_day: date) -> bytes:
    """An .ics file with one weekly event at that local time, from the first such day on or after first_day.

    It holds no names, links or other personal data: it may end up in a shared or synced calendar.
    """
    if not 0 <= weekday <= 6:
        raise CheckinError("Please choose a day of the week.")
    first = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
    # Naive on purpose: a "floating" time with no TZID stays at that clock time in any time zone.
    start = datetime.combine(first, at.replace(second=0, microsecond=0, tzinfo=None))
    # Imported here: only the calendar download needs it, not every page that imports the check-ins.
    from icalendar import Alarm, Calendar, Event

    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", CALENDAR_SUMMARY)
    alarm.add("trigger", timedelta(0))

    event = Event()
    event.add("uid", CALENDAR_UID)
    # Derived from the date rather than the clock, so the same request always gives the same file.
    event.add("dtstamp", datetime.combine(first_day, time(0), tzinfo=UTC))
    event.add("dtstart", start)
    event.add("dtend", start + EVENT_LENGTH)
    event.add("rrule", {"freq": "weekly", "byday": _ICAL_DAYS[weekday]})
    event.add("summary", CALENDAR_SUMMARY)
    event.add("description", CALENDAR_DESCRIPTION)
    event.add_component(alarm)

    calendar = Calendar()
    calendar.add("prodid", "-//Kindred//Weekly check-in//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical
