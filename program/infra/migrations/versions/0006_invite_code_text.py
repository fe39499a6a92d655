"""The open invite code kept, encrypted, so the partner who made it can see it again until it is used.

invitecode.code_text: the code itself as a Fernet token under KINDRED_ENCRYPTION_KEYS (the same encryption
at rest as the free text of 0005); NULL once the code is used, expired or replaced. Codes made before this
revision were stored only as digests and cannot be shown again: they stay NULL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitecode") as batch_op:
        batch_op.add_column(sa.Column("code_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitecode") as batch_op:
        batch_op.drop_column("code_text")
