"""A person's own questionnaire answers: the one place outside the access rules that reads or writes them.

Each function takes the viewer and their own submissions (found by program.course.questionnaires) and
refuses anyone else's. What a partner or a therapist may see of someone's answers is decided in
program.privacy.access (the blind rule), never here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel import Session, col, select

from program.infra.models import QuestionnaireSubmission
from program.privacy.access import AccessDenied
from program.privacy.tables import QuestionnaireAnswer
from program.privacy.viewer import Viewer


def _refuse_others(viewer: Viewer, submissions: Sequence[QuestionnaireSubmission]) -> None:
    if any(submission.person_id != viewer.person_id for submission in submissions):
        raise AccessDenied("Only the person who answered reads or changes these answers this way.")


def answers_by_submission(
    *, session: Session, viewer: Viewer, submissions: Sequence[QuestionnaireSubmission]
) -> dict[int, dict[str, int | None]]:
    """The viewer's answers in each of these submissions of theirs, by submission id, in the order they were
    first saved (one statement; a submission with no answer yet is absent)."""
    _refuse_others(viewer, submissions)
    ids = [submission.id for submission in submissions if submission.id is not None]
    answers: dict[int, dict[str, int | None]] = {}
    for row in session.exec(
        select(QuestionnaireAnswer)
        .where(col(QuestionnaireAnswer.submission_id).in_(ids))
        .order_by(col(QuestionnaireAnswer.id))
    ):
        answers.setdefault(row.submission_id, {})[row.item] = row.value
    return answers


def keep_answers(
    *,
    session: Session,
    viewer: Viewer,
    submission: QuestionnaireSubmission,
    answers: Mapping[str, int | None],
) -> None:
    """Write these answers into the viewer's own saved submission: each item's answer is added or replaced,
    and a None keeps the item unanswered. The caller checks the answers and that the draft may change."""
    _refuse_others(viewer, [submission])
    assert submission.id is not None
    saved = {
        row.item: row
        for row in session.exec(
            select(QuestionnaireAnswer).where(QuestionnaireAnswer.submission_id == submission.id)
        )
    }
    for item, value in answers.items():
        row = saved.get(item) or QuestionnaireAnswer(submission_id=submission.id, item=item)
        row.value = value
        session.add(row)
