"""The audit trail of every consent change: each writes exactly one row naming who did it, to whom, in which
couple. Written so that deleting any `audit.record` call, or recording the wrong person, fails a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from program.course import journey
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Role
from program.privacy import couples, grants
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from tests.factories import make_person
from tests.program_helpers import PROGRAM

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """An audit row as the trail's reader sees it."""

    action: str
    actor: int | None
    subject: int | None
    couple: int | None


def _trail(engine: Engine) -> list[Row]:
    with read_session(engine) as session:
        return [
            Row(e.action, e.actor_id, e.subject_id, e.couple_id)
            for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        ]


def _new_rows(engine: Engine, change: Callable[[Session], object]) -> list[Row]:
    """The audit rows one unit of work adds."""
    before = len(_trail(engine))
    with write_session(engine) as session:
        change(session)
    return _trail(engine)[before:]


@dataclass(frozen=True)
class Cast:
    """Two couples and two therapists, so that a row naming the wrong one shows."""

    ana: Viewer
    ben: Viewer
    cai: Viewer
    dee: Viewer
    rivera: Viewer
    okafor: Viewer


@pytest.fixture
def cast(engine: Engine) -> Iterator[Cast]:
    people = [make_person(engine, n) for n in ("ana", "ben", "cai", "dee")]
    therapists = [make_person(engine, n, Role.THERAPIST) for n in ("rivera", "okafor")]
    yield Cast(*people, *therapists)


def _pair(engine: Engine, first: Viewer, second: Viewer) -> int:
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=first, key=KEY, now=NOW).code
    with write_session(engine) as session:
        return couples.join_couple(session=session, viewer=second, code=code, key=KEY, now=NOW)


def _code(engine: Engine, therapist: Viewer) -> str:
    with write_session(engine) as session:
        return grants.issue_therapist_code(session=session, viewer=therapist, key=KEY, now=NOW).code


def _grant(session: Session, partner: Viewer, code: str) -> str:
    return grants.grant_access(session=session, viewer=partner, code=code, key=KEY, now=NOW)


def test_issuing_a_therapist_code_is_recorded_against_the_therapist(engine: Engine, cast: Cast) -> None:
    """The therapist who made the code, and nobody else, is named."""
    rows = _new_rows(
        engine,
        lambda s: grants.issue_therapist_code(session=s, viewer=cast.okafor, key=KEY, now=NOW),
    )
    assert rows == [Row("therapist.code_issued", cast.okafor.person_id, None, None)]


def test_a_grant_names_the_partner_the_therapist_and_the_couple(engine: Engine, cast: Cast) -> None:
    """Each partner's grant is its own row, in their own couple, for the therapist behind the code."""
    first = _pair(engine, cast.ana, cast.ben)
    second = _pair(engine, cast.cai, cast.dee)
    rivera, okafor = _code(engine, cast.rivera), _code(engine, cast.okafor)
    assert _new_rows(engine, lambda s: _grant(s, cast.ben, okafor)) == [
        Row("therapist.granted", cast.ben.person_id, cast.okafor.person_id, first)
    ]
    assert _new_rows(engine, lambda s: _grant(s, cast.dee, rivera)) == [
        Row("therapist.granted", cast.dee.person_id, cast.rivera.person_id, second)
    ]


def test_a_revoke_names_the_partner_the_therapist_and_the_couple(engine: Engine, cast: Cast) -> None:
    """Withdrawing consent leaves its own row; the other partner's grant is not touched or recorded."""
    couple = _pair(engine, cast.ana, cast.ben)
    _pair(engine, cast.cai, cast.dee)
    code = _code(engine, cast.rivera)
    for partner in (cast.ana, cast.ben):
        with write_session(engine) as session:
            _grant(session, partner, code)
    rows = _new_rows(
        engine,
        lambda s: grants.revoke_access(
            session=s, viewer=cast.ben, therapist_id=cast.rivera.person_id, now=NOW
        ),
    )
    assert rows == [Row("therapist.revoked", cast.ben.person_id, cast.rivera.person_id, couple)]


def test_a_refused_consent_change_records_nothing(engine: Engine, cast: Cast) -> None:
    """A second grant, a revoke without a grant and a bad code leave the trail as it was."""
    _pair(engine, cast.ana, cast.ben)
    code = _code(engine, cast.rivera)
    with write_session(engine) as session:
        _grant(session, cast.ana, code)
    before = _trail(engine)
    refusals: list[tuple[type[Exception], Callable[[Session], object]]] = [
        (grants.GrantError, lambda s: _grant(s, cast.ana, code)),
        (grants.CodeError, lambda s: _grant(s, cast.ben, "AAAA-BBBB-CCCC")),
        (
            grants.GrantError,
            lambda s: grants.revoke_access(
                session=s, viewer=cast.ben, therapist_id=cast.rivera.person_id, now=NOW
            ),
        ),
        (AccessDenied, lambda s: grants.issue_therapist_code(session=s, viewer=cast.ana, key=KEY, now=NOW)),
    ]
    for refused, refuse in refusals:
        with pytest.raises(refused), write_session(engine) as session:
            refuse(session)
    assert _trail(engine) == before


def test_starting_a_couple_records_its_invite_against_the_partner_who_made_it(
    engine: Engine, cast: Cast
) -> None:
    """The invite is issued by starting a couple: one row, the maker and the new couple."""
    made: list[int] = []

    def start(session: Session) -> None:
        couples.create_couple(session=session, viewer=cast.cai, key=KEY, now=NOW)
        couple_id = couples.partner_status(session=session, viewer=cast.cai).couple_id
        assert couple_id is not None
        made.append(couple_id)

    assert _new_rows(engine, start) == [Row("couple.created", cast.cai.person_id, None, made[0])]


def test_using_an_invite_records_who_joined_which_couple(engine: Engine, cast: Cast) -> None:
    """The joiner is named, not the maker, and the row is in the maker's couple."""
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=cast.dee, key=KEY, now=NOW).code
    joined: list[int] = []
    rows = _new_rows(
        engine,
        lambda s: joined.append(couples.join_couple(session=s, viewer=cast.ben, code=code, key=KEY, now=NOW)),
    )
    assert rows == [Row("couple.joined", cast.ben.person_id, None, joined[0])]


def test_renewing_an_invite_is_recorded(engine: Engine, cast: Cast) -> None:
    """A fresh invite code is a consent-relevant change like the first one: it should leave a row."""
    with write_session(engine) as session:
        couples.create_couple(session=session, viewer=cast.ana, key=KEY, now=NOW)
        couple_id = couples.partner_status(session=session, viewer=cast.ana).couple_id
    rows = _new_rows(
        engine, lambda s: couples.renew_invite(session=s, viewer=cast.ana, key=KEY, now=NOW + timedelta(1))
    )
    assert [(r.actor, r.subject, r.couple) for r in rows] == [(cast.ana.person_id, None, couple_id)]


def test_leaving_is_recorded_against_whoever_left(engine: Engine, cast: Cast) -> None:
    """The partner who ended the couple is named, in that couple; the other couple has no row."""
    couple = _pair(engine, cast.ana, cast.ben)
    _pair(engine, cast.cai, cast.dee)
    rows = _new_rows(engine, lambda s: couples.leave_couple(session=s, viewer=cast.ben, now=NOW))
    assert rows == [Row("couple.left", cast.ben.person_id, None, couple)]


def test_every_therapist_view_is_recorded_in_the_couple_viewed(engine: Engine, cast: Cast) -> None:
    """Opening a couple names the therapist and that couple, with what was opened."""
    _pair(engine, cast.ana, cast.ben)
    couple = _pair(engine, cast.cai, cast.dee)
    code = _code(engine, cast.okafor)
    for partner in (cast.cai, cast.dee):
        with write_session(engine) as session:
            _grant(session, partner, code)
    rows = _new_rows(
        engine,
        lambda s: grants.open_couple(session=s, viewer=cast.okafor, couple_id=couple, what="progress"),
    )
    assert rows == [Row(grants.VIEWED, cast.okafor.person_id, None, couple)]
    before = _trail(engine)
    with pytest.raises(AccessDenied), write_session(engine) as session:
        grants.open_couple(session=session, viewer=cast.rivera, couple_id=couple, what="progress")
    assert _trail(engine) == before


def test_a_stage_opened_by_the_therapist_is_recorded(engine: Engine, cast: Cast) -> None:
    """A therapist changing what a couple may do next is recorded for the couple to see."""
    couple = _pair(engine, cast.ana, cast.ben)
    code = _code(engine, cast.rivera)
    for partner in (cast.ana, cast.ben):
        with write_session(engine) as session:
            _grant(session, partner, code)
    stage = PROGRAM.stages[1].key
    rows = _new_rows(
        engine,
        lambda s: journey.open_stage(session=s, viewer=cast.rivera, couple_id=couple, stage=stage, now=NOW),
    )
    assert [(r.actor, r.subject, r.couple) for r in rows] == [(cast.rivera.person_id, None, couple)]
