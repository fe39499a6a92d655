"""Process-wide resources for the Streamlit app: settings and the one engine per database."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from program.db import create_db_engine, migrate
from program.settings import Settings, SettingsError, get_settings


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


def engine() -> Engine:
    """The engine for the configured database, created and migrated once per process."""
    return _engine_for(settings().database_url)
