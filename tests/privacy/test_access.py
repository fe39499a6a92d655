"""Who sees which couple: partners see their own, therapists only with both partners' standing grants."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from program.infra.db import read_session, write_session
from program.infra.models import Role
from program.privacy import access, couples
from program.privacy.tables import CoupleMembership
from tests.factories import grant, make_couple, make_person


def test_a_partner_sees_only_their_own_couple(engine: Engine) -> None:
    """Partners may view their couple and no other, whatever id they ask for."""
    a, b, c, d = (make_person(engine, name) for name in ("ana", "ben", "cai", "dee"))
    ours = make_couple(engine, a, b)
    theirs = make_couple(engine, c, d)
    with read_session(engine) as session:
        assert access.can_view_couple(session=session, viewer=a, couple_id=ours)
        assert not access.can_view_couple(session=session, viewer=a, couple_id=theirs)
        assert couples.partner_status(session=session, viewer=a).partner_name == "Ben"


def test_a_therapist_needs_both_partners_grants(engine: Engine) -> None:
    """One grant is not enough; two standing grants show the couple; a revoked one hides it again."""
    a, b = make_person(engine, "ana"), make_person(engine, "ben")
    therapist = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, a, b)
    grant(engine, couple, therapist, a)
    with read_session(engine) as session:
        assert access.couples_visible_to_therapist(session=session, viewer=therapist) == []
    grant(engine, couple, therapist, b)
    with read_session(engine) as session:
        assert access.couples_visible_to_therapist(session=session, viewer=therapist) == [couple]
        caseload = couples.therapist_caseload(session=session, viewer=therapist)
        assert [c.partner_names for c in caseload] == [("Ana", "Ben")]


def test_a_revoked_grant_hides_the_couple(engine: Engine) -> None:
    """Either partner's revocation takes the couple out of the therapist's view at once."""
    a, b = make_person(engine, "ana"), make_person(engine, "ben")
    therapist = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, a, b)
    grant(engine, couple, therapist, a)
    grant(engine, couple, therapist, b, revoked=True)
    with read_session(engine) as session:
        assert not access.can_view_couple(session=session, viewer=therapist, couple_id=couple)


def test_grants_for_another_therapist_do_not_count(engine: Engine) -> None:
    """A grant is for one therapist; another therapist sees nothing."""
    a, b = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    lee = make_person(engine, "dr.lee", Role.THERAPIST)
    couple = make_couple(engine, a, b)
    grant(engine, couple, kim, a)
    grant(engine, couple, kim, b)
    with read_session(engine) as session:
        assert access.couples_visible_to_therapist(session=session, viewer=lee) == []


def test_a_couple_with_one_partner_left_is_not_shown(engine: Engine) -> None:
    """When a partner leaves, their old grant no longer completes the pair."""
    a, b = make_person(engine, "ana"), make_person(engine, "ben")
    therapist = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, a, b)
    grant(engine, couple, therapist, a)
    grant(engine, couple, therapist, b)
    with write_session(engine) as session:
        membership = session.exec(
            select(CoupleMembership).where(CoupleMembership.person_id == b.person_id)
        ).one()
        membership.left_at = membership.joined_at
    with read_session(engine) as session:
        assert access.couples_visible_to_therapist(session=session, viewer=therapist) == []
        assert access.current_couple_id(session=session, viewer=b) is None
