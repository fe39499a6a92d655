"""The pre-session brief on crafted histories: what changed since this therapist's previous opening (or in
the last four weeks the first time), through the same read rules as the rest of the therapist's view."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import checkins, journey, reflections
from program.course.questionnaires import BASELINE
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Role, Visibility
from program.infra.settings import Settings
from program.privacy import grants
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import brief, caseload, homework
from program.therapist.caseload import Alert
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all

SETTINGS = Settings(cookie_key=None, database_url="sqlite://")
TODAY = T0.date() + timedelta(days=28)
OVERVIEW = PROGRAM.assessment.overview.questionnaire


def _at(days: int) -> datetime:
    """A moment `days` from TODAY (negative: before it)."""
    return datetime.combine(TODAY + timedelta(days=days), T0.timetz())


def _couple(engine: Engine) -> tuple[Viewer, Viewer, int, Viewer]:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr Kim")
    couple_id = make_couple(engine, ana, ben)
    grant(engine, couple_id, kim, ana)
    grant(engine, couple_id, kim, ben)
    return ana, ben, couple_id, kim


def _brief(
    engine: Engine, viewer: Viewer, couple_id: int, since: datetime | None, today: date = TODAY
) -> brief.Brief:
    with read_session(engine) as session:
        return brief.build_brief(
            session=session,
            viewer=viewer,
            couple_id=couple_id,
            program=PROGRAM,
            settings=SETTINGS,
            since=since,
            today=today,
        )


def _checkin(
    engine: Engine,
    viewer: Viewer,
    day: date,
    overall: int,
    note: str = "",
    shared: Visibility = Visibility.PRIVATE,
) -> None:
    ratings = {"closeness": 5, "communication": 5, "conflict": 5, "trust": 5, "overall": overall}
    at = datetime.combine(day, T0.timetz())
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session, viewer=viewer, ratings=ratings, note=note or None, note_visibility=shared,
            today=day, now=at,
        )  # fmt: skip


def _text(engine: Engine, viewer: Viewer, context: str, body: str, shared: Visibility, at: datetime) -> None:
    with write_session(engine) as session:
        reflections.save_text(
            session=session, viewer=viewer, context=context, body=body, visibility=shared, now=at
        )


def test_the_first_look_covers_the_last_four_weeks_and_says_so(engine: Engine) -> None:
    """With no previous opening the brief starts four weeks before today: a questionnaire sent five weeks
    ago is left out, one sent this week is listed with who and which occasion, and never a score."""
    ana, ben, couple_id, kim = _couple(engine)
    answer_all(engine, ana, OVERVIEW, BASELINE, 7, now=T0 - timedelta(days=7))
    answer_all(engine, ben, OVERVIEW, BASELINE, 2, now=_at(-1))
    result = _brief(engine, kim, couple_id, None)
    assert result.first_time
    assert result.start.date() == TODAY - timedelta(weeks=4)
    title = PROGRAM.instruments[OVERVIEW].title
    assert [(o.who, o.what) for o in result.occasions] == [("Ben", f"{title} (Start)")]


def test_only_what_happened_since_the_previous_opening_is_listed(engine: Engine) -> None:
    """Questionnaires, homework done and shared texts from before the previous opening are left out; those
    after it are listed, each text saying whether it was shared with the therapist only. A partner's
    private text and an unsent draft never appear."""
    ana, ben, couple_id, kim = _couple(engine)
    since = _at(-10)
    answer_all(engine, ana, OVERVIEW, BASELINE, now=_at(-12))
    answer_all(engine, ben, OVERVIEW, BASELINE, now=_at(-3))
    check = PROGRAM.stages[0].check
    answer_all(engine, ana, check, f"{PROGRAM.stages[0].key}:start", submit=False, now=_at(-2))
    _text(engine, ana, journey.GOALS_CONTEXT, "old goal", Visibility.PARTNER, _at(-11))
    _text(engine, ana, journey.STRENGTHS_CONTEXT, "for Kim alone", Visibility.THERAPIST, _at(-2))
    _text(engine, ben, journey.GOALS_CONTEXT, "for both", Visibility.PARTNER, _at(-1))
    _text(engine, ben, journey.STRENGTHS_CONTEXT, "my own", Visibility.PRIVATE, _at(-1))
    with write_session(engine) as session:
        old = homework.assign(
            session=session, viewer=kim, couple_id=couple_id, title="Walk together", instructions="",
            due_on=TODAY, for_person_id=None, today=TODAY - timedelta(days=20), now=_at(-20),
        )  # fmt: skip
        new = homework.assign(
            session=session, viewer=kim, couple_id=couple_id, title="Cook a meal", instructions="",
            due_on=TODAY, for_person_id=ben.person_id, today=TODAY - timedelta(days=20), now=_at(-20),
        )  # fmt: skip
    with write_session(engine) as session:
        homework.mark_done(session=session, viewer=ana, assignment_id=old, now=_at(-15))
        homework.mark_done(session=session, viewer=ben, assignment_id=old, now=_at(-4))
        homework.mark_done(session=session, viewer=ben, assignment_id=new, now=_at(-5))
    result = _brief(engine, kim, couple_id, since)
    assert not result.first_time
    assert [o.who for o in result.occasions] == ["Ben"]
    assert [(h.who, h.title) for h in result.homework_done] == [
        ("Ben", "Walk together"),
        ("Ben", "Cook a meal"),
    ]
    assert [(t.who, t.where, t.therapist_only) for t in result.texts] == [
        ("Ben", "Goals", False),
        ("Ana", "Strengths", True),
    ]
    assert "my own" not in repr(result)
    # Nothing at all since a later opening.
    assert _brief(engine, kim, couple_id, _at(0)).nothing_new


def test_a_shared_check_in_note_counts_as_a_new_text(engine: Engine) -> None:
    """A check-in note shared with the therapist alone is listed as such; an unshared one is not."""
    ana, ben, couple_id, kim = _couple(engine)
    _checkin(engine, ana, TODAY - timedelta(days=1), 5, "rough week", Visibility.THERAPIST)
    _checkin(engine, ben, TODAY - timedelta(days=1), 5, "mine only", Visibility.PRIVATE)
    texts = _brief(engine, kim, couple_id, _at(-7)).texts
    assert [(t.who, t.therapist_only) for t in texts] == [("Ana", True)]
    assert texts[0].where.startswith("Weekly check-in")


@pytest.mark.parametrize(
    ("overalls", "word"),
    [([4, 5, 7], "rising"), ([8, 7, 6, 5], "falling"), ([6, 6, 7, 6], "steady"), ([5, 6], "rising")],
)
def test_the_check_in_trend_in_words(overalls: list[int], word: str) -> None:
    """A change of a point or more over the window rises or falls; less is steady."""
    assert brief.trend_words(overalls).startswith(f"{word}: overall {overalls[0]} to {overalls[-1]}")


def test_too_few_check_ins_say_so() -> None:
    """No check-in, or one, names no trend."""
    assert brief.trend_words([]) == "no check-in in the last 4 weeks"
    assert "too few to see a trend" in brief.trend_words([6])


def test_the_trend_reads_each_partner_over_the_last_four_weeks_only(engine: Engine) -> None:
    """An old high check-in before the window does not turn a rising month into a falling one; each
    partner gets their own line."""
    ana, ben, couple_id, kim = _couple(engine)
    _checkin(engine, ana, TODAY - timedelta(weeks=6), 10)
    for weeks, overall in ((3, 3), (2, 4), (1, 6)):
        _checkin(engine, ana, TODAY - timedelta(weeks=weeks), overall)
    for weeks, overall in ((3, 8), (1, 5)):
        _checkin(engine, ben, TODAY - timedelta(weeks=weeks), overall)
    trends = {t.who: t for t in _brief(engine, kim, couple_id, _at(-1)).trends}
    assert trends["Ana"].words == "rising: overall 3 to 6 of 10 over 3 check-ins"
    assert [overall for _, overall in trends["Ana"].overalls] == [3, 4, 6]
    assert trends["Ben"].words.startswith("falling")


def test_only_alerts_raised_since_the_previous_opening_are_new(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of the couple's standing alerts, the brief lists those whose trigger came after the last opening;
    the first time, all of them."""
    _, _, couple_id, kim = _couple(engine)
    since = _at(-7)
    old = Alert("inactive", "Ana has not been active for 20 days", _at(-20), None)
    new = Alert("checkin-drop", "Ben's check-in dropped", _at(-1), None)
    timeless = Alert("safety", "Ana asked that you know", None, None)
    real = caseload.couple_row

    def crafted(**kwargs: object) -> caseload.CaseloadRow:
        row = real(**kwargs)  # type: ignore[arg-type]
        return replace(row, alerts=(old, new, timeless))

    monkeypatch.setattr(caseload, "couple_row", crafted)
    assert _brief(engine, kim, couple_id, since).alerts == (new,)
    assert _brief(engine, kim, couple_id, None).alerts == (old, new, timeless)


def test_a_real_alert_since_the_last_look_reaches_the_brief(engine: Engine) -> None:
    """A partner inactive for weeks: the caseload's alert for it reaches a first-time brief."""
    ana, ben, couple_id, kim = _couple(engine)
    _checkin(engine, ana, TODAY - timedelta(days=1), 6)
    _checkin(engine, ben, TODAY - timedelta(days=40), 6)
    kinds = [a.kind for a in _brief(engine, kim, couple_id, None).alerts]
    assert "inactive" in kinds


def test_nobody_else_gets_a_brief(engine: Engine) -> None:
    """A partner, a therapist with one grant, and another therapist are refused."""
    ana, ben, couple_id, kim = _couple(engine)
    lee = make_person(engine, "dr.lee", Role.THERAPIST)
    grant(engine, couple_id, lee, ana)
    for viewer in (ana, lee):
        with pytest.raises(AccessDenied):
            _brief(engine, viewer, couple_id, None)


def test_the_previous_opening_is_this_therapists_own(engine: Engine) -> None:
    """last_opened reads this therapist's latest opening of this couple: another therapist's later look,
    or this therapist's look at another couple, does not move it."""
    ana, ben, couple_id, kim = _couple(engine)
    lee = make_person(engine, "dr.lee", Role.THERAPIST)
    grant(engine, couple_id, lee, ana)
    grant(engine, couple_id, lee, ben)
    cai, dee = make_person(engine, "cai"), make_person(engine, "dee")
    other = make_couple(engine, cai, dee)
    grant(engine, other, kim, cai)
    grant(engine, other, kim, dee)

    def last(therapist: Viewer, couple: int) -> datetime | None:
        with read_session(engine) as session:
            return grants.last_opened(session=session, viewer=therapist, couple_id=couple)

    assert last(kim, couple_id) is None
    with write_session(engine) as session:
        grants.open_couple(session=session, viewer=kim, couple_id=couple_id)
    first = last(kim, couple_id)
    assert first is not None
    with write_session(engine) as session:
        grants.open_couple(session=session, viewer=lee, couple_id=couple_id)
        grants.open_couple(session=session, viewer=kim, couple_id=other)
    assert last(kim, couple_id) == first
    with read_session(engine) as session:
        details = session.exec(select(AuditEvent.detail).where(AuditEvent.couple_id == couple_id)).all()
    assert set(details) == {"opened your record"}
