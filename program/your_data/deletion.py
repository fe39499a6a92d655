"""Deleting an account and everything in it, by the person themselves or by the operator.

The person's rows go through the schema's foreign keys: every table that names a person either deletes
the row with them (ON DELETE CASCADE: their answers, texts, check-ins, exercises, screens, grants, logins)
or forgets them (ON DELETE SET NULL: who made an invite, opened a stage, or did something in the audit
trail). What is not theirs but about them goes too: a therapist's notes about any couple they were in.
The couple ends as when a partner leaves; the other partner's own data stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from program.auth import accounts, throttle
from program.infra import audit
from program.infra.db import read_session, write_session
from program.infra.models import Couple, LoginThrottle, Person, TherapistNote
from program.privacy import access, couples, membership
from program.privacy.viewer import Viewer, normalise_username

DELETED = "account.deleted"
# Confirming with the password is a password check: a borrowed session must not become a guessing machine.
CONFIRM_TRIES = 5
CONFIRM_WINDOW = timedelta(minutes=15)
CONFIRM_PURPOSE = "delete-account"


class DeletionError(ValueError):
    """A deletion that cannot be done; the message is meant for the person."""


@dataclass(frozen=True)
class DeletedAccount:
    """What a deletion removed, for the operator's message."""

    username: str
    couples_ended: int
    notes_deleted: int


def delete_account(*, session: Session, person_id: int, throttle_key: bytes, now: datetime) -> DeletedAccount:
    """Delete one person and all their data in the caller's unit of work (commit it with write_session)."""
    couples.lock_person(session, person_id)
    person = session.get(Person, person_id)
    if person is None:
        raise DeletionError("This account no longer exists.")
    viewer = Viewer.of(person)
    ended = 0
    current = access.current_couple_id(session=session, viewer=viewer)
    if current is not None:
        # The same ending as "Leave couple": the partner sees the couple ended, grants are revoked.
        couples.leave_couple(session=session, viewer=viewer, now=now)
        ended = 1
    their_couples = membership.couples_ever(session, [person_id])
    notes = session.exec(delete(TherapistNote).where(col(TherapistNote.couple_id).in_(their_couples)))
    # A couple nobody else ever joined holds nothing of anyone else: it goes with them (invites too).
    others = {
        couple_id
        for couple_id, members in membership.members_ever(session, their_couples).items()
        if any(m.person_id != person_id for m in members)
    }
    alone = [couple_id for couple_id in their_couples if couple_id not in others]
    if alone:
        session.exec(delete(Couple).where(col(Couple.id).in_(alone)))
    username = person.username
    session.expunge(person)
    # Every other row that names them is removed or loses its pointer by the foreign keys' ON DELETE.
    session.exec(delete(Person).where(col(Person.id) == person_id))
    counters = [throttle.key_for(username, throttle_key, purpose=p) for p in ("login", CONFIRM_PURPOSE)]
    session.exec(delete(LoginThrottle).where(col(LoginThrottle.key).in_(counters)))
    # The trail keeps that an account was deleted, never whose.
    audit.record(session, action=DELETED, detail=viewer.role)
    return DeletedAccount(username, ended, int(notes.rowcount or 0))


def delete_own_account(
    *, engine: Engine, viewer: Viewer, typed_username: str, password: str, key: bytes, now: datetime
) -> DeletedAccount:
    """Delete the viewer's account once they typed their username and their password.

    The password is checked with no transaction open (bcrypt is slow); a wrong confirmation deletes nothing.
    """
    accounts.refuse_control_characters(typed_username, password)
    if normalise_username(typed_username) != viewer.username:
        raise DeletionError(f"To confirm, type your username exactly: {viewer.username}")
    with write_session(engine) as session:
        retry_at = throttle.take(
            session=session,
            key=throttle.key_for(viewer.username, key, purpose=CONFIRM_PURPOSE),
            limit=CONFIRM_TRIES,
            window=CONFIRM_WINDOW,
            now=now,
        )
    if retry_at is not None:
        raise DeletionError(
            f"Too many tries. Please try again after {retry_at:%H:%M} UTC. Nothing was deleted."
        )
    with read_session(engine) as session:
        person = session.get(Person, viewer.person_id)
        if person is None:
            raise DeletionError("This account no longer exists.")
        stored_hash = person.password_hash
    if not accounts.verify_password(password, stored_hash):
        raise DeletionError("That password is not right. Nothing was deleted.")
    with write_session(engine) as session:
        return delete_account(session=session, person_id=viewer.person_id, throttle_key=key, now=now)


def delete_by_username(*, engine: Engine, username: str, key: bytes, now: datetime) -> DeletedAccount:
    """The operator's deletion (disabled accounts too)."""
    name = normalise_username(username)
    with write_session(engine) as session:
        person_id = session.exec(select(Person.id).where(Person.username == name)).first()
        if person_id is None:
            raise DeletionError(f"There is no account named {name!r}.")
        return delete_account(session=session, person_id=person_id, throttle_key=key, now=now)
