"""The optional intimacy rating in the weekly check-in: off unless given, private unless its writer shares
it, and never read by a partner or a therapist it was not shared with (issue 13).

Written as the attacker: Ben, Cai and the therapists look for Ana's rating through every reader there is,
in her couple, in couples that ended and in couples that formed again.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from program.charts import progress_data
from program.course import checkins, shared_texts
from program.course.curriculum import CHECKIN_KEYS
from program.infra.db import read_session, write_session
from program.infra.models import CheckIn, Role, Visibility
from program.privacy import access, couples
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM

KEY = b"k" * 32
MONDAY = date(2026, 11, 9)
NOW = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)
RATINGS = {"closeness": 7, "communication": 6, "conflict": 5, "trust": 8, "overall": 7}


def _save(
    engine: Engine,
    viewer: Viewer,
    intimacy: Any = None,
    sharing: Any = Visibility.PRIVATE,
    *,
    day: date = MONDAY,
    ratings: Mapping[str, int] = RATINGS,
    note: str | None = None,
    note_visibility: Visibility = Visibility.PRIVATE,
) -> None:
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session, viewer=viewer, ratings=ratings, note=note, note_visibility=note_visibility,
            intimacy=intimacy, intimacy_visibility=sharing, today=day,
            now=datetime.combine(day, NOW.timetz()),
        )  # fmt: skip


def _seen(engine: Engine, viewer: Viewer, couple_id: int) -> dict[tuple[int, date], int | None]:
    """The intimacy ratings the viewer reads in a couple, by writer and week (None: none readable)."""
    with read_session(engine) as session:
        return {
            (row.person_id, row.week_start): row.intimacy
            for row in access.readable_checkins(session=session, viewer=viewer, couple_id=couple_id)
        }


def _rows(engine: Engine) -> list[CheckIn]:
    with read_session(engine) as session:
        return list(session.exec(select(CheckIn).order_by(col(CheckIn.person_id), col(CheckIn.week_start))))


def _progress_ratings(engine: Engine, viewer: Viewer, couple_id: int) -> list[int | None]:
    with read_session(engine) as session:
        data = progress_data.load_progress(
            session=session, viewer=viewer, couple_id=couple_id, program=PROGRAM
        )
    return [row.intimacy for row in data.checkins]


@dataclass(frozen=True)
class Couple:
    ana: Viewer
    ben: Viewer
    kim: Viewer  # let in by both
    lee: Viewer  # let in by Ana only: sees nothing of the couple
    couple_id: int


def _couple(engine: Engine) -> Couple:
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr. Kim")
    lee = make_person(engine, "dr.lee", Role.THERAPIST, "Dr. Lee")
    couple_id = make_couple(engine, ana, ben)
    grant(engine, couple_id, kim, ana)
    grant(engine, couple_id, kim, ben)
    grant(engine, couple_id, lee, ana)
    return Couple(ana, ben, kim, lee, couple_id)


def test_a_check_in_saves_without_the_rating(engine: Engine) -> None:
    """The rating is optional: the check-in saves without it, as no rating and a private choice."""
    c = _couple(engine)
    _save(engine, c.ana)
    [row] = _rows(engine)
    assert (row.intimacy, row.intimacy_visibility, row.overall) == (None, Visibility.PRIVATE, 7)
    assert _seen(engine, c.ana, c.couple_id) == {(c.ana.person_id, MONDAY): None}


def test_the_rating_is_private_by_default(engine: Engine) -> None:
    """Given without a sharing choice, Ana alone reads it: not Ben, not the therapist both let in."""
    c = _couple(engine)
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session, viewer=c.ana, ratings=RATINGS, note=None, intimacy=3, today=MONDAY, now=NOW
        )
    assert _seen(engine, c.ana, c.couple_id) == {(c.ana.person_id, MONDAY): 3}
    assert _seen(engine, c.ben, c.couple_id) == {(c.ana.person_id, MONDAY): None}
    assert _seen(engine, c.kim, c.couple_id) == {(c.ana.person_id, MONDAY): None}


@pytest.mark.parametrize(
    ("sharing", "ben_reads", "kim_reads"),
    [
        (Visibility.PRIVATE, False, False),
        (Visibility.PARTNER, True, True),  # shared with the couple: the partner and their therapist
        (Visibility.THERAPIST, False, True),
    ],
)
def test_each_sharing_choice_reaches_exactly_its_readers(
    engine: Engine, sharing: Visibility, ben_reads: bool, kim_reads: bool
) -> None:
    """Ana's rating reaches Ben and Dr. Kim as she chose; Dr. Lee, let in by Ana alone, sees no couple."""
    c = _couple(engine)
    _save(engine, c.ana, 9, sharing)
    _save(engine, c.ben, 2, Visibility.PRIVATE)
    ana_week, ben_week = (c.ana.person_id, MONDAY), (c.ben.person_id, MONDAY)
    assert _seen(engine, c.ana, c.couple_id) == {ana_week: 9, ben_week: None}
    assert _seen(engine, c.ben, c.couple_id) == {ana_week: 9 if ben_reads else None, ben_week: 2}
    assert _seen(engine, c.kim, c.couple_id) == {ana_week: 9 if kim_reads else None, ben_week: None}
    with pytest.raises(AccessDenied):
        _seen(engine, c.lee, c.couple_id)


def test_charts_carry_no_intimacy_rating_for_anyone(engine: Engine) -> None:
    """The couple's chart data (cached per couple, the same for every viewer) never holds a rating, not
    even Ana's own shared one, so no chart can draw it, gap or count."""
    c = _couple(engine)
    _save(engine, c.ana, 9, Visibility.PARTNER)
    _save(engine, c.ben, 4, Visibility.THERAPIST, day=MONDAY + timedelta(days=7))
    for viewer in (c.ana, c.ben, c.kim):
        assert _progress_ratings(engine, viewer, c.couple_id) == [None, None]


@pytest.mark.parametrize(
    "bad",
    [-1, 11, 3.5, True, "7", "seven", "<b>7</b>", 10**20],
)
def test_an_invalid_rating_is_refused_and_nothing_is_half_saved(engine: Engine, bad: Any) -> None:
    """A refused save says why and changes nothing: not the ratings, note or rating saved before, and on
    a first save no row at all."""
    c = _couple(engine)
    with pytest.raises(checkins.CheckinError, match="whole number from 0 to 10, or none at all"):
        _save(engine, c.ben, bad, Visibility.PARTNER)
    assert _rows(engine) == []
    _save(engine, c.ana, 4, Visibility.PARTNER, note="kept", note_visibility=Visibility.PARTNER)
    with pytest.raises(checkins.CheckinError, match="intimacy rating"):
        _save(engine, c.ana, bad, Visibility.PRIVATE, ratings=dict.fromkeys(CHECKIN_KEYS, 0), note="new")
    [row] = _rows(engine)
    assert (row.overall, row.note, row.note_visibility) == (7, "kept", Visibility.PARTNER)
    assert (row.intimacy, row.intimacy_visibility) == (4, Visibility.PARTNER)


def test_an_unknown_sharing_choice_is_refused_with_its_own_message(engine: Engine) -> None:
    """A forged sharing value ("everyone") is refused, naming the rating's choice, and nothing is saved."""
    c = _couple(engine)
    with pytest.raises(checkins.CheckinError, match="^Please choose who may see your intimacy rating.$"):
        _save(engine, c.ana, 5, "everyone")
    assert _rows(engine) == []


def test_turning_the_rating_off_removes_it_and_its_sharing(engine: Engine) -> None:
    """Saving without the rating removes this week's and sets its choice back to private, so a rating
    added again later that week is not shared by the old choice."""
    c = _couple(engine)
    _save(engine, c.ana, 6, Visibility.PARTNER)
    _save(engine, c.ana, None, Visibility.PARTNER)
    [row] = _rows(engine)
    assert (row.intimacy, row.intimacy_visibility) == (None, Visibility.PRIVATE)
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session, viewer=c.ana, ratings=RATINGS, note=None, intimacy=8, today=MONDAY, now=NOW
        )
    assert _seen(engine, c.ben, c.couple_id) == {(c.ana.person_id, MONDAY): None}


def test_the_writer_changes_who_sees_a_past_weeks_rating(engine: Engine) -> None:
    """Ana shares last week's rating later, then takes it back; the check-in's date does not move (a
    reader of her note would otherwise learn something changed that they cannot see)."""
    c = _couple(engine)
    _save(engine, c.ana, 5, note="our walk", note_visibility=Visibility.PARTNER)
    [before] = _rows(engine)
    for sharing, ben_reads in ((Visibility.PARTNER, 5), (Visibility.PRIVATE, None)):
        with write_session(engine) as session:
            checkins.set_intimacy_visibility(
                session=session, viewer=c.ana, week=MONDAY + timedelta(days=3), visibility=sharing
            )
        assert _seen(engine, c.ben, c.couple_id) == {(c.ana.person_id, MONDAY): ben_reads}
    [after] = _rows(engine)
    assert after.updated_at == before.updated_at
    with read_session(engine) as session:
        [text] = shared_texts.shared_with_viewer(
            session=session, viewer=c.ben, couple_id=c.couple_id, program=PROGRAM
        )
    assert (text.body, text.changed_at) == ("our walk", before.updated_at)


def test_nobody_else_can_change_who_sees_a_rating(engine: Engine) -> None:
    """Ben cannot share Ana's rating (he reaches only his own rows), nor share a week without one."""
    c = _couple(engine)
    _save(engine, c.ana, 5)
    _save(engine, c.ben)
    for viewer in (c.ben, c.kim):
        with write_session(engine) as session, pytest.raises(checkins.CheckinError, match="no intimacy"):
            checkins.set_intimacy_visibility(
                session=session, viewer=viewer, week=MONDAY, visibility=Visibility.PARTNER
            )
    with write_session(engine) as session, pytest.raises(checkins.CheckinError, match="choose who may see"):
        checkins.set_intimacy_visibility(session=session, viewer=c.ana, week=MONDAY, visibility="all")  # type: ignore[arg-type]
    assert _seen(engine, c.ben, c.couple_id)[(c.ana.person_id, MONDAY)] is None


def _export_checkins(engine: Engine, viewer: Viewer) -> list[dict[str, str]]:
    with read_session(engine) as session:
        data = export.export_zip(session=session, viewer=viewer, program=PROGRAM, now=NOW)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("checkins.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_holds_ones_own_rating_and_never_the_partners(engine: Engine) -> None:
    """Ana's export has her rating and its sharing; Ben's, though she shared it with him, has only his."""
    c = _couple(engine)
    _save(engine, c.ana, 9, Visibility.PARTNER)
    _save(engine, c.ben)
    [ana_row] = _export_checkins(engine, c.ana)
    assert (ana_row["intimacy"], ana_row["intimacy_visibility"]) == ("9", "partner")
    [ben_row] = _export_checkins(engine, c.ben)
    assert (ben_row["intimacy"], ben_row["intimacy_visibility"]) == ("", "private")


# ---- couples that end and form again ----------------------------------------------------------------


def _pair(engine: Engine, first: Viewer, second: Viewer, now: datetime) -> int:
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=first, key=KEY, now=now).code
    with write_session(engine) as session:
        return couples.join_couple(session=session, viewer=second, code=code, key=KEY, now=now)


def _leave(engine: Engine, viewer: Viewer, now: datetime) -> None:
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=viewer, now=now)


def test_a_shared_rating_stays_with_the_couple_it_was_given_in(engine: Engine) -> None:
    """Ana shared her rating with Ben; they part, she pairs with Cai, then Ben and Ana form a couple again
    the same week. Neither Cai nor the re-formed couple, nor their therapist, ever reads the old rating;
    the old couple itself is closed to everyone."""
    ana, ben, cai = (make_person(engine, n) for n in ("ana", "ben", "cai"))
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr. Kim")
    old = _pair(engine, ana, ben, NOW)
    grant(engine, old, kim, ana)
    grant(engine, old, kim, ben)
    _save(engine, ana, 10, Visibility.PARTNER, note="shared note", note_visibility=Visibility.PARTNER)
    assert _seen(engine, ben, old) == {(ana.person_id, MONDAY): 10}
    _leave(engine, ben, NOW + timedelta(hours=1))

    with_cai = _pair(engine, ana, cai, NOW + timedelta(hours=2))
    grant(engine, with_cai, kim, ana)
    grant(engine, with_cai, kim, cai)
    assert _seen(engine, cai, with_cai) == {}
    assert _seen(engine, kim, with_cai) == {}
    assert _seen(engine, ana, with_cai) == {}  # her own old week stays with the old couple too
    for viewer in (ana, ben, cai, kim):
        with pytest.raises(AccessDenied):
            _seen(engine, viewer, old)
    _leave(engine, cai, NOW + timedelta(hours=3))

    again = _pair(engine, ben, ana, NOW + timedelta(hours=4))
    grant(engine, again, kim, ana)
    grant(engine, again, kim, ben)
    assert _seen(engine, ben, again) == {}
    # A new check-in in the same week belongs to the new couple, with its own (private) choice.
    _save(engine, ana, 1)
    assert _seen(engine, ben, again) == {(ana.person_id, MONDAY): None}
    assert _seen(engine, kim, again) == {(ana.person_id, MONDAY): None}
    assert _progress_ratings(engine, ben, again) == [None]
    assert [(r.couple_id, r.intimacy) for r in _rows(engine)] == [(old, 10), (again, 1)]


# ---- random sharing choices -----------------------------------------------------------------------

PEOPLE = ("ana", "ben", "cai")
SHARINGS = st.sampled_from(list(Visibility))
# One save: who (0 Ana, 1 the other partner), which week, the rating (None: none) and its sharing.
SAVES = st.lists(
    st.tuples(
        st.integers(0, 1), st.integers(0, 3), st.none() | st.integers(0, 10), SHARINGS | st.just("unset")
    ),
    max_size=8,
)


def _empty(engine: Engine) -> None:
    with Session(engine) as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.execute(table.delete())
        session.commit()


def _expected(
    viewer: Viewer, members: tuple[Viewer, Viewer], saves: list[tuple[int, int, int | None, Any]]
) -> dict[tuple[int, date], int | None]:
    """An independent reading of the rule: the writer reads their own; "shared with partner" reaches the
    partner and a therapist both let in; "therapist only" the therapist; anything else nobody else."""
    final: dict[tuple[int, date], tuple[int | None, Visibility]] = {}
    for who, week, rating, sharing in saves:
        choice = Visibility.PRIVATE if rating is None or sharing == "unset" else Visibility(sharing)
        final[(members[who].person_id, MONDAY + timedelta(weeks=week))] = (rating, choice)
    readers = {
        Visibility.PRIVATE: set(),
        Visibility.PARTNER: {Role.PARTNER, Role.THERAPIST},
        Visibility.THERAPIST: {Role.THERAPIST},
    }
    return {
        key: rating if key[0] == viewer.person_id or viewer.role in readers[choice] else None
        for key, (rating, choice) in final.items()
    }


def _apply(
    engine: Engine, members: tuple[Viewer, Viewer], saves: list[tuple[int, int, int | None, Any]]
) -> None:
    for who, week, rating, sharing in saves:
        day = MONDAY + timedelta(weeks=week, days=week % 7)
        if sharing == "unset":  # the default: the caller says nothing about sharing
            with write_session(engine) as session:
                checkins.save_checkin(
                    session=session, viewer=members[who], ratings=RATINGS, note=None, intimacy=rating,
                    today=day, now=NOW,
                )  # fmt: skip
        else:
            _save(engine, members[who], rating, sharing, day=day)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(old_saves=SAVES, new_saves=SAVES, same_pair=st.booleans())
def test_random_sharing_choices_reach_only_their_readers(
    engine: Engine,
    old_saves: list[tuple[int, int, int | None, Any]],
    new_saves: list[tuple[int, int, int | None, Any]],
    same_pair: bool,
) -> None:
    """Over random ratings and sharing choices, in a couple that ends and a next one (Ana with Ben again,
    or with Cai): every reader of every couple reads exactly what the rule allows, charts nothing."""
    _empty(engine)
    ana, ben, cai = (make_person(engine, n) for n in PEOPLE)
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr. Kim")
    old = _pair(engine, ana, ben, NOW)
    grant(engine, old, kim, ana)
    grant(engine, old, kim, ben)
    _apply(engine, (ana, ben), old_saves)
    for viewer in (ana, ben, kim):
        assert _seen(engine, viewer, old) == _expected(viewer, (ana, ben), old_saves)
    _leave(engine, ana, NOW + timedelta(hours=1))

    other = ben if same_pair else cai
    new = _pair(engine, other, ana, NOW + timedelta(hours=2))
    grant(engine, new, kim, ana)
    grant(engine, new, kim, other)
    _apply(engine, (ana, other), new_saves)
    for viewer in (ana, other, kim):
        assert _seen(engine, viewer, new) == _expected(viewer, (ana, other), new_saves)
        assert set(_progress_ratings(engine, viewer, new)) <= {None}
        with pytest.raises(AccessDenied):
            _seen(engine, viewer, old)
    stranger = cai if same_pair else ben
    with pytest.raises(AccessDenied):
        _seen(engine, stranger, new)
