"""The progress page: charts with both partners, empty states that say what to do, therapists on record."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.charts import figures
from program.course import checkins, journey, outcomes, questionnaires, reflections
from program.course.curriculum import CHECKIN_KEYS, load_instruments
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Role, Visibility
from program.infra.settings import get_settings
from program.privacy.viewer import Viewer
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all
from tests.ui.helpers import app, as_viewer, click, texts

BASELINE = PROGRAM.assessment.overview.questionnaire
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
MIXED = load_instruments(GOLDEN)["test-mixed"]


def _history(engine: Engine, ana: Viewer, ben: Viewer, weeks: int = 3) -> None:
    for week in range(weeks):
        for offset, partner in enumerate((ana, ben)):
            with write_session(engine) as session:
                checkins.save_checkin(
                    session=session,
                    viewer=partner,
                    ratings=dict.fromkeys(CHECKIN_KEYS, 4 + week + offset),
                    note=None,
                    today=(T0 + timedelta(weeks=week)).date(),
                    now=T0 + timedelta(weeks=week),
                )
    answer_all(engine, ana, BASELINE, "baseline", 3)
    answer_all(engine, ben, BASELINE, "baseline", 6)


def test_a_partner_sees_every_chart_with_both_partners(app_env: Engine) -> None:
    """With check-ins and both baselines, the charts draw a trace for each partner and a caption each."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    _history(app_env, ana, ben)
    at = as_viewer(app("pages/progress.py"), ana, app_env).run()
    assert not at.exception
    figures = [chart.proto.spec for chart in at.get("plotly_chart")]
    # Check-ins, the outcome measure at the start, the profile, the perception gap and the steps.
    assert len(figures) == 5
    for spec in figures:
        assert "Ana" in spec and "Ben" in spec
    titles = [json.loads(spec)["layout"]["title"]["text"] for spec in figures]
    assert titles[1].startswith("Outcome") and "Start" in figures[1]
    assert len(at.caption) >= 5
    _assert_no_toolbar(at)


def _assert_no_toolbar(at: AppTest) -> None:
    """Every chart is drawn without Plotly's toolbar, which covers the title on a phone."""
    configs = [json.loads(chart.proto.config) for chart in at.get("plotly_chart")]
    assert configs and all(c.get("displayModeBar") is False for c in configs), configs


def test_empty_states_say_what_to_do_next(app_env: Engine) -> None:
    """Before anything is done, the page explains what makes each chart appear instead of drawing nothing."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    at = as_viewer(app("pages/progress.py"), ana, app_env).run()
    assert not at.get("plotly_chart") or len(at.get("plotly_chart")) <= 1
    assert len(at.info) >= 3


def test_a_partner_without_a_couple_is_told_how_to_get_charts(app_env: Engine) -> None:
    """A solo partner is pointed to the account page."""
    ana = make_person(app_env, "ana")
    at = as_viewer(app("pages/progress.py"), ana, app_env).run()
    assert "once you and your partner are linked" in texts(at)


def test_a_therapist_opens_the_couples_charts_and_the_view_is_recorded(app_env: Engine) -> None:
    """Opening a couple shows its charts to the therapist and records the view for the couple."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, name="Dr Kim")
    couple = make_couple(app_env, ana, ben)
    grant(app_env, couple, kim, ana)
    grant(app_env, couple, kim, ben)
    _history(app_env, ana, ben)
    at = as_viewer(app("pages/therapist.py"), kim, app_env).run()
    click(at, "Open")
    assert len(at.get("plotly_chart")) == 5  # the same render function as the partners' page
    _assert_no_toolbar(at)
    with read_session(app_env) as session:
        views = session.exec(select(AuditEvent).where(AuditEvent.action == "therapist.viewed")).all()
    assert [(v.actor_id, v.detail) for v in views] == [(kim.person_id, "opened your record")]


def test_shared_writing_reaches_the_partner_and_private_writing_does_not(app_env: Engine) -> None:
    """Ana's goal shared with her partner shows on Ben's progress page; her private strengths do not."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    with write_session(app_env) as session:
        reflections.save_text(
            session=session, viewer=ana, context=journey.GOALS_CONTEXT, body="Fewer rushed mornings.",
            visibility=Visibility.PARTNER, now=T0,
        )  # fmt: skip
        reflections.save_text(
            session=session, viewer=ana, context=journey.STRENGTHS_CONTEXT, body="A private thought.",
            visibility=Visibility.PRIVATE, now=T0,
        )  # fmt: skip
    at = as_viewer(app("pages/progress.py"), ben, app_env).run()
    shown = [t.value for t in at.text]
    assert shown == ["Fewer rushed mornings."]
    assert "Ana · Goals" in texts(at)


def test_an_operators_mixed_scale_outcome_measure_and_its_trend_reach_the_charts(
    app_env: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator drops a mixed-scale questionnaire into data/instruments and names it the outcome
    measure: both partners' start and end are charted with the cut-off band and a verdict, and its
    fillings on days of their own reach a trend chart per partner."""
    folder = tmp_path / "data" / "instruments"
    folder.mkdir(parents=True)
    shutil.copy(GOLDEN / "test-mixed.toml", folder)
    monkeypatch.setenv("KINDRED_OUTCOME_INSTRUMENT", MIXED.key)
    get_settings.cache_clear()
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    low = {"m1": 6, "m2": 0, "m3": 5, "m4": 0, "m5": 5, "m6": 5}  # m1, m3 reverse-keyed: bond 0 of 21
    high = {"m1": 0, "m2": 5, "m3": 0, "m4": 5, "m5": 0, "m6": 0}  # bond 21 of 21
    for occasion, value, day in (
        ("baseline", low, 0),
        (outcomes.PROGRAM_END, high, 60),
        (questionnaires.extra_occasion((T0 + timedelta(days=70)).date()), high, 70),
    ):
        for partner, shift in ((ana, 0), (ben, 2 if occasion.startswith("extra:") else 0)):
            _send(app_env, partner, occasion, value, T0 + timedelta(days=day + shift))
    at = as_viewer(app("pages/progress.py"), ana, app_env).run()
    assert not at.exception, at.exception
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    titles = [spec["layout"]["title"]["text"] for spec in specs]
    main = figures.main_subscale(MIXED)
    assert titles == [f"Outcome: {main.title}", MIXED.title]
    outcome, trend = specs
    assert [t["name"] for t in outcome["data"]] == ["Ana", "Ben", figures.MEAN_NAME]
    assert outcome["layout"]["shapes"] and outcome["layout"]["shapes"][0]["y1"] == main.cutoff
    assert [t["name"] for t in trend["data"]] == ["Ana", "Ben"]
    assert [t["x"][0][:10] for t in trend["data"]] == ["2027-01-11", "2027-01-13"]  # each on their own day
    (caption,) = [c.value.replace("\\", "") for c in at.caption if "Ana went from" in c.value]
    assert "Ana went from 0.0 at “Start” to 21.0 at “End of the program”: a reliable improvement" in caption
    assert "(recovered)" in caption
    # Both populations' norms declared: criterion c = 12, not the band's cut-off 11.
    assert "the line is 12.0 (between the published norms)" in caption


def _send(
    engine: Engine, viewer: Viewer, occasion: str, answers: Mapping[str, int | None], when: datetime
) -> None:
    with write_session(engine) as session:
        questionnaires.save_answers(
            session=session, viewer=viewer, instrument=MIXED, occasion=occasion,
            answers=answers, now=when,
        )  # fmt: skip
        questionnaires.submit(session=session, viewer=viewer, instrument=MIXED, occasion=occasion, now=when)
