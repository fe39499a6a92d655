"""The "Keeping it going" page (each partner's plan, the check-in rhythm, the booster review, the weekly
appreciation log), and what of it shows on the home page: this week's appreciation while it is due, and
the kind suggestion to see a couples therapist, to the partner whose own scores call for it.

The UI of program.course.keeping, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

from program.course import appreciation, journey, keeping, outcomes, reflections
from program.course.appreciation import AppreciationError
from program.course.checkins import week_start
from program.course.keeping import KeepingError
from program.infra.db import Session, read_session, write_session
from program.infra.models import Reflection, utcnow
from program.privacy import access
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.gate import clear_flash, confirm_for, show_own_flash
from program.ui.localtime import local_time, local_today, long_day
from program.ui.text import md
from program.ui.widgets import private_text
from program.ui.writes import step_written, written

TITLE = "Keeping it going"
APPRECIATION_FORM = "appreciation_week"
BOOSTER_FORM = "booster_review"
APPRECIATION_OWNER = "appreciation"


# ---- on the home page --------------------------------------------------------------------------------


def render_suggestion(viewer: Viewer) -> None:
    """The suggestion to see a couples therapist, for this viewer only and about their own answers, until
    they dismiss it; nothing otherwise."""
    with read_session(runtime.engine()) as session:
        due = keeping.suggestion_due(
            session=session, viewer=viewer, program=runtime.program(), settings=runtime.settings()
        )
    if not due:
        return
    words = keeping.content().suggestion
    with st.container(border=True):
        st.markdown(f":material/favorite: **{words.title}**")
        st.write(words.body)
        st.markdown("\n".join(f"- {step}" for step in words.how_to_find))
        st.caption("Only you see this note; it is about your own answers.")
        if st.button(words.dismiss, key="dismiss_couples_therapist"):
            with write_session(runtime.engine()) as session:
                keeping.dismiss_suggestion(session=session, viewer=viewer, now=utcnow())
            st.rerun()


def appreciation_due(viewer: Viewer, progress: journey.Journey, today: date) -> bool:
    """Whether this week's appreciation is due for the viewer."""
    with read_session(runtime.engine()) as session:
        entries = appreciation.own_entries(session=session, viewer=viewer)
    return appreciation.is_due(progress, entries, today)


def render_home_appreciation(viewer: Viewer, *, due: bool) -> None:
    """On home: this week's appreciation while due, and the thanks once kept (the form has gone then)."""
    if due:
        render_appreciation_form(viewer)
    else:
        show_own_flash(APPRECIATION_OWNER)


def render_appreciation_form(viewer: Viewer, *, saved: appreciation.Entry | None = None) -> None:
    """This week's appreciation: one thing, and whether it was said (the home page while due, the
    "Keeping it going" page always, with this week's note in it once kept)."""
    words = appreciation.content()
    show_own_flash(APPRECIATION_OWNER)
    with st.form(APPRECIATION_FORM):
        st.markdown(f"**{words.title}**")
        st.caption(words.intro)
        text = st.text_area(
            words.prompt, value=saved.text if saved else "", max_chars=appreciation.MAX_CHARS, height=80
        )
        said = st.checkbox(words.said, value=saved.said if saved else False)
        st.caption(f":material/lock: {words.privacy}")
        sent = st.form_submit_button(words.save, type="primary")
    if not sent:
        return
    clear_flash()

    def save(session: Session) -> None:
        progress = journey.load_journey(session=session, viewer=viewer, program=runtime.program())
        appreciation.save_entry(
            session=session,
            viewer=viewer,
            progress=progress,
            today=local_today(),
            text=text,
            said=said,
            now=utcnow(),
        )

    if not written(save, AppreciationError):
        return
    confirm_for(APPRECIATION_OWNER, words.saved)
    st.rerun()


# ---- the page ----------------------------------------------------------------------------------------


def render_keeping(viewer: Viewer) -> None:
    """The page: the plan, rhythm and booster once the viewer finished the last stage; the appreciation
    log from the day the first skill stage opened."""
    program, settings = runtime.program(), runtime.settings()
    words = keeping.content()
    now = utcnow()
    with read_session(runtime.engine()) as session:
        progress = journey.load_journey(session=session, viewer=viewer, program=program)
        entries = appreciation.own_entries(session=session, viewer=viewer)
        mine: dict[str, Reflection] = {}
        shared: list[Reflection] = []
        status: outcomes.OutcomeStatus | None = None
        booster_done: datetime | None = None
        if keeping.finished_program(progress) and progress.couple_id is not None:
            mine = {
                **reflections.own_texts(session=session, viewer=viewer, prefix=keeping.PLAN_PREFIX),
                **reflections.own_texts(session=session, viewer=viewer, prefix=keeping.BOOSTER_NOTE),
            }
            # What the partner shared of their plan, through the one rule for reading others' texts.
            shared = [
                row
                for row in access.readable_reflections(
                    session=session, viewer=viewer, couple_id=progress.couple_id
                )
                if row.person_id != viewer.person_id and row.context.startswith(keeping.PLAN_PREFIX)
            ]
            status = outcomes.status(
                session=session, viewer=viewer, program=program, settings=settings, now=now, progress=progress
            )
            booster_done = keeping.booster_done_at(session=session, viewer=viewer)

    st.title(TITLE)
    if progress.couple_id is None:
        st.info(
            "This page is for partners doing Kindred together. Start or join your couple on your account "
            "page."
        )
        return
    if status is None:
        st.info(words.not_yet)
    else:
        st.write(words.intro)
        st.subheader("Your plan")
        st.caption("Each of you writes your own. It's private unless you choose to share it.")
        for part in words.plan:
            context = keeping.plan_context(part.key)
            private_text(viewer, context, part.label, mine.get(context), help=part.help, height=100)
        if shared and progress.partner is not None:
            st.subheader(f"{md(progress.partner.name)}'s plan, shared with you")
            for part in words.plan:
                for row in shared:
                    if row.context == keeping.plan_context(part.key):
                        st.markdown(f"**{part.label}**")
                        st.text(row.body)
        st.subheader(words.rhythm.title)
        st.markdown("\n".join(f"- {step}" for step in words.rhythm.steps))
        _booster(viewer, status, booster_done, mine.get(keeping.BOOSTER_NOTE))

    st.subheader(appreciation.content().title)
    if appreciation.started(progress) is None:
        first = program.stages[0].title
        st.info(f"Your weekly appreciation log starts when {first} opens for you both.")
        return
    this_week = next((e for e in entries if e.week == week_start(local_today())), None)
    render_appreciation_form(viewer, saved=this_week)
    with st.expander("Tips"):
        st.markdown("\n".join(f"- {tip}" for tip in appreciation.content().tips))
    earlier = [e for e in entries if e is not this_week]
    if earlier:
        st.markdown("**Earlier weeks**")
        for entry in earlier:
            said = "you told them" if entry.said else "not said (yet)"
            st.caption(f"Week of {long_day(entry.week)} · {said}")
            st.text(entry.text)


def _booster(
    viewer: Viewer, status: outcomes.OutcomeStatus, done_at: datetime | None, note: Reflection | None
) -> None:
    """The booster review: when it comes due, then its form (a note and a rating), then done."""
    words = keeping.content().booster
    settings = runtime.settings()
    owner = "booster"
    st.subheader(words.title)
    show_own_flash(owner)
    if done_at is not None:
        st.success(words.thanks)
        return
    due_at = keeping.booster_due_at(status.sent, follow_up_weeks=settings.follow_up_weeks)
    if due_at is None:
        st.caption(
            f"It comes due {settings.follow_up_weeks} weeks after you send the questionnaire at the end of "
            "the program (How we're doing)."
        )
        return
    if due_at > utcnow():
        st.caption(words.not_yet.format(day=local_time(due_at)))
        return
    st.write(words.intro)
    private_text(viewer, keeping.BOOSTER_NOTE, words.note, note)
    with st.form(BOOSTER_FORM):
        rating = st.slider(words.rating, min_value=0, max_value=10, value=5, step=1)
        st.caption(f"0 = {words.low} · 10 = {words.high}")
        sent = st.form_submit_button(words.done, type="primary")
    if not sent:
        return
    clear_flash()
    if not step_written(keeping.do_booster, viewer, KeepingError, settings=settings, rating=rating):
        return
    confirm_for(owner, words.thanks)
    st.rerun()
