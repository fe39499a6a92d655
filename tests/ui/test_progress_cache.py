"""The progress charts' cache, attacked: figures are shared read-only objects keyed by couple and data
version, so what matters is that no viewer ever gets a couple's figures they may not see, that a couple
that ends and re-forms starts afresh, that a rating change builds one chart, and that drawing a cached
figure (even from two sessions at once) never changes it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import plotly.io
import plotly.tools
import pytest
import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import update
from streamlit.testing.v1 import AppTest

from program.charts import figures, progress_data
from program.course import checkins
from program.course.curriculum import CHECKIN_KEYS
from program.infra.db import read_session, write_session
from program.infra.models import Role, utcnow
from program.privacy import couples
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from program.ui import progress as progress_page
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all
from tests.ui.helpers import app, as_viewer, click, texts

BASELINE = PROGRAM.assessment.overview.questionnaire


def _history(engine: Engine, first: Viewer, second: Viewer, level: int, weeks: int = 3) -> None:
    for week in range(weeks):
        for offset, partner in enumerate((first, second)):
            with write_session(engine) as session:
                checkins.save_checkin(
                    session=session,
                    viewer=partner,
                    ratings=dict.fromkeys(CHECKIN_KEYS, level + week + offset),
                    note=None,
                    today=(T0 + timedelta(weeks=week)).date(),
                    now=T0 + timedelta(weeks=week),
                )
    answer_all(engine, first, BASELINE, "baseline", 3)
    answer_all(engine, second, BASELINE, "baseline", 4)


def _specs(at: AppTest) -> list[str]:
    assert not at.exception, at.exception
    return [chart.proto.spec for chart in at.get("plotly_chart")]


def _trace_names(at: AppTest) -> set[str]:
    return {trace.get("name", "") for spec in _specs(at) for trace in json.loads(spec)["data"]}


def _progress(engine: Engine, viewer: Viewer) -> AppTest:
    return as_viewer(app("pages/progress.py"), viewer, engine).run()


def test_a_partner_never_gets_the_other_couples_cached_figures_whatever_the_order(app_env: Engine) -> None:
    """Two couples viewed in turn, each view drawing from what the other's filled: every partner sees
    only their own couple's names and numbers, and each couple's figures stay the same across views."""
    ana, ben = make_person(app_env, "ana", name="Anouk"), make_person(app_env, "ben", name="Bertil")
    cat, dan = make_person(app_env, "cat", name="Cosima"), make_person(app_env, "dan", name="Dragan")
    couple_ab, couple_cd = make_couple(app_env, ana, ben), make_couple(app_env, cat, dan)
    _history(app_env, ana, ben, level=1)
    _history(app_env, cat, dan, level=5)
    with write_session(app_env) as session:  # both couples formed at the same moment
        session.exec(update(CoupleMembership).values(joined_at=T0))
    with read_session(app_env) as session:  # so only the couple's id tells their figures apart
        assert progress_data.data_version(session=session, couple_id=couple_ab) == progress_data.data_version(
            session=session, couple_id=couple_cd
        )
    seen: dict[str, list[str]] = {}
    for viewer in (ana, cat, ben, dan, cat, ana, dan, ben):
        at = _progress(app_env, viewer)
        ours = ("ab", ("Anouk", "Bertil"), ("Cosima", "Dragan"))
        theirs = ("cd", ("Cosima", "Dragan"), ("Anouk", "Bertil"))
        couple, own, other = ours if viewer in (ana, ben) else theirs
        names = {name.split(",")[0] for name in _trace_names(at)} - {figures.MEAN_NAME, ""}
        assert names == set(own), (viewer.username, names)
        drawn = " ".join(_specs(at)) + texts(at)
        assert not any(name in drawn for name in other), viewer.username
        assert seen.setdefault(couple, _specs(at)) == _specs(at)
    assert seen["ab"] != seen["cd"]


# An app script that draws one couple's charts for a viewer, as the therapist's view does.
CHARTS_OF = """
import streamlit as st
from program.privacy.access import AccessDenied
from program.ui.progress import render_couple_charts

try:
    render_couple_charts(st.session_state["viewer"], st.session_state["couple_id"])
except AccessDenied:
    st.error("refused")
"""


def _charts_of(viewer: Viewer, couple_id: int) -> AppTest:
    at = AppTest.from_string(CHARTS_OF, default_timeout=30)
    at.session_state["viewer"] = viewer
    at.session_state["couple_id"] = couple_id
    return at.run()


def test_a_viewer_who_may_not_see_a_couple_is_refused_before_its_cached_figures_are_drawn(
    app_env: Engine,
) -> None:
    """With couple A's figures in the cache, the chart drawing asked for couple A by a partner of couple
    B, by a therapist without grants and by a therapist whose grants were revoked draws nothing."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    cat, dan = make_person(app_env, "cat", name="Cat"), make_person(app_env, "dan", name="Dan")
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, name="Dr Kim")
    lee = make_person(app_env, "dr.lee", Role.THERAPIST, name="Dr Lee")
    couple_a = make_couple(app_env, ana, ben)
    make_couple(app_env, cat, dan)
    grant(app_env, couple_a, kim, ana, revoked=True)
    grant(app_env, couple_a, kim, ben, revoked=True)
    _history(app_env, ana, ben, level=1)
    assert len(_specs(_progress(app_env, ana))) >= 2  # couple A's figures are now cached
    assert len(_specs(_charts_of(ben, couple_a))) >= 2
    for intruder in (cat, kim, lee):
        at = _charts_of(intruder, couple_a)
        assert not at.exception, at.exception
        assert not at.get("plotly_chart"), intruder.username
        assert [e.value for e in at.error] == ["refused"]


def test_a_therapist_whose_grants_are_revoked_loses_the_charts_on_the_next_rerun(app_env: Engine) -> None:
    """The therapist opens the couple (figures cached), the couple ends it: the same session's next run
    draws none of the cached figures."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, name="Dr Kim")
    couple = make_couple(app_env, ana, ben)
    grant(app_env, couple, kim, ana)
    grant(app_env, couple, kim, ben)
    _history(app_env, ana, ben, level=1)
    at = as_viewer(app("pages/therapist.py"), kim, app_env).run()
    click(at, "Open")
    assert len(_specs(at)) >= 2
    with write_session(app_env) as session:
        couples.leave_couple(session=session, viewer=ana, now=utcnow())
    at.run()
    assert not at.exception, at.exception
    assert not at.get("plotly_chart")


def test_a_couple_that_ends_and_re_forms_is_not_shown_its_old_figures(app_env: Engine) -> None:
    """Ana and Ben's charts are cached; they leave the couple and pair again: the new couple's page draws
    none of the old check-ins or answers, only the empty states."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    _history(app_env, ana, ben, level=1)
    assert len(_specs(_progress(app_env, ana))) >= 2
    with write_session(app_env) as session:
        couples.leave_couple(session=session, viewer=ana, now=utcnow())
    make_couple(app_env, ana, ben)
    for viewer in (ana, ben):
        at = _progress(app_env, viewer)
        for spec in _specs(at):  # at most the steps chart, with nothing done in the new couple
            assert "Weekly check-ins" not in spec and "Outcome" not in spec
        assert "Weekly check-ins" in texts(at)  # its empty state, saying what makes it appear


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Count the calls of module.name from now on (a list of one counter)."""
    calls = [0]
    original: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_switching_rating_builds_the_check_in_chart_alone(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change of rating builds the check-in chart for it and nothing else: no data read again, no other
    figure rebuilt, and the other figures drawn are the very same; a rating seen before builds nothing."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    _history(app_env, ana, ben, level=1)
    builds = {
        name: _count_calls(monkeypatch, figures, name)
        for name in ("checkin_trends", "outcome_trajectory", "domain_profile", "stage_progress")
    }
    loads = _count_calls(monkeypatch, progress_data, "load_progress")
    at = _progress(app_env, ana)
    first = _specs(at)
    assert {name: calls[0] for name, calls in builds.items()} == dict.fromkeys(builds, 1)
    at.selectbox(key="progress_rating").set_value("trust").run()
    switched = _specs(at)
    assert builds["checkin_trends"][0] == 2
    assert {name: calls[0] for name, calls in builds.items() if name != "checkin_trends"} == {
        "outcome_trajectory": 1,
        "domain_profile": 1,
        "stage_progress": 1,
    }
    assert loads[0] == 1
    assert switched[0] != first[0] and "Trust rating" in switched[0]
    assert switched[1:] == first[1:]
    at.selectbox(key="progress_rating").set_value("overall").run()
    assert _specs(at) == first
    assert builds["checkin_trends"][0] == 2 and loads[0] == 1


def _cached_figures(engine: Engine, viewer: Viewer, couple_id: int) -> list[Any]:
    """The figures the page's cache holds for this couple now (the same objects the page draws)."""
    with read_session(engine) as session:
        version = progress_data.data_version(session=session, couple_id=couple_id)
    source = progress_page._source()
    rest = progress_page._couple_charts(source, couple_id, version, viewer)
    assert progress_page._couple_charts(source, couple_id, version, viewer) is rest  # shared, not copied
    held = [progress_page._checkin_chart(source, couple_id, version, "overall", viewer), *rest]
    return [chart.figure for _, chart, _ in held if isinstance(chart, figures.Chart)]


def test_drawing_a_cached_figure_never_changes_it(app_env: Engine) -> None:
    """Figures built into the cache before any page drew them: the pages then draw those very objects
    (spec for spec), from both partners' sessions and twice, and every one is unchanged after."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    couple = make_couple(app_env, ana, ben)
    _history(app_env, ana, ben, level=1)
    figures = _cached_figures(app_env, ana, couple)  # built, never drawn yet
    before = [figure.to_json() for figure in figures]
    at = _progress(app_env, ana)
    assert _specs(at) == [plotly.io.to_json(figure.to_dict(), validate=False) for figure in figures]
    at.run()
    _progress(app_env, ben)
    assert [figure.to_json() for figure in figures] == before
    assert _cached_figures(app_env, ana, couple)[0] is figures[0]


def test_many_threads_drawing_the_same_cached_figures_at_once_leave_them_intact(app_env: Engine) -> None:
    """Sessions run in threads of one process: eight threads draw every cached figure of a couple at the
    same moment, again and again, through st.plotly_chart's own marshalling (outside a script run it
    builds the element and sends nothing): no error, every spec identical, the figures unchanged after."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    couple = make_couple(app_env, ana, ben)
    _history(app_env, ana, ben, level=1)
    figures = _cached_figures(app_env, ana, couple)
    before = [figure.to_json() for figure in figures]
    expected = _specs(_progress(app_env, ben))
    threads, rounds = 8, 10
    barrier = threading.Barrier(threads)
    drawn: list[list[str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def draw() -> None:
        try:
            for _ in range(rounds):
                barrier.wait()
                specs = []
                for number, figure in enumerate(figures):
                    st.plotly_chart(figure, theme=None, config=progress_page.PLOTLY_CONFIG, key=f"c{number}")
                    # What st.plotly_chart puts in the element, computed the same way.
                    marshalled = plotly.tools.return_figure_from_figure_or_data(figure, validate_figure=True)
                    specs.append(plotly.io.to_json(marshalled, validate=False))
                with lock:
                    drawn.append(specs)
        except BaseException as error:  # reported below, in the test's thread
            with lock:
                errors.append(error)

    workers = [threading.Thread(target=draw) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    assert len(drawn) == threads * rounds
    assert all(specs == expected for specs in drawn) and len(expected) >= 2
    assert [figure.to_json() for figure in figures] == before
