"""What a partner or therapist may read of other people's free text: shared reflections and notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from program.course import journey, keeping
from program.course.curriculum import Program
from program.infra.db import memo
from program.infra.models import CheckIn, Person, Visibility
from program.privacy import access
from program.privacy.viewer import Viewer


@dataclass(frozen=True)
class SharedText:
    """One piece of someone else's text that its writer shared with the viewer."""

    writer: str
    where: str
    body: str
    day: date
    # Whom its writer shared it with: PARTNER is the couple (the partner, and a therapist both let in);
    # THERAPIST is the therapist alone, so a therapist's page keeps it apart from what the couple shares.
    visibility: Visibility
    # When it was written (UTC), so the page can date it in the reader's own time zone; None for a
    # check-in note, which is dated by its week.
    written_at: datetime | None = None
    # When it was last written or changed (UTC), for "new since you last looked" (a check-in's too).
    changed_at: datetime | None = None


def describe_context(program: Program, context: str) -> str:
    """A reader's label for where a text was written, e.g. "Talking and listening · Taking turns"."""
    if context == journey.GOALS_CONTEXT:
        return "Goals"
    if context == journey.STRENGTHS_CONTEXT:
        return "Strengths"
    if context.startswith(journey.HISTORY_PREFIX):
        label = journey.HISTORY_QUESTIONS.get(context.removeprefix(journey.HISTORY_PREFIX))
        return "Relationship history" + (f" · {label[0]}" if label else "")
    if (keeping_label := keeping.describe_context(context)) is not None:
        return keeping_label
    stage_key, _, rest = context.partition(":")
    stage = program.stage_by_key.get(stage_key)
    if stage is None:
        return "Kindred"
    exercise = next((e for e in stage.exercises if e.key == rest.split(":")[0]), None)
    return f"{stage.title} · {exercise.title}" if exercise else stage.title


def shared_with_viewer(
    *, session: Session, viewer: Viewer, couple_id: int, program: Program
) -> list[SharedText]:
    """Other people's texts in this couple that the viewer may read, newest first (rules in access.py).
    Read once per read session (the therapist's view asks three times a rerun)."""
    return list(
        memo(
            session,
            ("shared_with_viewer", viewer.person_id, couple_id, id(program)),
            lambda: _shared_with_viewer(session=session, viewer=viewer, couple_id=couple_id, program=program),
        )
    )


def _shared_with_viewer(
    *, session: Session, viewer: Viewer, couple_id: int, program: Program
) -> tuple[SharedText, ...]:
    reflections = [
        r
        for r in access.readable_reflections(session=session, viewer=viewer, couple_id=couple_id)
        if r.person_id != viewer.person_id
    ]
    notes = [
        c
        for c in access.readable_checkins(session=session, viewer=viewer, couple_id=couple_id)
        if c.person_id != viewer.person_id and c.note
    ]
    writers = {r.person_id for r in reflections} | {c.person_id for c in notes}
    names = dict(
        session.exec(select(Person.id, Person.display_name).where(col(Person.id).in_(writers))).all()
    )
    # Only the timestamps and sharing choices of check-ins already read above (after its access check).
    checkin_rows = {
        (person_id, week): (visibility, updated_at)
        for person_id, week, visibility, updated_at in session.exec(
            select(
                col(CheckIn.person_id),
                col(CheckIn.week_start),
                col(CheckIn.note_visibility),
                col(CheckIn.updated_at),
            ).where(CheckIn.couple_id == couple_id, col(CheckIn.person_id).in_(writers))
        ).all()
    }
    texts = [
        SharedText(
            names[r.person_id],
            describe_context(program, r.context),
            r.body,
            r.updated_at.date(),
            Visibility(r.visibility),
            r.updated_at,
            r.updated_at,
        )
        for r in reflections
    ]
    for c in notes:
        visibility, changed_at = checkin_rows[(c.person_id, c.week_start)]
        texts.append(
            SharedText(
                names[c.person_id],
                f"Weekly check-in, week of {c.week_start:%d %B}",
                c.note or "",
                c.week_start,
                Visibility(visibility),
                changed_at=changed_at,
            )
        )
    return tuple(sorted(texts, key=lambda text: text.day, reverse=True))
