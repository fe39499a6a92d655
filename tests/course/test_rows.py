"""program.course.rows.add_or_winner: two tabs adding a partner's one row of a kind at once."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from program.course.rows import add_or_winner
from program.infra.models import CheckIn
from tests.factories import make_couple, make_person

WEEK = date(2026, 11, 23)


def _checkin(person_id: int, couple_id: int, overall: int) -> CheckIn:
    return CheckIn(
        person_id=person_id,
        couple_id=couple_id,
        week_start=WEEK,
        closeness=overall,
        communication=overall,
        conflict=overall,
        trust=overall,
        overall=overall,
    )


def _of(session: Session, person_id: int, couple_id: int) -> CheckIn | None:
    return session.exec(
        select(CheckIn).where(
            CheckIn.person_id == person_id, CheckIn.couple_id == couple_id, CheckIn.week_start == WEEK
        )
    ).first()


def test_a_new_row_is_added_and_the_second_tab_gets_the_winners_row(engine: Engine) -> None:
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    with Session(engine) as first:
        row = add_or_winner(first, _checkin(ana.person_id, couple, 3), lambda: None)
        first.commit()
        first_id = row.id
    with Session(engine) as second:
        late = _checkin(ana.person_id, couple, 8)
        row = add_or_winner(second, late, lambda: _of(second, ana.person_id, couple))
        assert row is not late and row.id == first_id and row.overall == 3
        # The session goes on after the lost race: the savepoint, not the transaction, was rolled back.
        row.overall = 8
        second.commit()
    with Session(engine) as check:
        rows = list(check.exec(select(CheckIn).where(col(CheckIn.person_id) == ana.person_id)))
        assert [(r.id, r.overall) for r in rows] == [(first_id, 8)]


def test_another_couples_row_is_no_winner(engine: Engine) -> None:
    """Ana's check-in with a former partner does not stand in for the new couple's: with no winner of its
    own to find, the refused insert's error goes on up."""
    ana, ben, cal = make_person(engine, "ana"), make_person(engine, "ben"), make_person(engine, "cal")
    former = make_couple(engine, ana, ben)
    current = make_couple(engine, cal)  # the helper reads no membership: only whose row it is, and where
    with Session(engine) as session:
        session.add(_checkin(ana.person_id, former, 5))
        session.commit()
        # The new couple's row is added beside the former couple's.
        added = add_or_winner(session, _checkin(ana.person_id, current, 6), lambda: None)
        session.commit()
        assert added.couple_id == current
        with pytest.raises(IntegrityError):
            add_or_winner(
                session, _checkin(ana.person_id, current, 7), lambda: _of(session, ana.person_id, 10_000)
            )
