"""The outcome measure (issue 11): given at the start, after each stage, at the end and at a follow-up.

Occasions come due in order, each for the partner who reached its moment, never early, and the blind rule
holds per occasion. Written as the attacker: two couples, a partner peeking before the other has sent, a
couple that ends and re-forms.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import journey, outcomes, questionnaires, reminders
from program.course.curriculum import load_program
from program.infra.db import read_session, write_session
from program.infra.models import QuestionnaireSubmission
from program.infra.settings import CONTENT_DIR, Settings, SettingsError
from program.privacy import access, couples
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, do_step, finish_assessment, finish_stage

ROOT = Path(__file__).resolve().parents[1]
BASELINE_KEY = PROGRAM.assessment.overview.questionnaire
STAGES = [stage.key for stage in PROGRAM.stages]
FIRST = STAGES[0]
FIRST_END = outcomes.stage_end_occasion(FIRST)
ITEMS = [item.key for item in PROGRAM.instruments[BASELINE_KEY].items]
KEY = b"k" * 32


def _settings(**values: object) -> Settings:
    return Settings(cookie_key=None, database_url="sqlite://", **values)  # type: ignore[arg-type]


SETTINGS = _settings()


def _status(
    engine: Engine, viewer: Viewer, now: datetime, settings: Settings = SETTINGS
) -> outcomes.OutcomeStatus:
    with read_session(engine) as session:
        return outcomes.status(session=session, viewer=viewer, program=PROGRAM, settings=settings, now=now)


def _send(
    engine: Engine,
    viewer: Viewer,
    occasion: str,
    now: datetime,
    value: int = 5,
    settings: Settings = SETTINGS,
) -> None:
    """Fill in an outcome occasion through the outcome rules (refused unless it is due)."""
    instrument = outcomes.outcome_instrument(PROGRAM, settings)
    with write_session(engine) as session:
        questionnaires.save_answers(
            session=session,
            viewer=viewer,
            instrument=instrument,
            occasion=occasion,
            answers=dict.fromkeys((i.key for i in instrument.items), value),
            now=now,
        )
        outcomes.submit(
            session=session, viewer=viewer, program=PROGRAM, settings=settings, occasion=occasion, now=now
        )


def _couple_through_assessment(engine: Engine) -> tuple[Viewer, Viewer, int]:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    couple = make_couple(engine, ana, ben)
    finish_assessment(engine, ana)
    finish_assessment(engine, ben)
    return ana, ben, couple


def test_the_occasions_and_their_names_in_order() -> None:
    """Start, each skill stage's end in the program's order, the end of the program (which is the last
    stage's end: nobody answers the same questionnaire twice in a row), then the follow-up."""
    assert outcomes.occasions(PROGRAM) == [
        questionnaires.BASELINE,
        *(f"outcome:end:{key}" for key in STAGES[:-1]),
        "outcome:program-end",
        "outcome:follow-up",
    ]
    assert [outcomes.occasion_label(o, PROGRAM) for o in outcomes.occasions(PROGRAM)] == [
        "Start",
        *(f"After {stage.title}" for stage in PROGRAM.stages[:-1]),
        "End of the program",
        "Follow-up",
    ]


def test_the_start_is_the_assessments_own_questionnaire(engine: Engine) -> None:
    """With Kindred's baseline as the measure, its start is the assessment's filling-in: due from the
    first day, and sent by answering the assessment (no second form, no second reminder)."""
    ana = make_person(engine, "ana")
    status = _status(engine, ana, T0)
    assert status.instrument.key == BASELINE_KEY
    assert status.due == [questionnaires.BASELINE]
    due = reminders.due_now(_journey(engine, ana), checkin_done=True, today=T0.date(), outcome=status)
    assert "outcome" not in [r.page for r in due] and "assessment" in [r.page for r in due]
    finish_assessment(engine, ana)
    status = _status(engine, ana, T0 + timedelta(days=1))
    assert status.due == [] and status.upcoming == FIRST_END and status.upcoming_at is None


def test_a_stage_end_comes_due_only_for_the_partner_who_finished_the_stage(engine: Engine) -> None:
    """Ana finished the first stage (its end check); Ben has not. Ana is asked, Ben is not, and nothing
    comes early: not while Ana's end check is unsent, and no later occasion can be sent ahead."""
    ana, ben, _ = _couple_through_assessment(engine)
    check = PROGRAM.stages[0].check
    answer_all(engine, ana, check, questionnaires.stage_occasion(FIRST, "start"), 3)
    for step in journey.stage_steps(PROGRAM, FIRST)[1:-1]:
        do_step(engine, ana, FIRST, step)
    assert _status(engine, ana, T0 + timedelta(days=3)).due == []
    with pytest.raises(outcomes.OutcomeError, match="not due"):
        _send(engine, ana, FIRST_END, T0 + timedelta(days=3))
    answer_all(engine, ana, check, questionnaires.stage_occasion(FIRST, "end"), 6, now=T0 + timedelta(days=7))
    when = T0 + timedelta(days=8)
    assert _status(engine, ana, when).due == [FIRST_END]
    assert _status(engine, ben, when).due == []
    due = reminders.due_now(
        _journey(engine, ana), checkin_done=True, today=when.date(), outcome=_status(engine, ana, when)
    )
    texts = [(r.text, r.page) for r in due]
    assert (f"How we're doing: the questionnaire after {PROGRAM.stages[0].title}", "outcome") in texts
    for early in (outcomes.stage_end_occasion(STAGES[1]), outcomes.PROGRAM_END, outcomes.FOLLOW_UP):
        with pytest.raises(outcomes.OutcomeError, match="not due"):
            _send(engine, ana, early, when)
    with pytest.raises(outcomes.OutcomeError, match="not due"):
        _send(engine, ben, FIRST_END, when)
    with read_session(engine) as session:  # refused means nothing half-saved: not even a sent row
        sent = session.exec(
            select(QuestionnaireSubmission.occasion).where(QuestionnaireSubmission.submitted_at.is_not(None))  # type: ignore[union-attr]
        ).all()
    assert sorted(sent) == ["baseline"] * 2 + [f"{FIRST}:end", f"{FIRST}:start"]
    _send(engine, ana, FIRST_END, when)
    assert _status(engine, ana, when).due == []
    with pytest.raises(questionnaires.QuestionnaireError, match="already sent"):
        _send(engine, ana, FIRST_END, when)


def test_a_later_occasion_waits_until_the_earlier_one_is_sent(engine: Engine) -> None:
    """Ana skipped the first stage's occasion and finished the second stage: she is asked for the first,
    and the second's comes due only once the first is sent."""
    ana, ben, _ = _couple_through_assessment(engine)
    for partner in (ana, ben):
        finish_stage(engine, partner, FIRST)
    finish_stage(engine, ana, STAGES[1], now=T0 + timedelta(days=10))
    when = T0 + timedelta(days=20)
    assert _status(engine, ana, when).due == [FIRST_END]
    _send(engine, ana, FIRST_END, when)
    assert _status(engine, ana, when).due == [outcomes.stage_end_occasion(STAGES[1])]


def test_program_end_then_follow_up_exactly_the_configured_weeks_later(engine: Engine) -> None:
    """After the last stage: the end of the program; the follow-up exactly follow_up_weeks after the end
    was sent, not a second earlier, with the date said beforehand."""
    settings = _settings(follow_up_weeks=3)
    ana, ben, _ = _couple_through_assessment(engine)
    when = T0
    for stage in STAGES:
        when += timedelta(days=10)
        for partner in (ana, ben):
            finish_stage(engine, partner, stage, now=when)
        when += timedelta(days=8)
        if stage != STAGES[-1]:  # the last stage's end is the program's end
            _send(engine, ana, outcomes.stage_end_occasion(stage), when, settings=settings)
    assert _status(engine, ana, when, settings).due == [outcomes.PROGRAM_END]
    assert _status(engine, ben, when, settings).due == [FIRST_END]
    ended = when + timedelta(hours=5)
    _send(engine, ana, outcomes.PROGRAM_END, ended, settings=settings)
    just_before = ended + timedelta(weeks=3) - timedelta(seconds=1)
    status = _status(engine, ana, just_before, settings)
    assert status.due == [] and status.upcoming == outcomes.FOLLOW_UP
    assert status.upcoming_at == ended + timedelta(weeks=3)
    with pytest.raises(outcomes.OutcomeError, match="not due"):
        _send(engine, ana, outcomes.FOLLOW_UP, just_before, settings=settings)
    assert _status(engine, ana, ended + timedelta(weeks=3), settings).due == [outcomes.FOLLOW_UP]
    _send(engine, ana, outcomes.FOLLOW_UP, ended + timedelta(weeks=3), settings=settings)
    done = _status(engine, ana, ended + timedelta(weeks=30), settings)
    assert done.due == [] and done.upcoming is None
    assert list(done.sent) == outcomes.occasions(PROGRAM)


def test_another_instrument_is_due_alongside_the_assessment(engine: Engine) -> None:
    """An operator's measure (here a shipped check standing in for one) has its own start, due from the
    first day beside the assessment, with its own reminder; answering the assessment does not send it."""
    settings = _settings(outcome_instrument=PROGRAM.stages[0].check)
    ana = make_person(engine, "ana")
    finish_assessment(engine, ana)
    status = _status(engine, ana, T0, settings)
    assert status.instrument.key == PROGRAM.stages[0].check and status.due == [questionnaires.BASELINE]
    due = reminders.due_now(_journey(engine, ana), checkin_done=True, today=T0.date(), outcome=status)
    # (Alone, she may also go on with the first stage: the solo track. The outcome's start has its own line.)
    assert [(r.text, r.page) for r in due if r.page == "outcome"] == [
        ("How we're doing: the questionnaire at the start", "outcome")
    ]
    _send(engine, ana, questionnaires.BASELINE, T0, settings=settings)
    assert _status(engine, ana, T0, settings).due == []


def test_an_unknown_outcome_instrument_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    """A typo in the setting is refused when the settings are read, naming the setting and every
    instrument it could name, the operator's own included; an operator's instrument is accepted."""
    (tmp_path / "instruments").mkdir()
    (tmp_path / "instruments" / "test-instrument.toml").write_text(
        (ROOT / "golden" / "test-instrument.toml").read_text()
    )
    with pytest.raises(ValidationError) as refused:
        _settings(outcome_instrument="kindred-baselin", data_dir=tmp_path)
    message = str(refused.value)
    assert "outcome_instrument" in message and "kindred-baselin" in message
    assert BASELINE_KEY in message and "test-instrument" in message
    settings = _settings(outcome_instrument="test-instrument", data_dir=tmp_path)
    program = load_program(CONTENT_DIR, operator_instruments=settings.instruments_dir)
    assert outcomes.outcome_instrument(program, settings).key == "test-instrument"
    # The program itself is checked too (a file removed after start-up): a clear error, not a KeyError.
    with pytest.raises(SettingsError, match="outcome_instrument.*test-instrument"):
        outcomes.outcome_instrument(PROGRAM, settings)
    with pytest.raises(ValidationError, match="follow_up_weeks"):
        _settings(follow_up_weeks=0)


def test_each_occasion_stays_blind_until_both_sent_it(engine: Engine) -> None:
    """Ana sent the first stage's occasion; Ben has not. Ben cannot read Ana's answers to it (though both
    sent the start, which they can read), nor can anyone in another couple; once Ben sends, both can."""
    ana, ben, couple = _couple_through_assessment(engine)
    cai, dee = make_person(engine, "cai"), make_person(engine, "dee")
    make_couple(engine, cai, dee)
    for partner in (ana, ben):
        finish_stage(engine, partner, FIRST)
    when = T0 + timedelta(days=9)
    _send(engine, ana, FIRST_END, when, value=6)

    def readable(viewer: Viewer, occasion: str) -> dict[int, dict[str, int | None]]:
        with read_session(engine) as session:
            return access.readable_answers(
                session=session, viewer=viewer, couple_id=couple, instrument=BASELINE_KEY, occasion=occasion
            )

    assert readable(ben, FIRST_END) == {}
    assert readable(ana, FIRST_END) == {ana.person_id: dict.fromkeys(ITEMS, 6)}
    assert set(readable(ben, questionnaires.BASELINE)) == {ana.person_id, ben.person_id}
    with read_session(engine) as session:
        views = access.couple_submissions(session=session, viewer=ben, couple_id=couple)
    anas = [v for v in views if v.person_id == ana.person_id and v.occasion == FIRST_END]
    assert len(anas) == 1 and anas[0].answers is None and anas[0].submitted_at is not None
    for outsider in (cai, dee):
        with pytest.raises(AccessDenied):
            readable(outsider, FIRST_END)
    _send(engine, ben, FIRST_END, when, value=2)
    assert readable(ben, FIRST_END) == {
        ana.person_id: dict.fromkeys(ITEMS, 6),
        ben.person_id: dict.fromkeys(ITEMS, 2),
    }


def test_a_couple_that_ends_and_re_forms_starts_its_occasions_afresh(engine: Engine) -> None:
    """Ana and Ben both sent the first stage's occasion, then parted and paired again: in the new couple
    nothing of the old counts as sent, the start is due again, and the old answers are never readable."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=ana, key=KEY, now=T0).code
    with write_session(engine) as session:
        couples.join_couple(session=session, viewer=ben, code=code, key=KEY, now=T0)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
    for partner in (ana, ben):
        finish_stage(engine, partner, FIRST)
    when = T0 + timedelta(days=9)
    for partner in (ana, ben):
        _send(engine, partner, FIRST_END, when)
    later = when + timedelta(days=1)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=later)
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=ben, key=KEY, now=later).code
    with write_session(engine) as session:
        again = couples.join_couple(session=session, viewer=ana, code=code, key=KEY, now=later)
    for partner in (ana, ben):
        status = _status(engine, partner, later)
        assert status.sent == {} and status.due == [questionnaires.BASELINE]
    with read_session(engine) as session:
        assert (
            access.readable_answers(
                session=session, viewer=ana, couple_id=again, instrument=BASELINE_KEY, occasion=FIRST_END
            )
            == {}
        )
    with pytest.raises(outcomes.OutcomeError, match="not due"):
        _send(engine, ana, FIRST_END, later)


def _journey(engine: Engine, viewer: Viewer) -> journey.Journey:
    with read_session(engine) as session:
        return journey.load_journey(session=session, viewer=viewer, program=PROGRAM)
