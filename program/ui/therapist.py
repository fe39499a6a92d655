"""The therapist's page: the caseload ("Your couples"), and one couple opened in a view made for a session.

The couple view starts in presentation mode each time a couple is opened: only the charts and what both
partners shared with each other are on screen, so the screen can be turned toward the couple. Turning it
off shows, in tabs, the brief, what a partner told the therapist alone, alerts, notes, homework, session
feedback and the report, each marked "Only you can see this". Each opening is recorded for the couple.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import streamlit as st

from program.course import journey
from program.infra.db import read_session, write_session
from program.infra.models import Visibility, utcnow
from program.privacy import access, grants
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import brief, caseload
from program.ui import runtime
from program.ui.caseload import render_caseload_table
from program.ui.homework import render_assign_homework
from program.ui.localtime import local_date, local_time, local_today
from program.ui.progress import render_couple_charts, render_shared_texts
from program.ui.report import render_report
from program.ui.session_feedback import render_therapist_feedback
from program.ui.session_notes import render_session_notes
from program.ui.text import md

OPEN_COUPLE = "kindred_open_couple"
# The therapist's previous opening of the open couple, read before this opening was recorded: the brief
# counts changes from it.
OPENED_SINCE = "kindred_open_couple_since"
PRESENTATION = "kindred_presentation_mode"
PRESENTATION_LABEL = "Presentation mode"
PRIVATE_TITLE = "Only you can see this"
PRIVATE_MARK = f":material/lock: {PRIVATE_TITLE}"
SHARED_TITLE = "Shared by both of you"
BACK = "Back to your couples"
NO_LONGER = "This couple no longer gives you access."
TABS = (
    "Before the session",
    "Charts",
    SHARED_TITLE,
    PRIVATE_TITLE,
    "Homework",
    "Session feedback",
    "Session report",
)


def render_caseload(viewer: Viewer) -> None:
    """The therapist's page: their couples, or the one couple they opened."""
    engine = runtime.engine()
    with read_session(engine) as session:
        approved = grants.approved_at(session=session, viewer=viewer) is not None
    if not approved:
        _close()
        st.title("Your couples")
        render_waiting_for_approval(viewer)
        return
    couple_id = st.session_state.get(OPEN_COUPLE)
    if couple_id is not None and _render_couple(viewer, couple_id):
        return
    # No couple open, or its access just ended (then the list comes with the notice). The list is never
    # drawn beside an open couple: other couples' names are private too.
    st.title("Your couples")
    with read_session(engine) as session:
        rows = caseload.load_caseload(
            session=session,
            viewer=viewer,
            program=runtime.program(),
            settings=runtime.settings(),
            today=local_today(),
        )
    if not rows:
        st.info(
            "No couple has given you access yet. Make a code on your account page and give it to a couple; "
            "they appear here once both partners have entered it."
        )
        return
    chosen = render_caseload_table(viewer, rows)
    if chosen is not None:
        _open(viewer, chosen)


def render_waiting_for_approval(viewer: Viewer) -> None:
    """What a therapist the operator has not approved sees instead of couples or a code: whom to ask, how."""
    st.info(grants.WAITING_FOR_APPROVAL, icon=":material/hourglass_top:")
    st.write("Ask the person who runs this Kindred server to approve your account, with this command:")
    # st.code shows its text as text: the username needs no Markdown escaping there.
    st.code(f"python -m program approve-therapist {viewer.username}", language=None)
    st.caption("Once they have, reload this page.")


def _open(viewer: Viewer, couple_id: int) -> None:
    """Record the opening (the couple reads it), remember the previous one for the brief, and start in
    presentation mode."""
    try:
        with write_session(runtime.engine()) as session:
            since = grants.last_opened(session=session, viewer=viewer, couple_id=couple_id)
            grants.open_couple(session=session, viewer=viewer, couple_id=couple_id)
    except AccessDenied:
        st.warning(NO_LONGER)
        return
    st.session_state[OPEN_COUPLE] = couple_id
    st.session_state[OPENED_SINCE] = since
    st.session_state[PRESENTATION] = True
    st.rerun()


def _close() -> None:
    for key in (OPEN_COUPLE, OPENED_SINCE, PRESENTATION):
        st.session_state.pop(key, None)


def _render_couple(viewer: Viewer, couple_id: int) -> bool:
    """Draw the open couple; False (after closing it, with a notice) when the access has ended."""
    # Checked on every rerun, not only when opened: a partner's revocation applies at once.
    try:
        with read_session(runtime.engine()) as session:
            summary = grants.couple_for_therapist(session=session, viewer=viewer, couple_id=couple_id)
    except AccessDenied:
        _close()
        st.warning(NO_LONGER)
        return False
    st.header(" & ".join(md(name) for name in summary.partner_names))
    back, toggle = st.columns([1, 1])
    if back.button(BACK, key="back_to_couples"):
        _close()
        st.rerun()
    if PRESENTATION not in st.session_state:
        st.session_state[PRESENTATION] = True
    presenting = toggle.toggle(
        PRESENTATION_LABEL,
        key=PRESENTATION,
        help=(
            "While on, only the charts and what both partners shared with each other are on screen. Turn it "
            "off, with the screen turned to you, for your brief, notes, alerts, homework and feedback."
        ),
    )
    if presenting:
        st.caption(
            "Presentation mode: only the charts and what you both shared with each other are on screen."
        )
        charts_tab, shared_tab = st.tabs(["Charts", SHARED_TITLE])
        with charts_tab:
            render_couple_charts(viewer, couple_id)
        with shared_tab:
            _render_shared_by_both(viewer, couple_id)
        return True
    st.caption("The couple can see that you opened their record, and when (not what you read or wrote).")
    tabs = dict(zip(TABS, st.tabs(list(TABS)), strict=True))
    sections: dict[str, Callable[[], None]] = {
        "Before the session": lambda: _render_before(viewer, couple_id),
        "Charts": lambda: render_couple_charts(viewer, couple_id),
        SHARED_TITLE: lambda: _render_shared_by_both(viewer, couple_id),
        PRIVATE_TITLE: lambda: _render_private(viewer, couple_id),
        "Homework": lambda: _private(lambda: render_assign_homework(viewer, couple_id)),
        "Session feedback": lambda: _private(lambda: render_therapist_feedback(viewer, couple_id)),
        "Session report": lambda: _private(lambda: render_report(viewer, couple_id)),
    }
    for title, draw in sections.items():
        with tabs[title]:
            draw()
    return True


def _private(draw: Callable[[], None]) -> None:
    """A section of the therapist's own: marked, so nobody mistakes it for what the couple shares."""
    st.caption(f"{PRIVATE_MARK}. Turn on presentation mode before you show your screen.")
    draw()


def _render_shared_by_both(viewer: Viewer, couple_id: int) -> None:
    render_shared_texts(
        viewer,
        couple_id,
        only=Visibility.PARTNER,
        title=SHARED_TITLE,
        empty="Neither partner has shared anything with the other yet.",
    )


def _render_before(viewer: Viewer, couple_id: int) -> None:
    """The pre-session brief, then opening a stage early."""
    st.caption(f"{PRIVATE_MARK}.")
    since: datetime | None = st.session_state.get(OPENED_SINCE)
    with read_session(runtime.engine()) as session:
        summary = runtime.couple_read(
            brief.build_brief, session, viewer, couple_id, since=since, today=local_today()
        )
    render_brief(summary)
    st.divider()
    _open_stage_early(viewer, couple_id)


def render_brief(summary: brief.Brief) -> None:
    """The brief in words: every name and title typed by someone is escaped."""
    st.subheader("What changed")
    if summary.since is None:
        st.write(
            "This is your first look at this couple, so here is what happened in the last 4 weeks "
            f"(since {local_date(summary.start)})."
        )
    else:
        st.write(f"Since you last opened this couple, on {local_time(summary.since)}:")
    if summary.nothing_new:
        st.write("No questionnaire sent, homework done, text shared or alert raised since then.")
    if summary.alerts:
        st.markdown("**New alerts**")
        for alert in summary.alerts:
            st.warning(md(alert.text), icon=":material/flag:")
    if summary.occasions:
        st.markdown("**Questionnaires sent**")
        for sent in summary.occasions:
            st.markdown(f"- {md(sent.who)} sent {md(sent.what)} on {local_date(sent.at)}")
    if summary.homework_done:
        st.markdown("**Homework done**")
        for done in summary.homework_done:
            st.markdown(f"- {md(done.who)} did “{md(done.title)}” on {local_date(done.at)}")
    if summary.texts:
        st.markdown("**New shared texts**")
        for text in summary.texts:
            whom = "with you only" if text.therapist_only else "with the couple"
            st.markdown(f"- {md(text.who)} shared {whom}: {md(text.where)}, {local_date(text.at)}")
    st.markdown("**Check-ins over the last 4 weeks**")
    for trend in summary.trends:
        st.markdown(f"- {md(trend.who)}: {md(trend.words)}")


def _render_private(viewer: Viewer, couple_id: int) -> None:
    """Everything a partner told the therapist alone, the alerts, and the therapist's own notes."""
    engine = runtime.engine()
    with read_session(engine) as session:
        flags = access.safety_attention(session=session, viewer=viewer, couple_id=couple_id)
        row = runtime.couple_read(caseload.couple_row, session, viewer, couple_id, today=local_today())
    with st.container(border=True):
        st.subheader(PRIVATE_MARK)
        st.caption(
            "Kept apart from what the couple shares. Turn on presentation mode before you show your screen."
        )
        for flag in flags:
            st.warning(
                f"**{md(flag.name)}** asked that you know their private safety check needs attention. "
                "You do not see their answers, and their partner has not been told. Consider speaking "
                "with them alone before any joint session; do not raise it with both present.",
                icon=":material/lock:",
            )
        # The safety flag is said above, with what to do about it.
        alerts = [alert for alert in row.alerts if alert.kind != "safety"]
        st.markdown("**Alerts**")
        if not alerts:
            st.caption("No alert for this couple.")
        for alert in alerts:
            st.warning(md(alert.text), icon=":material/flag:")
        render_shared_texts(
            viewer,
            couple_id,
            only=Visibility.THERAPIST,
            title="Shared with you only",
            empty="Neither partner has shared anything with you alone.",
        )
    with st.container(border=True):
        st.caption(f"{PRIVATE_MARK}: the couple never sees your notes.")
        render_session_notes(viewer, couple_id)


def _open_stage_early(viewer: Viewer, couple_id: int) -> None:
    """Stages open when both partners finish the one before; a therapist may open one sooner. Only the
    stages not yet open for this couple (by progress or by a therapist) are offered."""
    program = runtime.program()
    st.subheader("Open a stage early")
    with read_session(runtime.engine()) as session:
        couple_journey = journey.therapist_journeys(
            session=session, viewer=viewer, couple_ids=[couple_id], program=program
        ).get(couple_id)
    closed = [
        stage
        for stage in program.stages
        # Open for the couple (a stage one partner began alone on the solo track still waits for the other).
        if couple_journey is None or couple_journey.couple_opened_at(stage.key) is None
    ]
    if not closed:
        st.caption("Every stage is already open for this couple.")
        return
    choice = st.selectbox(
        "Open a stage early for this couple",
        [stage.key for stage in closed],
        format_func=lambda key: program.stage_by_key[key].title,
        key=f"open_stage_{couple_id}",
    )
    if st.button("Open this stage", key=f"open_stage_button_{couple_id}"):
        try:
            with write_session(runtime.engine()) as session:
                journey.open_stage(
                    session=session, viewer=viewer, couple_id=couple_id, stage=choice, now=utcnow()
                )
        except AccessDenied:
            st.warning(NO_LONGER)
            return
        st.success(f"{program.stage_by_key[choice].title} is open for this couple.")
