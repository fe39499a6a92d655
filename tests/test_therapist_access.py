"""Therapist access: the therapist's code, each partner's own grant, revoking it at once, and the record of
every therapist view that the couple can read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from program import access, codes, therapist_access
from program.access import AccessDenied, Viewer
from program.couples import CoupleSummary
from program.db import read_session, write_session
from program.models import AuditEvent, Role, TherapistCode, TherapistGrant
from program.therapist_access import AccessError, TherapistAccess, ViewRecord
from tests.factories import grant, make_couple, make_person

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _issue(engine: Engine, viewer: Viewer, now: datetime = NOW) -> therapist_access.TherapistCodeIssued:
    with write_session(engine) as session:
        return therapist_access.issue_therapist_code(session=session, viewer=viewer, key=KEY, now=now)


def _grant(engine: Engine, viewer: Viewer, code: str, now: datetime = NOW) -> str:
    with write_session(engine) as session:
        return therapist_access.grant_access(session=session, viewer=viewer, code=code, key=KEY, now=now)


def _revoke(engine: Engine, viewer: Viewer, therapist: Viewer, now: datetime = NOW) -> None:
    with write_session(engine) as session:
        therapist_access.revoke_access(
            session=session, viewer=viewer, therapist_id=therapist.person_id, now=now
        )


def _visible(engine: Engine, therapist: Viewer) -> list[int]:
    with read_session(engine) as session:
        return access.couples_visible_to_therapist(session=session, viewer=therapist)


def _therapists(engine: Engine, viewer: Viewer) -> list[TherapistAccess]:
    with read_session(engine) as session:
        return therapist_access.therapists_of_couple(session=session, viewer=viewer)


def _open(engine: Engine, therapist: Viewer, couple_id: int, what: str) -> CoupleSummary:
    with write_session(engine) as session:
        return therapist_access.open_couple(session=session, viewer=therapist, couple_id=couple_id, what=what)


def _views(engine: Engine, viewer: Viewer) -> list[ViewRecord]:
    with read_session(engine) as session:
        return therapist_access.view_record(session=session, viewer=viewer)


def _setting(engine: Engine) -> tuple[Viewer, Viewer, int, Viewer, str]:
    """Ana and Ben as a couple, and Dr. Kim with a fresh code."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr. Kim")
    couple_id = make_couple(engine, ana, ben)
    return ana, ben, couple_id, kim, _issue(engine, kim).code


def _both_granted(engine: Engine) -> tuple[Viewer, Viewer, int, Viewer]:
    """Ana and Ben, who have both let Dr. Kim in."""
    ana, ben, couple_id, kim, code = _setting(engine)
    _grant(engine, ana, code)
    _grant(engine, ben, code)
    return ana, ben, couple_id, kim


def test_a_therapist_gets_a_code_to_share(engine: Engine) -> None:
    """A therapist's code looks like an invite code and lasts thirty days; only its digest is stored."""
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    issued = _issue(engine, kim)
    assert codes.looks_valid(issued.code, therapist_access.THERAPIST_CODE_GROUPS)
    assert issued.expires_at == NOW + therapist_access.THERAPIST_CODE_LIFETIME
    with read_session(engine) as session:
        assert [row.code_hash for row in session.exec(select(TherapistCode))] == [
            codes.digest(issued.code, KEY)
        ]


def test_only_therapists_get_a_code(engine: Engine) -> None:
    """A partner asking for a therapist's code is refused."""
    ana = make_person(engine, "ana")
    with pytest.raises(AccessError, match="Only therapists have a code to share"):
        _issue(engine, ana)


def test_a_new_code_retires_the_old_one(engine: Engine) -> None:
    """After the therapist makes a new code, the old one is not recognised and the new one works."""
    ana, _, _, kim, old = _setting(engine)
    new = _issue(engine, kim, NOW + timedelta(days=1)).code
    assert new != old
    with pytest.raises(AccessError, match="We don't recognise that code"):
        _grant(engine, ana, old, NOW + timedelta(days=1))
    assert _grant(engine, ana, new, NOW + timedelta(days=1)) == "Dr. Kim"


def test_one_partners_grant_does_not_show_the_couple(engine: Engine) -> None:
    """The therapist sees nothing until the second partner grants access too."""
    ana, ben, couple_id, kim, code = _setting(engine)
    assert _grant(engine, ana, code) == "Dr. Kim"
    assert _visible(engine, kim) == []
    assert _grant(engine, ben, code) == "Dr. Kim"
    assert _visible(engine, kim) == [couple_id]


def test_each_partners_grant_is_their_own(engine: Engine) -> None:
    """Each partner sees whether they, and separately their partner, have let the therapist in."""
    ana, ben, _, kim, code = _setting(engine)
    assert _therapists(engine, ana) == []
    _grant(engine, ana, code)
    assert _therapists(engine, ana) == [TherapistAccess(kim.person_id, "Dr. Kim", mine=True, partners=False)]
    assert _therapists(engine, ben) == [TherapistAccess(kim.person_id, "Dr. Kim", mine=False, partners=True)]
    assert not _therapists(engine, ana)[0].can_see_couple
    _grant(engine, ben, code)
    for viewer in (ana, ben):
        assert _therapists(engine, viewer) == [
            TherapistAccess(kim.person_id, "Dr. Kim", mine=True, partners=True)
        ]
        assert _therapists(engine, viewer)[0].can_see_couple


def test_a_second_grant_for_the_same_therapist_is_refused(engine: Engine) -> None:
    """Entering the same therapist's code twice says access is already given."""
    ana, _, _, _, code = _setting(engine)
    _grant(engine, ana, code)
    with pytest.raises(AccessError, match="You have already given Dr. Kim access"):
        _grant(engine, ana, code, NOW + timedelta(hours=1))


def test_an_expired_therapist_code_is_refused(engine: Engine) -> None:
    """Past its expiry a therapist's code is refused, with a hint to ask for a new one."""
    ana, _, _, kim, code = _setting(engine)
    later = NOW + therapist_access.THERAPIST_CODE_LIFETIME + timedelta(seconds=1)
    with pytest.raises(AccessError, match="That code has expired"):
        _grant(engine, ana, code, later)
    assert _therapists(engine, ana) == []


def test_an_unknown_therapist_code_is_refused(engine: Engine) -> None:
    """A well-formed code no therapist issued is not recognised."""
    ana, _, _, _, code = _setting(engine)
    unknown = "0000-0000-0000" if code != "0000-0000-0000" else "1111-1111-1111"
    with pytest.raises(AccessError, match="We don't recognise that code"):
        _grant(engine, ana, unknown)
    assert _therapists(engine, ana) == []


def test_a_malformed_therapist_code_is_refused(engine: Engine) -> None:
    """Text that cannot be a therapist's code is met with an example of what one looks like."""
    ana, _, _, _, _ = _setting(engine)
    with pytest.raises(AccessError, match="A therapist's code has 12 letters and digits"):
        _grant(engine, ana, "7KQ2-M9XD")


@pytest.mark.parametrize(
    "hidden",
    ["\x00", "\x1b", "\x7f", "\u200b", "\u202e", "\ud800"],
    ids=["nul", "escape", "delete", "zero-width", "rtl-override", "surrogate"],
)
def test_a_therapist_code_with_a_hidden_character_is_refused(engine: Engine, hidden: str) -> None:
    """A valid therapist's code with an invisible or control character in it is refused with a message."""
    ana, _, _, _, code = _setting(engine)
    for typed in (code + hidden, hidden + code, code.replace("-", hidden, 1)):
        with pytest.raises(AccessError, match="invisible or control character"):
            _grant(engine, ana, typed)
    assert _therapists(engine, ana) == []


def test_the_database_holds_one_standing_grant_per_partner_and_therapist(engine: Engine) -> None:
    """Written straight to the database, a second standing grant by the same partner for the same therapist
    is refused; a revoked grant and the other partner's grant do not count."""
    ana, ben, couple_id, kim, _ = _setting(engine)
    grant(engine, couple_id, kim, ana, revoked=True)
    grant(engine, couple_id, kim, ana)
    grant(engine, couple_id, kim, ben)
    with pytest.raises(IntegrityError):
        grant(engine, couple_id, kim, ana)
    assert _therapists(engine, ana) == [TherapistAccess(kim.person_id, "Dr. Kim", mine=True, partners=True)]


def test_a_grant_that_slips_past_the_check_gets_the_message(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the "already given" check ever misses (a race), the database still refuses the second grant and
    the partner sees the check's message, not a database error; nothing is half-saved."""
    ana, _, couple_id, _, code = _setting(engine)
    _grant(engine, ana, code)
    monkeypatch.setattr(therapist_access, "_standing_grant", lambda *args, **kwargs: None)
    with pytest.raises(AccessError, match="You have already given Dr. Kim access"):
        _grant(engine, ana, code, NOW + timedelta(hours=1))
    with read_session(engine) as session:
        grants = session.exec(select(TherapistGrant).where(TherapistGrant.couple_id == couple_id)).all()
        granted = session.exec(select(AuditEvent).where(AuditEvent.action == "therapist.granted")).all()
    assert len(grants) == 1 and len(granted) == 1


def test_a_partner_without_a_couple_cannot_grant(engine: Engine) -> None:
    """A partner who has not linked up is told a therapist sees a couple, not one partner."""
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    cai = make_person(engine, "cai")
    code = _issue(engine, kim).code
    with pytest.raises(AccessError, match="Link up with your partner first"):
        _grant(engine, cai, code)


@pytest.mark.parametrize("revoker", ["ana", "ben"])
def test_either_partner_can_revoke_at_once(engine: Engine, revoker: str) -> None:
    """When either partner withdraws consent, the therapist loses the couple immediately."""
    ana, ben, couple_id, kim = _both_granted(engine)
    with read_session(engine) as session:
        summary = therapist_access.couple_for_therapist(session=session, viewer=kim, couple_id=couple_id)
        assert summary == CoupleSummary(couple_id, ("Ana", "Ben"))
    _revoke(engine, ana if revoker == "ana" else ben, kim, NOW + timedelta(days=1))
    assert _visible(engine, kim) == []
    with read_session(engine) as session:
        with pytest.raises(AccessDenied):
            therapist_access.couple_for_therapist(session=session, viewer=kim, couple_id=couple_id)
    with pytest.raises(AccessDenied):
        _open(engine, kim, couple_id, "charts")
    mine, partners = (False, True) if revoker == "ana" else (True, False)
    assert _therapists(engine, ana) == [TherapistAccess(kim.person_id, "Dr. Kim", mine, partners)]


def test_a_revoked_partner_can_grant_again(engine: Engine) -> None:
    """After revoking, the same code can be entered again and the therapist sees the couple once more."""
    ana, ben, couple_id, kim, code = _setting(engine)
    _grant(engine, ana, code)
    _grant(engine, ben, code)
    _revoke(engine, ben, kim, NOW + timedelta(days=1))
    assert _visible(engine, kim) == []
    _grant(engine, ben, code, NOW + timedelta(days=2))
    assert _visible(engine, kim) == [couple_id]


def test_revoking_without_a_grant_is_refused(engine: Engine) -> None:
    """Withdrawing consent one never gave says so."""
    ana, _, _, kim, _ = _setting(engine)
    with pytest.raises(AccessError, match="You have not given this therapist access"):
        _revoke(engine, ana, kim)


def test_only_a_therapist_opens_a_couple(engine: Engine) -> None:
    """A partner cannot use the therapist's way of opening a couple, not even their own."""
    ana, _, couple_id, _ = _both_granted(engine)
    with read_session(engine) as session:
        with pytest.raises(AccessDenied, match="Only a therapist"):
            therapist_access.couple_for_therapist(session=session, viewer=ana, couple_id=couple_id)


def test_every_view_is_recorded_for_both_partners(engine: Engine) -> None:
    """Both partners read who looked at what and when, newest first."""
    ana, ben, couple_id, kim = _both_granted(engine)
    before = datetime.now(UTC)
    assert _open(engine, kim, couple_id, "charts") == CoupleSummary(couple_id, ("Ana", "Ben"))
    _open(engine, kim, couple_id, "session report")
    after = datetime.now(UTC)
    for viewer in (ana, ben):
        record = _views(engine, viewer)
        assert [(v.therapist_name, v.what) for v in record] == [
            ("Dr. Kim", "session report"),
            ("Dr. Kim", "charts"),
        ]
        assert all(before <= v.at <= after for v in record)
        assert record[0].at >= record[1].at
    assert _views(engine, ana) == _views(engine, ben)


def test_a_refused_open_records_nothing(engine: Engine) -> None:
    """A therapist turned away leaves no entry in the couple's record."""
    ana, ben, couple_id, kim, code = _setting(engine)
    lee = make_person(engine, "dr.lee", Role.THERAPIST, "Dr. Lee")
    _grant(engine, ana, code)
    for therapist in (kim, lee):
        with pytest.raises(AccessDenied):
            _open(engine, therapist, couple_id, "charts")
    assert _views(engine, ana) == []
    assert _views(engine, ben) == []
    with read_session(engine) as session:
        viewed = session.exec(select(AuditEvent).where(AuditEvent.action == therapist_access.VIEWED)).all()
        assert viewed == []


def test_another_couple_cannot_read_this_couples_record(engine: Engine) -> None:
    """Partners of another couple see no views of this one, only those of their own couple."""
    ana, ben, couple_id, kim = _both_granted(engine)
    cai, dee = make_person(engine, "cai"), make_person(engine, "dee")
    other = make_couple(engine, cai, dee)
    _open(engine, kim, couple_id, "charts")
    assert _views(engine, cai) == []
    assert _views(engine, dee) == []
    code = _issue(engine, kim).code
    _grant(engine, cai, code)
    _grant(engine, dee, code)
    _open(engine, kim, other, "session report")
    for viewer in (cai, dee):
        assert [(v.therapist_name, v.what) for v in _views(engine, viewer)] == [("Dr. Kim", "session report")]
    for viewer in (ana, ben):
        assert [(v.therapist_name, v.what) for v in _views(engine, viewer)] == [("Dr. Kim", "charts")]


def test_a_therapist_and_a_solo_partner_have_no_view_record(engine: Engine) -> None:
    """The record belongs to a couple: people outside one read an empty record."""
    _, _, couple_id, kim = _both_granted(engine)
    cai = make_person(engine, "cai")
    _open(engine, kim, couple_id, "charts")
    assert _views(engine, kim) == []
    assert _views(engine, cai) == []
