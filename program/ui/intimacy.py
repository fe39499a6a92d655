"""The intimacy page (the optional module, by mutual consent) and its offer on the home page.

What a partner sees depends only on their own answers and on whether the module is open (both said
yes): never on whether the other said no or has not answered (see program/course/intimacy.py).

The UI of program.course.intimacy, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from program.course import intimacy
from program.course.curriculum import ContentError
from program.course.journey import Journey
from program.infra.db import IntegrityError, read_session, write_session
from program.infra.models import utcnow
from program.privacy import access
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.gate import clear_flash, confirm, confirm_for, show_flash, show_own_flash
from program.ui.navigation import PAGE_TITLES
from program.ui.writes import step_written

PAGE = "pages/intimacy.py"
CHOICE_LABELS = {"yes": "Yes, I would like to open it", "no": "No, not now"}
MARK_LABELS = {"yes": "Yes", "maybe": "Maybe", "no": "No"}
SAVE_CHOICE = "Save my answer"
SAVE_MARKS = "Save my marks"
FINISH = "Save, I'm done"
SAVED_CLOSED = "Saved. The module opens when you both choose it."
SAVED_OPEN = "Saved. The intimacy module is open for you both."
MARKS_SAVED = "Your marks are saved."
FINISHED = "Your list is finished. The ideas you both chose show below once you have both finished."
NOT_TOGETHER = "This optional module is for a couple doing Kindred together."
COMMON_WAITING = "The ideas you both marked yes or maybe show here once you have both finished your lists."
COMMON_EMPTY = (
    "No idea is on both your lists at the moment. That is fine: wishes change, and you can come back to it."
)
DONE_NOTE = "You have finished your list. You can still change a mark; the common list follows."
OPEN_NOTE = "The intimacy module is open for you both."
# The home page's card keeps its own confirmation (the page draws no page-wide message): kept through
# later runs, whatever reruns the page's other parts cause, until the person acts again or leaves.
HOME_CARD = "intimacy-home"
RACE = "Something changed while you were saving. Please try again."


def render_intimacy(viewer: Viewer) -> None:
    """The module's page: the private choice until it is open; then the reading, the touch practice,
    the wishes list, and the choice again (to close it)."""
    text = _content()
    st.title(PAGE_TITLES["intimacy"])
    show_flash()
    program = runtime.program()
    with read_session(runtime.engine()) as session:
        where = intimacy.standing(session=session, viewer=viewer, program=program)
        wishes = (
            intimacy.wishes(session=session, viewer=viewer, couple_id=where.couple_id)
            if where.module is not None and where.module.is_open and where.couple_id is not None
            else None
        )
    if where.module is None:
        st.info(NOT_TOGETHER)
        return
    if not where.offered:
        st.info(text.not_yet)
        return
    if wishes is None:
        st.write(text.offer)
        st.caption(text.offer_detail)
        _choice_form(viewer, where.module)
        return
    for section in text.sections:
        st.subheader(section.title)
        st.write(section.body)
    _touch_practice(text)
    _wishes(viewer, text, where.module, wishes)
    st.subheader("Your choice")
    st.caption(
        "Choosing no closes the module for you both. Your partner then sees it simply as not open, "
        "in the same words as before either of you answered."
    )
    _choice_form(viewer, where.module)


def _content() -> intimacy.IntimacyContent:
    """The module's validated content; a broken file stops the page with its name and field."""
    try:
        return intimacy.content()
    except ContentError as error:
        st.error(f"Kindred's program content has a problem, so this part cannot open. {error}")
        st.stop()


def _choice_form(viewer: Viewer, module: access.ModuleView, *, on_home: bool = False) -> None:
    current = None if module.own_choice is None else ("yes" if module.own_choice else "no")
    with st.form("intimacy_choice"):
        answer = st.radio(
            _content().choice_question,
            list(CHOICE_LABELS),
            index=None if current is None else list(CHOICE_LABELS).index(current),
            format_func=CHOICE_LABELS.__getitem__,
            key="intimacy_choice_answer",
        )
        submitted = st.form_submit_button(SAVE_CHOICE)
    if not submitted:
        return
    clear_flash()
    if answer is None:
        st.error("Please choose yes or no first.")
        return
    try:
        with write_session(runtime.engine()) as session:
            view = intimacy.choose(
                session=session, viewer=viewer, program=runtime.program(), wants=answer == "yes", now=utcnow()
            )
    except intimacy.IntimacyError as error:
        st.error(str(error))
        return
    except IntegrityError:
        st.error(RACE)
        return
    # Depends only on the viewer's own answer and on "open": the same whether the other said no or nothing.
    message = SAVED_OPEN if view.is_open else SAVED_CLOSED
    if on_home:
        confirm_for(HOME_CARD, message)
    else:
        confirm(message)
    st.rerun()


def _touch_practice(text: intimacy.IntimacyContent) -> None:
    st.subheader(text.touch.title)
    st.write(text.touch.intro)
    for number, step in enumerate(text.touch.steps, start=1):
        with st.container(border=True):
            st.markdown(f"**Step {number}: {step.title}**")
            st.write(step.body)
            st.caption(step.opt_out)


def _wishes(
    viewer: Viewer, text: intimacy.IntimacyContent, module: access.ModuleView, wishes: access.WishesView
) -> None:
    st.subheader(text.wishes.title)
    st.write(text.wishes.intro)
    if module.own_wishes_finished:
        st.caption(DONE_NOTE)
    with st.form("intimacy_wishes"):
        chosen: dict[str, str | None] = {}
        for wish in text.wishes.items:
            own = wishes.own_marks.get(wish.key)
            chosen[wish.key] = st.radio(
                wish.text,
                list(MARK_LABELS),
                index=None if own is None else list(MARK_LABELS).index(own),
                format_func=MARK_LABELS.__getitem__,
                horizontal=True,
                key=f"intimacy_wish_{wish.key}",
            )
        save = st.form_submit_button(SAVE_MARKS)
        finish = False if module.own_wishes_finished else st.form_submit_button(FINISH, type="primary")
    if save or finish:
        clear_flash()
        if not step_written(
            intimacy.save_marks,
            viewer,
            intimacy.IntimacyError,
            said={IntegrityError: RACE},
            marks=chosen,
            done=finish,
        ):
            return
        confirm(FINISHED if finish else MARKS_SAVED)
        st.rerun()
    st.subheader("What you both chose")
    if wishes.common is None:
        st.info(COMMON_WAITING)
    elif not wishes.common:
        st.write(COMMON_EMPTY)
    else:
        st.caption("Ideas you both marked yes or maybe, in the list's order (not who chose which).")
        st.markdown("\n".join(f"- {text.wish_text(item)}" for item in wishes.common))


def render_intimacy_offer(viewer: Viewer, progress: Journey) -> None:
    """On the home page, once the viewer finished the last stage in a couple of two: the offer (or, once
    open, the way in). The words are the same whatever the other partner did."""
    if progress.couple_id is None or progress.partner is None:
        return
    if progress.me.finished_at(intimacy.LAST_STAGE) is None:
        return
    with read_session(runtime.engine()) as session:
        module = access.readable_module(
            session=session, viewer=viewer, couple_id=progress.couple_id, module=intimacy.MODULE
        )
    text = _content()
    with st.container(border=True):
        st.markdown(f"**{text.title}**")
        show_own_flash(HOME_CARD)
        if module.is_open:
            st.write(OPEN_NOTE)
            try:
                st.page_link(PAGE, label="Open Intimacy", icon=":material/spa:")
            except StreamlitAPIException:  # a deep link before app.py routed knows no other pages
                st.markdown("Open Intimacy from the menu.")
        else:
            # The choice is made here: the page joins the menu only once the module is open.
            st.write(text.offer)
            st.caption(text.offer_detail)
            _choice_form(viewer, module, on_home=True)
