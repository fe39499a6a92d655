"""Shared goals on screen: agreed on the assessment page (never showing a partner's private goals), rated at
a stage's end, and charted on the progress page and in the therapist's couple view, hostile text as typed."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from program.course import couple_goals, journey, reflections
from program.infra.db import write_session
from program.infra.models import Role
from program.privacy.viewer import Viewer
from program.ui.couple_goals import PROPOSAL
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, finish_assessment, finish_stage
from tests.ui.helpers import app, as_viewer, click, open_couple, texts

STAGE = PROGRAM.stages[0].key
HOSTILE = "![x](http://evil.example/x.png) <b>bold</b> %{y} ten minutes"
BEN_PRIVATE = "Ben's private hope, never for Ana's eyes"


def _couple(engine: Engine) -> tuple[Viewer, Viewer, int]:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    couple_id = make_couple(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
    with write_session(engine) as session:
        reflections.save_text(
            session=session,
            viewer=ben,
            context=journey.GOALS_CONTEXT,
            body=BEN_PRIVATE,
            visibility=None,
            now=T0,
        )
    return ana, ben, couple_id


def _page(engine: Engine, viewer: Viewer, script: str) -> AppTest:
    at = as_viewer(app(script), viewer, engine).run()
    assert not at.exception, at.exception
    return at


def test_partners_agree_a_goal_on_the_assessment_page(app_env: Engine) -> None:
    """Ana proposes (hostile text shown as typed, no accept button for her own), Ben accepts; Ben's private
    goals never reach Ana's page."""
    ana, ben, _ = _couple(app_env)
    at = _page(app_env, ana, "pages/assessment.py")
    assert BEN_PRIVATE not in texts(at)
    at.text_area(key=PROPOSAL).input(HOSTILE)
    at.button(key="FormSubmitter:goal_propose-Propose this goal").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert HOSTILE in shown and "Waiting for Ben" in shown
    assert "![x](http" not in "\n".join(m.value for m in at.markdown)  # escaped, never an image
    assert not [b for b in at.button if b.label == "Accept as it reads"]
    assert BEN_PRIVATE not in texts(at)

    at = _page(app_env, ben, "pages/assessment.py")
    assert "Ana wrote this wording" in texts(at)
    at = click(at, "Accept as it reads")
    assert not at.exception, at.exception
    assert "You have both agreed this goal." in texts(at)
    assert "Agreed by you both." in texts(_page(app_env, ana, "pages/assessment.py"))


def test_goals_wait_on_the_page_until_both_named_their_own(app_env: Engine) -> None:
    """Before Ben has named his goals, Ana's page says so and offers nothing to propose."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    finish_assessment(app_env, ana)
    at = _page(app_env, ana, "pages/assessment.py")
    assert couple_goals.NOT_YET in texts(at)
    assert not [t for t in at.text_area if t.label == "Propose a goal for you both"]


def test_a_rating_at_the_stage_end_is_charted_for_both_partners_and_the_therapist(app_env: Engine) -> None:
    """Ana rates the agreed goal at the stage's end, once; the progress page and the therapist's view draw
    it, the goal's text escaped in the figure."""
    ana, ben, couple_id = _couple(app_env)
    kim = make_person(app_env, "drkim", Role.THERAPIST, name="Dr Kim")
    for partner in (ana, ben):
        grant(app_env, couple_id, kim, partner)
    with write_session(app_env) as session:
        goal_id = couple_goals.propose(session=session, viewer=ana, program=PROGRAM, body=HOSTILE, now=T0)
    with write_session(app_env) as session:
        couple_goals.confirm(
            session=session, viewer=ben, program=PROGRAM, goal_id=goal_id, seen_body=HOSTILE, now=T0
        )
    at = _page(app_env, ben, "pages/progress.py")
    assert "Neither of you has rated it yet" in texts(at)  # the agreed goal is charted before any rating

    finish_stage(app_env, ana, STAGE)
    at = _page(app_env, ana, f"pages/{STAGE}.py")
    at.radio(key=f"goal_rating::{STAGE}::{goal_id}").set_value(7)
    at.button(key=f"FormSubmitter:goal_ratings::{STAGE}-Save my ratings").click().run()
    assert not at.exception, at.exception
    assert "you rated it 7 of 10" in texts(at)
    assert not [r for r in at.radio if r.key == f"goal_rating::{STAGE}::{goal_id}"]  # once per stage

    for at in (_page(app_env, ben, "pages/progress.py"), _therapist(app_env, kim, couple_id)):
        specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
        goal = [s for s in specs if s["layout"]["title"]["text"].startswith("Goal 1")]
        assert len(goal) == 1
        title = goal[0]["layout"]["title"]["text"]
        assert "&lt;b&gt;" in title and "<b>" not in title and "%{y}" not in title
        assert [t["y"] for t in goal[0]["data"]][0] == [7] + [None] * (len(PROGRAM.stages) - 1)
        assert "Ana rated it 7" in texts(at)


def _therapist(engine: Engine, kim: Viewer, couple_id: int) -> AppTest:
    at = _page(engine, kim, "pages/therapist.py")
    open_couple(at, couple_id)
    assert not at.exception, at.exception
    return at


def test_accepting_a_wording_the_partner_changed_meanwhile_is_refused(app_env: Engine) -> None:
    """Ben's screen shows Ana's first wording; Ana rewords it before Ben clicks: his click agrees to nothing
    and says why. He then suggests his own wording, which Ana accepts; a pending goal can be withdrawn."""
    ana, ben, couple_id = _couple(app_env)
    with write_session(app_env) as session:
        goal_id = couple_goals.propose(
            session=session, viewer=ana, program=PROGRAM, body="Walk on Sundays", now=T0
        )
    ben_at = _page(app_env, ben, "pages/assessment.py")
    with write_session(app_env) as session:
        couple_goals.edit(
            session=session, viewer=ana, program=PROGRAM, goal_id=goal_id, body="Walk daily", now=T0
        )
    ben_at = click(ben_at, "Accept as it reads")
    assert "changed this goal" in texts(ben_at)
    assert "Agreed by you both." not in texts(ben_at)

    ben_at = _page(app_env, ben, "pages/assessment.py")
    box = next(t for t in ben_at.text_area if t.label == "The goal in your words")
    assert box.value == "Walk daily"
    box.input("Walk together three times a week")
    ben_at.button(key=f"FormSubmitter:goal_edit::{goal_id}-Save my wording").click().run()
    assert not ben_at.exception, ben_at.exception
    assert "Waiting for Ana" in texts(ben_at)

    ana_at = click(_page(app_env, ana, "pages/assessment.py"), "Accept as it reads")
    assert "You have both agreed this goal." in texts(ana_at)
    assert "Walk together three times a week" in texts(ana_at)

    with write_session(app_env) as session:
        couple_goals.propose(session=session, viewer=ben, program=PROGRAM, body="Cook together", now=T0)
    ana_at = click(_page(app_env, ana, "pages/assessment.py"), "Withdraw this goal")
    assert "The goal is withdrawn." in texts(ana_at)
    assert "Cook together" not in texts(ana_at)
    assert [b.label for b in ana_at.button if b.label == "Withdraw this goal"] == []  # the agreed one stays
