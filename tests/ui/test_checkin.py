"""The weekly check-in page, driven through AppTest as a partner (and refused to a therapist)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.course import checkins
from program.infra.db import read_session
from program.infra.models import CheckIn, Couple, Role, Visibility
from program.privacy.viewer import Viewer
from program.ui.text import md
from tests.factories import make_couple, make_person
from tests.ui.helpers import app, as_viewer, texts

SAVE = "FormSubmitter:checkin-Save my check-in"
SAVE_TIME = "FormSubmitter:checkin_time-Save our check-in time"
RATINGS = {"closeness": 8, "communication": 6, "conflict": 4, "trust": 9, "overall": 7}


def _page(engine: Engine, viewer: Viewer, timezone: str | None = None) -> AppTest:
    at = as_viewer(app("pages/checkin.py"), viewer, engine)
    if timezone is not None:
        at.context["timezone"] = timezone
    return at.run()


def _rate(at: AppTest, ratings: dict[str, int]) -> AppTest:
    for key, value in ratings.items():
        at.slider(key=f"checkin_{key}").set_value(value)
    return at


def _rows(engine: Engine) -> list[CheckIn]:
    with read_session(engine) as session:
        return list(session.exec(select(CheckIn)))


def _this_week() -> date:
    # The page follows the browser's time zone and falls back to UTC, which AppTest leaves unset.
    return checkins.week_start(datetime.now(UTC).date())


def test_a_partner_saves_this_weeks_check_in(app_env: Engine) -> None:
    """Five sliders and a note, one click: a success message and the row under this week."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    couple = make_couple(app_env, ana, ben)
    at = _page(app_env, ana)
    assert [s.value for s in at.slider] == [5] * 5
    assert "0 = Far apart · 10 = Very close" in texts(at)
    _rate(at, RATINGS).text_area[0].input("A good walk on Saturday.")
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Your check-in for this week is saved."
    [row] = _rows(app_env)
    assert (row.person_id, row.couple_id, row.week_start) == (ana.person_id, couple, _this_week())
    assert {key: getattr(row, key) for key in RATINGS} == RATINGS
    assert (row.note, row.note_visibility) == ("A good walk on Saturday.", Visibility.PRIVATE)
    assert at.dataframe[0].value["Trust"].tolist() == [9]


def test_saving_again_in_the_same_week_updates_it(app_env: Engine) -> None:
    """A second visit shows the saved answers to change until Sunday; saving again updates the one row."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana)
    _rate(at, RATINGS).button(key=SAVE).click().run()
    again = _page(app_env, ana)
    assert "You can change it until Sunday." in texts(again)
    assert [s.value for s in again.slider] == list(RATINGS.values())
    again.slider(key="checkin_overall").set_value(2)
    again.button(key=SAVE).click().run()
    assert again.success[0].value == "Your check-in for this week is updated."
    [row] = _rows(app_env)
    assert (row.overall, row.trust) == (2, 9)


def test_the_note_is_shared_only_as_its_writer_chooses(app_env: Engine) -> None:
    """The sharing choice starts at private; choosing the partner is stored and shown in the history."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _page(app_env, ana)
    sharing = at.selectbox(key="checkin_note_sharing")
    assert sharing.value == Visibility.PRIVATE
    at.text_area[0].input("Can we talk about the holidays?")
    sharing.set_value(Visibility.PARTNER)
    at.button(key=SAVE).click().run()
    [row] = _rows(app_env)
    assert row.note_visibility == Visibility.PARTNER
    assert at.dataframe[0].value["Note"].tolist() == ["shared"]


def test_the_page_says_whose_check_in_it_is(app_env: Engine) -> None:
    """On a shared device, the page names the person answering before they answer."""
    ana = make_person(app_env, "ana.r", name="Ana")
    at = _page(app_env, ana)
    assert f"You are answering as **Ana** ({md('ana.r')})" in at.info[0].value  # the username as text


def test_a_therapist_is_refused(app_env: Engine) -> None:
    """The page is for partners: a therapist gets a plain refusal and no form."""
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, name="Dr Kim")
    at = _page(app_env, kim)
    assert not at.exception
    assert "This page isn't part of your account" in at.error[0].value
    assert len(at.slider) == 0


def test_setting_the_check_in_time_offers_the_calendar_file(app_env: Engine) -> None:
    """A partner picks a day and time; it is stored on the couple, and both partners get the .ics file."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    couple = make_couple(app_env, ana, ben)
    at = _page(app_env, ana)
    assert len(at.download_button) == 0
    at.selectbox(key="checkin_day").set_value(2)
    at.time_input(key="checkin_clock").set_value(time(20, 30))
    at.button(key=SAVE_TIME).click().run()
    assert at.success[0].value == "Your check-in time is saved: Wednesdays at 20:30."
    [download] = at.download_button
    assert download.label == "Add to your calendar"
    assert download.proto.url.endswith(".ics")
    with read_session(app_env) as session:
        stored = session.get(Couple, couple)
        assert stored is not None and (stored.checkin_weekday, stored.checkin_time) == (2, time(20, 30))
    for_ben = _page(app_env, ben)
    assert "Your couple's check-in time: **Wednesdays at 20:30**." in texts(for_ben)
    assert [b.label for b in for_ben.download_button] == ["Add to your calendar"]


def test_a_solo_partner_checks_in_but_has_no_shared_time(app_env: Engine) -> None:
    """Without a couple the check-in works; the time and calendar are explained as a couples' feature."""
    sam = make_person(app_env, "sam", name="Sam")
    at = _page(app_env, sam)
    assert "is for couples" in texts(at)
    assert len(at.time_input) == 0 and len(at.download_button) == 0
    at.button(key=SAVE).click().run()
    [row] = _rows(app_env)
    assert (row.person_id, row.couple_id) == (sam.person_id, None)


def test_the_week_follows_the_persons_time_zone(app_env: Engine) -> None:
    """Far east of UTC the date (and so sometimes the week) is the browser's; an unknown zone falls back."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    zone = "Pacific/Kiritimati"  # UTC+14: a different date from UTC for most of the day
    _page(app_env, ana, zone).button(key=SAVE).click().run()
    at = _page(app_env, ben, "Not/A_Zone")
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.error
    weeks = {row.person_id: row.week_start for row in _rows(app_env)}
    assert weeks[ana.person_id] == checkins.week_start(datetime.now(ZoneInfo(zone)).date())
    assert weeks[ben.person_id] == _this_week()
