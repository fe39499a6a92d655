"""Filling in questionnaires: drafts saved answer by answer, submission, and scores."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from program import access, scoring
from program.access import Viewer
from program.curriculum import Instrument
from program.models import QuestionnaireAnswer, QuestionnaireSubmission, Role, SubmissionStatus

BASELINE = "baseline"


class QuestionnaireError(ValueError):
    """Answers that cannot be saved or submitted; the message is meant for the person."""


def extra_occasion(day: date) -> str:
    """The occasion of an operator-added questionnaire filled in on a day: "extra:2026-11-23"."""
    return f"extra:{day.isoformat()}"


def stage_occasion(stage: str, when: str) -> str:
    """The occasion of a stage check: "communication:start" or "communication:end"."""
    return f"{stage}:{when}"


def _submission(
    session: Session, viewer: Viewer, instrument: str, occasion: str
) -> QuestionnaireSubmission | None:
    """The viewer's filling-in of an occasion in their current couple (a new couple starts afresh)."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    return session.exec(
        select(QuestionnaireSubmission).where(
            QuestionnaireSubmission.person_id == viewer.person_id,
            access.in_couple(QuestionnaireSubmission.couple_id, couple_id),
            QuestionnaireSubmission.instrument == instrument,
            QuestionnaireSubmission.occasion == occasion,
        )
    ).first()


@dataclass(frozen=True)
class OwnAnswers:
    """The viewer's answers to one questionnaire occasion, and whether they are submitted."""

    answers: dict[str, int | None]
    submitted_at: datetime | None


def own_answers(*, session: Session, viewer: Viewer, instrument: str, occasion: str) -> OwnAnswers:
    """The viewer's draft or submitted answers in their current couple (empty if not started)."""
    submission = _submission(session, viewer, instrument, occasion)
    if submission is None:
        return OwnAnswers({}, None)
    rows = session.exec(
        select(QuestionnaireAnswer).where(QuestionnaireAnswer.submission_id == submission.id)
    ).all()
    return OwnAnswers({row.item: row.value for row in rows}, submission.submitted_at)


def save_answer(
    *,
    session: Session,
    viewer: Viewer,
    instrument: Instrument,
    occasion: str,
    item: str,
    value: int | None,
    now: datetime,
) -> None:
    """Keep one answer in the viewer's draft (so closing the tab loses nothing)."""
    if viewer.role != Role.PARTNER:
        raise QuestionnaireError("Only partners fill in the program's questionnaires.")
    if item not in {i.key for i in instrument.items}:
        raise QuestionnaireError("That question is not part of this questionnaire.")
    if value is not None and value not in instrument.scale.points:
        raise QuestionnaireError(f"Answers go from {instrument.scale.min} to {instrument.scale.max}.")
    submission = _submission(session, viewer, instrument.key, occasion)
    if submission is None:
        submission = QuestionnaireSubmission(
            person_id=viewer.person_id,
            couple_id=access.current_couple_id(session=session, viewer=viewer),
            instrument=instrument.key,
            occasion=occasion,
            started_at=now,
        )
        session.add(submission)
        session.flush()
    elif submission.status == SubmissionStatus.SUBMITTED:
        raise QuestionnaireError("You have already sent these answers; they can't be changed now.")
    answer = session.exec(
        select(QuestionnaireAnswer).where(
            QuestionnaireAnswer.submission_id == submission.id, QuestionnaireAnswer.item == item
        )
    ).first()
    if answer is None:
        assert submission.id is not None
        answer = QuestionnaireAnswer(submission_id=submission.id, item=item)
    answer.value = value
    submission.updated_at = now
    session.add_all([answer, submission])


def submit(
    *, session: Session, viewer: Viewer, instrument: Instrument, occasion: str, now: datetime
) -> dict[str, scoring.SubscaleScore]:
    """Send the draft: refused (with what is missing) unless every subscale can be scored."""
    submission = _submission(session, viewer, instrument.key, occasion)
    if submission is None:
        raise QuestionnaireError("Please answer the questions first.")
    if submission.status == SubmissionStatus.SUBMITTED:
        raise QuestionnaireError("You have already sent these answers.")
    answers = own_answers(
        session=session, viewer=viewer, instrument=instrument.key, occasion=occasion
    ).answers
    scores = scoring.score(instrument, answers)
    short = [s for s in scores.values() if s.score is None]
    if short:
        needs = ", ".join(
            f"{math.ceil(instrument.min_answered * s.items - 1e-9)} of the {s.items} about {s.title.lower()}"
            for s in short
        )
        raise QuestionnaireError(f"Please answer a few more questions first: at least {needs}.")
    submission.status = SubmissionStatus.SUBMITTED
    submission.submitted_at = now
    session.add(submission)
    return scores


@dataclass(frozen=True)
class SentAnswers:
    """One sent filling-in of a questionnaire."""

    occasion: str
    submitted_at: datetime
    answers: dict[str, int | None]


def own_history(*, session: Session, viewer: Viewer, instrument: str) -> list[SentAnswers]:
    """Every sent filling-in of one questionnaire by the viewer in their current couple, oldest first."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    submissions = session.exec(
        select(QuestionnaireSubmission)
        .where(
            QuestionnaireSubmission.person_id == viewer.person_id,
            access.in_couple(QuestionnaireSubmission.couple_id, couple_id),
            QuestionnaireSubmission.instrument == instrument,
            QuestionnaireSubmission.status == SubmissionStatus.SUBMITTED,
        )
        .order_by(col(QuestionnaireSubmission.submitted_at))
    ).all()
    answers: dict[int, dict[str, int | None]] = {}
    for row in session.exec(
        select(QuestionnaireAnswer).where(
            col(QuestionnaireAnswer.submission_id).in_([s.id for s in submissions])
        )
    ):
        answers.setdefault(row.submission_id, {})[row.item] = row.value
    return [
        SentAnswers(s.occasion, s.submitted_at, answers.get(s.id or 0, {}))
        for s in submissions
        if s.submitted_at is not None
    ]
