"""The appreciation ritual: from the day the first skill stage opens, once a week, each partner notes one
thing they appreciated about the other and whether they said it (program/course/content/appreciation.toml).

Each week's note is the writer's own exercise record (stage ONGOING, exercise "appreciation:<Monday>"), in
the couple it was written in; only its writer reads it. The journey and progress code ignore the ONGOING
stage: it is no stage of the program, so it never counts as a step, opens nothing and shows on no chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import Field
from sqlmodel import Session, col, select

from program.course import journey
from program.course.checkins import week_start
from program.course.curriculum import Text, _Content, read_content
from program.infra.models import ExerciseRecord, Role
from program.infra.settings import CONTENT_DIR
from program.privacy import access, couples
from program.privacy.viewer import Viewer

# Where the program's ongoing practices are kept; no stage of the program has this key.
ONGOING = "ongoing"
PREFIX = "appreciation:"
MAX_CHARS = 500


class AppreciationError(ValueError):
    """An appreciation that cannot be kept; the message is meant for the person."""


class AppreciationContent(_Content):
    """appreciation.toml: the words of the weekly log."""

    title: Text
    intro: Text
    prompt: Text
    said: Text
    save: Text
    saved: Text
    privacy: Text
    tips: Annotated[list[Text], Field(min_length=1)]


def load_content(path: Path = CONTENT_DIR / "appreciation.toml") -> AppreciationContent:
    """Read and validate the words; ContentError names the file and the field when it is broken."""
    return read_content(AppreciationContent, path)


@cache
def content() -> AppreciationContent:
    """The shipped words, read once per process."""
    return load_content()


@dataclass(frozen=True)
class Entry:
    """One week's appreciation, as its writer reads it."""

    week: date
    text: str
    said: bool
    noted_at: datetime


def exercise_key(week: date) -> str:
    """The exercise key of one week's note: "appreciation:2026-11-23" (the week's Monday)."""
    return f"{PREFIX}{week.isoformat()}"


def started(progress: journey.Journey) -> datetime | None:
    """When the ritual started for this couple: when the first skill stage opened (None: not yet)."""
    return progress.opened_at(progress.program.stages[0].key)


def own_entries(*, session: Session, viewer: Viewer) -> list[Entry]:
    """The viewer's own weekly notes in their current couple, newest week first (a former couple's stay
    with it)."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    rows = session.exec(
        select(ExerciseRecord).where(
            journey.own_records(viewer, couple_id, ONGOING),
            col(ExerciseRecord.exercise).startswith(PREFIX),
            col(ExerciseRecord.completed_at).is_not(None),
        )
    ).all()
    entries = []
    for row in rows:
        try:
            week = date.fromisoformat(row.exercise.removeprefix(PREFIX))
        except ValueError:
            continue
        text, said = row.data.get("text"), row.data.get("said")
        if isinstance(text, str) and isinstance(said, bool) and row.completed_at is not None:
            entries.append(Entry(week, text, said, row.completed_at))
    return sorted(entries, key=lambda e: e.week, reverse=True)


def is_due(progress: journey.Journey, entries: list[Entry], today: date) -> bool:
    """Whether this week's note is due: the ritual has started (the first skill stage is open) and the
    viewer has not noted this week yet. Due again every Monday."""
    if progress.couple_id is None or started(progress) is None:
        return False
    return all(entry.week != week_start(today) for entry in entries)


def save_entry(
    *,
    session: Session,
    viewer: Viewer,
    progress: journey.Journey,
    today: date,
    text: str,
    said: bool,
    now: datetime,
) -> None:
    """Keep (or rewrite) the viewer's note for the week of `today`. Every rule is checked before anything
    is written."""
    if viewer.role != Role.PARTNER or progress.couple_id is None:
        raise AppreciationError("The appreciation log is for partners in a couple.")
    if started(progress) is None:
        first = progress.program.stages[0].title
        raise AppreciationError(f"The appreciation log starts when {first} opens for you both.")
    text = text.strip()
    if not text:
        raise AppreciationError("Write one thing you appreciated first (a few words are enough).")
    if len(text) > MAX_CHARS:
        raise AppreciationError(f"Please keep this under {MAX_CHARS:,} characters (it has {len(text):,}).")
    if not isinstance(said, bool):
        raise AppreciationError("Please say whether you told them.")
    couples.lock_person(session, viewer.person_id)
    record = journey.exercise_record(
        session=session, viewer=viewer, stage=ONGOING, exercise=exercise_key(week_start(today)), now=now
    )
    # Assign a new dict: the JSON column only notices a change when the value is replaced.
    record.data = {"text": text, "said": said}
    record.completed_at = record.completed_at or now
    record.updated_at = now
    session.add(record)
