"""The audit trail: who did what, when. Written in the same transaction as the change it records."""

from __future__ import annotations

from sqlmodel import Session

from program.infra.models import AuditEvent


def record(
    session: Session,
    *,
    action: str,
    actor_id: int | None = None,
    couple_id: int | None = None,
    subject_id: int | None = None,
    detail: str = "",
) -> AuditEvent:
    """Add one event to the trail (committed with the caller's unit of work)."""
    event = AuditEvent(
        action=action, actor_id=actor_id, couple_id=couple_id, subject_id=subject_id, detail=detail[:300]
    )
    session.add(event)
    return event
