"""Kindred's tables, but for those only program.privacy may read (memberships, therapist approval, codes
and grants, questionnaire answers), which are in program/privacy/tables.py.

Times are stored in UTC. Each person's inputs carry that person's id, so one partner's rows can never
overwrite the other's; what a viewer may read is decided in program.privacy.access, not here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel
from typing_extensions import override

from program.infra.crypto import EncryptedJSON, EncryptedText


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back aware (SQLite returns naive values, PostgreSQL not)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC time")
        return value.astimezone(UTC)

    @override
    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when_field(*, nullable: bool = False, default_now: bool = False) -> Any:
    """A UTC timestamp column."""
    if default_now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=nullable)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


OnDelete = Literal["CASCADE", "SET NULL"]


def person_fk(*, nullable: bool = False, ondelete: OnDelete = "CASCADE", index: bool = True) -> Any:
    return Field(default=None, foreign_key="person.id", ondelete=ondelete, nullable=nullable, index=index)


def couple_fk(*, nullable: bool = False, ondelete: OnDelete = "CASCADE", index: bool = True) -> Any:
    return Field(default=None, foreign_key="couple.id", ondelete=ondelete, nullable=nullable, index=index)


def _unique_per_couple(name: str, *columns: str) -> tuple[sa.Index, sa.Index]:
    """One row per person and these columns within each couple, and one among a person's couple-less rows.

    Two partial unique indexes: NULLs are distinct in a plain UNIQUE on SQLite and PostgreSQL alike, so
    (person, couple, ...) alone would let a person keep any number of couple-less rows.
    """
    given_in_couple = sa.text("couple_id IS NOT NULL")
    solo = sa.text("couple_id IS NULL")
    return (
        sa.Index(
            f"uq_{name}_couple", "person_id", "couple_id", *columns, unique=True,
            sqlite_where=given_in_couple, postgresql_where=given_in_couple,
        ),
        sa.Index(
            f"uq_{name}_solo", "person_id", *columns, unique=True,
            sqlite_where=solo, postgresql_where=solo,
        ),
    )  # fmt: skip


class Role(StrEnum):
    """What a person is to Kindred."""

    PARTNER = "partner"
    THERAPIST = "therapist"


class Visibility(StrEnum):
    """Who may read a piece of free text besides its writer."""

    PRIVATE = "private"
    PARTNER = "partner"
    THERAPIST = "therapist"


class SubmissionStatus(StrEnum):
    """Whether a questionnaire is still being filled in."""

    DRAFT = "draft"
    SUBMITTED = "submitted"


class Person(SQLModel, table=True):
    """Someone with a login: a partner or a therapist. (`user` is reserved in PostgreSQL.)"""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=sa.String(64), unique=True, index=True)
    display_name: str = Field(sa_type=sa.String(80))
    role: Role = Field(sa_type=sa.String(16))
    password_hash: str = Field(sa_type=sa.String(128))
    created_at: datetime = when_field(default_now=True)
    disabled_at: datetime | None = when_field(nullable=True)
    # Optional, as the person wrote them ("she/her", "they/them"); used in text about them.
    pronouns: str | None = Field(default=None, sa_type=sa.String(40))


class LoginSession(SQLModel, table=True):
    """The server's record of one login. A login cookie works only while its row is live."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk()
    # Digest of the cookie's signed contents; a copy of the cookie maps to the same row.
    token_id: str = Field(sa_type=sa.String(64), unique=True)
    created_at: datetime = when_field(default_now=True)
    last_seen_at: datetime = when_field(default_now=True)
    expires_at: datetime = when_field()
    revoked_at: datetime | None = when_field(nullable=True)


class LoginThrottle(SQLModel, table=True):
    """Recent failed logins for one username, known or not, keyed by a keyed digest of the name."""

    key: str = Field(sa_type=sa.String(64), primary_key=True)
    failures: int = Field(default=0)
    last_failure_at: datetime = when_field()


class PasswordResetCode(SQLModel, table=True):
    """A one-time code the operator makes on the command line so someone can choose a new password."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk()
    code_hash: str = Field(sa_type=sa.String(64), unique=True)
    created_at: datetime = when_field(default_now=True)
    expires_at: datetime = when_field()
    used_at: datetime | None = when_field(nullable=True)
    failed_attempts: int = Field(default=0)


class Couple(SQLModel, table=True):
    """Two partners doing the program together."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = when_field(default_now=True)
    created_by_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    # The weekly check-in time the couple picked (0 = Monday), for the calendar file; local clock time.
    checkin_weekday: int | None = Field(default=None, ge=0, le=6)
    checkin_time: time | None = Field(default=None)


class InviteCode(SQLModel, table=True):
    """A single-use, expiring code that lets the second partner join a couple.

    It is found by its hash; the open code is also kept encrypted for the partner who made it.
    """

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = couple_fk()
    code_hash: str = Field(sa_type=sa.String(64), unique=True)
    created_by_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    created_at: datetime = when_field(default_now=True)
    expires_at: datetime = when_field()
    used_at: datetime | None = when_field(nullable=True)
    used_by_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    # The code itself, encrypted, so its maker can read it again; cleared once used, expired or replaced.
    code_text: str | None = Field(default=None, sa_type=EncryptedText)


class QuestionnaireSubmission(SQLModel, table=True):
    """One person's filling-in of one questionnaire on one occasion (baseline, a stage's start or end)."""

    __table_args__ = (
        sa.Index("ix_submission_couple_instrument", "couple_id", "instrument", "occasion"),
        # One filling-in per person, couple, questionnaire and occasion: drafts are updated, never
        # duplicated, and a new couple starts its own assessment.
        *_unique_per_couple("submission", "instrument", "occasion"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk(index=False)
    couple_id: int | None = couple_fk(nullable=True, ondelete="SET NULL", index=False)
    instrument: str = Field(sa_type=sa.String(64))
    occasion: str = Field(sa_type=sa.String(64))
    status: SubmissionStatus = Field(default=SubmissionStatus.DRAFT, sa_type=sa.String(16))
    started_at: datetime = when_field(default_now=True)
    updated_at: datetime = when_field(default_now=True)
    submitted_at: datetime | None = when_field(nullable=True)


class SafetyScreen(SQLModel, table=True):
    """A private safety screen. Kept apart from questionnaires so it can never reach joint charts."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk()
    # "full", or "short": the few items asked again at the start of each stage.
    form: str = Field(default="full", sa_type=sa.String(16))
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=EncryptedJSON)
    flagged: bool = Field(default=False)
    submitted_at: datetime = when_field(default_now=True)


class PauseReason(StrEnum):
    """Why a partner paused joint work; only the pauser ever reads it."""

    BUSY = "busy"
    TRAVELLING = "travelling"
    BREAK = "break"
    SAFETY = "safety"


class JointPause(SQLModel, table=True):
    """A partner pausing the couple's joint exercises. The partner learns only that joint work is paused."""

    __table_args__ = (
        # One standing pause per person: a second "pause" while one stands is the same pause.
        sa.Index(
            "uq_jointpause_one_standing",
            "person_id",
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
        sa.Index("ix_jointpause_couple_ended", "couple_id", "ended_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk(index=False)
    couple_id: int = couple_fk(index=False)
    reason: PauseReason = Field(sa_type=sa.String(16))
    started_at: datetime = when_field(default_now=True)
    ended_at: datetime | None = when_field(nullable=True)


class Reflection(SQLModel, table=True):
    """A piece of free text (goals, strengths, exercise reflections); private unless its writer shares it."""

    __table_args__ = (sa.Index("ix_reflection_couple_visibility", "couple_id", "visibility"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk()
    couple_id: int | None = couple_fk(nullable=True, ondelete="SET NULL", index=False)
    context: str = Field(sa_type=sa.String(96))
    body: str = Field(sa_type=EncryptedText)
    visibility: Visibility = Field(default=Visibility.PRIVATE, sa_type=sa.String(16))
    created_at: datetime = when_field(default_now=True)
    updated_at: datetime = when_field(default_now=True)


class ExerciseRecord(SQLModel, table=True):
    """One person's work on one exercise of a stage: a draft until completed."""

    __table_args__ = (
        *_unique_per_couple("exerciserecord", "stage", "exercise"),
        sa.Index("ix_exerciserecord_couple_stage", "couple_id", "stage"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk(index=False)
    couple_id: int | None = couple_fk(nullable=True, ondelete="SET NULL", index=False)
    stage: str = Field(sa_type=sa.String(32))
    exercise: str = Field(sa_type=sa.String(64))
    data: dict[str, Any] = Field(default_factory=dict, sa_type=EncryptedJSON)
    started_at: datetime = when_field(default_now=True)
    updated_at: datetime = when_field(default_now=True)
    completed_at: datetime | None = when_field(nullable=True)


class StageOpening(SQLModel, table=True):
    """A stage a therapist opened for a couple ahead of the usual order."""

    __table_args__ = (sa.UniqueConstraint("couple_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = couple_fk(index=False)
    stage: str = Field(sa_type=sa.String(32))
    opened_at: datetime = when_field(default_now=True)
    opened_by_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)


class HomeworkAssignment(SQLModel, table=True):
    """Homework for a couple, from a stage or from their therapist, with a due date."""

    __table_args__ = (sa.Index("ix_homework_couple_due", "couple_id", "due_on"),)

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = couple_fk(index=False)
    stage: str | None = Field(default=None, sa_type=sa.String(32))
    title: str = Field(sa_type=sa.String(160))
    instructions: str = Field(default="", sa_type=EncryptedText)
    due_on: date
    assigned_by_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    # The partner it is for; None: both partners.
    for_person_id: int | None = person_fk(nullable=True, ondelete="CASCADE", index=False)
    created_at: datetime = when_field(default_now=True)


class HomeworkCompletion(SQLModel, table=True):
    """One partner marking a homework done."""

    __table_args__ = (sa.UniqueConstraint("assignment_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="homeworkassignment.id", ondelete="CASCADE")
    person_id: int = person_fk()
    completed_at: datetime = when_field(default_now=True)


class CheckIn(SQLModel, table=True):
    """A partner's weekly check-in: five 0-10 ratings and an optional note; the charts' main time series."""

    __table_args__ = (
        # A partner who re-forms within a week checks in again for the new couple.
        *_unique_per_couple("checkin", "week_start"),
        sa.Index("ix_checkin_couple_week", "couple_id", "week_start"),
        *(
            sa.CheckConstraint(f"{name} BETWEEN 0 AND 10", name=f"ck_checkin_{name}_range")
            for name in ("closeness", "communication", "conflict", "trust", "overall")
        ),
        sa.CheckConstraint("intimacy BETWEEN 0 AND 10", name="ck_checkin_intimacy_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk(index=False)
    couple_id: int | None = couple_fk(nullable=True, ondelete="SET NULL", index=False)
    week_start: date
    closeness: int
    communication: int
    conflict: int
    trust: int
    overall: int
    note: str | None = Field(default=None, sa_type=EncryptedText)
    note_visibility: Visibility = Field(default=Visibility.PRIVATE, sa_type=sa.String(16))
    # The optional private intimacy rating (0-10), read only by its writer unless they share it.
    intimacy: int | None = Field(default=None)
    intimacy_visibility: Visibility = Field(default=Visibility.PRIVATE, sa_type=sa.String(16))
    created_at: datetime = when_field(default_now=True)
    updated_at: datetime = when_field(default_now=True)


class TherapistNote(SQLModel, table=True):
    """A therapist's private session note about a couple; never shown to the partners."""

    __table_args__ = (sa.Index("ix_therapistnote_therapist_couple", "therapist_id", "couple_id"),)

    id: int | None = Field(default=None, primary_key=True)
    therapist_id: int = person_fk(index=False)
    couple_id: int = couple_fk()
    body: str = Field(sa_type=EncryptedText)
    created_at: datetime = when_field(default_now=True)
    updated_at: datetime = when_field(default_now=True)


class TherapySession(SQLModel, table=True):
    """A session the couple's therapist held with them ("session held"); each partner may then rate it."""

    __table_args__ = (sa.Index("ix_therapysession_couple_held", "couple_id", "held_on"),)

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = couple_fk(index=False)
    therapist_id: int | None = person_fk(nullable=True, ondelete="SET NULL")
    held_on: date
    created_at: datetime = when_field(default_now=True)


FEEDBACK_ITEMS = ("heard", "goals", "approach", "overall")


class SessionFeedback(SQLModel, table=True):
    """One partner's private 0-10 ratings of one session; their partner never reads them."""

    __table_args__ = (
        sa.UniqueConstraint("session_id", "person_id"),
        *(
            sa.CheckConstraint(f"{name} BETWEEN 0 AND 10", name=f"ck_sessionfeedback_{name}_range")
            for name in FEEDBACK_ITEMS
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="therapysession.id", ondelete="CASCADE", index=True)
    person_id: int = person_fk()
    heard: int
    goals: int
    approach: int
    overall: int
    submitted_at: datetime = when_field(default_now=True)


class ModuleChoice(SQLModel, table=True):
    """A partner's private choice about an optional module (the intimacy module). It opens only when both
    partners chose it; nobody learns the other's "no" or that they have not answered."""

    __table_args__ = (sa.UniqueConstraint("person_id", "couple_id", "module"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk(index=False)
    couple_id: int = couple_fk()
    module: str = Field(sa_type=sa.String(32))
    wants: bool = Field(default=False)
    chosen_at: datetime = when_field(default_now=True)
    # When this partner finished marking the module's wishes list (both finished: the common ones show).
    wishes_finished_at: datetime | None = when_field(nullable=True)


class WishMark(SQLModel, table=True):
    """One partner's private mark on one wishes-list item: "yes", "maybe" or "no"."""

    __table_args__ = (sa.UniqueConstraint("person_id", "couple_id", "item"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk(index=False)
    couple_id: int = couple_fk()
    item: str = Field(sa_type=sa.String(64))
    mark: str = Field(sa_type=sa.String(8))
    updated_at: datetime = when_field(default_now=True)


class CoupleGoal(SQLModel, table=True):
    """A goal the couple agreed together (one to three): proposed by one, accepted or edited by the other,
    confirmed by both. An edit clears the confirmations."""

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = couple_fk()
    body: str = Field(sa_type=EncryptedText)
    proposed_by_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    edited_by_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    created_at: datetime = when_field(default_now=True)
    updated_at: datetime = when_field(default_now=True)
    withdrawn_at: datetime | None = when_field(nullable=True)


class GoalConfirmation(SQLModel, table=True):
    """One partner confirming a couple goal as it now reads."""

    __table_args__ = (sa.UniqueConstraint("goal_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    goal_id: int = Field(foreign_key="couplegoal.id", ondelete="CASCADE", index=True)
    person_id: int = person_fk()
    confirmed_at: datetime = when_field(default_now=True)


class GoalRating(SQLModel, table=True):
    """One partner's 0-10 rating of progress on a couple goal at the end of a stage."""

    __table_args__ = (
        sa.UniqueConstraint("goal_id", "person_id", "stage"),
        sa.CheckConstraint("rating BETWEEN 0 AND 10", name="ck_goalrating_rating_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    goal_id: int = Field(foreign_key="couplegoal.id", ondelete="CASCADE", index=True)
    person_id: int = person_fk()
    stage: str = Field(sa_type=sa.String(32))
    rating: int
    rated_at: datetime = when_field(default_now=True)


class Agreement(SQLModel, table=True):
    """A couple's problem-solving agreement (Conflict stage): the issue, the options brainstormed, the one
    chosen, who does what by when; its review comes due a week after both agreed."""

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = couple_fk()
    stage: str = Field(sa_type=sa.String(32))
    issue: str = Field(sa_type=EncryptedText)
    options: list[str] = Field(default_factory=list, sa_type=EncryptedJSON)
    chosen: str = Field(default="", sa_type=EncryptedText)
    who_does_what: str = Field(default="", sa_type=EncryptedText)
    by_when: date | None = Field(default=None)
    created_by_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    created_at: datetime = when_field(default_now=True)
    updated_at: datetime = when_field(default_now=True)
    agreed_at: datetime | None = when_field(nullable=True)


class AgreementPart(SQLModel, table=True):
    """One partner's part in an agreement: what matters to them, and their confirmation of the plan."""

    __table_args__ = (sa.UniqueConstraint("agreement_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", ondelete="CASCADE", index=True)
    person_id: int = person_fk()
    matters: str = Field(default="", sa_type=EncryptedText)
    confirmed_at: datetime | None = when_field(nullable=True)
    # The review a week after agreeing: how it went (0-10) and what to change.
    review_rating: int | None = Field(default=None, ge=0, le=10)
    review_note: str | None = Field(default=None, sa_type=EncryptedText)
    reviewed_at: datetime | None = when_field(nullable=True)


class NoticeDismissal(SQLModel, table=True):
    """A kind notice a person dismissed (e.g. the suggestion to see a couples therapist): shown once."""

    __table_args__ = (sa.UniqueConstraint("person_id", "notice"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = person_fk(index=False)
    notice: str = Field(sa_type=sa.String(48))
    dismissed_at: datetime = when_field(default_now=True)


class AuditEvent(SQLModel, table=True):
    """Something worth a record: logins, consent changes, every therapist view of a couple."""

    __table_args__ = (
        sa.Index("ix_auditevent_couple_at", "couple_id", "at"),
        sa.Index("ix_auditevent_actor_at", "actor_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = when_field(default_now=True)
    actor_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    action: str = Field(sa_type=sa.String(48))
    couple_id: int | None = couple_fk(nullable=True, ondelete="SET NULL", index=False)
    subject_id: int | None = person_fk(nullable=True, ondelete="SET NULL", index=False)
    detail: str = Field(default="", sa_type=sa.String(300))
