"""Solving one problem together, in the Conflict stage: a guided sequence saved as the couple's agreement,
and a look back at how it went a week after both agreed.

The steps, in order: pick one solvable problem; each partner says what matters to them about it (blind
until both wrote); brainstorm options together (a list either adds to, no judging); choose one option and
agree who does what by when; both confirm, which makes it the couple's agreement (Agreement.agreed_at).
REVIEW_AFTER (7 days) later the review comes due for each partner: a 0-10 rating and what to keep or change,
blind until both reviewed. One open agreement per couple at a time; the next one can start once both have
reviewed.

Who reads what is decided in program.privacy.access (readable_agreements). Every write locks the couple's
row, so two partners (or two tabs) acting at once are taken one after the other and nothing is saved twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlmodel import Session, col, select

from program.course import journey
from program.course.curriculum import Program, read_content
from program.infra.models import Agreement, AgreementPart, Role
from program.infra.settings import CONTENT_DIR
from program.privacy import access, couples, membership
from program.privacy.access import AccessDenied, AgreementView
from program.privacy.viewer import Viewer

STAGE = "conflict"
REVIEW_AFTER = timedelta(days=7)
CONTENT_FILE = CONTENT_DIR / "problem_solving.toml"
MAX_ISSUE = 300
MAX_MATTERS = 2000
MAX_OPTION = 300
MAX_OPTIONS = 30
MAX_PLAN = 1000
MIN_RATING, MAX_RATING = 0, 10
# A "by when" day is judged by the kindest clock on earth (UTC-12): today in Honolulu is not "past".
_BEHIND = timedelta(hours=12)
_LATEST_BY = timedelta(days=90)

Plan = tuple[str, str, date | None]  # the option chosen, who does what, by when
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ProblemSolvingError(ValueError):
    """A step that cannot be saved; the message is meant for the person."""


class Step(StrEnum):
    """Where the couple's open agreement stands (for the page and the reminders)."""

    ISSUE = "issue"  # no open agreement: pick a problem
    MATTERS = "matters"  # each writes what matters to them
    OPTIONS = "options"  # brainstorm, then choose one to try
    CONFIRM = "confirm"  # a plan is written; both confirm it
    WAITING = "waiting"  # agreed; the review is not due yet
    REVIEW = "review"  # the review is due (or one of them has sent theirs)


class Solvable(BaseModel):
    """Telling a solvable problem from a lasting difference."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Text
    body: Text
    solvable: list[Text]
    lasting: list[Text]
    tip: Text


class Steps(BaseModel):
    """What each step asks, in the page's words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issue: Text
    matters: Text
    options: Text
    plan: Text
    confirm: Text
    waiting: Text
    review: Text
    done: Text


class Content(BaseModel):
    """problem_solving.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Text
    intro: Text
    solvable: Solvable
    steps: Steps


def load_content(path: Path = CONTENT_FILE) -> Content:
    """Read and validate the wording; ContentError names the file and the field when it is broken."""
    return read_content(Content, path)


@cache
def content() -> Content:
    """The shipped wording, read once per process."""
    return load_content()


@dataclass(frozen=True)
class Standing:
    """The couple's problem-solving as this partner sees it: the open agreement (if any), its step, and the
    agreements already looked back on, newest first."""

    couple_id: int
    partner_id: int | None
    open: AgreementView | None
    step: Step
    past: tuple[AgreementView, ...]

    def review_due_at(self) -> datetime | None:
        """When the open agreement's review comes due (a week after both agreed)."""
        return review_due_at(self.open) if self.open is not None else None


def review_due_at(agreement: AgreementView) -> datetime | None:
    """A week after both agreed; None while not agreed."""
    return None if agreement.agreed_at is None else agreement.agreed_at + REVIEW_AFTER


def _closed(agreement: AgreementView) -> bool:
    """Looked back on by both current partners."""
    return (
        agreement.agreed_at is not None
        and len(agreement.parts) == 2
        and all(p.reviewed_at is not None for p in agreement.parts.values())
    )


def _step(agreement: AgreementView | None, now: datetime) -> Step:
    if agreement is None:
        return Step.ISSUE
    if agreement.agreed_at is not None:
        due = review_due_at(agreement)
        return Step.REVIEW if due is not None and now >= due else Step.WAITING
    if agreement.chosen:
        return Step.CONFIRM
    wrote = [p for p in agreement.parts.values() if p.wrote_matters]
    return Step.OPTIONS if len(wrote) == 2 else Step.MATTERS


def standing(*, session: Session, viewer: Viewer, now: datetime) -> Standing | None:
    """Where the viewer's current couple stands; None for anyone not in a couple (and for therapists)."""
    if viewer.role != Role.PARTNER:
        return None
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return None
    agreements = access.readable_agreements(session=session, viewer=viewer, couple_id=couple_id)
    open_one = next((a for a in agreements if not _closed(a)), None)
    past = tuple(reversed([a for a in agreements if _closed(a)]))
    partner_id = next(
        (
            m.person_id
            for m in membership.current_partners(session, couple_id)
            if m.person_id != viewer.person_id
        ),
        None,
    )
    return Standing(couple_id, partner_id, open_one, _step(open_one, now), past)


def review_due(*, session: Session, viewer: Viewer, now: datetime) -> AgreementView | None:
    """The agreement whose review is due for this partner now (a week or more after both agreed, not yet
    reviewed by them), in their current couple only; else None."""
    state = standing(session=session, viewer=viewer, now=now)
    if state is None or state.open is None or state.step != Step.REVIEW:
        return None
    mine = state.open.parts.get(viewer.person_id)
    return state.open if mine is not None and mine.reviewed_at is None else None


# ---- writes ------------------------------------------------------------------------------------------


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProblemSolvingError(f"Please write {what} first.")
    text = value.strip()
    if len(text) > limit:
        raise ProblemSolvingError(f"Please keep {what} to {limit} characters (this has {len(text)}).")
    return text


def _locked_standing(
    session: Session, viewer: Viewer, program: Program, now: datetime, *, joint: bool = True
) -> Standing:
    """The viewer's standing after locking their couple, refused unless both partners are here, the
    Conflict stage is open for them, and (for the joint steps) joint work is not paused. The review is
    each partner's own look back, so a pause does not hold it up."""
    if viewer.role != Role.PARTNER:
        raise AccessDenied("Problem-solving is the partners' own.")
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        raise ProblemSolvingError("Problem-solving is done together: join your partner first.")
    # Two partners (or tabs) at once are taken one after the other, each seeing what the other saved.
    couples.lock_couple(session, couple_id)
    progress = journey.load_journey(session=session, viewer=viewer, program=program)
    if progress.partner is None:
        raise ProblemSolvingError("Problem-solving is done together: your partner hasn't joined yet.")
    if not progress.is_open(STAGE):
        raise ProblemSolvingError(progress.why_closed(STAGE))
    if joint and (closed := progress.joint_closed_reason()) is not None:
        raise ProblemSolvingError(closed)
    state = standing(session=session, viewer=viewer, now=now)
    if state is None or state.couple_id != couple_id:  # the couple ended while we waited for its lock
        raise ProblemSolvingError("Your couple has changed: please reload the page.")
    return state


def _row(session: Session, agreement_id: int) -> Agreement:
    row = session.get(Agreement, agreement_id, populate_existing=True)
    assert row is not None
    return row


def _part(session: Session, agreement_id: int, person_id: int) -> AgreementPart:
    part = session.exec(
        select(AgreementPart).where(
            AgreementPart.agreement_id == agreement_id, AgreementPart.person_id == person_id
        )
    ).first()
    if part is None:
        part = AgreementPart(agreement_id=agreement_id, person_id=person_id)
    return part


_NOT_NOW = {
    Step.ISSUE: "There is no problem picked yet: start by picking one.",
    Step.MATTERS: "First, each of you says what matters to you about this problem.",
    Step.OPTIONS: "This step comes after you have brainstormed and chosen an option.",
    Step.CONFIRM: "A plan is waiting for you both to confirm; ideas can't be added now.",
    Step.WAITING: "You have already agreed on this plan; its review comes a week after you agreed.",
    Step.REVIEW: "This agreement is up for its review now.",
}


def _expect(state: Standing, *steps: Step) -> AgreementView:
    if state.step not in steps or state.open is None:
        raise ProblemSolvingError(_NOT_NOW[state.step])
    return state.open


def start(*, session: Session, viewer: Viewer, program: Program, issue: str, now: datetime) -> int:
    """Pick the problem to work on; returns the new agreement's id. Refused while the couple has an open
    agreement (one at a time: the next after both looked back on this one)."""
    text = _text(issue, "the problem in one sentence", MAX_ISSUE)
    state = _locked_standing(session, viewer, program, now)
    if state.open is not None:
        raise ProblemSolvingError(
            "You are already working on one problem together. Once you have both looked back on how it "
            "went, you can pick the next."
        )
    row = Agreement(
        couple_id=state.couple_id,
        stage=STAGE,
        issue=text,
        options=[],
        created_by_id=viewer.person_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def write_matters(*, session: Session, viewer: Viewer, program: Program, text: str, now: datetime) -> None:
    """Save what matters to the viewer about the problem. It can be changed until both have written
    theirs; from then on each has read the other's, so both stay as written."""
    body = _text(text, "what matters to you", MAX_MATTERS)
    state = _locked_standing(session, viewer, program, now)
    if state.step != Step.MATTERS:
        if state.step == Step.ISSUE:
            raise ProblemSolvingError("There is no problem picked yet: start by picking one.")
        raise ProblemSolvingError(
            "You have both written what matters to you; it stays as you wrote it, now that you have each "
            "read the other's."
        )
    assert state.open is not None
    part = _part(session, state.open.id, viewer.person_id)
    part.matters = body
    session.add(part)
    _touch(session, state.open.id, now)


def add_option(*, session: Session, viewer: Viewer, program: Program, text: str, now: datetime) -> None:
    """Add one idea to the brainstorm list (either partner, any number up to MAX_OPTIONS, no judging:
    nothing on the list is removed or voted down). A duplicate of one already listed is refused."""
    option = _text(text, "your idea", MAX_OPTION)
    state = _locked_standing(session, viewer, program, now)
    agreement = _expect(state, Step.OPTIONS)
    if option.casefold() in {o.casefold() for o in agreement.options}:
        raise ProblemSolvingError("That idea is already on the list.")
    if len(agreement.options) >= MAX_OPTIONS:
        raise ProblemSolvingError(f"The list holds {MAX_OPTIONS} ideas: time to choose one to try.")
    row = _row(session, agreement.id)
    row.options = [*row.options, option]  # a new list, so the encrypted column is written again
    row.updated_at = now
    session.add(row)


def choose(
    *,
    session: Session,
    viewer: Viewer,
    program: Program,
    option: str,
    who_does_what: str,
    by_when: date,
    now: datetime,
) -> None:
    """Choose one listed option and say who does what by when. The plan can be rewritten until both have
    confirmed it; any change clears both confirmations, so each confirms the plan as it now reads."""
    plan = _text(who_does_what, "who does what", MAX_PLAN)
    if isinstance(by_when, datetime) or not isinstance(by_when, date):
        raise ProblemSolvingError("Please choose the day by when you will have tried it.")
    earliest = (now - _BEHIND).date()
    if by_when < earliest:
        raise ProblemSolvingError("The day by when you'll try it can't be in the past.")
    if by_when > earliest + _LATEST_BY:
        raise ProblemSolvingError("Please choose a day within the next three months: small steps work best.")
    state = _locked_standing(session, viewer, program, now)
    agreement = _expect(state, Step.OPTIONS, Step.CONFIRM)
    if option not in agreement.options:
        raise ProblemSolvingError("Please choose one of the ideas on your list.")
    row = _row(session, agreement.id)
    row.chosen, row.who_does_what, row.by_when, row.updated_at = option, plan, by_when, now
    session.add(row)
    for part in session.exec(select(AgreementPart).where(AgreementPart.agreement_id == agreement.id)):
        part.confirmed_at = None
        session.add(part)


def plan_of(agreement: AgreementView) -> Plan:
    """The plan as a person reads it: what they confirm is exactly this."""
    return (agreement.chosen, agreement.who_does_what, agreement.by_when)


def confirm(
    *, session: Session, viewer: Viewer, program: Program, agreement_id: int, plan: Plan, now: datetime
) -> bool:
    """The viewer confirms the plan as they read it (agreement_id and plan: what is on their screen; if
    the partner rewrote it meanwhile, the confirmation is refused so they read the new one first). When
    both have confirmed, it is the couple's agreement: agreed_at is set and the review clock starts.
    Returns whether it is now agreed."""
    state = _locked_standing(session, viewer, program, now)
    agreement = _expect(state, Step.CONFIRM)
    if agreement.id != agreement_id or plan_of(agreement) != plan:
        raise ProblemSolvingError("The plan has changed since you opened it: please read it again.")
    part = _part(session, agreement.id, viewer.person_id)
    part.confirmed_at = part.confirmed_at or now
    session.add(part)
    session.flush()
    confirmed = session.exec(
        select(AgreementPart.person_id).where(
            AgreementPart.agreement_id == agreement.id,
            col(AgreementPart.confirmed_at).is_not(None),
        )
    ).all()
    if state.partner_id is None or not {viewer.person_id, state.partner_id} <= set(confirmed):
        return False
    row = _row(session, agreement.id)
    row.agreed_at = row.updated_at = now
    session.add(row)
    return True


def review(
    *,
    session: Session,
    viewer: Viewer,
    program: Program,
    agreement_id: int,
    rating: int,
    note: str,
    now: datetime,
) -> None:
    """The viewer's look back, once due (REVIEW_AFTER after both agreed): how it went (0-10) and what to
    keep or change. Sent once, kept as sent; the partner reads it once both have sent theirs."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not MIN_RATING <= rating <= MAX_RATING:
        raise ProblemSolvingError(f"The rating is a whole number from {MIN_RATING} to {MAX_RATING}.")
    text = _text(note, "what to keep or change", MAX_MATTERS)
    state = _locked_standing(session, viewer, program, now, joint=False)
    if state.open is None or state.open.id != agreement_id:
        raise ProblemSolvingError("That agreement is not one you can look back on now.")
    if state.step == Step.WAITING:
        due = state.review_due_at()
        assert due is not None
        raise ProblemSolvingError(
            f"Give it the week: you can look back on this from {due:%A %d %B, %H:%M} UTC, seven days after "
            "you agreed."
        )
    agreement = _expect(state, Step.REVIEW)
    part = _part(session, agreement.id, viewer.person_id)
    if part.reviewed_at is not None:
        raise ProblemSolvingError(
            "You have already looked back on this agreement; it is kept as you sent it."
        )
    part.review_rating, part.review_note, part.reviewed_at = rating, text, now
    session.add(part)


def _touch(session: Session, agreement_id: int, now: datetime) -> None:
    row = _row(session, agreement_id)
    row.updated_at = now
    session.add(row)


def export_rows(*, session: Session, viewer: Viewer) -> list[dict[str, object]]:
    """The viewer's own parts in every agreement, oldest first, for their data export: what mattered to
    them, when they confirmed, their review. The plan itself (written by both) comes with it only for the
    viewer's current couple, read through access like the page; a former couple's plan stays behind, as
    everything shared in a couple that ended does. Never the partner's part."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    current = (
        {a.id: a for a in access.readable_agreements(session=session, viewer=viewer, couple_id=couple_id)}
        if couple_id is not None
        else {}
    )
    rows: list[dict[str, object]] = []
    for part, agreement_couple in session.exec(
        select(AgreementPart, Agreement.couple_id)
        .join(Agreement, col(Agreement.id) == AgreementPart.agreement_id)
        .where(AgreementPart.person_id == viewer.person_id)
        .order_by(col(Agreement.created_at), col(Agreement.id))
    ):
        plan = current.get(part.agreement_id)
        rows.append(
            {
                "couple": agreement_couple,
                "issue": plan.issue if plan else None,
                "options": list(plan.options) if plan else None,
                "chosen": plan.chosen if plan else None,
                "who_does_what": plan.who_does_what if plan else None,
                "by_when": plan.by_when if plan else None,
                "agreed_at": plan.agreed_at if plan else None,
                "what_matters_to_me": part.matters,
                "confirmed_at": part.confirmed_at,
                "review_rating": part.review_rating,
                "review_note": part.review_note,
                "reviewed_at": part.reviewed_at,
            }
        )
    return rows
