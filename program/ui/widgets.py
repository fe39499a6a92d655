"""Widgets shared by the program's pages."""

from __future__ import annotations

import streamlit as st

from program import reflections
from program.access import Viewer
from program.curriculum import Overview
from program.db import write_session
from program.models import Reflection, Visibility, utcnow
from program.ui import runtime


def _save(viewer: Viewer, context: str, text_key: str, sharing_key: str) -> None:
    try:
        with write_session(runtime.engine()) as session:
            reflections.save_text(
                session=session,
                viewer=viewer,
                context=context,
                body=st.session_state.get(text_key, ""),
                visibility=Visibility(st.session_state[sharing_key]),
                now=utcnow(),
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
    if text_key not in st.session_state:
        st.session_state[text_key] = saved.body if saved else ""
    if sharing_key not in st.session_state:
        st.session_state[sharing_key] = saved.visibility if saved else Visibility.PRIVATE
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
        f"You are answering as **{viewer.display_name}** ({viewer.username}). If that isn't you, "
        "log out (in the menu) and log in as yourself: each of you answers on your own login.",
        icon=":material/person:",
    )


def render_overview(overview: Overview, *, expanded: bool) -> None:
    """Why a stage matters and what it practises."""
    with st.expander("Why this matters, and what you will practise", expanded=expanded):
        st.markdown(overview.why)
        st.markdown("\n".join(f"- {point}" for point in overview.practise))
        st.caption(overview.grounding)
