"""Forming a couple with an invite code, the refusals people see, leaving it, and solo work that joins in."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from program.infra import codes
from program.infra.db import read_session, write_session
from program.infra.models import CheckIn, Couple, InviteCode, Reflection, Role, Visibility
from program.privacy import access, couples
from program.privacy.couples import CoupleError, Invite
from program.privacy.tables import CoupleMembership, TherapistGrant
from program.privacy.viewer import Viewer
from tests.factories import grant, make_couple, make_person

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CODE_SHAPE = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")


def _create(engine: Engine, viewer: Viewer, now: datetime = NOW) -> Invite:
    with write_session(engine) as session:
        return couples.create_couple(session=session, viewer=viewer, key=KEY, now=now)


def _join(engine: Engine, viewer: Viewer, code: str, now: datetime = NOW) -> int:
    with write_session(engine) as session:
        return couples.join_couple(session=session, viewer=viewer, code=code, key=KEY, now=now)


def _renew(engine: Engine, viewer: Viewer, now: datetime = NOW) -> Invite:
    with write_session(engine) as session:
        return couples.renew_invite(session=session, viewer=viewer, key=KEY, now=now)


def _leave(engine: Engine, viewer: Viewer, now: datetime = NOW) -> None:
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=viewer, now=now)


def _status(engine: Engine, viewer: Viewer) -> couples.PartnerStatus:
    with read_session(engine) as session:
        return couples.partner_status(session=session, viewer=viewer)


def _memberships(engine: Engine, viewer: Viewer) -> list[CoupleMembership]:
    with read_session(engine) as session:
        return list(
            session.exec(
                select(CoupleMembership)
                .where(CoupleMembership.person_id == viewer.person_id)
                .order_by(col(CoupleMembership.id))
            )
        )


def _couples_of(session: Session, reflection_id: int, checkin_id: int) -> tuple[int | None, int | None]:
    """The couples a reflection and a check-in are filed under."""
    reflection, checkin = session.get(Reflection, reflection_id), session.get(CheckIn, checkin_id)
    assert reflection is not None and checkin is not None
    return reflection.couple_id, checkin.couple_id


def _paired(engine: Engine) -> tuple[Viewer, Viewer, int]:
    """Ana starts a couple and Ben joins it with her code."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    return ana, ben, _join(engine, ben, invite.code)


def _add_reflection(
    engine: Engine, viewer: Viewer, couple_id: int | None, visibility: Visibility = Visibility.PARTNER
) -> int:
    with write_session(engine) as session:
        row = Reflection(
            person_id=viewer.person_id,
            couple_id=couple_id,
            context="goals",
            body=f"{viewer.display_name}'s words",
            visibility=visibility,
            created_at=NOW,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def _add_checkin(engine: Engine, viewer: Viewer, couple_id: int | None) -> int:
    with write_session(engine) as session:
        row = CheckIn(
            person_id=viewer.person_id,
            couple_id=couple_id,
            week_start=date(2026, 11, 2),
            closeness=7,
            communication=6,
            conflict=5,
            trust=8,
            overall=7,
            note="a note",
            note_visibility=Visibility.PARTNER,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_creating_a_couple_gives_a_readable_invite_code(engine: Engine) -> None:
    """A partner who starts a couple gets a code like 7KQ2-M9XD-4RTB that expires in three days."""
    ana = make_person(engine, "ana")
    invite = _create(engine, ana)
    assert CODE_SHAPE.match(invite.code)
    assert codes.looks_valid(invite.code, 3)
    assert invite.expires_at == NOW + couples.INVITE_LIFETIME
    status = _status(engine, ana)
    assert status.couple_id is not None
    assert status.partner_name is None


def test_joining_links_the_two_partners(engine: Engine) -> None:
    """After the second partner joins, each sees the other's name."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    couple_id = _join(engine, ben, invite.code, NOW + timedelta(hours=1))
    assert _status(engine, ana) == couples.PartnerStatus(couple_id, "Ben")
    assert _status(engine, ben) == couples.PartnerStatus(couple_id, "Ana")


@pytest.mark.parametrize(
    "typed", ["", "7KQ2", "7KQ2-M9XD-4RT", "7KQ2-M9XD-4RTB-7", "7KQ2-M9XD-4RT!", "7KQ2-M9XD-4RTÉ"]
)
def test_a_malformed_code_is_refused(engine: Engine, typed: str) -> None:
    """Text that cannot be a code at all is met with an example of what a code looks like."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    _create(engine, ana)
    with pytest.raises(CoupleError, match="An invite code has 12 letters and digits"):
        _join(engine, ben, typed)
    assert _memberships(engine, ben) == []


def test_an_unknown_code_is_refused(engine: Engine) -> None:
    """A well-formed code nobody issued is not recognised."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    unknown = "0000-0000-0000" if invite.code != "0000-0000-0000" else "1111-1111-1111"
    with pytest.raises(CoupleError, match="We don't recognise that code"):
        _join(engine, ben, unknown)
    assert _memberships(engine, ben) == []


def test_your_own_code_is_refused_with_its_own_message(engine: Engine) -> None:
    """Entering the code you just made tells you your partner has to enter it, and links nobody."""
    ana = make_person(engine, "ana")
    invite = _create(engine, ana)
    with pytest.raises(CoupleError, match="That is your own invite code"):
        _join(engine, ana, invite.code)
    assert len(_memberships(engine, ana)) == 1
    assert _status(engine, ana).partner_name is None


def test_a_used_code_is_refused(engine: Engine) -> None:
    """Once the partner has joined, nobody else can use the same code."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    cai = make_person(engine, "cai")
    invite = _create(engine, ana)
    _join(engine, ben, invite.code)
    with pytest.raises(CoupleError, match="That code has already been used"):
        _join(engine, cai, invite.code)
    assert _memberships(engine, cai) == []


def test_a_code_works_until_it_expires(engine: Engine) -> None:
    """A code still works a minute before it expires."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    assert _join(engine, ben, invite.code, invite.expires_at - timedelta(minutes=1)) is not None


def test_an_expired_code_is_refused(engine: Engine) -> None:
    """Past its expiry time a code is refused, with a hint to ask for a new one."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    with pytest.raises(CoupleError, match="That code has expired"):
        _join(engine, ben, invite.code, invite.expires_at + timedelta(seconds=1))
    assert _memberships(engine, ben) == []


def test_a_full_couple_takes_no_third_partner(engine: Engine) -> None:
    """No new invite can be made for a couple with two partners, and a stray one is refused."""
    ana, ben, couple_id = _paired(engine)
    cai = make_person(engine, "cai")
    with pytest.raises(CoupleError, match="Your couple already has both partners"):
        _renew(engine, ana)
    stray = codes.new_code(couples.INVITE_GROUPS)
    with write_session(engine) as session:
        session.add(
            InviteCode(
                couple_id=couple_id,
                code_hash=codes.digest(stray, KEY),
                created_by_id=ana.person_id,
                created_at=NOW,
                expires_at=NOW + couples.INVITE_LIFETIME,
            )
        )
    with pytest.raises(CoupleError, match="That couple is not waiting for a partner any more"):
        _join(engine, cai, stray)
    assert _memberships(engine, cai) == []
    assert _status(engine, ana).partner_name == "Ben"


def test_a_partner_in_a_couple_cannot_create_another(engine: Engine) -> None:
    """Starting a second couple while in one is refused."""
    ana, _, _ = _paired(engine)
    with pytest.raises(CoupleError, match="You are already part of a couple"):
        _create(engine, ana)
    assert len(_memberships(engine, ana)) == 1


def test_a_partner_in_a_couple_cannot_join_another(engine: Engine) -> None:
    """Joining someone else's couple while in one is refused, with a hint to leave first."""
    ana, _, couple_id = _paired(engine)
    cai = make_person(engine, "cai")
    invite = _create(engine, cai)
    with pytest.raises(CoupleError, match="Leave it first to join another"):
        _join(engine, ana, invite.code)
    assert [m.couple_id for m in _memberships(engine, ana)] == [couple_id]
    assert _status(engine, cai).partner_name is None


def test_a_therapist_cannot_create_or_join_a_couple(engine: Engine) -> None:
    """Couples are for partners: a therapist can neither start one nor join one."""
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    ana = make_person(engine, "ana")
    invite = _create(engine, ana)
    with pytest.raises(CoupleError, match="Only partners can be part of a couple"):
        _create(engine, kim)
    with pytest.raises(CoupleError, match="Only partners can be part of a couple"):
        _join(engine, kim, invite.code)
    assert _memberships(engine, kim) == []
    assert _status(engine, ana).partner_name is None


@pytest.mark.parametrize(
    "typed",
    ["7kq0-m1xd-4r01", "7KQ0 M1XD 4R01", "7KQ0M1XD4R01", "7KQO-MIXD-4ROL", " 7kqo mlxd 4rOi "],
)
def test_codes_are_forgiving_about_how_they_are_typed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    """Lower case, spaces, and O for 0 or I/L for 1 are all read as the same code."""
    monkeypatch.setattr(codes, "new_code", lambda _groups: "7KQ0-M1XD-4R01")
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    assert invite.code == "7KQ0-M1XD-4R01"
    couple_id = _join(engine, ben, typed)
    assert _status(engine, ben) == couples.PartnerStatus(couple_id, "Ana")


# NUL, escape, delete, zero-width space, right-to-left override, a lone surrogate.
HIDDEN = ["\x00", "\x1b", "\x7f", "\u200b", "\u202e", "\ud800"]
HIDDEN_IDS = ["nul", "escape", "delete", "zero-width", "rtl-override", "surrogate"]


@pytest.mark.parametrize("hidden", HIDDEN, ids=HIDDEN_IDS)
def test_a_code_with_a_hidden_character_is_refused(engine: Engine, hidden: str) -> None:
    """A valid code with an invisible or control character anywhere in it is refused with a message, and
    nobody is linked (PostgreSQL would refuse a NUL with a database error if it ever got that far)."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    for typed in (invite.code + hidden, hidden + invite.code, invite.code.replace("-", hidden, 1)):
        with pytest.raises(CoupleError, match="invisible or control character"):
            _join(engine, ben, typed)
    assert _memberships(engine, ben) == []
    assert _status(engine, ana).partner_name is None


def test_a_code_buried_in_a_flood_of_text_is_refused(engine: Engine) -> None:
    """A valid code padded with thousands of spaces is not a code someone typed: refused, nobody linked."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    with pytest.raises(CoupleError, match="An invite code has 12 letters and digits"):
        _join(engine, ben, invite.code + " " * 10_000)
    assert _memberships(engine, ben) == []


def test_the_database_holds_one_current_couple_per_person(engine: Engine) -> None:
    """Written straight to the database, a second current couple for a person is refused; past ones
    do not count, so a partner who left can be in a new couple."""
    ana, _, _ = _paired(engine)
    _leave(engine, ana)
    second = make_couple(engine, ana)
    with pytest.raises(IntegrityError):
        make_couple(engine, ana)
    assert [m.couple_id for m in _memberships(engine, ana) if m.left_at is None] == [second]


def test_a_second_couple_that_slips_past_the_check_gets_the_message(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the "already in a couple" check ever misses (a race), the database still refuses, and the person
    sees the same message as the check's, not a database error; nothing is half-saved."""
    ana, _, couple_id = _paired(engine)
    cai = make_person(engine, "cai")
    invite = _create(engine, cai)
    monkeypatch.setattr(access, "current_couple_id", lambda **_: None)
    with pytest.raises(CoupleError, match="You are already part of a couple"):
        _create(engine, ana)
    with pytest.raises(CoupleError, match="You are already part of a couple"):
        _join(engine, ana, invite.code)
    monkeypatch.undo()
    assert [(m.couple_id, m.left_at) for m in _memberships(engine, ana)] == [(couple_id, None)]
    assert _status(engine, cai).partner_name is None
    with read_session(engine) as session:
        started = session.exec(select(Couple).where(Couple.created_by_id == ana.person_id)).all()
    assert [couple.id for couple in started] == [couple_id]


def test_a_renewed_invite_retires_the_old_code(engine: Engine) -> None:
    """After making a new code, the old one is no longer recognised and the new one works."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    old = _create(engine, ana)
    new = _renew(engine, ana, NOW + timedelta(days=2))
    assert new.code != old.code
    assert new.expires_at == NOW + timedelta(days=2) + couples.INVITE_LIFETIME
    with pytest.raises(CoupleError, match="We don't recognise that code"):
        _join(engine, ben, old.code, NOW + timedelta(days=2))
    assert _join(engine, ben, new.code, NOW + timedelta(days=4)) == _status(engine, ana).couple_id


def test_renewing_needs_a_couple(engine: Engine) -> None:
    """A partner without a couple is told to start one before asking for a new code."""
    ana = make_person(engine, "ana")
    with pytest.raises(CoupleError, match="Start a couple first"):
        _renew(engine, ana)


def test_only_a_digest_of_the_code_is_stored(engine: Engine) -> None:
    """The invite table holds no trace of the plain code: its keyed digest, and the code encrypted so that
    its maker can read it again (what a copy of the database shows, read raw)."""
    ana = make_person(engine, "ana")
    invite = _create(engine, ana)
    plain = {invite.code, codes.normalise(invite.code)}
    forms = plain | {form.lower() for form in plain}
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM invitecode")).mappings().all()
    assert len(rows) == 1
    assert rows[0]["code_hash"] == codes.digest(invite.code, KEY)
    for column, value in rows[0].items():
        assert not any(form in str(value).lower() for form in forms), column


def test_leaving_ends_the_couple_for_both(engine: Engine) -> None:
    """After one partner leaves, neither is in the couple and no therapist can see it any more."""
    ana, ben, couple_id = _paired(engine)
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    lee = make_person(engine, "dr.lee", Role.THERAPIST)
    for therapist in (kim, lee):
        grant(engine, couple_id, therapist, ana)
        grant(engine, couple_id, therapist, ben)
    left_at = NOW + timedelta(days=10)
    _leave(engine, ana, left_at)
    assert _status(engine, ana) == couples.PartnerStatus(None, None)
    assert _status(engine, ben) == couples.PartnerStatus(None, None)
    assert [m.left_at for m in _memberships(engine, ana) + _memberships(engine, ben)] == [left_at, left_at]
    with read_session(engine) as session:
        grants = session.exec(select(TherapistGrant)).all()
        assert len(grants) == 4
        assert all(g.revoked_at == left_at for g in grants)
        for therapist in (kim, lee):
            assert access.couples_visible_to_therapist(session=session, viewer=therapist) == []


def test_leaving_keeps_each_partners_own_work(engine: Engine) -> None:
    """Leaving deletes nobody's reflections or check-ins."""
    ana, ben, couple_id = _paired(engine)
    reflections = {_add_reflection(engine, p, couple_id): p.person_id for p in (ana, ben)}
    checkins = {_add_checkin(engine, p, couple_id): p.person_id for p in (ana, ben)}
    _leave(engine, ben, NOW + timedelta(days=10))
    with read_session(engine) as session:
        for reflection_id, person_id in reflections.items():
            reflection = session.get(Reflection, reflection_id)
            assert reflection is not None and reflection.person_id == person_id
        for checkin_id, person_id in checkins.items():
            checkin = session.get(CheckIn, checkin_id)
            assert checkin is not None and checkin.person_id == person_id


def test_leaving_needs_a_couple(engine: Engine) -> None:
    """A partner who is not in a couple is told so when trying to leave."""
    ana = make_person(engine, "ana")
    with pytest.raises(CoupleError, match="You are not part of a couple"):
        _leave(engine, ana)


def test_both_partners_can_start_again_after_leaving(engine: Engine) -> None:
    """Once the couple has ended, each former partner can start a new couple and be joined."""
    ana, ben, old = _paired(engine)
    cai, dee = make_person(engine, "cai"), make_person(engine, "dee")
    _leave(engine, ana, NOW + timedelta(days=10))
    later = NOW + timedelta(days=11)
    ana_couple = _join(engine, cai, _create(engine, ana, later).code, later)
    ben_couple = _join(engine, dee, _create(engine, ben, later).code, later)
    assert len({old, ana_couple, ben_couple}) == 3
    assert _status(engine, ana) == couples.PartnerStatus(ana_couple, "Cai")
    assert _status(engine, ben) == couples.PartnerStatus(ben_couple, "Dee")


def test_an_unused_invite_stops_working_when_its_maker_leaves(engine: Engine) -> None:
    """A code for a couple that has ended is no longer recognised."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _create(engine, ana)
    _leave(engine, ana, NOW + timedelta(hours=1))
    with pytest.raises(CoupleError, match="We don't recognise that code"):
        _join(engine, ben, invite.code, NOW + timedelta(hours=2))


def test_solo_work_joins_the_couple(engine: Engine) -> None:
    """Reflections and check-ins made before linking up become part of the couple both partners share."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    ana_rows = (_add_reflection(engine, ana, None), _add_checkin(engine, ana, None))
    ben_rows = (_add_reflection(engine, ben, None), _add_checkin(engine, ben, None))
    invite = _create(engine, ana)
    with read_session(engine) as session:
        couple_id = access.current_couple_id(session=session, viewer=ana)
        assert couple_id is not None
        assert _couples_of(session, *ana_rows) == (couple_id, couple_id)
        assert _couples_of(session, *ben_rows) == (None, None)
    assert _join(engine, ben, invite.code) == couple_id
    with read_session(engine) as session:
        assert _couples_of(session, *ben_rows) == (couple_id, couple_id)
        shared = access.readable_reflections(session=session, viewer=ana, couple_id=couple_id)
        assert {r.id for r in shared} == {ana_rows[0], ben_rows[0]}
        checkins = access.readable_checkins(session=session, viewer=ben, couple_id=couple_id)
        assert {c.person_id for c in checkins} == {ana.person_id, ben.person_id}


def test_work_shared_in_a_past_couple_does_not_reach_the_next_partner(engine: Engine) -> None:
    """What a partner shared with a former partner is not shown to the partner they pair with next."""
    ana, ben, old = _paired(engine)
    cai = make_person(engine, "cai")
    old_rows = (_add_reflection(engine, ana, old), _add_checkin(engine, ana, old))
    _leave(engine, ben, NOW + timedelta(days=10))
    later = NOW + timedelta(days=11)
    new = _join(engine, cai, _create(engine, ana, later).code, later)
    with read_session(engine) as session:
        assert _couples_of(session, *old_rows) == (old, old)
        assert access.readable_reflections(session=session, viewer=cai, couple_id=new) == []
        assert access.readable_checkins(session=session, viewer=cai, couple_id=new) == []
        with pytest.raises(access.AccessDenied):
            access.readable_reflections(session=session, viewer=cai, couple_id=old)
