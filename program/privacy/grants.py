"""Therapist access: the operator's approval, a therapist's code, each partner's grant, revoking it, and the
record of views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, delete, or_, select, update

from program.infra import audit, codes
from program.infra.models import AuditEvent, Person, Role
from program.privacy import access, couples
from program.privacy.access import AccessDenied
from program.privacy.tables import TherapistApproval, TherapistCode, TherapistGrant
from program.privacy.viewer import Viewer, normalise_username

THERAPIST_CODE_GROUPS = 3
THERAPIST_CODE_LIFETIME = timedelta(days=30)
VIEWED = "therapist.viewed"
VIEWED_DETAIL = "opened your record"
STAGE_OPENED = "stage.opened"
# Everything a therapist does to a couple's record, in the audit trail the couple reads on their account
# page. Each detail is a fixed phrase ("wrote a session note"): never a note's, homework's or rating's
# content. A stage opening's detail is the stage key, which the page names.
THERAPIST_ACTIONS = (
    VIEWED,
    "therapist.note_written",
    "therapist.note_edited",
    "therapist.homework_assigned",
    "therapist.session_held",
    "therapist.report_downloaded",
    STAGE_OPENED,
)
WAITING_FOR_APPROVAL = (
    "Your therapist account is waiting for approval by this server's operator. Until then you cannot "
    "make a code for couples, and no couple can give you access."
)


class GrantError(ValueError):
    """A consent or approval request that cannot be done as asked: no couple to give access for, access
    already given or never given, an unknown or partner's username. The message is meant for the person.
    Not a refusal to show or do something the person may not: that is access.AccessDenied."""


class CodeError(GrantError):
    """The therapist's code as typed is not right: malformed, unknown, expired, from a therapist the operator
    has not approved, or now someone else's. The message is meant for the person."""


@dataclass(frozen=True)
class Approval:
    """The outcome of an operator's approve or unapprove command, for the operator to read."""

    username: str
    display_name: str
    changed: bool
    approved_at: datetime | None
    approved_by: str | None


@dataclass(frozen=True)
class CodeOwner:
    """The approved therapist behind a code, as a partner sees them before giving access."""

    therapist_id: int
    therapist_name: str
    approved_at: datetime


# A therapist's code, shown once to the therapist.
IssuedCode = codes.IssuedCode


@dataclass(frozen=True)
class TherapistAccess:
    """One therapist as a partner sees them: who, whose grants stand, and whether they are approved."""

    therapist_id: int
    therapist_name: str
    mine: bool
    partners: bool
    approved: bool = True

    @property
    def can_see_couple(self) -> bool:
        """Both partners' grants stand, and the operator approves the therapist."""
        return self.mine and self.partners and self.approved


@dataclass(frozen=True)
class ViewRecord:
    """One thing a therapist did with the couple's record (opened it, wrote a note...), as the partners can
    read it: when, who, and the action's fixed phrase."""

    at: datetime
    therapist_name: str
    what: str
    action: str = VIEWED


def _therapist_by_username(session: Session, username: str) -> Person:
    """The therapist with this username, row-locked (see couples.lock_person); refused for anyone else."""
    name = normalise_username(username)
    person = session.exec(select(Person).where(Person.username == name)).first()
    if person is None or person.id is None:
        raise GrantError(f"There is no account named {name!r}.")
    if person.role != Role.THERAPIST:
        raise GrantError(f"{name!r} is a partner's account: only therapist accounts are approved.")
    couples.lock_person(session, person.id)
    return person


def approve_therapist(*, session: Session, username: str, operator: str, now: datetime) -> Approval:
    """The operator approves a therapist account: it may make codes, and couples may give it access."""
    person = _therapist_by_username(session, username)
    assert person.id is not None
    current = session.get(TherapistApproval, person.id)
    if current is not None:
        return Approval(person.username, person.display_name, False, current.approved_at, current.approved_by)
    operator = operator[:64]
    session.add(TherapistApproval(person_id=person.id, approved_at=now, approved_by=operator))
    audit.record(session, action="therapist.approved", subject_id=person.id, detail=f"by {operator}")
    return Approval(person.username, person.display_name, True, now, operator)


# `now` unused: the same signature as approve_therapist, which the command line calls alike.
def unapprove_therapist(*, session: Session, username: str, operator: str, now: datetime) -> Approval:  # noqa: ARG001
    """The operator withdraws a therapist's approval: their codes stop working and they see no couple."""
    person = _therapist_by_username(session, username)
    current = session.get(TherapistApproval, person.id)
    if current is None:
        return Approval(person.username, person.display_name, False, None, None)
    session.delete(current)
    # Deleted, not only refused while unapproved: approving again later must not revive a code in the wild.
    session.exec(delete(TherapistCode).where(col(TherapistCode.therapist_id) == person.id))
    audit.record(session, action="therapist.unapproved", subject_id=person.id, detail=f"by {operator}")
    return Approval(person.username, person.display_name, True, None, None)


def approved_at(*, session: Session, viewer: Viewer) -> datetime | None:
    """When the operator approved this therapist; None while they wait (and always for partners)."""
    if viewer.role != Role.THERAPIST:
        return None
    return _approved_at(session, viewer.person_id)


def _approved_at(session: Session, person_id: int) -> datetime | None:
    return session.exec(
        select(TherapistApproval.approved_at).where(TherapistApproval.person_id == person_id)
    ).first()


def issue_therapist_code(*, session: Session, viewer: Viewer, key: bytes, now: datetime) -> IssuedCode:
    """A new code for couples to grant access with; the therapist's earlier code stops working.
    AccessDenied for a partner, and for a therapist the operator has not approved."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only therapists have a code to share.")
    # Locked like the operator's commands lock it: an unapproval being committed is seen, not overtaken.
    couples.lock_person(session, viewer.person_id)
    if _approved_at(session, viewer.person_id) is None:
        raise AccessDenied(WAITING_FOR_APPROVAL)
    issued = codes.issue(
        session,
        table=TherapistCode,
        replaces=col(TherapistCode.therapist_id) == viewer.person_id,
        row=lambda code_hash, issued: TherapistCode(
            therapist_id=viewer.person_id, code_hash=code_hash, created_at=now, expires_at=issued.expires_at
        ),
        groups=THERAPIST_CODE_GROUPS,
        lifetime=THERAPIST_CODE_LIFETIME,
        key=key,
        now=now,
    )
    audit.record(session, action="therapist.code_issued", actor_id=viewer.person_id)
    return issued


def _couple_to_grant_for(session: Session, viewer: Viewer) -> int:
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        raise GrantError("Link up with your partner first: a therapist sees a couple, not one partner.")
    return couple_id


def _code_owner(
    session: Session, code: str, key: bytes, now: datetime, *, lock: bool = False
) -> tuple[TherapistCode, Person, datetime]:
    """The code and its therapist, refused as a partner would be told: malformed, unknown, expired, or from
    a therapist the operator has not approved (or no longer approves)."""
    code_hash = codes.typed_digest(
        code,
        groups=THERAPIST_CODE_GROUPS,
        key=key,
        refuse=CodeError,
        malformed="A therapist's code has 12 letters and digits, like 7KQ2-M9XD-4RTB. Please check it.",
    )
    found = session.exec(
        select(TherapistCode, Person)
        .join(Person, col(Person.id) == TherapistCode.therapist_id)
        .where(TherapistCode.code_hash == code_hash)
    ).first()
    if found is None or found[1].disabled_at is not None:
        raise CodeError("We don't recognise that code. Please check it with your therapist.")
    therapist_code, therapist = found
    if lock:
        # After the partner's own lock (the order couples.lock_person asks for): an unapproval being
        # committed for this therapist is waited for, and its deleted approval is then read below.
        couples.lock_person(session, therapist_code.therapist_id)
    approved = _approved_at(session, therapist_code.therapist_id)
    if approved is None:
        raise CodeError(
            "That code belongs to a therapist account this server's operator has not approved, so it "
            "cannot give access. Please check with your therapist."
        )
    if therapist_code.expires_at <= now:
        raise CodeError("That code has expired. Please ask your therapist for a new one.")
    return therapist_code, therapist, approved


def code_owner(*, session: Session, viewer: Viewer, code: str, key: bytes, now: datetime) -> CodeOwner:
    """Who a code would give access to, checked as grant_access checks it, without granting anything:
    the partner confirms the name before giving access."""
    if codes.has_hidden_characters(code):
        raise CodeError(codes.HIDDEN_CHARACTER_MESSAGE)
    _couple_to_grant_for(session, viewer)
    therapist_code, therapist, approved = _code_owner(session, code, key, now)
    return CodeOwner(therapist_code.therapist_id, therapist.display_name, approved)


def therapist_code_is_live(*, session: Session, code_hash: str, now: datetime) -> bool:
    """Whether a therapist's code with this digest (codes.typed_digest) still works at `now`: where sign-up
    is by invitation, such a code admits a new account."""
    expires_at = session.exec(
        select(TherapistCode.expires_at).where(TherapistCode.code_hash == code_hash)
    ).first()
    return expires_at is not None and expires_at > now


def grant_access(
    *,
    session: Session,
    viewer: Viewer,
    code: str,
    key: bytes,
    now: datetime,
    therapist_id: int | None = None,
) -> str:
    """The viewer (a partner) grants the therapist behind this code access; returns the therapist's name.

    With `therapist_id` (the one the partner confirmed), a code that now leads anyone else is refused."""
    if codes.has_hidden_characters(code):
        raise CodeError(codes.HIDDEN_CHARACTER_MESSAGE)
    # One consent change at a time per partner (see couples.lock_person), then the checks.
    couples.lock_person(session, viewer.person_id)
    couple_id = _couple_to_grant_for(session, viewer)
    therapist_code, therapist, _ = _code_owner(session, code, key, now, lock=True)
    if therapist_id is not None and therapist_code.therapist_id != therapist_id:
        raise CodeError("That code now belongs to someone else. Please check it with your therapist.")
    # Wait for a partner who is leaving right now: a grant must not land on a couple that has just ended.
    couples.lock_couple(session, couple_id)
    if access.current_couple_id(session=session, viewer=viewer) != couple_id:
        raise GrantError("Your couple has just ended, so there is nobody to give access to.")
    already = GrantError(f"You have already given {therapist.display_name} access.")
    if _standing_grant(session, couple_id, viewer.person_id, therapist_code.therapist_id) is not None:
        raise already
    session.add(
        TherapistGrant(
            couple_id=couple_id,
            therapist_id=therapist_code.therapist_id,
            partner_id=viewer.person_id,
            granted_at=now,
        )
    )
    # The schema allows one standing grant per couple, partner and therapist (uq_therapistgrant_one_standing):
    # a duplicate that ever gets past the locked check is refused there, with the check's message.
    try:
        session.flush()
    except IntegrityError as error:
        raise already from error
    audit.record(
        session,
        action="therapist.granted",
        actor_id=viewer.person_id,
        couple_id=couple_id,
        subject_id=therapist_code.therapist_id,
    )
    return therapist.display_name


def _standing(couple_id: int | None, partner_id: int, therapist_id: int) -> ColumnElement[bool]:
    """This partner's standing (not revoked) grants for this therapist in this couple: one at most."""
    return and_(
        col(TherapistGrant.couple_id) == couple_id,
        col(TherapistGrant.partner_id) == partner_id,
        col(TherapistGrant.therapist_id) == therapist_id,
        col(TherapistGrant.revoked_at).is_(None),
    )


def _standing_grant(session: Session, couple_id: int, partner_id: int, therapist_id: int) -> int | None:
    """The id of this partner's standing grant for this therapist in this couple, if there is one."""
    standing = _standing(couple_id, partner_id, therapist_id)
    return session.exec(select(TherapistGrant.id).where(standing)).first()


def revoke_access(*, session: Session, viewer: Viewer, therapist_id: int, now: datetime) -> None:
    """The viewer withdraws their grant for this therapist; the therapist loses the couple at once."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    grants = session.exec(
        select(TherapistGrant).where(_standing(couple_id, viewer.person_id, therapist_id))
    ).all()
    if not grants:
        raise GrantError("You have not given this therapist access.")
    for grant in grants:
        grant.revoked_at = now
        session.add(grant)
    audit.record(
        session,
        action="therapist.revoked",
        actor_id=viewer.person_id,
        couple_id=couple_id,
        subject_id=therapist_id,
    )


def therapists_of_couple(*, session: Session, viewer: Viewer) -> list[TherapistAccess]:
    """The therapists either partner of the viewer's couple has granted access, with each side's grant."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return []
    rows = session.exec(
        select(
            TherapistGrant.therapist_id,
            Person.display_name,
            TherapistGrant.partner_id,
            TherapistApproval.approved_at,
        )
        .join(Person, col(Person.id) == TherapistGrant.therapist_id)
        .join(TherapistApproval, col(TherapistApproval.person_id) == Person.id, isouter=True)
        .where(TherapistGrant.couple_id == couple_id, col(TherapistGrant.revoked_at).is_(None))
    ).all()
    names: dict[int, str] = {}
    approved: set[int] = set()
    granted_by: dict[int, set[int]] = {}
    for therapist_id, name, partner_id, approved_at in rows:
        names[therapist_id] = name
        if approved_at is not None:
            approved.add(therapist_id)
        granted_by.setdefault(therapist_id, set()).add(partner_id)
    return [
        TherapistAccess(
            therapist_id,
            names[therapist_id],
            mine=viewer.person_id in partners,
            partners=bool(partners - {viewer.person_id}),
            approved=therapist_id in approved,
        )
        for therapist_id, partners in sorted(granted_by.items(), key=lambda item: names[item[0]])
    ]


def attention_shared_with(*, session: Session, viewer: Viewer) -> set[int]:
    """The therapists the viewer has told "my safety check needs attention" (their own grants only)."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return set()
    return set(
        session.exec(
            select(TherapistGrant.therapist_id).where(
                TherapistGrant.couple_id == couple_id,
                TherapistGrant.partner_id == viewer.person_id,
                col(TherapistGrant.revoked_at).is_(None),
                col(TherapistGrant.share_safety_screen).is_(True),
            )
        )
    )


def shares_attention(*, session: Session, viewer: Viewer, therapist_id: int) -> bool | None:
    """Whether the viewer's own standing grant for this therapist, in their current couple, tells the
    therapist that the viewer's safety check needs attention; None when the viewer has no such grant."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return None
    return session.exec(
        select(TherapistGrant.share_safety_screen).where(_standing(couple_id, viewer.person_id, therapist_id))
    ).first()


def set_shares_attention(*, session: Session, viewer: Viewer, therapist_id: int, share: bool) -> None:
    """Say on the viewer's own standing grant for this therapist whether their safety check needs attention
    (never the answers); nothing changes without such a grant (see shares_attention)."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    session.exec(
        update(TherapistGrant)
        .where(_standing(couple_id, viewer.person_id, therapist_id))
        .values(share_safety_screen=share)
    )


def couple_for_therapist(*, session: Session, viewer: Viewer, couple_id: int) -> couples.CoupleSummary:
    """A couple as its therapist sees it; refused without the operator's approval or without both
    partners' standing grants."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only a therapist opens a couple this way.")
    if approved_at(session=session, viewer=viewer) is None:
        raise AccessDenied(WAITING_FOR_APPROVAL)
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    return next(
        c for c in couples.therapist_caseload(session=session, viewer=viewer) if c.couple_id == couple_id
    )


def open_couple(
    *, session: Session, viewer: Viewer, couple_id: int, what: str = VIEWED_DETAIL
) -> couples.CoupleSummary:
    """A therapist opens a couple: checked like couple_for_therapist, and recorded for the couple to read."""
    summary = couple_for_therapist(session=session, viewer=viewer, couple_id=couple_id)
    audit.record(session, action=VIEWED, actor_id=viewer.person_id, couple_id=couple_id, detail=what)
    return summary


def last_opened(*, session: Session, viewer: Viewer, couple_id: int) -> datetime | None:
    """When this therapist last opened this couple (None: never). Read before open_couple records the
    current opening, it is what the pre-session brief counts changes from. Another therapist's openings
    do not count: each therapist's brief runs from their own last look."""
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    return session.exec(
        select(AuditEvent.at)
        .where(
            AuditEvent.couple_id == couple_id,
            AuditEvent.actor_id == viewer.person_id,
            AuditEvent.action == VIEWED,
        )
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    ).first()


def view_record(*, session: Session, viewer: Viewer) -> list[ViewRecord]:
    """Everything a therapist did with the viewer's couple's record (THERAPIST_ACTIONS), newest first
    (partners only): each view, note written or edited, homework assigned, session held, report downloaded
    and stage opened, never their contents."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return []
    therapist = aliased(Person)
    rows = session.exec(
        select(AuditEvent.at, therapist.display_name, AuditEvent.detail, AuditEvent.action)
        .join(therapist, col(therapist.id) == AuditEvent.actor_id)
        .where(
            AuditEvent.couple_id == couple_id,
            col(AuditEvent.action).in_(THERAPIST_ACTIONS),
            therapist.role == Role.THERAPIST,
        )
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    ).all()
    return [ViewRecord(at, name, what or "", action) for at, name, what, action in rows]


@dataclass(frozen=True)
class GrantHistory:
    """One grant the viewer gave or was given, standing or revoked, as their export lists it."""

    couple_id: int
    therapist_name: str
    partner_name: str
    # Whether the partner told the therapist their safety check needs attention: the partner's to take,
    # not the therapist's (who saw it only while it stood), so None for anyone but the partner.
    share_safety_screen: bool | None
    granted_at: datetime
    revoked_at: datetime | None


def grant_history(*, session: Session, viewer: Viewer) -> list[GrantHistory]:
    """Every grant the viewer gave (a partner) or was given (a therapist), in any couple, oldest first."""
    therapist, partner = aliased(Person), aliased(Person)
    mine = or_(TherapistGrant.partner_id == viewer.person_id, TherapistGrant.therapist_id == viewer.person_id)
    rows = session.exec(
        select(TherapistGrant, therapist.display_name, partner.display_name)
        .join(therapist, col(therapist.id) == TherapistGrant.therapist_id)
        .join(partner, col(partner.id) == TherapistGrant.partner_id)
        .where(mine)
        .order_by(col(TherapistGrant.granted_at), col(TherapistGrant.id))
    ).all()
    return [
        GrantHistory(
            couple_id=g.couple_id,
            therapist_name=therapist_name,
            partner_name=partner_name,
            share_safety_screen=g.share_safety_screen if g.partner_id == viewer.person_id else None,
            granted_at=g.granted_at,
            revoked_at=g.revoked_at,
        )
        for g, therapist_name, partner_name in rows
    ]
