"""Filling in questionnaires: drafts saved a page of answers at a time, submission, and scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from program.course import scoring
from program.course.curriculum import Instrument
from program.infra.models import QuestionnaireSubmission, Role, SubmissionStatus
from program.privacy import access
from program.privacy.answers import answers_by_submission, keep_answers
from program.privacy.viewer import Viewer

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
    given = answers_by_submission(session=session, viewer=viewer, submissions=[submission])
    return OwnAnswers(given.get(submission.id or 0, {}), submission.submitted_at)


class MissingAnswers(QuestionnaireError):
    """Sending refused: some items have no answer on the server (`numbers`: their 1-based numbers)."""

    def __init__(self, numbers: Sequence[int]) -> None:
        self.numbers = tuple(numbers)
        super().__init__(f"Please answer {number_list(self.numbers)} first; then send your answers.")


def number_list(numbers: Sequence[int]) -> str:
    """Item numbers as a person reads them: "3, 7 and 12"; runs of three or more as "1 to 5"."""
    parts: list[str] = []
    run: list[int] = []
    for number in [*sorted(numbers), None]:
        if number is not None and run and number == run[-1] + 1:
            run.append(number)
            continue
        if len(run) >= 3:
            parts.append(f"{run[0]} to {run[-1]}")
        else:
            parts.extend(str(n) for n in run)
        run = [] if number is None else [number]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def missing_numbers(instrument: Instrument, answers: Mapping[str, int | None]) -> list[int]:
    """The 1-based numbers of the items without an answer."""
    return [n for n, item in enumerate(instrument.items, start=1) if answers.get(item.key) is None]


def off_scale_numbers(instrument: Instrument, answers: Mapping[str, int | None]) -> list[int]:
    """The numbers of the items whose answer is not a point of that item's own scale (in a mixed-scale
    questionnaire a 6 fits some items and not others)."""
    return [
        n
        for n, item in enumerate(instrument.items, start=1)
        if (value := answers.get(item.key)) is not None and value not in instrument.scale_of(item).points
    ]


def _locked_submission(
    session: Session, viewer: Viewer, instrument: str, occasion: str
) -> QuestionnaireSubmission | None:
    """The viewer's filling-in, its row locked for this transaction (PostgreSQL; SQLite's write lock is
    already held), so two tabs saving or sending at once take turns instead of colliding."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    return session.exec(
        select(QuestionnaireSubmission)
        .where(
            QuestionnaireSubmission.person_id == viewer.person_id,
            access.in_couple(QuestionnaireSubmission.couple_id, couple_id),
            QuestionnaireSubmission.instrument == instrument,
            QuestionnaireSubmission.occasion == occasion,
        )
        .with_for_update()
    ).first()


def _draft_for_writing(
    session: Session, viewer: Viewer, instrument: Instrument, occasion: str, now: datetime
) -> QuestionnaireSubmission:
    """The viewer's draft, created if new and locked; refused once sent."""
    submission = _locked_submission(session, viewer, instrument.key, occasion)
    if submission is None:
        try:
            with session.begin_nested():  # a parallel first save may insert the same row first
                submission = QuestionnaireSubmission(
                    person_id=viewer.person_id,
                    couple_id=access.current_couple_id(session=session, viewer=viewer),
                    instrument=instrument.key,
                    occasion=occasion,
                    started_at=now,
                )
                session.add(submission)
                session.flush()
        except IntegrityError:
            submission = _locked_submission(session, viewer, instrument.key, occasion)
            assert submission is not None
    if submission.status == SubmissionStatus.SUBMITTED:
        raise QuestionnaireError("You have already sent these answers; they can't be changed now.")
    return submission


def save_answers(
    *,
    session: Session,
    viewer: Viewer,
    instrument: Instrument,
    occasion: str,
    answers: Mapping[str, int | None],
    now: datetime,
) -> None:
    """Keep a set of answers in the viewer's draft in one write (so closing the tab loses nothing).

    Every answer is checked before anything is written: one bad answer refuses them all. A None clears
    that item's answer.
    """
    if viewer.role != Role.PARTNER:
        raise QuestionnaireError("Only partners fill in the program's questionnaires.")
    known = {i.key for i in instrument.items}
    if any(item not in known for item in answers):
        raise QuestionnaireError("That question is not part of this questionnaire.")
    if off := off_scale_numbers(instrument, answers):
        scale = instrument.scale_of(instrument.items[off[0] - 1])
        raise QuestionnaireError(f"Answers to question {off[0]} go from {scale.min} to {scale.max}.")
    submission = _draft_for_writing(session, viewer, instrument, occasion, now)
    keep_answers(session=session, viewer=viewer, submission=submission, answers=answers)
    submission.updated_at = now
    session.add(submission)


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
    """Keep one answer in the viewer's draft."""
    save_answers(
        session=session,
        viewer=viewer,
        instrument=instrument,
        occasion=occasion,
        answers={item: value},
        now=now,
    )


def submit(
    *, session: Session, viewer: Viewer, instrument: Instrument, occasion: str, now: datetime
) -> dict[str, scoring.SubscaleScore]:
    """Send the draft as the server holds it: refused, with the numbers of the items that have no saved
    answer, unless every item is answered."""
    submission = _locked_submission(session, viewer, instrument.key, occasion)
    if submission is None:
        raise QuestionnaireError("Please answer the questions first.")
    if submission.status == SubmissionStatus.SUBMITTED:
        raise QuestionnaireError("You have already sent these answers.")
    session.flush()
    answers = own_answers(
        session=session, viewer=viewer, instrument=instrument.key, occasion=occasion
    ).answers
    if missing := missing_numbers(instrument, answers):
        raise MissingAnswers(missing)
    # A draft saved before the operator changed an item's scale may hold an answer that no longer fits.
    if off := off_scale_numbers(instrument, answers):
        raise QuestionnaireError(
            f"Please answer {number_list(off)} again: the answer saved there is not on its scale."
        )
    scores = scoring.score(instrument, answers)
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


def _sent_by_viewer(
    viewer: Viewer, couple_id: int | None, instrument: str
) -> tuple[ColumnElement[bool], ...]:
    """The viewer's sent fillings-in of one questionnaire in this couple (None: before any couple)."""
    return (
        col(QuestionnaireSubmission.person_id) == viewer.person_id,
        access.in_couple(QuestionnaireSubmission.couple_id, couple_id),
        col(QuestionnaireSubmission.instrument) == instrument,
        col(QuestionnaireSubmission.status) == SubmissionStatus.SUBMITTED,
    )


def sent_times(*, session: Session, viewer: Viewer, instrument: str) -> list[tuple[str, datetime]]:
    """When the viewer sent each filling-in of one questionnaire in their current couple, oldest first: the
    occasions alone, without reading any answers (own_history reads them all)."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    rows = session.exec(
        select(QuestionnaireSubmission.occasion, QuestionnaireSubmission.submitted_at)
        .where(*_sent_by_viewer(viewer, couple_id, instrument))
        .order_by(col(QuestionnaireSubmission.submitted_at))
    )
    return [(occasion, submitted_at) for occasion, submitted_at in rows if submitted_at is not None]


def own_history(*, session: Session, viewer: Viewer, instrument: str) -> list[SentAnswers]:
    """Every sent filling-in of one questionnaire by the viewer in their current couple, oldest first."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    submissions = session.exec(
        select(QuestionnaireSubmission)
        .where(*_sent_by_viewer(viewer, couple_id, instrument))
        .order_by(col(QuestionnaireSubmission.submitted_at))
    ).all()
    given = answers_by_submission(session=session, viewer=viewer, submissions=submissions)
    return [
        SentAnswers(s.occasion, s.submitted_at, given.get(s.id or 0, {}))
        for s in submissions
        if s.submitted_at is not None
    ]
