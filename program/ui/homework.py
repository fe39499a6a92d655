"""Homework from the couple's therapist: on the partner's home page (mark it done), and the therapist's
"Assign homework" section (the form, then every assignment with each partner's status).

The UI of program.therapist.homework, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from program.infra.db import read_session
from program.infra.models import utcnow
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import homework
from program.therapist.homework import HomeworkError, HomeworkItem, HomeworkStatus, Partner
from program.ui import runtime
from program.ui.gate import clear_flash, confirm_for, show_own_flash
from program.ui.localtime import local_date, local_today, long_day
from program.ui.text import md, visible
from program.ui.writes import written

HEADING = "From your therapist"
SECTION = "Assign homework"
FOR_BOTH = "Both partners"
GONE = "This homework can no longer be marked done here."


def render_partner_homework(viewer: Viewer) -> None:
    """The partner's homework from their therapist, open first, each with a "Mark done" button; nothing at
    all when there is none."""
    with read_session(runtime.engine()) as session:
        items = homework.for_partner(session=session, viewer=viewer, today=local_today())
    if not items:
        return
    st.subheader(HEADING)
    for item in items:
        _partner_item(viewer, item)


def _partner_item(viewer: Viewer, item: HomeworkItem) -> None:
    with st.container(border=True):
        st.markdown(f"**{md(item.title)}**" + ("" if item.for_both else " · for you"))
        if item.instructions:
            st.text(item.instructions)  # typed by the therapist: shown as text
        if item.done_at is not None:
            st.caption(f":material/check_circle: Done on {local_date(item.done_at)}")
            return
        due = f"Due {long_day(item.due_on)}"
        if item.overdue:
            st.caption(f":material/schedule: {due}: overdue")
        else:
            st.caption(due)
        if st.button("Mark done", key=f"homework_done_{item.id}"):
            if not written(
                lambda session: homework.mark_done(
                    session=session, viewer=viewer, assignment_id=item.id, now=utcnow()
                ),
                said={AccessDenied: GONE, HomeworkError: GONE},
            ):
                return
            st.rerun()


def render_assign_homework(viewer: Viewer, couple_id: int) -> None:
    """The "Assign homework" form for this couple, then what was assigned and each partner's status."""
    owner = f"homework-{couple_id}"
    try:
        with read_session(runtime.engine()) as session:
            partners = homework.couple_partners(session=session, viewer=viewer, couple_id=couple_id)
            assigned = homework.couple_homework(session=session, viewer=viewer, couple_id=couple_id)
    except AccessDenied:
        st.warning("This couple no longer gives you access.")
        return
    names = {p.person_id: p.name for p in partners}
    st.subheader(SECTION)
    show_own_flash(owner)
    today = local_today()
    made = st.session_state.get(ASSIGNED_COUNT, 0)  # a fresh form after each assignment
    with st.form(f"assign_homework_{couple_id}"):
        title = st.text_input("Title", max_chars=homework.MAX_TITLE_CHARS, key=f"hw_title_{couple_id}_{made}")
        instructions = st.text_area(
            "What to do",
            max_chars=homework.MAX_INSTRUCTIONS_CHARS,
            key=f"hw_instructions_{couple_id}_{made}",
        )
        due_on = st.date_input("Due date", value=today, min_value=today, key=f"hw_due_{couple_id}_{made}")
        options: list[int | None] = [None, *names]
        # Selectbox options are drawn as plain text; visible() drops characters that hide or reorder text.
        for_person = st.selectbox(
            "For",
            options,
            format_func=lambda pid: FOR_BOTH if pid is None else visible(names[pid]),
            key=f"hw_for_{couple_id}_{made}",
        )
        submitted = st.form_submit_button("Assign homework")
    if submitted:
        clear_flash()
        if _assign(viewer, couple_id, title, instructions, due_on, for_person, today):
            st.session_state[ASSIGNED_COUNT] = made + 1
            confirm_for(owner, "Homework assigned. The couple sees it on their home page.")
            st.rerun()
    if assigned:
        st.markdown("**Assigned homework**")
    for status in assigned:
        _assigned_item(status, partners, today)


ASSIGNED_COUNT = "kindred_homework_assigned"


def _assign(
    viewer: Viewer,
    couple_id: int,
    title: str,
    instructions: str,
    due_on: object,
    for_person: int | None,
    today: date,
) -> bool:
    if not isinstance(due_on, date):
        st.error("Choose a due date.")
        return False
    if not written(
        lambda session: homework.assign(
            session=session,
            viewer=viewer,
            couple_id=couple_id,
            title=title,
            instructions=instructions,
            due_on=due_on,
            for_person_id=for_person,
            today=today,
            now=utcnow(),
        ),
        HomeworkError,
        said={AccessDenied: "This couple no longer gives you access, so the homework was not assigned."},
    ):
        return False
    return True


def _assigned_item(status: HomeworkStatus, partners: list[Partner], today: date) -> None:
    """One assignment: title, what to do, due date, for whom, and each partner's status in words."""
    names = {p.person_id: p.name for p in partners}
    with st.container(border=True):
        for_whom = "both partners" if status.for_person_id is None else names.get(status.for_person_id)
        st.markdown(f"**{md(status.title)}** · for {md(for_whom or 'a former partner')}")
        if status.instructions:
            st.text(status.instructions)
        st.caption(f"Due {long_day(status.due_on)}")
        expected = [p for p in partners if status.for_person_id in (None, p.person_id)]
        for partner in expected:
            done_at = status.done.get(partner.person_id)
            if done_at is not None:
                st.write(f":material/check_circle: {md(partner.name)}: done on {local_date(done_at)}")
            elif status.due_on < today:
                st.write(f":material/schedule: {md(partner.name)}: not done, overdue")
            else:
                st.write(f"{md(partner.name)}: not done yet")
