"""Who belongs to which couple: the one module that reads couple memberships.

A membership is current while its partner has not left (`is_current`); every question about a couple as it
is now asks with that one condition. A couple that ended keeps its memberships, each with the time it ended,
so that a person's export and deletion can still find the couples they were in.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from program.infra.db import memo
from program.infra.models import Person, Role
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer


def is_current() -> ColumnElement[bool]:
    """The membership stands: its partner has not left the couple, and the couple has not ended."""
    return col(CoupleMembership.left_at).is_(None)


@dataclass(frozen=True)
class Member:
    """One person's place in one couple, with the name and pronouns the app uses for them."""

    couple_id: int
    person_id: int
    display_name: str
    pronouns: str | None
    joined_at: datetime
    left_at: datetime | None


def _members(session: Session, *where: ColumnElement[bool]) -> list[Member]:
    """Memberships matching these conditions with their people, in joining order (one statement)."""
    # Six columns: SQLAlchemy's own select (SQLModel's takes four at most).
    rows = session.execute(
        sql_select(
            col(CoupleMembership.couple_id),
            col(CoupleMembership.person_id),
            col(Person.display_name),
            col(Person.pronouns),
            col(CoupleMembership.joined_at),
            col(CoupleMembership.left_at),
        )
        .join(Person, col(Person.id) == CoupleMembership.person_id)
        .where(*where)
        .order_by(col(CoupleMembership.joined_at), col(CoupleMembership.id))
    )
    return [Member(*row) for row in rows]


def _partners_key(couple_id: int) -> Hashable:
    return ("current_partners", couple_id)


def current_partners(session: Session, couple_id: int) -> tuple[Member, ...]:
    """The couple's current partners in the order they joined (then by membership id): one statement,
    memoised per read session."""
    return memo(
        session,
        _partners_key(couple_id),
        lambda: tuple(_members(session, col(CoupleMembership.couple_id) == couple_id, is_current())),
    )


def current_partners_of(session: Session, couple_ids: Collection[int]) -> dict[int, tuple[Member, ...]]:
    """current_partners for many couples in one statement (none for no couples): every couple asked for is
    a key, in the order given, with no partners if it has none. Memoised per read session, and each couple's
    answer is kept for current_partners too."""
    wanted = tuple(dict.fromkeys(couple_ids))
    if not wanted:
        return {}

    def compute() -> dict[int, tuple[Member, ...]]:
        found: dict[int, list[Member]] = {couple_id: [] for couple_id in wanted}
        for member in _members(session, col(CoupleMembership.couple_id).in_(wanted), is_current()):
            found[member.couple_id].append(member)
        return {couple_id: tuple(members) for couple_id, members in found.items()}

    partners = memo(session, ("current_partners_of", wanted), compute)
    for couple_id, members in partners.items():
        _remember_partners(session, couple_id, members)
    return dict(partners)


def _remember_partners(session: Session, couple_id: int, members: tuple[Member, ...]) -> None:
    """Keep one couple's partners, read with others', for current_partners (same statement, same answer)."""
    memo(session, _partners_key(couple_id), lambda: members)


def current_membership(session: Session, person_id: int) -> Member | None:
    """The person's current membership, if they are in a couple (one at most: the schema's unique index).
    Memoised per read session."""
    return memo(
        session,
        ("current_membership", person_id),
        lambda: next(
            iter(_members(session, col(CoupleMembership.person_id) == person_id, is_current())), None
        ),
    )


def current_couple_id(*, session: Session, viewer: Viewer) -> int | None:
    """The couple the viewer is a current member of, if any (never for a therapist)."""
    if viewer.role != Role.PARTNER:
        return None
    current = current_membership(session, viewer.person_id)
    return None if current is None else current.couple_id


def is_current_member(couple_id: Any, person_id: Any) -> ColumnElement[bool]:
    """A condition for another query: this person (a column of it, such as a grant's partner) is a current
    member of this couple (another of its columns)."""
    return (
        select(CoupleMembership.id)
        .where(col(CoupleMembership.couple_id) == couple_id, col(CoupleMembership.person_id) == person_id)
        .where(is_current())
        .correlate_except(CoupleMembership)
        .exists()
    )


def current_partner_count(couple_id: Any) -> ScalarSelect[int]:
    """For another query: how many current partners the couple in this column of it has."""
    return (
        select(func.count())
        .select_from(CoupleMembership)
        .where(col(CoupleMembership.couple_id) == couple_id, is_current())
        .correlate_except(CoupleMembership)
        .scalar_subquery()
    )


def change_marks(couple_id: int) -> list[ScalarSelect[Any]]:
    """For a cache key read in one statement: the number of the couple's memberships, current or ended,
    and its latest join. They change when someone joins the couple."""
    return [
        select(aggregate)
        .select_from(CoupleMembership)
        .where(CoupleMembership.couple_id == couple_id)
        .scalar_subquery()
        for aggregate in (func.count(), func.max(CoupleMembership.joined_at))
    ]


def memberships_of(session: Session, person_id: int) -> list[Member]:
    """Every membership the person has had, current or ended, oldest first."""
    return _members(session, col(CoupleMembership.person_id) == person_id)


def members_ever(session: Session, couple_ids: Collection[int]) -> dict[int, tuple[Member, ...]]:
    """Everyone who was ever in each of these couples, current or not, in joining order (one statement).
    Only a couple with some membership is a key."""
    if not couple_ids:
        return {}
    found: dict[int, list[Member]] = {}
    for member in _members(session, col(CoupleMembership.couple_id).in_(list(couple_ids))):
        found.setdefault(member.couple_id, []).append(member)
    return {couple_id: tuple(members) for couple_id, members in found.items()}


def couple_ids_ever(*person_ids: int) -> SelectOfScalar[int]:
    """For another query: the ids of every couple these people were ever in (a statement not yet run)."""
    return select(CoupleMembership.couple_id).where(col(CoupleMembership.person_id).in_(person_ids))


def couples_ever(session: Session, person_ids: Collection[int]) -> list[int]:
    """The ids of every couple these people were ever in, current or ended, each once, oldest couple first."""
    if not person_ids:
        return []
    return sorted(set(session.exec(couple_ids_ever(*person_ids))))
