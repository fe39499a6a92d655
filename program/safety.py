"""The private safety screen: stored under the person alone, never part of couple progress or charts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session, col, select

from program.access import Viewer
from program.curriculum import SafetyScreen as SafetyContent
from program.models import Role, SafetyScreen


class SafetyError(ValueError):
    """Answers that cannot be saved; the message is meant for the person."""


def submit_screen(
    *,
    session: Session,
    viewer: Viewer,
    content: SafetyContent,
    answers: Mapping[str, int | None],
    now: datetime,
) -> SafetyScreen:
    """Store a completed screen for the viewer; flagged when any answer reaches its item's threshold."""
    if viewer.role != Role.PARTNER:
        raise SafetyError("The safety check is for partners.")
    options = range(len(content.scale.options))
    missing = [item for item in content.items if answers.get(item.key) not in options]
    if missing:
        raise SafetyError(
            f"Please answer every question ({len(missing)} still open). 'Never' is an answer too."
        )
    chosen = {item.key: int(answers[item.key] or 0) for item in content.items}
    flagged = any(chosen[item.key] >= item.flag_at for item in content.items)
    screen = SafetyScreen(person_id=viewer.person_id, answers=chosen, flagged=flagged, submitted_at=now)
    session.add(screen)
    return screen


def latest_own_screen(*, session: Session, viewer: Viewer) -> SafetyScreen | None:
    """The viewer's own most recent screen (only ever their own)."""
    return session.exec(
        select(SafetyScreen)
        .where(SafetyScreen.person_id == viewer.person_id)
        .order_by(col(SafetyScreen.submitted_at).desc(), col(SafetyScreen.id).desc())
    ).first()


def crisis_flagged(content: SafetyContent, screen: SafetyScreen) -> bool:
    """Whether the self-harm question was answered at or past its threshold (shows the crisis line first)."""
    item = next((i for i in content.items if i.key == "self-harm"), None)
    return item is not None and screen.answers.get(item.key, 0) >= item.flag_at
