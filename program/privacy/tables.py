"""The tables only program.privacy reads or writes: who is in which couple, a therapist's approval, codes and
grants, and each questionnaire item's answer. Everything else reaches them through the privacy package's
functions; import-linter's contract in pyproject.toml keeps it so.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from program.infra.models import couple_fk, person_fk, when_field


class TherapistApproval(SQLModel, table=True):
    """The server operator's word that a therapist account is who it claims (`approve-therapist`). Without
    it the therapist makes no codes and sees no couple; `unapprove-therapist` deletes it (the audit keeps
    both). A table of its own, not a column on person: anyone could register as a therapist."""

    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE", primary_key=True)
    approved_at: datetime = when_field()
    # The operator's login name on the server, as the command saw it.
    approved_by: str = Field(sa_type=sa.String(64))


class CoupleMembership(SQLModel, table=True):
    """A partner's place in a couple; a couple has at most two current memberships."""

    __table_args__ = (
        sa.Index("ix_couplemembership_couple_current", "couple_id", "left_at"),
        # One current couple per person, kept by the database itself: concurrent requests cannot break it.
        sa.Index(
            "uq_couplemembership_one_current",
            "person_id",
            unique=True,
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = couple_fk(index=False)
    person_id: int = person_fk()
    joined_at: datetime = when_field(default_now=True)
    left_at: datetime | None = when_field(nullable=True)


class TherapistCode(SQLModel, table=True):
    """A code a therapist hands to a couple so that each partner can grant access. Only its hash is stored."""

    id: int | None = Field(default=None, primary_key=True)
    therapist_id: int = person_fk()
    code_hash: str = Field(sa_type=sa.String(64), unique=True)
    created_at: datetime = when_field(default_now=True)
    expires_at: datetime = when_field()


class TherapistGrant(SQLModel, table=True):
    """One partner's consent for one therapist to see the couple; both partners' grants are needed."""

    __table_args__ = (
        sa.Index("ix_therapistgrant_therapist_couple", "therapist_id", "couple_id"),
        # One standing grant per couple, partner and therapist; revoked grants are history and may repeat.
        sa.Index(
            "uq_therapistgrant_one_standing",
            "couple_id",
            "partner_id",
            "therapist_id",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = couple_fk()
    therapist_id: int = person_fk(index=False)
    partner_id: int = person_fk()
    share_safety_screen: bool = Field(default=False)
    granted_at: datetime = when_field(default_now=True)
    revoked_at: datetime | None = when_field(nullable=True)


class QuestionnaireAnswer(SQLModel, table=True):
    """One item's answer in a submission; None means the item was skipped."""

    __table_args__ = (sa.UniqueConstraint("submission_id", "item"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="questionnairesubmission.id", ondelete="CASCADE")
    item: str = Field(sa_type=sa.String(64))
    value: int | None = Field(default=None)
