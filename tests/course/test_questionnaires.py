"""Questionnaires: drafts kept a page at a time, sending refused with the items missing on the server,
and blind until both have sent."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import Engine

from program.course import questionnaires
from program.infra.db import read_session, write_session
from program.infra.models import Role
from program.privacy import access
from program.privacy.viewer import Viewer
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all

BASELINE = PROGRAM.assessment.overview.questionnaire


def _save(engine: Engine, viewer: Viewer, item: str, value: int | None) -> None:
    with write_session(engine) as session:
        questionnaires.save_answer(
            session=session, viewer=viewer, instrument=PROGRAM.instruments[BASELINE], occasion="baseline",
            item=item, value=value, now=T0,
        )  # fmt: skip


def _readable(engine: Engine, viewer: Viewer, couple: int | None) -> dict[int, dict[str, int | None]]:
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


def _own(engine: Engine, viewer: Viewer) -> questionnaires.OwnAnswers:
    with read_session(engine) as session:
        return questionnaires.own_answers(
            session=session, viewer=viewer, instrument=BASELINE, occasion="baseline"
        )


def test_sending_names_every_item_missing_on_the_server_and_sends_nothing(engine: Engine) -> None:
    """Three answers never reached the server: sending is refused naming exactly those items."""
    ana = make_person(engine, "ana")
    instrument = PROGRAM.instruments[BASELINE]
    for number, item in enumerate(instrument.items, start=1):
        if number not in (3, 7, 12):
            _save(engine, ana, item.key, 4)
    with (
        pytest.raises(questionnaires.MissingAnswers, match=r"^Please answer 3, 7 and 12 first") as refused,
        write_session(engine) as session,
    ):
        questionnaires.submit(session=session, viewer=ana, instrument=instrument, occasion="baseline", now=T0)
    assert refused.value.numbers == (3, 7, 12)
    assert _own(engine, ana).submitted_at is None


def test_a_whole_area_unanswered_is_named_by_item_numbers(engine: Engine) -> None:
    """With every trust item blank, the refusal lists their numbers (runs shortened to "a to b")."""
    ana = make_person(engine, "ana")
    instrument = PROGRAM.instruments[BASELINE]
    trust = [n for n, item in enumerate(instrument.items, start=1) if item.subscale == "trust"]
    for number, item in enumerate(instrument.items, start=1):
        if number not in trust:
            _save(engine, ana, item.key, 4)
    with pytest.raises(questionnaires.MissingAnswers) as refused, write_session(engine) as session:
        questionnaires.submit(session=session, viewer=ana, instrument=instrument, occasion="baseline", now=T0)
    assert refused.value.numbers == tuple(trust)
    assert questionnaires.number_list(trust) in str(refused.value)


@pytest.mark.parametrize(
    ("numbers", "read"),
    [([5], "5"), ([3, 12], "3 and 12"), ([3, 7, 12], "3, 7 and 12"), ([1, 2, 3, 4, 9], "1 to 4 and 9"),
     ([2, 3, 8, 9, 10, 25], "2, 3, 8 to 10 and 25")],
)  # fmt: skip
def test_item_numbers_read_as_a_person_would_write_them(numbers: list[int], read: str) -> None:
    """Lists of item numbers in refusals."""
    assert questionnaires.number_list(numbers) == read


def test_a_page_of_answers_is_saved_in_one_write_and_sent_as_saved(engine: Engine) -> None:
    """A whole page saved at once, then sent: exactly those answers are the sent record."""
    ana = make_person(engine, "ana")
    instrument = PROGRAM.instruments[BASELINE]
    answers: dict[str, int | None] = {item.key: 1 + n % 7 for n, item in enumerate(instrument.items)}
    with write_session(engine) as session:
        questionnaires.save_answers(
            session=session, viewer=ana, instrument=instrument, occasion="baseline", answers=answers, now=T0
        )
        questionnaires.submit(session=session, viewer=ana, instrument=instrument, occasion="baseline", now=T0)
    own = _own(engine, ana)
    assert own.answers == answers and own.submitted_at is not None


def test_one_bad_answer_refuses_the_whole_page_and_saves_nothing(engine: Engine) -> None:
    """An off-scale or unknown item among good answers: nothing of the page is written."""
    ana = make_person(engine, "ana")
    instrument = PROGRAM.instruments[BASELINE]
    hostiles: list[dict[str, int | None]] = [{"not-an-item": 3}, {instrument.items[-1].key: 99}]
    for hostile in hostiles:
        answers: dict[str, int | None] = {item.key: 4 for item in instrument.items[:-1]}
        answers.update(hostile)
        with pytest.raises(questionnaires.QuestionnaireError), write_session(engine) as session:
            questionnaires.save_answers(
                session=session,
                viewer=ana,
                instrument=instrument,
                occasion="baseline",
                answers=answers,
                now=T0,
            )
    assert _own(engine, ana) == questionnaires.OwnAnswers({}, None)


def test_the_partners_answers_never_fill_my_gaps(engine: Engine) -> None:
    """Ben has answered everything; Ana has answered item 1 only: her send still names 2 to 25."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    answer_all(engine, ben, BASELINE, "baseline", 6, submit=False)
    _save(engine, ana, PROGRAM.instruments[BASELINE].items[0].key, 3)
    with (
        pytest.raises(questionnaires.MissingAnswers, match="answer 2 to 25 first"),
        write_session(engine) as s,
    ):
        questionnaires.submit(
            session=s, viewer=ana, instrument=PROGRAM.instruments[BASELINE], occasion="baseline", now=T0
        )


def _save_at_once(engine: Engine, viewer: Viewer, items: list[str]) -> list[BaseException]:
    """Each item saved by its own thread (a tab), all released together; the errors they met."""
    instrument = PROGRAM.instruments[BASELINE]
    barrier = threading.Barrier(len(items))
    errors: list[BaseException] = []

    def save(item: str) -> None:
        barrier.wait()
        try:
            with write_session(engine) as session:
                questionnaires.save_answers(
                    session=session, viewer=viewer, instrument=instrument, occasion="baseline",
                    answers={item: 5}, now=T0,
                )  # fmt: skip
        except BaseException as error:  # noqa: BLE001  (the test asserts there are none)
            errors.append(error)

    threads = [threading.Thread(target=save, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_tabs_saving_a_first_draft_at_once_all_keep_their_answers(engine: Engine) -> None:
    """Four tabs of one person save their first answers at the same moment, round after round: no database
    error reaches the person, and one draft holds every tab's answer."""
    items = [item.key for item in PROGRAM.instruments[BASELINE].items[:4]]
    for round_ in range(6):
        ana = make_person(engine, f"ana{round_}")
        assert _save_at_once(engine, ana, items) == []
        assert _own(engine, ana).answers == dict.fromkeys(items, 5)


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
