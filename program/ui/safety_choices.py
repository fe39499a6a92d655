"""The person's own safety check and what follows from it: the form (full or short), the private guidance,
pausing joint work, and telling a chosen therapist that the check needs attention.

Everything here is drawn only on the person's own pages. What the partner sees of a pause is one fixed
sentence (program.course.pauses.PARTNER_PAUSED), drawn by the home and stage pages.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from program.course import journey, pauses, safety
from program.course.curriculum import Program
from program.infra.db import read_session, write_session
from program.infra.models import PauseReason, SafetyScreen, utcnow
from program.privacy import access, couples, grants, safety_screens
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.text import md

OWN_REASONS: dict[PauseReason, str] = {
    **pauses.VISIBLE_REASONS,
    PauseReason.SAFETY: "for your safety",
}


def render_safety_form(viewer: Viewer, program: Program, *, form: safety.Form, key: str) -> None:
    """The questions of one form; on sending, the screen is stored for the viewer alone."""
    content = program.safety
    with st.form(key):
        answers = {
            item.key: st.radio(
                item.text,
                range(len(content.scale.options)),
                format_func=content.scale.options.__getitem__,
                index=None,
                horizontal=True,
                key=f"{key.removesuffix('_check')}::{item.key}",
            )
            for item in content.items_for(form)
        }
        submitted = st.form_submit_button("Keep my answers private and continue")
    if submitted:
        try:
            with write_session(runtime.engine()) as session:
                safety.submit_screen(
                    session=session, viewer=viewer, content=content, answers=answers, now=utcnow(), form=form
                )
        except safety.SafetyError as error:
            st.error(str(error))
        else:
            st.session_state.pop("safety_again", None)
            st.rerun()


def render_safety_result(
    viewer: Viewer, program: Program, screen: SafetyScreen, *, offer_pause: bool = True
) -> None:
    """The private guidance after a screen; after a flag, help, and the offer to pause joint work."""
    guidance = program.safety.guidance
    if not screen.flagged:
        st.success(guidance.clear)
        return
    if safety.crisis_flagged(program.safety, screen):
        st.error(guidance.crisis)
    st.warning(f"**{guidance.flagged_title}**")
    st.markdown(guidance.flagged)
    st.markdown("\n".join(f"- **{r.name}**: {r.detail}" for r in program.safety.resources))
    st.caption(program.safety.resources_note)
    if offer_pause:
        _suggest_pause(viewer)


def _pause_state(viewer: Viewer) -> access.PauseView | None:
    """The viewer's couple's pause (None: no partner yet, so no joint work to pause)."""
    with read_session(runtime.engine()) as session:
        status = couples.partner_status(session=session, viewer=viewer)
        if status.couple_id is None or status.partner_name is None:
            return None
        return access.readable_pause(session=session, viewer=viewer, couple_id=status.couple_id)


def _start(viewer: Viewer, reason: PauseReason) -> None:
    try:
        with write_session(runtime.engine()) as session:
            pauses.start_pause(session=session, viewer=viewer, reason=reason, now=utcnow())
    except pauses.PauseError as error:
        st.error(str(error))
    else:
        st.rerun()


def _suggest_pause(viewer: Viewer) -> None:
    state = _pause_state(viewer)
    if state is None or state.own_reason is not None:
        return
    st.info(
        "You can pause the exercises you do together, for as long as you need. Your partner will only "
        f"see: {pauses.PARTNER_PAUSED} That is exactly what they would see if you were busy or travelling. "
        "Your own exercises stay open, and you can end the pause at any time on your account page."
    )
    if st.button("Pause joint work", key="pause_for_safety", type="primary"):
        _start(viewer, PauseReason.SAFETY)


def render_joint_work(viewer: Viewer) -> None:
    """Account page: pause joint exercises with a reason, or end one's own pause."""
    state = _pause_state(viewer)
    if state is None:
        return
    st.header("Joint exercises")
    if state.own_reason is not None:
        st.info(f"{pauses.OWN_PAUSE} You paused {OWN_REASONS[state.own_reason].lower()}.")
        if st.button("End my pause", key="end_pause"):
            with write_session(runtime.engine()) as session:
                pauses.end_pause(session=session, viewer=viewer, now=utcnow())
            st.rerun()
        return
    if state.others_paused:
        st.info(pauses.PARTNER_PAUSED)
    st.write(
        "Need time away from the exercises you do together? Pause them. Your partner sees only that you "
        "aren't available right now, never your reason. Everything you do on your own stays open."
    )
    with st.form("pause_joint_work"):
        reason = st.radio(
            "Why are you pausing? (only you see this)",
            list(pauses.VISIBLE_REASONS),
            format_func=pauses.VISIBLE_REASONS.__getitem__,
            index=None,
        )
        submitted = st.form_submit_button("Pause joint exercises")
    if submitted:
        if reason is None:
            st.error("Please choose a reason; only you will see it.")
        else:
            _start(viewer, reason)
    with read_session(runtime.engine()) as session:
        flagged = safety_screens.is_flagged(session=session, person_id=viewer.person_id)
    if flagged:
        _suggest_pause(viewer)


def render_safety_section(viewer: Viewer, program: Program) -> None:
    """Account page: the private safety check (the short form when a stage asks for it, the full one any
    time), and whom to tell that it needs attention."""
    st.header("Your private safety check")
    st.caption("Only you see this section. Your partner never sees your answers or whether you took it.")
    progress_opened = _current_stage_opened(viewer, program)
    with read_session(runtime.engine()) as session:
        due = safety.screen_due(session=session, viewer=viewer, opened_at=progress_opened)
        latest = safety.latest_own_screen(session=session, viewer=viewer)
    if due == "short":
        st.write("A new stage has started. These few questions check in on how safe things feel now.")
        render_safety_form(viewer, program, form="short", key="safety_short_check")
    elif latest is not None:
        # The pause is offered in "Joint exercises" above on this page.
        render_safety_result(viewer, program, latest, offer_pause=False)
    if due != "short" and st.toggle("Answer the whole safety check again", key="safety_full_again"):
        render_safety_form(viewer, program, form="full", key="safety_full_check")
    if latest is not None and latest.flagged:
        _attention_consent(viewer)


def _current_stage_opened(viewer: Viewer, program: Program) -> datetime | None:
    with read_session(runtime.engine()) as session:
        progress = journey.load_journey(session=session, viewer=viewer, program=program)
    return progress.opened_at(progress.current_stage())


def _attention_consent(viewer: Viewer) -> None:
    with read_session(runtime.engine()) as session:
        therapists = [t for t in grants.therapists_of_couple(session=session, viewer=viewer) if t.mine]
        sharing = grants.attention_shared_with(session=session, viewer=viewer)
    if not therapists:
        return
    st.subheader("Tell your therapist")
    st.write(
        'You can let your therapist know "my safety check needs attention", so they can talk with you alone. '
        "They never see your answers, your partner is never told, and you can take it back at any time."
    )
    for therapist in therapists:
        shared = therapist.therapist_id in sharing
        wanted = st.checkbox(
            f"Tell {md(therapist.therapist_name)} that my safety check needs attention",
            value=shared,
            key=f"attention_{therapist.therapist_id}",
        )
        if wanted != shared:
            try:
                with write_session(runtime.engine()) as session:
                    safety.share_attention(
                        session=session, viewer=viewer, therapist_id=therapist.therapist_id, share=wanted
                    )
            except safety.SafetyError as error:
                st.error(str(error))
            else:
                st.rerun()
