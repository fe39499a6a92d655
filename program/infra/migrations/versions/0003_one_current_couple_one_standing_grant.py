"""One current couple per person and one standing grant per partner and therapist, kept by the schema.

On PostgreSQL at READ COMMITTED, two requests at the same moment (a double "Start a couple", starting while
joining, a double grant) both passed the application's "check, then insert" and left a person in two
current couples or a partner with two standing grants. The code now locks the person's row; these partial
unique indexes make the database refuse whatever might still slip past.

Rows the races already left behind would stop the indexes being built, so they are repaired first: a person
in several current couples keeps one (a couple with both partners, else the newest) and the others end as if
left (memberships ended, grants revoked, unused invites removed); duplicate standing grants keep the oldest.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from program.infra.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = "left_at IS NULL"
STANDING = "revoked_at IS NULL"

membership = sa.table(
    "couplemembership",
    sa.column("id", sa.Integer),
    sa.column("couple_id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("left_at", UTCDateTime()),
)
grant = sa.table(
    "therapistgrant",
    sa.column("id", sa.Integer),
    sa.column("couple_id", sa.Integer),
    sa.column("partner_id", sa.Integer),
    sa.column("therapist_id", sa.Integer),
    sa.column("revoked_at", UTCDateTime()),
)
invite = sa.table("invitecode", sa.column("couple_id", sa.Integer), sa.column("used_at", UTCDateTime()))


def _end_extra_couples(bind: sa.Connection, now: datetime) -> None:
    rows = bind.execute(
        sa.select(membership.c.person_id, membership.c.couple_id).where(membership.c.left_at.is_(None))
    ).all()
    members = Counter(couple_id for _, couple_id in rows)
    couples_of: defaultdict[int, set[int]] = defaultdict(set)
    for person_id, couple_id in rows:
        couples_of[person_id].add(couple_id)
    ending: set[int] = set()
    for current in couples_of.values():
        if len(current) > 1:
            keep = max(current, key=lambda couple_id: (members[couple_id], couple_id))
            ending |= current - {keep}
    if not ending:
        return
    bind.execute(
        sa.update(membership)
        .where(membership.c.couple_id.in_(ending), membership.c.left_at.is_(None))
        .values(left_at=now)
    )
    bind.execute(
        sa.update(grant)
        .where(grant.c.couple_id.in_(ending), grant.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    bind.execute(sa.delete(invite).where(invite.c.couple_id.in_(ending), invite.c.used_at.is_(None)))


def _revoke_duplicate_grants(bind: sa.Connection, now: datetime) -> None:
    rows = bind.execute(
        sa.select(grant.c.id, grant.c.couple_id, grant.c.partner_id, grant.c.therapist_id)
        .where(grant.c.revoked_at.is_(None))
        .order_by(grant.c.id)
    ).all()
    seen: set[tuple[int, int, int]] = set()
    duplicates: list[int] = []
    for grant_id, couple_id, partner_id, therapist_id in rows:
        key = (couple_id, partner_id, therapist_id)
        if key in seen:
            duplicates.append(grant_id)
        seen.add(key)
    if duplicates:
        bind.execute(sa.update(grant).where(grant.c.id.in_(duplicates)).values(revoked_at=now))


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    _end_extra_couples(bind, now)
    _revoke_duplicate_grants(bind, now)
    op.create_index(
        "uq_couplemembership_one_current",
        "couplemembership",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text(CURRENT),
        postgresql_where=sa.text(CURRENT),
    )
    op.create_index(
        "uq_therapistgrant_one_standing",
        "therapistgrant",
        ["couple_id", "partner_id", "therapist_id"],
        unique=True,
        sqlite_where=sa.text(STANDING),
        postgresql_where=sa.text(STANDING),
    )


def downgrade() -> None:
    # The repairs above are not undone: nobody should be put back into two couples at once.
    op.drop_index("uq_therapistgrant_one_standing", table_name="therapistgrant")
    op.drop_index("uq_couplemembership_one_current", table_name="couplemembership")
