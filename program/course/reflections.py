"""The writer's own free text: saving it (every keystroke batch is a draft kept on the server) and
choosing who may read it. Reading another person's text goes through access.readable_reflections."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from program.infra.models import Reflection, Visibility
from program.privacy import access
from program.privacy.viewer import Viewer

MAX_CHARS = 5_000

VISIBILITY_LABELS = {
    Visibility.PRIVATE: "Private: only me",
    Visibility.PARTNER: "Shared with my partner (and our therapist)",
    Visibility.THERAPIST: "Shared with our therapist only",
}


class TextError(ValueError):
    """Text that cannot be saved; the message is meant for the writer."""


def own_texts(*, session: Session, viewer: Viewer, prefix: str) -> dict[str, Reflection]:
    """The viewer's own texts in their current couple whose context starts with prefix, by context.

    Texts written in an earlier couple stay that couple's: a new couple starts with none.
    """
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    rows = session.exec(
        select(Reflection).where(
            Reflection.person_id == viewer.person_id,
            access.in_couple(Reflection.couple_id, couple_id),
            col(Reflection.context).startswith(prefix),
        )
    ).all()
    return {row.context: row for row in rows}


def save_text(
    *, session: Session, viewer: Viewer, context: str, body: str, visibility: Visibility | None, now: datetime
) -> Reflection | None:
    """Create or update the viewer's text for a context; an emptied text is deleted. Returns the row.

    A new text is private unless its writer chose otherwise; visibility=None keeps the current choice.
    """
    if len(body) > MAX_CHARS:
        raise TextError(f"Please keep this under {MAX_CHARS:,} characters (it has {len(body):,}).")
    existing = own_texts(session=session, viewer=viewer, prefix=context).get(context)
    if not body.strip():
        if existing is not None:
            session.delete(existing)
        return None
    row = existing or Reflection(
        person_id=viewer.person_id,
        couple_id=access.current_couple_id(session=session, viewer=viewer),
        context=context,
        body=body,
        created_at=now,
    )
    row.body = body
    if visibility is not None:
        row.visibility = visibility
    row.updated_at = now
    session.add(row)
    return row


def set_visibility(
    *, session: Session, viewer: Viewer, context: str, visibility: Visibility, now: datetime
) -> None:
    """Change who may read one of the viewer's texts (changeable at any time)."""
    row = own_texts(session=session, viewer=viewer, prefix=context).get(context)
    if row is None:
        raise TextError("Write something first; then you can choose who sees it.")
    row.visibility = visibility
    row.updated_at = now
    session.add(row)
