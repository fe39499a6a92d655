"""The progress charts' data: a fixed number of queries, the blind rule, and nothing private."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from program import checkins, progress, questionnaires
from program.access import AccessDenied, Viewer
from program.curriculum import CHECKIN_KEYS
from program.db import read_session, write_session
from program.models import Role, Visibility
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, finish_assessment

BASELINE = PROGRAM.assessment.overview.questionnaire


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    """Collect every SQL statement the engine runs inside the block."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _checkins(engine: Engine, viewer: Viewer, weeks: int, note: str | None = None) -> None:
    for week in range(weeks):
        day = (T0 + timedelta(weeks=week)).date()
        with write_session(engine) as session:
            checkins.save_checkin(
                session=session,
                viewer=viewer,
                ratings=dict.fromkeys(
                    ("closeness", "communication", "conflict", "trust", "overall"), 5 + week % 3
                ),
                note=note,
                today=day,
                now=T0 + timedelta(weeks=week),
            )


def _load(engine: Engine, viewer: Viewer, couple: int) -> progress.ProgressData:
    with read_session(engine) as session:
        return progress.load_progress(session=session, viewer=viewer, couple_id=couple, program=PROGRAM)


def _queries_for(engine: Engine, weeks: int) -> int:
    ana, ben = make_person(engine, f"ana{weeks}"), make_person(engine, f"ben{weeks}")
    couple = make_couple(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
        _checkins(engine, partner, weeks)
    with counted_queries(engine) as statements:
        data = _load(engine, ana, couple)
    assert len(data.checkins) == 2 * weeks
    return len(statements)


def test_the_number_of_queries_does_not_grow_with_history(engine: Engine) -> None:
    """Loading 4 weeks or 52 weeks of a couple's history takes the same small number of queries."""
    short, long = _queries_for(engine, 4), _queries_for(engine, 52)
    assert short == long
    assert long <= 10


def test_scores_and_answers_appear_only_for_questionnaires_both_sent(engine: Engine) -> None:
    """Ana's sent baseline is not in the chart data until Ben has sent his too."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    answer_all(engine, ana, BASELINE, "baseline", 2)
    answer_all(engine, ben, BASELINE, "baseline", 6, submit=False)
    assert _load(engine, ana, couple).fillings == ()
    assert _load(engine, ben, couple).fillings == ()
    answer_all(engine, ben, BASELINE, "baseline", 6, submit=False)
    with write_session(engine) as session:
        questionnaires.submit(
            session=session, viewer=ben, instrument=PROGRAM.instruments[BASELINE], occasion="baseline", now=T0
        )
    (filling,) = _load(engine, ana, couple).fillings
    assert set(filling.answers[ana.person_id].values()) == {2}
    assert set(filling.answers[ben.person_id].values()) == {6}


def test_chart_data_never_carries_notes_or_safety_answers(engine: Engine) -> None:
    """Private notes are stripped from check-ins; nothing of the safety screen is in the data at all."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    _checkins(engine, ana, 2, note="something private")
    data = _load(engine, ben, couple)
    assert [c.note for c in data.checkins] == [None, None]
    assert "safety" not in repr(data).lower()


def test_chart_data_follows_access_rules_and_leaves_even_shared_notes_out(engine: Engine) -> None:
    """No grants, no data for a therapist; with both grants the ratings, never a note (even a shared one)."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session, viewer=ana, ratings=dict.fromkeys(CHECKIN_KEYS, 7),
            note="for us both", note_visibility=Visibility.PARTNER, today=T0.date(), now=T0,
        )  # fmt: skip
    assert [(c.overall, c.note) for c in _load(engine, ben, couple).checkins] == [(7, None)]
    with pytest.raises(AccessDenied):
        _load(engine, kim, couple)
    grant(engine, couple, kim, ana)
    grant(engine, couple, kim, ben)
    assert len(_load(engine, kim, couple).checkins) == 1


def test_the_data_version_changes_when_new_data_arrives(engine: Engine) -> None:
    """The figure cache key moves on a new check-in, and stays put otherwise."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    with read_session(engine) as session:
        before = progress.data_version(session=session, couple_id=couple)
        assert progress.data_version(session=session, couple_id=couple) == before
    _checkins(engine, ana, 1)
    with read_session(engine) as session:
        assert progress.data_version(session=session, couple_id=couple) != before
