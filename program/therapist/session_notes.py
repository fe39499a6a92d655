"""A therapist's dated session notes on a couple: written and edited by that therapist, read by nobody else.

Who may read them is decided in one place, access.readable_session_notes; every function here asks it.
The audit trail the couple reads says that a note was written or edited, never what it says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from program.infra import audit
from program.infra.models import TherapistNote
from program.privacy import access
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer

MAX_NOTE_CHARS = 5000
NOTE_WRITTEN = "therapist.note_written"
NOTE_EDITED = "therapist.note_edited"
WROTE = "wrote a session note"
EDITED = "edited a session note"


class NoteError(ValueError):
    """A note that cannot be saved as given; the message is meant for the therapist."""


@dataclass(frozen=True)
class SessionNote:
    """One session note as its therapist reads it."""

    id: int
    body: str
    created_at: datetime
    updated_at: datetime


def _checked_body(body: str) -> str:
    """The note as it will be kept (trimmed), or NoteError with what to change."""
    text = body.strip()
    if not text:
        raise NoteError("The note is empty. Write something before saving it.")
    if len(text) > MAX_NOTE_CHARS:
        raise NoteError(
            f"The note is {len(text)} characters long; a note holds at most {MAX_NOTE_CHARS}. "
            "Shorten it, or split it into two notes."
        )
    return text


def notes(*, session: Session, viewer: Viewer, couple_id: int) -> list[SessionNote]:
    """The viewer's own notes on this couple, newest first (AccessDenied for anyone else)."""
    return [
        SessionNote(row.id, row.body, row.created_at, row.updated_at)
        for row in access.readable_session_notes(session=session, viewer=viewer, couple_id=couple_id)
        if row.id is not None
    ]


def add_note(*, session: Session, viewer: Viewer, couple_id: int, body: str, now: datetime) -> int:
    """Write a new note on a couple the therapist may see; returns its id."""
    access.readable_session_notes(session=session, viewer=viewer, couple_id=couple_id)  # the access check
    note = TherapistNote(
        therapist_id=viewer.person_id,
        couple_id=couple_id,
        body=_checked_body(body),
        created_at=now,
        updated_at=now,
    )
    session.add(note)
    session.flush()
    assert note.id is not None
    audit.record(session, action=NOTE_WRITTEN, actor_id=viewer.person_id, couple_id=couple_id, detail=WROTE)
    return note.id


def edit_note(*, session: Session, viewer: Viewer, note_id: int, body: str, now: datetime) -> None:
    """Replace the text of one of the viewer's own notes, while the couple still lets them in."""
    text = _checked_body(body)
    note = session.get(TherapistNote, note_id)
    # Refused alike whether the note does not exist or belongs to someone else: nothing to learn from it.
    if note is None or note.therapist_id != viewer.person_id:
        raise AccessDenied("This note is not one of yours.")
    readable = access.readable_session_notes(session=session, viewer=viewer, couple_id=note.couple_id)
    if note_id not in {row.id for row in readable}:
        raise AccessDenied("This note is not one of yours.")
    if text == note.body:
        return  # nothing changed: no new date, nothing for the couple's trail
    note.body = text
    note.updated_at = now
    session.add(note)
    audit.record(
        session, action=NOTE_EDITED, actor_id=viewer.person_id, couple_id=note.couple_id, detail=EDITED
    )
