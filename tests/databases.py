"""Throwaway databases for tests: an SQLite file, or a fresh database on the PostgreSQL server under test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


def postgres_url() -> str | None:
    """The PostgreSQL server to test against, when TEST_DATABASE_URL names one."""
    return os.environ.get("TEST_DATABASE_URL") or None


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """Yield the URL of an empty database, dropped afterwards."""
    server = postgres_url()
    if server is None:
        yield f"sqlite:///{folder / 'kindred-test.db'}"
        return
    name = f"kindred_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
