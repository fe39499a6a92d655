"""One write from a page, in its own write session: a refusal is shown and nothing of it saved."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from program.infra.db import Session, write_session
from program.infra.models import utcnow
from program.privacy.viewer import Viewer
from program.ui import runtime


def written(
    write: Callable[[Session], object],
    *refused: type[Exception],
    said: Mapping[type[Exception], str] | None = None,
) -> bool:
    """Run `write` in one write session; True once it is committed. A refusal is shown as an error and
    False returned, with nothing of the write saved: one of `refused` (the domain's own errors) in its own
    words, one of `said`'s keys (an access refused, a lost race) in the words given for it. Any other error
    is not a refusal and goes on up."""
    words = said or {}
    try:
        with write_session(runtime.engine()) as session:
            write(session)
    except refused as error:
        st.error(str(error))
        return False
    except tuple(words) as error:
        st.error(next(text for kind, text in words.items() if isinstance(error, kind)))
        return False
    return True


def step_written(
    step: Callable[..., object],
    viewer: Viewer,
    *refused: type[Exception],
    said: Mapping[type[Exception], str] | None = None,
    **values: object,
) -> bool:
    """`written` for one of the program's steps taken by the viewer: the step is given the session, the
    viewer, the running program and now, besides its own `values`."""
    return written(
        lambda session: step(
            session=session, viewer=viewer, program=runtime.program(), now=utcnow(), **values
        ),
        *refused,
        said=said,
    )
