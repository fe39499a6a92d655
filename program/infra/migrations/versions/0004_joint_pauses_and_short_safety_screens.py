"""A partner may pause joint work; the safety screen has a short form asked again at each stage.

jointpause: one row per pause (its reason is the pauser's alone; the partner only ever learns that joint
work is paused), at most one standing pause per person, kept by a partial unique index.
safetyscreen.form: "full" or "short". Screens given before this revision were all the full form.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from program.infra.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STANDING = "ended_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "jointpause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["couple_id"], ["couple.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_jointpause_one_standing",
        "jointpause",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text(STANDING),
        postgresql_where=sa.text(STANDING),
    )
    op.create_index("ix_jointpause_couple_ended", "jointpause", ["couple_id", "ended_at"])
    # Existing rows get "full"; the server default stays, harmless, for rows written without the model.
    with op.batch_alter_table("safetyscreen") as batch_op:
        batch_op.add_column(sa.Column("form", sa.String(length=16), nullable=False, server_default="full"))


def downgrade() -> None:
    with op.batch_alter_table("safetyscreen") as batch_op:
        batch_op.drop_column("form")
    op.drop_index("ix_jointpause_couple_ended", table_name="jointpause")
    op.drop_index("uq_jointpause_one_standing", table_name="jointpause")
    op.drop_table("jointpause")
