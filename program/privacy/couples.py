"""Couples: forming one with an invite code, leaving it, and how members and therapists see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select, update

from program.infra import audit, codes
from program.infra.models import (
    CheckIn,
    Couple,
    ExerciseRecord,
    InviteCode,
    Person,
    QuestionnaireSubmission,
    Reflection,
    Role,
)
from program.privacy import access, membership
from program.privacy.tables import CoupleMembership, TherapistGrant
from program.privacy.viewer import Viewer

INVITE_GROUPS = 3  # 12 characters, 60 bits: short enough to read aloud, far too many to guess
INVITE_LIFETIME = timedelta(days=3)
ALREADY_IN_A_COUPLE = "You are already part of a couple."


class CoupleError(ValueError):
    """A couple request that cannot be done; the message is meant for the person."""


# An invite code, shown to the partner who made it until it is used, expires or is replaced.
Invite = codes.IssuedCode


@dataclass(frozen=True)
class PartnerStatus:
    """Where a partner stands: in a couple or not yet, and with whom."""

    couple_id: int | None
    partner_name: str | None


@dataclass(frozen=True)
class CoupleSummary:
    """A couple as it appears in a therapist's list."""

    couple_id: int
    partner_names: tuple[str, ...]


@dataclass(frozen=True)
class AccountSummary:
    """What the account page shows about the viewer."""

    username: str
    display_name: str
    role: str
    member_since: datetime


def partner_status(*, session: Session, viewer: Viewer) -> PartnerStatus:
    """The viewer's couple and the other partner's name, if linked."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return PartnerStatus(None, None)
    other = next(
        (
            m.display_name
            for m in membership.current_partners(session, couple_id)
            if m.person_id != viewer.person_id
        ),
        None,
    )
    return PartnerStatus(couple_id, other)


def therapist_caseload(*, session: Session, viewer: Viewer) -> list[CoupleSummary]:
    """The couples this therapist may see right now, with their partners' names (two queries in all)."""
    couple_ids = access.couples_visible_to_therapist(session=session, viewer=viewer)
    if not couple_ids:
        return []
    partners = membership.current_partners_of(session, couple_ids)
    return [
        CoupleSummary(couple_id, tuple(m.display_name for m in partners[couple_id]))
        for couple_id in couple_ids
    ]


def account_summary(*, session: Session, viewer: Viewer) -> AccountSummary:
    """The viewer's own account details."""
    person = session.get(Person, viewer.person_id)
    if person is None:
        raise access.AccessDenied("This account no longer exists.")
    return AccountSummary(person.username, person.display_name, person.role, person.created_at)


def _require_partner(viewer: Viewer) -> None:
    if viewer.role != Role.PARTNER:
        raise CoupleError("Only partners can be part of a couple.")


def lock_person(session: Session, person_id: int) -> None:
    """Hold this person's row until the unit of work ends, so that their couple and consent changes happen one
    at a time: a check made after this still holds when the change is written.

    FOR UPDATE on PostgreSQL, where at READ COMMITTED two "check, then insert" requests both pass the check;
    on SQLite the write session's BEGIN IMMEDIATE already serialises every writer. Lock the person before the
    couple, everywhere, so two requests never wait on each other in opposite orders.
    """
    session.exec(select(Person.id).where(Person.id == person_id).with_for_update())


def _add_membership(session: Session, couple_id: int, person_id: int, now: datetime) -> None:
    # The schema allows one current couple per person (uq_couplemembership_one_current). If a request ever
    # gets past the locked check, the database refuses it: the person sees the check's message all the same.
    session.add(CoupleMembership(couple_id=couple_id, person_id=person_id, joined_at=now))
    try:
        session.flush()
    except IntegrityError as error:
        raise CoupleError(ALREADY_IN_A_COUPLE) from error


def lock_couple(session: Session, couple_id: int) -> Couple | None:
    """Hold the couple's row until the unit of work ends (joins, leaving, grants); None if it is gone."""
    # FOR UPDATE serialises joins on PostgreSQL; on SQLite the write session already holds the lock.
    return session.exec(select(Couple).where(Couple.id == couple_id).with_for_update()).first()


def _current_members(session: Session, couple_id: int) -> list[int]:
    return [m.person_id for m in membership.current_partners(session, couple_id)]


def _adopt_solo_work(session: Session, person_id: int, couple_id: int) -> None:
    """Work begun before joining (solo start) becomes part of the new couple's record."""
    for table in (QuestionnaireSubmission, Reflection, ExerciseRecord, CheckIn):
        session.exec(
            update(table)
            .where(col(table.person_id) == person_id, col(table.couple_id).is_(None))
            .values(couple_id=couple_id)
        )


def _issue_invite(session: Session, couple_id: int, person_id: int, key: bytes, now: datetime) -> Invite:
    # One live code per couple: making a new one retires the old.
    return codes.issue(
        session,
        table=InviteCode,
        replaces=and_(col(InviteCode.couple_id) == couple_id, col(InviteCode.used_at).is_(None)),
        row=lambda code_hash, issued: InviteCode(
            couple_id=couple_id,
            code_hash=code_hash,
            created_by_id=person_id,
            created_at=now,
            expires_at=issued.expires_at,
            code_text=issued.code,  # encrypted at rest (EncryptedText), so its maker can be shown it again
        ),
        groups=INVITE_GROUPS,
        lifetime=INVITE_LIFETIME,
        key=key,
        now=now,
    )


def open_invite(*, session: Session, viewer: Viewer, now: datetime) -> Invite | None:
    """The live invite code the viewer made for the couple they are waiting in, to show again; else None.

    Only its maker sees it, and only while their couple waits for a second partner: not the partner who
    used it, not anyone after the couple filled up or ended. An expired code's text is forgotten here when
    the session may write (the account page's write session), and is never shown either way.
    """
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return None
    invite = session.exec(
        select(InviteCode).where(
            InviteCode.couple_id == couple_id,
            InviteCode.created_by_id == viewer.person_id,
            col(InviteCode.used_at).is_(None),
            col(InviteCode.code_text).is_not(None),
        )
    ).first()
    if invite is None or invite.code_text is None:
        return None
    if invite.expires_at <= now:
        forget_expired_invites(session=session, now=now)
        return None
    if len(_current_members(session, couple_id)) != 1:
        return None
    return Invite(invite.code_text, invite.expires_at)


def forget_expired_invites(*, session: Session, now: datetime) -> int:
    """Delete the text of every expired invite code (the digest stays, so a late try is told it expired)."""
    result = session.exec(
        update(InviteCode)
        .where(col(InviteCode.expires_at) <= now, col(InviteCode.code_text).is_not(None))
        .values(code_text=None)
    )
    return int(result.rowcount)


def create_couple(*, session: Session, viewer: Viewer, key: bytes, now: datetime) -> Invite:
    """Start a couple with the viewer as its first partner, and return the invite for the second."""
    _require_partner(viewer)
    lock_person(session, viewer.person_id)
    if access.current_couple_id(session=session, viewer=viewer) is not None:
        raise CoupleError(ALREADY_IN_A_COUPLE)
    couple = Couple(created_by_id=viewer.person_id, created_at=now)
    session.add(couple)
    session.flush()
    assert couple.id is not None
    _add_membership(session, couple.id, viewer.person_id, now)
    _adopt_solo_work(session, viewer.person_id, couple.id)
    audit.record(session, action="couple.created", actor_id=viewer.person_id, couple_id=couple.id)
    return _issue_invite(session, couple.id, viewer.person_id, key, now)


def renew_invite(*, session: Session, viewer: Viewer, key: bytes, now: datetime) -> Invite:
    """A fresh invite code for a couple still waiting for its second partner (the old one stops working)."""
    lock_person(session, viewer.person_id)
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        raise CoupleError("Start a couple first.")
    # Wait for a partner joining right now, then count: no fresh code for a couple that just filled up.
    lock_couple(session, couple_id)
    if len(_current_members(session, couple_id)) >= 2:
        raise CoupleError("Your couple already has both partners.")
    invite = _issue_invite(session, couple_id, viewer.person_id, key, now)
    audit.record(session, action="couple.invite_renewed", actor_id=viewer.person_id, couple_id=couple_id)
    return invite


def join_couple(*, session: Session, viewer: Viewer, code: str, key: bytes, now: datetime) -> int:
    """Join the couple an invite code belongs to; returns its id. Each failure has its own message."""
    _require_partner(viewer)
    code_hash = codes.typed_digest(
        code,
        groups=INVITE_GROUPS,
        key=key,
        refuse=CoupleError,
        malformed="An invite code has 12 letters and digits, like 7KQ2-M9XD-4RTB. Please check it.",
    )
    invite = session.exec(select(InviteCode).where(InviteCode.code_hash == code_hash)).first()
    if invite is not None and invite.created_by_id == viewer.person_id:
        raise CoupleError("That is your own invite code: your partner needs to enter it on their account.")
    lock_person(session, viewer.person_id)
    if access.current_couple_id(session=session, viewer=viewer) is not None:
        raise CoupleError(f"{ALREADY_IN_A_COUPLE} Leave it first to join another.")
    if invite is None:
        raise CoupleError("We don't recognise that code. Please check it with your partner.")
    if invite.used_at is not None:
        raise CoupleError("That code has already been used. Ask your partner to make a new one.")
    if invite.expires_at <= now:
        raise CoupleError("That code has expired. Ask your partner to make a new one.")
    if lock_couple(session, invite.couple_id) is None:
        raise CoupleError("That couple no longer exists.")
    members = _current_members(session, invite.couple_id)
    if len(members) != 1:
        raise CoupleError("That couple is not waiting for a partner any more.")
    # Read the code again now that the couple is locked: its maker may have just replaced it.
    if (
        session.exec(
            select(InviteCode.id)
            .where(InviteCode.id == invite.id, col(InviteCode.used_at).is_(None))
            .execution_options(populate_existing=True)
        ).first()
        is None
    ):
        raise CoupleError("We don't recognise that code any more. Ask your partner for their new one.")
    # A used code is never shown again: its text goes with its use.
    invite.used_at, invite.used_by_id, invite.code_text = now, viewer.person_id, None
    session.add(invite)
    _add_membership(session, invite.couple_id, viewer.person_id, now)
    _adopt_solo_work(session, viewer.person_id, invite.couple_id)
    audit.record(session, action="couple.joined", actor_id=viewer.person_id, couple_id=invite.couple_id)
    return invite.couple_id


def leave_couple(*, session: Session, viewer: Viewer, now: datetime) -> None:
    """End the viewer's couple. Nobody's own data is deleted; the couple's shared view and therapist
    access end for both partners, so nothing shared in it can reach whoever either partner pairs with next."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        raise CoupleError("You are not part of a couple.")
    lock_couple(session, couple_id)
    session.exec(
        update(CoupleMembership)
        .where(col(CoupleMembership.couple_id) == couple_id, membership.is_current())
        .values(left_at=now)
    )
    session.exec(
        update(TherapistGrant)
        .where(col(TherapistGrant.couple_id) == couple_id, col(TherapistGrant.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    session.exec(
        delete(InviteCode).where(col(InviteCode.couple_id) == couple_id, col(InviteCode.used_at).is_(None))
    )
    audit.record(session, action="couple.left", actor_id=viewer.person_id, couple_id=couple_id)
