"""Questionnaires: drafts kept answer by answer, submission rules, and blind until both have sent."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from program import access, questionnaires
from program.db import read_session, write_session
from program.models import Role
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all

BASELINE = PROGRAM.assessment.overview.questionnaire


def _save(engine: Engine, viewer: access.Viewer, item: str, value: int | None) -> None:
    with write_session(engine) as session:
        questionnaires.save_answer(
            session=session, viewer=viewer, instrument=PROGRAM.instruments[BASELINE], occasion="baseline",
            item=item, value=value, now=T0,
        )  # fmt: skip


def _readable(engine: Engine, viewer: access.Viewer, couple: int | None) -> dict[int, dict[str, int | None]]:
    with read_session(engine) as session:
        return access.readable_answers(
            session=session, viewer=viewer, couple_id=couple, instrument=BASELINE, occasion="baseline"
        )


def test_a_draft_keeps_each_answer_and_can_change_before_sending(engine: Engine) -> None:
    """Answers are kept one by one, so closing the tab loses nothing, and can be changed until sent."""
    ana = make_person(engine, "ana")
    first = PROGRAM.instruments[BASELINE].items[0].key
    _save(engine, ana, first, 3)
    _save(engine, ana, first, 6)
    with read_session(engine) as session:
        own = questionnaires.own_answers(
            session=session, viewer=ana, instrument=BASELINE, occasion="baseline"
        )
    assert own.answers == {first: 6} and own.submitted_at is None


def test_sending_needs_enough_answers_in_every_area(engine: Engine) -> None:
    """With a whole area unanswered, sending is refused with what is missing, and nothing is sent."""
    ana = make_person(engine, "ana")
    instrument = PROGRAM.instruments[BASELINE]
    for item in instrument.items:
        if item.subscale != "trust":
            _save(engine, ana, item.key, 4)
    with (
        pytest.raises(questionnaires.QuestionnaireError, match="about trust"),
        write_session(engine) as session,
    ):
        questionnaires.submit(session=session, viewer=ana, instrument=instrument, occasion="baseline", now=T0)
    with read_session(engine) as session:
        assert (
            questionnaires.own_answers(
                session=session, viewer=ana, instrument=BASELINE, occasion="baseline"
            ).submitted_at
            is None
        )


def test_answers_outside_the_scale_are_refused(engine: Engine) -> None:
    """A value off the scale gets a message saying the range."""
    ana = make_person(engine, "ana")
    with pytest.raises(questionnaires.QuestionnaireError, match="from 1 to 7"):
        _save(engine, ana, PROGRAM.instruments[BASELINE].items[0].key, 9)


def test_sent_answers_cannot_be_changed(engine: Engine) -> None:
    """Once sent, a questionnaire is a fixed record."""
    ana = make_person(engine, "ana")
    answer_all(engine, ana, BASELINE, "baseline")
    with pytest.raises(questionnaires.QuestionnaireError, match="already sent"):
        _save(engine, ana, PROGRAM.instruments[BASELINE].items[0].key, 1)


def test_partners_answers_are_blind_until_both_have_sent(engine: Engine) -> None:
    """Ana sees Ben's item answers only once both sent; each partner's answers stay their own."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    answer_all(engine, ana, BASELINE, "baseline", 2)
    answer_all(engine, ben, BASELINE, "baseline", 6, submit=False)
    assert set(_readable(engine, ana, couple)) == {ana.person_id}
    assert set(_readable(engine, ben, couple)) == {ben.person_id}
    with write_session(engine) as session:
        questionnaires.submit(
            session=session, viewer=ben, instrument=PROGRAM.instruments[BASELINE], occasion="baseline", now=T0
        )
    both = _readable(engine, ana, couple)
    assert set(both[ana.person_id].values()) == {2} and set(both[ben.person_id].values()) == {6}


def test_a_therapist_sees_item_answers_only_with_access_and_once_both_sent(engine: Engine) -> None:
    """Without both grants the therapist is refused; with them, only sent pairs are visible."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    answer_all(engine, ana, BASELINE, "baseline")
    with pytest.raises(access.AccessDenied):
        _readable(engine, kim, couple)
    grant(engine, couple, kim, ana)
    grant(engine, couple, kim, ben)
    assert _readable(engine, kim, couple) == {}
    answer_all(engine, ben, BASELINE, "baseline")
    assert set(_readable(engine, kim, couple)) == {ana.person_id, ben.person_id}


def test_another_couples_answers_are_out_of_reach(engine: Engine) -> None:
    """Asking for another couple's answers by id is refused."""
    ana, ben, cai, dee = (make_person(engine, n) for n in ("ana", "ben", "cai", "dee"))
    make_couple(engine, ana, ben)
    theirs = make_couple(engine, cai, dee)
    answer_all(engine, cai, BASELINE, "baseline")
    with pytest.raises(access.AccessDenied):
        _readable(engine, ana, theirs)
