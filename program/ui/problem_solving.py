"""Solving one problem together, drawn in the Conflict stage: one step at a time, each partner on their
own screen, ending in the couple's agreement and, a week later, a look back at how it went.

The UI of program.course.problem_solving, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import streamlit as st

from program.course import problem_solving
from program.course.problem_solving import ProblemSolvingError, Standing, Step
from program.infra.db import read_session
from program.infra.models import utcnow
from program.privacy.access import AccessDenied, AgreementPartView, AgreementView
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.gate import clear_flash, confirm
from program.ui.localtime import local_time, local_today, long_day
from program.ui.text import md
from program.ui.writes import step_written

PICK = "Pick this problem"
SAVE_MATTERS = "Save what matters to me"
ADD_IDEA = "Add this idea"
CHOOSE = "Choose this plan"
AGREE = "I agree to try this"
SEND_REVIEW = "Send my look back"
DEFAULT_RATING = 5


def render_problem_solving(viewer: Viewer, partner_name: str | None, paused: str | None) -> None:
    """The section in the Conflict stage: where the couple stands, and the viewer's next step."""
    text = problem_solving.content()
    with read_session(runtime.engine()) as session:
        state = problem_solving.standing(session=session, viewer=viewer, now=utcnow())
    partner = md(partner_name) if partner_name else "your partner"
    to_do = state is not None and _viewer_has_a_step(viewer, state)
    with st.expander(text.title, expanded=to_do):
        st.write(text.intro)
        if state is None or state.partner_id is None:
            st.info("Problem-solving is done together: it opens once your partner has joined you.")
            return
        if paused is not None and state.step != Step.REVIEW:
            # The same sentence as the guided conversations, whatever the reason for the pause. The look
            # back is each partner's own, so it stays open (it is due on their home page).
            st.info(paused, icon=":material/pause_circle:")
            return
        _solvable_help(state.step == Step.ISSUE)
        if state.open is None:
            if state.past:
                st.caption(text.steps.done)
            _pick(viewer)
        else:
            _open(viewer, state, state.open, partner)
        if state.past:
            st.markdown("**Agreements you have looked back on**")
            for agreement in state.past:
                _past(viewer, agreement, partner)


def _viewer_has_a_step(viewer: Viewer, state: Standing) -> bool:
    """Whether something waits on the viewer (the section then opens by itself)."""
    mine = state.open.parts.get(viewer.person_id) if state.open is not None else None
    match state.step:
        case Step.ISSUE:
            return False
        case Step.MATTERS:
            return mine is None or not mine.wrote_matters
        case Step.CONFIRM:
            return mine is None or mine.confirmed_at is None
        case Step.REVIEW:
            return mine is None or mine.reviewed_at is None
        case Step.OPTIONS:
            return True
        case _:
            return False


def _solvable_help(expanded: bool) -> None:
    help_text = problem_solving.content().solvable
    st.markdown(f"**{help_text.title}**" if expanded else f"*{help_text.title}*")
    if expanded:
        st.write(help_text.body)
        solvable, lasting = st.columns(2)
        solvable.markdown("Solvable, for example:\n" + "\n".join(f"- {x}" for x in help_text.solvable))
        lasting.markdown("Lasting differences:\n" + "\n".join(f"- {x}" for x in help_text.lasting))
        st.caption(help_text.tip)


def _write(step: Callable[..., object], viewer: Viewer, done: str, **values: Any) -> None:
    """Run one step's write as the viewer, in the running program and now, with the step's own values; a
    refusal is shown and nothing of it is saved. On success, say so and rerun."""
    clear_flash()
    if step_written(step, viewer, ProblemSolvingError, AccessDenied, **values):
        confirm(done)
        st.rerun()


def _pick(viewer: Viewer) -> None:
    st.write(problem_solving.content().steps.issue)
    with st.form("problem_solving_issue"):
        issue = st.text_input(
            "The problem, in one sentence",
            max_chars=problem_solving.MAX_ISSUE,
            key="problem_solving_issue_text",
        )
        picked = st.form_submit_button(PICK, type="primary")
    if picked:
        _write(problem_solving.start, viewer, "You have picked a problem to work on together.", issue=issue)


def _open(viewer: Viewer, state: Standing, agreement: AgreementView, partner: str) -> None:
    steps = problem_solving.content().steps
    st.markdown(f"**The problem:** {md(agreement.issue)}")
    mine = agreement.parts.get(viewer.person_id)
    theirs = agreement.parts.get(state.partner_id) if state.partner_id is not None else None
    if state.step == Step.MATTERS:
        _matters(viewer, agreement, mine, theirs, partner)
        return
    _both_matters(mine, theirs, partner)
    if state.step == Step.OPTIONS:
        _options(viewer, agreement)
        return
    _plan(agreement)
    if state.step == Step.CONFIRM:
        st.write(steps.confirm)
        _confirmations(viewer, agreement, mine, theirs, partner)
        with st.expander("Change the plan"):
            _choose_form(viewer, agreement)
        return
    assert agreement.agreed_at is not None
    due = problem_solving.review_due_at(agreement)
    assert due is not None
    st.success(f"You both agreed to try this on {local_time(agreement.agreed_at)}.")
    if state.step == Step.WAITING:
        st.write(steps.waiting)
        st.caption(f"Your look back comes due on {local_time(due)}.")
        return
    _review(viewer, agreement, mine, theirs, partner)


def _matters(
    viewer: Viewer,
    agreement: AgreementView,
    mine: AgreementPartView | None,
    theirs: AgreementPartView | None,
    partner: str,
) -> None:
    st.write(problem_solving.content().steps.matters)
    if theirs is not None and theirs.wrote_matters:
        st.caption(f"{partner} has written theirs. You'll read it once you have written yours.")
    else:
        st.caption(f"{partner} hasn't written theirs yet.")
    with st.form(f"problem_solving_matters_{agreement.id}"):
        text = st.text_area(
            "What matters to me about this, and why",
            value=(mine.matters or "") if mine is not None else "",
            max_chars=problem_solving.MAX_MATTERS,
            height=120,
        )
        st.caption(f":material/lock: {partner} reads this once you have both written yours.")
        saved = st.form_submit_button(SAVE_MATTERS, type="primary")
    if saved:
        _write(problem_solving.write_matters, viewer, "Saved what matters to you.", text=text)


def _both_matters(mine: AgreementPartView | None, theirs: AgreementPartView | None, partner: str) -> None:
    you, them = st.columns(2)
    you.markdown("**What matters to you**")
    you.markdown(md(mine.matters or "") if mine is not None else "")
    them.markdown(f"**What matters to {partner}**")
    them.markdown(md(theirs.matters or "") if theirs is not None else "")


def _options(viewer: Viewer, agreement: AgreementView) -> None:
    steps = problem_solving.content().steps
    st.write(steps.options)
    _idea_list(agreement)
    with st.form(f"problem_solving_option_{agreement.id}", clear_on_submit=True):
        idea = st.text_input("An idea", max_chars=problem_solving.MAX_OPTION)
        added = st.form_submit_button(ADD_IDEA)
    if added:
        _write(problem_solving.add_option, viewer, "Your idea is on the list.", text=idea)
    if agreement.options:
        st.write(steps.plan)
        _choose_form(viewer, agreement)


def _idea_list(agreement: AgreementView) -> None:
    if not agreement.options:
        st.caption("No ideas yet: add the first.")
        return
    st.markdown("\n".join(f"{n}. {md(option)}" for n, option in enumerate(agreement.options, start=1)))


def _choose_form(viewer: Viewer, agreement: AgreementView) -> None:
    today = local_today()
    with st.form(f"problem_solving_plan_{agreement.id}"):
        current = agreement.options.index(agreement.chosen) if agreement.chosen in agreement.options else 0
        option = st.radio("The idea to try", agreement.options, index=current, format_func=md)
        plan = st.text_area(
            "Who does what",
            value=agreement.who_does_what,
            max_chars=problem_solving.MAX_PLAN,
            height=90,
        )
        by_when = st.date_input(
            "By when",
            # A plan written days ago may name a day now past: the box starts at today then.
            value=max(agreement.by_when, today) if agreement.by_when else today + timedelta(days=7),
            min_value=today,
            max_value=today + timedelta(days=90),
        )
        chosen = st.form_submit_button(CHOOSE, type="primary")
    if chosen:
        _write(
            problem_solving.choose,
            viewer,
            "Your plan is written. Each of you now confirms it.",
            option=str(option),
            who_does_what=plan,
            by_when=by_when,
        )


def _plan(agreement: AgreementView) -> None:
    with st.container(border=True):
        st.markdown(f"**We'll try:** {md(agreement.chosen)}")
        st.markdown(f"**Who does what:** {md(agreement.who_does_what)}")
        if agreement.by_when is not None:
            st.markdown(f"**By:** {long_day(agreement.by_when)}")


def _confirmations(
    viewer: Viewer,
    agreement: AgreementView,
    mine: AgreementPartView | None,
    theirs: AgreementPartView | None,
    partner: str,
) -> None:
    if theirs is not None and theirs.confirmed_at is not None:
        st.caption(f"{partner} has confirmed this plan.")
    else:
        st.caption(f"{partner} hasn't confirmed this plan yet.")
    if mine is not None and mine.confirmed_at is not None:
        st.caption("You have confirmed this plan.")
        return
    if st.button(AGREE, type="primary", key=f"problem_solving_confirm_{agreement.id}"):
        _write(
            problem_solving.confirm,
            viewer,
            "You have confirmed the plan.",
            agreement_id=agreement.id,
            plan=problem_solving.plan_of(agreement),
        )


def _review(
    viewer: Viewer,
    agreement: AgreementView,
    mine: AgreementPartView | None,
    theirs: AgreementPartView | None,
    partner: str,
) -> None:
    st.write(problem_solving.content().steps.review)
    if mine is not None and mine.reviewed_at is not None:
        _show_review("You", mine)
        st.caption(f"You'll read {partner}'s once they have sent theirs.")
        return
    if theirs is not None and theirs.reviewed_at is not None:
        st.caption(f"{partner} has sent theirs. You'll read it once you have sent yours.")
    with st.form(f"problem_solving_review_{agreement.id}"):
        rating = st.slider(
            "How did it go? (0 = not at all, 10 = very well)",
            min_value=problem_solving.MIN_RATING,
            max_value=problem_solving.MAX_RATING,
            value=DEFAULT_RATING,
            step=1,
        )
        note = st.text_area(
            "What to keep, and what to change", max_chars=problem_solving.MAX_MATTERS, height=100
        )
        st.caption(f":material/lock: {partner} reads this once you have both sent yours.")
        sent = st.form_submit_button(SEND_REVIEW, type="primary")
    if sent:
        _write(
            problem_solving.review,
            viewer,
            "Your look back is sent.",
            agreement_id=agreement.id,
            rating=int(rating),
            note=note,
        )


def _show_review(who: str, part: AgreementPartView) -> None:
    if part.review_rating is None:
        return
    st.markdown(f"**{who}:** {part.review_rating} of 10. {md(part.review_note or '')}")


def _past(viewer: Viewer, agreement: AgreementView, partner: str) -> None:
    with st.container(border=True):
        st.markdown(f"**{md(agreement.issue)}**")
        st.markdown(f"We tried: {md(agreement.chosen)}")
        for person_id, part in agreement.parts.items():
            _show_review("You" if person_id == viewer.person_id else partner, part)
