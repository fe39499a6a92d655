"""The partner's home page: the path of stages and where each of you stands on it, the one next step,
what is due for you, and what you are waiting on your partner for."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from program.course import checkins, home_path, journey, keeping, outcomes, problem_solving, reminders, safety
from program.course.home_path import StageState
from program.infra.db import read_session
from program.infra.models import utcnow
from program.privacy.viewer import Viewer
from program.therapist import homework, session_feedback
from program.ui import runtime
from program.ui.checkin import local_today
from program.ui.homework import render_partner_homework
from program.ui.intimacy import render_intimacy_offer
from program.ui.keeping import appreciation_due, render_home_appreciation, render_suggestion
from program.ui.navigation import PAGE_TITLES
from program.ui.session_feedback import render_partner_feedback
from program.ui.text import md

STATE_ICONS = {
    StageState.DONE: ":material/check_circle:",
    StageState.OPEN: ":material/play_circle:",
    StageState.LOCKED: ":material/lock:",
}


def render_partner_home(viewer: Viewer) -> None:
    """Greet the partner, then the next step, the path, what is due and what waits on the partner."""
    program = runtime.program()
    today = local_today()
    with read_session(runtime.engine()) as session:
        progress = journey.load_journey(session=session, viewer=viewer, program=program)
        checkin_done = checkins.this_week(session=session, viewer=viewer, today=today) is not None
        safety_due = safety.screen_due(
            session=session, viewer=viewer, opened_at=progress.opened_at(progress.current_stage())
        )
        outcome = outcomes.status(
            session=session,
            viewer=viewer,
            program=program,
            settings=runtime.settings(),
            now=utcnow(),
            progress=progress,
        )
        therapist_homework_open = any(
            item.done_at is None for item in homework.for_partner(session=session, viewer=viewer, today=today)
        )
        feedback_due = bool(session_feedback.due_for_partner(session=session, viewer=viewer, today=today))
        booster_due = keeping.booster_due(
            status=outcome,
            done_at=keeping.booster_done_at(session=session, viewer=viewer),
            follow_up_weeks=runtime.settings().follow_up_weeks,
            now=utcnow(),
        )
        review_due = problem_solving.review_due(session=session, viewer=viewer, now=utcnow()) is not None
    weekly_appreciation = appreciation_due(viewer, progress, today)
    due = reminders.due_now(
        progress,
        checkin_done=checkin_done,
        today=today,
        safety_due=safety_due,
        outcome=outcome,
        booster_due=booster_due,
    )
    if review_due:
        due.append(reminders.AGREEMENT_REVIEW)
    path = home_path.build(progress, titles=PAGE_TITLES, due=due)
    partner = md(progress.partner.name) if progress.partner else None

    st.title(PAGE_TITLES["home"])
    st.subheader(f"Hello, {md(viewer.display_name)}")
    # The journey already knows the couple and the partner; no second lookup.
    if progress.couple_id is None:
        st.info(
            "You haven't linked up with your partner yet. Start or join your couple on your account page; "
            "meanwhile you can begin the assessment on your own."
        )
    elif partner is None:
        st.info("Your couple is set up; your partner hasn't joined yet.")
    else:
        st.write(f"You're doing Kindred together with **{partner}**.")
    if (closed_reason := progress.joint_closed_reason()) is not None:
        # One fixed sentence for the partner, whatever the pauser's reason.
        st.info(closed_reason, icon=":material/pause_circle:")
    for news in reminders.partner_news(progress):
        st.success(md(news), icon=":material/notifications:")
    render_suggestion(viewer)

    with st.container(border=True):
        st.markdown("**Your next step**")
        _link(path.next_action.page, f"Next: {path.next_action.text}", ":material/arrow_forward:")

    st.subheader("Your path")
    for number, stage in enumerate(path.stages, start=1):
        _stage_card(number, stage, partner)

    st.subheader("Due for you")
    if not due and not therapist_homework_open and not feedback_due and not weekly_appreciation:
        st.write("Nothing is due right now. Well done.")
    for item in due:
        icon = ":material/schedule:" if item.overdue else ":material/arrow_forward:"
        _link(item.page, item.text, icon)
    render_partner_homework(viewer)
    render_partner_feedback(viewer)
    render_home_appreciation(viewer, due=weekly_appreciation)
    render_intimacy_offer(viewer, progress)

    if path.waiting_on_partner:
        st.subheader(f"Waiting on {partner}" if partner else "Waiting on your partner")
        for line in path.waiting_on_partner:
            st.write(md(line))


def _stage_card(number: int, stage: home_path.PathStage, partner: str | None) -> None:
    """One stop on the path: its state in words (not only the icon), each partner's place, why locked."""
    with st.container(border=True):
        st.markdown(f"{STATE_ICONS[stage.state]} **{number}. {stage.title}** · {stage.state.value}")
        if stage.state == StageState.LOCKED:
            assert stage.why_locked is not None
            st.caption(md(stage.why_locked))
            return
        if stage.state == StageState.DONE:
            st.write(f"You and {partner} have both finished it." if partner else "You have finished it.")
            return
        you, theirs = st.columns(2)
        you.write(f"You: {stage.you}")
        if partner is not None and stage.partner is not None:
            theirs.write(f"{partner}: {stage.partner}")
        if stage.state == StageState.OPEN:
            _link(stage.key, f"Open {stage.title}", ":material/open_in_new:")


def _link(page: str, label: str, icon: str) -> None:
    """A link to one of the viewer's pages; as text when the page file runs on its own (a deep link
    before app.py has routed knows no other pages)."""
    try:
        st.page_link(f"pages/{page}.py", label=label, icon=icon)
    except StreamlitAPIException:
        st.markdown(f"{icon} {label}")
