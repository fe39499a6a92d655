"""The progress charts' data: a fixed number of queries, the blind rule, and nothing private."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from program.charts import figures, progress_data
from program.course import checkins, journey, outcomes, questionnaires, scoring
from program.course.curriculum import CHECKIN_KEYS, PracticeLogExercise, load_instruments
from program.infra.db import read_session, write_session
from program.infra.models import Role, Visibility
from program.privacy import access
from program.privacy.access import AccessDenied
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, finish_assessment, finish_stage

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


def _load(engine: Engine, viewer: Viewer, couple: int) -> progress_data.ProgressData:
    with read_session(engine) as session:
        return progress_data.load_progress(session=session, viewer=viewer, couple_id=couple, program=PROGRAM)


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
    assert long <= 12  # two of them read the shared goals (access.readable_goal_progress)


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
        before = progress_data.data_version(session=session, couple_id=couple)
        assert progress_data.data_version(session=session, couple_id=couple) == before
    _checkins(engine, ana, 1)
    with read_session(engine) as session:
        assert progress_data.data_version(session=session, couple_id=couple) != before


def test_the_data_version_moves_when_the_partner_joins_and_never_for_another_couple(engine: Engine) -> None:
    """Ana's couple: Ben joining moves its key (the charts then draw two partners); Cai and Dee forming
    their own couple, and a join there, leave it where it was (another couple never evicts or feeds it)."""
    ana, ben, cai, dee = (make_person(engine, name) for name in ("ana", "ben", "cai", "dee"))
    couple = make_couple(engine, ana)

    def version() -> tuple[object, ...]:
        with read_session(engine) as session:
            return progress_data.data_version(session=session, couple_id=couple)

    alone = version()
    other = make_couple(engine, cai)
    assert version() == alone
    with write_session(engine) as session:
        session.add(CoupleMembership(couple_id=other, person_id=dee.person_id))
    assert version() == alone
    with write_session(engine) as session:
        session.add(CoupleMembership(couple_id=couple, person_id=ben.person_id))
    assert version() != alone


# ---- issue 11: the outcome occasions, added questionnaires, practice and homework -----------------


def test_an_outcome_occasion_sent_by_one_partner_reaches_no_chart(engine: Engine) -> None:
    """Ana sent the outcome after the first stage, Ben not yet: neither her score nor her answers for it
    reach the chart data (for Ben, or for Ana's own view of the couple's charts); once Ben sends, both do."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    after_first = outcomes.stage_end_occasion(PROGRAM.stages[0].key)
    for partner in (ana, ben):
        answer_all(engine, partner, BASELINE, questionnaires.BASELINE, 4)
    answer_all(engine, ana, BASELINE, after_first, 7, now=T0 + timedelta(days=14))
    answer_all(engine, ben, BASELINE, after_first, 2, submit=False)  # Ben's draft stays his alone
    for viewer in (ana, ben):
        data = _load(engine, viewer, couple)
        assert [f.occasion for f in data.fillings] == [questionnaires.BASELINE]
        # Only the start's 4s: none of Ana's answers after the first stage (all 7s) reached a score.
        scores = [v for f in data.fillings for per in f.scores.values() for v in per.values()]
        assert scores and set(scores) == {4.0} and data.repeated == ()
        chart = figures.outcome_trajectory(data, PROGRAM, PROGRAM.instruments[BASELINE])
        assert isinstance(chart, figures.Chart) and list(chart.figure.data[0].hovertext) == ["Start: 4.0"]
    with write_session(engine) as session:
        questionnaires.submit(
            session=session, viewer=ben, instrument=PROGRAM.instruments[BASELINE], occasion=after_first,
            now=T0 + timedelta(days=15),
        )  # fmt: skip
    data = _load(engine, ben, couple)
    assert [f.occasion for f in data.fillings] == [questionnaires.BASELINE, after_first]
    chart = figures.outcome_trajectory(data, PROGRAM, PROGRAM.instruments[BASELINE])
    assert isinstance(chart, figures.Chart)
    main = figures.main_subscale(PROGRAM.instruments[BASELINE]).key
    high, low = (_all(BASELINE, value)[main] for value in (7, 2))  # some items are reverse-keyed
    assert list(chart.figure.data[0].y) == [4.0, high] and list(chart.figure.data[1].y) == [4.0, low]


def _all(instrument: str, value: int) -> dict[str, float | None]:
    form = PROGRAM.instruments[instrument]
    return {
        k: None if s.score is None else round(s.score, 1)
        for k, s in scoring.score(form, dict.fromkeys((i.key for i in form.items), value)).items()
    }


GOLDEN = load_instruments(Path(__file__).resolve().parents[1] / "golden")
EXTRA = GOLDEN["test-instrument"]
EXTRA_PROGRAM = PROGRAM.model_copy(
    update={"instruments": {**PROGRAM.instruments, EXTRA.key: EXTRA}, "extra_instruments": (EXTRA.key,)}
)


def _send_extra(engine: Engine, viewer: Viewer, day: int, value: int) -> None:
    when = T0 + timedelta(days=day)
    occasion = questionnaires.extra_occasion(when.date())
    with write_session(engine) as session:
        questionnaires.save_answers(
            session=session, viewer=viewer, instrument=EXTRA, occasion=occasion,
            answers={item.key: EXTRA.scale.max - value if item.reverse else value for item in EXTRA.items},
            now=when,
        )  # fmt: skip
        questionnaires.submit(session=session, viewer=viewer, instrument=EXTRA, occasion=occasion, now=when)


def test_an_added_questionnaire_charts_own_dates_but_never_a_filling_newer_than_the_others(
    engine: Engine,
) -> None:
    """Ana on day 0 and day 10, Ben on day 3: Ana's day 0 and Ben's day 3 are charted (each on its own
    date), Ana's day 10 is not until Ben sends one on or after that day; no item answers travel with them;
    a former partner's fillings never reach the next couple."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    _send_extra(engine, ana, 0, 1)
    assert _load_extra(engine, ben, couple).repeated == ()  # Ben has sent none: nothing of Ana's
    _send_extra(engine, ben, 3, 3)
    _send_extra(engine, ana, 10, 4)
    for viewer in (ana, ben):
        seen = [(r.person_id, r.sent_on.day) for r in _load_extra(engine, viewer, couple).repeated]
        assert seen == [(ana.person_id, 2), (ben.person_id, 5)]
    data = _load_extra(engine, ben, couple)
    assert data.fillings == ()  # never both on one day: no item answers at all
    ((_, chart),) = figures.added_trends(data, EXTRA_PROGRAM)
    assert isinstance(chart, figures.Chart) and [list(t.y) for t in chart.figure.data] == [[4.0], [12.0]]
    _send_extra(engine, ben, 12, 2)
    seen = [(r.person_id, r.sent_on.day) for r in _load_extra(engine, ana, couple).repeated]
    assert seen == [
        (ana.person_id, 2),
        (ana.person_id, 12),
        (ben.person_id, 5),
    ]  # Ben's day 12: Ana's 10 is older


def _load_extra(engine: Engine, viewer: Viewer, couple: int) -> progress_data.ProgressData:
    with read_session(engine) as session:
        return progress_data.load_progress(
            session=session, viewer=viewer, couple_id=couple, program=EXTRA_PROGRAM
        )


def test_practice_log_answers_and_homework_reach_the_chart_data(engine: Engine) -> None:
    """Ana's whole first stage (every log day yes and 5, homework with a note) and two days of Ben's log:
    the yes/no and ratings by day, homework done for Ana only, and no free text."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
    stage = PROGRAM.stages[0]
    log = next(e for e in stage.exercises if isinstance(e, PracticeLogExercise))
    finish_stage(engine, ana, stage.key)
    answer_all(engine, ben, stage.check, questionnaires.stage_occasion(stage.key, "start"), 3)
    rating = next(f.key for f in log.fields if f.type == "rating")
    yesno = next(f.key for f in log.fields if f.type == "yesno")
    text = next(f.key for f in log.fields if f.type == "text")
    with write_session(engine) as session:
        for day, values in ((1, {rating: 2, yesno: False}), (2, {rating: 4, yesno: True})):
            journey.save_log_entry(
                session=session, viewer=ben, stage=stage, exercise=log.key, day=day, values=values,
                now=T0 + timedelta(days=1),
            )  # fmt: skip
    data = _load(engine, ben, couple)
    bens = [(n.day.day, n.field, n.value) for n in data.practice if n.person_id == ben.person_id]
    assert bens == [(3, rating, 2.0), (3, yesno, 0.0), (4, rating, 4.0), (4, yesno, 1.0)]
    anas = [n for n in data.practice if n.person_id == ana.person_id]
    assert len(anas) == 2 * log.days and {n.value for n in anas} == {1.0, 5.0}
    assert text not in {n.field for n in data.practice}
    assert data.homework_done == {ana.person_id: frozenset({stage.key}), ben.person_id: frozenset()}
    chart = figures.stage_progress(data, PROGRAM)
    assert isinstance(chart, figures.Chart)
    ana_bar, ben_bar = chart.figure.data
    assert (ana_bar.customdata[1][2], ben_bar.customdata[1][2]) == (
        " · homework done",
        " · homework not done",
    )
    assert isinstance(figures.practice_trends(data), figures.Chart)


def test_an_added_questionnaire_named_the_outcome_keeps_its_start_blind_until_both_sent_it(
    engine: Engine,
) -> None:
    """The operator's questionnaire is both the outcome measure and on "More questionnaires". Ana sent its
    start and a filling on day 1; Ben only a filling on day 5. Ben's later day must not open Ana's start:
    the over-time rule is for fillings over time, and the start stays blind until Ben sends his own."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        questionnaires.save_answers(
            session=session, viewer=ana, instrument=EXTRA, occasion=questionnaires.BASELINE,
            answers={item.key: EXTRA.scale.max for item in EXTRA.items}, now=T0,
        )  # fmt: skip
        questionnaires.submit(
            session=session, viewer=ana, instrument=EXTRA, occasion=questionnaires.BASELINE, now=T0
        )
    _send_extra(engine, ana, 1, 1)
    _send_extra(engine, ben, 5, 3)
    for viewer in (ana, ben):
        with read_session(engine) as session:
            views = access.couple_submissions(
                session=session, viewer=viewer, couple_id=couple, over_time=True
            )
        opened = {(v.person_id, v.occasion) for v in views if v.answers is not None}
        assert (ana.person_id, questionnaires.BASELINE) not in opened, opened
        assert (ana.person_id, questionnaires.extra_occasion((T0 + timedelta(days=1)).date())) in opened
