"""A person's own answers, read and kept in program/privacy/answers.py: only ever the viewer's own
submissions, whoever calls, even with the other partner's submission in hand (as a bug or an attacker
holding an id would)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import questionnaires
from program.infra.db import read_session, write_session
from program.infra.models import QuestionnaireSubmission
from program.privacy import answers
from program.privacy.access import AccessDenied
from program.privacy.tables import QuestionnaireAnswer
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, T0

BASELINE = PROGRAM.assessment.overview.questionnaire
ITEMS = [item.key for item in PROGRAM.instruments[BASELINE].items]


def _save(engine: Engine, viewer: Viewer, item: str, value: int) -> None:
    with write_session(engine) as session:
        questionnaires.save_answer(
            session=session, viewer=viewer, instrument=PROGRAM.instruments[BASELINE], occasion="baseline",
            item=item, value=value, now=T0,
        )  # fmt: skip


def _submission(engine: Engine, viewer: Viewer) -> QuestionnaireSubmission:
    with read_session(engine) as session:
        row = session.exec(
            select(QuestionnaireSubmission).where(QuestionnaireSubmission.person_id == viewer.person_id)
        ).one()
        session.expunge(row)
        return row


def _values(engine: Engine, submission: QuestionnaireSubmission) -> dict[str, int | None]:
    with read_session(engine) as session:
        rows = session.exec(
            select(QuestionnaireAnswer).where(QuestionnaireAnswer.submission_id == submission.id)
        )
        return {row.item: row.value for row in rows}


@pytest.fixture
def couple(engine: Engine) -> tuple[Viewer, Viewer]:
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    _save(engine, ana, ITEMS[0], 4)
    _save(engine, ben, ITEMS[0], 1)
    return ana, ben


def test_a_partner_reads_their_own_answers(engine: Engine, couple: tuple[Viewer, Viewer]) -> None:
    ana, _ = couple
    mine = _submission(engine, ana)
    with read_session(engine) as session:
        read = answers.answers_by_submission(session=session, viewer=ana, submissions=[mine])
    assert read == {mine.id: {ITEMS[0]: 4}}


def test_the_other_partners_submission_is_refused_alone_or_among_ones_own(
    engine: Engine, couple: tuple[Viewer, Viewer]
) -> None:
    ana, ben = couple
    hers, his = _submission(engine, ana), _submission(engine, ben)
    for asked in ([his], [hers, his], [his, hers]):
        with read_session(engine) as session, pytest.raises(AccessDenied):
            answers.answers_by_submission(session=session, viewer=ana, submissions=asked)


def test_nobody_writes_into_the_other_partners_submission(
    engine: Engine, couple: tuple[Viewer, Viewer]
) -> None:
    ana, ben = couple
    his = _submission(engine, ben)
    with pytest.raises(AccessDenied), write_session(engine) as session:
        answers.keep_answers(session=session, viewer=ana, submission=his, answers={ITEMS[0]: 9, ITEMS[1]: 9})
    assert _values(engine, his) == {ITEMS[0]: 1}


def test_keeping_answers_adds_replaces_and_leaves_the_rest(
    engine: Engine, couple: tuple[Viewer, Viewer]
) -> None:
    ana, ben = couple
    mine = _submission(engine, ana)
    with write_session(engine) as session:
        answers.keep_answers(
            session=session, viewer=ana, submission=mine, answers={ITEMS[0]: 2, ITEMS[1]: None}
        )
    assert _values(engine, mine) == {ITEMS[0]: 2, ITEMS[1]: None}
    assert _values(engine, _submission(engine, ben)) == {ITEMS[0]: 1}
