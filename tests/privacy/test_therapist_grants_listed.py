"""Which therapists a partner sees listed, and what revoking one therapist does to the others: with two
couples and two therapists, so a list or a revocation that reaches past this couple or this therapist shows.
Written against the mutants that survived a mutation run of program/privacy/grants.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.infra.db import read_session, write_session
from program.infra.models import Role
from program.privacy import access, grants
from program.privacy.grants import CodeError, GrantError, TherapistAccess
from program.privacy.tables import TherapistGrant
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _code(engine: Engine, therapist: Viewer) -> str:
    with write_session(engine) as session:
        return grants.issue_therapist_code(session=session, viewer=therapist, key=KEY, now=NOW).code


def _grant(engine: Engine, partner: Viewer, code: str) -> None:
    with write_session(engine) as session:
        grants.grant_access(session=session, viewer=partner, code=code, key=KEY, now=NOW)


def _revoke(engine: Engine, partner: Viewer, therapist: Viewer, now: datetime) -> None:
    with write_session(engine) as session:
        grants.revoke_access(session=session, viewer=partner, therapist_id=therapist.person_id, now=now)


def _listed(engine: Engine, partner: Viewer) -> list[TherapistAccess]:
    with read_session(engine) as session:
        return grants.therapists_of_couple(session=session, viewer=partner)


def _visible(engine: Engine, therapist: Viewer) -> list[int]:
    with read_session(engine) as session:
        return access.couples_visible_to_therapist(session=session, viewer=therapist)


def test_a_partner_never_sees_another_couples_therapist(engine: Engine) -> None:
    """Cai and Dee both let Dr. Okafor in; Ana and Ben, another couple, see no therapist listed at all, and
    Cai sees only Dr. Okafor."""
    ana, ben, cai, dee = (make_person(engine, n) for n in ("ana", "ben", "cai", "dee"))
    okafor = make_person(engine, "okafor", Role.THERAPIST, "Dr. Okafor")
    make_couple(engine, ana, ben)
    make_couple(engine, cai, dee)
    code = _code(engine, okafor)
    _grant(engine, cai, code)
    _grant(engine, dee, code)
    assert _listed(engine, ana) == [] and _listed(engine, ben) == []
    assert _listed(engine, cai) == [TherapistAccess(okafor.person_id, "Dr. Okafor", mine=True, partners=True)]


def test_therapists_are_listed_by_name(engine: Engine) -> None:
    """Dr. Young signed up before Dr. Byrne and was let in first; the list reads Byrne, then Young."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    young = make_person(engine, "young", Role.THERAPIST, "Dr. Young")
    byrne = make_person(engine, "byrne", Role.THERAPIST, "Dr. Byrne")
    make_couple(engine, ana, ben)
    for therapist in (young, byrne):
        _grant(engine, ana, _code(engine, therapist))
    assert [t.therapist_name for t in _listed(engine, ana)] == ["Dr. Byrne", "Dr. Young"]
    assert [t.therapist_id for t in _listed(engine, ben)] == [byrne.person_id, young.person_id]


def test_revoking_one_therapist_leaves_the_other_in(engine: Engine) -> None:
    """Ana and Ben let in both Dr. Kim and Dr. Rivera; Ana revokes Dr. Kim: Dr. Kim loses the couple at once,
    Dr. Rivera keeps it, and Ana's list shows her grant for Dr. Rivera only."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "kim", Role.THERAPIST, "Dr. Kim")
    rivera = make_person(engine, "rivera", Role.THERAPIST, "Dr. Rivera")
    couple = make_couple(engine, ana, ben)
    for therapist in (kim, rivera):
        code = _code(engine, therapist)
        _grant(engine, ana, code)
        _grant(engine, ben, code)
    _revoke(engine, ana, kim, NOW + timedelta(hours=1))
    assert _visible(engine, kim) == [] and _visible(engine, rivera) == [couple]
    assert [(t.therapist_name, t.mine, t.partners) for t in _listed(engine, ana)] == [
        ("Dr. Kim", False, True),
        ("Dr. Rivera", True, True),
    ]


def test_revoking_twice_is_refused_and_keeps_the_first_time(engine: Engine) -> None:
    """A second revoke (two tabs) is told there is no grant to withdraw, and the time the grant ended, which
    the couple's record shows, stays the first one."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "kim", Role.THERAPIST, "Dr. Kim")
    make_couple(engine, ana, ben)
    _grant(engine, ana, _code(engine, kim))
    first, second = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    _revoke(engine, ana, kim, first)
    with pytest.raises(GrantError, match="not given this therapist access"):
        _revoke(engine, ana, kim, second)
    with read_session(engine) as session:
        ended = session.exec(select(TherapistGrant.revoked_at).order_by(col(TherapistGrant.id))).all()
    assert ended == [first]


def test_a_therapists_code_stops_working_at_the_exact_second_it_expires(engine: Engine) -> None:
    """Ana uses Dr. Kim's code a second before it expires and gets in; Ben, at its expiry time, is refused."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "kim", Role.THERAPIST, "Dr. Kim")
    make_couple(engine, ana, ben)
    code = _code(engine, kim)
    expiry = NOW + grants.THERAPIST_CODE_LIFETIME
    with write_session(engine) as session:
        grants.grant_access(
            session=session, viewer=ana, code=code, key=KEY, now=expiry - timedelta(seconds=1)
        )
    with pytest.raises(CodeError, match="expired"), write_session(engine) as session:
        grants.grant_access(session=session, viewer=ben, code=code, key=KEY, now=expiry)
