"""No traceback ever reaches a person: unexpected errors become a calm message, and the log keeps the rest."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

log = logging.getLogger("kindred")

SOMETHING_WENT_WRONG = (
    "Something went wrong on our side, and nothing was half-saved. Please try again; if it keeps "
    "happening, tell whoever runs this Kindred server (the details are in its log)."
)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show a plain message instead of a traceback. Streamlit's own stop and rerun signals pass through
    (they are BaseExceptions, not Exceptions)."""
    try:
        yield
    except Exception:
        log.exception("unexpected error while drawing a page")
        st.error(SOMETHING_WENT_WRONG)
