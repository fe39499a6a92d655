"""A questionnaire mixing response scales (first item 0-6, the rest 0-5), dropped into the operator's
instruments folder: the form offers each item its own points and labels, and sending scores it right."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Radio

from program.course import questionnaires
from program.course.curriculum import Scale, load_instruments
from program.infra.db import read_session, write_session
from program.infra.models import utcnow
from program.privacy.viewer import Viewer
from tests.factories import make_person
from tests.ui.helpers import app, as_viewer, click, texts

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
MIXED = load_instruments(GOLDEN)["test-mixed"]
HAPPY = [
    "0 · Extremely happy",
    "1 · Very happy",
    "2 · Happy",
    "3 · Fair",
    "4 · A little unhappy",
    "5 · Very unhappy",
    "6 · Extremely unhappy",
]
OFTEN = ["0 · Never", "1 · Rarely", "2 · Sometimes", "3 · Often", "4 · Mostly", "5 · Always"]


@pytest.fixture
def operator_env(app_env: Engine, tmp_path: Path) -> Engine:
    """The app on a data folder whose instruments/ holds the mixed-scale test instrument."""
    folder = tmp_path / "data" / "instruments"
    folder.mkdir(parents=True)
    shutil.copy(GOLDEN / "test-mixed.toml", folder)
    return app_env


def _page(engine: Engine, viewer: Viewer) -> AppTest:
    at = as_viewer(app("pages/questionnaires.py"), viewer, engine).run()
    assert not at.exception, at.exception
    return at


def _radios(at: AppTest) -> dict[str, Radio[Any]]:
    prefix = f"q::{MIXED.key}::"
    return {r.key.rsplit("::", 1)[1]: r for r in at.radio if r.key and r.key.startswith(prefix)}


def test_each_item_offers_its_own_points_and_labels(operator_env: Engine) -> None:
    """Item 1 offers 0 to 6 with its own happiness labels; every other item offers 0 to 5 with the
    instrument's labels (a 6 is not on offer there)."""
    ana = make_person(operator_env, "ana", name="Ana")
    radios = _radios(_page(operator_env, ana))
    assert list(radios) == [item.key for item in MIXED.items]
    assert list(radios["m1"].options) == HAPPY
    for key in ("m2", "m5", "m3", "m4", "m6"):
        assert list(radios[key].options) == OFTEN, key


def test_a_mixed_form_sent_scores_reverse_keys_within_each_items_scale(operator_env: Engine) -> None:
    """Sent with a 6 on the reverse-keyed 0-6 item and a 0 on the reverse-keyed 0-5 item, the bond score is
    0 + 5 + 5 + 5 = 15 of a true range 0 to 21, and the server keeps the answers as given."""
    ana = make_person(operator_env, "ana", name="Ana")
    at = _page(operator_env, ana)
    given = {"m1": 6, "m2": 5, "m5": 1, "m3": 0, "m4": 5, "m6": 1}
    radios = _radios(at)
    for key, value in given.items():
        radios[key].set_value(value)
    click(at, "Send my answers")
    assert not at.exception, at.exception
    assert "Your answers are sent" in texts(at)
    table = at.dataframe[-1].value
    rows = {row["Area"]: (row["Your score"], row["Scale"]) for _, row in table.iterrows()}
    # bond: m1 reversed on 0-6: 6-6=0; m3 reversed on 0-5: 5-0=5; 0+5+5+5=15. Strain: 1+1=2 of 0 to 10.
    assert rows == {"Bond": (15.0, "0 to 21"), "Strain": (2.0, "0 to 10")}
    with read_session(operator_env) as session:
        history = questionnaires.own_history(session=session, viewer=ana, instrument=MIXED.key)
    assert [h.answers for h in history] == [given]


@pytest.mark.parametrize(
    ("item", "value", "number"), [("m2", 6, 2), ("m6", 6, 6), ("m1", 7, 1), ("m3", -1, 4)]
)
def test_an_answer_off_its_own_items_scale_is_refused_and_nothing_saved(
    operator_env: Engine, item: str, value: int, number: int
) -> None:
    """A crafted save (a 6 is fine for item 1 but not for the 0-5 items) is refused naming the question and
    its own range; none of the page's other answers is written."""
    ana = make_person(operator_env, "ana", name="Ana")
    answers: dict[str, int | None] = {"m1": 6, "m4": 2, item: value}
    low, high = (0, 6) if item == "m1" else (0, 5)
    occasion = questionnaires.extra_occasion(utcnow().date())
    with (
        pytest.raises(
            questionnaires.QuestionnaireError,
            match=rf"^Answers to question {number} go from {low} to {high}\.$",
        ),
        write_session(operator_env) as session,
    ):
        questionnaires.save_answers(
            session=session, viewer=ana, instrument=MIXED, occasion=occasion, answers=answers, now=utcnow()
        )
    with read_session(operator_env) as session:
        own = questionnaires.own_answers(session=session, viewer=ana, instrument=MIXED.key, occasion=occasion)
    assert own.answers == {}


def test_a_draft_answer_no_longer_on_its_items_scale_is_refused_at_sending(operator_env: Engine) -> None:
    """The operator narrowed item 2 to 0-3 after Ana saved a 5 there: sending asks her to answer question 2
    again (a clear message, not a scoring traceback) and sends nothing."""
    ana = make_person(operator_env, "ana", name="Ana")
    occasion = questionnaires.extra_occasion(utcnow().date())
    answers: dict[str, int | None] = {"m1": 6, "m2": 5, "m5": 1, "m3": 0, "m4": 5, "m6": 1}
    with write_session(operator_env) as session:
        questionnaires.save_answers(
            session=session, viewer=ana, instrument=MIXED, occasion=occasion, answers=answers, now=utcnow()
        )
    narrow = Scale(min=0, max=3, labels=["a", "b", "c", "d"])
    items = [item.model_copy(update={"scale": narrow}) if item.key == "m2" else item for item in MIXED.items]
    changed = MIXED.model_copy(update={"items": items})
    with (
        pytest.raises(questionnaires.QuestionnaireError, match=r"^Please answer 2 again"),
        write_session(operator_env) as session,
    ):
        questionnaires.submit(
            session=session, viewer=ana, instrument=changed, occasion=occasion, now=utcnow()
        )
    with read_session(operator_env) as session:
        own = questionnaires.own_answers(session=session, viewer=ana, instrument=MIXED.key, occasion=occasion)
    assert own.submitted_at is None
