"""Who reads what, checked over random worlds of partners, couples, therapists, grants and shared text
against an independent reading of the privacy rules in PRODUCT.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TypeVar

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from program import access
from program.access import AccessDenied, CheckInView, Viewer
from program.db import read_session, write_session
from program.models import (
    CheckIn,
    Couple,
    CoupleMembership,
    Person,
    Reflection,
    Role,
    SafetyScreen,
    TherapistGrant,
    Visibility,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIRST_WEEK = date(2026, 11, 2)
Row = TypeVar("Row")


def _ratings(first: int) -> tuple[int, int, int, int, int]:
    """Five different 0-10 ratings, so that a rating read from the wrong column shows."""
    a, b, c, d, e = ((first + step) % 11 for step in range(5))
    return a, b, c, d, e


@dataclass(frozen=True)
class CoupleSpec:
    """A couple by its partners' indices: those in it now, and those who have left it (a past couple is
    one with nobody in it now)."""

    current: tuple[int, ...]
    former: tuple[int, ...] = ()


@dataclass(frozen=True)
class GrantSpec:
    """One partner's grant for one therapist on one couple (indices into the world's lists)."""

    couple: int
    therapist: int
    partner: int
    revoked: bool
    share_safety_screen: bool


@dataclass(frozen=True)
class TextSpec:
    """A reflection, by writer, the couple it was written in (None when solo), sharing and age."""

    writer: int
    couple: int | None
    visibility: Visibility
    minutes: int


@dataclass(frozen=True)
class CheckInSpec:
    """A weekly check-in, by writer, couple, week, note and the note's sharing."""

    writer: int
    couple: int | None
    week: int
    rating: int
    note: str | None
    visibility: Visibility


@dataclass(frozen=True)
class World:
    """Everything one example puts in the database."""

    partners: int
    therapists: int
    couples: tuple[CoupleSpec, ...]
    grants: tuple[GrantSpec, ...]
    reflections: tuple[TextSpec, ...]
    checkins: tuple[CheckInSpec, ...]
    screens: tuple[int, ...]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """2-6 partners in disjoint couples (some of one member, some partners solo), maybe a past couple,
    0-2 therapists, grants (some revoked, some sharing the safety screen), texts, check-ins and screens."""
    partners = draw(st.integers(2, 6))
    therapists = draw(st.integers(0, 2))
    order = draw(st.permutations(range(partners)))
    couples: list[CoupleSpec] = []
    i = 0
    while i < partners:
        kind = draw(
            st.sampled_from(("pair", "one member", "solo") if i + 1 < partners else ("one member", "solo"))
        )
        size = {"pair": 2, "one member": 1, "solo": 0}[kind]
        if size:
            current = tuple(order[i : i + size])
            others = [p for p in range(partners) if p not in current]
            # Someone who was in this couple and left it (their old rows and grants must not count).
            former = tuple(draw(st.lists(st.sampled_from(others), max_size=1))) if others else ()
            couples.append(CoupleSpec(current, former))
        i += max(size, 1)
    if draw(st.booleans()):
        pair = draw(st.lists(st.integers(0, partners - 1), min_size=2, max_size=2, unique=True))
        couples.append(CoupleSpec((), tuple(pair)))

    grants: list[GrantSpec] = []
    for c, couple in enumerate(couples):
        for t in range(therapists):
            # Half the time every current partner lets this therapist in, so that seen couples are common.
            everyone_in = draw(st.booleans())
            for p in couple.current + couple.former:
                # Earlier revoked grants, then at most one standing one (a second is refused by the app).
                for share in draw(st.lists(st.booleans(), max_size=2)):
                    grants.append(GrantSpec(c, t, p, revoked=True, share_safety_screen=share))
                if (everyone_in and p in couple.current) or draw(st.booleans()):
                    # A former partner's grant that was somehow left standing must not complete a pair;
                    # it never shares the safety screen, so that rule stays about current partners.
                    share = p in couple.current and draw(st.booleans())
                    grants.append(GrantSpec(c, t, p, revoked=False, share_safety_screen=share))

    def couples_of(p: int) -> list[int | None]:
        """Where a partner's rows may be filed: their current couple (none when solo), or a past one."""
        mine = [c for c, couple in enumerate(couples) if p in couple.current + couple.former]
        solo: list[int | None] = [] if any(p in couples[c].current for c in mine) else [None]
        return solo + mine

    reflections: list[TextSpec] = []
    checkins: list[CheckInSpec] = []
    for p in range(partners):
        for _ in range(draw(st.integers(0, 3))):
            reflections.append(
                TextSpec(
                    p,
                    draw(st.sampled_from(couples_of(p))),
                    draw(st.sampled_from(Visibility)),
                    draw(st.integers(0, 5)),
                )
            )
        for week in draw(st.lists(st.integers(0, 4), unique=True, max_size=3)):
            checkins.append(
                CheckInSpec(
                    p,
                    draw(st.sampled_from(couples_of(p))),
                    week,
                    draw(st.integers(0, 10)),
                    draw(st.sampled_from((None, f"note {p}/{week}"))),
                    draw(st.sampled_from(Visibility)),
                )
            )
    screens = draw(st.lists(st.integers(0, partners - 1), max_size=partners))
    return World(
        partners,
        therapists,
        tuple(couples),
        tuple(grants),
        tuple(reflections),
        tuple(checkins),
        tuple(screens),
    )


@dataclass(frozen=True)
class Built:
    """The world's database ids: people (partners first), couples, and each spec's row."""

    partners: list[Viewer]
    therapists: list[Viewer]
    couple_ids: list[int]
    missing_couple_id: int
    reflection_ids: list[int]
    screen_ids: list[int]


def _empty(session: Session) -> None:
    for table in reversed(SQLModel.metadata.sorted_tables):
        session.execute(table.delete())


def _ids(
    session: Session, rows: list[Person] | list[Couple] | list[Reflection] | list[SafetyScreen]
) -> list[int]:
    session.add_all(rows)
    session.flush()
    ids = [row.id for row in rows]
    assert all(i is not None for i in ids)
    return [i for i in ids if i is not None]


def _build(engine: Engine, world: World) -> Built:
    """Insert the world as rows, in one unit of work, on emptied tables."""
    with write_session(engine) as session:
        _empty(session)
        people = [
            Person(username=f"p{i}", display_name=f"P{i}", role=Role.PARTNER, password_hash="x")
            for i in range(world.partners)
        ] + [
            Person(username=f"t{i}", display_name=f"T{i}", role=Role.THERAPIST, password_hash="x")
            for i in range(world.therapists)
        ]
        person_ids = _ids(session, people)
        viewers = [
            Viewer(i, p.username, p.display_name, Role(p.role))
            for i, p in zip(person_ids, people, strict=True)
        ]
        partners, therapists = viewers[: world.partners], viewers[world.partners :]
        couple_ids = _ids(session, [Couple(created_at=T0) for _ in world.couples])
        for couple_id, spec in zip(couple_ids, world.couples, strict=True):
            for p in spec.current + spec.former:
                session.add(
                    CoupleMembership(
                        couple_id=couple_id,
                        person_id=partners[p].person_id,
                        joined_at=T0,
                        left_at=None if p in spec.current else T0 + timedelta(days=1),
                    )
                )
        for g in world.grants:
            session.add(
                TherapistGrant(
                    couple_id=couple_ids[g.couple],
                    therapist_id=therapists[g.therapist].person_id,
                    partner_id=partners[g.partner].person_id,
                    share_safety_screen=g.share_safety_screen,
                    granted_at=T0,
                    revoked_at=T0 + timedelta(hours=1) if g.revoked else None,
                )
            )

        def couple_id_of(index: int | None) -> int | None:
            return None if index is None else couple_ids[index]

        reflection_ids = _ids(
            session,
            [
                Reflection(
                    person_id=partners[r.writer].person_id,
                    couple_id=couple_id_of(r.couple),
                    context=f"context {n}",
                    body=f"body {n}",
                    visibility=r.visibility,
                    created_at=T0 + timedelta(minutes=r.minutes),
                )
                for n, r in enumerate(world.reflections)
            ],
        )
        for c in world.checkins:
            closeness, communication, conflict, trust, overall = _ratings(c.rating)
            session.add(
                CheckIn(
                    person_id=partners[c.writer].person_id,
                    couple_id=couple_id_of(c.couple),
                    week_start=FIRST_WEEK + timedelta(weeks=c.week),
                    closeness=closeness,
                    communication=communication,
                    conflict=conflict,
                    trust=trust,
                    overall=overall,
                    note=c.note,
                    note_visibility=c.visibility,
                )
            )
        screen_ids = _ids(
            session,
            [
                SafetyScreen(person_id=partners[p].person_id, answers={"n": n}, submitted_at=T0)
                for n, p in enumerate(world.screens)
            ],
        )
        return Built(
            partners, therapists, couple_ids, max(couple_ids, default=0) + 1, reflection_ids, screen_ids
        )


class Oracle:
    """The privacy rules, read from PRODUCT.md and program.access's docstrings, over the world's specs."""

    def __init__(self, world: World, built: Built) -> None:
        self.world = world
        self.built = built
        self.index = {v.person_id: i for i, v in enumerate(built.partners)}
        self.therapist_index = {v.person_id: i for i, v in enumerate(built.therapists)}

    def members(self, couple: int) -> tuple[int, ...]:
        """Current partners of a couple (by index); nobody for a past couple."""
        return self.world.couples[couple].current

    def standing(self, couple: int, therapist: int, partner: int) -> GrantSpec | None:
        """The partner's standing grant for this therapist on this couple, if any."""
        return next(
            (
                g
                for g in self.world.grants
                if (g.couple, g.therapist, g.partner) == (couple, therapist, partner) and not g.revoked
            ),
            None,
        )

    def therapist_sees(self, therapist: int, couple: int) -> bool:
        """A therapist sees a couple while it has two current partners, each with a standing grant."""
        members = self.members(couple)
        return len(members) == 2 and all(self.standing(couple, therapist, p) is not None for p in members)

    def may_view(self, viewer: Viewer, couple: int | None) -> bool:
        """A partner views their current couple only; a therapist as above; nobody a missing couple."""
        if couple is None:
            return False
        if viewer.role == Role.PARTNER:
            return self.index[viewer.person_id] in self.members(couple)
        return self.therapist_sees(self.therapist_index[viewer.person_id], couple)

    def shared_with(self, viewer: Viewer, writer: int, visibility: Visibility) -> bool:
        """Own text always; the partner's if shared with the partner; a therapist's if shared with either."""
        if viewer.person_id == self.built.partners[writer].person_id:
            return True
        if viewer.role == Role.THERAPIST:
            return visibility in (Visibility.PARTNER, Visibility.THERAPIST)
        return visibility == Visibility.PARTNER

    def reflections(self, viewer: Viewer, couple: int | None) -> list[int] | None:
        """Ids of the reflections the viewer reads in a couple, or None when refused."""
        if not self.may_view(viewer, couple):
            return None
        assert couple is not None
        return sorted(
            row_id
            for row_id, r in zip(self.built.reflection_ids, self.world.reflections, strict=True)
            if r.couple == couple
            and r.writer in self.members(couple)
            and self.shared_with(viewer, r.writer, r.visibility)
        )

    def checkins(self, viewer: Viewer, couple: int | None) -> list[CheckInView] | None:
        """The check-ins the viewer reads in a couple, ratings always, notes only where shared."""
        if not self.may_view(viewer, couple):
            return None
        assert couple is not None
        return sorted(
            (
                CheckInView(
                    self.built.partners[c.writer].person_id,
                    FIRST_WEEK + timedelta(weeks=c.week),
                    *_ratings(c.rating),
                    c.note if self.shared_with(viewer, c.writer, c.visibility) else None,
                )
                for c in self.world.checkins
                if c.couple == couple and c.writer in self.members(couple)
            ),
            key=_checkin_order,
        )

    def screens(self, viewer: Viewer, person_id: int) -> list[int] | None:
        """A person's screens: for themself, or a therapist their standing, sharing grant lets in and who
        currently sees that couple; refused for anyone else, the partner included."""
        if person_id not in self.index:
            allowed = viewer.person_id == person_id
        elif viewer.person_id == person_id:
            allowed = True
        elif viewer.role == Role.THERAPIST:
            therapist, partner = self.therapist_index[viewer.person_id], self.index[person_id]
            allowed = any(
                (g := self.standing(c, therapist, partner)) is not None
                and g.share_safety_screen
                and self.therapist_sees(therapist, c)
                for c in range(len(self.world.couples))
            )
        else:
            allowed = False
        if not allowed:
            return None
        return sorted(
            row_id
            for row_id, p in zip(self.built.screen_ids, self.world.screens, strict=True)
            if self.built.partners[p].person_id == person_id
        )


def _checkin_order(view: CheckInView) -> tuple[date, int]:
    return (view.week_start, view.person_id)


def _label(world: World, oracle: Oracle) -> None:
    """Name the interesting situations in this world (shown by --hypothesis-show-statistics)."""
    seen = [
        (t, c)
        for t in range(world.therapists)
        for c in range(len(world.couples))
        if oracle.therapist_sees(t, c)
    ]
    if seen:
        event("a therapist sees a couple")
    if any(g.share_safety_screen and (g.therapist, g.couple) in seen for g in world.grants if not g.revoked):
        event("a therapist may read a safety screen")
    if any(c.former and len(c.current) == 2 for c in world.couples):
        event("a couple of two has a former partner")
    if any(r.couple is not None and r.writer in world.couples[r.couple].former for r in world.reflections):
        event("a former partner's reflection is filed in the couple")


def _read(call: Callable[[], list[Row]]) -> list[Row] | None:
    """What a read returns, or None when it is refused."""
    try:
        return call()
    except AccessDenied:
        return None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(world=worlds())
def test_every_viewer_reads_exactly_what_the_privacy_rules_allow(engine: Engine, world: World) -> None:
    """Each viewer reads exactly the texts, check-in notes and safety screens consent and sharing allow."""
    built = _build(engine, world)
    oracle = Oracle(world, built)
    _label(world, oracle)
    viewers = built.partners + built.therapists
    couples: list[tuple[int | None, int]] = [
        *enumerate(built.couple_ids),
        (None, built.missing_couple_id),
    ]
    with read_session(engine) as session:
        for viewer in viewers:
            for couple, couple_id in couples:
                where = f"viewer {viewer.username}, couple {couple} (id {couple_id})"
                reflections = _read(
                    partial(access.readable_reflections, session=session, viewer=viewer, couple_id=couple_id)
                )
                got = None if reflections is None else sorted(r.id for r in reflections if r.id is not None)
                assert got == oracle.reflections(viewer, couple), where

                checkins = _read(
                    partial(access.readable_checkins, session=session, viewer=viewer, couple_id=couple_id)
                )
                if checkins is not None:
                    weeks = [c.week_start for c in checkins]
                    assert weeks == sorted(weeks), f"{where}: check-ins are oldest first"
                    checkins = sorted(checkins, key=_checkin_order)
                assert checkins == oracle.checkins(viewer, couple), where

            for person in viewers:
                screens = _read(
                    partial(
                        access.readable_safety_screens,
                        session=session,
                        viewer=viewer,
                        person_id=person.person_id,
                    )
                )
                got = None if screens is None else sorted(s.id for s in screens if s.id is not None)
                assert got == oracle.screens(viewer, person.person_id), (
                    f"viewer {viewer.username}, screens of {person.username}"
                )
