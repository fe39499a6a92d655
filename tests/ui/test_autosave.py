"""Autosaved text and answers survive a database that cannot write for a while (disk full, locked too long):
the page says so, keeps what was typed, and saves it on the next run once the database can write again."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.course import checkins, questionnaires, reflections
from program.infra.db import read_session
from program.infra.models import CheckIn, Reflection
from program.privacy.tables import QuestionnaireAnswer
from program.privacy.viewer import Viewer
from program.ui.errors import SOMETHING_WENT_WRONG
from tests.factories import make_person
from tests.program_helpers import PROGRAM
from tests.ui.helpers import app, as_viewer, texts

SAVE_LATER = "We couldn't save this just now; your text is still here and we'll try again."
GOALS = "text::assessment:goals"
BASELINE = PROGRAM.assessment.overview.questionnaire
SAVE_CHECKIN = "FormSubmitter:checkin-Save my check-in"


class DiskFull:
    """Replaces a domain write so that its next `times` calls fail as SQLite does when the disk is full."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str, times: int) -> None:
        self.original: Callable[..., Any] = getattr(module, name)
        self.left = times
        self.calls = 0
        monkeypatch.setattr(module, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database or disk is full"))
        return self.original(*args, **kwargs)


def _page(engine: Engine, viewer: Viewer, page: str) -> AppTest:
    return as_viewer(app(f"pages/{page}.py"), viewer, engine).run()


def _texts_saved(engine: Engine) -> dict[str, str]:
    with read_session(engine) as session:
        return {row.context: row.body for row in session.exec(select(Reflection))}


def _answers_saved(engine: Engine) -> dict[str, int | None]:
    with read_session(engine) as session:
        return {row.item: row.value for row in session.exec(select(QuestionnaireAnswer))}


def _warned(at: AppTest) -> bool:
    return any(SAVE_LATER in w.value for w in at.warning)


def _no_crash(at: AppTest) -> None:
    assert not at.exception
    assert SOMETHING_WENT_WRONG not in texts(at)


def test_a_reflection_that_could_not_be_saved_stays_and_is_saved_on_the_next_run(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full once: the page says so and keeps the text; the next run saves it and the message goes."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana, "assessment")
    full = DiskFull(monkeypatch, reflections, "save_text", times=1)
    at.text_area(key=GOALS).input("Argue less about chores.").run()
    _no_crash(at)
    assert _warned(at)
    assert at.text_area(key=GOALS).value == "Argue less about chores."
    assert _texts_saved(app_env) == {}
    at.run()  # the next run (any click), with space back on the disk
    _no_crash(at)
    assert _texts_saved(app_env) == {"assessment:goals": "Argue less about chores."}
    assert not _warned(at)
    assert at.text_area(key=GOALS).value == "Argue less about chores."
    at.run()
    assert full.calls == 2, "a saved text is not written again"


def test_a_later_edit_wins_over_the_text_still_waiting(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text that failed, then a newer version that saved: the older one is never written over it."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana, "assessment")
    DiskFull(monkeypatch, reflections, "save_text", times=1)
    at.text_area(key=GOALS).input("first draft").run()
    assert _warned(at)
    at.text_area(key=GOALS).input("second draft").run()
    _no_crash(at)
    assert not _warned(at)
    at.run()
    assert _texts_saved(app_env) == {"assessment:goals": "second draft"}


def test_while_the_disk_stays_full_the_text_is_kept_across_pages(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several failing runs and a visit to another page: the message stays, nothing half-saved, and
    the typed text is back in its box on return; once writes work it is saved."""
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app(), ana, app_env).run()
    at.switch_page("pages/assessment.py").run()
    full = DiskFull(monkeypatch, reflections, "save_text", times=4)
    at.text_area(key=GOALS).input("Plan one evening a week together.").run()
    assert _warned(at)
    at.switch_page("pages/home.py").run()
    _no_crash(at)
    assert _warned(at), "the message follows the person to another page"
    at.switch_page("pages/assessment.py").run()
    _no_crash(at)
    assert _warned(at)
    assert at.text_area(key=GOALS).value == "Plan one evening a week together."
    assert _texts_saved(app_env) == {}
    while full.left:
        at.run()
    at.run()
    _no_crash(at)
    assert not _warned(at)
    assert _texts_saved(app_env) == {"assessment:goals": "Plan one evening a week together."}


def test_a_questionnaire_answer_that_could_not_be_saved_is_kept_and_saved_next_run(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A draft whose save failed stays chosen, with the message, and is saved on the next run."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana, "assessment")
    DiskFull(monkeypatch, questionnaires, "save_answers", times=1)
    first = PROGRAM.instruments[BASELINE].items[0]
    key = f"q::{BASELINE}::baseline::{first.key}"
    at.radio(key=key).set_value(6)
    at.button(key=f"FormSubmitter:qform::{BASELINE}::baseline-Save draft").click().run()
    _no_crash(at)
    assert _warned(at)
    assert at.radio(key=key).value == 6
    assert _answers_saved(app_env) == {}
    at.run()
    _no_crash(at)
    assert not _warned(at)
    assert _answers_saved(app_env) == {first.key: 6}


def test_a_check_in_that_could_not_be_saved_keeps_its_note_and_is_saved_next_run(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check-in sent while the disk is full: the message instead of an error, the note still in its
    box, and the check-in saved on the next run."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana, "checkin")
    DiskFull(monkeypatch, checkins, "save_checkin", times=1)
    at.slider(key="checkin_trust").set_value(9)
    at.text_area(key="checkin_note").input("A good walk on Saturday.")
    at.button(key=SAVE_CHECKIN).click().run()
    _no_crash(at)
    assert _warned(at)
    assert at.text_area(key="checkin_note").value == "A good walk on Saturday."
    with read_session(app_env) as session:
        assert list(session.exec(select(CheckIn))) == []
    at.run()
    _no_crash(at)
    assert not _warned(at)
    with read_session(app_env) as session:
        [row] = session.exec(select(CheckIn)).all()
    assert (row.person_id, row.trust, row.note) == (ana.person_id, 9, "A good walk on Saturday.")


def test_a_text_waiting_to_be_saved_is_never_written_as_someone_else(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ana's unsaved text in a shared browser is not saved when Ben is the one logged in next."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    at = _page(app_env, ana, "assessment")
    DiskFull(monkeypatch, reflections, "save_text", times=1)
    at.text_area(key=GOALS).input("Ana's private goal").run()
    assert _warned(at)
    as_viewer(at, ben, app_env).run()  # Ben logs in on the same browser session
    _no_crash(at)
    assert not _warned(at)
    with read_session(app_env) as session:
        rows = list(session.exec(select(Reflection)))
    assert all(row.person_id != ben.person_id for row in rows)
