"""The therapist's caseload: alerts on crafted histories (each fires when it should and not one step
before), and the rows as an attacker would probe them (one grant, a revoked grant, an unapproved therapist,
a couple that ended and re-formed, another therapist's couples, the blind rule, safety without consent)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import checkins, journey, outcomes
from program.course.curriculum import Subscale
from program.course.questionnaires import BASELINE
from program.infra.db import read_session, write_session
from program.infra.models import Role, SafetyScreen
from program.infra.settings import Settings
from program.privacy import couples
from program.privacy.access import AccessDenied
from program.privacy.tables import TherapistApproval, TherapistGrant
from program.privacy.viewer import Viewer
from program.therapist import caseload
from program.therapist.caseload import (
    AlertRules,
    CheckinPoint,
    CoupleHistory,
    HomeworkDue,
    OutcomePoint,
    PartnerHistory,
    SessionRatings,
)
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all

SETTINGS = Settings(cookie_key=None, database_url="sqlite://")
TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ANA, BEN = 1, 2
# SE = 1.0 * sqrt(1 - 0.75) = 0.5; a reliable change is more than 1.96 * sqrt(2) * 0.5 = 1.386 points.
HIGHER_BETTER = Subscale(key="total", title="Total", reliability=0.75, norm_sd=1.0)
LOWER_BETTER = Subscale(
    key="distress", title="Distress", reliability=0.75, norm_sd=1.0, direction="lower is better"
)
RULES = AlertRules.of(SETTINGS, HIGHER_BETTER, "“How things are”")


def _weeks(*overall: int) -> tuple[CheckinPoint, ...]:
    first = date(2026, 11, 2) - timedelta(weeks=len(overall))
    return tuple(
        CheckinPoint(first + timedelta(weeks=n), value, datetime.combine(first, datetime.min.time(), UTC))
        for n, value in enumerate(overall)
    )


def _steady() -> CoupleHistory:
    """Two partners doing well and in step: nothing to flag."""
    outcomes_ = (OutcomePoint("Start", 5.0, NOW), OutcomePoint("After stage 1", 5.2, NOW))
    return CoupleHistory(
        7,
        (
            PartnerHistory(ANA, "Ana", NOW - timedelta(days=60), outcomes_, _weeks(7, 7, 8, 7), NOW),
            PartnerHistory(BEN, "Ben", NOW - timedelta(days=60), outcomes_, _weeks(6, 7, 7, 6), NOW),
        ),
        (HomeworkDue("Walk together", TODAY - timedelta(days=3), (ANA, BEN), frozenset({ANA, BEN})),),
        (SessionRatings(TODAY - timedelta(days=5), {ANA: _ratings(8), BEN: _ratings(7)}, NOW),),
    )


def _ratings(value: int, **items: int) -> dict[str, int]:
    return {"heard": value, "goals": value, "approach": value, "overall": value, **items}


def _with_partner(history: CoupleHistory, index: int, **changes: object) -> CoupleHistory:
    partners = list(history.partners)
    partners[index] = replace(partners[index], **changes)  # type: ignore[arg-type]
    return replace(history, partners=tuple(partners))


def _kinds(history: CoupleHistory, rules: AlertRules = RULES) -> list[str]:
    return [alert.kind for alert in caseload.alerts(history, rules, TODAY)]


def test_a_steady_couple_raises_no_alert() -> None:
    """Steady data in every kind: nothing fires."""
    assert caseload.alerts(_steady(), RULES, TODAY) == ()


@pytest.mark.parametrize(
    ("subscale", "after", "fires"),
    [
        (HIGHER_BETTER, 5.0 - 1.39, True),
        (HIGHER_BETTER, 5.0 - 1.38, False),  # one step short of reliable
        (HIGHER_BETTER, 5.0 + 3.0, False),  # reliably better is no alert
        (LOWER_BETTER, 5.0 + 1.39, True),  # lower is better: a rise is the drop
        (LOWER_BETTER, 5.0 - 3.0, False),
    ],
)
def test_outcome_drop_fires_on_a_reliable_worsening_only(
    subscale: Subscale, after: float, fires: bool
) -> None:
    """The latest readable score against the previous one, judged by the subscale's direction."""
    points = (OutcomePoint("Start", 5.0, NOW), OutcomePoint("After Talking and listening", after, NOW))
    history = _with_partner(_steady(), 0, outcomes=points)
    alerts = caseload.alerts(history, replace(RULES, outcome_subscale=subscale), TODAY)
    assert [a.kind for a in alerts] == (["outcome-drop"] if fires else [])
    if fires:
        assert alerts[0].person_id == ANA
        assert alerts[0].text.startswith("Ana's score")
        assert "After Talking and listening" in alerts[0].text


def test_outcome_drop_compares_the_latest_with_the_previous_occasion_not_the_start() -> None:
    """A drop long ago that has recovered raises nothing now."""
    points = (OutcomePoint("Start", 5.0, NOW), OutcomePoint("A", 3.0, NOW), OutcomePoint("B", 3.1, NOW))
    assert _kinds(_with_partner(_steady(), 0, outcomes=points)) == []


@pytest.mark.parametrize(("latest", "fires"), [(6, True), (7, False)])
def test_checkin_drop_at_the_threshold_below_the_mean_of_the_three_before(latest: int, fires: bool) -> None:
    """Mean of 8, 8, 8 then 6 is a drop of 2.0 (the default threshold); then 7 is one point short."""
    history = _with_partner(_steady(), 0, checkins=_weeks(2, 8, 8, 8, latest))
    history = _with_partner(history, 1, checkins=_weeks(2, 8, 8, 8, latest))
    kinds = _kinds(history)
    assert kinds.count("checkin-drop") == (2 if fires else 0)
    assert "partner-gap" not in kinds


def test_checkin_drop_needs_three_weeks_before() -> None:
    """Two earlier weeks are not a trend to drop from."""
    assert _kinds(_with_partner(_steady(), 0, checkins=_weeks(9, 9, 7))) == []


@pytest.mark.parametrize(("ben", "fires"), [(4, True), (5, False)])
def test_partner_gap_on_the_latest_overall_check_ins(ben: int, fires: bool) -> None:
    """Ana 7, Ben 4 is 3 apart (the default gap); Ben 5 is one short."""
    history = _with_partner(_steady(), 0, checkins=_weeks(7, 7, 7, 7))
    history = _with_partner(history, 1, checkins=_weeks(ben, ben, ben, ben))
    alerts = caseload.alerts(history, RULES, TODAY)
    assert [a.kind for a in alerts] == (["partner-gap"] if fires else [])
    if fires:
        assert "Ana and Ben" in alerts[0].text and alerts[0].person_id is None


def test_partner_gap_uses_the_week_both_checked_in() -> None:
    """Ben has not checked in this week yet: this week's Ana is not compared with last week's Ben."""
    ana = _weeks(7, 7, 7, 7) + (CheckinPoint(date(2026, 11, 2), 3, NOW),)
    ben = _weeks(7, 7, 7, 6)
    assert "partner-gap" not in _kinds(
        _with_partner(_with_partner(_steady(), 0, checkins=ana), 1, checkins=ben)
    )
    ben_too = ben + (CheckinPoint(date(2026, 11, 2), 7, NOW),)
    assert "partner-gap" in _kinds(
        _with_partner(_with_partner(_steady(), 0, checkins=ana), 1, checkins=ben_too)
    )


@pytest.mark.parametrize(("idle", "fires"), [(14, True), (13, False)])
def test_inactive_after_the_set_number_of_days(idle: int, fires: bool) -> None:
    """No activity from Ben for 14 days fires and says who and how long; 13 days does not."""
    history = _with_partner(_steady(), 1, last_active=NOW - timedelta(days=idle))
    alerts = caseload.alerts(history, RULES, TODAY)
    assert [a.kind for a in alerts] == (["inactive"] if fires else [])
    if fires:
        assert alerts[0].text == "Ben: no activity for 14 days."
        assert alerts[0].person_id == BEN
        assert alerts[0].since == NOW - timedelta(days=14)


def test_inactive_counts_from_joining_when_a_partner_never_did_anything() -> None:
    """A partner who joined 20 days ago and has done nothing is flagged too."""
    history = _with_partner(_steady(), 1, last_active=None, joined_at=NOW - timedelta(days=20))
    alerts = caseload.alerts(history, RULES, TODAY)
    assert [a.text for a in alerts] == ["Ben: no activity since joining for 20 days."]


@pytest.mark.parametrize(
    ("due", "for_ids", "done_by", "late"),
    [
        (TODAY - timedelta(days=1), (ANA, BEN), {ANA}, ["Ben"]),
        (TODAY, (ANA, BEN), set(), []),  # due today: not late yet
        (TODAY - timedelta(days=1), (ANA, BEN), {ANA, BEN}, []),
        (TODAY - timedelta(days=1), (ANA,), {ANA}, []),  # for Ana only, and she did it
        (TODAY - timedelta(days=1), (BEN,), {ANA}, ["Ben"]),
        (TODAY - timedelta(days=9), (ANA, BEN), set(), ["Ana", "Ben"]),
    ],
)
def test_homework_overdue_when_someone_it_is_for_has_not_done_it(
    due: date, for_ids: tuple[int, ...], done_by: set[int], late: list[str]
) -> None:
    """Past its due date and not done by someone it is for."""
    history = replace(_steady(), homework=(HomeworkDue("Walk together", due, for_ids, frozenset(done_by)),))
    alerts = caseload.alerts(history, RULES, TODAY)
    assert [a.kind for a in alerts] == (["homework-overdue"] if late else [])
    if late:
        assert alerts[0].text.endswith(f"not marked done by {' or '.join(late)}.")
        assert alerts[0].person_id == ({"Ana": ANA, "Ben": BEN}[late[0]] if len(late) == 1 else None)


@pytest.mark.parametrize(
    ("ana", "ben", "fires"),
    [
        (_ratings(8, heard=5), _ratings(8), True),  # a low item (<= 5)
        (_ratings(8, heard=6), _ratings(8), False),
        (_ratings(9), _ratings(9, approach=6), True),  # a gap of 3
        (_ratings(9), _ratings(9, approach=7), False),
        (_ratings(2), _ratings(9), True),
    ],
)
def test_feedback_split_on_a_low_item_or_a_gap_and_its_words_reveal_no_rating(
    ana: dict[str, int], ben: dict[str, int], fires: bool
) -> None:
    """The text holds no number and no name, so neither the ratings nor who rated lower shows."""
    history = replace(
        _steady(), sessions=(SessionRatings(TODAY - timedelta(days=12), {ANA: ana, BEN: ben}, NOW),)
    )
    alerts = caseload.alerts(history, RULES, TODAY)
    assert [a.kind for a in alerts] == (["feedback-split"] if fires else [])
    if fires:
        assert not re.search(r"\d", alerts[0].text)
        assert "Ana" not in alerts[0].text and "Ben" not in alerts[0].text
        assert alerts[0].person_id is None


def test_feedback_split_reads_the_latest_session_with_ratings_only() -> None:
    """A split long past, followed by a session both rated well, raises nothing now."""
    sessions = (
        SessionRatings(TODAY - timedelta(days=20), {ANA: _ratings(2), BEN: _ratings(9)}, NOW),
        SessionRatings(TODAY - timedelta(days=6), {ANA: _ratings(8), BEN: _ratings(8)}, NOW),
        SessionRatings(TODAY - timedelta(days=1), {}, None),  # held, not rated yet
    )
    assert _kinds(replace(_steady(), sessions=sessions)) == []


def test_thresholds_come_from_settings() -> None:
    """An operator's stricter check-in threshold flags a smaller drop."""
    history = _with_partner(_steady(), 0, checkins=_weeks(8, 8, 8, 7))
    assert _kinds(history) == []
    strict = AlertRules.of(Settings(cookie_key=None, database_url="sqlite://", alert_checkin_drop=1.0))
    assert _kinds(history, strict) == ["checkin-drop"]


# The rows, from the database.


def _therapist(engine: Engine, username: str = "dr.kim", *, approved: bool = True) -> Viewer:
    return make_person(engine, username, Role.THERAPIST, username.title(), approved=approved)


def _couple(
    engine: Engine, therapist: Viewer, a: str, b: str, *, grants: int = 2
) -> tuple[Viewer, Viewer, int]:
    first, second = make_person(engine, a, name=a.title()), make_person(engine, b, name=b.title())
    couple_id = make_couple(engine, first, second)
    for partner in (first, second)[:grants]:
        grant(engine, couple_id, therapist, partner)
    return first, second, couple_id


def _rows(engine: Engine, therapist: Viewer, today: date = TODAY) -> list[caseload.CaseloadRow]:
    with read_session(engine) as session:
        return caseload.load_caseload(
            session=session, viewer=therapist, program=PROGRAM, settings=SETTINGS, today=today
        )


def _checkin(engine: Engine, viewer: Viewer, overall: int, day: date) -> None:
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session,
            viewer=viewer,
            ratings={"closeness": 5, "communication": 5, "conflict": 5, "trust": 5, "overall": overall},
            note="private words",
            today=day,
            now=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9),
        )


def test_a_row_per_visible_couple_with_each_partners_line(engine: Engine) -> None:
    """Names in joining order, stage, last activity, latest check-in; no outcome before both sent it."""
    kim = _therapist(engine)
    ana, ben, couple_id = _couple(engine, kim, "ana", "ben")
    _checkin(engine, ana, 7, date(2026, 11, 23))
    rows = _rows(engine, kim, date(2026, 11, 24))
    assert [r.couple_id for r in rows] == [couple_id]
    first, second = rows[0].partners
    assert (first.name, first.stage, first.latest_checkin, first.latest_checkin_week) == (
        "Ana",
        "Assessment",
        7,
        date(2026, 11, 23),
    )
    assert first.last_active == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert (second.name, second.latest_checkin, second.last_active) == ("Ben", None, None)
    assert first.latest_outcome is None and second.latest_outcome is None


def test_the_blind_rule_keeps_one_partners_outcome_answers_out_of_the_caseload(engine: Engine) -> None:
    """Ana's start answers sent alone never reach the latest-outcome column; once Ben sends his, both do."""
    kim = _therapist(engine)
    ana, ben, _ = _couple(engine, kim, "ana", "ben")
    instrument = outcomes.outcome_instrument(PROGRAM, SETTINGS).key
    answer_all(engine, ana, instrument, BASELINE, 2, now=T0)
    answer_all(engine, ben, instrument, BASELINE, 4, submit=False, now=T0)  # a draft is not sent
    (row,) = _rows(engine, kim)
    assert [p.latest_outcome for p in row.partners] == [None, None]
    answer_all(engine, ben, instrument, BASELINE, 4, now=T0)
    (row,) = _rows(engine, kim)
    ana_score, ben_score = (p.latest_outcome for p in row.partners)
    assert ana_score is not None and ben_score is not None and ana_score != ben_score
    assert [p.latest_outcome_label for p in row.partners] == ["Start", "Start"]


def test_only_couples_with_both_standing_grants_from_this_approved_therapist(engine: Engine) -> None:
    """One grant, a revoked grant, another therapist's couple: none appear; couple_row refuses them."""
    kim, lee = _therapist(engine), _therapist(engine, "dr.lee")
    _, _, both = _couple(engine, kim, "ana", "ben")
    _, _, one = _couple(engine, kim, "cyd", "dee", grants=1)
    cy_ed = _couple(engine, kim, "eve", "fay1", grants=1)
    grant(engine, cy_ed[2], kim, cy_ed[1], revoked=True)
    _, _, lees = _couple(engine, lee, "gus", "hal1")
    assert [r.couple_id for r in _rows(engine, kim)] == [both]
    assert [r.couple_id for r in _rows(engine, lee)] == [lees]
    for hidden in (one, cy_ed[2], lees):
        with read_session(engine) as session, pytest.raises(AccessDenied):
            caseload.couple_row(
                session=session, viewer=kim, couple_id=hidden, program=PROGRAM, settings=SETTINGS, today=TODAY
            )


def test_a_revoked_grant_removes_the_couple_at_once(engine: Engine) -> None:
    """Ben revokes: the couple leaves the caseload on the next load."""
    kim = _therapist(engine)
    _, ben, couple_id = _couple(engine, kim, "ana", "ben")
    assert [r.couple_id for r in _rows(engine, kim)] == [couple_id]
    with write_session(engine) as session:
        row = session.exec(select(TherapistGrant).where(TherapistGrant.partner_id == ben.person_id)).one()
        row.revoked_at = NOW
    assert _rows(engine, kim) == []


def test_an_unapproved_therapist_has_an_empty_caseload(engine: Engine) -> None:
    """Both partners granted, the operator has not approved (or withdrew approval): no row."""
    kim = _therapist(engine, approved=False)
    _couple(engine, kim, "ana", "ben")
    assert _rows(engine, kim) == []
    partner = make_person(engine, "zed1")
    with read_session(engine) as session, pytest.raises(AccessDenied):
        caseload.load_caseload(
            session=session, viewer=partner, program=PROGRAM, settings=SETTINGS, today=TODAY
        )


def test_a_couple_that_ended_and_re_formed_shows_nothing_of_the_old_couple(engine: Engine) -> None:
    """Ana and Ben checked in and sent the outcome start; Ben leaves, Ana forms a couple with Cy. The new
    row holds none of the old couple's check-ins, outcome, activity or stage."""
    kim = _therapist(engine)
    ana, ben, old = _couple(engine, kim, "ana", "ben")
    instrument = outcomes.outcome_instrument(PROGRAM, SETTINGS).key
    for partner in (ana, ben):
        _checkin(engine, partner, 8, date(2026, 11, 23))
        answer_all(engine, partner, instrument, BASELINE, 5, now=T0)
    with write_session(engine) as session:
        journey.complete_step(
            session=session, viewer=ana, program=PROGRAM, stage=journey.ASSESSMENT, step=journey.GOALS, now=T0
        )
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=NOW)
    cy = make_person(engine, "cyd", name="Cy")
    new = make_couple(engine, ana, cy)
    grant(engine, new, kim, ana)
    grant(engine, new, kim, cy)
    rows = _rows(engine, kim, date(2026, 11, 24))
    assert [r.couple_id for r in rows] == [new] and new != old
    for line in rows[0].partners:
        assert (line.latest_checkin, line.latest_outcome, line.last_active) == (None, None, None)
        assert line.stage == "Assessment"


def test_a_safety_flag_reaches_the_caseload_only_with_that_partners_consent(engine: Engine) -> None:
    """Both partners' latest screens flagged; only Ana shares it with Kim: one alert, about Ana."""
    kim = _therapist(engine)
    ana, ben, _ = _couple(engine, kim, "ana", "ben")
    with write_session(engine) as session:
        for partner in (ana, ben):
            session.add(SafetyScreen(person_id=partner.person_id, flagged=True, submitted_at=NOW))
    (row,) = _rows(engine, kim, date(2026, 11, 24))
    assert [a.kind for a in row.alerts] == []
    with write_session(engine) as session:
        row_ = session.exec(select(TherapistGrant).where(TherapistGrant.partner_id == ana.person_id)).one()
        row_.share_safety_screen = True
    (row,) = _rows(engine, kim, date(2026, 11, 24))
    assert [(a.kind, a.person_id) for a in row.alerts] == [("safety", ana.person_id)]
    # A later unflagged screen: the latest is what counts.
    with write_session(engine) as session:
        session.add(
            SafetyScreen(person_id=ana.person_id, flagged=False, submitted_at=NOW + timedelta(hours=1))
        )
    (row,) = _rows(engine, kim, date(2026, 11, 24))
    assert row.alerts == ()


def test_approval_withdrawn_empties_the_caseload(engine: Engine) -> None:
    """The operator withdraws approval: the caseload is empty at once."""
    kim = _therapist(engine)
    _couple(engine, kim, "ana", "ben")
    with write_session(engine) as session:
        approval = session.get(TherapistApproval, kim.person_id)
        session.delete(approval)
    assert _rows(engine, kim) == []


# The table, drawn by Streamlit.


def _table_script() -> None:
    import streamlit as st

    from program.infra.models import Role
    from program.privacy.viewer import Viewer
    from program.ui.caseload import render_caseload_table
    from tests.therapist.test_caseload import _table_rows

    chosen = render_caseload_table(Viewer(99, "dr.kim", "Dr Kim", Role.THERAPIST), _table_rows())
    st.session_state["chosen"] = chosen


def _table_rows() -> list[caseload.CaseloadRow]:
    hostile = "![t](http://evil.example/t.png)"

    def line(person_id: int, name: str) -> caseload.PartnerRow:
        return caseload.PartnerRow(person_id, name, "Assessment", NOW, 3.456, "Start", 7, date(2026, 11, 23))

    flagged = caseload.Alert("inactive", f"{hostile}: no activity for 20 days.", NOW, 3)
    return [
        caseload.CaseloadRow(11, (line(1, "Ana"), line(2, "Ben")), ()),
        caseload.CaseloadRow(12, (line(3, hostile), line(4, "Dee")), (flagged,)),
    ]


def test_the_table_shows_each_couple_and_the_alerts_in_escaped_words() -> None:
    """One row per couple with names as text; alerts listed by couple, a typed name never markup."""
    from streamlit.testing.v1 import AppTest

    from tests.ui.helpers import texts
    from tests.ui.test_hostile_strings import unescaped

    at = AppTest.from_function(_table_script, default_timeout=30).run()
    assert not at.exception, at.exception
    (table,) = at.dataframe
    frame = table.value
    assert list(frame["Partner 1"]) == ["Ana", "![t](http://evil.example/t.png)"]
    assert list(frame["Alerts"]) == [0, 1]
    assert list(frame["Check-in 2"]) == [7, 7]
    assert "![t](http://evil.example/t.png): no activity for 20 days. (since 30 November 2026)" in texts(at)
    assert unescaped(at) == []
    assert at.session_state["chosen"] is None


def test_open_returns_the_chosen_couple_once() -> None:
    """Picking a couple and pressing Open returns its id; the next rerun returns nothing."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_table_script, default_timeout=30).run()
    at.selectbox(key="kindred_caseload_open_choice").set_value(12)
    at.button(key="kindred_caseload_open").click().run()
    assert at.session_state["chosen"] == 12
    at.run()
    assert at.session_state["chosen"] is None


def test_therapist_journeys_only_for_visible_couples_and_as_each_partner_stands(engine: Engine) -> None:
    """Journeys for the therapist's own couples only; each partner's stage from their own steps in this
    couple; a stage the therapist opened early shows as open."""
    from tests.program_helpers import finish_assessment

    kim, lee = _therapist(engine), _therapist(engine, "dr.lee")
    ana, ben, mine = _couple(engine, kim, "ana", "ben")
    _, _, theirs = _couple(engine, lee, "cyd", "dee")
    _, _, half = _couple(engine, kim, "eve", "fay1", grants=1)
    finish_assessment(engine, ana)
    (row,) = _rows(engine, kim)
    assert [p.stage for p in row.partners] == [
        f"Waiting for {PROGRAM.stages[0].title} to open",
        "Assessment",
    ]
    finish_assessment(engine, ben)
    with write_session(engine) as session:
        journey.open_stage(session=session, viewer=kim, couple_id=mine, stage=PROGRAM.stages[2].key, now=NOW)
    with read_session(engine) as session:
        journeys = journey.therapist_journeys(
            session=session, viewer=kim, couple_ids=[mine, theirs, half], program=PROGRAM
        )
        with pytest.raises(AccessDenied):
            journey.therapist_journeys(session=session, viewer=ana, couple_ids=[mine], program=PROGRAM)
    assert list(journeys) == [mine]
    couple_journey = journeys[mine]
    assert couple_journey.is_open(PROGRAM.stages[0].key) and couple_journey.is_open(PROGRAM.stages[2].key)
    assert not couple_journey.is_open(PROGRAM.stages[1].key)
    for partner in (ana, ben):
        assert journey.for_partner(couple_journey, partner.person_id).current_stage() == PROGRAM.stages[0].key
    (row,) = _rows(engine, kim)
    assert [p.stage for p in row.partners] == [PROGRAM.stages[0].title] * 2
