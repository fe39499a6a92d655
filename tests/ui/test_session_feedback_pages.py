"""Session feedback in the pages: a partner rates a session held on their home page, privately, and never
sees the other's ratings; the therapist marks a session held and reads both partners' ratings as a chart,
with hostile partner names shown as text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.infra.db import read_session, write_session
from program.infra.models import FEEDBACK_ITEMS, Person, Role, SessionFeedback, TherapySession, utcnow
from program.privacy.viewer import Viewer
from program.therapist import session_feedback
from program.ui.session_feedback import HELD, SEND
from tests.factories import grant, make_couple, make_person
from tests.ui.helpers import app, as_viewer, texts
from tests.ui.test_hostile_strings import HOSTILE, unescaped

BENS = {"heard": 0, "goals": 1, "approach": 2, "overall": 3}


def _couple(
    engine: Engine, ana_name: str = "Ana", ben_name: str = "Ben"
) -> tuple[Viewer, Viewer, Viewer, int]:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr Kim")
    # Formed ten days ago, so that yesterday's session is after it whatever the hour (the rule allows a
    # session from the day before a couple formed only on clocks behind UTC).
    couple_id = make_couple(engine, ana, ben, joined_at=utcnow() - timedelta(days=10))
    for partner in (ana, ben):
        grant(engine, couple_id, kim, partner)
    # Names written straight into the database, as an older account may hold them (the name rule now
    # refuses most hostile ones).
    with write_session(engine) as session:
        for viewer, name in ((ana, ana_name), (ben, ben_name)):
            person = session.get(Person, viewer.person_id)
            assert person is not None
            person.display_name = name
            session.add(person)
    return ana, ben, kim, couple_id


def _held(engine: Engine, kim: Viewer, couple_id: int, days_ago: int = 0) -> int:
    with write_session(engine) as session:
        return session_feedback.mark_held(
            session=session,
            viewer=kim,
            couple_id=couple_id,
            held_on=utcnow().date() - timedelta(days=days_ago),
            now=utcnow(),
        )


def _rate(engine: Engine, viewer: Viewer, session_id: int, ratings: dict[str, int]) -> None:
    with write_session(engine) as session:
        session_feedback.submit(
            session=session, viewer=viewer, session_id=session_id, ratings=ratings, now=utcnow()
        )


def _home(engine: Engine, viewer: Viewer) -> AppTest:
    return as_viewer(app("pages/home.py"), viewer, engine).run()


def _therapist_script(person_id: int, username: str, name: str, couple_id: int) -> None:
    from program.infra.models import Role
    from program.privacy.viewer import Viewer
    from program.ui.session_feedback import render_therapist_feedback

    render_therapist_feedback(Viewer(person_id, username, name, Role.THERAPIST), couple_id)


def _section(kim: Viewer, couple_id: int) -> AppTest:
    args = (kim.person_id, kim.username, kim.display_name, couple_id)
    return AppTest.from_function(_therapist_script, args=args, default_timeout=30).run()


def _specs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_a_partner_rates_a_session_on_the_home_page_and_is_asked_no_more(app_env: Engine) -> None:
    """The form asks "How was your session on …?", says Ben does not see the ratings, sends all four,
    confirms, and does not ask again."""
    ana, _, kim, couple_id = _couple(app_env)
    held = _held(app_env, kim, couple_id)
    at = _home(app_env, ana)
    assert not at.exception
    day = utcnow().date()
    assert f"How was your session on {day:%A} {day.day} {day:%B %Y}?" in texts(at)
    assert "Only you and your therapist see these ratings; Ben does not." in texts(at)
    assert "Nothing is due right now" not in texts(at)
    for number, key in enumerate(FEEDBACK_ITEMS):
        at.slider(key=f"session_feedback_{held}_{key}").set_value(6 + number)
    at.button(key=f"FormSubmitter:session_feedback_{held}-{SEND}").click().run()
    assert not at.exception and not at.error
    assert "your ratings of the session" in " ".join(s.value for s in at.success)
    assert "How was your session" not in texts(at)
    with read_session(app_env) as session:
        row = session.exec(select(SessionFeedback)).one()
    assert (row.person_id, row.heard, row.goals, row.approach, row.overall) == (ana.person_id, 6, 7, 8, 9)


def test_a_session_rated_from_another_tab_is_not_asked_again_nor_saved_twice(app_env: Engine) -> None:
    """The form was open when the ratings were sent from another tab: sending again draws no form and no
    traceback, and the first ratings stand."""
    ana, _, kim, couple_id = _couple(app_env)
    held = _held(app_env, kim, couple_id)
    at = _home(app_env, ana)
    _rate(app_env, ana, held, {**BENS, "overall": 10})
    at.slider(key=f"session_feedback_{held}_overall").set_value(1)
    at.button(key=f"FormSubmitter:session_feedback_{held}-{SEND}").click().run()
    assert not at.exception
    assert "How was your session" not in texts(at)
    with read_session(app_env) as session:
        assert [r.overall for r in session.exec(select(SessionFeedback))] == [10]


def test_a_partner_never_sees_the_other_s_ratings_on_any_of_their_pages(app_env: Engine) -> None:
    """Ben rated the session and Ana did too: Ana's home, progress and account pages show no session
    rating, no chart or table of them, and Ben's form is not hers."""
    ana, ben, kim, couple_id = _couple(app_env)
    held = _held(app_env, kim, couple_id)
    _rate(app_env, ben, held, BENS)
    home = _home(app_env, ana)
    assert "How was your session" in texts(home)  # still due for Ana: Ben's sending does not answer for her
    assert [s.value for s in home.slider] == [5, 5, 5, 5]
    _rate(app_env, ana, held, {"heard": 9, "goals": 9, "approach": 9, "overall": 9})
    labels = set(session_feedback.form().short_labels.values()) - {"Overall"}
    for page in ("home", "progress", "account"):
        at = as_viewer(app(f"pages/{page}.py"), ana, app_env).run()
        assert not at.exception
        assert "How was your session" not in texts(at)
        assert not [s for s in _specs(at) if "Session feedback" in json.dumps(s)]
        shown = texts(at) + json.dumps([str(d.value) for d in at.dataframe])
        assert not [label for label in labels if label in shown], page


def test_the_therapist_marks_a_session_held_and_reads_both_ratings_as_a_chart(app_env: Engine) -> None:
    """ "Session held" marks today; once both partners rated, the chart draws each partner's overall and
    lowest rating, with a caption and the numbers in a table."""
    ana, ben, kim, couple_id = _couple(app_env)
    at = _section(kim, couple_id)
    assert not at.exception
    assert "Session feedback" in [h.value for h in at.subheader]
    assert "No sessions marked held yet" in texts(at)
    at.button(key=f"FormSubmitter:session_held_{couple_id}-{HELD}").click().run()
    assert not at.exception and not at.error
    assert "is marked held" in " ".join(s.value for s in at.success)
    with read_session(app_env) as session:
        held = session.exec(select(TherapySession)).one()
    assert held.id is not None and held.held_on == at.date_input[0].value
    _rate(app_env, ana, held.id, {"heard": 8, "goals": 4, "approach": 7, "overall": 8})
    _rate(app_env, ben, held.id, BENS)
    at = _section(kim, couple_id)
    (spec,) = _specs(at)
    assert spec["layout"]["title"]["text"] == "Session feedback"
    assert [(t["name"], t["y"]) for t in spec["data"]] == [
        ("Ana: overall", [8]),
        ("Ana: lowest rating", [4]),
        ("Ben: overall", [3]),
        ("Ben: lowest rating", [0]),
    ]
    caption = texts(at)
    assert "Ana rated it 8 overall, lowest “Time on what matters to me” at 4" in caption
    assert "5 apart" in caption
    table = at.dataframe[0].value
    assert list(table["Partner"]) == ["Ana", "Ben"] and list(table["Overall"]) == [8, 3]


def test_a_day_before_the_couple_formed_is_refused_in_words(app_env: Engine) -> None:
    """The date input stops at today; the domain's refusal for a day before the couple formed is shown."""
    _, _, kim, couple_id = _couple(app_env)
    at = _section(kim, couple_id)
    at.date_input[0].set_value(datetime.now(UTC).date() - timedelta(days=30))
    at.button(key=f"FormSubmitter:session_held_{couple_id}-{HELD}").click().run()
    assert not at.exception
    assert "before this couple was formed" in at.error[0].value
    with read_session(app_env) as session:
        assert session.exec(select(TherapySession)).all() == []


@pytest.mark.parametrize("kind", ["html link", "styled span", "image", "directives"])
def test_hostile_partner_names_show_as_text_in_the_chart_and_its_caption(app_env: Engine, kind: str) -> None:
    """A partner named with HTML or Markdown: the trace name holds it as entities (Plotly shows them as
    the characters typed) and the caption escapes it."""
    name = HOSTILE[kind]
    ana, ben, kim, couple_id = _couple(app_env, ana_name=name)
    held = _held(app_env, kim, couple_id)
    _rate(app_env, ana, held, {"heard": 5, "goals": 5, "approach": 5, "overall": 5})
    at = _section(kim, couple_id)
    assert not at.exception
    (spec,) = _specs(at)
    names = [t["name"] for t in spec["data"]]
    assert all("<a " not in n and "<span" not in n and "<img" not in n for n in names)
    assert names[0].startswith(name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    assert unescaped(at) == []
    assert f"{name} rated it 5 overall" in texts(at)
    # Her partner's own form on his home page names her as text too.
    _held(app_env, kim, couple_id, days_ago=1)
    home = _home(app_env, ben)
    assert unescaped(home) == []
