"""Requests sent at the same moment, as an attacker (or an impatient double click) would, on both databases.

Each round starts fresh people, lines up several threads behind a barrier, and lets each do its request in its
own unit of work. Afterwards the invariants must hold (one current couple per person, one standing grant per
partner and therapist) and every loser must have got a message meant for a person, never a database error.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from program.infra.db import alembic_config, create_db_engine, read_session, write_session
from program.infra.models import Couple, InviteCode, Role
from program.privacy import couples, grants
from program.privacy.couples import CoupleError
from program.privacy.grants import GrantError
from program.privacy.tables import CoupleMembership, TherapistGrant
from program.privacy.viewer import Viewer
from tests.databases import fresh_database
from tests.factories import make_couple, make_person, make_person_before_migrations, race

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
THREADS = 8
ROUNDS = 10


def _person(engine: Engine, role: Role = Role.PARTNER) -> Viewer:
    return make_person(engine, f"{role.value[:1]}{secrets.token_hex(5)}", role)


def _current_couples(engine: Engine, person: Viewer) -> list[int]:
    with read_session(engine) as session:
        return list(
            session.exec(
                select(CoupleMembership.couple_id).where(
                    CoupleMembership.person_id == person.person_id, col(CoupleMembership.left_at).is_(None)
                )
            )
        )


def _create(person: Viewer) -> Callable[[Session], object]:
    return lambda session: couples.create_couple(session=session, viewer=person, key=KEY, now=NOW)


def _join(person: Viewer, code: str) -> Callable[[Session], object]:
    return lambda session: couples.join_couple(session=session, viewer=person, code=code, key=KEY, now=NOW)


def _grant(person: Viewer, code: str) -> Callable[[Session], object]:
    return lambda session: grants.grant_access(session=session, viewer=person, code=code, key=KEY, now=NOW)


def _assert_only_friendly(errors: list[BaseException], kind: type[Exception], says: str) -> None:
    unexpected = [error for error in errors if not isinstance(error, kind) or says not in str(error)]
    assert unexpected == [], f"losers saw database errors, not a message: {unexpected[:3]!r}"


def test_a_double_start_makes_one_couple(engine: Engine) -> None:
    """Eight "Start a couple" clicks at once leave the person in exactly one couple; the rest are told why."""
    for _ in range(ROUNDS):
        ana = _person(engine)
        results, errors = race(engine, *(_create(ana) for _ in range(THREADS)))
        assert len(_current_couples(engine, ana)) == 1
        assert len(results) == 1 and len(errors) == THREADS - 1
        _assert_only_friendly(errors, CoupleError, "already part of a couple")
        with read_session(engine) as session:
            made = session.exec(select(func.count()).where(Couple.created_by_id == ana.person_id)).one()
        assert made == 1, "a refused start left a couple behind"


def test_starting_while_joining_ends_in_one_couple(engine: Engine) -> None:
    """A partner who starts a couple while joining another (four of each at once) ends up in only one."""
    for _ in range(ROUNDS):
        ana, ben = _person(engine), _person(engine)
        with write_session(engine) as session:
            invite = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
        requests = [_create(ben) if i % 2 else _join(ben, invite.code) for i in range(THREADS)]
        results, errors = race(engine, *requests)
        current = _current_couples(engine, ben)
        assert len(current) == 1
        assert len(results) == 1 and len(errors) == THREADS - 1
        _assert_only_friendly(errors, CoupleError, "already part of a couple")
        with read_session(engine) as session:
            members = session.exec(
                select(func.count()).where(
                    CoupleMembership.couple_id == current[0], col(CoupleMembership.left_at).is_(None)
                )
            ).one()
        assert members == (2 if current == _current_couples(engine, ana) else 1)


def test_two_people_joining_one_invite_fill_it_once(engine: Engine) -> None:
    """Several people typing the same invite code at once: one joins, the others are told it is used."""
    for _ in range(ROUNDS):
        ana = _person(engine)
        others = [_person(engine) for _ in range(THREADS)]
        with write_session(engine) as session:
            invite = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
        results, errors = race(engine, *(_join(other, invite.code) for other in others))
        assert len(results) == 1 and len(errors) == THREADS - 1
        _assert_only_friendly(errors, CoupleError, "")
        assert sum(len(_current_couples(engine, other)) for other in others) == 1


def test_duplicate_grants_leave_one_standing_grant(engine: Engine) -> None:
    """Eight grants of the same therapist by the same partner at once leave one standing grant."""
    for _ in range(ROUNDS):
        ana, ben, tess = _person(engine), _person(engine), _person(engine, Role.THERAPIST)
        couple_id = make_couple(engine, ana, ben)
        with write_session(engine) as session:
            code = grants.issue_therapist_code(session=session, viewer=tess, key=KEY, now=NOW).code
        results, errors = race(engine, *(_grant(ana, code) for _ in range(THREADS)))
        assert len(results) == 1 and len(errors) == THREADS - 1
        _assert_only_friendly(errors, GrantError, "already given")
        with read_session(engine) as session:
            standing = session.exec(
                select(func.count()).where(
                    TherapistGrant.couple_id == couple_id,
                    TherapistGrant.partner_id == ana.person_id,
                    col(TherapistGrant.revoked_at).is_(None),
                )
            ).one()
        assert standing == 1


def test_the_migration_repairs_what_earlier_races_left(tmp_path: Path) -> None:
    """A database where the races already put Ana in three current couples (one with Ben, who also granted
    Dr. Kim three times) migrates: Ana keeps the couple with Ben, the other two end as if left, Ben keeps one
    standing grant, and the schema then refuses any new duplicate."""
    with fresh_database(tmp_path) as url:
        engine = create_db_engine(url)
        try:
            command.upgrade(alembic_config(engine), "0002")
            ana, ben = (
                make_person_before_migrations(engine, "ana"),
                make_person_before_migrations(engine, "ben"),
            )
            kim = make_person_before_migrations(engine, "dr.kim", Role.THERAPIST)  # no approvals at 0002
            lone_a, paired, lone_b = (
                make_couple(engine, ana),
                make_couple(engine, ana, ben),
                make_couple(engine, ana),
            )
            with write_session(engine) as session:
                for _ in range(3):
                    session.add(
                        TherapistGrant(couple_id=paired, therapist_id=kim.person_id, partner_id=ben.person_id)
                    )
                    session.add(
                        TherapistGrant(couple_id=lone_b, therapist_id=kim.person_id, partner_id=ana.person_id)
                    )
                # Written as SQL: the model has columns that later migrations add (the invite code's text).
                session.execute(
                    text(
                        "INSERT INTO invitecode (couple_id, code_hash, created_at, expires_at) "
                        "VALUES (:couple, :hash, :now, :expires)"
                    ),
                    {"couple": lone_a, "hash": "h" * 64, "now": NOW, "expires": NOW + timedelta(days=3)},
                )
            command.upgrade(alembic_config(engine), "head")
            assert _current_couples(engine, ana) == [paired]
            assert _current_couples(engine, ben) == [paired]
            with read_session(engine) as session:
                standing = session.exec(
                    select(TherapistGrant.couple_id, TherapistGrant.partner_id).where(
                        col(TherapistGrant.revoked_at).is_(None)
                    )
                ).all()
                invites = session.exec(select(InviteCode)).all()
            assert standing == [(paired, ben.person_id)]
            assert invites == []
            with pytest.raises(IntegrityError):
                make_couple(engine, ben)
            with pytest.raises(IntegrityError), write_session(engine) as session:
                session.add(
                    TherapistGrant(couple_id=paired, therapist_id=kim.person_id, partner_id=ben.person_id)
                )
        finally:
            engine.dispose()


def test_a_grant_made_while_the_couple_ends_does_not_stand(engine: Engine) -> None:
    """Ben grants Dr. Kim access at the moment Ana leaves: either the grant came first and leaving revoked it,
    or Ben is told the couple has ended. No standing grant outlives the couple."""
    for _ in range(ROUNDS):
        ana, ben, kim = _person(engine), _person(engine), _person(engine, Role.THERAPIST)
        couple_id = make_couple(engine, ana, ben)
        with write_session(engine) as session:
            code = grants.issue_therapist_code(session=session, viewer=kim, key=KEY, now=NOW).code

        def leave(session: Session, ana: Viewer = ana) -> object:
            couples.leave_couple(session=session, viewer=ana, now=NOW)
            return None

        results, errors = race(engine, leave, _grant(ben, code))
        _assert_only_friendly(errors, GrantError, "")
        assert _current_couples(engine, ana) == [] and _current_couples(engine, ben) == []
        with read_session(engine) as session:
            standing = session.exec(
                select(func.count()).where(
                    TherapistGrant.couple_id == couple_id, col(TherapistGrant.revoked_at).is_(None)
                )
            ).one()
        assert standing == 0


def test_joining_while_the_inviter_renews_the_code(engine: Engine) -> None:
    """Ben joins with Ana's code at the moment she makes a new one: either he joins (and her renewal is
    refused) or he is told the code is not recognised; never a database error, never a half-used code."""
    for _ in range(ROUNDS):
        ana, ben = _person(engine), _person(engine)
        with write_session(engine) as session:
            invite = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)

        def renew(session: Session, ana: Viewer = ana) -> object:
            return couples.renew_invite(session=session, viewer=ana, key=KEY, now=NOW)

        results, errors = race(engine, renew, _join(ben, invite.code))
        _assert_only_friendly(errors, CoupleError, "")
        assert len(results) + len(errors) == 2
        joined = _current_couples(engine, ben) == _current_couples(engine, ana)
        refused = [str(error) for error in errors]
        if joined:
            assert refused == ["Your couple already has both partners."]
        else:
            assert len(refused) == 1 and "recognise that code" in refused[0]
