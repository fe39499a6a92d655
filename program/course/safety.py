"""The private safety screen: stored under the person alone, never part of couple progress or charts.

Asked in full before any joint work and again, in a short form, at the start of each stage; repeatable
at any time. A flagged screen changes things only for its person: they are offered a pause of joint work
(program.course.pauses), may tell a therapist "my safety check needs attention" (never the answers), and their
logins go idle sooner (program.auth.login_sessions).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from sqlmodel import Session

from program.course.curriculum import SafetyScreen as SafetyContent
from program.infra import audit
from program.infra.models import Role, SafetyScreen
from program.privacy import couples, grants, safety_screens
from program.privacy.viewer import Viewer

Form = Literal["full", "short"]
FORMS: tuple[Form, ...] = ("full", "short")
ATTENTION_SHARED = "safety.attention_shared"
ATTENTION_WITHDRAWN = "safety.attention_withdrawn"


class SafetyError(ValueError):
    """Answers that cannot be saved; the message is meant for the person."""


def submit_screen(
    *,
    session: Session,
    viewer: Viewer,
    content: SafetyContent,
    answers: Mapping[str, int | None],
    now: datetime,
    form: str = "full",
) -> SafetyScreen:
    """Store a completed screen for the viewer; flagged when any answer reaches its item's threshold."""
    if viewer.role != Role.PARTNER:
        raise SafetyError("The safety check is for partners.")
    if form not in FORMS:
        raise SafetyError("That is not one of the safety checks.")
    items = content.items_for(form)
    options = range(len(content.scale.options))
    missing = [item for item in items if answers.get(item.key) not in options]
    if missing:
        raise SafetyError(
            f"Please answer every question ({len(missing)} still open). 'Never' is an answer too."
        )
    chosen = {item.key: int(answers[item.key] or 0) for item in items}
    flagged = any(chosen[item.key] >= item.flag_at for item in items)
    screen = SafetyScreen(
        person_id=viewer.person_id, form=form, answers=chosen, flagged=flagged, submitted_at=now
    )
    session.add(screen)
    return screen


def latest_own_screen(*, session: Session, viewer: Viewer) -> SafetyScreen | None:
    """The viewer's own most recent screen (only ever their own)."""
    return safety_screens.latest_screen(session, viewer.person_id)


def screen_due(*, session: Session, viewer: Viewer, opened_at: datetime | None) -> Form | None:
    """Which screen the viewer's own "Due now" offers: the full one until they have done it, then the
    short one once per stage (when their current stage opened after their latest screen)."""
    if viewer.role != Role.PARTNER:
        return None
    latest = latest_own_screen(session=session, viewer=viewer)
    if latest is None:
        return "full"
    if opened_at is not None and latest.submitted_at < opened_at:
        return "short"
    return None


def crisis_flagged(content: SafetyContent, screen: SafetyScreen) -> bool:
    """Whether the self-harm question was answered at or past its threshold (shows the crisis line first)."""
    item = next((i for i in content.items if i.key == "self-harm"), None)
    return item is not None and screen.answers.get(item.key, 0) >= item.flag_at


def share_attention(*, session: Session, viewer: Viewer, therapist_id: int, share: bool) -> None:
    """Tell a therapist the viewer has given access to that their safety check needs attention (never the
    answers), or take that back. Each change leaves an audit row, kept out of the couple's record so the
    partner never reads it."""
    couples.lock_person(session, viewer.person_id)
    shared = grants.shares_attention(session=session, viewer=viewer, therapist_id=therapist_id)
    if shared is None:
        raise SafetyError("You can only tell a therapist you have given access to.")
    if share and not safety_screens.is_flagged(session=session, person_id=viewer.person_id):
        raise SafetyError("Your latest safety check did not ask for attention, so there is nothing to share.")
    if shared == share:
        return
    grants.set_shares_attention(session=session, viewer=viewer, therapist_id=therapist_id, share=share)
    audit.record(
        session,
        action=ATTENTION_SHARED if share else ATTENTION_WITHDRAWN,
        actor_id=viewer.person_id,
        subject_id=therapist_id,
    )
