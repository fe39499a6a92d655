"""Test factories: people, couples and grants made through the same functions the app uses."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from program.auth import accounts, login_sessions
from program.infra.db import write_session
from program.infra.models import Couple, Person, Role
from program.infra.settings import Settings
from program.privacy.tables import CoupleMembership, TherapistApproval, TherapistGrant
from program.privacy.viewer import Viewer

PASSWORD = "a long enough test passphrase"
# The default policies, without reading the environment's settings.
TEST_POLICIES = login_sessions.Policies.from_settings(Settings(cookie_key=None, database_url="sqlite://"))


def make_person(
    engine: Engine,
    username: str,
    role: Role = Role.PARTNER,
    name: str | None = None,
    *,
    approved: bool = True,
) -> Viewer:
    """Register an account and return it as a viewer; a therapist comes approved by the operator unless
    `approved=False`."""
    with write_session(engine) as session:
        person = accounts.register(
            session=session,
            account=accounts.NewAccount(username, name or username.title(), PASSWORD, PASSWORD, role),
            bcrypt_rounds=4,
        )
        if role == Role.THERAPIST and approved:
            session.flush()
            assert person.id is not None
            session.add(
                TherapistApproval(person_id=person.id, approved_at=datetime.now(UTC), approved_by="test")
            )
        return Viewer.of(person)


def make_person_before_migrations(engine: Engine, username: str, role: Role = Role.PARTNER) -> Viewer:
    """An account written as SQL with only the columns the first schema has, for a database at an old
    revision (the model, and accounts.register, hold columns later migrations add)."""
    with write_session(engine) as session:
        person_id = session.execute(
            text(
                "INSERT INTO person (username, display_name, role, password_hash, created_at) "
                "VALUES (:username, :name, :role, :hash, :now) RETURNING id"
            ),
            {
                "username": username,
                "name": username.title(),
                "role": role.value,
                "hash": "not a login",
                "now": datetime.now(UTC),
            },
        ).scalar_one()
    return Viewer(int(person_id), username, username.title(), role)


def make_couple(engine: Engine, *partners: Viewer, joined_at: datetime | None = None) -> int:
    """A couple with these partners as current members, joined now or at `joined_at`."""
    with write_session(engine) as session:
        couple = Couple(created_by_id=partners[0].person_id if partners else None)
        session.add(couple)
        session.flush()
        assert couple.id is not None
        for partner in partners:
            membership = CoupleMembership(couple_id=couple.id, person_id=partner.person_id)
            if joined_at is not None:
                membership.joined_at = joined_at
            session.add(membership)
        return couple.id


def grant(
    engine: Engine, couple_id: int, therapist: Viewer, partner: Viewer, *, revoked: bool = False
) -> None:
    """One partner's grant of access for a therapist."""
    with write_session(engine) as session:
        session.add(
            TherapistGrant(
                couple_id=couple_id,
                therapist_id=therapist.person_id,
                partner_id=partner.person_id,
                revoked_at=datetime.now(UTC) if revoked else None,
            )
        )


def start_login_session(engine: Engine, viewer: Viewer, *, now: datetime | None = None) -> int:
    """A live server-side login for this person, as the login form makes; returns its id."""
    with write_session(engine) as session:
        person = session.get(Person, viewer.person_id)
        assert person is not None
        login = login_sessions.start(
            session=session,
            person=person,
            token=secrets.token_hex(32),
            now=now or datetime.now(UTC),
            policies=TEST_POLICIES,
        )
        assert login.id is not None
        return login.id


def race(engine: Engine, *requests: Callable[[Session], object]) -> tuple[list[object], list[BaseException]]:
    """Run each request in its own thread and unit of work, all released at once (parallel requests, as
    an attacker or two tabs send them); their results and errors."""
    barrier = threading.Barrier(len(requests))
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(request: Callable[[Session], object]) -> None:
        barrier.wait()
        try:
            with write_session(engine) as session:
                result = request(session)
        except BaseException as error:  # noqa: BLE001  (collected and asserted by the test)
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return results, errors
