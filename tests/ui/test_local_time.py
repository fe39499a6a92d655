"""Times shown to a person are in their own time zone, as the check-in's week already is."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import journey, reflections
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Role, Visibility
from program.privacy import grants
from program.ui import localtime
from program.ui.localtime import local_date, local_time, long_day, zone_named
from tests.factories import grant, make_couple, make_person
from tests.ui.helpers import app, as_viewer, texts

LATE = datetime(2026, 11, 29, 23, 30)  # naive UTC, as SQLite returns it


def test_a_stored_utc_moment_is_shown_in_the_persons_zone() -> None:
    """23:30 UTC is already the next day in Berlin and still the afternoon in Los Angeles."""
    berlin, los_angeles = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Los_Angeles")
    assert local_time(LATE, berlin) == "30 November 2026, 00:30 CET"
    assert local_time(LATE, los_angeles) == "29 November 2026, 15:30 PST"
    assert local_date(LATE, berlin) == "30 November 2026"
    # PostgreSQL hands back aware moments: the same instant reads the same.
    assert local_time(LATE.replace(tzinfo=UTC), berlin) == local_time(LATE, berlin)


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus_Mons", "../../etc/passwd", "Europe/Berlin\x00"])
def test_a_missing_or_unknown_browser_zone_falls_back_to_utc(name: str | None) -> None:
    """The zone name comes from the browser: anything this server does not know means UTC, never an error."""
    assert zone_named(name) is UTC
    assert local_time(LATE, zone_named(name)) == "29 November 2026, 23:30 UTC"


def test_the_browsers_zone_is_used_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a zone argument the browser's reported zone decides."""
    monkeypatch.setattr(localtime, "browser_zone_name", lambda: "Asia/Tokyo")
    assert local_time(LATE) == "30 November 2026, 08:30 JST"


def test_the_account_page_shows_times_in_the_persons_zone(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ana's browser is in Tokyo: when her therapist opened the couple reads in Tokyo time, not UTC."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, name="Dr Kim")
    couple = make_couple(app_env, ana, ben)
    grant(app_env, couple, kim, ana)
    grant(app_env, couple, kim, ben)
    with write_session(app_env) as session:
        grants.open_couple(session=session, viewer=kim, couple_id=couple, what="progress charts")
    with read_session(app_env) as session:
        opened = session.exec(select(AuditEvent).where(AuditEvent.action == "therapist.viewed")).one().at
    monkeypatch.setattr(localtime, "browser_zone_name", lambda: "Asia/Tokyo")
    at = as_viewer(app("pages/account.py"), ana, app_env).run()
    assert not at.exception
    (when,) = list(at.dataframe[0].value["When"])
    assert when == local_time(opened, ZoneInfo("Asia/Tokyo")) and when.endswith("JST"), when
    assert "UTC" not in texts(at)


def test_shared_writing_is_dated_in_the_readers_zone(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ana shares a goal at 23:30 UTC on 29 November; Ben reads it in Tokyo, where it was the 30th."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    with write_session(app_env) as session:
        reflections.save_text(
            session=session, viewer=ana, context=journey.GOALS_CONTEXT, body="Fewer rushed mornings.",
            visibility=Visibility.PARTNER, now=LATE.replace(tzinfo=UTC),
        )  # fmt: skip
    monkeypatch.setattr(localtime, "browser_zone_name", lambda: "Asia/Tokyo")
    at = as_viewer(app("pages/progress.py"), ben, app_env).run()
    assert "Ana · Goals · 30 November 2026" in texts(at)


def test_a_calendar_day_reads_in_full_with_no_zone_and_no_leading_zero() -> None:
    """The homework, session and appreciation pages all name a day this way (localtime.long_day)."""
    assert long_day(date(2026, 11, 2)) == "Monday 2 November 2026"
