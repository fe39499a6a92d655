"""Times as the person reads them: in their browser's time zone, or in UTC when the browser doesn't say."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st


def browser_zone_name() -> str | None:
    """The time zone name the person's browser reports (e.g. "Europe/Berlin"), if any."""
    return st.context.timezone


def zone_named(name: str | None) -> tzinfo:
    """The zone of that name; UTC for none, or for a name this server does not know (it came from the
    browser, so it is untrusted)."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_zone() -> tzinfo:
    """The person's own time zone."""
    return zone_named(browser_zone_name())


def local_today() -> date:
    """Today in the person's own calendar."""
    return datetime.now(local_zone()).date()


def local_time(moment: datetime, zone: tzinfo | None = None) -> str:
    """A stored moment (UTC; naive from SQLite, aware from PostgreSQL) as "30 November 2026, 00:30 CET",
    in the person's zone unless one is given."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    local = aware.astimezone(zone or local_zone())
    return f"{local.day} {local:%B %Y, %H:%M} {local.tzname() or 'UTC'}"


def local_date(moment: datetime, zone: tzinfo | None = None) -> str:
    """A stored moment's day in the person's zone, as "30 November 2026"."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    local = aware.astimezone(zone or local_zone())
    return f"{local.day} {local:%B %Y}"


def long_day(day: date) -> str:
    """A calendar day (no zone: a due day, a week's start, a session's day) as "Monday 30 November 2026"."""
    return f"{day:%A} {day.day} {day:%B %Y}"
