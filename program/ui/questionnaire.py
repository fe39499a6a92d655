"""A questionnaire on screen: answers saved one by one as drafts, then sent; blind until both send."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from program import access, questionnaires, scoring
from program.access import Viewer
from program.curriculum import Instrument
from program.db import read_session, write_session
from program.models import utcnow
from program.ui import runtime
from program.ui.text import md
from program.ui.widgets import answering_as, kept_value, save_or_keep


def _label(instrument: Instrument, point: int) -> str:
    text = instrument.scale.labels[point - instrument.scale.min]
    return f"{point} · {text}" if text else str(point)


def _save(viewer: Viewer, instrument: Instrument, occasion: str, item: str, key: str) -> None:
    value: int | None = st.session_state.get(key)

    def write(session: Session) -> None:
        questionnaires.save_answer(
            session=session,
            viewer=viewer,
            instrument=instrument,
            occasion=occasion,
            item=item,
            value=value,
            now=utcnow(),
        )

    try:
        save_or_keep(viewer, key, write, values={key: value}, in_callback=True)
    except questionnaires.QuestionnaireError as error:
        st.session_state[f"{key}_error"] = str(error)


def render_questionnaire(
    viewer: Viewer, instrument: Instrument, occasion: str, *, partner_name: str | None, couple_id: int | None
) -> bool:
    """Draw the questionnaire (or, once sent, the viewer's scores and what they may see of the partner's).
    Returns whether the viewer has sent it."""
    engine = runtime.engine()
    with read_session(engine) as session:
        own = questionnaires.own_answers(
            session=session, viewer=viewer, instrument=instrument.key, occasion=occasion
        )
    if own.submitted_at is not None:
        _render_results(
            viewer, instrument, occasion, own.answers, partner_name=partner_name, couple_id=couple_id
        )
        return True
    answering_as(viewer)
    st.write(instrument.purpose)
    prefix = f"q::{instrument.key}::{occasion}::"
    for number, item in enumerate(instrument.items, start=1):
        key = prefix + item.key
        if key not in st.session_state:  # an answer still waiting to be saved comes first
            chosen = kept_value(viewer, key, own.answers.get(item.key))
            if chosen is not None:
                st.session_state[key] = chosen
        st.radio(
            f"{number}. {item.text}",
            list(instrument.scale.points),
            index=None,
            format_func=lambda point: _label(instrument, point),
            horizontal=True,
            key=key,
            on_change=_save,
            args=(viewer, instrument, occasion, item.key, key),
        )
        if error := st.session_state.pop(f"{key}_error", None):
            st.error(error)
    answered = sum(1 for item in instrument.items if st.session_state.get(prefix + item.key) is not None)
    st.caption(f"{answered} of {len(instrument.items)} answered. Your answers are kept as you go.")
    if st.button("Send my answers", key=f"send::{instrument.key}::{occasion}", type="primary"):
        try:
            with write_session(engine) as session:
                questionnaires.submit(
                    session=session, viewer=viewer, instrument=instrument, occasion=occasion, now=utcnow()
                )
        except questionnaires.QuestionnaireError as error:
            st.error(str(error))
        else:
            st.rerun()
    return False


def _render_results(
    viewer: Viewer,
    instrument: Instrument,
    occasion: str,
    answers: dict[str, int | None],
    *,
    partner_name: str | None,
    couple_id: int | None,
) -> None:
    scores = scoring.score(instrument, answers)
    st.success("Your answers are sent. Here is how they add up.")
    st.dataframe(
        [
            {
                "Area": s.title,
                "Your score": None if s.score is None else round(s.score, 1),
                "Scale": "{:g} to {:g}".format(*scoring.score_range(instrument, s.key)),
            }
            for s in scores.values()
        ],
        hide_index=True,
    )
    if partner_name is None or couple_id is None:
        return
    with read_session(runtime.engine()) as session:
        readable = access.readable_answers(
            session=session, viewer=viewer, couple_id=couple_id, instrument=instrument.key, occasion=occasion
        )
    theirs = next((a for pid, a in readable.items() if pid != viewer.person_id), None)
    if theirs is None:
        st.info(md(f"You'll see {partner_name}'s answers here once {partner_name} has sent theirs too."))
        return
    st.subheader(md(f"Your answers beside {partner_name}'s"))
    st.caption("Where you differ is worth a gentle conversation, not a debate about who is right.")
    st.dataframe(
        [
            {"Statement": item.text, "You": answers.get(item.key), partner_name: theirs.get(item.key)}
            for item in instrument.items
        ],
        hide_index=True,
    )
