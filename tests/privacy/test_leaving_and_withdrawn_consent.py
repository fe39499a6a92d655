"""One couple ending touches nothing of any other couple, and consent once withdrawn stays withdrawn: with two
couples and two therapists. Written against the mutants that survived a mutation run of
program/privacy/couples.py and program/privacy/access.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.infra.db import read_session, write_session
from program.infra.models import Role, SafetyScreen
from program.privacy import access, couples
from program.privacy.access import AccessDenied
from program.privacy.tables import TherapistGrant
from tests.factories import grant, make_couple, make_person

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_one_couple_ending_leaves_every_other_couple_and_its_therapist(engine: Engine) -> None:
    """Ben leaves Ana. Cai and Dee are still a couple, still see each other, and Dr. Kim, whom both let in,
    still sees them; only Ana and Ben's couple ends."""
    ana, ben, cai, dee = (make_person(engine, n) for n in ("ana", "ben", "cai", "dee"))
    kim = make_person(engine, "kim", Role.THERAPIST)
    ours = make_couple(engine, ana, ben)
    theirs = make_couple(engine, cai, dee)
    for couple, partners in ((ours, (ana, ben)), (theirs, (cai, dee))):
        for partner in partners:
            grant(engine, couple, kim, partner)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=NOW)
    with read_session(engine) as session:
        assert access.couples_visible_to_therapist(session=session, viewer=kim) == [theirs]
        assert [access.current_couple_id(session=session, viewer=p) for p in (ana, ben, cai, dee)] == [
            None,
            None,
            theirs,
            theirs,
        ]
        assert couples.partner_status(session=session, viewer=dee) == couples.PartnerStatus(theirs, "Cai")


def test_ending_a_couple_keeps_when_earlier_consent_was_withdrawn(engine: Engine) -> None:
    """Ana withdrew Dr. Rivera's access a week before the couple ended: her grant keeps that date, and only
    the grants still standing end with the couple."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    rivera = make_person(engine, "rivera", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    withdrawn, ended = NOW - timedelta(days=7), NOW
    with write_session(engine) as session:
        session.add(
            TherapistGrant(
                couple_id=couple,
                therapist_id=rivera.person_id,
                partner_id=ana.person_id,
                granted_at=withdrawn - timedelta(days=1),
                revoked_at=withdrawn,
            )
        )
    grant(engine, couple, rivera, ben)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=ended)
    with read_session(engine) as session:
        rows = session.exec(
            select(TherapistGrant.partner_id, TherapistGrant.revoked_at).order_by(col(TherapistGrant.id))
        ).all()
    assert [tuple(r) for r in rows] == [(ana.person_id, withdrawn), (ben.person_id, ended)]


def test_safety_answers_stay_hidden_once_their_sharing_was_withdrawn(engine: Engine) -> None:
    """Ana once let Dr. Kim see her safety answers, withdrew that grant, and let Dr. Kim in again without
    them. Dr. Kim, who sees the couple, is refused Ana's safety answers; Ana still reads her own."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        session.add(
            TherapistGrant(
                couple_id=couple,
                therapist_id=kim.person_id,
                partner_id=ana.person_id,
                share_safety_screen=True,
                revoked_at=NOW - timedelta(days=1),
            )
        )
        session.add(SafetyScreen(person_id=ana.person_id, answers={"q1": 2}, submitted_at=NOW))
    grant(engine, couple, kim, ana)
    grant(engine, couple, kim, ben)
    with read_session(engine) as session:
        assert access.couples_visible_to_therapist(session=session, viewer=kim) == [couple]
        assert len(access.readable_safety_screens(session=session, viewer=ana, person_id=ana.person_id)) == 1
        with pytest.raises(AccessDenied):
            access.readable_safety_screens(session=session, viewer=kim, person_id=ana.person_id)


def test_a_couple_ending_leaves_another_couples_waiting_invite_working(engine: Engine) -> None:
    """Cai has just started a couple and sent Dee the code; Ana and Ben's couple ends meanwhile. Dee's code
    still works. Ben, who re-enters the code he once used, is told it was used, not that it is unknown."""
    ana, ben, cai, dee = (make_person(engine, n) for n in ("ana", "ben", "cai", "dee"))
    with write_session(engine) as session:
        used = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    with write_session(engine) as session:
        ours = couples.join_couple(session=session, viewer=ben, code=used.code, key=KEY, now=NOW)
    with write_session(engine) as session:
        waiting = couples.create_couple(session=session, viewer=cai, key=KEY, now=NOW)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=2)
    with write_session(engine) as session:
        theirs = couples.join_couple(session=session, viewer=dee, code=waiting.code, key=KEY, now=later)
    assert theirs != ours
    with pytest.raises(couples.CoupleError, match="already been used"), write_session(engine) as session:
        couples.join_couple(session=session, viewer=ben, code=used.code, key=KEY, now=later)
