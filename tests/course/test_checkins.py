"""The weekly check-in: one per partner per week, editable until the week ends, notes private unless
shared, and the couple's check-in time with its calendar file."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from icalendar import Calendar, vRecur
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from program.course import checkins
from program.infra.db import read_session, write_session
from program.infra.models import CheckIn, Role, Visibility
from program.privacy import access
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person

MONDAY = date(2026, 11, 9)
NOW = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)
RATINGS = {"closeness": 7, "communication": 6, "conflict": 5, "trust": 8, "overall": 7}


def _save(
    engine: Engine,
    viewer: Viewer,
    today: date = MONDAY,
    ratings: Mapping[str, Any] = RATINGS,
    **extra: Any,
) -> CheckIn:
    with write_session(engine) as session:
        row = checkins.save_checkin(
            session=session,
            viewer=viewer,
            ratings=ratings,
            note=extra.pop("note", None),
            today=today,
            now=extra.pop("now", NOW),
            **extra,
        )
        session.expunge(row)
        return row


def _rows(engine: Engine) -> list[CheckIn]:
    with read_session(engine) as session:
        return list(session.exec(select(CheckIn).order_by(col(CheckIn.person_id), col(CheckIn.week_start))))


@pytest.mark.parametrize("offset", range(7))
def test_week_start_is_the_monday_of_the_week(offset: int) -> None:
    """Every day from Monday to Sunday belongs to the week that starts on its Monday."""
    assert checkins.week_start(MONDAY + timedelta(days=offset)) == MONDAY
    assert checkins.week_start(MONDAY + timedelta(days=offset)).weekday() == 0


def test_week_start_crosses_the_year_boundary() -> None:
    """New Year's Day 2026, a Thursday, belongs to the week that began on Monday 29 December 2025."""
    assert checkins.week_start(date(2026, 1, 1)) == date(2025, 12, 29)


def test_saving_twice_in_a_week_updates_the_one_check_in(engine: Engine) -> None:
    """A second save later in the same week changes the row; it never adds a second one."""
    ana = make_person(engine, "ana")
    first = _save(engine, ana)
    later = NOW + timedelta(days=4)
    second = _save(
        engine, ana, MONDAY + timedelta(days=6), {**RATINGS, "trust": 3}, note="Hard week", now=later
    )
    assert second.id == first.id
    [row] = _rows(engine)
    assert (row.week_start, row.trust, row.note) == (MONDAY, 3, "Hard week")
    assert (row.created_at, row.updated_at) == (NOW, later)


def test_a_new_week_makes_a_new_check_in(engine: Engine) -> None:
    """The next Monday starts a new row, and the viewer's history lists both, oldest first."""
    ana = make_person(engine, "ana")
    _save(engine, ana, MONDAY + timedelta(days=3))
    _save(engine, ana, MONDAY + timedelta(days=7), {**RATINGS, "overall": 9})
    with read_session(engine) as session:
        history = checkins.own_history(session=session, viewer=ana)
    assert [(r.week_start, r.overall) for r in history] == [(MONDAY, 7), (MONDAY + timedelta(days=7), 9)]


def test_earlier_weeks_cannot_be_edited(engine: Engine) -> None:
    """Saving on a later day of a later week leaves last week's check-in exactly as it was."""
    ana = make_person(engine, "ana")
    _save(engine, ana, MONDAY + timedelta(days=5), note="Week one")
    _save(engine, ana, MONDAY + timedelta(days=10), dict.fromkeys(RATINGS, 0), note="Week two")
    first, second = _rows(engine)
    assert (first.week_start, first.note) == (MONDAY, "Week one")
    assert {key: getattr(first, key) for key in RATINGS} == RATINGS
    assert (second.week_start, second.note, second.overall) == (MONDAY + timedelta(days=7), "Week two", 0)
    with read_session(engine) as session:
        assert checkins.this_week(session=session, viewer=ana, today=MONDAY + timedelta(days=10)) is not None
        assert checkins.this_week(session=session, viewer=ana, today=MONDAY + timedelta(days=14)) is None


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        ({**RATINGS, "trust": 11}, "from 0 to 10"),
        ({**RATINGS, "closeness": -1}, "from 0 to 10"),
        ({**RATINGS, "overall": 5.5}, "whole number"),
        ({**RATINGS, "overall": "7"}, "whole number"),
        ({**RATINGS, "conflict": True}, "whole number"),
        ({k: v for k, v in RATINGS.items() if k != "trust"}, "missing: trust"),
        ({}, "missing: closeness, communication, conflict, trust, overall"),
        ({**RATINGS, "mood": 4}, "not check-in ratings: mood"),
    ],
)
def test_bad_ratings_are_refused_and_nothing_is_saved(
    engine: Engine, ratings: dict[str, Any], message: str
) -> None:
    """Out-of-range, non-integer, missing or unknown ratings get a plain message and no row."""
    ana = make_person(engine, "ana")
    with pytest.raises(checkins.CheckinError, match=message):
        _save(engine, ana, ratings=ratings, note="kept?")
    assert _rows(engine) == []


def test_a_refused_update_leaves_the_saved_check_in_alone(engine: Engine) -> None:
    """A bad second save in the same week changes nothing of the first."""
    ana = make_person(engine, "ana")
    _save(engine, ana, note="First")
    with pytest.raises(checkins.CheckinError):
        _save(engine, ana, ratings={**RATINGS, "trust": 42}, note="Second")
    [row] = _rows(engine)
    assert (row.trust, row.note) == (RATINGS["trust"], "First")


def test_a_note_over_two_thousand_characters_is_refused(engine: Engine) -> None:
    """2,000 characters fit; one more is refused with the count, and nothing is saved."""
    ana = make_person(engine, "ana")
    with pytest.raises(checkins.CheckinError, match="under 2,000 characters"):
        _save(engine, ana, note="x" * 2_001)
    assert _rows(engine) == []
    assert _save(engine, ana, note="x" * 2_000).note == "x" * 2_000


def test_each_partners_check_in_is_their_own(engine: Engine) -> None:
    """Both partners check in the same week: two rows, under each partner, neither overwriting the other."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    _save(engine, ana, note="Ana's")
    _save(engine, ben, MONDAY + timedelta(days=1), dict.fromkeys(RATINGS, 2), note="Ben's")
    _save(engine, ana, MONDAY + timedelta(days=2), {**RATINGS, "overall": 10}, note="Ana's again")
    rows = _rows(engine)
    assert [(r.person_id, r.couple_id, r.week_start) for r in rows] == [
        (ana.person_id, couple, MONDAY),
        (ben.person_id, couple, MONDAY),
    ]
    assert [(r.overall, r.note) for r in rows] == [(10, "Ana's again"), (2, "Ben's")]


def test_a_solo_partners_check_in_has_no_couple(engine: Engine) -> None:
    """A partner not yet linked can check in; the row belongs to no couple."""
    ana = make_person(engine, "ana")
    assert _save(engine, ana).couple_id is None


def test_notes_are_private_by_default_and_shared_only_by_choice(engine: Engine) -> None:
    """The partner sees the ratings but not a private or therapist-only note; a partner-shared note shows."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    assert _save(engine, ana, note="Just for me").note_visibility == Visibility.PRIVATE
    _save(engine, ben, note="For Kim", note_visibility=Visibility.THERAPIST)

    def ben_sees() -> dict[int, tuple[int, str | None]]:
        with read_session(engine) as session:
            views = access.readable_checkins(session=session, viewer=ben, couple_id=couple)
        return {v.person_id: (v.overall, v.note) for v in views}

    assert ben_sees() == {ana.person_id: (7, None), ben.person_id: (7, "For Kim")}
    _save(engine, ana, note="Let's talk", note_visibility=Visibility.PARTNER)
    assert ben_sees()[ana.person_id] == (7, "Let's talk")
    with read_session(engine) as session:
        anas = access.readable_checkins(session=session, viewer=ana, couple_id=couple)
    assert {v.person_id: v.note for v in anas}[ben.person_id] is None


def test_sharing_a_past_note_can_be_changed_but_not_its_words(engine: Engine) -> None:
    """Who may read last week's note stays the writer's choice after the week has ended."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    _save(engine, ana, note="Last week", note_visibility=Visibility.PARTNER)
    with write_session(engine) as session:
        checkins.set_note_visibility(
            session=session,
            viewer=ana,
            week=MONDAY + timedelta(days=3),
            visibility=Visibility.PRIVATE,
            now=NOW,
        )
    with read_session(engine) as session:
        assert access.readable_checkins(session=session, viewer=ben, couple_id=couple)[0].note is None
    [row] = _rows(engine)
    assert (row.note, row.note_visibility) == ("Last week", Visibility.PRIVATE)
    with pytest.raises(checkins.CheckinError, match="no note"), write_session(engine) as session:
        checkins.set_note_visibility(
            session=session, viewer=ben, week=MONDAY, visibility=Visibility.PARTNER, now=NOW
        )


def test_an_empty_note_is_no_note(engine: Engine) -> None:
    """Blank space is not kept as a note (so there is nothing to share)."""
    ana = make_person(engine, "ana")
    assert _save(engine, ana, note="  \n ").note is None


def test_a_therapist_cannot_save_a_check_in(engine: Engine) -> None:
    """Therapists are refused, with a message, and nothing is stored."""
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    with pytest.raises(checkins.CheckinError, match="for partners"):
        _save(engine, kim)
    assert _rows(engine) == []


def test_a_save_racing_another_tab_updates_instead_of_failing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the row appears between the look-up and the insert, the save updates it: still one row."""
    ana = make_person(engine, "ana")
    _save(engine, ana)
    real = checkins._own_row
    calls: list[date] = []

    def misses_once(session: Session, viewer: Viewer, week: date) -> CheckIn | None:
        calls.append(week)
        return None if len(calls) == 1 else real(session, viewer, week)

    monkeypatch.setattr(checkins, "_own_row", misses_once)
    _save(engine, ana, ratings={**RATINGS, "overall": 1})
    assert len(calls) == 2
    [row] = _rows(engine)
    assert row.overall == 1


def test_the_couple_shares_one_check_in_time(engine: Engine) -> None:
    """Either partner sets it on the couple; both read it back; seconds are dropped."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    with read_session(engine) as session:
        assert checkins.checkin_time(session=session, viewer=ana) is None
    with write_session(engine) as session:
        checkins.set_checkin_time(session=session, viewer=ana, weekday=6, at=time(19, 30, 15))
    with read_session(engine) as session:
        assert checkins.checkin_time(session=session, viewer=ben) == (6, time(19, 30))
    assert checkins.describe_time(6, time(19, 30)) == "Sundays at 19:30"


@pytest.mark.parametrize(
    ("role", "in_couple", "weekday", "message"),
    [
        (Role.PARTNER, False, 2, "for couples"),
        (Role.THERAPIST, False, 2, "for partners"),
        (Role.PARTNER, True, 7, "day of the week"),
        (Role.PARTNER, True, -1, "day of the week"),
    ],
)
def test_a_check_in_time_needs_a_couple_and_a_real_day(
    engine: Engine, role: Role, in_couple: bool, weekday: int, message: str
) -> None:
    """Solo partners and therapists are refused, and so is a day outside Monday to Sunday."""
    person = make_person(engine, "sam", role)
    if in_couple:
        make_couple(engine, person)
    with pytest.raises(checkins.CheckinError, match=message), write_session(engine) as session:
        checkins.set_checkin_time(session=session, viewer=person, weekday=weekday, at=time(19))


@pytest.mark.parametrize(("weekday", "byday"), list(enumerate(["MO", "TU", "WE", "TH", "FR", "SA", "SU"])))
def test_the_calendar_file_repeats_weekly_at_the_chosen_local_time(weekday: int, byday: str) -> None:
    """One weekly event on the chosen day, at a floating local time, 10 minutes, with a reminder."""
    thursday = MONDAY + timedelta(days=3)
    ics = checkins.calendar_file(weekday=weekday, at=time(20, 15), first_day=thursday)
    calendar = Calendar.from_ical(ics)
    [event] = calendar.walk("VEVENT")
    start = event.decoded("dtstart")
    assert start.tzinfo is None and "TZID" not in event["dtstart"].params  # floating: the local clock time
    assert (start.weekday(), start.time()) == (weekday, time(20, 15))
    assert thursday <= start.date() < thursday + timedelta(days=7)
    assert event.decoded("dtend") - start == timedelta(minutes=10)
    rrule = event["rrule"]
    assert isinstance(rrule, vRecur)
    assert rrule["FREQ"] == ["WEEKLY"] and rrule["BYDAY"] == [byday]
    assert str(event["summary"]) == "Kindred weekly check-in"
    assert "two minutes" in str(event["description"]) and "alone" in str(event["description"])
    [alarm] = event.walk("VALARM")
    assert str(alarm["action"]) == "DISPLAY" and alarm.decoded("trigger") == timedelta(0)
    assert str(event["uid"]) == checkins.CALENDAR_UID


def test_the_calendar_file_is_stable_and_holds_no_personal_data(engine: Engine) -> None:
    """The same request gives the same bytes; no names, usernames or links are in the file."""
    ana = make_person(engine, "anneliese.q", name="Anneliese Quorvath")
    ben = make_person(engine, "bartholomew.z", name="Bartholomew Zylstra")
    make_couple(engine, ana, ben)
    with write_session(engine) as session:
        checkins.set_checkin_time(session=session, viewer=ana, weekday=0, at=time(8))
    with read_session(engine) as session:
        chosen = checkins.checkin_time(session=session, viewer=ben)
    assert chosen is not None
    ics = checkins.calendar_file(weekday=chosen[0], at=chosen[1], first_day=MONDAY)
    assert ics == checkins.calendar_file(weekday=0, at=time(8), first_day=MONDAY)
    text = ics.decode().lower()
    for private in ("anneliese", "quorvath", "bartholomew", "zylstra", "http", "www", "mailto"):
        assert private not in text
    assert "DTSTART:20261109T080000\r\n" in ics.decode()
