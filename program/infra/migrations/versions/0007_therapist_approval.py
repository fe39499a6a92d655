"""Therapist accounts approved by the server's operator before they can make codes or see a couple.

therapistapproval: one row per approved therapist (`python -m program approve-therapist`), with when and by
whom; `unapprove-therapist` deletes it. Therapists who existed before this revision get no row, on purpose:
anyone could register as a therapist until now, so the operator approves the ones they know (their
couples, whose grants are kept, reappear for them at once). `python -m program demo` approves its own.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from program.infra.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "therapistapproval",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("approved_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("person_id"),
    )


def downgrade() -> None:
    op.drop_table("therapistapproval")
