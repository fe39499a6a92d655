"""Alembic environment: migrations run against the app's engine, one process at a time."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

import program.infra.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import program.privacy.tables  # noqa: F401  (and the ones only program.privacy reads)
from program.infra.db import create_db_engine, write_engine
from program.infra.settings import get_settings

# Any constant will do; it only has to be the same in every Kindred process.
MIGRATION_LOCK_ID = 5_171_917

config = context.config
engine = config.attributes.get("engine") or create_db_engine(get_settings().database_url)

with write_engine(engine).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several app processes may start at once; let one migrate while the others wait.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()
