"""One occasion's answers never stand in for another's: a stage's opening check and its closing check,
with the same questionnaire. Written against the mutants that survived a mutation run of
program/privacy/access.py."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from program.course import questionnaires
from program.infra.db import read_session
from program.privacy import access
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, answer_all

STAGE = PROGRAM.stages[0]
START = questionnaires.stage_occasion(STAGE.key, "start")
END = questionnaires.stage_occasion(STAGE.key, "end")
ITEMS = [item.key for item in PROGRAM.instruments[STAGE.check].items]


def test_the_partners_opening_answers_do_not_show_as_closing_ones(engine: Engine) -> None:
    """Ana and Ben both sent the stage's opening check; only Ana has sent the closing one. Ana's closing view
    holds her own answers and nothing of Ben's: not his opening answers standing in for closing ones."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    answer_all(engine, ana, STAGE.check, START, 3)
    answer_all(engine, ben, STAGE.check, START, 4)
    answer_all(engine, ana, STAGE.check, END, 6)
    with read_session(engine) as session:
        closing = access.readable_answers(
            session=session, viewer=ana, couple_id=couple, instrument=STAGE.check, occasion=END
        )
        opening = access.readable_answers(
            session=session, viewer=ana, couple_id=couple, instrument=STAGE.check, occasion=START
        )
    assert closing == {ana.person_id: dict.fromkeys(ITEMS, 6)}
    assert opening == {ana.person_id: dict.fromkeys(ITEMS, 3), ben.person_id: dict.fromkeys(ITEMS, 4)}
