"""Widgets shared by the program's pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from program.course import reflections
from program.course.curriculum import Overview
from program.infra.db import OperationalError, Session, write_session
from program.infra.models import Reflection, Visibility, utcnow
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.text import md

log = logging.getLogger("kindred")

# ---- saving as people go, and keeping what could not be saved yet ---------------------------------
#
# A write can fail for a while with the database unable to take it (disk full, locked for too long, the
# server briefly unreachable). What the person typed must not be lost: it is kept in the browser
# session, the page says so, and it is written again at the start of each later run until it is saved.

SAVE_LATER = "We couldn't save this just now; your text is still here and we'll try again."
_PENDING = "kindred_pending_saves"


@dataclass
class _PendingSave:
    """A write that failed, with the values it writes (kept so the page can show them again)."""

    person_id: int
    write: Callable[[Session], None]
    values: dict[str, Any] = field(default_factory=dict)
    # Queued by a widget callback in this very run: the run's own retry leaves it for the next run.
    fresh: bool = False


def _pending() -> dict[str, _PendingSave]:
    pending: dict[str, _PendingSave] = st.session_state.setdefault(_PENDING, {})
    return pending


def save_or_keep(
    viewer: Viewer,
    key: str,
    write: Callable[[Session], None],
    *,
    values: dict[str, Any],
    in_callback: bool,
) -> bool:
    """Run one write now. If the database cannot take it, keep it (under key, replacing any older
    version) for the next run and return False. Domain errors (bad input) go on to the caller.

    `write` must use only what it closes over (not session state, which a page change clears), and
    `values` maps widget keys to what was typed, so the page can put it back in its widgets.
    """
    pending = _pending()
    try:
        with write_session(runtime.engine()) as session:
            write(session)
    except OperationalError:
        log.warning("could not save %s yet; kept for the next run", key, exc_info=True)
        pending[key] = _PendingSave(viewer.person_id, write, values, fresh=in_callback)
        return False
    pending.pop(key, None)
    return True


def retry_pending_saves(viewer: Viewer) -> None:
    """At the start of a page run: write what earlier runs could not, and say so while anything waits.

    Only the viewer's own writes are tried; another person's stay until that person is back.
    """
    pending = _pending()
    for key, save in list(pending.items()):
        if save.person_id != viewer.person_id:
            continue
        if save.fresh:
            save.fresh = False
            continue
        try:
            with write_session(runtime.engine()) as session:
                save.write(session)
        except OperationalError:
            log.warning("still cannot save %s; kept for the next run", key, exc_info=True)
            break  # the database still cannot write; one try per run is enough
        except ValueError as error:  # the domain refuses it now (e.g. the week has ended)
            pending.pop(key, None)
            st.error(f"Something you wrote earlier could not be saved. {error}")
        except Exception:  # noqa: BLE001  (kept, it would fail every page from now on)
            pending.pop(key, None)
            log.exception("dropped an autosave of %s that can no longer be written", key)
            st.error("Something you wrote earlier could not be saved. Please check it and write it again.")
        else:
            pending.pop(key, None)
    if any(save.person_id == viewer.person_id for save in pending.values()):
        st.warning(SAVE_LATER, icon=":material/cloud_off:")


def kept_value(viewer: Viewer, widget_key: str, default: Any) -> Any:
    """What the viewer typed into this widget and is still waiting to be saved, else default."""
    for save in _pending().values():
        if save.person_id == viewer.person_id and widget_key in save.values:
            return save.values[widget_key]
    return default


def _save(viewer: Viewer, context: str, text_key: str, sharing_key: str) -> None:
    body: str = st.session_state.get(text_key, "")
    visibility = Visibility(st.session_state[sharing_key])

    def write(session: Session) -> None:
        reflections.save_text(
            session=session, viewer=viewer, context=context, body=body, visibility=visibility, now=utcnow()
        )

    try:
        save_or_keep(
            viewer,
            text_key,
            write,
            values={text_key: body, sharing_key: visibility},
            in_callback=True,
        )
    except reflections.TextError as error:
        st.session_state[f"{text_key}_error"] = str(error)


def private_text(
    viewer: Viewer,
    context: str,
    label: str,
    saved: Reflection | None,
    *,
    height: int = 120,
    help: str | None = None,
) -> None:
    """A text box saved on the server whenever the person leaves it (so closing the tab later loses
    nothing), with its writer's choice of who may read it: private by default, changeable at any time."""
    text_key, sharing_key = f"text::{context}", f"sharing::{context}"
    # Text still waiting to be saved comes back into its box, ahead of the older saved version.
    if text_key not in st.session_state:
        st.session_state[text_key] = kept_value(viewer, text_key, saved.body if saved else "")
    if sharing_key not in st.session_state:
        st.session_state[sharing_key] = kept_value(
            viewer, sharing_key, saved.visibility if saved else Visibility.PRIVATE
        )
    st.text_area(
        label,
        key=text_key,
        height=height,
        help=help,
        max_chars=reflections.MAX_CHARS,
        on_change=_save,
        args=(viewer, context, text_key, sharing_key),
    )
    st.selectbox(
        "Who can read this",
        list(reflections.VISIBILITY_LABELS),
        format_func=reflections.VISIBILITY_LABELS.__getitem__,
        key=sharing_key,
        on_change=_save,
        args=(viewer, context, text_key, sharing_key),
        label_visibility="collapsed",
    )
    if error := st.session_state.pop(f"{text_key}_error", None):
        st.error(error)


def answering_as(viewer: Viewer) -> None:
    """Shared-device care: say whose answers these are before a questionnaire."""
    st.info(
        f"You are answering as **{md(viewer.display_name)}** ({md(viewer.username)}). If that isn't you, "
        "log out (in the menu) and log in as yourself: each of you answers on your own login.",
        icon=":material/person:",
    )


def render_overview(overview: Overview, *, expanded: bool) -> None:
    """Why a stage matters and what it practises."""
    with st.expander("Why this matters, and what you will practise", expanded=expanded):
        st.markdown(overview.why)
        st.markdown("\n".join(f"- {point}" for point in overview.practise))
        st.caption(overview.grounding)
