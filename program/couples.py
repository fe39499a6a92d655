"""Couples as their members and their therapist see them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from program import access
from program.access import Viewer
from program.models import CoupleMembership, Person


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
    other = session.exec(
        select(Person.display_name)
        .join(CoupleMembership, col(CoupleMembership.person_id) == Person.id)
        .where(
            CoupleMembership.couple_id == couple_id,
            col(CoupleMembership.left_at).is_(None),
            Person.id != viewer.person_id,
        )
    ).first()
    return PartnerStatus(couple_id, other)


def therapist_caseload(*, session: Session, viewer: Viewer) -> list[CoupleSummary]:
    """The couples this therapist may see right now, with their partners' names (two queries in all)."""
    couple_ids = access.couples_visible_to_therapist(session=session, viewer=viewer)
    if not couple_ids:
        return []
    rows = session.exec(
        select(CoupleMembership.couple_id, Person.display_name)
        .join(Person, col(Person.id) == CoupleMembership.person_id)
        .where(col(CoupleMembership.couple_id).in_(couple_ids), col(CoupleMembership.left_at).is_(None))
        .order_by(col(CoupleMembership.couple_id), col(CoupleMembership.joined_at))
    ).all()
    names: dict[int, list[str]] = defaultdict(list)
    for couple_id, name in rows:
        names[couple_id].append(name)
    return [CoupleSummary(couple_id, tuple(names[couple_id])) for couple_id in couple_ids]


def account_summary(*, session: Session, viewer: Viewer) -> AccountSummary:
    """The viewer's own account details."""
    person = session.get(Person, viewer.person_id)
    if person is None:
        raise access.AccessDenied("This account no longer exists.")
    return AccountSummary(person.username, person.display_name, person.role, person.created_at)
