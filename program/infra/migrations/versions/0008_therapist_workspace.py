"""The therapist's session workspace: homework for one partner or both, sessions held, session feedback.

homeworkassignment.for_person_id: the partner a therapist's homework is for (NULL: both partners).
therapysession: a session the therapist marked held with a couple; each partner may then rate it.
sessionfeedback: one partner's private 0-10 ratings of one session (read by that partner and the
therapist who held it, never by the other partner).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from program.infra.models import FEEDBACK_ITEMS, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOR_PERSON_FK = "fk_homeworkassignment_for_person_id_person"


def upgrade() -> None:
    with op.batch_alter_table("homeworkassignment") as batch_op:
        batch_op.add_column(sa.Column("for_person_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(FOR_PERSON_FK, "person", ["for_person_id"], ["id"], ondelete="CASCADE")
    op.create_table(
        "therapysession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=True),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["couple_id"], ["couple.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["therapist_id"], ["person.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("therapysession") as batch_op:
        batch_op.create_index("ix_therapysession_couple_held", ["couple_id", "held_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_therapysession_therapist_id"), ["therapist_id"], unique=False)
    op.create_table(
        "sessionfeedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in FEEDBACK_ITEMS),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=False),
        *(
            sa.CheckConstraint(f"{name} BETWEEN 0 AND 10", name=f"ck_sessionfeedback_{name}_range")
            for name in FEEDBACK_ITEMS
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["therapysession.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "person_id"),
    )
    with op.batch_alter_table("sessionfeedback") as batch_op:
        batch_op.create_index(batch_op.f("ix_sessionfeedback_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sessionfeedback_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_table("sessionfeedback")
    op.drop_table("therapysession")
    with op.batch_alter_table("homeworkassignment") as batch_op:
        batch_op.drop_constraint(FOR_PERSON_FK, type_="foreignkey")
        batch_op.drop_column("for_person_id")
