"""The check-in's optional intimacy rating on the page, driven through AppTest: off by default, private
unless shared, and shown to the partner only once shared with them."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.course import checkins
from program.infra.db import read_session
from program.infra.models import CheckIn, Visibility
from program.privacy.viewer import Viewer
from program.ui.checkin import INTIMACY_ON
from tests.factories import make_couple, make_person
from tests.ui.helpers import app, as_viewer, texts
from tests.ui.test_autosave import DiskFull

SAVE = "FormSubmitter:checkin-Save my check-in"
SAVE_SHARING = "FormSubmitter:intimacy_sharing-Save who can see it"
TOGGLE = "Add a private intimacy rating"
SHARED_HEADING = "Intimacy ratings your partner shared with you"


def _page(engine: Engine, viewer: Viewer) -> AppTest:
    return as_viewer(app("pages/checkin.py"), viewer, engine).run()


def _rows(engine: Engine) -> list[CheckIn]:
    with read_session(engine) as session:
        return list(session.exec(select(CheckIn)))


def _rate(at: AppTest, value: int, sharing: Visibility | None = None) -> AppTest:
    """Turn the rating on, give it, optionally choose who sees it, and save."""
    at.checkbox(key=INTIMACY_ON).check().run()
    at.slider(key="checkin_intimacy").set_value(value)
    if sharing is not None:
        at.selectbox(key="checkin_intimacy_sharing").set_value(sharing)
    return at.button(key=SAVE).click().run()


def _couple(engine: Engine) -> tuple[Viewer, Viewer]:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    return ana, ben


def test_the_rating_is_off_by_default_and_the_check_in_saves_without_it(app_env: Engine) -> None:
    """An unticked box and the five usual sliders; saving stores no rating and adds no column."""
    ana, _ = _couple(app_env)
    at = _page(app_env, ana)
    box = at.checkbox(key=INTIMACY_ON)
    assert (box.label, box.value) == (TOGGLE, False)
    assert len(at.slider) == 5
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Your check-in for this week is saved."
    [row] = _rows(app_env)
    assert (row.intimacy, row.intimacy_visibility) == (None, Visibility.PRIVATE)
    assert "Intimacy" not in at.dataframe[0].value.columns


def test_a_rating_given_is_private_unless_shared(app_env: Engine) -> None:
    """Ticked, a sixth slider and its own sharing choice, private first; saved, Ana's table shows it as
    private and Ben's page shows nothing of it."""
    ana, ben = _couple(app_env)
    at = _page(app_env, ana)
    at.checkbox(key=INTIMACY_ON).check().run()
    assert len(at.slider) == 6
    assert at.selectbox(key="checkin_intimacy_sharing").value == Visibility.PRIVATE
    assert at.selectbox(key="checkin_note_sharing").value == Visibility.PRIVATE
    at.slider(key="checkin_intimacy").set_value(3)
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.error
    [row] = _rows(app_env)
    assert (row.intimacy, row.intimacy_visibility) == (3, Visibility.PRIVATE)
    assert at.dataframe[0].value["Intimacy"].tolist() == ["3 (private)"]
    partner = _page(app_env, ben)
    assert SHARED_HEADING not in texts(partner)
    assert len(partner.dataframe) == 0  # Ben has no check-ins of his own, and sees none of Ana's


def test_a_rating_shared_with_the_partner_shows_on_their_page_only(app_env: Engine) -> None:
    """Shared with Ben, Ana's rating shows on his check-in page; Cai and Dan, another couple, see none."""
    ana, ben = _couple(app_env)
    cai, dan = make_person(app_env, "cai", name="Cai"), make_person(app_env, "dan", name="Dan")
    make_couple(app_env, cai, dan)
    _rate(_page(app_env, ana), 8, Visibility.PARTNER)
    partner = _page(app_env, ben)
    assert SHARED_HEADING in texts(partner)
    [table] = partner.dataframe
    assert table.value["Intimacy"].tolist() == [8]
    for stranger in (cai, dan):
        page = _page(app_env, stranger)
        assert SHARED_HEADING not in texts(page) and len(page.dataframe) == 0


def test_therapist_only_does_not_reach_the_partner(app_env: Engine) -> None:
    """ "Shared with our therapist only" keeps the rating off the partner's page."""
    ana, ben = _couple(app_env)
    _rate(_page(app_env, ana), 8, Visibility.THERAPIST)
    assert _rows(app_env)[0].intimacy_visibility == Visibility.THERAPIST
    assert SHARED_HEADING not in texts(_page(app_env, ben))


def test_coming_back_shows_the_rating_and_unticking_removes_it(app_env: Engine) -> None:
    """A second visit finds the box ticked with the saved rating and choice; unticked and saved, the
    rating is gone and Ben's page no longer shows it."""
    ana, ben = _couple(app_env)
    _rate(_page(app_env, ana), 4, Visibility.PARTNER)
    again = _page(app_env, ana)
    assert again.checkbox(key=INTIMACY_ON).value is True
    assert again.slider(key="checkin_intimacy").value == 4
    assert again.selectbox(key="checkin_intimacy_sharing").value == Visibility.PARTNER
    again.checkbox(key=INTIMACY_ON).uncheck().run()
    assert len(again.slider) == 5
    again.button(key=SAVE).click().run()
    assert again.success[0].value == "Your check-in for this week is updated."
    [row] = _rows(app_env)
    assert (row.intimacy, row.intimacy_visibility) == (None, Visibility.PRIVATE)
    assert SHARED_HEADING not in texts(_page(app_env, ben))


def test_the_writer_shares_a_saved_rating_later(app_env: Engine) -> None:
    """From "Change who can see an intimacy rating", Ana shares this week's private rating with Ben."""
    ana, ben = _couple(app_env)
    at = _rate(_page(app_env, ana), 6)
    assert SHARED_HEADING not in texts(_page(app_env, ben))
    [who] = [box for box in at.selectbox if box.label == "Who can see it"]
    who.set_value(Visibility.PARTNER)
    at.button(key=SAVE_SHARING).click().run()
    assert not at.exception and not at.error
    assert "Saved who can see your intimacy rating for the week of" in texts(at)
    assert _page(app_env, ben).dataframe[0].value["Intimacy"].tolist() == [6]


def test_a_rating_that_could_not_be_saved_waits_and_keeps_its_choice(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent while the disk is full: the box stays ticked with the rating and its choice in place, nothing
    is written, and the next run saves the rating with the choice Ana made (not a default)."""
    ana, ben = _couple(app_env)
    at = _page(app_env, ana)
    DiskFull(monkeypatch, checkins, "save_checkin", times=1)
    _rate(at, 2, Visibility.THERAPIST)
    assert not at.exception and not at.error
    assert at.checkbox(key=INTIMACY_ON).value is True
    assert at.slider(key="checkin_intimacy").value == 2
    assert at.selectbox(key="checkin_intimacy_sharing").value == Visibility.THERAPIST
    assert _rows(app_env) == []
    at.run()
    [row] = _rows(app_env)
    assert (row.intimacy, row.intimacy_visibility) == (2, Visibility.THERAPIST)
    assert SHARED_HEADING not in texts(_page(app_env, ben))
