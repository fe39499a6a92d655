"""The weekly appreciation log: when it starts and comes due, what it refuses, whose it is, and that the
program's journey and progress never count it as a step."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.charts import progress_data
from program.course import appreciation, journey, reminders
from program.course.appreciation import AppreciationError
from program.course.curriculum import STAGE_KEYS, ContentError
from program.course.questionnaires import stage_occasion
from program.infra.db import read_session, write_session
from program.infra.models import ExerciseRecord, utcnow
from program.privacy import couples
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, finish_assessment, finish_stage

MONDAY = date(2026, 11, 2)  # T0's day
HOSTILE = "![t](http://evil.example/t.png) <img src=x> :red[Alarm] # Shout \u202e"


def _couple(engine: Engine, *, started: bool = True) -> tuple[Viewer, Viewer, int]:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    couple_id = make_couple(engine, ana, ben)
    if started:
        for partner in (ana, ben):
            finish_assessment(engine, partner)
    return ana, ben, couple_id


def _journey(engine: Engine, viewer: Viewer) -> journey.Journey:
    with read_session(engine) as session:
        return journey.load_journey(session=session, viewer=viewer, program=PROGRAM)


def _entries(engine: Engine, viewer: Viewer) -> list[appreciation.Entry]:
    with read_session(engine) as session:
        return appreciation.own_entries(session=session, viewer=viewer)


def _due(engine: Engine, viewer: Viewer, today: date) -> bool:
    return appreciation.is_due(_journey(engine, viewer), _entries(engine, viewer), today)


def _save(engine: Engine, viewer: Viewer, text: str, *, said: bool = True, today: date = MONDAY) -> None:
    with write_session(engine) as session:
        appreciation.save_entry(
            session=session,
            viewer=viewer,
            progress=journey.load_journey(session=session, viewer=viewer, program=PROGRAM),
            today=today,
            text=text,
            said=said,
            now=T0 + (today - MONDAY),
        )


def _rows(engine: Engine) -> int:
    with read_session(engine) as session:
        return len(session.exec(select(ExerciseRecord).where(ExerciseRecord.stage == "ongoing")).all())


def test_the_shipped_words_load() -> None:
    """appreciation.toml validates, with at least one tip."""
    words = appreciation.load_content()
    assert words.prompt and words.tips


def test_a_broken_words_file_is_named(tmp_path: Path) -> None:
    """A missing field names the file and the field, never a traceback of pydantic's."""
    broken = tmp_path / "appreciation.toml"
    broken.write_text('title = "x"\n', encoding="utf-8")
    with pytest.raises(ContentError, match=r"appreciation\.toml: intro"):
        appreciation.load_content(broken)
    broken.write_text("title = ", encoding="utf-8")
    with pytest.raises(ContentError, match="not valid TOML"):
        appreciation.load_content(broken)


def test_not_due_before_the_first_stage_opens(engine: Engine) -> None:
    """Only Ana finished the assessment: the first stage is closed, so nothing is due and saving is
    refused."""
    ana, _, _ = _couple(engine, started=False)
    finish_assessment(engine, ana)
    assert not _due(engine, ana, MONDAY)
    with pytest.raises(AppreciationError, match="starts when"):
        _save(engine, ana, "You made tea")
    assert _rows(engine) == 0


def test_solo_person_is_never_due(engine: Engine) -> None:
    """Someone not in a couple has no partner to appreciate here."""
    cai = make_person(engine, "cai")
    finish_assessment(engine, cai)
    assert not _due(engine, cai, MONDAY)


def test_due_weekly_once_the_first_stage_opens(engine: Engine) -> None:
    """Due the week the first stage opens; kept for that week on any day of it; due again next Monday."""
    ana, _, _ = _couple(engine)
    assert _due(engine, ana, MONDAY)
    _save(engine, ana, "You made tea when I was tired", said=False, today=MONDAY + timedelta(days=2))
    for day in range(7):
        assert not _due(engine, ana, MONDAY + timedelta(days=day)), day
    assert _due(engine, ana, MONDAY + timedelta(days=7))
    assert [(e.week, e.text, e.said) for e in _entries(engine, ana)] == [
        (MONDAY, "You made tea when I was tired", False)
    ]


def test_a_second_save_in_the_week_rewrites_that_weeks_note(engine: Engine) -> None:
    """Two saves in one week keep one note (the latest); a new week gets its own, newest first."""
    ana, _, _ = _couple(engine)
    _save(engine, ana, "first", said=False)
    _save(engine, ana, "second", said=True, today=MONDAY + timedelta(days=6))
    _save(engine, ana, "next week", today=MONDAY + timedelta(days=7))
    assert [(e.week, e.text, e.said) for e in _entries(engine, ana)] == [
        (MONDAY + timedelta(days=7), "next week", True),
        (MONDAY, "second", True),
    ]
    assert _rows(engine) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Write one thing"), ("   \n ", "Write one thing"), ("x" * 501, "under 500")],
)
def test_bad_text_is_refused_and_nothing_is_saved(engine: Engine, text: str, message: str) -> None:
    """Empty or overlong notes get a clear message and leave no row."""
    ana, _, _ = _couple(engine)
    with pytest.raises(AppreciationError, match=message):
        _save(engine, ana, text)
    assert _rows(engine) == 0
    assert _due(engine, ana, MONDAY)


def test_hostile_text_is_kept_as_typed(engine: Engine) -> None:
    """Markup and control characters are stored and returned exactly (the page shows them as text)."""
    ana, _, _ = _couple(engine)
    _save(engine, ana, HOSTILE)
    assert _entries(engine, ana)[0].text == HOSTILE.strip()


def test_the_log_is_the_writers_own(engine: Engine) -> None:
    """Ana's note is not Ben's: his log is empty and his note is still due."""
    ana, ben, _ = _couple(engine)
    _save(engine, ana, "You listened")
    assert _entries(engine, ben) == []
    assert _due(engine, ben, MONDAY)


def test_an_ended_couple_takes_its_log_with_it(engine: Engine) -> None:
    """Ana leaves Ben and forms a couple with Cai: her old notes stay with the old couple, and her log
    with Cai starts empty and is due once their first stage opens."""
    ana, _, _ = _couple(engine)
    _save(engine, ana, "About Ben")
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=T0 + timedelta(days=1))
    cai = make_person(engine, "cai", name="Cai")
    make_couple(engine, ana, cai)
    assert _entries(engine, ana) == []
    assert not _due(engine, ana, MONDAY)  # a new couple starts with the assessment
    for partner in (ana, cai):
        finish_assessment(engine, partner)
    assert _due(engine, ana, MONDAY)
    _save(engine, ana, "About Cai")
    assert [e.text for e in _entries(engine, ana)] == ["About Cai"]


def test_the_journey_and_progress_ignore_the_log(engine: Engine) -> None:
    """Weeks of notes change no step, no open stage, no reminder, no news and no count of steps done."""
    ana, ben, couple_id = _couple(engine)
    finish_stage(engine, ana, STAGE_KEYS[0])

    def snapshot() -> tuple[object, ...]:
        mine, theirs = _journey(engine, ana), _journey(engine, ben)
        with read_session(engine) as session:
            data = progress_data.load_progress(
                session=session, viewer=ana, couple_id=couple_id, program=PROGRAM
            )
        return (
            [(s, mine.is_open(s), mine.next_step(s), theirs.next_step(s)) for s in journey.ORDER],
            mine.current_stage(),
            reminders.due_now(mine, checkin_done=True, today=MONDAY),
            reminders.partner_news(theirs),
            {p: {s: d.get(s, 0) for s in journey.ORDER} for p, d in data.steps_done.items()},
            data.logs_ended_early,
            data.homework_done,
            data.practice,
        )

    before = snapshot()
    for week in range(4):
        _save(engine, ana, f"week {week}", today=MONDAY + timedelta(days=7 * week))
        _save(engine, ben, f"week {week}", today=MONDAY + timedelta(days=7 * week))
    assert _rows(engine) == 8
    assert snapshot() == before


def test_a_private_note_is_no_sign_for_the_partners_solo_track(engine: Engine) -> None:
    """Ben joined and did the assessment a month ago, and since then only writes his private notes: after
    14 days Ana's journey goes on alone, as if the notes were not there (they must not reveal that he was
    in the program). The control: a step he completes does count."""
    month_ago = utcnow() - timedelta(days=30)
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    with write_session(engine) as session:
        for membership in session.exec(select(CoupleMembership)):
            membership.joined_at = month_ago
            session.add(membership)
    for partner in (ana, ben):
        finish_assessment(engine, partner, now=month_ago)
    with write_session(engine) as session:
        appreciation.save_entry(
            session=session,
            viewer=ben,
            progress=journey.load_journey(session=session, viewer=ben, program=PROGRAM),
            today=utcnow().date(),
            text="You listened",
            said=True,
            now=utcnow(),
        )
    assert _entries(engine, ben)
    assert _journey(engine, ana).solo == journey.Solo.AWAY
    first = PROGRAM.stages[0].key
    answer_all(engine, ben, PROGRAM.stage_by_key[first].check, stage_occasion(first, "start"), now=utcnow())
    assert _journey(engine, ana).solo is None
