"""The solo track: a partner whose partner has not joined, or has shown no sign for 14 days, goes on alone
with each stage's solo steps; guided conversations wait; a partner who comes back continues from their own
place, and nothing of the other's private work reaches them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, update

from program.course import checkins, journey, questionnaires, reflections
from program.infra.db import read_session, write_session
from program.infra.models import ExerciseRecord, Role
from program.privacy import access
from program.privacy.access import AccessDenied
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, do_step, finish_assessment

FIRST, SECOND, THIRD = (stage.key for stage in PROGRAM.stages[:3])
DAY = timedelta(days=1)


def _journey(engine: Engine, viewer: Viewer, now: datetime) -> journey.Journey:
    with read_session(engine) as session:
        return journey.load_journey(session=session, viewer=viewer, program=PROGRAM, now=now)


def _joined(engine: Engine, couple_id: int, when: datetime) -> None:
    """Date the couple's memberships back, as if both joined at `when`."""
    with write_session(engine) as session:
        session.exec(
            update(CoupleMembership)
            .where(col(CoupleMembership.couple_id) == couple_id)
            .values(joined_at=when)
        )


def _conversations(stage: str) -> list[str]:
    return [e.key for e in PROGRAM.stage_by_key[stage].exercises if e.kind == "conversation"]


def _solo_stage(engine: Engine, viewer: Viewer, stage: str, now: datetime, *, started: bool = False) -> None:
    """Every step of a stage but its guided conversations, end check included."""
    check = PROGRAM.stage_by_key[stage].check
    if not started:
        answer_all(engine, viewer, check, questionnaires.stage_occasion(stage, "start"), 3, now=now)
    for step in journey.stage_steps(PROGRAM, stage)[1:-1]:
        if step not in _conversations(stage):
            do_step(engine, viewer, stage, step, now=now)
    answer_all(engine, viewer, check, questionnaires.stage_occasion(stage, "end"), 6, now=now + DAY)


def _pair(engine: Engine) -> tuple[Viewer, Viewer, int]:
    """Ana and Ben, together since T0 - 1 day, both through the assessment at T0; Ana then finishes the
    first stage alone (its conversation with Ben) by T0 + 2 days and Ben does nothing more."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    couple = make_couple(engine, ana, ben)
    _joined(engine, couple, T0 - DAY)
    finish_assessment(engine, ana)
    finish_assessment(engine, ben)
    _solo_stage(engine, ana, FIRST, T0 + DAY)
    return ana, ben, couple


def test_without_a_partner_the_next_stage_opens_once_the_previous_is_finished(engine: Engine) -> None:
    """Ana's partner hasn't joined: her first stage opens when her assessment is done, its conversation
    waits (refused with why), she may take the end check without it, and the next stage opens for her."""
    ana = make_person(engine, "ana", name="Ana")
    make_couple(engine, ana)
    progress = _journey(engine, ana, T0)
    assert progress.solo == journey.Solo.NOT_JOINED and not progress.is_open(FIRST)
    assert "opens once your partner has joined you" in progress.why_closed(FIRST)
    finish_assessment(engine, ana)
    assert _journey(engine, ana, T0).is_open(FIRST) and not _journey(engine, ana, T0).is_open(SECOND)
    answer_all(engine, ana, PROGRAM.stage_by_key[FIRST].check, questionnaires.stage_occasion(FIRST, "start"))
    [talk] = _conversations(FIRST)
    with pytest.raises(journey.JourneyError, match="waits until your partner has joined"):
        do_step(engine, ana, FIRST, talk)
    progress = _journey(engine, ana, T0)
    assert progress.next_step(FIRST) != talk and progress.may_skip(FIRST, talk)
    _solo_stage(engine, ana, FIRST, T0, started=True)
    progress = _journey(engine, ana, T0)
    assert progress.me.finished_at(FIRST) is not None and not progress.me.did(FIRST, talk)
    assert progress.is_open(SECOND) and not progress.is_open(THIRD)


def test_a_person_with_no_couple_yet_goes_on_alone_too(engine: Engine) -> None:
    """No couple at all: the solo work counts, and waits for no one but the person."""
    ana = make_person(engine, "ana", name="Ana")
    finish_assessment(engine, ana)
    _solo_stage(engine, ana, FIRST, T0)
    assert _journey(engine, ana, T0).is_open(SECOND)


@pytest.mark.parametrize(("days", "alone"), [(13, False), (14, True)])
def test_the_partner_is_away_after_14_days_not_13(engine: Engine, days: int, alone: bool) -> None:
    """Ben's last sign is his assessment at T0: at 13 days (to the second before 14) Ana waits for him;
    at 14 days the second stage opens for her alone."""
    ana, _, _ = _pair(engine)
    at = T0 + timedelta(days=days) - (timedelta(seconds=1) if not alone else timedelta(0))
    progress = _journey(engine, ana, at)
    assert (progress.solo == journey.Solo.AWAY) is alone
    assert progress.is_open(SECOND) is alone
    if not alone:
        assert progress.why_closed(SECOND).endswith("Still to finish it: Ben.")


def test_a_check_in_counts_for_its_whole_week(engine: Engine) -> None:
    """Ben checks in on the Monday of T0's week: he counts as seen until that week's end, so Ana goes on
    alone 14 days after the Sunday, never from the day he checked in (which she cannot see)."""
    ana, ben, _ = _pair(engine)
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session,
            viewer=ben,
            ratings=dict.fromkeys(("closeness", "communication", "conflict", "trust", "overall"), 5),
            note=None,
            today=T0.date(),
            now=T0,
        )
    week_end = datetime.combine(T0.date() + timedelta(days=7), datetime.min.time(), tzinfo=T0.tzinfo)
    assert not _journey(engine, ana, week_end + timedelta(days=14) - timedelta(seconds=1)).is_open(SECOND)
    assert _journey(engine, ana, week_end + timedelta(days=14)).is_open(SECOND)


def test_what_ana_cannot_see_of_ben_never_keeps_him_present(engine: Engine) -> None:
    """Ben writes a private reflection, saves a draft questionnaire and completes a record outside the
    program's stages on day 10: none of it shows to Ana, so none of it moves the day the solo track opens
    for her (day 14)."""
    ana, ben, couple = _pair(engine)
    later = T0 + 10 * DAY
    with write_session(engine) as session:
        reflections.save_text(
            session=session, viewer=ben, context=f"{FIRST}:mine", body="his own", visibility=None, now=later
        )
        # A record outside the program's stages (another module's own log), done on day 10.
        session.add(
            ExerciseRecord(
                person_id=ben.person_id, couple_id=couple, stage="ongoing", exercise="log",
                started_at=later, updated_at=later, completed_at=later,
            )
        )  # fmt: skip
    answer_all(
        engine, ben, PROGRAM.stage_by_key[FIRST].check, questionnaires.stage_occasion(FIRST, "start"),
        submit=False, now=later,
    )  # fmt: skip
    with read_session(engine) as session:
        assert (
            access.partner_last_seen(
                session=session, viewer=ana, couple_id=_couple(engine, ana), stages=journey.ORDER
            )
            == T0
        )
    assert _journey(engine, ana, T0 + 14 * DAY).is_open(SECOND)
    # A sent start check is visible as sent: from then on Ben counts as seen.
    answer_all(
        engine, ben, PROGRAM.stage_by_key[FIRST].check, questionnaires.stage_occasion(FIRST, "start"),
        now=later,
    )  # fmt: skip
    assert not _journey(engine, ana, T0 + 14 * DAY).is_open(SECOND)
    assert _journey(engine, ana, later + 14 * DAY).is_open(SECOND)


def _couple(engine: Engine, viewer: Viewer) -> int:
    with read_session(engine) as session:
        couple = access.current_couple_id(session=session, viewer=viewer)
    assert couple is not None
    return couple


def test_only_the_partner_learns_when_their_partner_was_last_seen(engine: Engine) -> None:
    """A therapist, and a partner of another couple, are refused the clock; Dee's activity never moves
    Ana's (two couples)."""
    ana, _, couple = _pair(engine)
    cai, dee = make_person(engine, "cai"), make_person(engine, "dee")
    other = make_couple(engine, cai, dee)
    kim = make_person(engine, "kim", Role.THERAPIST)
    finish_assessment(engine, dee, now=T0 + 13 * DAY)
    with read_session(engine) as session:
        for viewer, couple_id in ((kim, couple), (cai, couple), (ana, other)):
            with pytest.raises(AccessDenied):
                access.partner_last_seen(
                    session=session, viewer=viewer, couple_id=couple_id, stages=journey.ORDER
                )
    assert _journey(engine, ana, T0 + 14 * DAY).solo == journey.Solo.AWAY


def test_when_ben_comes_back_each_continues_from_their_own_place(engine: Engine) -> None:
    """Ana went on alone into the second stage while Ben was away. Ben comes back (sends his first
    stage's start check): his journey is his own (first stage open, second closed until he finishes);
    Ana keeps the stage she started, its conversation waits for Ben to reach it, the third stage waits for
    the couple's rule, and none of Ana's private answers or texts reach Ben."""
    ana, ben, couple = _pair(engine)
    back = T0 + 15 * DAY
    second = PROGRAM.stage_by_key[SECOND].check
    answer_all(engine, ana, second, questionnaires.stage_occasion(SECOND, "start"), now=back - DAY)
    with write_session(engine) as session:
        reflections.save_text(
            session=session, viewer=ana, context=f"{SECOND}:mine", body="Ana's own", visibility=None, now=back
        )
    answer_all(engine, ben, PROGRAM.stage_by_key[FIRST].check, questionnaires.stage_occasion(FIRST, "start"),
               now=back)  # fmt: skip
    seen_by_ben = _journey(engine, ben, back)
    assert seen_by_ben.solo is None and seen_by_ben.current_stage() == FIRST
    assert not seen_by_ben.is_open(SECOND)
    seen_by_ana = _journey(engine, ana, back)
    assert seen_by_ana.solo is None and seen_by_ana.is_open(SECOND)
    talk = _conversations(SECOND)[0]
    waiting = seen_by_ana.joint_waiting_reason(SECOND)
    assert waiting is not None and "Ben reaches this stage" in waiting
    with pytest.raises(journey.JourneyError, match="Ben reaches this stage"):
        do_step(engine, ana, SECOND, talk, now=back)
    # The first stage's conversation Ana left for later can now be had together.
    [first_talk] = _conversations(FIRST)
    do_step(engine, ana, FIRST, first_talk, now=back)
    _solo_stage(engine, ana, SECOND, back, started=True)
    assert not _journey(engine, ana, back + 2 * DAY).is_open(THIRD)
    with read_session(engine) as session:
        assert all(r.person_id == ben.person_id for r in access.readable_reflections(
            session=session, viewer=ben, couple_id=couple))  # fmt: skip
        assert ana.person_id not in access.readable_answers(
            session=session, viewer=ben, couple_id=couple, instrument=PROGRAM.stage_by_key[SECOND].check,
            occasion=questionnaires.stage_occasion(SECOND, "start"),
        )  # fmt: skip
    # Ben goes his own way through the first stage (with the conversation, as it is open for both).
    for step in journey.stage_steps(PROGRAM, FIRST)[1:-1]:
        do_step(engine, ben, FIRST, step, now=back)
    answer_all(engine, ben, PROGRAM.stage_by_key[FIRST].check, questionnaires.stage_occasion(FIRST, "end"),
               now=back + DAY)  # fmt: skip
    assert _journey(engine, ben, back + 8 * DAY).is_open(SECOND)


def test_a_stage_not_yet_started_closes_again_when_the_partner_comes_back(engine: Engine) -> None:
    """The solo track opened the second stage for Ana, but she had not begun it when Ben came back: it
    waits for both again, with the usual reason."""
    ana, ben, _ = _pair(engine)
    assert _journey(engine, ana, T0 + 14 * DAY).is_open(SECOND)
    assert _journey(engine, ana, T0 + 15 * DAY).is_open(SECOND)
    answer_all(engine, ben, PROGRAM.stage_by_key[FIRST].check, questionnaires.stage_occasion(FIRST, "start"),
               now=T0 + 15 * DAY)  # fmt: skip
    progress = _journey(engine, ana, T0 + 15 * DAY)
    assert not progress.is_open(SECOND)
    assert progress.why_closed(SECOND).endswith("Still to finish it: Ben.")
