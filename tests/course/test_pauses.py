"""Pausing joint work, as an attacker sees it: the partner learns one bit, never the reason, and cannot
end someone else's pause; solo work stays open; nothing nudges anyone toward a guided conversation."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import journey, pauses, reminders
from program.course.curriculum import ConversationExercise
from program.infra.db import read_session, write_session
from program.infra.models import JointPause, PauseReason, Role
from program.privacy import access, couples
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, do_step, finish_assessment

STAGE = PROGRAM.stage_by_key["communication"]
CONVERSATION = next(e.key for e in STAGE.exercises if isinstance(e, ConversationExercise))
SOLO = next(e.key for e in STAGE.exercises if not isinstance(e, ConversationExercise))
TODAY = date(2026, 11, 3)


def _journey(engine: Engine, viewer: Viewer) -> journey.Journey:
    with read_session(engine) as session:
        return journey.load_journey(session=session, viewer=viewer, program=PROGRAM)


def _in_communication(engine: Engine, suffix: str = "") -> tuple[Viewer, Viewer, int]:
    """Ana and Ben, both started on Communication (start check sent)."""
    ana = make_person(engine, f"ana{suffix}", name="Ana")
    ben = make_person(engine, f"ben{suffix}", name="Ben")
    couple = make_couple(engine, ana, ben)
    for who in (ana, ben):
        finish_assessment(engine, who)
        answer_all(engine, who, STAGE.check, "communication:start", 4)
    return ana, ben, couple


def _pause(engine: Engine, viewer: Viewer, reason: PauseReason | str) -> None:
    with write_session(engine) as session:
        pauses.start_pause(session=session, viewer=viewer, reason=reason, now=T0)


def _complete(engine: Engine, viewer: Viewer, step: str) -> None:
    do_step(engine, viewer, "communication", step, now=T0)


def _what_ben_learns(engine: Engine, ben: Viewer, couple: int) -> dict[str, object]:
    """Everything the domain tells Ben about his couple's joint work."""
    progress = _journey(engine, ben)
    with read_session(engine) as session:
        view = access.readable_pause(session=session, viewer=ben, couple_id=couple)
    try:
        progress.check_allowed("communication", CONVERSATION)
        refusal = ""
    except journey.JourneyError as error:
        refusal = str(error)
    return {
        "pause": asdict(view),
        "due": reminders.due_now(progress, checkin_done=False, today=TODAY),
        "news": reminders.partner_news(progress),
        "next": [progress.next_step(stage) for stage in journey.ORDER],
        "refusal": refusal,
    }


@pytest.mark.parametrize("other", [PauseReason.BUSY, PauseReason.TRAVELLING, PauseReason.BREAK])
def test_the_partner_learns_the_same_from_a_safety_pause_as_from_any_other(
    engine: Engine, other: str
) -> None:
    """Ben's pause view, reminders, news, next steps and refusals are identical for "safety" and the rest."""
    seen = []
    for reason in (PauseReason.SAFETY, other):
        # Two couples side by side, alike in all but the reason Ana gave.
        ana, ben, couple = _in_communication(engine, suffix=reason)
        _complete(engine, ana, SOLO)
        _pause(engine, ana, reason)
        seen.append(_what_ben_learns(engine, ben, couple))
    assert seen[0] == seen[1]
    assert seen[0]["pause"] == {"own_reason": None, "others_paused": True}
    assert seen[0]["refusal"] == pauses.PARTNER_PAUSED


def test_the_pause_view_never_carries_the_reason_to_anyone_but_the_pauser(engine: Engine) -> None:
    """Ana reads her reason; Ben and their therapist read only that joint work is paused."""
    ana, ben, couple = _in_communication(engine)
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    grant(engine, couple, kim, ana)
    grant(engine, couple, kim, ben)
    _pause(engine, ana, PauseReason.SAFETY)
    with read_session(engine) as session:
        assert access.readable_pause(session=session, viewer=ana, couple_id=couple) == access.PauseView(
            PauseReason.SAFETY, False
        )
        for other in (ben, kim):
            assert access.readable_pause(session=session, viewer=other, couple_id=couple) == access.PauseView(
                None, True
            )
        outsider = make_person(engine, "eve")
        with pytest.raises(AccessDenied):
            access.readable_pause(session=session, viewer=outsider, couple_id=couple)


def test_guided_conversations_close_for_both_and_solo_work_stays_open(engine: Engine) -> None:
    """While Ana's pause stands neither can do the conversation; both can do their solo exercises."""
    ana, ben, _ = _in_communication(engine)
    _pause(engine, ana, PauseReason.BUSY)
    for who, message in ((ana, pauses.OWN_PAUSE), (ben, pauses.PARTNER_PAUSED)):
        with pytest.raises(journey.JourneyError) as refused:
            _complete(engine, who, CONVERSATION)
        assert str(refused.value) == message
        _complete(engine, who, SOLO)
        assert _journey(engine, who).me.did("communication", SOLO)


def test_nothing_nudges_either_partner_toward_a_conversation_while_paused(engine: Engine) -> None:
    """No "Due now" entry or news names the guided conversation while a pause stands; after it, they do."""
    ana, ben, _ = _in_communication(engine)
    _complete(engine, ana, SOLO)
    _complete(engine, ben, SOLO)
    _complete(engine, ana, CONVERSATION)  # Ana had the conversation before pausing
    title = STAGE.exercise(CONVERSATION).title
    before = _journey(engine, ben)
    assert any(title in item.text for item in reminders.due_now(before, checkin_done=True, today=TODAY))
    assert any(title in news for news in reminders.partner_news(before))
    _pause(engine, ana, PauseReason.SAFETY)
    for who in (ana, ben):
        progress = _journey(engine, who)
        texts = [item.text for item in reminders.due_now(progress, checkin_done=True, today=TODAY)]
        texts += reminders.partner_news(progress)
        assert not any(title in text for text in texts), texts
        assert progress.next_step("communication") != CONVERSATION
    with write_session(engine) as session:
        assert pauses.end_pause(session=session, viewer=ana, now=T0 + timedelta(hours=1))
    after = _journey(engine, ben)
    assert after.next_step("communication") == CONVERSATION


def test_the_partner_cannot_end_someone_elses_pause(engine: Engine) -> None:
    """Ben's "end pause" ends nothing of Ana's; only Ana ends hers."""
    ana, ben, couple = _in_communication(engine)
    _pause(engine, ana, PauseReason.SAFETY)
    with write_session(engine) as session:
        assert not pauses.end_pause(session=session, viewer=ben, now=T0)
    with read_session(engine) as session:
        assert access.readable_pause(session=session, viewer=ben, couple_id=couple).others_paused
    with pytest.raises(journey.JourneyError):
        _complete(engine, ben, CONVERSATION)
    with write_session(engine) as session:
        assert pauses.end_pause(session=session, viewer=ana, now=T0)
    _complete(engine, ben, CONVERSATION)


def test_one_standing_pause_per_person_and_a_new_reason_replaces_the_old(engine: Engine) -> None:
    """Pausing twice keeps one pause; a second partner's pause is their own."""
    ana, ben, couple = _in_communication(engine)
    _pause(engine, ana, PauseReason.BUSY)
    _pause(engine, ana, PauseReason.SAFETY)
    _pause(engine, ben, PauseReason.TRAVELLING)
    with read_session(engine) as session:
        rows = session.exec(select(JointPause).where(JointPause.person_id == ana.person_id)).all()
        assert [(r.reason, r.ended_at) for r in rows] == [(PauseReason.SAFETY, None)]
        assert access.readable_pause(session=session, viewer=ana, couple_id=couple) == access.PauseView(
            PauseReason.SAFETY, True
        )


def test_bad_reasons_and_no_couple_are_refused_plainly(engine: Engine) -> None:
    """An unknown reason, a therapist or a partner without a couple gets a message, and nothing is saved."""
    ana, _, _ = _in_communication(engine)
    solo = make_person(engine, "sol")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    for who, reason, message in (
        (ana, "<script>", "choose a reason"),
        (solo, PauseReason.BUSY, "nothing to pause"),
        (kim, PauseReason.BUSY, "Only partners"),
    ):
        with pytest.raises(pauses.PauseError, match=message):
            _pause(engine, who, reason)
    with read_session(engine) as session:
        assert session.exec(select(JointPause)).all() == []


def test_a_pause_stays_with_the_couple_it_was_made_in(engine: Engine) -> None:
    """Ana paused with Ben; after that couple ends and she re-forms with Cai, Cai's joint work is open."""
    ana, ben, _ = _in_communication(engine)
    _pause(engine, ana, PauseReason.SAFETY)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=T0)
    cai = make_person(engine, "cai", name="Cai")
    new = make_couple(engine, ana, cai)
    with read_session(engine) as session:
        assert access.readable_pause(session=session, viewer=cai, couple_id=new) == access.PauseView(
            None, False
        )
    _pause(engine, ana, PauseReason.BREAK)  # a new pause in the new couple is possible
    with read_session(engine) as session:
        assert access.readable_pause(session=session, viewer=cai, couple_id=new).others_paused
    assert ben.person_id != cai.person_id


def test_the_partners_export_holds_nothing_of_a_pause(engine: Engine) -> None:
    """Ben's export is byte for byte the same before Ana pauses, while she pauses for safety, and for busy."""
    ana, ben, _ = _in_communication(engine)

    def bens_export() -> bytes:
        with read_session(engine) as session:
            return export.export_zip(session=session, viewer=ben, program=PROGRAM, now=T0)

    before = bens_export()
    _pause(engine, ana, PauseReason.SAFETY)
    during_safety = bens_export()
    _pause(engine, ana, PauseReason.BUSY)
    assert before == during_safety == bens_export()
