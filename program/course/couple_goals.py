"""Shared couple goals: after the assessment, partners turn their private goals into one to three goals
they agree together, and rate progress on each at every stage's end.

The flow: either partner proposes a goal (new text, written to be shared: the private goals named in the
assessment are never read here); writing a version confirms it for its writer; the other partner accepts
it as it reads (confirms) or edits it, and an edit clears every confirmation but the editor's, so the first
partner must confirm the new text. A goal both current partners confirmed is agreed and stays as agreed.
At most three goals stand at once (agreed or pending); a pending one can be withdrawn by either partner.

Every write locks the person, then the couple (couples.lock_person, couples.lock_couple), so two requests
of one couple (two confirmations, two proposals for the last free place) happen one after the other, and
every rule is checked before anything is written: a refusal leaves nothing half-saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select

from program.course import journey
from program.course.curriculum import Program
from program.infra import audit
from program.infra.models import CoupleGoal, GoalConfirmation, GoalRating, Role
from program.privacy import access, couples
from program.privacy.access import CoupleGoalView, GoalRatingView
from program.privacy.viewer import Viewer

MAX_GOALS = 3
MAX_CHARS = 300
RATING_MIN, RATING_MAX = 0, 10

NOT_A_PARTNER = "Only the partners of a couple agree its goals."
NO_PARTNER = "Shared goals open once your partner has joined you (see your account page)."
NOT_YET = (
    "Shared goals open once you have both named your goals and strengths in the assessment. "
    "What each of you wrote there stays private."
)
NOT_FOUND = "That goal is not one of your couple's goals (it may have been withdrawn)."
TOO_MANY = f"You already have {MAX_GOALS} shared goals. Withdraw a pending one to propose another."
AGREED_STAYS = "You both agreed this goal, so it stays as it reads."


class GoalError(ValueError):
    """A goal change that cannot be made; the message says why, in words for the partner."""


@dataclass(frozen=True)
class GoalsState:
    """The shared goals as one partner sees them, and whether they may agree goals yet."""

    couple_id: int | None
    partner_id: int | None
    partner_name: str | None
    closed_reason: str | None  # None: goals are open to propose, accept and edit
    goals: list[CoupleGoalView]
    ratings: list[GoalRatingView]

    @property
    def standing(self) -> int:
        """Goals agreed or pending (withdrawn ones no longer count)."""
        return len(self.goals)

    def awaiting_me(self, viewer: Viewer) -> list[CoupleGoalView]:
        """Pending goals whose current text the other partner wrote: the viewer's turn to accept or edit."""
        return [g for g in self.goals if not g.agreed and viewer.person_id not in g.confirmed_by]

    def rated(self, viewer: Viewer, stage: str) -> dict[int, int]:
        """The viewer's own ratings given at this stage's end, by goal."""
        return {
            r.goal_id: r.rating for r in self.ratings if r.person_id == viewer.person_id and r.stage == stage
        }


def _closed_reason(progress: journey.Journey) -> str | None:
    if progress.couple_id is None or progress.partner is None:
        return NO_PARTNER
    if not (
        progress.me.did(journey.ASSESSMENT, journey.GOALS)
        and progress.partner.did(journey.ASSESSMENT, journey.GOALS)
    ):
        return NOT_YET
    return None


def goals_state(*, session: Session, viewer: Viewer, program: Program) -> GoalsState:
    """The viewer's couple's standing goals and ratings, read through access.py."""
    if viewer.role != Role.PARTNER:
        raise access.AccessDenied(NOT_A_PARTNER)
    progress = journey.load_journey(session=session, viewer=viewer, program=program)
    partner = progress.partner
    goals: list[CoupleGoalView] = []
    ratings: list[GoalRatingView] = []
    if progress.couple_id is not None:
        goals, ratings = access.readable_goal_progress(
            session=session, viewer=viewer, couple_id=progress.couple_id
        )
    return GoalsState(
        progress.couple_id,
        partner.person_id if partner else None,
        partner.name if partner else None,
        _closed_reason(progress),
        goals,
        ratings,
    )


def clean_body(body: str) -> str:
    """The goal's text as it is kept: trimmed, 1 to MAX_CHARS characters (GoalError otherwise)."""
    if not isinstance(body, str):
        raise GoalError("A goal is written as text.")
    text = body.strip()
    if not text:
        raise GoalError("Please write the goal first.")
    if len(text) > MAX_CHARS:
        raise GoalError(f"Please keep a goal to {MAX_CHARS} characters (this one has {len(text)}).")
    if "\x00" in text:
        raise GoalError("The goal holds a character that cannot be saved; please retype it.")
    return text


def _open_for_writing(
    session: Session, viewer: Viewer, program: Program
) -> tuple[int, list[int], journey.Journey]:
    """Lock the person, then the couple; the couple's id, its current partners and the viewer's journey,
    or GoalError."""
    if viewer.role != Role.PARTNER:
        raise GoalError(NOT_A_PARTNER)
    couples.lock_person(session, viewer.person_id)
    progress = journey.load_journey(session=session, viewer=viewer, program=program)
    reason = _closed_reason(progress)
    if reason is not None or progress.couple_id is None or progress.partner is None:
        raise GoalError(reason or NO_PARTNER)
    if couples.lock_couple(session, progress.couple_id) is None:
        raise GoalError(NO_PARTNER)
    return progress.couple_id, [progress.me.person_id, progress.partner.person_id], progress


def _standing_goal(session: Session, couple_id: int, goal_id: int) -> CoupleGoal:
    """A goal of this couple not withdrawn; another couple's goal reads exactly like a missing one."""
    goal = session.exec(
        select(CoupleGoal).where(
            CoupleGoal.id == goal_id,
            CoupleGoal.couple_id == couple_id,
            col(CoupleGoal.withdrawn_at).is_(None),
        )
    ).first()
    if goal is None:
        raise GoalError(NOT_FOUND)
    return goal


def _confirmed_by(session: Session, goal_id: int, members: list[int]) -> set[int]:
    return set(
        session.exec(
            select(GoalConfirmation.person_id).where(
                GoalConfirmation.goal_id == goal_id, col(GoalConfirmation.person_id).in_(members)
            )
        )
    )


def _is_agreed(session: Session, goal_id: int, members: list[int]) -> bool:
    return _confirmed_by(session, goal_id, members) >= set(members)


def propose(*, session: Session, viewer: Viewer, program: Program, body: str, now: datetime) -> int:
    """Propose a new shared goal (confirmed by its writer); returns its id."""
    text = clean_body(body)
    couple_id, _, _ = _open_for_writing(session, viewer, program)
    standing = session.exec(
        select(func.count())
        .select_from(CoupleGoal)
        .where(CoupleGoal.couple_id == couple_id, col(CoupleGoal.withdrawn_at).is_(None))
    ).one()
    if standing >= MAX_GOALS:
        raise GoalError(TOO_MANY)
    goal = CoupleGoal(
        couple_id=couple_id, body=text, proposed_by_id=viewer.person_id, created_at=now, updated_at=now
    )
    session.add(goal)
    session.flush()
    assert goal.id is not None
    session.add(GoalConfirmation(goal_id=goal.id, person_id=viewer.person_id, confirmed_at=now))
    audit.record(session, action="goal.proposed", actor_id=viewer.person_id, couple_id=couple_id)
    return goal.id


def edit(
    *, session: Session, viewer: Viewer, program: Program, goal_id: int, body: str, now: datetime
) -> None:
    """Rewrite a pending goal: every confirmation is cleared and the editor's own stands, so the other
    partner must confirm the new text before it is agreed."""
    text = clean_body(body)
    couple_id, members, _ = _open_for_writing(session, viewer, program)
    goal = _standing_goal(session, couple_id, goal_id)
    if _is_agreed(session, goal_id, members):
        raise GoalError(AGREED_STAYS)
    if text == goal.body:
        raise GoalError("That is the goal as it already reads. To agree to it, choose “Accept as it reads”.")
    goal.body = text
    goal.edited_by_id = viewer.person_id
    goal.updated_at = now
    session.add(goal)
    session.exec(delete(GoalConfirmation).where(col(GoalConfirmation.goal_id) == goal_id))
    session.add(GoalConfirmation(goal_id=goal_id, person_id=viewer.person_id, confirmed_at=now))
    audit.record(session, action="goal.edited", actor_id=viewer.person_id, couple_id=couple_id)


def confirm(
    *, session: Session, viewer: Viewer, program: Program, goal_id: int, seen_body: str, now: datetime
) -> bool:
    """Accept a pending goal as it reads (the text the partner saw: if it changed since, GoalError).
    Returns whether the goal is now agreed."""
    couple_id, members, _ = _open_for_writing(session, viewer, program)
    goal = _standing_goal(session, couple_id, goal_id)
    confirmed = _confirmed_by(session, goal_id, members)
    if confirmed >= set(members):
        raise GoalError("You have both agreed this goal already.")
    if viewer.person_id in confirmed:
        raise GoalError(
            "You wrote this version, so it counts as yours; your partner accepts or edits it next."
        )
    if goal.body != seen_body:
        raise GoalError("Your partner changed this goal just now. Please read it again before you accept it.")
    session.add(GoalConfirmation(goal_id=goal_id, person_id=viewer.person_id, confirmed_at=now))
    agreed = confirmed | {viewer.person_id} >= set(members)
    audit.record(
        session,
        action="goal.agreed" if agreed else "goal.confirmed",
        actor_id=viewer.person_id,
        couple_id=couple_id,
    )
    return agreed


def withdraw(*, session: Session, viewer: Viewer, program: Program, goal_id: int, now: datetime) -> None:
    """Withdraw a pending goal (either partner); an agreed goal stays."""
    couple_id, members, _ = _open_for_writing(session, viewer, program)
    goal = _standing_goal(session, couple_id, goal_id)
    if _is_agreed(session, goal_id, members):
        raise GoalError(AGREED_STAYS)
    goal.withdrawn_at = now
    goal.updated_at = now
    session.add(goal)
    audit.record(session, action="goal.withdrawn", actor_id=viewer.person_id, couple_id=couple_id)


def rate(
    *,
    session: Session,
    viewer: Viewer,
    program: Program,
    stage: str,
    ratings: Mapping[int, int],
    now: datetime,
) -> None:
    """The viewer's 0-10 ratings of progress on agreed goals at a stage's end, all saved or none: once
    per goal per stage, and only after the viewer sent that stage's end check."""
    if stage not in program.stage_by_key:
        raise GoalError("Goals are rated at the end of a stage.")
    if not ratings:
        raise GoalError("Please rate at least one goal.")
    for value in ratings.values():
        if isinstance(value, bool) or not isinstance(value, int) or not RATING_MIN <= value <= RATING_MAX:
            raise GoalError(f"A rating is a whole number from {RATING_MIN} to {RATING_MAX}.")
    couple_id, members, progress = _open_for_writing(session, viewer, program)
    if not progress.me.did(stage, "check-end"):
        raise GoalError("You rate your shared goals once you have sent this stage's end check.")
    for goal_id in ratings:
        _standing_goal(session, couple_id, goal_id)
        if not _is_agreed(session, goal_id, members):
            raise GoalError("Only goals you have both agreed are rated.")
    already = session.exec(
        select(GoalRating.goal_id).where(
            col(GoalRating.goal_id).in_(list(ratings)),
            GoalRating.person_id == viewer.person_id,
            GoalRating.stage == stage,
        )
    ).first()
    if already is not None:
        raise GoalError("You have already rated this goal for this stage.")
    for goal_id, value in ratings.items():
        session.add(
            GoalRating(goal_id=goal_id, person_id=viewer.person_id, stage=stage, rating=value, rated_at=now)
        )
    try:
        session.flush()
    except IntegrityError as error:  # the unique (goal, person, stage) rule, should a check ever be passed
        raise GoalError("You have already rated this goal for this stage.") from error
    audit.record(session, action="goal.rated", actor_id=viewer.person_id, couple_id=couple_id, detail=stage)


def export_rows(*, session: Session, viewer: Viewer) -> list[dict[str, object]]:
    """The viewer's own part in shared goals, in every couple they were in: goals they proposed, worded,
    confirmed or rated, with the wording only where they wrote it as it reads (a partner's wording is
    theirs), when they confirmed it, and their own ratings."""
    mine = (
        (col(CoupleGoal.proposed_by_id) == viewer.person_id)
        | (col(CoupleGoal.edited_by_id) == viewer.person_id)
        | col(CoupleGoal.id).in_(
            select(GoalConfirmation.goal_id).where(GoalConfirmation.person_id == viewer.person_id)
        )
        | col(CoupleGoal.id).in_(select(GoalRating.goal_id).where(GoalRating.person_id == viewer.person_id))
    )
    goals = session.exec(
        select(CoupleGoal).where(mine).order_by(col(CoupleGoal.created_at), col(CoupleGoal.id))
    ).all()
    ids = [g.id for g in goals]
    confirmed: dict[int, datetime] = dict(
        session.exec(
            select(GoalConfirmation.goal_id, GoalConfirmation.confirmed_at).where(
                GoalConfirmation.person_id == viewer.person_id, col(GoalConfirmation.goal_id).in_(ids)
            )
        ).all()
    )
    ratings = session.exec(
        select(GoalRating)
        .where(GoalRating.person_id == viewer.person_id, col(GoalRating.goal_id).in_(ids))
        .order_by(col(GoalRating.rated_at), col(GoalRating.id))
    ).all()
    rows: list[dict[str, object]] = []
    for goal in goals:
        wrote = (goal.edited_by_id or goal.proposed_by_id) == viewer.person_id
        rows.append(
            {
                "couple": goal.couple_id,
                "goal": goal.id,
                "proposed_by_you": goal.proposed_by_id == viewer.person_id,
                "wording": goal.body if wrote else None,
                "created_at": goal.created_at,
                "you_confirmed_at": confirmed.get(goal.id) if goal.id is not None else None,
                "withdrawn_at": goal.withdrawn_at,
                "your_ratings": [
                    {"stage": r.stage, "rating": r.rating, "rated_at": r.rated_at}
                    for r in ratings
                    if r.goal_id == goal.id
                ],
            }
        )
    return rows
