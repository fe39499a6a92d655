"""A questionnaire on screen: one form per page, saved as a draft a page at a time, then sent; blind
until both partners have sent.

Choosing an answer costs no trip to the server (the radios sit in an st.form). The answers reach the server
together, in one write, when the person presses "Save draft" or "Send my answers", or when the browser
presses "Save draft" for them: a small script of ours (a components.v2 component, in the page's own
document) does so a moment after the last change. It also tries at once when the page is hidden or left,
but a message sent as a page unloads may not arrive: a reload within that moment can lose the last clicks
(seen in 2 of 6 browser runs). The counter and "Send" go by what the server holds.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache, partial
from typing import Protocol

import streamlit as st
from streamlit.components.v2.types import ComponentRenderer

from program.course import questionnaires, scoring
from program.course.curriculum import Instrument, Scale
from program.infra.db import OperationalError, Session, read_session, write_session
from program.infra.models import utcnow
from program.privacy import access
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.text import md
from program.ui.widgets import answering_as, kept_value, save_or_keep

SAVE_DRAFT = "Save draft"
SEND = "Send my answers"
# How long after the last change the browser saves the draft by itself.
AUTOSAVE_AFTER_MS = 1000
COULD_NOT_SEND = "We couldn't send your answers just now; they are still here. Please press Send again soon."

# Trusted code of our own; its data (a class name, a label, a delay) is ours too.
_AUTOSAVE_JS = """
const STATE = (window.__kindredDrafts = window.__kindredDrafts || { timers: {}, forms: {} });

function formOf(target) {
  for (const name of Object.keys(STATE.forms)) {
    const box = target.closest && target.closest("." + name);
    if (box) return name;
  }
  return null;
}

function save(name) {
  clearTimeout(STATE.timers[name]);
  delete STATE.timers[name];
  const box = document.querySelector("." + name);
  if (!box) return;
  const label = STATE.forms[name].label;
  const button = [...box.querySelectorAll("button")].find((b) => b.textContent.trim() === label);
  if (button && !button.disabled) button.click();
}

function changed(event) {
  const name = formOf(event.target);
  if (!name) return;
  clearTimeout(STATE.timers[name]);
  delete STATE.timers[name];
  // A button of the form sends every answer itself; saving again after it would hide what it says.
  if (event.target.closest("button")) return;
  // The radios are not native inputs (no change event): any other click or key in the form counts.
  STATE.timers[name] = setTimeout(() => save(name), STATE.forms[name].delayMs);
}

function flush() {
  for (const name of Object.keys(STATE.timers)) save(name);
}

export default function (component) {
  STATE.forms[component.data.formClass] = component.data;
  if (STATE.installed) return;
  STATE.installed = true;
  document.addEventListener("click", changed, true);
  document.addEventListener("keyup", changed, true);
  document.addEventListener("visibilitychange", () => { if (document.hidden) flush(); });
  window.addEventListener("pagehide", flush);
}
"""


@cache
def _autosave() -> ComponentRenderer:
    """Registered once per process (registering again under the same name logs a warning)."""
    return st.components.v2.component("kindred_draft_autosave", js=_AUTOSAVE_JS)


def _label(scale: Scale, point: int) -> str:
    text = scale.labels[point - scale.min]
    return f"{point} · {text}" if text else str(point)


def _keys(instrument: Instrument, occasion: str) -> tuple[str, str]:
    """The prefix of the form's radio keys, and the form's own key (also the pending-save key)."""
    return f"q::{instrument.key}::{occasion}::", f"qform::{instrument.key}::{occasion}"


def _chosen(instrument: Instrument, prefix: str) -> dict[str, int | None]:
    """What the form holds now (a widget callback runs after the form's values are in session state).
    Unanswered items are left out: a blank here never clears an answer saved from another tab."""
    chosen = {item.key: st.session_state.get(prefix + item.key) for item in instrument.items}
    return {item: value for item, value in chosen.items() if value is not None}


def _save_draft(viewer: Viewer, instrument: Instrument, occasion: str) -> bool:
    """Write every chosen answer in one write (or keep them for the next run); False if not saved."""
    prefix, form = _keys(instrument, occasion)
    answers = _chosen(instrument, prefix)
    if not answers:
        return True

    def write(session: Session) -> None:
        questionnaires.save_answers(
            session=session,
            viewer=viewer,
            instrument=instrument,
            occasion=occasion,
            answers=answers,
            now=utcnow(),
        )

    values = {prefix + item: value for item, value in answers.items()}
    try:
        return save_or_keep(viewer, form, write, values=values, in_callback=True)
    except questionnaires.QuestionnaireError as error:
        st.session_state[f"{form}_error"] = str(error)
        return False


def _save_draft_pressed(viewer: Viewer, instrument: Instrument, occasion: str) -> None:
    _save_draft(viewer, instrument, occasion)


class SubmitAnswers(Protocol):
    """What sends a filling-in: questionnaires.submit, or a caller's stricter rule around it (an outcome
    occasion is refused unless it is due when Send is pressed, not only when the form was drawn)."""

    def __call__(
        self, *, session: Session, viewer: Viewer, instrument: Instrument, occasion: str, now: datetime
    ) -> object: ...


def _send(
    viewer: Viewer, instrument: Instrument, occasion: str, submit: SubmitAnswers = questionnaires.submit
) -> None:
    """Save the page's answers, then send what the server holds (refused, naming any item it lacks)."""
    _, form = _keys(instrument, occasion)
    if not _save_draft(viewer, instrument, occasion):
        st.session_state.setdefault(f"{form}_error", COULD_NOT_SEND)
        return
    try:
        with write_session(runtime.engine()) as session:
            submit(session=session, viewer=viewer, instrument=instrument, occasion=occasion, now=utcnow())
    except questionnaires.QuestionnaireError as error:
        st.session_state[f"{form}_error"] = str(error)
    except OperationalError:
        st.session_state[f"{form}_error"] = COULD_NOT_SEND


def render_questionnaire(
    viewer: Viewer,
    instrument: Instrument,
    occasion: str,
    *,
    partner_name: str | None,
    couple_id: int | None,
    submit: SubmitAnswers = questionnaires.submit,
) -> bool:
    """Draw the questionnaire (or, once sent, the viewer's scores and what they may see of the partner's).
    Returns whether the viewer has sent it. `submit` sends it (default: questionnaires.submit)."""
    with read_session(runtime.engine()) as session:
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
    prefix, form = _keys(instrument, occasion)
    box = "kindred-qform-" + re.sub(r"[^A-Za-z0-9_-]", "-", f"{instrument.key}-{occasion}")
    with st.container(key=box), st.form(form, border=False, enter_to_submit=False):
        for number, item in enumerate(instrument.items, start=1):
            key = prefix + item.key
            # Each item offers its own scale's points and labels (a questionnaire may mix scales).
            scale = instrument.scale_of(item)
            # What the radio shows: its value in this session if on the item's scale, else the answer waiting
            # to be saved or on the server; blank for an answer no longer on the scale (to answer again).
            points = list(scale.points)
            current = st.session_state.get(key)
            shown = current if current in points else kept_value(viewer, key, own.answers.get(item.key))
            shown = shown if shown in points else None
            # The answer is the radio's default, which the browser uses whenever it draws the radio afresh (a
            # value sent only through session state reaches it once: after a reload item 1 sometimes showed
            # blank). Session state is written only to change what this session holds (a blank, or an answer
            # since sent from another tab); that run passes no default, as Streamlit asks.
            index = None if shown is None else points.index(shown)
            if key in st.session_state and current != shown:
                st.session_state[key] = shown
                index = None
            st.radio(
                f"{number}. {item.text}",
                points,
                index=index,
                format_func=partial(_label, scale),
                horizontal=True,
                key=key,
            )
        saved = sum(1 for item in instrument.items if own.answers.get(item.key) is not None)
        st.caption(
            f"{saved} of {len(instrument.items)} answers saved. Your choices are saved a moment after "
            f"you make them, and whenever you press “{SAVE_DRAFT}”."
        )
        if error := st.session_state.pop(f"{form}_error", None):
            st.error(error)
        left, right = st.columns(2)
        with left:
            st.form_submit_button(
                SAVE_DRAFT,
                on_click=_save_draft_pressed,
                args=(viewer, instrument, occasion),
                width="stretch",
            )
        with right:
            st.form_submit_button(
                SEND,
                type="primary",
                on_click=_send,
                args=(viewer, instrument, occasion, submit),
                width="stretch",
            )
        _autosave()(
            key=f"autosave::{form}",
            data={"formClass": f"st-key-{box}", "label": SAVE_DRAFT, "delayMs": AUTOSAVE_AFTER_MS},
        )
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
