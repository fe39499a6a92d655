"""A partner's one row of a kind (a week's check-in, a module choice), when two tabs may add it at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

_Row = TypeVar("_Row", bound=SQLModel)


def add_or_winner(session: Session, row: _Row, winner: Callable[[], _Row | None]) -> _Row:
    """Add a new row in a savepoint and return it; when a parallel request added the same one first (the
    unique constraint refuses ours), return that winner's row instead, for the caller to update. An
    integrity error with no winner to find is not that race, and goes on up."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = winner()
        if found is None:
            raise
        return found
    return row
