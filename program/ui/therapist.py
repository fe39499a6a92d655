"""The therapist's couples: the list, and one couple opened (each opening is recorded for the couple)."""

from __future__ import annotations

import streamlit as st

from program import access, couples, journey, therapist_access
from program.access import AccessDenied, Viewer
from program.db import read_session, write_session
from program.models import utcnow
from program.ui import runtime
from program.ui.progress import render_couple_charts, render_shared_texts
from program.ui.text import md

OPEN_COUPLE = "kindred_open_couple"


def render_caseload(viewer: Viewer) -> None:
    """The couples who have given this therapist access, and the one the therapist opened."""
    engine = runtime.engine()
    with read_session(engine) as session:
        approved = therapist_access.approved_at(session=session, viewer=viewer) is not None
        caseload = couples.therapist_caseload(session=session, viewer=viewer)
    st.title("Your couples")
    if not approved:
        st.session_state.pop(OPEN_COUPLE, None)
        render_waiting_for_approval(viewer)
        return
    if not caseload:
        st.session_state.pop(OPEN_COUPLE, None)
        st.info(
            "No couple has given you access yet. Make a code on your account page and give it to a couple; "
            "they appear here once both partners have entered it."
        )
        return
    with read_session(engine) as session:
        attention = {
            couple.couple_id: access.safety_attention(
                session=session, viewer=viewer, couple_id=couple.couple_id
            )
            for couple in caseload
        }
    for couple in caseload:
        label = " & ".join(md(name) for name in couple.partner_names)
        if attention[couple.couple_id]:
            _attention_alert(attention[couple.couple_id])
        if st.button(f"Open {label}", key=f"open_{couple.couple_id}"):
            with write_session(engine) as session:
                therapist_access.open_couple(
                    session=session, viewer=viewer, couple_id=couple.couple_id, what="progress charts"
                )
            st.session_state[OPEN_COUPLE] = couple.couple_id
    if (couple_id := st.session_state.get(OPEN_COUPLE)) is not None:
        _render_couple(viewer, couple_id)


def render_waiting_for_approval(viewer: Viewer) -> None:
    """What a therapist the operator has not approved sees instead of couples or a code: whom to ask, how."""
    st.info(therapist_access.WAITING_FOR_APPROVAL, icon=":material/hourglass_top:")
    st.write("Ask the person who runs this Kindred server to approve your account, with this command:")
    # st.code shows its text as text: the username needs no Markdown escaping there.
    st.code(f"python -m program approve-therapist {viewer.username}", language=None)
    st.caption("Once they have, reload this page.")


def _render_couple(viewer: Viewer, couple_id: int) -> None:
    # Checked on every rerun, not only when opened: a partner's revocation applies at once.
    try:
        with read_session(runtime.engine()) as session:
            summary = therapist_access.couple_for_therapist(
                session=session, viewer=viewer, couple_id=couple_id
            )
    except AccessDenied:
        st.session_state.pop(OPEN_COUPLE, None)
        st.warning("This couple no longer gives you access.")
        return
    st.divider()
    st.header(" & ".join(md(name) for name in summary.partner_names))
    st.caption("The couple can see that you opened their record, and when.")
    _private_to_therapist(viewer, couple_id)
    _open_stage_early(viewer, couple_id)
    render_couple_charts(viewer, couple_id)
    render_shared_texts(viewer, couple_id)


def _open_stage_early(viewer: Viewer, couple_id: int) -> None:
    """Stages open when both partners finish the one before; a therapist may open one sooner."""
    program = runtime.program()
    with read_session(runtime.engine()) as session:
        opened = journey.openings(session=session, viewer=viewer, couple_id=couple_id)
    closed = [stage for stage in program.stages if stage.key not in opened]
    if not closed:
        return
    choice = st.selectbox(
        "Open a stage early for this couple",
        [stage.key for stage in closed],
        format_func=lambda key: program.stage_by_key[key].title,
        key=f"open_stage_{couple_id}",
    )
    if st.button("Open this stage", key=f"open_stage_button_{couple_id}"):
        with write_session(runtime.engine()) as session:
            journey.open_stage(
                session=session, viewer=viewer, couple_id=couple_id, stage=choice, now=utcnow()
            )
        st.success(f"{program.stage_by_key[choice].title} is open for this couple.")


PRIVATE_TITLE = "Only you can see this"


def _attention_alert(flags: list[access.AttentionFlag]) -> None:
    names = " and ".join(md(flag.name) for flag in flags)
    st.warning(
        f"**{PRIVATE_TITLE}:** {names} asked that you know their safety check needs attention.",
        icon=":material/lock:",
    )


def _private_to_therapist(viewer: Viewer, couple_id: int) -> None:
    """The therapist's private part of the couple view, kept apart from the charts (which may be shown to
    the couple in a session): what a partner asked to tell this therapist alone."""
    with read_session(runtime.engine()) as session:
        flags = access.safety_attention(session=session, viewer=viewer, couple_id=couple_id)
    if not flags:
        return
    with st.container(border=True):
        st.subheader(f":material/lock: {PRIVATE_TITLE}")
        for flag in flags:
            st.write(
                f"**{md(flag.name)}** asked that you know their private safety check needs attention. "
                "You do not see their answers, and their partner has not been told. Consider speaking "
                "with them alone before any joint session; do not raise it with both present."
            )
