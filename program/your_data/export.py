"""A person's own data, to take with them: a zip of JSON and CSV files with a README saying what each holds.

Only the person's own rows, and of other people's texts only what was shared with them, read
through program.privacy.access like every page. Never a password hash, a partner's private text or answers, a
therapist's notes, or anyone's safety screen but their own.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, or_, select

from program.course import couple_goals, problem_solving, scoring, shared_texts
from program.course.curriculum import Program
from program.infra.models import (
    FEEDBACK_ITEMS,
    AuditEvent,
    CheckIn,
    ExerciseRecord,
    HomeworkAssignment,
    HomeworkCompletion,
    JointPause,
    ModuleChoice,
    NoticeDismissal,
    Person,
    QuestionnaireSubmission,
    Reflection,
    Role,
    SessionFeedback,
    TherapySession,
    WishMark,
)
from program.privacy import access, grants, membership
from program.privacy.answers import answers_by_submission
from program.privacy.grants import VIEWED
from program.privacy.viewer import Viewer
from program.therapist import homework

Row = dict[str, Any]
# A spreadsheet runs a cell starting with one of these as a formula: such cells get a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

FILES: dict[str, str] = {
    "account.json": "Your account: username, display name, pronouns if you gave them, role, when it was "
    "made. No password.",
    "couples.csv": "Each couple you were in: when you joined and left, and your partner's display name.",
    "questionnaires.json": "Your questionnaire answers (drafts too) and the scores Kindred worked out.",
    "checkins.csv": "Your weekly check-ins: the five ratings, your note and who you shared it with, and "
    "your intimacy rating if you gave one, with who you shared that with.",
    "reflections.csv": "Everything you wrote (goals, strengths, reflections, practice-log text) and who "
    "you shared each with (private, partner, therapist).",
    "exercises.json": "Your exercise records: when you started and finished each, and your practice-log "
    "days; under stage 'ongoing', your weekly appreciation log and your booster review.",
    "homework.csv": "Homework for you (from a stage, or from your therapist for you or for both of you) in "
    "each couple you were in, and when you marked it done. Homework your therapist gave your partner "
    "alone is theirs, not here.",
    "session_feedback.csv": "Your own ratings of each session your therapist marked held (0 to 10, higher "
    "is better). Only you and that therapist ever read them; your partner's ratings are never here.",
    "safety_screens.json": "Your own private safety checks: your answers and whether they were flagged.",
    "pauses.csv": "Each time you paused joint exercises, with the reason you chose (only you ever see it).",
    "therapist_grants.csv": "Each time you gave a therapist access, when you withdrew it, and whether you "
    "told them your safety check needs attention (share_safety_screen; never your answers).",
    "therapist_views.csv": "Every time a therapist opened a couple you were in.",
    "notices.csv": "The kind notices you chose to hide (such as the suggestion to see a couples therapist), "
    "and when; the notice names the couple it was about.",
    "shared_with_me.json": "Texts your current partner (or a therapist) shared with you, as you see them "
    "in Kindred. After a couple ends, what your former partner shared is no longer shown to you, "
    "so it is not here either.",
    "problem_solving.json": "Your part in each problem you solved together in the Conflict stage: what "
    "mattered to you, when you confirmed the plan, and your look back a week later. The plan itself comes "
    "with it for your current couple; your partner's part is theirs, not here.",
    "intimacy.json": "The optional intimacy module: your own yes or no to opening it (with when), when "
    "you finished your wishes list, and your own marks on it. Never your partner's answer or marks.",
    "couple_goals.json": "Shared goals you proposed, worded, confirmed or rated in each couple you were in: "
    "the wording where you wrote it as it reads (your partner's wording is theirs), when you confirmed it, "
    "and your own 0-10 ratings at each stage's end.",
    "audit_events.csv": "The audit trail's record of what you did (logins, consent changes and the like), "
    "and what the operator did to your account.",
}


def _plain(value: Any) -> Any:
    """A value JSON and CSV can hold: times as ISO 8601 text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _json(data: Any) -> bytes:
    return json.dumps(_plain(data), ensure_ascii=False, indent=2, sort_keys=False).encode()


def _cell(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def _csv(columns: Sequence[str], rows: Sequence[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _cell(row.get(name)) for name in columns})
    # A byte-order mark, so spreadsheets read the UTF-8 (names and notes in any language) as UTF-8.
    return ("\ufeff" + out.getvalue()).encode()


def _readme(viewer: Viewer, now: datetime) -> bytes:
    lines = [
        f"Kindred: all data of {viewer.username}, exported {now:%Y-%m-%d %H:%M} UTC.",
        "",
        "Times are UTC, in ISO 8601. CSV files are UTF-8; a cell that a spreadsheet would run as a",
        "formula (it starts with = + - or @) has an apostrophe in front. JSON files hold text exactly.",
        "Other people's private texts and answers, and therapists' session notes, are never included.",
        "",
        "Files:",
        *(f"  {name}: {what}" for name, what in FILES.items()),
        "",
    ]
    return "\n".join(lines).encode()


def _couples(session: Session, viewer: Viewer) -> list[Row]:
    mine = membership.memberships_of(session, viewer.person_id)
    everyone = membership.members_ever(session, [own.couple_id for own in mine])
    rows: list[Row] = []
    for own in mine:
        # Display names only: a partner's username and account are theirs.
        partners = [
            m.display_name for m in everyone.get(own.couple_id, ()) if m.person_id != viewer.person_id
        ]
        rows.append(
            {
                "couple": own.couple_id,
                "joined_at": own.joined_at,
                "left_at": own.left_at,
                "current": own.left_at is None,
                "partner_display_name": ", ".join(partners),
            }
        )
    return rows


def _questionnaires(session: Session, viewer: Viewer, program: Program) -> list[Row]:
    submissions = session.exec(
        select(QuestionnaireSubmission)
        .where(QuestionnaireSubmission.person_id == viewer.person_id)
        .order_by(col(QuestionnaireSubmission.started_at), col(QuestionnaireSubmission.id))
    ).all()
    answers = answers_by_submission(session=session, viewer=viewer, submissions=submissions)
    rows: list[Row] = []
    for submission in submissions:
        given = answers.get(submission.id or 0, {})
        instrument = program.instruments.get(submission.instrument)
        scores: dict[str, float | None] | None = None
        if instrument is not None:
            try:
                scores = {key: s.score for key, s in scoring.score(instrument, given).items()}
            except scoring.ScoringError:
                scores = None  # an instrument whose items changed since: the answers are still exported
        rows.append(
            {
                "questionnaire": submission.instrument,
                "occasion": submission.occasion,
                "couple": submission.couple_id,
                "status": submission.status,
                "started_at": submission.started_at,
                "submitted_at": submission.submitted_at,
                "answers": given,
                "scores": scores,
            }
        )
    return rows


def _fields(row: object, names: Sequence[str]) -> Row:
    return {name: getattr(row, name) for name in names}


CHECKIN_COLUMNS = ("couple_id", "week_start", "closeness", "communication", "conflict", "trust", "overall",
                   "note", "note_visibility", "intimacy", "intimacy_visibility", "created_at",
                   "updated_at")  # fmt: skip
REFLECTION_COLUMNS = ("couple_id", "context", "body", "visibility", "created_at", "updated_at")
FEEDBACK_COLUMNS = (*FEEDBACK_ITEMS, "submitted_at")
EXERCISE_COLUMNS = ("couple_id", "stage", "exercise", "data", "started_at", "updated_at", "completed_at")


def _own_rows(
    session: Session, viewer: Viewer, model: Any, columns: Sequence[str], made_at: Any
) -> list[Row]:
    """The viewer's own rows of one kind (check-ins, texts, exercises), oldest first, as the named columns."""
    rows = session.exec(
        select(model).where(model.person_id == viewer.person_id).order_by(col(made_at), col(model.id))
    ).all()
    return [_fields(r, columns) for r in rows]


def _homework(session: Session, viewer: Viewer) -> list[Row]:
    """Homework for the viewer in any couple they were in (for both partners or for them alone), and any
    they marked done; never homework for their partner alone."""
    theirs = membership.couple_ids_ever(viewer.person_id)
    rows = session.exec(
        homework.with_own_completion(viewer)
        .where(
            or_(
                col(HomeworkCompletion.id).is_not(None),
                and_(
                    col(HomeworkAssignment.couple_id).in_(theirs),
                    or_(
                        col(HomeworkAssignment.for_person_id).is_(None),
                        col(HomeworkAssignment.for_person_id) == viewer.person_id,
                    ),
                ),
            )
        )
        .order_by(col(HomeworkAssignment.created_at), col(HomeworkAssignment.id))
    ).all()
    return [
        {
            "couple": assignment.couple_id,
            "stage": assignment.stage,
            "title": assignment.title,
            "instructions": assignment.instructions,
            "for": "both partners" if assignment.for_person_id is None else "you",
            "due_on": assignment.due_on,
            "assigned_at": assignment.created_at,
            "completed_at": completed_at,
        }
        for assignment, completed_at in rows
    ]


def _session_feedback(session: Session, viewer: Viewer) -> list[Row]:
    """The viewer's own session ratings only (by person id): never a partner's, whoever held the session."""
    rows = session.exec(
        select(SessionFeedback, TherapySession)
        .join(TherapySession, col(TherapySession.id) == SessionFeedback.session_id)
        .where(SessionFeedback.person_id == viewer.person_id)
        .order_by(col(TherapySession.held_on), col(SessionFeedback.id))
    ).all()
    return [
        {"couple": held.couple_id, "held_on": held.held_on, **_fields(rating, FEEDBACK_COLUMNS)}
        for rating, held in rows
    ]


def _safety_screens(session: Session, viewer: Viewer) -> list[Row]:
    screens = access.readable_safety_screens(session=session, viewer=viewer, person_id=viewer.person_id)
    return [
        {"submitted_at": s.submitted_at, "form": s.form, "answers": s.answers, "flagged": s.flagged}
        for s in screens
    ]


def _intimacy(session: Session, viewer: Viewer) -> dict[str, list[Row]]:
    """The viewer's own module choices and wish marks, in every couple they were in; nobody else's."""
    choices = session.exec(
        select(ModuleChoice)
        .where(ModuleChoice.person_id == viewer.person_id)
        .order_by(col(ModuleChoice.chosen_at), col(ModuleChoice.id))
    ).all()
    marks = session.exec(
        select(WishMark).where(WishMark.person_id == viewer.person_id).order_by(col(WishMark.id))
    ).all()
    return {
        "choices": [
            _fields(c, ("couple_id", "module", "wants", "chosen_at", "wishes_finished_at")) for c in choices
        ],
        "wish_marks": [_fields(m, ("couple_id", "item", "mark", "updated_at")) for m in marks],
    }


def _pauses(session: Session, viewer: Viewer) -> list[Row]:
    rows = session.exec(
        select(JointPause)
        .where(JointPause.person_id == viewer.person_id)
        .order_by(col(JointPause.started_at), col(JointPause.id))
    ).all()
    return [_fields(r, ("couple_id", "reason", "started_at", "ended_at")) for r in rows]


def _grants(session: Session, viewer: Viewer) -> list[Row]:
    return [
        {
            "couple": g.couple_id,
            "therapist_display_name": g.therapist_name,
            "partner_display_name": g.partner_name,
            "share_safety_screen": g.share_safety_screen,  # the partner's own only (grants.GrantHistory)
            "granted_at": g.granted_at,
            "revoked_at": g.revoked_at,
        }
        for g in grants.grant_history(session=session, viewer=viewer)
    ]


def _therapist_views(session: Session, viewer: Viewer) -> list[Row]:
    therapist = aliased(Person)
    condition: ColumnElement[bool]
    if viewer.role == Role.THERAPIST:
        condition = col(AuditEvent.actor_id) == viewer.person_id
    else:
        condition = col(AuditEvent.couple_id).in_(membership.couple_ids_ever(viewer.person_id))
    rows = session.exec(
        select(AuditEvent, therapist.display_name)
        .join(therapist, col(therapist.id) == AuditEvent.actor_id, isouter=True)
        .where(AuditEvent.action == VIEWED, condition)
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    return [
        {"at": e.at, "couple": e.couple_id, "therapist_display_name": name, "what": e.detail}
        for e, name in rows
    ]


def _shared_with_me(session: Session, viewer: Viewer, program: Program) -> list[Row]:
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return []
    texts = shared_texts.shared_with_viewer(
        session=session, viewer=viewer, couple_id=couple_id, program=program
    )
    return [{"from": t.writer, "where": t.where, "day": t.day, "text": t.body} for t in texts]


def _audit(session: Session, viewer: Viewer) -> list[Row]:
    events = session.exec(
        select(AuditEvent)
        # What they did, and what the operator did to their account; never another person's act that
        # merely names them (a partner telling a therapist their safety check needs attention).
        .where(
            or_(
                col(AuditEvent.actor_id) == viewer.person_id,
                and_(col(AuditEvent.subject_id) == viewer.person_id, col(AuditEvent.actor_id).is_(None)),
            )
        )
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    return [{"at": e.at, "action": e.action, "couple": e.couple_id, "detail": e.detail} for e in events]


def export_zip(*, session: Session, viewer: Viewer, program: Program, now: datetime) -> bytes:
    """Everything of the viewer's, as the bytes of a zip file (see FILES and the README inside)."""
    person = session.get(Person, viewer.person_id)
    if person is None:
        raise access.AccessDenied("This account no longer exists.")
    account = _fields(person, ("username", "display_name", "pronouns", "role", "created_at", "disabled_at"))
    contents: dict[str, bytes] = {
        "account.json": _json(account),
        "couples.csv": _csv(
            ("couple", "joined_at", "left_at", "current", "partner_display_name"), _couples(session, viewer)
        ),
        "questionnaires.json": _json(_questionnaires(session, viewer, program)),
        "checkins.csv": _csv(
            CHECKIN_COLUMNS, _own_rows(session, viewer, CheckIn, CHECKIN_COLUMNS, CheckIn.week_start)
        ),
        "reflections.csv": _csv(
            REFLECTION_COLUMNS,
            _own_rows(session, viewer, Reflection, REFLECTION_COLUMNS, Reflection.created_at),
        ),
        "exercises.json": _json(
            _own_rows(session, viewer, ExerciseRecord, EXERCISE_COLUMNS, ExerciseRecord.started_at)
        ),
        "homework.csv": _csv(
            ("couple", "stage", "title", "instructions", "for", "due_on", "assigned_at", "completed_at"),
            _homework(session, viewer),
        ),
        "session_feedback.csv": _csv(
            ("couple", "held_on", *FEEDBACK_COLUMNS), _session_feedback(session, viewer)
        ),
        "safety_screens.json": _json(_safety_screens(session, viewer)),
        "pauses.csv": _csv(("couple_id", "reason", "started_at", "ended_at"), _pauses(session, viewer)),
        "therapist_grants.csv": _csv(
            (
                "couple",
                "therapist_display_name",
                "partner_display_name",
                "share_safety_screen",
                "granted_at",
                "revoked_at",
            ),
            _grants(session, viewer),
        ),  # fmt: skip
        "therapist_views.csv": _csv(
            ("at", "couple", "therapist_display_name", "what"), _therapist_views(session, viewer)
        ),
        "shared_with_me.json": _json(_shared_with_me(session, viewer, program)),
        "problem_solving.json": _json(problem_solving.export_rows(session=session, viewer=viewer)),
        "intimacy.json": _json(_intimacy(session, viewer)),
        "couple_goals.json": _json(couple_goals.export_rows(session=session, viewer=viewer)),
        "notices.csv": _csv(
            ("notice", "dismissed_at"),
            _own_rows(
                session, viewer, NoticeDismissal, ("notice", "dismissed_at"), NoticeDismissal.dismissed_at
            ),
        ),
        "audit_events.csv": _csv(("at", "action", "couple", "detail"), _audit(session, viewer)),
    }
    assert set(contents) == set(FILES), "every exported file is described in the README"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(viewer, now))
        for name, data in contents.items():
            archive.writestr(name, data)
    return buffer.getvalue()
