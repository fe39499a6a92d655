"""Therapist access: the therapist's code, each partner's own grant, revoking it at once, and the record of
every therapist view that the couple can read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from program.infra import codes
from program.infra.db import alembic_config, create_db_engine, read_session, write_session
from program.infra.models import AuditEvent, Role
from program.privacy import access, grants
from program.privacy.access import AccessDenied
from program.privacy.couples import CoupleSummary
from program.privacy.grants import CodeError, GrantError, TherapistAccess, ViewRecord
from program.privacy.tables import TherapistApproval, TherapistCode, TherapistGrant
from program.privacy.viewer import Viewer
from tests.databases import fresh_database
from tests.factories import grant, make_couple, make_person, make_person_before_migrations, race

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _issue(engine: Engine, viewer: Viewer, now: datetime = NOW) -> grants.IssuedCode:
    with write_session(engine) as session:
        return grants.issue_therapist_code(session=session, viewer=viewer, key=KEY, now=now)


def _grant(engine: Engine, viewer: Viewer, code: str, now: datetime = NOW) -> str:
    with write_session(engine) as session:
        return grants.grant_access(session=session, viewer=viewer, code=code, key=KEY, now=now)


def _revoke(engine: Engine, viewer: Viewer, therapist: Viewer, now: datetime = NOW) -> None:
    with write_session(engine) as session:
        grants.revoke_access(session=session, viewer=viewer, therapist_id=therapist.person_id, now=now)


def _visible(engine: Engine, therapist: Viewer) -> list[int]:
    with read_session(engine) as session:
        return access.couples_visible_to_therapist(session=session, viewer=therapist)


def _therapists(engine: Engine, viewer: Viewer) -> list[TherapistAccess]:
    with read_session(engine) as session:
        return grants.therapists_of_couple(session=session, viewer=viewer)


def _open(engine: Engine, therapist: Viewer, couple_id: int, what: str) -> CoupleSummary:
    with write_session(engine) as session:
        return grants.open_couple(session=session, viewer=therapist, couple_id=couple_id, what=what)


def _views(engine: Engine, viewer: Viewer) -> list[ViewRecord]:
    with read_session(engine) as session:
        return grants.view_record(session=session, viewer=viewer)


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
    assert codes.looks_valid(issued.code, grants.THERAPIST_CODE_GROUPS)
    assert issued.expires_at == NOW + grants.THERAPIST_CODE_LIFETIME
    with read_session(engine) as session:
        assert [row.code_hash for row in session.exec(select(TherapistCode))] == [
            codes.digest(issued.code, KEY)
        ]


def test_only_therapists_get_a_code(engine: Engine) -> None:
    """A partner asking for a therapist's code is refused."""
    ana = make_person(engine, "ana")
    with pytest.raises(AccessDenied, match="Only therapists have a code to share"):
        _issue(engine, ana)


def test_a_new_code_retires_the_old_one(engine: Engine) -> None:
    """After the therapist makes a new code, the old one is not recognised and the new one works."""
    ana, _, _, kim, old = _setting(engine)
    new = _issue(engine, kim, NOW + timedelta(days=1)).code
    assert new != old
    with pytest.raises(CodeError, match="We don't recognise that code"):
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
    with pytest.raises(GrantError, match="You have already given Dr. Kim access"):
        _grant(engine, ana, code, NOW + timedelta(hours=1))


def test_an_expired_therapist_code_is_refused(engine: Engine) -> None:
    """Past its expiry a therapist's code is refused, with a hint to ask for a new one."""
    ana, _, _, kim, code = _setting(engine)
    later = NOW + grants.THERAPIST_CODE_LIFETIME + timedelta(seconds=1)
    with pytest.raises(CodeError, match="That code has expired"):
        _grant(engine, ana, code, later)
    assert _therapists(engine, ana) == []


def test_an_unknown_therapist_code_is_refused(engine: Engine) -> None:
    """A well-formed code no therapist issued is not recognised."""
    ana, _, _, _, code = _setting(engine)
    unknown = "0000-0000-0000" if code != "0000-0000-0000" else "1111-1111-1111"
    with pytest.raises(CodeError, match="We don't recognise that code"):
        _grant(engine, ana, unknown)
    assert _therapists(engine, ana) == []


def test_a_malformed_therapist_code_is_refused(engine: Engine) -> None:
    """Text that cannot be a therapist's code is met with an example of what one looks like."""
    ana, _, _, _, _ = _setting(engine)
    with pytest.raises(CodeError, match="A therapist's code has 12 letters and digits"):
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
        with pytest.raises(CodeError, match="invisible or control character"):
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
    monkeypatch.setattr(grants, "_standing_grant", lambda *_args, **_kwargs: None)
    with pytest.raises(GrantError, match="You have already given Dr. Kim access"):
        _grant(engine, ana, code, NOW + timedelta(hours=1))
    with read_session(engine) as session:
        standing = session.exec(select(TherapistGrant).where(TherapistGrant.couple_id == couple_id)).all()
        granted = session.exec(select(AuditEvent).where(AuditEvent.action == "therapist.granted")).all()
    assert len(standing) == 1 and len(granted) == 1


def test_a_partner_without_a_couple_cannot_grant(engine: Engine) -> None:
    """A partner who has not linked up is told a therapist sees a couple, not one partner."""
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    cai = make_person(engine, "cai")
    code = _issue(engine, kim).code
    with pytest.raises(GrantError, match="Link up with your partner first"):
        _grant(engine, cai, code)


@pytest.mark.parametrize("revoker", ["ana", "ben"])
def test_either_partner_can_revoke_at_once(engine: Engine, revoker: str) -> None:
    """When either partner withdraws consent, the therapist loses the couple immediately."""
    ana, ben, couple_id, kim = _both_granted(engine)
    with read_session(engine) as session:
        summary = grants.couple_for_therapist(session=session, viewer=kim, couple_id=couple_id)
        assert summary == CoupleSummary(couple_id, ("Ana", "Ben"))
    _revoke(engine, ana if revoker == "ana" else ben, kim, NOW + timedelta(days=1))
    assert _visible(engine, kim) == []
    with read_session(engine) as session:
        with pytest.raises(AccessDenied):
            grants.couple_for_therapist(session=session, viewer=kim, couple_id=couple_id)
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
    with pytest.raises(GrantError, match="You have not given this therapist access"):
        _revoke(engine, ana, kim)


def test_only_a_therapist_opens_a_couple(engine: Engine) -> None:
    """A partner cannot use the therapist's way of opening a couple, not even their own."""
    ana, _, couple_id, _ = _both_granted(engine)
    with read_session(engine) as session:
        with pytest.raises(AccessDenied, match="Only a therapist"):
            grants.couple_for_therapist(session=session, viewer=ana, couple_id=couple_id)


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
        viewed = session.exec(select(AuditEvent).where(AuditEvent.action == grants.VIEWED)).all()
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


# The operator's approval: a therapist account is only a claim until the person running the server vouches
# for it (anyone can register as a therapist).


def _approve(engine: Engine, username: str, approved: bool = True) -> grants.Approval:
    change = grants.approve_therapist if approved else grants.unapprove_therapist
    with write_session(engine) as session:
        return change(session=session, username=username, operator="root", now=NOW)


def _owner(engine: Engine, viewer: Viewer, code: str) -> grants.CodeOwner:
    with read_session(engine) as session:
        return grants.code_owner(session=session, viewer=viewer, code=code, key=KEY, now=NOW)


def test_an_unapproved_therapist_cannot_make_a_code(engine: Engine) -> None:
    """A therapist the operator has not approved is refused a code, told why, and nothing is stored."""
    eve = make_person(engine, "eve", Role.THERAPIST, "Dr. Eve", approved=False)
    with pytest.raises(AccessDenied, match="waiting for approval by this server's operator"):
        _issue(engine, eve)
    with read_session(engine) as session:
        assert session.exec(select(TherapistCode)).all() == []
    _approve(engine, "eve")
    assert codes.looks_valid(_issue(engine, eve).code, grants.THERAPIST_CODE_GROUPS)


def test_a_code_made_while_approved_stops_working_once_unapproved_and_stays_dead(engine: Engine) -> None:
    """After the operator withdraws approval the couple cannot use the code, and approving the therapist
    again does not bring that old code back: only a new one works."""
    ana, ben, couple_id, kim, code = _setting(engine)
    _grant(engine, ana, code)
    assert _approve(engine, "dr.kim", approved=False).changed
    for attempt in (lambda: _grant(engine, ben, code), lambda: _owner(engine, ben, code)):
        with pytest.raises(CodeError, match="operator has not approved|don't recognise"):
            attempt()
    assert _therapists(engine, ben) == [
        TherapistAccess(kim.person_id, "Dr. Kim", mine=False, partners=True, approved=False)
    ]
    _approve(engine, "dr.kim")
    with pytest.raises(CodeError, match="We don't recognise that code"):
        _grant(engine, ben, code)
    assert _grant(engine, ben, _issue(engine, kim).code) == "Dr. Kim"
    assert _visible(engine, kim) == [couple_id]


def test_a_code_is_refused_while_its_therapist_is_unapproved(engine: Engine) -> None:
    """A code whose row survives its therapist's approval (the approval deleted by hand, not by the
    command) is still refused, with a message that says the operator has not approved them."""
    ana, _, _, kim, code = _setting(engine)
    with write_session(engine) as session:
        session.exec(delete(TherapistApproval).where(col(TherapistApproval.person_id) == kim.person_id))
    with pytest.raises(CodeError, match="this server's operator has not approved"):
        _grant(engine, ana, code)
    assert _therapists(engine, ana) == []


def test_an_unapproved_therapist_does_not_see_a_couple_both_partners_let_in(engine: Engine) -> None:
    """Withdrawing approval closes the therapist's view of their couples at once; approving again reopens
    it, because the couple's grants are theirs to withdraw, not the operator's."""
    _, _, couple_id, kim = _both_granted(engine)
    _open(engine, kim, couple_id, "progress charts")
    _approve(engine, "dr.kim", approved=False)
    with pytest.raises(AccessDenied, match="waiting for approval"):
        _open(engine, kim, couple_id, "progress charts")
    _approve(engine, "dr.kim")
    assert _open(engine, kim, couple_id, "progress charts").couple_id == couple_id


def test_the_access_rule_itself_refuses_an_unapproved_therapist(engine: Engine) -> None:
    """Not only the therapist's pages: the authorisation module's own answer to "may this therapist see
    this couple" is no while their approval is gone, whatever grants stand, so code added later that asks
    it directly cannot show an unapproved therapist a couple."""
    ana, _, couple_id, kim = _both_granted(engine)
    assert _visible(engine, kim) == [couple_id]
    with write_session(engine) as session:
        session.exec(delete(TherapistApproval).where(col(TherapistApproval.person_id) == kim.person_id))
    assert _visible(engine, kim) == []
    with read_session(engine) as session:
        assert not access.can_view_couple(session=session, viewer=kim, couple_id=couple_id)
        assert access.can_view_couple(session=session, viewer=ana, couple_id=couple_id)


def test_approval_alone_shows_a_therapist_no_couple(engine: Engine) -> None:
    """An approved therapist without both partners' grants sees nothing of a couple, even one where a
    partner has let them in."""
    ana, _, couple_id, kim, code = _setting(engine)
    _approve(engine, "dr.kim")
    assert _visible(engine, kim) == []
    with pytest.raises(AccessDenied):
        _open(engine, kim, couple_id, "progress charts")
    _grant(engine, ana, code)
    assert _visible(engine, kim) == []
    with pytest.raises(AccessDenied):
        _open(engine, kim, couple_id, "progress charts")


def test_a_partner_learns_whose_code_it_is_before_anything_is_granted(engine: Engine) -> None:
    """With two therapists' codes about, looking a code up names its own therapist and when the operator
    approved them, and grants nothing; the grant then goes to that therapist alone."""
    ana, ben, _, kim, kim_code = _setting(engine)
    lee = make_person(engine, "dr.lee", Role.THERAPIST, "Dr. Lee")
    lee_code = _issue(engine, lee).code
    with read_session(engine) as session:
        lee_approval = session.get(TherapistApproval, lee.person_id)
        assert lee_approval is not None
    assert _owner(engine, ana, lee_code) == grants.CodeOwner(
        lee.person_id, "Dr. Lee", lee_approval.approved_at
    )
    assert _owner(engine, ben, kim_code).therapist_name == "Dr. Kim"
    assert _therapists(engine, ana) == [] and _therapists(engine, ben) == []
    with write_session(engine) as session:
        with pytest.raises(CodeError, match="now belongs to someone else"):
            grants.grant_access(
                session=session, viewer=ana, code=lee_code, key=KEY, now=NOW, therapist_id=kim.person_id
            )
    assert _therapists(engine, ana) == []
    with write_session(engine) as session:
        grants.grant_access(
            session=session, viewer=ana, code=lee_code, key=KEY, now=NOW, therapist_id=lee.person_id
        )
    assert _therapists(engine, ana) == [TherapistAccess(lee.person_id, "Dr. Lee", mine=True, partners=False)]


def test_looking_up_a_code_is_refused_like_granting(engine: Engine) -> None:
    """The look-up says what the grant would say: no couple yet, a malformed, unknown or expired code."""
    ana, _, _, kim, code = _setting(engine)
    loner = make_person(engine, "cyd")
    with pytest.raises(GrantError, match="Link up with your partner first"):
        _owner(engine, loner, code)
    with pytest.raises(CodeError, match="12 letters and digits"):
        _owner(engine, ana, "7KQ2")
    with pytest.raises(CodeError, match="invisible or control character"):
        _owner(engine, ana, code + "\u200b")
    with read_session(engine) as session, pytest.raises(CodeError, match="expired"):
        grants.code_owner(
            session=session,
            viewer=ana,
            code=code,
            key=KEY,
            now=NOW + grants.THERAPIST_CODE_LIFETIME,
        )


def test_only_therapist_accounts_are_approved(engine: Engine) -> None:
    """Approving a partner or an unknown name is refused with a message; approving twice changes nothing."""
    make_person(engine, "ana")
    eve = make_person(engine, "eve", Role.THERAPIST, approved=False)
    with pytest.raises(GrantError, match="'ana' is a partner's account"):
        _approve(engine, "Ana")
    with pytest.raises(GrantError, match="There is no account named 'nobody'"):
        _approve(engine, "nobody")
    assert _approve(engine, "EVE").changed
    again = _approve(engine, "eve")
    assert (again.changed, again.approved_at, again.approved_by) == (False, NOW, "root")
    with read_session(engine) as session:
        actions = session.exec(
            select(AuditEvent.action, AuditEvent.subject_id, AuditEvent.detail).where(
                col(AuditEvent.action).like("therapist.%approved")
            )
        ).all()
        assert actions == [("therapist.approved", eve.person_id, "by root")]


def test_therapists_from_before_approvals_wait_for_the_operator_after_upgrading(tmp_path: Path) -> None:
    """A database from before migration 0007, with a therapist both partners let in: after upgrading the
    therapist is unapproved (no code, no couple) and the couple's grants are kept, so approving the
    therapist shows them the couple again without asking the couple for anything."""
    with fresh_database(tmp_path) as url:
        engine = create_db_engine(url)
        try:
            command.upgrade(alembic_config(engine), "0006")
            ana, ben = (
                make_person_before_migrations(engine, "ana"),
                make_person_before_migrations(engine, "ben"),
            )
            kim = make_person_before_migrations(engine, "dr.kim", Role.THERAPIST)  # no approvals before 0007
            couple_id = make_couple(engine, ana, ben)
            grant(engine, couple_id, kim, ana)
            grant(engine, couple_id, kim, ben)
            command.upgrade(alembic_config(engine), "head")
            with read_session(engine) as session:
                assert grants.approved_at(session=session, viewer=kim) is None
            with pytest.raises(AccessDenied, match="waiting for approval"):
                _issue(engine, kim)
            with pytest.raises(AccessDenied):
                _open(engine, kim, couple_id, "progress charts")
            _approve(engine, "dr.kim")
            assert _open(engine, kim, couple_id, "progress charts").couple_id == couple_id
        finally:
            engine.dispose()


def test_codes_made_while_the_operator_unapproves_do_not_outlive_the_approval(engine: Engine) -> None:
    """Four "Make a code" clicks racing the operator's unapprove, ten rounds: whatever order they land in,
    the unapproved therapist is left with no code (one could otherwise come back with a new approval), and
    every refused click got the waiting message, never a database error."""
    for round_number in range(10):
        kim = make_person(engine, f"dr.race{round_number}", Role.THERAPIST)

        def issue(session: Session, kim: Viewer = kim) -> object:
            return grants.issue_therapist_code(session=session, viewer=kim, key=KEY, now=NOW)

        def unapprove(session: Session, kim: Viewer = kim) -> object:
            return grants.unapprove_therapist(
                session=session, username=kim.username, operator="root", now=NOW
            )

        _, errors = race(engine, issue, issue, unapprove, issue, issue)
        assert [e for e in errors if "waiting for approval" not in str(e)] == []
        with read_session(engine) as session:
            assert grants.approved_at(session=session, viewer=kim) is None
            left = session.exec(
                select(TherapistCode).where(TherapistCode.therapist_id == kim.person_id)
            ).all()
        assert left == []


def test_partners_are_told_when_their_therapist_is_no_longer_approved(engine: Engine) -> None:
    """Both grants stand, but the operator withdrew the therapist's approval: the partners' listing says the
    therapist cannot see the couple (and why), instead of "can see your couple"; approval restores it."""
    ana, ben, _, kim = _both_granted(engine)
    _approve(engine, "dr.kim", approved=False)
    for viewer in (ana, ben):
        (listed,) = _therapists(engine, viewer)
        assert (listed.therapist_id, listed.approved, listed.can_see_couple) == (kim.person_id, False, False)
    _approve(engine, "dr.kim")
    assert _therapists(engine, ana)[0].can_see_couple
