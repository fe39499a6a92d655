"""A person's own latest safety screen, as rules read it: for their own pages and their login's idle limit.

Nobody else reads a screen through here: a therapist learns only "needs attention", and only with that
partner's consent, through program.privacy.access.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from program.infra.models import SafetyScreen


def latest_screen(session: Session, person_id: int) -> SafetyScreen | None:
    """The person's most recent screen, if any."""
    return session.exec(
        select(SafetyScreen)
        .where(SafetyScreen.person_id == person_id)
        .order_by(col(SafetyScreen.submitted_at).desc(), col(SafetyScreen.id).desc())
    ).first()


def is_flagged(*, session: Session, person_id: int) -> bool:
    """Whether this person's latest screen is flagged (for their own session policy; never shown)."""
    latest = latest_screen(session, person_id)
    return bool(latest and latest.flagged)
