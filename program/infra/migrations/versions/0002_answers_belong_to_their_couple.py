"""Answers, exercises and check-ins are unique per couple, so a new couple starts its own program.

Before, one submission per person and occasion (and one exercise record per person and exercise, one
check-in per person and week) meant a partner who re-formed with someone else could not take the
assessment again, and the old couple's rows were all there was to show. Each rule is now two partial
unique indexes: one over (person, couple, ...) for rows given in a couple, one over (person, ...) for
couple-less rows (NULLs are distinct in a plain UNIQUE on both SQLite and PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Gives SQLite's reflected unnamed UNIQUE constraints a name batch mode can drop them by.
CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
IN_COUPLE = "couple_id IS NOT NULL"
SOLO = "couple_id IS NULL"

# table: (index prefix, the columns after person_id, the old constraint's name if 0001 named it)
RULES: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "questionnairesubmission": ("submission", ("instrument", "occasion"), "uq_submission_person_occasion"),
    "exerciserecord": ("exerciserecord", ("stage", "exercise"), None),
    "checkin": ("checkin", ("week_start",), None),
}


def _old_name(table: str, columns: tuple[str, ...], named: str | None) -> str:
    if named is not None:
        return named
    everything = ("person_id", *columns)
    if op.get_bind().dialect.name == "postgresql":
        return f"{table}_{'_'.join(everything)}_key"  # PostgreSQL's own name for an unnamed UNIQUE
    return f"uq_{table}_{'_'.join(everything)}"  # CONVENTION's name, inside batch mode


def upgrade() -> None:
    for table, (prefix, columns, named) in RULES.items():
        with op.batch_alter_table(table, naming_convention=CONVENTION) as batch_op:
            batch_op.drop_constraint(_old_name(table, columns, named), type_="unique")
            batch_op.create_index(
                f"uq_{prefix}_couple",
                ["person_id", "couple_id", *columns],
                unique=True,
                sqlite_where=sa.text(IN_COUPLE),
                postgresql_where=sa.text(IN_COUPLE),
            )
            batch_op.create_index(
                f"uq_{prefix}_solo",
                ["person_id", *columns],
                unique=True,
                sqlite_where=sa.text(SOLO),
                postgresql_where=sa.text(SOLO),
            )


def downgrade() -> None:
    # Fails if a person has re-formed and answered the same occasion in two couples: the old schema has
    # no room for that, and dropping either couple's answers silently would be worse.
    for table, (prefix, columns, named) in RULES.items():
        with op.batch_alter_table(table, naming_convention=CONVENTION) as batch_op:
            batch_op.drop_index(f"uq_{prefix}_solo")
            batch_op.drop_index(f"uq_{prefix}_couple")
            batch_op.create_unique_constraint(_old_name(table, columns, named), ["person_id", *columns])
