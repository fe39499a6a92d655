"""The account page's "Your data": an export offered once, and deleting the account after confirming."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.infra.db import read_session
from program.infra.models import Person, Reflection
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import PASSWORD, make_couple, make_person
from tests.ui.helpers import app, as_viewer, click, fill, texts

DELETE_BUTTON = "FormSubmitter:delete_account-Delete my account and all my data"


def _account(engine: Engine, viewer: Viewer) -> AppTest:
    return as_viewer(app("pages/account.py"), viewer, engine).run()


def test_the_export_is_built_only_when_asked_and_offered_for_one_run(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No zip is built or offered before "Prepare my export"; then one zip with a README, offered once;
    the next run offers it no more."""
    built: list[bytes] = []

    def spy(**kwargs: Any) -> bytes:
        built.append(real(**kwargs))
        return built[-1]

    real = export.export_zip
    monkeypatch.setattr(export, "export_zip", spy)
    ana = make_person(app_env, "ana", name="Ana")
    at = _account(app_env, ana)
    assert at.get("download_button") == [] and built == []
    click(at, "Prepare my export")
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == ["Download my data (zip)"] and len(built) == 1
    with zipfile.ZipFile(io.BytesIO(built[0])) as archive:
        assert "README.txt" in archive.namelist()
        assert json.loads(archive.read("account.json"))["username"] == "ana"
    at.run()
    assert at.get("download_button") == [] and len(built) == 1


def test_a_wrong_confirmation_says_so_and_deletes_nothing(app_env: Engine) -> None:
    """Another username, or the wrong password: a clear message, the account and its texts still there."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    at = _account(app_env, ana)
    fill(at, "Type your username to confirm", "ben")
    fill(at, "Your password", PASSWORD)
    at.button(key=DELETE_BUTTON).click().run()
    assert "type your username exactly" in at.error[0].value
    fill(at, "Type your username to confirm", "ana")
    fill(at, "Your password", "not my password at all")
    at.button(key=DELETE_BUTTON).click().run()
    assert "password is not right" in at.error[0].value
    with read_session(app_env) as session:
        assert sorted(session.exec(select(Person.username)).all()) == ["ana", "ben"]
    assert "Your account" in texts(at)


def test_deleting_signs_out_and_the_partner_sees_the_couple_ended(app_env: Engine) -> None:
    """The right username and password: the account is gone, the page shows the login form with a
    notice, and Ben's account page offers to start or join a couple again."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    at_ben = _account(app_env, ben)
    assert "You are doing Kindred with **Ana**." in texts(at_ben)
    at = _account(app_env, ana)
    fill(at, "Type your username to confirm", "Ana")
    fill(at, "Your password", PASSWORD)
    at.button(key=DELETE_BUTTON).click().run()
    assert not at.exception
    assert "Your account and all your data are deleted." in texts(at)
    assert "Your account" not in [t.value for t in at.title]
    with read_session(app_env) as session:
        assert session.exec(select(Person.username)).all() == ["ben"]
        assert session.exec(select(Reflection)).all() == []
    at_ben.run()
    assert "Ana" not in texts(at_ben)
    assert "Start a couple and get an invite code" in [b.label for b in at_ben.button]
