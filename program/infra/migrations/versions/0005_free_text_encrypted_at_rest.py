"""Free text encrypted at rest: reflections, check-in notes, exercise records, therapist notes, homework
instructions and safety answers become Fernet tokens under KINDRED_ENCRYPTION_KEYS.

The JSON columns (exercise records, safety answers) become text: a token is text, and nothing may query
inside them any more. Existing rows are encrypted in place with the newest key; SQLite keeps the old
plain pages in free space until `python -m program rotate-keys` (which ends with VACUUM) or a VACUUM.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from program.infra import crypto
from program.infra.settings import get_settings

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, was JSON)
ENCRYPTED = (
    ("reflection", "body", False),
    ("checkin", "note", False),
    ("exerciserecord", "data", True),
    ("therapistnote", "body", False),
    ("homeworkassignment", "instructions", False),
    ("safetyscreen", "answers", True),
)


def _keyring_ready() -> None:
    # The app, the CLI and the tests set the keyring before migrating; `alembic` run alone takes it from
    # the same settings.
    if not crypto.is_configured():
        crypto.configure(get_settings().encryption_key_list())


def _convert(table: str, column: str, change: Callable[[str], str]) -> None:
    bind = op.get_bind()
    raw = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.Text))
    rows = bind.execute(sa.select(raw.c.id, raw.c[column]).where(raw.c[column].is_not(None))).all()
    for row_id, value in rows:
        bind.execute(sa.update(raw).where(raw.c.id == row_id).values({column: change(value)}))


def upgrade() -> None:
    _keyring_ready()
    for table, column, was_json in ENCRYPTED:
        if was_json:
            with op.batch_alter_table(table) as batch_op:
                batch_op.alter_column(
                    column, existing_type=sa.JSON(), type_=sa.Text(), postgresql_using=f"{column}::text"
                )
        # The JSON text of the old column is exactly what EncryptedJSON decrypts and parses.
        _convert(table, column, crypto.encrypt)


def downgrade() -> None:
    _keyring_ready()
    for table, column, was_json in reversed(ENCRYPTED):
        _convert(table, column, crypto.decrypt)
        if was_json:
            with op.batch_alter_table(table) as batch_op:
                batch_op.alter_column(
                    column, existing_type=sa.Text(), type_=sa.JSON(), postgresql_using=f"{column}::json"
                )
