"""Pausing joint work and the safety check, on the pages: the partner's pages read the same whatever the
reason, the flagged person is offered a pause privately, the therapist sees attention only when told."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from streamlit.testing.v1 import AppTest

from program.course import pauses, reminders, safety
from program.course.curriculum import ConversationExercise
from program.infra.db import read_session, write_session
from program.infra.models import JointPause, PauseReason, Role, SafetyScreen
from program.privacy.viewer import Viewer
from program.ui.therapist import PRESENTATION
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, finish_assessment
from tests.ui.helpers import app, as_viewer, click, texts

STAGE = PROGRAM.stage_by_key["communication"]
CONVERSATION = next(e for e in STAGE.exercises if isinstance(e, ConversationExercise))
PARTNER_PAGES = ("home", "communication", "progress", "assessment", "checkin", "account")


def _page(engine: Engine, viewer: Viewer, page: str) -> AppTest:
    return as_viewer(app(f"pages/{page}.py"), viewer, engine).run()


def _in_communication(engine: Engine, suffix: str = "") -> tuple[Viewer, Viewer, int]:
    ana = make_person(engine, f"ana{suffix}", name="Ana")
    ben = make_person(engine, f"ben{suffix}", name="Ben")
    couple = make_couple(engine, ana, ben)
    for who in (ana, ben):
        finish_assessment(engine, who)
        answer_all(engine, who, STAGE.check, "communication:start", 4)
    return ana, ben, couple


def _flag(engine: Engine, viewer: Viewer, *, clear: bool = False) -> None:
    answers = {item.key: (3 if item.key == "fear" and not clear else 0) for item in PROGRAM.safety.items}
    with write_session(engine) as session:
        safety.submit_screen(session=session, viewer=viewer, content=PROGRAM.safety, answers=answers, now=T0)


def _everything_on_the_page(at: AppTest) -> str:
    """All text, plus every widget's label and state, so a difference anywhere shows."""
    widgets = [f"{w.type}:{getattr(w, 'label', '')}:{getattr(w, 'disabled', '')}" for w in at.main]
    return texts(at) + "\n" + "\n".join(widgets)


@pytest.mark.parametrize("other", [PauseReason.BUSY, PauseReason.BREAK])
def test_the_partners_pages_are_identical_for_a_safety_pause_and_any_other(
    app_env: Engine, other: str
) -> None:
    """Ben's home, stage, progress, assessment and check-in pages read the same, word for word, whether Ana
    (flagged) paused for safety or (unflagged) because she is busy; and they say only the neutral line."""
    seen: dict[str, list[str]] = {page: [] for page in PARTNER_PAGES}
    for reason in (PauseReason.SAFETY, other):
        ana, ben, _ = _in_communication(app_env, suffix=reason)
        if reason == PauseReason.SAFETY:
            _flag(app_env, ana)
        _flag(app_env, ben, clear=True)  # Ben's own check is done, so his pages carry no safety reminder
        with write_session(app_env) as session:
            pauses.start_pause(session=session, viewer=ana, reason=reason, now=T0)
        for page in PARTNER_PAGES:
            # The usernames differ between the two worlds by design; everything else must not.
            seen[page].append(_everything_on_the_page(_page(app_env, ben, page)).replace(ben.username, "ben"))
    for page, (safety_view, other_view) in seen.items():
        assert safety_view == other_view, page
    for page in ("home", "communication", "progress"):  # the assessment page holds Ben's own safety check
        for word in ("safety", "busy", "break", "travel"):
            # "private safety check" is the progress page's own promise that the screen is never charted.
            assert word not in seen[page][0].lower().replace("private safety check", ""), (page, word)
    assert pauses.PARTNER_PAUSED in seen["home"][0]
    assert pauses.PARTNER_PAUSED in seen["communication"][0]
    assert CONVERSATION.turns[0].prompt not in seen["communication"][0]


def test_the_flagged_person_is_offered_a_pause_privately_and_may_end_it(app_env: Engine) -> None:
    """After a flagged check, Ana's own page suggests "Pause joint work"; Ben's pages never offer it; Ana
    ends the pause on her account page and the conversation is back for both."""
    ana, ben, couple = _in_communication(app_env)
    at = _page(app_env, ana, "assessment")
    for item in PROGRAM.safety.items:
        at.radio(key=f"safety::{item.key}").set_value(3 if item.key == "hurt" else 0)
    click(at, "Keep my answers private and continue")
    assert PROGRAM.safety.guidance.flagged_title in texts(at)
    click(at, "Pause joint work")
    with read_session(app_env) as session:
        [pause] = session.exec(select(JointPause)).all()
    assert (pause.person_id, pause.reason, pause.ended_at) == (ana.person_id, PauseReason.SAFETY, None)
    for page in ("assessment", "account", "home"):
        assert not [b for b in _page(app_env, ben, page).button if b.label == "Pause joint work"]
    ben_account = _page(app_env, ben, "account")
    assert pauses.PARTNER_PAUSED in texts(ben_account)
    assert not [b for b in ben_account.button if b.label == "End my pause"]
    ana_account = _page(app_env, ana, "account")
    assert "You paused for your safety." in texts(ana_account)
    click(ana_account, "End my pause")
    home = _page(app_env, ben, "home")
    assert pauses.PARTNER_PAUSED not in texts(home)
    assert CONVERSATION.turns[0].prompt in texts(_page(app_env, ben, "communication"))


def test_anyone_may_pause_with_a_visible_reason_and_must_choose_one(app_env: Engine) -> None:
    """Ben pauses from his account page: without a reason he is asked for one; with one, Ana sees the line."""
    ana, ben, _ = _in_communication(app_env)
    at = _page(app_env, ben, "account")
    click(at, "Pause joint exercises")
    assert "Please choose a reason" in texts(at)
    at.radio[[r.label for r in at.radio].index("Why are you pausing? (only you see this)")].set_value(
        PauseReason.TRAVELLING
    )
    click(at, "Pause joint exercises")
    assert pauses.PARTNER_PAUSED in texts(_page(app_env, ana, "home"))
    assert "You paused i'm travelling." in texts(_page(app_env, ben, "account"))


def test_the_short_check_is_due_and_answered_on_the_account_page(app_env: Engine) -> None:
    """With Communication open after her first check, Ana's home lists the short check first; she answers
    it on her account page and it is stored as a short screen."""
    ana, _, _ = _in_communication(app_env)
    _flag(app_env, ana)  # at T0, before Communication opened (finish_assessment runs at T0 too)
    with write_session(app_env) as session:
        row = session.exec(select(SafetyScreen)).one()
        row.submitted_at = T0.replace(year=2025)
        session.add(row)
    home = _page(app_env, ana, "home")
    shown = texts(home)
    assert reminders.SAFETY_SHORT.text in shown
    assert shown.index(reminders.SAFETY_SHORT.text) < shown.index("This week's check-in")
    at = _page(app_env, ana, "account")
    for item in PROGRAM.safety.items_for("short"):
        at.radio(key=f"safety_short::{item.key}").set_value(0)
    click(at, "Keep my answers private and continue")
    with read_session(app_env) as session:
        forms = [s.form for s in session.exec(select(SafetyScreen).order_by(col(SafetyScreen.id)))]
    assert forms == ["full", "short"]


def test_the_therapist_sees_attention_privately_only_with_consent(app_env: Engine) -> None:
    """Dr Kim's caseload and couple view say nothing until Ana ticks the box; then a private section says
    her check needs attention, without answers; unticking takes it away."""
    ana, ben, couple = _in_communication(app_env)
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, name="Dr Kim")
    grant(app_env, couple, kim, ana)
    grant(app_env, couple, kim, ben)
    _flag(app_env, ana)

    def therapist_view(*, presenting: bool = False) -> str:
        at = _page(app_env, kim, "therapist")
        click(at, "Open")
        if not presenting:
            at.toggle(key=PRESENTATION).set_value(False).run()
        return texts(at)

    attention = "asked that you know their private safety check needs attention"
    assert attention not in therapist_view()
    account = _page(app_env, ana, "account")
    account.checkbox(key=f"attention_{kim.person_id}").check().run()
    shown = therapist_view()
    assert f"**Ana** {attention}" in shown
    assert PROGRAM.safety.items[0].text not in shown
    # Never on a screen shown to the couple in presentation mode, nor to Ben.
    assert attention not in therapist_view(presenting=True)
    assert "Only you can see this" not in texts(_page(app_env, ben, "account"))
    account = _page(app_env, ana, "account")
    account.checkbox(key=f"attention_{kim.person_id}").uncheck().run()
    assert attention not in therapist_view()
