"""Pausing joint work: any partner may pause the couple's guided conversations, for a reason of their own.

The partner learns only that joint work is paused (program.privacy.access.readable_pause): the same single bit
whether the pause is for being busy, travelling, a break or, suggested privately after a flagged safety
screen, for safety. Solo exercises stay open to both. Only the pauser can end their pause.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from program.infra.models import JointPause, PauseReason, Role
from program.privacy import access, couples
from program.privacy.viewer import Viewer

# What anyone may choose, in the words they see; "safety" is offered only to the person a screen flagged,
# and reads, to everyone else, like any of these.
VISIBLE_REASONS: dict[PauseReason, str] = {
    PauseReason.BUSY: "I'm busy",
    PauseReason.TRAVELLING: "I'm travelling",
    PauseReason.BREAK: "I need a break",
}
# The one sentence a partner ever sees about a pause, whatever its reason.
PARTNER_PAUSED = "Your partner isn't available for joint exercises right now."
OWN_PAUSE = (
    "You have paused joint exercises. Guided conversations are closed for both of you until you end the "
    "pause; everything you do on your own stays open."
)


class PauseError(ValueError):
    """A pause that cannot be started or ended; the message is meant for the person."""


def start_pause(*, session: Session, viewer: Viewer, reason: PauseReason | str, now: datetime) -> JointPause:
    """Pause the viewer's couple's joint work (or change the reason of the viewer's standing pause)."""
    try:
        why = PauseReason(reason)
    except ValueError as error:
        raise PauseError("Please choose a reason from the list.") from error
    if viewer.role != Role.PARTNER:
        raise PauseError("Only partners pause joint work.")
    couples.lock_person(session, viewer.person_id)
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        raise PauseError("Joint work starts once you and your partner are linked; there is nothing to pause.")
    standing = _standing(session, viewer)
    for pause in standing:
        if pause.couple_id == couple_id:
            pause.reason = why
            session.add(pause)
            return pause
        # A pause from a couple that ended: it paused that couple only.
        pause.ended_at = now
        session.add(pause)
    session.flush()
    pause = JointPause(person_id=viewer.person_id, couple_id=couple_id, reason=why, started_at=now)
    session.add(pause)
    session.flush()
    return pause


def end_pause(*, session: Session, viewer: Viewer, now: datetime) -> bool:
    """End the viewer's own pause; another partner's pause is never theirs to end. Whether one ended."""
    couples.lock_person(session, viewer.person_id)
    standing = _standing(session, viewer)
    for pause in standing:
        pause.ended_at = now
        session.add(pause)
    return bool(standing)


def _standing(session: Session, viewer: Viewer) -> list[JointPause]:
    return list(
        session.exec(
            select(JointPause).where(
                JointPause.person_id == viewer.person_id, col(JointPause.ended_at).is_(None)
            )
        )
    )
