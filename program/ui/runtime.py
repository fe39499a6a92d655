"""Process-wide resources for the Streamlit app: settings and the one engine per database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import streamlit as st

from program.course.curriculum import ContentError, Program, load_program
from program.infra import crypto
from program.infra.db import Engine, Session, create_db_engine, migrate
from program.infra.settings import Settings, SettingsError, get_settings
from program.privacy.viewer import Viewer

_T = TypeVar("_T")


@st.cache_resource(show_spinner="Preparing Kindred's database…")
def _engine_for(database_url: str) -> Engine:
    engine = create_db_engine(database_url)
    migrate(engine)
    return engine


def settings() -> Settings:
    """The settings, or a clear message in the page (and a stop) when they cannot be used."""
    try:
        return get_settings()
    except SettingsError as error:
        st.error(f"Kindred is not configured correctly. {error}")
        st.stop()


@st.cache_resource(show_spinner=False)
def _program_from(operator_instruments: str, operator_dir: str) -> Program:
    return load_program(operator_instruments=Path(operator_instruments), operator_dir=Path(operator_dir))


def program() -> Program:
    """The validated program content (read once per process); a broken file stops with its name and field."""
    try:
        return _program_from(str(settings().instruments_dir), str(settings().data_dir))
    except ContentError as error:
        st.error(f"Kindred's program content has a problem, so it cannot start. {error}")
        st.stop()


def couple_read(
    read: Callable[..., _T], session: Session, viewer: Viewer, couple_id: int, **when: object
) -> _T:
    """One of a therapist's reads of a couple (its brief, caseload row or report) as the viewer, in the
    running program and settings; `when` is the read's own moment (now, today, since)."""
    return read(
        session=session, viewer=viewer, couple_id=couple_id, program=program(), settings=settings(), **when
    )


# The settings and keyring the engine was last resolved for: a page run asks for the engine a dozen times.
_resolved: tuple[Settings, int, Engine] | None = None


def engine() -> Engine:
    """The engine for the configured database, created and migrated once per process."""
    global _resolved
    current = settings()
    if _resolved is not None and _resolved[0] is current and _resolved[1] == crypto.generation():
        return _resolved[2]
    # The keyring first: migrations and every read of free text need it.
    crypto.configure(current.encryption_key_list())
    resolved = _engine_for(current.database_url)
    _resolved = (current, crypto.generation(), resolved)
    return resolved
