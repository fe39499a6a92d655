"""Attacks on the therapist workspace's read rules that the first tests let through (mutation testing of
program/privacy/access.py found them): a safety flag shared with another therapist, a consent given on a grant
that was revoked, couples the therapist may not see, and rows of someone who is no longer a member."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from program.infra.db import read_session, write_session
from program.infra.models import Role, SafetyScreen, SessionFeedback, TherapySession
from program.privacy import access
from program.privacy.tables import CoupleMembership, TherapistGrant
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _grant(engine: Engine, couple: int, therapist: Viewer, partner: Viewer, *, share: bool = False) -> None:
    with write_session(engine) as session:
        session.add(
            TherapistGrant(
                couple_id=couple,
                therapist_id=therapist.person_id,
                partner_id=partner.person_id,
                share_safety_screen=share,
                granted_at=NOW,
            )
        )


def _flagged(engine: Engine, *people: Viewer) -> None:
    with write_session(engine) as session:
        for person in people:
            session.add(SafetyScreen(person_id=person.person_id, flagged=True, submitted_at=NOW))


def _flags(engine: Engine, therapist: Viewer, couple: int) -> list[int]:
    with read_session(engine) as session:
        single = [
            f.person_id for f in access.safety_attention(session=session, viewer=therapist, couple_id=couple)
        ]
        many = access.caseload_safety_attention(session=session, viewer=therapist, couple_ids=[couple])
    assert [f.person_id for f in many.get(couple, [])] == single
    return single


def test_a_flag_shared_with_one_therapist_never_reaches_another_the_couple_let_in(engine: Engine) -> None:
    """Ana tells Dr Lee, not Dr Kim, that her safety check needs attention; both therapists see the couple."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim, lee = make_person(engine, "dr.kim", Role.THERAPIST), make_person(engine, "dr.lee", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    for partner in (ana, ben):
        _grant(engine, couple, kim, partner)
        _grant(engine, couple, lee, partner, share=partner == ana)
    _flagged(engine, ana)
    assert _flags(engine, lee, couple) == [ana.person_id]
    assert _flags(engine, kim, couple) == []


def test_consent_given_on_a_revoked_grant_does_not_carry_over_to_a_new_one(engine: Engine) -> None:
    """Ana shared her safety check with Dr Kim, withdrew access, then let him in again without sharing it."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    _grant(engine, couple, kim, ana, share=True)
    with write_session(engine) as session:
        old = session.exec(select(TherapistGrant).where(TherapistGrant.partner_id == ana.person_id)).one()
        old.revoked_at = NOW + timedelta(hours=1)
        session.add(old)
    _grant(engine, couple, kim, ana)
    _grant(engine, couple, kim, ben)
    _flagged(engine, ana)
    assert _flags(engine, kim, couple) == []


def test_the_caseload_learns_no_flag_of_a_couple_the_therapist_cannot_see(engine: Engine) -> None:
    """Only Ana let Dr Kim in (with her safety check): the couple is not his, so neither is the flag."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    _grant(engine, couple, kim, ana, share=True)
    cai, dan = make_person(engine, "cai"), make_person(engine, "dan")
    theirs = make_couple(engine, cai, dan)
    _grant(engine, theirs, kim, cai, share=True)
    _grant(engine, theirs, kim, dan)
    _flagged(engine, ana, cai)
    with read_session(engine) as session:
        assert access.caseload_safety_attention(session=session, viewer=kim, couple_ids=[couple]) == {}
        both = access.caseload_safety_attention(session=session, viewer=kim, couple_ids=[couple, theirs])
        assert {c: [f.person_id for f in flags] for c, flags in both.items()} == {theirs: [cai.person_id]}
        assert list(access.current_partners(session=session, viewer=kim, couple_ids=[couple, theirs])) == [
            theirs
        ]


def test_a_former_members_rows_stay_out_of_a_couple_they_left(engine: Engine) -> None:
    """A couple row holding a membership that ended (written straight into the database: the app ends a
    couple for both): that person's grant, safety flag and session ratings never reach the therapist."""
    ana, ben, old = make_person(engine, "ana"), make_person(engine, "ben"), make_person(engine, "old")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        session.add(CoupleMembership(couple_id=couple, person_id=old.person_id, joined_at=NOW, left_at=NOW))
        held = TherapySession(couple_id=couple, therapist_id=kim.person_id, held_on=date(2026, 11, 20))
        session.add(held)
        session.flush()
        assert held.id is not None
        for person in (ana, old):
            session.add(
                SessionFeedback(
                    session_id=held.id, person_id=person.person_id, heard=3, goals=3, approach=3, overall=3
                )
            )
    for partner in (ana, ben, old):
        _grant(engine, couple, kim, partner, share=True)
    _flagged(engine, old)
    with read_session(engine) as session:
        partners = access.current_partners(session=session, viewer=kim, couple_ids=[couple])[couple]
        ratings = access.readable_session_feedback(session=session, viewer=kim, couple_id=couple)
    assert [p.person_id for p in partners] == [ana.person_id, ben.person_id]
    assert [r.person_id for r in ratings] == [ana.person_id]
    assert _flags(engine, kim, couple) == []
