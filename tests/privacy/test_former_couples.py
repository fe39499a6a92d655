"""A former couple's data never reaches the next partner: Ana and Ben, then Ana and Cai (issue 8).

Written as the attacker: Cai pairs with someone who was in a couple before and looks for anything of it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.charts import progress_data
from program.course import checkins, journey, questionnaires, reflections, reminders, shared_texts
from program.course.curriculum import CHECKIN_KEYS
from program.infra.db import read_session, write_session
from program.infra.models import (
    CheckIn,
    ExerciseRecord,
    QuestionnaireSubmission,
    Reflection,
    Role,
    Visibility,
)
from program.privacy import access, couples
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from tests.factories import make_person
from tests.program_helpers import PROGRAM, T0, answer_all, finish_assessment, finish_stage

KEY = b"k" * 32
BASELINE = PROGRAM.assessment.overview.questionnaire
FIRST_STAGE = PROGRAM.stages[0].key
FIRST_EXERCISE = PROGRAM.stages[0].exercises[0].key
# Ben leaves and Ana pairs with Cai within the same week as the old couple's last check-in.
LATER = T0 + timedelta(days=2)


def _create(engine: Engine, viewer: Viewer, now: datetime) -> str:
    with write_session(engine) as session:
        return couples.create_couple(session=session, viewer=viewer, key=KEY, now=now).code


def _join(engine: Engine, viewer: Viewer, code: str, now: datetime) -> int:
    with write_session(engine) as session:
        return couples.join_couple(session=session, viewer=viewer, code=code, key=KEY, now=now)


def _leave(engine: Engine, viewer: Viewer, now: datetime) -> None:
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=viewer, now=now)


def _pair(engine: Engine, first: Viewer, second: Viewer, now: datetime) -> int:
    return _join(engine, second, _create(engine, first, now), now)


def _checkin(engine: Engine, viewer: Viewer, value: int, now: datetime, note: str | None = None) -> None:
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session, viewer=viewer, ratings=dict.fromkeys(CHECKIN_KEYS, value), note=note,
            note_visibility=Visibility.PARTNER, today=now.date(), now=now,
        )  # fmt: skip


def _share_goals(engine: Engine, viewer: Viewer, body: str, now: datetime) -> None:
    with write_session(engine) as session:
        reflections.save_text(
            session=session, viewer=viewer, context=journey.GOALS_CONTEXT, body=body,
            visibility=Visibility.PARTNER, now=now,
        )  # fmt: skip


def _journey(engine: Engine, viewer: Viewer) -> journey.Journey:
    # At the story's own time (LATER), so no partner is away on the solo track's clock.
    with read_session(engine) as session:
        return journey.load_journey(session=session, viewer=viewer, program=PROGRAM, now=LATER)


def _answers(engine: Engine, viewer: Viewer, couple_id: int | None) -> dict[int, dict[str, int | None]]:
    with read_session(engine) as session:
        return access.readable_answers(
            session=session, viewer=viewer, couple_id=couple_id, instrument=BASELINE, occasion="baseline"
        )


def _progress(engine: Engine, viewer: Viewer, couple_id: int) -> progress_data.ProgressData:
    with read_session(engine) as session:
        return progress_data.load_progress(
            session=session, viewer=viewer, couple_id=couple_id, program=PROGRAM
        )


@dataclass(frozen=True)
class Story:
    ana: Viewer
    ben: Viewer
    cai: Viewer
    old: int
    new: int


def _ana_ben_then_cai(engine: Engine) -> Story:
    """Ana and Ben do the assessment and a whole stage, check in and share; Ben leaves; Ana pairs with
    Cai, who sends his baseline."""
    ana, ben, cai = (make_person(engine, n, name=n.title()) for n in ("ana", "ben", "cai"))
    old = _pair(engine, ana, ben, T0)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
    for partner, value in ((ana, 1), (ben, 2)):
        finish_stage(engine, partner, FIRST_STAGE)
        _checkin(engine, partner, value, T0, note=f"{partner.display_name}'s note about the old couple")
    _share_goals(engine, ana, "Ana's goals with Ben", T0)
    _leave(engine, ben, LATER)
    new = _pair(engine, ana, cai, LATER)
    answer_all(engine, cai, BASELINE, "baseline", 7, now=LATER)
    return Story(ana, ben, cai, old, new)


def test_the_next_partner_reads_none_of_the_old_couples_answers(engine: Engine) -> None:
    """Cai sent his baseline: he sees his own answers and nothing of Ana's answers about Ben."""
    s = _ana_ben_then_cai(engine)
    assert _answers(engine, s.cai, s.new) == {s.cai.person_id: dict.fromkeys(_items(), 7)}
    assert _answers(engine, s.ana, s.new) == {}
    data = _progress(engine, s.cai, s.new)
    assert data.fillings == ()
    assert [c.person_id for c in data.checkins] == []


def test_the_next_partner_sees_no_old_step_counts_or_finished_notices(engine: Engine) -> None:
    """Ana's steps with Ben count for nothing with Cai: no counts, no "Ana has finished" news."""
    s = _ana_ben_then_cai(engine)
    data = _progress(engine, s.cai, s.new)
    assert data.steps_done == {s.ana.person_id: {}, s.cai.person_id: {journey.ASSESSMENT: 1}}
    seen_by_cai = _journey(engine, s.cai)
    assert seen_by_cai.partner is not None and seen_by_cai.partner.done == {}
    assert reminders.partner_news(seen_by_cai) == []
    assert not seen_by_cai.is_open(FIRST_STAGE)


def test_a_new_couple_starts_its_own_assessment_for_both_partners(engine: Engine) -> None:
    """Ana takes the baseline again with Cai; only then does Cai see her new answers beside his."""
    s = _ana_ben_then_cai(engine)
    ana_now = _journey(engine, s.ana)
    assert ana_now.me.done == {}
    assert ana_now.next_step(journey.ASSESSMENT) == "questionnaire"
    with read_session(engine) as session:
        own = questionnaires.own_answers(
            session=session, viewer=s.ana, instrument=BASELINE, occasion="baseline"
        )
        assert own == questionnaires.OwnAnswers({}, None)
        assert reflections.own_texts(session=session, viewer=s.ana, prefix="assessment:") == {}
        assert (
            journey.log_entries(session=session, viewer=s.ana, stage=FIRST_STAGE, exercise=FIRST_EXERCISE)
            == {}
        )
    answer_all(engine, s.ana, BASELINE, "baseline", 4, now=LATER)
    assert _answers(engine, s.cai, s.new) == {
        s.ana.person_id: dict.fromkeys(_items(), 4),
        s.cai.person_id: dict.fromkeys(_items(), 7),
    }
    (filling,) = _progress(engine, s.cai, s.new).fillings
    assert set(filling.answers[s.ana.person_id].values()) == {4}
    assert reminders.partner_news(_journey(engine, s.cai)) == []


def test_a_check_in_in_the_same_week_belongs_to_the_new_couple(engine: Engine) -> None:
    """Ana checked in with Ben this week; with Cai she checks in again, and Cai sees only the new one."""
    s = _ana_ben_then_cai(engine)
    with read_session(engine) as session:
        assert checkins.this_week(session=session, viewer=s.ana, today=LATER.date()) is None
        assert checkins.own_history(session=session, viewer=s.ana) == []
    _checkin(engine, s.ana, 9, LATER, note="Ana's note for Cai")
    with read_session(engine) as session:
        seen = access.readable_checkins(session=session, viewer=s.cai, couple_id=s.new)
        texts = shared_texts.shared_with_viewer(
            session=session, viewer=s.cai, couple_id=s.new, program=PROGRAM
        )
    assert [(c.person_id, c.overall, c.note) for c in seen] == [(s.ana.person_id, 9, "Ana's note for Cai")]
    assert [t.body for t in texts] == ["Ana's note for Cai"]
    with read_session(engine) as session:
        old_rows = session.exec(select(CheckIn).where(CheckIn.couple_id == s.old)).all()
    assert sorted(r.overall for r in old_rows) == [1, 2]  # the old couple's record is kept as it was


def test_whoever_left_sees_nothing_of_the_new_couple_nor_carries_the_old_one_on(engine: Engine) -> None:
    """Ben, after leaving, cannot read the new couple, and his own view starts fresh."""
    s = _ana_ben_then_cai(engine)
    answer_all(engine, s.ana, BASELINE, "baseline", 4, now=LATER)
    with read_session(engine) as session, pytest.raises(AccessDenied):
        access.readable_answers(
            session=session, viewer=s.ben, couple_id=s.new, instrument=BASELINE, occasion="baseline"
        )
    with pytest.raises(AccessDenied):
        _progress(engine, s.ben, s.new)
    # Couple-less, Ben reads only his own couple-less answers: none (his belong to the old couple).
    assert _answers(engine, s.ben, None) == {}
    assert _journey(engine, s.ben).me.done == {}
    # And Ana's couple-less view does not reach into either couple.
    assert _answers(engine, s.ana, None) == {}


def test_re_forming_the_same_pair_starts_fresh(engine: Engine) -> None:
    """Ana and Ben leave and pair again: a new couple, a new assessment, no old answers or steps."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    old = _pair(engine, ana, ben, T0)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
    _leave(engine, ana, LATER)
    again = _pair(engine, ben, ana, LATER)
    assert again != old
    assert _answers(engine, ana, again) == {}
    assert _journey(engine, ana).me.done == {} and _journey(engine, ben).me.done == {}
    assert _progress(engine, ben, again).steps_done == {ben.person_id: {}, ana.person_id: {}}
    for partner, value in ((ana, 3), (ben, 5)):
        answer_all(engine, partner, BASELINE, "baseline", value, now=LATER)
    assert _answers(engine, ben, again) == {
        ana.person_id: dict.fromkeys(_items(), 3),
        ben.person_id: dict.fromkeys(_items(), 5),
    }


def _anas_rows_by_couple(engine: Engine, ana: Viewer) -> dict[str, Counter[int | None]]:
    """How many of Ana's rows of each kind belong to which couple (None: to none)."""
    counts: dict[str, Counter[int | None]] = {}
    with read_session(engine) as session:
        for table in (QuestionnaireSubmission, Reflection, CheckIn, ExerciseRecord):
            couples_of = session.exec(
                select(col(table.couple_id)).where(col(table.person_id) == ana.person_id)
            ).all()
            counts[table.__name__] = Counter(couples_of)
    return counts


def test_joining_adopts_only_work_begun_without_a_couple(engine: Engine) -> None:
    """Solo work between couples joins the new couple; the old couple's rows stay where they were."""
    s = _ana_ben_then_cai(engine)
    dan = make_person(engine, "dan", name="Dan")
    _leave(engine, s.cai, LATER + timedelta(days=1))
    before = _anas_rows_by_couple(engine, s.ana)
    # Couple-less again, Ana starts over on her own: it is hers, then the next couple's.
    solo_day = LATER + timedelta(days=8)
    answer_all(engine, s.ana, BASELINE, "baseline", 2, submit=False, now=solo_day)
    _share_goals(engine, s.ana, "Ana's goals on her own", solo_day)
    _checkin(engine, s.ana, 6, solo_day)
    assert _anas_rows_by_couple(engine, s.ana)["CheckIn"][None] == 1
    third = _pair(engine, dan, s.ana, solo_day)
    after = _anas_rows_by_couple(engine, s.ana)
    assert before["CheckIn"][s.old] == 1 and before["ExerciseRecord"][s.old] > 0
    for kind, counts in after.items():
        assert counts[None] == 0, kind
        # Every couple that held rows before still holds exactly those: none moved to the new couple.
        assert {c: n for c, n in counts.items() if c != third} == dict(before[kind]), kind
    adopted = {kind: counts[third] for kind, counts in after.items()}
    assert adopted == {"QuestionnaireSubmission": 1, "Reflection": 1, "CheckIn": 1, "ExerciseRecord": 0}
    with read_session(engine) as session:
        bodies = {
            r.couple_id: r.body
            for r in session.exec(select(Reflection).where(Reflection.person_id == s.ana.person_id))
        }
    assert bodies == {s.old: "Ana's goals with Ben", third: "Ana's goals on her own"}
    assert _answers(engine, s.ana, third) == {s.ana.person_id: dict.fromkeys(_items(), 2)}
    assert _answers(engine, dan, third) == {}


def _items() -> list[str]:
    return [item.key for item in PROGRAM.instruments[BASELINE].items]


def test_couple_less_answers_are_the_writers_own_and_nobody_elses(engine: Engine) -> None:
    """Two people between couples: each reads only their own couple-less answers, a therapist none."""
    s = _ana_ben_then_cai(engine)
    _leave(engine, s.cai, LATER)
    kim = make_person(engine, "dr.kim", Role.THERAPIST, name="Dr Kim")
    for person, value in ((s.ana, 1), (s.ben, 2), (s.cai, 3)):
        answer_all(engine, person, BASELINE, "baseline", value, submit=person != s.ben, now=LATER)
    for person, value in ((s.ana, 1), (s.ben, 2), (s.cai, 3)):
        assert _answers(engine, person, None) == {person.person_id: dict.fromkeys(_items(), value)}
    assert _answers(engine, kim, None) == {}
