"""Solving one problem together: the whole sequence for a couple, the blind rule of "what matters" and of
the reviews, the review coming due exactly a week after both agreed (in both partners' panels), and the
attackers: another couple, a therapist not let in, a couple that ended and formed again."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import pauses, problem_solving
from program.course.curriculum import ContentError
from program.course.problem_solving import ProblemSolvingError, Step
from program.infra.db import read_session, write_session
from program.infra.models import Agreement, AgreementPart, PauseReason, Role, StageOpening
from program.privacy import access, couples
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0

DAY = timedelta(days=1)
KEY = b"k" * 32
NEXT_WEEK = date(2026, 11, 9)


def _open_conflict(engine: Engine, couple_id: int) -> None:
    """The Conflict stage open for the couple, as their therapist can open it."""
    with write_session(engine) as session:
        session.add(StageOpening(couple_id=couple_id, stage=problem_solving.STAGE, opened_at=T0 - DAY))


def _couple(engine: Engine, a: str = "ana", b: str = "ben") -> tuple[Viewer, Viewer, int]:
    ana, ben = make_person(engine, a), make_person(engine, b)
    couple_id = make_couple(engine, ana, ben)
    _open_conflict(engine, couple_id)
    return ana, ben, couple_id


def _do(engine: Engine, action: str, viewer: Viewer, **kwargs: object) -> object:
    kwargs.setdefault("now", T0)
    with write_session(engine) as session:
        return getattr(problem_solving, action)(session=session, viewer=viewer, program=PROGRAM, **kwargs)


def _state(engine: Engine, viewer: Viewer, now: object = T0) -> problem_solving.Standing:
    with read_session(engine) as session:
        state = problem_solving.standing(session=session, viewer=viewer, now=now)  # type: ignore[arg-type]
    assert state is not None
    return state


def _due(engine: Engine, viewer: Viewer, now: object) -> bool:
    with read_session(engine) as session:
        return problem_solving.review_due(session=session, viewer=viewer, now=now) is not None  # type: ignore[arg-type]


def _agree(engine: Engine, ana: Viewer, ben: Viewer, issue: str = "Who takes the bins out") -> int:
    """Ana and Ben go through the sequence up to their agreement, at T0; returns its id."""
    agreement_id = _do(engine, "start", ana, issue=issue)
    assert isinstance(agreement_id, int)
    _do(engine, "write_matters", ana, text="That I am not the only one who remembers.")
    _do(engine, "write_matters", ben, text="That it doesn't turn into a row on Sunday nights.")
    _do(engine, "add_option", ben, text="A reminder on both phones")
    _do(engine, "add_option", ana, text="Take turns week by week")
    _do(
        engine,
        "choose",
        ana,
        option="Take turns week by week",
        who_does_what="Ben on even weeks, Ana on odd weeks",
        by_when=NEXT_WEEK,
    )
    plan = ("Take turns week by week", "Ben on even weeks, Ana on odd weeks", NEXT_WEEK)
    assert _do(engine, "confirm", ana, agreement_id=agreement_id, plan=plan) is False
    assert _do(engine, "confirm", ben, agreement_id=agreement_id, plan=plan) is True
    return agreement_id


def test_a_couple_goes_through_the_whole_sequence_and_looks_back_a_week_later(engine: Engine) -> None:
    """Pick, what matters, brainstorm, choose, both confirm: the couple's agreement; a week on, both
    review, each reads the other's, and the next problem can be picked."""
    ana, ben, _ = _couple(engine)
    assert _state(engine, ana).step == Step.ISSUE
    agreement_id = _agree(engine, ana, ben)

    state = _state(engine, ben)
    assert state.step == Step.WAITING and state.open is not None
    assert state.open.issue == "Who takes the bins out"
    assert state.open.options == ("A reminder on both phones", "Take turns week by week")
    assert state.open.chosen == "Take turns week by week"
    assert state.open.who_does_what == "Ben on even weeks, Ana on odd weeks"
    assert state.open.by_when == date(2026, 11, 9)
    assert state.open.agreed_at == T0
    assert {pid: (p.person_id, p.confirmed_at) for pid, p in state.open.parts.items()} == {
        pid: (pid, T0) for pid in (ana.person_id, ben.person_id)
    }
    assert state.review_due_at() == T0 + 7 * DAY

    week = T0 + 7 * DAY
    _do(engine, "review", ana, agreement_id=agreement_id, rating=7, note="Keep the turns.", now=week)
    _do(engine, "review", ben, agreement_id=agreement_id, rating=4, note="Change the day.", now=week)

    state = _state(engine, ana, week)
    assert state.open is None and state.step == Step.ISSUE
    (past,) = state.past
    assert (past.parts[ben.person_id].review_rating, past.parts[ben.person_id].review_note) == (
        4,
        "Change the day.",
    )
    assert _state(engine, ben, week).past[0].parts[ana.person_id].review_rating == 7
    # The next problem, now that this one has been looked back on.
    assert isinstance(_do(engine, "start", ben, issue="Saturday mornings", now=week), int)


def test_what_matters_is_blind_until_both_wrote_then_kept_as_written(engine: Engine) -> None:
    """Ben cannot read Ana's part before he writes his own; neither can rewrite theirs after reading."""
    ana, ben, couple_id = _couple(engine)
    _do(engine, "start", ana, issue="Evenings when one of us works late")
    _do(engine, "write_matters", ana, text="Ana's secret reason")
    _do(engine, "write_matters", ana, text="Ana's real reason")  # changed before Ben wrote: allowed

    with read_session(engine) as session:
        (seen_by_ben,) = access.readable_agreements(session=session, viewer=ben, couple_id=couple_id)
    assert seen_by_ben.parts[ana.person_id].wrote_matters is True
    assert seen_by_ben.parts[ana.person_id].matters is None
    assert "Ana's" not in repr(seen_by_ben)
    assert _state(engine, ana).open.parts[ana.person_id].matters == "Ana's real reason"  # type: ignore[union-attr]
    with pytest.raises(ProblemSolvingError):  # no brainstorm before both wrote
        _do(engine, "add_option", ben, text="Peek")

    _do(engine, "write_matters", ben, text="Ben's reason")
    open_ = _state(engine, ben).open
    assert open_ is not None and open_.parts[ana.person_id].matters == "Ana's real reason"
    with pytest.raises(ProblemSolvingError, match="stays as you wrote it"):
        _do(engine, "write_matters", ana, text="Rewritten after reading Ben's")
    assert _state(engine, ben).open.parts[ana.person_id].matters == "Ana's real reason"  # type: ignore[union-attr]


def test_reviews_are_blind_until_both_sent_and_kept_as_sent(engine: Engine) -> None:
    """Ana's rating and note stay hidden from Ben until he sends his; a second send is refused."""
    ana, ben, couple_id = _couple(engine)
    agreement_id = _agree(engine, ana, ben)
    week = T0 + 7 * DAY
    _do(engine, "review", ana, agreement_id=agreement_id, rating=2, note="It did not work for me", now=week)
    with read_session(engine) as session:
        (seen,) = access.readable_agreements(session=session, viewer=ben, couple_id=couple_id)
        (own,) = access.readable_agreements(session=session, viewer=ana, couple_id=couple_id)
    assert seen.parts[ana.person_id].reviewed_at is not None
    assert (seen.parts[ana.person_id].review_rating, seen.parts[ana.person_id].review_note) == (None, None)
    # Ana reads her own review at once.
    assert (own.parts[ana.person_id].review_rating, own.parts[ana.person_id].review_note) == (
        2,
        "It did not work for me",
    )
    with pytest.raises(ProblemSolvingError, match="already"):
        _do(engine, "review", ana, agreement_id=agreement_id, rating=9, note="Changed my mind", now=week)
    _do(engine, "review", ben, agreement_id=agreement_id, rating=8, note="Fine", now=week)
    with read_session(engine) as session:
        (seen,) = access.readable_agreements(session=session, viewer=ben, couple_id=couple_id)
    assert (seen.parts[ana.person_id].review_rating, seen.parts[ana.person_id].review_note) == (
        2,
        "It did not work for me",
    )


def test_the_review_comes_due_exactly_seven_days_after_agreeing_for_both(engine: Engine) -> None:
    """Not a day before, not a second before; then for each partner until they have sent theirs."""
    ana, ben, _ = _couple(engine)
    agreement_id = _agree(engine, ana, ben)
    for early in (T0, T0 + 6 * DAY, T0 + 7 * DAY - timedelta(seconds=1)):
        assert not _due(engine, ana, early) and not _due(engine, ben, early)
    with pytest.raises(ProblemSolvingError, match="Give it the week"):
        _do(engine, "review", ana, agreement_id=agreement_id, rating=5, note="Early", now=T0 + 6 * DAY)
    assert _due(engine, ana, T0 + 7 * DAY) and _due(engine, ben, T0 + 7 * DAY)
    _do(engine, "review", ben, agreement_id=agreement_id, rating=6, note="ok", now=T0 + 8 * DAY)
    assert _due(engine, ana, T0 + 8 * DAY) and not _due(engine, ben, T0 + 8 * DAY)


def test_one_open_agreement_per_couple_and_a_race_makes_only_one(engine: Engine) -> None:
    """A second problem waits for the review of the first; two partners starting at once make one."""
    ana, ben, couple_id = _couple(engine)
    errors: list[Exception] = []

    def pick(viewer: Viewer) -> None:
        try:
            _do(engine, "start", viewer, issue=f"{viewer.username}'s problem")
        except ProblemSolvingError as error:
            errors.append(error)

    threads = [threading.Thread(target=pick, args=(v,)) for v in (ana, ben)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with read_session(engine) as session:
        rows = session.exec(select(Agreement).where(Agreement.couple_id == couple_id)).all()
    assert len(rows) == 1 and len(errors) == 1
    with pytest.raises(ProblemSolvingError, match="already working on one problem"):
        _do(engine, "start", ana, issue="Another one")


def test_changing_the_plan_clears_both_confirmations(engine: Engine) -> None:
    """Ana confirmed; Ben rewrites the plan; Ana's confirmation does not carry over to the new plan, and
    a click on the old plan still on her screen does not confirm the new one."""
    ana, ben, _ = _couple(engine)
    agreement_id = _do(engine, "start", ana, issue="The car on Saturdays")
    _do(engine, "write_matters", ana, text="a")
    _do(engine, "write_matters", ben, text="b")
    _do(engine, "add_option", ana, text="Alternate")
    _do(engine, "add_option", ben, text="Ben always has it")
    _do(engine, "choose", ana, option="Alternate", who_does_what="Both", by_when=date(2026, 11, 9))
    _do(engine, "confirm", ana, agreement_id=agreement_id, plan=("Alternate", "Both", NEXT_WEEK))
    _do(engine, "choose", ben, option="Ben always has it", who_does_what="Ben", by_when=NEXT_WEEK)
    # Ana's screen still shows the plan she confirmed: confirming that one again is refused.
    with pytest.raises(ProblemSolvingError, match="changed since you opened it"):
        _do(engine, "confirm", ana, agreement_id=agreement_id, plan=("Alternate", "Both", NEXT_WEEK))
    assert (
        _do(engine, "confirm", ben, agreement_id=agreement_id, plan=("Ben always has it", "Ben", NEXT_WEEK))
        is False
    )
    state = _state(engine, ana)
    assert state.step == Step.CONFIRM and state.open is not None and state.open.agreed_at is None
    assert state.open.parts[ana.person_id].confirmed_at is None


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        ("start", {"issue": "   "}, "Please write"),
        ("start", {"issue": "x" * 301}, "300 characters"),
        ("add_option", {"text": "Alternate"}, "already on the list"),
        ("choose", {"option": "Not listed", "who_does_what": "x", "by_when": NEXT_WEEK}, "one of the ideas"),
        ("choose", {"option": "Alternate", "who_does_what": "x", "by_when": date(2026, 10, 1)}, "past"),
        ("choose", {"option": "Alternate", "who_does_what": " ", "by_when": NEXT_WEEK}, "who does what"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_message_and_nothing_is_saved(
    engine: Engine, action: str, kwargs: dict[str, object], message: str
) -> None:
    """Each refusal says what to do, and the couple's agreement is as it was."""
    ana, ben, couple_id = _couple(engine)
    if action != "start":
        _do(engine, "start", ana, issue="The car")
        _do(engine, "write_matters", ana, text="a")
        _do(engine, "write_matters", ben, text="b")
        _do(engine, "add_option", ana, text="Alternate")
    with read_session(engine) as session:
        before = [(a.issue, a.options, a.chosen) for a in session.exec(select(Agreement))]
    with pytest.raises(ProblemSolvingError, match=message):
        _do(engine, action, ana, **kwargs)
    with read_session(engine) as session:
        assert [(a.issue, a.options, a.chosen) for a in session.exec(select(Agreement))] == before


def test_a_review_rating_must_be_a_whole_number_from_0_to_10(engine: Engine) -> None:
    """11, -1 and True are refused; nothing is saved."""
    ana, ben, _ = _couple(engine)
    agreement_id = _agree(engine, ana, ben)
    for rating in (11, -1, True):
        with pytest.raises(ProblemSolvingError, match="0 to 10"):
            _do(engine, "review", ana, agreement_id=agreement_id, rating=rating, note="n", now=T0 + 7 * DAY)
    with read_session(engine) as session:
        assert all(p.reviewed_at is None for p in session.exec(select(AgreementPart)))


def test_another_couple_and_an_uninvited_therapist_can_neither_read_nor_write(engine: Engine) -> None:
    """Cai (another couple) and Dr Kim (let in by one partner only) reach nothing of Ana and Ben's."""
    ana, ben, couple_id = _couple(engine)
    agreement_id = _agree(engine, ana, ben)
    cai, dee, other = _couple(engine, "cai", "dee")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr Kim")
    grant(engine, couple_id, kim, ana)  # Ben has not let Kim in
    with read_session(engine) as session:
        for intruder in (cai, kim):
            with pytest.raises(AccessDenied):
                access.readable_agreements(session=session, viewer=intruder, couple_id=couple_id)
        assert access.readable_agreements(session=session, viewer=cai, couple_id=other) == []
    assert _state(engine, cai).open is None
    assert not _due(engine, cai, T0 + 7 * DAY)
    with pytest.raises(ProblemSolvingError):  # Cai's couple has nothing open: Ana's id is not reachable
        _do(engine, "review", cai, agreement_id=agreement_id, rating=0, note="x", now=T0 + 7 * DAY)
    with pytest.raises(AccessDenied):
        _do(engine, "start", kim, issue="Therapist's problem")
    with read_session(engine) as session:
        assert session.exec(select(AgreementPart).where(AgreementPart.person_id == cai.person_id)).all() == []


def test_a_part_written_by_someone_outside_the_couple_never_shows(engine: Engine) -> None:
    """A row that no step writes (Cai's part in Ana and Ben's agreement, put in the database directly)
    reaches neither partner: parts show for the couple's current partners only."""
    ana, ben, couple_id = _couple(engine)
    agreement_id = _agree(engine, ana, ben)
    cai, _, _ = _couple(engine, "cai", "dee")
    with write_session(engine) as session:
        session.add(AgreementPart(agreement_id=agreement_id, person_id=cai.person_id, matters="Cai's view"))
    with read_session(engine) as session:
        for viewer in (ana, ben):
            (seen,) = access.readable_agreements(session=session, viewer=viewer, couple_id=couple_id)
            assert set(seen.parts) == {ana.person_id, ben.person_id}
            assert "Cai" not in repr(seen)


def test_a_therapist_both_let_in_reads_no_more_than_the_partner_does(engine: Engine) -> None:
    """Under the same blind rule: Ana's part is hidden from Dr Kim until Ben wrote his; no writes."""
    ana, ben, couple_id = _couple(engine)
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr Kim")
    for partner in (ana, ben):
        grant(engine, couple_id, kim, partner)
    _do(engine, "start", ana, issue="Bins")
    _do(engine, "write_matters", ana, text="Ana alone")
    with read_session(engine) as session:
        (seen,) = access.readable_agreements(session=session, viewer=kim, couple_id=couple_id)
    assert seen.issue == "Bins" and seen.parts[ana.person_id].matters is None
    with pytest.raises(AccessDenied):
        _do(engine, "write_matters", kim, text="Therapist's words")


def test_a_couple_that_ends_and_forms_again_starts_afresh(engine: Engine) -> None:
    """Ana and Ben agree, part, and pair again: the old agreement, its review and their parts stay with
    the couple that ended; nothing is due and a new problem can be picked."""
    ana, ben, old = _couple(engine)
    _agree(engine, ana, ben)
    new = _reform(engine, ana, ben)
    _open_conflict(engine, new)
    for partner in (ana, ben):
        state = _state(engine, partner, T0 + 8 * DAY)
        assert state.couple_id == new and state.open is None and state.past == ()
        assert not _due(engine, partner, T0 + 8 * DAY)
    with read_session(engine) as session:
        with pytest.raises(AccessDenied):
            access.readable_agreements(session=session, viewer=ana, couple_id=old)
    assert isinstance(_do(engine, "start", ben, issue="A fresh start", now=T0 + 8 * DAY), int)


def _reform(engine: Engine, ana: Viewer, ben: Viewer) -> int:
    """Ana ends the couple, starts a new one, and Ben joins it with her invite code."""
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=T0 + 2 * DAY)
    with write_session(engine) as session:
        invite = couples.create_couple(session=session, viewer=ana, key=KEY, now=T0 + 2 * DAY)
        code = invite.code
    with write_session(engine) as session:
        return couples.join_couple(session=session, viewer=ben, code=code, key=KEY, now=T0 + 2 * DAY)


def test_closed_stage_or_a_pause_stops_the_sequence(engine: Engine) -> None:
    """Not before the Conflict stage opens; not while joint work is paused (same words as conversations)."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple_id = make_couple(engine, ana, ben)
    with pytest.raises(ProblemSolvingError, match="This stage opens"):
        _do(engine, "start", ana, issue="Too early")
    _open_conflict(engine, couple_id)
    with write_session(engine) as session:
        pauses.start_pause(session=session, viewer=ben, reason=PauseReason.BUSY, now=T0)
    with pytest.raises(ProblemSolvingError, match=pauses.PARTNER_PAUSED[:20]):
        _do(engine, "start", ana, issue="While paused")
    with read_session(engine) as session:
        assert session.exec(select(Agreement)).all() == []


def test_a_pause_does_not_hold_up_the_review_each_partner_gives_alone(engine: Engine) -> None:
    """Due on the home page while joint work is paused, and each can still send their own look back."""
    ana, ben, _ = _couple(engine)
    agreement_id = _agree(engine, ana, ben)
    with write_session(engine) as session:
        pauses.start_pause(session=session, viewer=ben, reason=PauseReason.SAFETY, now=T0 + DAY)
    week = T0 + 7 * DAY
    assert _due(engine, ana, week) and _due(engine, ben, week)
    _do(engine, "review", ana, agreement_id=agreement_id, rating=6, note="Fine", now=week)
    assert not _due(engine, ana, week)


def test_the_export_holds_ones_own_part_never_the_partners(engine: Engine) -> None:
    """Ana's export has her part and the plan; Ben's words of what mattered to him are not in it."""
    ana, ben, _ = _couple(engine)
    _agree(engine, ana, ben)
    with read_session(engine) as session:
        (row,) = problem_solving.export_rows(session=session, viewer=ana)
        archive = export.export_zip(session=session, viewer=ana, program=PROGRAM, now=T0)
    assert row["what_matters_to_me"] == "That I am not the only one who remembers."
    assert row["chosen"] == "Take turns week by week"
    dumped = json.dumps(row, default=str)
    assert "Sunday nights" not in dumped
    assert b"problem_solving.json" in archive


def test_the_wording_is_validated_on_load(tmp_path: Path) -> None:
    """The shipped file loads; a broken one names the file and the field instead of a traceback."""
    assert problem_solving.load_content().solvable.lasting
    broken = tmp_path / "problem_solving.toml"
    broken.write_text(problem_solving.CONTENT_FILE.read_text().replace('tip = "', 'tipp = "'))
    with pytest.raises(ContentError, match=r"problem_solving.toml: .*solvable\.tip"):
        problem_solving.load_content(broken)
