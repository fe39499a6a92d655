"""Shared couple goals, tried as an attacker would: another couple, a couple that ended and re-formed, a
partner confirming their own proposal, a fourth goal, hostile text, and requests sent at the same moment."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from program.charts import figures
from program.charts.progress_data import GoalRatings, Partner, ProgressData
from program.course import couple_goals
from program.course.couple_goals import GoalError
from program.infra.db import read_session, write_session
from program.infra.models import CoupleGoal, GoalConfirmation, GoalRating, Role
from program.privacy import couples
from program.privacy.access import AccessDenied, readable_couple_goals, readable_goal_ratings
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import grant, make_couple, make_person, race
from tests.program_helpers import PROGRAM, T0, finish_assessment, finish_stage

FIRST_STAGE = PROGRAM.stages[0].key


@pytest.fixture
def pair(engine: Engine) -> tuple[Viewer, Viewer, int]:
    """Ana and Ben, a couple, both done with goals and strengths."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple_id = make_couple(engine, ana, ben)
    finish_assessment(engine, ana)
    finish_assessment(engine, ben)
    return ana, ben, couple_id


def _do(engine: Engine, action: Callable[..., object], viewer: Viewer, **kwargs: object) -> object:
    with write_session(engine) as session:
        return action(session=session, viewer=viewer, program=PROGRAM, now=T0, **kwargs)


def propose(engine: Engine, viewer: Viewer, body: str) -> int:
    goal_id = _do(engine, couple_goals.propose, viewer, body=body)
    assert isinstance(goal_id, int)
    return goal_id


def confirm(engine: Engine, viewer: Viewer, goal_id: int, seen: str) -> object:
    return _do(engine, couple_goals.confirm, viewer, goal_id=goal_id, seen_body=seen)


def goals(engine: Engine, viewer: Viewer, couple_id: int) -> list[tuple[str, bool]]:
    with read_session(engine) as session:
        return [
            (g.body, g.agreed)
            for g in readable_couple_goals(session=session, viewer=viewer, couple_id=couple_id)
        ]


def table_counts(engine: Engine) -> tuple[int, int, int]:
    with read_session(engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(model)).one()
            for model in (CoupleGoal, GoalConfirmation, GoalRating)
        )


def agree(engine: Engine, proposer: Viewer, other: Viewer, body: str) -> int:
    goal_id = propose(engine, proposer, body)
    assert confirm(engine, other, goal_id, body) is True
    return goal_id


def test_a_goal_is_agreed_when_the_other_accepts_it_as_it_reads(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    goal_id = propose(engine, ana, "Talk for ten minutes each evening")
    assert goals(engine, ben, couple_id) == [("Talk for ten minutes each evening", False)]
    assert confirm(engine, ben, goal_id, "Talk for ten minutes each evening") is True
    assert goals(engine, ana, couple_id) == [("Talk for ten minutes each evening", True)]


def test_a_partner_cannot_confirm_their_own_proposal(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    goal_id = propose(engine, ana, "Fewer phones at dinner")
    with pytest.raises(GoalError, match="You wrote this version"):
        confirm(engine, ana, goal_id, "Fewer phones at dinner")
    assert goals(engine, ana, couple_id) == [("Fewer phones at dinner", False)]


def test_an_edit_clears_confirmations_and_the_first_partner_must_confirm_the_new_text(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    goal_id = propose(engine, ana, "Argue less")
    _do(engine, couple_goals.edit, ben, goal_id=goal_id, body="Take a break when an argument heats up")
    # Ben wrote the new text: it counts as his, he cannot confirm it again; Ana's old confirmation is gone.
    with pytest.raises(GoalError, match="You wrote this version"):
        confirm(engine, ben, goal_id, "Take a break when an argument heats up")
    assert goals(engine, ana, couple_id) == [("Take a break when an argument heats up", False)]
    # Ana accepting the text she saw before the edit is refused: she must read the new text.
    with pytest.raises(GoalError, match="changed this goal"):
        confirm(engine, ana, goal_id, "Argue less")
    assert confirm(engine, ana, goal_id, "Take a break when an argument heats up") is True
    assert goals(engine, ben, couple_id) == [("Take a break when an argument heats up", True)]
    # Agreed, it stays as agreed: no edit, no withdrawal, no second confirmation.
    with pytest.raises(GoalError, match="stays as it reads"):
        _do(engine, couple_goals.edit, ana, goal_id=goal_id, body="Argue less")
    with pytest.raises(GoalError, match="stays as it reads"):
        _do(engine, couple_goals.withdraw, ben, goal_id=goal_id)
    with pytest.raises(GoalError, match="agreed this goal already"):
        confirm(engine, ben, goal_id, "Take a break when an argument heats up")


def test_a_fourth_goal_is_refused_until_a_pending_one_is_withdrawn(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    agree(engine, ana, ben, "One")
    agree(engine, ben, ana, "Two")
    pending = propose(engine, ana, "Three")
    before = table_counts(engine)
    with pytest.raises(GoalError, match="already have 3"):
        propose(engine, ben, "Four")
    assert table_counts(engine) == before
    _do(engine, couple_goals.withdraw, ben, goal_id=pending)
    propose(engine, ben, "Four")
    assert [body for body, _ in goals(engine, ana, couple_id)] == ["One", "Two", "Four"]
    with pytest.raises(GoalError, match="not one of your couple"):
        confirm(engine, ben, pending, "Three")  # a withdrawn goal is gone for good


def test_goals_open_only_once_both_partners_named_their_own(engine: Engine) -> None:
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    with pytest.raises(GoalError, match="partner has joined"):
        propose(engine, ana, "Alone")
    make_couple(engine, ana, ben)
    finish_assessment(engine, ana)
    with pytest.raises(GoalError, match="both named your goals"):
        propose(engine, ana, "Too early")
    assert table_counts(engine) == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "write the goal"),
        ("   \n ", "write the goal"),
        ("x" * 301, "300 characters"),
        ("a\x00b", "cannot be saved"),
    ],
)
def test_bad_text_is_refused_with_a_message_and_nothing_saved(
    engine: Engine, pair: tuple[Viewer, Viewer, int], body: str, message: str
) -> None:
    ana, _, _ = pair
    with pytest.raises(GoalError, match=message):
        propose(engine, ana, body)
    assert table_counts(engine) == (0, 0, 0)


def test_hostile_text_of_full_length_is_kept_as_typed(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    hostile = ("![x](http://evil/x.png) <script>alert(1)</script> %{y} " * 6)[:300]
    propose(engine, ana, "  " + hostile + "  ")
    assert goals(engine, ben, couple_id) == [(hostile.strip(), False)]


def test_another_couple_can_neither_read_nor_touch_the_goals(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    agreed = agree(engine, ana, ben, "Ours")
    pending = propose(engine, ana, "Ours too")
    cleo, dan = make_person(engine, "cleo"), make_person(engine, "dan")
    make_couple(engine, cleo, dan)
    finish_assessment(engine, cleo)
    finish_assessment(engine, dan)
    finish_stage(engine, cleo, FIRST_STAGE)
    with read_session(engine) as session, pytest.raises(AccessDenied):
        readable_couple_goals(session=session, viewer=cleo, couple_id=couple_id)
    before = table_counts(engine)
    attempts: list[Callable[[], object]] = [
        lambda: confirm(engine, dan, pending, "Ours too"),
        lambda: _do(engine, couple_goals.edit, dan, goal_id=pending, body="Theirs now"),
        lambda: _do(engine, couple_goals.withdraw, cleo, goal_id=pending),
        lambda: _do(engine, couple_goals.rate, cleo, stage=FIRST_STAGE, ratings={agreed: 10}),
    ]
    for attempt in attempts:
        with pytest.raises(GoalError, match="not one of your couple"):
            attempt()
    assert table_counts(engine) == before
    assert goals(engine, ana, couple_id) == [("Ours", True), ("Ours too", False)]


def test_a_couple_that_ends_takes_its_goals_and_a_reformed_couple_starts_afresh(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, old = pair
    agreed = agree(engine, ana, ben, "From before")
    pending = propose(engine, ana, "Pending before")
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=T0)
    with read_session(engine) as session, pytest.raises(AccessDenied):
        readable_couple_goals(session=session, viewer=ana, couple_id=old)
    new = make_couple(engine, ana, ben)
    finish_assessment(engine, ana, T0 + timedelta(days=1))
    finish_assessment(engine, ben, T0 + timedelta(days=1))
    assert goals(engine, ana, new) == []
    with pytest.raises(GoalError, match="not one of your couple"):
        confirm(engine, ben, pending, "Pending before")
    finish_stage(engine, ana, FIRST_STAGE, T0 + timedelta(days=2))
    with pytest.raises(GoalError, match="not one of your couple"):
        _do(engine, couple_goals.rate, ana, stage=FIRST_STAGE, ratings={agreed: 7})
    # Three new goals fit: the old couple's goals never count against the new one.
    for body in ("New one", "New two", "New three"):
        propose(engine, ana, body)


def test_ratings_wait_for_the_stage_end_check_and_are_given_once(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    agreed = agree(engine, ana, ben, "Listen more")
    pending = propose(engine, ben, "Not agreed yet")
    with pytest.raises(GoalError, match="end check"):
        _do(engine, couple_goals.rate, ana, stage=FIRST_STAGE, ratings={agreed: 6})
    finish_stage(engine, ana, FIRST_STAGE)
    for bad in (11, -1, True, 6.5):
        with pytest.raises(GoalError, match="whole number from 0 to 10"):
            _do(engine, couple_goals.rate, ana, stage=FIRST_STAGE, ratings={agreed: bad})
    with pytest.raises(GoalError, match="both agreed"):
        _do(engine, couple_goals.rate, ana, stage=FIRST_STAGE, ratings={agreed: 6, pending: 3})
    with pytest.raises(GoalError, match="end of a stage"):
        _do(engine, couple_goals.rate, ana, stage="assessment", ratings={agreed: 6})
    assert table_counts(engine)[2] == 0  # nothing half-saved
    _do(engine, couple_goals.rate, ana, stage=FIRST_STAGE, ratings={agreed: 6})
    with pytest.raises(GoalError, match="already rated"):
        _do(engine, couple_goals.rate, ana, stage=FIRST_STAGE, ratings={agreed: 9})
    # Ben has not ended the stage: he cannot rate it yet, whatever Ana did.
    with pytest.raises(GoalError, match="end check"):
        _do(engine, couple_goals.rate, ben, stage=FIRST_STAGE, ratings={agreed: 4})
    with read_session(engine) as session:
        rows = readable_goal_ratings(session=session, viewer=ben, couple_id=couple_id)
    assert [(r.goal_id, r.person_id, r.stage, r.rating) for r in rows] == [
        (agreed, ana.person_id, FIRST_STAGE, 6)
    ]


def test_the_therapist_sees_agreed_goals_and_ratings_only_while_let_in(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    therapist = make_person(engine, "drkim", Role.THERAPIST)
    grant(engine, couple_id, therapist, ana)
    agreed = agree(engine, ana, ben, "Plan a weekly date")
    propose(engine, ben, "Still being talked over")
    finish_stage(engine, ben, FIRST_STAGE)
    _do(engine, couple_goals.rate, ben, stage=FIRST_STAGE, ratings={agreed: 8})
    with read_session(engine) as session, pytest.raises(AccessDenied):
        readable_couple_goals(session=session, viewer=therapist, couple_id=couple_id)  # one grant of two
    grant(engine, couple_id, therapist, ben)
    assert goals(engine, therapist, couple_id) == [("Plan a weekly date", True)]  # never a pending one
    with read_session(engine) as session:
        assert [
            r.rating for r in readable_goal_ratings(session=session, viewer=therapist, couple_id=couple_id)
        ] == [8]
    with pytest.raises(GoalError, match="Only the partners"):
        propose(engine, therapist, "A therapist's goal")


def test_parallel_proposals_never_make_a_fourth_goal(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    agree(engine, ana, ben, "One")
    agree(engine, ben, ana, "Two")

    def proposing(viewer: Viewer, body: str) -> Callable[[Session], object]:
        return lambda s: couple_goals.propose(session=s, viewer=viewer, program=PROGRAM, body=body, now=T0)

    results, errors = race(
        engine, *(proposing(v, f"Third by {v.username} {n}") for n in range(3) for v in (ana, ben))
    )
    assert len(results) == 1
    assert len(errors) == 5 and all(isinstance(e, GoalError) and "already have 3" in str(e) for e in errors)
    assert len(goals(engine, ana, couple_id)) == 3


def test_parallel_confirmations_and_an_edit_leave_one_consistent_outcome(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, couple_id = pair
    for _ in range(5):
        goal_id = propose(engine, ana, "Say thank you daily")

        def accepting(s: Session, goal_id: int = goal_id) -> object:
            return couple_goals.confirm(
                session=s,
                viewer=ben,
                program=PROGRAM,
                goal_id=goal_id,
                seen_body="Say thank you daily",
                now=T0,
            )

        def editing(s: Session, goal_id: int = goal_id) -> None:
            couple_goals.edit(
                session=s,
                viewer=ana,
                program=PROGRAM,
                goal_id=goal_id,
                body="Say thank you twice daily",
                now=T0,
            )

        results, errors = race(engine, accepting, accepting, accepting, editing)
        assert all(isinstance(e, GoalError) for e in errors), errors
        with read_session(engine) as session:
            view = next(
                g
                for g in readable_couple_goals(session=session, viewer=ana, couple_id=couple_id)
                if g.goal_id == goal_id
            )
            confirmations = session.exec(
                select(func.count())
                .select_from(GoalConfirmation)
                .where(col(GoalConfirmation.goal_id) == goal_id)
            ).one()
        # Either Ben accepted first (agreed, then the edit refused) or Ana's edit came first (pending,
        # and Ben's acceptances of the old text refused): never agreed to a text Ben did not see.
        if view.agreed:
            assert view.body == "Say thank you daily" and confirmations == 2 and len(results) == 1
        else:
            assert view.body == "Say thank you twice daily" and view.confirmed_by == {ana.person_id}
            assert confirmations == 1
        if view.agreed:
            break  # one agreed goal per round; the next round starts another
        _do(engine, couple_goals.withdraw, ana, goal_id=goal_id)


def test_the_export_holds_each_partners_own_part_and_wording_only(
    engine: Engine, pair: tuple[Viewer, Viewer, int]
) -> None:
    ana, ben, _ = pair
    goal_id = propose(engine, ana, "Ana's wording")
    _do(engine, couple_goals.edit, ben, goal_id=goal_id, body="Ben's wording")
    confirm(engine, ana, goal_id, "Ben's wording")
    finish_stage(engine, ana, FIRST_STAGE)
    _do(engine, couple_goals.rate, ana, stage=FIRST_STAGE, ratings={goal_id: 3})
    cleo, dan = make_person(engine, "cleo"), make_person(engine, "dan")
    make_couple(engine, cleo, dan)
    finish_assessment(engine, cleo)
    finish_assessment(engine, dan)
    propose(engine, cleo, "Another couple's goal")

    def exported(viewer: Viewer) -> list[dict[str, object]]:
        with read_session(engine) as session:
            archive = export.export_zip(session=session, viewer=viewer, program=PROGRAM, now=T0)
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            rows: list[dict[str, object]] = json.loads(opened.read("couple_goals.json"))
            return rows

    ana_rows, ben_rows = exported(ana), exported(ben)
    assert [(r["goal"], r["wording"], r["proposed_by_you"]) for r in ana_rows] == [(goal_id, None, True)]
    assert ana_rows[0]["you_confirmed_at"] is not None
    assert [(x["stage"], x["rating"]) for x in ana_rows[0]["your_ratings"]] == [(FIRST_STAGE, 3)]  # type: ignore[attr-defined]
    assert [(r["goal"], r["wording"], r["your_ratings"]) for r in ben_rows] == [
        (goal_id, "Ben's wording", [])
    ]
    assert "Another couple" not in json.dumps(ana_rows + ben_rows)


def test_the_chart_draws_each_goal_by_stage_with_typed_text_escaped() -> None:
    first, second = PROGRAM.stages[0], PROGRAM.stages[1]
    data = ProgressData(
        couple_id=1,
        partners=(Partner(1, "Ana"), Partner(2, "<i>Ben</i>")),
        checkins=(),
        fillings=(),
        goals=(
            GoalRatings(
                10, "Talk <b>more</b> %{y}", {(1, first.key): 4, (1, second.key): 7, (2, second.key): 6}
            ),
            GoalRatings(11, "Rest", {}),
        ),
    )
    entries = figures.goal_ratings(data, PROGRAM)
    assert [title for title, _ in entries] == ["Our shared goals", "Our shared goals"]
    chart = entries[0][1]
    assert isinstance(chart, figures.Chart)
    traces = chart.figure.data
    assert [t.name for t in traces] == ["Ana", "&lt;i&gt;Ben&lt;/i&gt;"]
    later = [None] * (len(PROGRAM.stages) - 2)
    # Every stage in program order, a gap where a partner has not rated (yet).
    assert [list(t.y) for t in traces] == [[4, 7, *later], [None, 6, *later]]
    assert len(traces[0].x) == len(PROGRAM.stages)
    title = chart.figure.layout.title.text
    assert title.startswith("Goal 1: Talk &lt;b&gt;more&lt;/b&gt;") and "%{" not in title
    assert "Ana went from 4 after" in chart.caption and "<i>Ben</i> rated it 6" in chart.caption
    assert {(r["Partner"], r["Rating (0-10)"]) for r in chart.table} == {
        ("Ana", 4),
        ("Ana", 7),
        ("<i>Ben</i>", 6),
    }
    # An agreed goal nobody has rated yet is drawn too (its text is how the couple and therapist see it).
    rested = entries[1][1]
    assert isinstance(rested, figures.Chart) and rested.figure.layout.title.text == "Goal 2: Rest"
    assert "neither of you has rated it yet" in rested.caption.lower() and rested.table == []
    # Before any agreed goal: nothing at all.
    assert figures.goal_ratings(replace(data, goals=()), PROGRAM) == []


def test_a_double_submitted_rating_is_saved_once(engine: Engine, pair: tuple[Viewer, Viewer, int]) -> None:
    ana, ben, couple_id = pair
    goal_id = agree(engine, ana, ben, "Rest more")
    finish_stage(engine, ana, FIRST_STAGE)

    def rating(value: int) -> Callable[[Session], object]:
        return lambda s: couple_goals.rate(
            session=s, viewer=ana, program=PROGRAM, stage=FIRST_STAGE, ratings={goal_id: value}, now=T0
        )

    results, errors = race(engine, *(rating(v) for v in (2, 4, 6, 8)))
    assert len(results) == 1
    assert len(errors) == 3 and all(isinstance(e, GoalError) and "already rated" in str(e) for e in errors)
    with read_session(engine) as session:
        rows = readable_goal_ratings(session=session, viewer=ben, couple_id=couple_id)
    assert len(rows) == 1 and rows[0].rating in (2, 4, 6, 8)
