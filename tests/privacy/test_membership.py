"""Who belongs to which couple, as an attacker would probe it: couples that ended and re-formed, a partner
who moved on, many couples read at once, and the order partners joined in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.infra.db import read_session, shared_reads, write_session
from program.infra.models import Couple, Role
from program.privacy import couples, membership
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from tests.factories import make_person
from tests.therapist.test_caseload_queries import _counting

KEY = b"k" * 32
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _form(engine: Engine, first: Viewer, second: Viewer, at: datetime) -> int:
    """`first` starts a couple at `at` and `second` joins it an hour later."""
    with write_session(engine) as session:
        invite = couples.create_couple(session=session, viewer=first, key=KEY, now=at)
    with write_session(engine) as session:
        return couples.join_couple(
            session=session, viewer=second, code=invite.code, key=KEY, now=at + timedelta(hours=1)
        )


def _leave(engine: Engine, viewer: Viewer, at: datetime) -> None:
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=viewer, now=at)


def _story(engine: Engine) -> tuple[dict[str, Viewer], int, int, int]:
    """Ana and Ben; Ana leaves, then Cai starts a couple that Ana joins; Ben pairs with Dee.
    Ana is registered first, so her person id is lower than Cai's although she joined after him."""
    people = {name: make_person(engine, name) for name in ("ana", "ben", "cai", "dee")}
    first = _form(engine, people["ana"], people["ben"], START)
    _leave(engine, people["ana"], START + timedelta(days=1))
    second = _form(engine, people["cai"], people["ana"], START + timedelta(days=2))
    third = _form(engine, people["ben"], people["dee"], START + timedelta(days=3))
    return people, first, second, third


def _selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def _ids(members: tuple[membership.Member, ...]) -> list[int]:
    return [m.person_id for m in members]


def test_only_the_partners_in_a_couple_now_are_its_partners(engine: Engine) -> None:
    """The ended couple has no partners; Ben is never Cai's partner, nor Ana Ben's; each couple lists its
    partners in the order they joined (Cai before Ana, though Ana's account is older)."""
    people, first, second, third = _story(engine)
    ana, ben, cai, dee = (people[n].person_id for n in ("ana", "ben", "cai", "dee"))
    with read_session(engine) as session:
        assert membership.current_partners(session, first) == ()
        assert _ids(membership.current_partners(session, second)) == [cai, ana]
        assert _ids(membership.current_partners(session, third)) == [ben, dee]
        assert [m.display_name for m in membership.current_partners(session, second)] == ["Cai", "Ana"]
        assert membership.current_couple_id(session=session, viewer=people["ana"]) == second
        assert membership.current_couple_id(session=session, viewer=people["ben"]) == third
        assert couples.partner_status(session=session, viewer=people["cai"]).partner_name == "Ana"
        assert couples.partner_status(session=session, viewer=people["ben"]).partner_name == "Dee"
        current = membership.current_membership(session, ana)
        assert current is not None
        assert (current.couple_id, current.joined_at, current.left_at) == (
            second,
            START + timedelta(days=2, hours=1),
            None,
        )


def test_many_couples_at_once_answer_as_one_couple_at_a_time(engine: Engine) -> None:
    """One statement for any number of couples, with the same partners in the same order as asking for each
    couple alone; an unknown or ended couple is there with nobody; the one-couple answers then come free."""
    _people, first, second, third = _story(engine)
    asked = [third, first, second, 10_000]
    with read_session(engine) as session:
        alone = {couple_id: membership.current_partners(session, couple_id) for couple_id in asked}
    with read_session(engine) as session, _counting(engine) as statements:
        together = membership.current_partners_of(session, asked + [third])
        assert len(_selects(statements)) == 1
        assert list(together) == asked
        assert together == alone
        assert {c: membership.current_partners(session, c) for c in asked} == alone
        assert len(_selects(statements)) == 1
    with read_session(engine) as session, _counting(engine) as statements:
        assert membership.current_partners_of(session, []) == {}
    assert _selects(statements) == []


def test_partners_who_joined_at_the_same_moment_keep_the_order_they_were_added(engine: Engine) -> None:
    """Order is by joining time, then by membership: Ben, added first at the same moment, comes first."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    with write_session(engine) as session:
        couple = Couple()
        session.add(couple)
        session.flush()
        assert couple.id is not None
        couple_id = couple.id
        for partner in (ben, ana):
            session.add(CoupleMembership(couple_id=couple_id, person_id=partner.person_id, joined_at=START))
            session.flush()
    with read_session(engine) as session:
        assert _ids(membership.current_partners(session, couple_id)) == [ben.person_id, ana.person_id]
        assert _ids(membership.current_partners_of(session, [couple_id])[couple_id]) == [
            ben.person_id,
            ana.person_id,
        ]


def test_a_persons_couples_over_time(engine: Engine) -> None:
    """What export and deletion read: every couple a person was in, ended ones too, and everyone who was in
    each; never a couple they were not in."""
    people, first, second, third = _story(engine)
    ana, ben, cai = (people[n].person_id for n in ("ana", "ben", "cai"))
    with read_session(engine) as session:
        mine = membership.memberships_of(session, ana)
        assert [(m.couple_id, m.left_at) for m in mine] == [
            (first, START + timedelta(days=1)),
            (second, None),
        ]
        assert membership.couples_ever(session, [ana]) == [first, second]
        assert membership.couples_ever(session, [ana, cai]) == [first, second]
        assert membership.couples_ever(session, []) == []
        ever = membership.members_ever(session, [first, second])
        assert set(ever) == {first, second}
        assert [(m.person_id, m.left_at is None) for m in ever[first]] == [(ana, False), (ben, False)]
        assert _ids(ever[second]) == [cai, ana]
        bens = select(col(Couple.id)).where(col(Couple.id).in_(membership.couple_ids_ever(ben)))
        assert set(session.exec(bens)) == {first, third}


def test_the_current_member_condition_in_other_queries(engine: Engine) -> None:
    """The conditions access builds its grant rules on: Ana is a current member of her new couple only, and
    an ended couple counts no current partners."""
    people, first, second, third = _story(engine)
    ana = people["ana"].person_id
    with read_session(engine) as session:
        assert list(session.exec(select(Couple.id).where(membership.is_current_member(Couple.id, ana)))) == [
            second
        ]
        counts = dict(session.exec(select(Couple.id, membership.current_partner_count(Couple.id))).all())
        assert counts == {first: 0, second: 2, third: 2}


def test_a_therapist_is_in_no_couple(engine: Engine) -> None:
    """A therapist has no current couple, even with a membership row written by hand."""
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    with write_session(engine) as session:
        couple = Couple()
        session.add(couple)
        session.flush()
        assert couple.id is not None
        session.add(CoupleMembership(couple_id=couple.id, person_id=kim.person_id))
    with read_session(engine) as session:
        assert membership.current_couple_id(session=session, viewer=kim) is None


def test_a_remembered_answer_is_forgotten_when_someone_leaves(engine: Engine) -> None:
    """Within one unit of reads (a page's run), the partners are read once, and read again after a leave."""
    people, _first, second, _third = _story(engine)
    with shared_reads(engine):
        with read_session(engine) as session:
            assert len(membership.current_partners(session, second)) == 2
            assert membership.current_couple_id(session=session, viewer=people["cai"]) == second
        _leave(engine, people["cai"], START + timedelta(days=5))
        with read_session(engine) as session:
            assert membership.current_partners(session, second) == ()
            assert membership.current_partners_of(session, [second]) == {second: ()}
            assert membership.current_couple_id(session=session, viewer=people["cai"]) is None
