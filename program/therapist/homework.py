"""Homework a couple's therapist assigns: to both partners or to one, with a due date, marked done by each
partner it is for. (A stage's own homework is a step of the stage: see journey.HOMEWORK.)"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select
from sqlmodel.sql.expression import Select

from program.infra import audit
from program.infra.db import memo
from program.infra.models import HomeworkAssignment, HomeworkCompletion, Role
from program.privacy import access, membership
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer

MAX_TITLE_CHARS = 160
MAX_INSTRUCTIONS_CHARS = 4000
# Homework done this long ago still shows on the partner's home page, with the day it was done.
RECENTLY_DONE = timedelta(days=14)
ASSIGNED = "therapist.homework_assigned"
ASSIGNED_DETAIL = "assigned homework"
NOT_YOURS = "This homework is not one of yours to mark done."


class HomeworkError(ValueError):
    """Homework that cannot be assigned or marked as asked; the message is meant for the person."""


@dataclass(frozen=True)
class HomeworkItem:
    """Homework as the partner it is for sees it."""

    id: int
    title: str
    instructions: str
    due_on: date
    for_both: bool
    assigned_at: datetime
    overdue: bool
    done_at: datetime | None


@dataclass(frozen=True)
class HomeworkStatus:
    """One assignment as the therapist sees it: for whom (None: both partners), and who did it when."""

    id: int
    title: str
    instructions: str
    due_on: date
    for_person_id: int | None
    assigned_at: datetime
    done: dict[int, datetime]


@dataclass(frozen=True)
class Partner:
    """A current partner of a couple, as the assign form offers them."""

    person_id: int
    name: str


def _require_therapist(session: Session, viewer: Viewer, couple_id: int) -> None:
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only the couple's therapist assigns homework here.")
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)


def couple_partners(*, session: Session, viewer: Viewer, couple_id: int) -> list[Partner]:
    """The couple's current partners in joining order, for a therapist who may see the couple."""
    _require_therapist(session, viewer, couple_id)
    return [Partner(m.person_id, m.display_name) for m in membership.current_partners(session, couple_id)]


def assign(
    *,
    session: Session,
    viewer: Viewer,
    couple_id: int,
    title: str,
    instructions: str,
    due_on: date,
    for_person_id: int | None,
    today: date,
    now: datetime,
) -> int:
    """The therapist assigns homework to both partners (for_person_id None) or to one; returns its id."""
    partners = couple_partners(session=session, viewer=viewer, couple_id=couple_id)
    title = title.strip()
    instructions = instructions.strip()
    if not title:
        raise HomeworkError("Give the homework a title, so the couple knows what it is.")
    if len(title) > MAX_TITLE_CHARS:
        raise HomeworkError(f"The title is {len(title)} characters long; keep it to {MAX_TITLE_CHARS}.")
    if len(instructions) > MAX_INSTRUCTIONS_CHARS:
        raise HomeworkError(
            f"What to do is {len(instructions)} characters long; keep it to {MAX_INSTRUCTIONS_CHARS}."
        )
    if due_on < today:
        raise HomeworkError(f"The due date {due_on:%d %B %Y} has passed. Choose today or a later day.")
    if for_person_id is not None and for_person_id not in {p.person_id for p in partners}:
        raise HomeworkError("Homework can be for both partners or for one partner of this couple only.")
    homework = HomeworkAssignment(
        couple_id=couple_id,
        stage=None,
        title=title,
        instructions=instructions,
        due_on=due_on,
        assigned_by_id=viewer.person_id,
        for_person_id=for_person_id,
        created_at=now,
    )
    session.add(homework)
    session.flush()
    assert homework.id is not None
    audit.record(
        session, action=ASSIGNED, actor_id=viewer.person_id, couple_id=couple_id, detail=ASSIGNED_DETAIL
    )
    return homework.id


def _for_viewer(viewer: Viewer, couple_id: int) -> tuple[ColumnElement[bool], ...]:
    """Homework from a therapist for this partner in this couple: for both partners, or for them alone."""
    return (
        col(HomeworkAssignment.couple_id) == couple_id,
        col(HomeworkAssignment.stage).is_(None),
        or_(
            col(HomeworkAssignment.for_person_id).is_(None),
            col(HomeworkAssignment.for_person_id) == viewer.person_id,
        ),
    )


def for_partner(*, session: Session, viewer: Viewer, today: date) -> list[HomeworkItem]:
    """The viewer's homework from their therapist in their current couple: open first (soonest due first),
    then what they did in the last two weeks. Homework for the other partner alone never appears.
    Read once per read session (home asks twice a rerun)."""
    return list(
        memo(
            session,
            ("homework_for_partner", viewer.person_id, today),
            lambda: tuple(_for_partner(session=session, viewer=viewer, today=today)),
        )
    )


def with_own_completion(viewer: Viewer) -> Select[HomeworkAssignment, datetime]:
    """Homework assignments, each with when the viewer marked it done (None: not done by them); the
    caller says which assignments."""
    return select(HomeworkAssignment, HomeworkCompletion.completed_at).join(
        HomeworkCompletion,
        and_(
            col(HomeworkCompletion.assignment_id) == HomeworkAssignment.id,
            col(HomeworkCompletion.person_id) == viewer.person_id,
        ),
        isouter=True,
    )


def _for_partner(*, session: Session, viewer: Viewer, today: date) -> list[HomeworkItem]:
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return []
    rows = session.exec(
        with_own_completion(viewer)
        .where(*_for_viewer(viewer, couple_id))
        .order_by(col(HomeworkAssignment.due_on), col(HomeworkAssignment.id))
    ).all()
    items = [
        HomeworkItem(
            id=row.id,
            title=row.title,
            instructions=row.instructions,
            due_on=row.due_on,
            for_both=row.for_person_id is None,
            assigned_at=row.created_at,
            overdue=done_at is None and row.due_on < today,
            done_at=done_at,
        )
        for row, done_at in rows
        if row.id is not None and (done_at is None or done_at.date() >= today - RECENTLY_DONE)
    ]
    return [i for i in items if i.done_at is None] + [i for i in items if i.done_at is not None]


def mark_done(*, session: Session, viewer: Viewer, assignment_id: int, now: datetime) -> None:
    """The viewer marks homework for them done; marking it again changes nothing."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    homework = (
        None
        if couple_id is None
        else session.exec(
            select(HomeworkAssignment).where(
                HomeworkAssignment.id == assignment_id, *_for_viewer(viewer, couple_id)
            )
        ).first()
    )
    # Refused alike whether it does not exist, is another couple's or the other partner's alone.
    if homework is None:
        raise AccessDenied(NOT_YOURS)
    done = select(HomeworkCompletion.id).where(
        HomeworkCompletion.assignment_id == assignment_id, HomeworkCompletion.person_id == viewer.person_id
    )
    if session.exec(done).first() is not None:
        return
    try:
        # A savepoint: two clicks racing each other meet the unique constraint, and the second is harmless.
        with session.begin_nested():
            session.add(
                HomeworkCompletion(assignment_id=assignment_id, person_id=viewer.person_id, completed_at=now)
            )
    except IntegrityError:
        if session.exec(done).first() is None:
            raise


def couple_homework(*, session: Session, viewer: Viewer, couple_id: int) -> list[HomeworkStatus]:
    """Every homework a therapist assigned this couple, newest due date first, with each current
    partner's completion (for a therapist who may see the couple)."""
    partners = {p.person_id for p in couple_partners(session=session, viewer=viewer, couple_id=couple_id)}
    rows = session.exec(
        select(HomeworkAssignment)
        .where(HomeworkAssignment.couple_id == couple_id, col(HomeworkAssignment.stage).is_(None))
        .order_by(col(HomeworkAssignment.due_on).desc(), col(HomeworkAssignment.id).desc())
    ).all()
    ids = [row.id for row in rows if row.id is not None]
    done: dict[int, dict[int, datetime]] = defaultdict(dict)
    if ids:
        for completion in session.exec(
            select(HomeworkCompletion).where(
                col(HomeworkCompletion.assignment_id).in_(ids),
                col(HomeworkCompletion.person_id).in_(partners),
            )
        ):
            done[completion.assignment_id][completion.person_id] = completion.completed_at
    return [
        HomeworkStatus(
            id=row.id,
            title=row.title,
            instructions=row.instructions,
            due_on=row.due_on,
            for_person_id=row.for_person_id,
            assigned_at=row.created_at,
            done=dict(done[row.id]),
        )
        for row in rows
        if row.id is not None
    ]
