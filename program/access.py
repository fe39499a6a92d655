"""Who may see what. Every function that returns a person's or a couple's data asks here first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from program.models import CoupleMembership, Person, Role, TherapistGrant


class AccessDenied(PermissionError):
    """The viewer may not see this."""


@dataclass(frozen=True)
class Viewer:
    """The logged-in person on whose behalf a page reads data."""

    person_id: int
    username: str
    display_name: str
    role: Role

    @classmethod
    def of(cls, person: Person) -> Viewer:
        """The viewer for a person row."""
        assert person.id is not None
        return cls(person.id, person.username, person.display_name, Role(person.role))


def current_couple_id(*, session: Session, viewer: Viewer) -> int | None:
    """The couple the viewer is a current member of, if any."""
    if viewer.role != Role.PARTNER:
        return None
    return session.exec(
        select(CoupleMembership.couple_id).where(
            CoupleMembership.person_id == viewer.person_id, col(CoupleMembership.left_at).is_(None)
        )
    ).first()


def couples_visible_to_therapist(*, session: Session, viewer: Viewer) -> list[int]:
    """Couples whose every current partner has a standing grant for this therapist (and who have two)."""
    if viewer.role != Role.THERAPIST:
        return []
    current = (
        select(CoupleMembership.couple_id, CoupleMembership.person_id)
        .where(col(CoupleMembership.left_at).is_(None))
        .subquery()
    )
    granted = (
        select(current.c.couple_id)
        .join(
            TherapistGrant,
            and_(
                col(TherapistGrant.couple_id) == current.c.couple_id,
                col(TherapistGrant.partner_id) == current.c.person_id,
                col(TherapistGrant.therapist_id) == viewer.person_id,
                col(TherapistGrant.revoked_at).is_(None),
            ),
            isouter=True,
        )
        .group_by(current.c.couple_id)
        # Two current partners, and a standing grant from each of them.
        .having(func.count(func.distinct(current.c.person_id)) == 2)
        .having(func.count(func.distinct(TherapistGrant.partner_id)) == 2)
    )
    return [int(couple_id) for couple_id in session.execute(granted.order_by(current.c.couple_id)).scalars()]


def can_view_couple(*, session: Session, viewer: Viewer, couple_id: int) -> bool:
    """Whether the viewer may see this couple's shared data at all."""
    if viewer.role == Role.PARTNER:
        return current_couple_id(session=session, viewer=viewer) == couple_id
    return couple_id in couples_visible_to_therapist(session=session, viewer=viewer)


def require_couple(*, session: Session, viewer: Viewer, couple_id: int) -> None:
    """Raise AccessDenied unless the viewer may see this couple."""
    if not can_view_couple(session=session, viewer=viewer, couple_id=couple_id):
        raise AccessDenied("You do not have access to this couple.")
