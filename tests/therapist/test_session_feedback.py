"""Session feedback, tried as the people involved and as an attacker would: the therapist marks a session
held, each partner rates it privately, and nobody but the rater and the therapist who held it reads the
ratings: not the other partner, not another couple, not a second therapist, not after a couple ends."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select, update

from program.charts import figures
from program.charts.progress_data import Partner
from program.course.curriculum import ContentError
from program.infra.db import read_session, write_session
from program.infra.models import FEEDBACK_ITEMS, AuditEvent, Role, SessionFeedback, TherapySession
from program.privacy import couples
from program.privacy.access import AccessDenied, SessionFeedbackView, readable_session_feedback
from program.privacy.tables import TherapistGrant
from program.privacy.viewer import Viewer
from program.therapist import session_feedback
from program.therapist.session_feedback import ALREADY_SENT, FeedbackError
from program.your_data import export
from tests.factories import grant, make_couple, make_person, race
from tests.program_helpers import PROGRAM

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
FORMED = NOW - timedelta(days=60)
GOOD = {"heard": 8, "goals": 7, "approach": 6, "overall": 9}


@dataclass(frozen=True)
class Cast:
    ana: Viewer
    ben: Viewer
    kim: Viewer
    couple_id: int


def _couple(engine: Engine, *partners: Viewer, joined: datetime = FORMED) -> int:
    return make_couple(engine, *partners, joined_at=joined)


def _granted(engine: Engine, couple_id: int, therapist: Viewer, *partners: Viewer) -> None:
    for partner in partners:
        grant(engine, couple_id, therapist, partner)


def _cast(engine: Engine) -> Cast:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr Kim")
    couple_id = _couple(engine, ana, ben)
    _granted(engine, couple_id, kim, ana, ben)
    return Cast(ana, ben, kim, couple_id)


def _mark(
    engine: Engine, therapist: Viewer, couple_id: int, held_on: date = TODAY, now: datetime = NOW
) -> int:
    with write_session(engine) as session:
        return session_feedback.mark_held(
            session=session, viewer=therapist, couple_id=couple_id, held_on=held_on, now=now
        )


def _submit(
    engine: Engine,
    viewer: Viewer,
    session_id: int,
    ratings: dict[str, int] | None = None,
    now: datetime = NOW,
) -> None:
    with write_session(engine) as session:
        session_feedback.submit(
            session=session, viewer=viewer, session_id=session_id, ratings=ratings or GOOD, now=now
        )


def _due(engine: Engine, viewer: Viewer, today: date = TODAY) -> list[int]:
    with read_session(engine) as session:
        return [s.id for s in session_feedback.due_for_partner(session=session, viewer=viewer, today=today)]


def _read(engine: Engine, viewer: Viewer, couple_id: int) -> list[tuple[int, int, int]]:
    """(session, rater, overall) of every rating the viewer reads."""
    with read_session(engine) as session:
        rows = readable_session_feedback(session=session, viewer=viewer, couple_id=couple_id)
    return [(r.session_id, r.person_id, r.overall) for r in rows]


def _count(engine: Engine, model: type[SQLModel]) -> int:
    with read_session(engine) as session:
        return len(session.exec(select(model)).all())


def _held_events(engine: Engine) -> list[tuple[int | None, int | None, str]]:
    with read_session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "therapist.session_held")).all()
    return [(e.actor_id, e.couple_id, e.detail) for e in events]


# ---- marking a session held -----------------------------------------------------------------------


def test_marking_a_day_twice_keeps_one_session_and_the_couple_reads_one_audit_line(engine: Engine) -> None:
    """A double click is harmless: the same session id, one row, one audit event the couple reads."""
    cast = _cast(engine)
    first = _mark(engine, cast.kim, cast.couple_id)
    assert _mark(engine, cast.kim, cast.couple_id) == first
    assert _count(engine, TherapySession) == 1
    assert _held_events(engine) == [(cast.kim.person_id, cast.couple_id, "marked a session held")]
    assert _mark(engine, cast.kim, cast.couple_id, TODAY - timedelta(days=7)) != first


def test_only_a_therapist_the_couple_lets_in_now_marks_a_session(engine: Engine) -> None:
    """A partner, a stranger therapist, an unapproved one and one whose grant was withdrawn are all refused,
    and nothing is written."""
    cast = _cast(engine)
    lee = make_person(engine, "dr.lee", Role.THERAPIST, "Dr Lee")
    eve = make_person(engine, "dr.eve", Role.THERAPIST, "Dr Eve", approved=False)
    _granted(engine, cast.couple_id, eve, cast.ana, cast.ben)
    for intruder in (cast.ana, lee, eve):
        with pytest.raises(AccessDenied):
            _mark(engine, intruder, cast.couple_id)
    with write_session(engine) as session:
        session.exec(
            update(TherapistGrant)
            .where(col(TherapistGrant.partner_id) == cast.ben.person_id)
            .values(revoked_at=NOW)
        )
    with pytest.raises(AccessDenied):
        _mark(engine, cast.kim, cast.couple_id)
    assert _count(engine, TherapySession) == 0 and _held_events(engine) == []


@pytest.mark.parametrize(
    ("held_on", "says"),
    [
        (TODAY + timedelta(days=2), "is in the future"),
        (FORMED.date() - timedelta(days=3), "before this couple was formed"),
    ],
)
def test_a_session_in_the_future_or_before_the_couple_formed_is_refused(
    engine: Engine, held_on: date, says: str
) -> None:
    """Refused with the reason in words, nothing written."""
    cast = _cast(engine)
    with pytest.raises(FeedbackError, match=says):
        _mark(engine, cast.kim, cast.couple_id, held_on)
    assert _count(engine, TherapySession) == 0


def test_today_on_the_therapist_s_clock_ahead_of_utc_is_not_the_future(engine: Engine) -> None:
    """At 23:00 UTC it is already tomorrow in Auckland: a session held there today is accepted."""
    cast = _cast(engine)
    late = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=23)
    assert _mark(engine, cast.kim, cast.couple_id, TODAY + timedelta(days=1), now=late) > 0


def test_a_second_therapist_cannot_take_over_a_day_the_first_marked(engine: Engine) -> None:
    """The couple let in two therapists; the second marking the same day is told, and holds nothing."""
    cast = _cast(engine)
    lee = make_person(engine, "dr.lee", Role.THERAPIST, "Dr Lee")
    _granted(engine, cast.couple_id, lee, cast.ana, cast.ben)
    _mark(engine, cast.kim, cast.couple_id)
    with pytest.raises(FeedbackError, match="Another therapist"):
        _mark(engine, lee, cast.couple_id)
    with read_session(engine) as session:
        assert session_feedback.held_by_viewer(session=session, viewer=lee, couple_id=cast.couple_id) == []


# ---- due and rating -------------------------------------------------------------------------------


def test_a_held_session_is_due_for_each_partner_until_they_rate_it(engine: Engine) -> None:
    """Both are asked; once Ana sends hers she is no longer asked, and Ben still is."""
    cast = _cast(engine)
    held = _mark(engine, cast.kim, cast.couple_id)
    assert _due(engine, cast.ana) == _due(engine, cast.ben) == [held]
    assert _due(engine, cast.kim) == []
    _submit(engine, cast.ana, held)
    assert _due(engine, cast.ana) == [] and _due(engine, cast.ben) == [held]
    with read_session(engine) as session:
        row = session.exec(select(SessionFeedback)).one()
    assert (row.person_id, row.heard, row.goals, row.approach, row.overall) == (
        cast.ana.person_id,
        8,
        7,
        6,
        9,
    )


def test_a_session_is_due_for_14_days_and_then_can_no_longer_be_rated(engine: Engine) -> None:
    """Held 14 days ago: still due; 15 days ago: neither due nor accepted."""
    cast = _cast(engine)
    in_time = _mark(engine, cast.kim, cast.couple_id, TODAY - timedelta(days=14))
    too_old = _mark(engine, cast.kim, cast.couple_id, TODAY - timedelta(days=16))
    assert _due(engine, cast.ana) == [in_time]
    with pytest.raises(FeedbackError, match="not one you can rate now"):
        _submit(engine, cast.ana, too_old)
    _submit(engine, cast.ana, in_time)
    assert _count(engine, SessionFeedback) == 1


def test_a_session_before_a_partner_joined_is_not_due_for_them(engine: Engine) -> None:
    """A session dated before this partner joined (made by hand, say) is never asked of them."""
    cast = _cast(engine)
    with write_session(engine) as session:
        session.add(
            TherapySession(
                couple_id=cast.couple_id,
                therapist_id=cast.kim.person_id,
                held_on=FORMED.date() - timedelta(2),
            )
        )
    assert _due(engine, cast.ana, today=FORMED.date()) == []


@pytest.mark.parametrize(
    ("ratings", "says"),
    [
        ({"heard": 8, "goals": 7, "approach": 6}, "missing: Overall"),
        ({**GOOD, "overall": 11}, "whole number from 0 to 10"),
        ({**GOOD, "heard": -1}, "whole number from 0 to 10"),
        ({**GOOD, "goals": True}, "whole number from 0 to 10"),
        ({**GOOD, "approach": 5.5}, "whole number from 0 to 10"),
        ({**GOOD, "partner_overall": 3}, "Only the four session ratings"),
    ],
)
def test_incomplete_or_out_of_range_ratings_are_refused_and_nothing_is_saved(
    engine: Engine, ratings: dict[str, int], says: str
) -> None:
    """Each bad form is refused with a message a person understands; the session stays due."""
    cast = _cast(engine)
    held = _mark(engine, cast.kim, cast.couple_id)
    with pytest.raises(FeedbackError, match=says):
        _submit(engine, cast.ana, held, ratings)
    assert _count(engine, SessionFeedback) == 0 and _due(engine, cast.ana) == [held]


def test_a_second_send_is_refused_as_already_sent_and_the_first_stands(engine: Engine) -> None:
    """Sending again, even with other numbers, changes nothing."""
    cast = _cast(engine)
    held = _mark(engine, cast.kim, cast.couple_id)
    _submit(engine, cast.ana, held)
    with pytest.raises(FeedbackError, match="already sent"):
        _submit(engine, cast.ana, held, dict.fromkeys(FEEDBACK_ITEMS, 0))
    assert _read(engine, cast.ana, cast.couple_id) == [(held, cast.ana.person_id, 9)]


def test_a_therapist_and_another_couple_s_partner_cannot_rate_the_session(engine: Engine) -> None:
    """Cai and Dee of another couple guess the session's id; Dr Kim tries to rate for a partner."""
    cast = _cast(engine)
    cai, dee = make_person(engine, "cai", name="Cai"), make_person(engine, "dee", name="Dee")
    _couple(engine, cai, dee)
    held = _mark(engine, cast.kim, cast.couple_id)
    with pytest.raises(FeedbackError, match="not one you can rate now"):
        _submit(engine, cai, held)
    with pytest.raises(FeedbackError, match="partners' own"):
        _submit(engine, cast.kim, held)
    assert _due(engine, cai) == [] and _count(engine, SessionFeedback) == 0


def test_after_a_couple_ends_and_re_forms_old_sessions_are_never_due_or_read_in_the_new_one(
    engine: Engine,
) -> None:
    """Ana and Ben had a session; they part, and Ana forms a couple with Cai, whom Dr Kim also sees.
    The old session is not due, cannot be rated, and no rating of it reaches anyone in the new couple."""
    cast = _cast(engine)
    old = _mark(engine, cast.kim, cast.couple_id, TODAY - timedelta(days=2))
    _submit(engine, cast.ben, old, {**GOOD, "overall": 1})
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=cast.ana, now=NOW - timedelta(days=1))
    cai = make_person(engine, "cai", name="Cai")
    new = _couple(engine, cast.ana, cai, joined=NOW - timedelta(hours=20))
    _granted(engine, new, cast.kim, cast.ana, cai)
    assert _due(engine, cast.ana) == []
    with pytest.raises(FeedbackError, match="not one you can rate now"):
        _submit(engine, cast.ana, old)
    with pytest.raises(AccessDenied):
        _read(engine, cast.kim, cast.couple_id)  # the old couple: no longer visible
    assert _read(engine, cast.kim, new) == [] and _read(engine, cast.ana, new) == []
    fresh = _mark(engine, cast.kim, new)
    assert _due(engine, cast.ana) == [fresh] and _due(engine, cai) == [fresh]


# ---- who reads the ratings ------------------------------------------------------------------------


def test_a_partner_reads_only_their_own_ratings_and_the_therapist_reads_both(engine: Engine) -> None:
    """Ana and Ben each read their own; Dr Kim reads both; Ben's 2 never reaches Ana."""
    cast = _cast(engine)
    held = _mark(engine, cast.kim, cast.couple_id)
    _submit(engine, cast.ana, held, {**GOOD, "overall": 9})
    _submit(engine, cast.ben, held, {**GOOD, "overall": 2})
    assert _read(engine, cast.ana, cast.couple_id) == [(held, cast.ana.person_id, 9)]
    assert _read(engine, cast.ben, cast.couple_id) == [(held, cast.ben.person_id, 2)]
    assert sorted(_read(engine, cast.kim, cast.couple_id)) == sorted(
        [(held, cast.ana.person_id, 9), (held, cast.ben.person_id, 2)]
    )


def test_a_second_therapist_never_reads_the_first_therapist_s_ratings(engine: Engine) -> None:
    """Dr Lee, also let in by both, reads only the ratings of sessions Dr Lee held."""
    cast = _cast(engine)
    lee = make_person(engine, "dr.lee", Role.THERAPIST, "Dr Lee")
    _granted(engine, cast.couple_id, lee, cast.ana, cast.ben)
    kims = _mark(engine, cast.kim, cast.couple_id, TODAY - timedelta(days=1))
    lees = _mark(engine, lee, cast.couple_id)
    _submit(engine, cast.ana, kims, {**GOOD, "overall": 3})
    _submit(engine, cast.ana, lees, {**GOOD, "overall": 7})
    assert _read(engine, lee, cast.couple_id) == [(lees, cast.ana.person_id, 7)]
    assert _read(engine, cast.kim, cast.couple_id) == [(kims, cast.ana.person_id, 3)]


def test_a_withdrawn_grant_or_another_couple_reads_nothing(engine: Engine) -> None:
    """Once Ben withdraws his grant Dr Kim reads no rating; Cai, of another couple, never could."""
    cast = _cast(engine)
    held = _mark(engine, cast.kim, cast.couple_id)
    _submit(engine, cast.ana, held)
    cai, dee = make_person(engine, "cai", name="Cai"), make_person(engine, "dee", name="Dee")
    _couple(engine, cai, dee)
    with pytest.raises(AccessDenied):
        _read(engine, cai, cast.couple_id)
    with write_session(engine) as session:
        session.exec(
            update(TherapistGrant)
            .where(col(TherapistGrant.partner_id) == cast.ben.person_id)
            .values(revoked_at=NOW)
        )
    with pytest.raises(AccessDenied):
        _read(engine, cast.kim, cast.couple_id)


def _exported(engine: Engine, viewer: Viewer) -> list[dict[str, str]]:
    with read_session(engine) as session:
        data = export.export_zip(session=session, viewer=viewer, program=PROGRAM, now=NOW)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("session_feedback.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_a_partner_s_export_holds_their_own_ratings_only(engine: Engine) -> None:
    """Ana's export: her four numbers for the session; none of Ben's."""
    cast = _cast(engine)
    held = _mark(engine, cast.kim, cast.couple_id)
    _submit(engine, cast.ana, held, {"heard": 1, "goals": 2, "approach": 3, "overall": 4})
    _submit(engine, cast.ben, held, {"heard": 7, "goals": 8, "approach": 9, "overall": 10})
    rows = _exported(engine, cast.ana)
    assert [{k: r[k] for k in ("held_on", *FEEDBACK_ITEMS)} for r in rows] == [
        {"held_on": TODAY.isoformat(), "heard": "1", "goals": "2", "approach": "3", "overall": "4"}
    ]
    assert _exported(engine, cast.kim) == []


def test_the_items_file_is_validated_and_a_broken_one_is_named(tmp_path: Path) -> None:
    """The shipped file has the four items in order; one with an item missing stops with file and field."""
    assert [item.key for item in session_feedback.load_form().items] == list(FEEDBACK_ITEMS)
    broken = tmp_path / "session_feedback.toml"
    text = session_feedback.CONTENT_FILE.read_text()
    broken.write_text(text[: text.rindex("[[items]]")])
    with pytest.raises(ContentError, match=r"session_feedback\.toml: items: must be exactly heard, goals"):
        session_feedback.load_form(broken)


# ---- property: whatever the order, a partner never reads the other's ratings ----------------------

# One step of a story: (who: 0 Ana / 1 Ben, which of the sessions, overall rating).
Step = tuple[int, int, int]


def _empty(engine: Engine) -> None:
    with Session(engine) as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.execute(table.delete())
        session.commit()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(
    sessions=st.integers(min_value=1, max_value=3),
    steps=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(0, 10)), min_size=1, max_size=8
    ),
)
def test_whatever_the_order_of_sends_no_partner_reads_the_other_s_ratings(
    engine: Engine, sessions: int, steps: list[Step]
) -> None:
    """Random sequences of sends (repeats, other sessions, either partner first): after every step each
    partner reads, and exports, exactly their own accepted ratings; the therapist reads exactly both."""
    _empty(engine)
    cast = _cast(engine)
    held = [_mark(engine, cast.kim, cast.couple_id, TODAY - timedelta(days=n)) for n in range(sessions)]
    people = (cast.ana, cast.ben)
    sent: dict[tuple[int, int], int] = {}  # (person, session) -> overall
    for who, which, overall in steps:
        person, session_id = people[who], held[which % sessions]
        ratings = {
            "heard": (overall + 1) % 11,
            "goals": (overall + 2) % 11,
            "approach": 0,
            "overall": overall,
        }
        try:
            _submit(engine, person, session_id, ratings)
        except FeedbackError:
            assert (person.person_id, session_id) in sent
        else:
            assert (person.person_id, session_id) not in sent
            sent[(person.person_id, session_id)] = overall
        for viewer in people:
            own = sorted((s, p, o) for (p, s), o in sent.items() if p == viewer.person_id)
            assert sorted(_read(engine, viewer, cast.couple_id)) == own
            exported = sorted(
                (int(r["couple"]), int(r["overall"]), r["held_on"]) for r in _exported(engine, viewer)
            )
            held_on = {h: (TODAY - timedelta(days=n)).isoformat() for n, h in enumerate(held)}
            assert exported == sorted((cast.couple_id, o, held_on[s]) for s, _, o in own)
        assert sorted(_read(engine, cast.kim, cast.couple_id)) == sorted(
            (s, p, o) for (p, s), o in sent.items()
        )


def test_the_chart_says_what_to_do_when_empty_and_who_has_not_rated() -> None:
    """No session: how to mark one; sessions without ratings: where partners are asked; one partner
    rated: only their traces, and the caption says the other hasn't yet."""
    labels = session_feedback.form().short_labels
    partners = (Partner(1, "Ana"), Partner(2, "Ben"))
    empty = figures.session_feedback(partners, [], [], labels)
    assert isinstance(empty, figures.EmptyChart) and "Mark one above" in empty.message
    unrated = figures.session_feedback(partners, [TODAY], [], labels)
    assert isinstance(unrated, figures.EmptyChart) and "home page for 14 days" in unrated.message
    rating = SessionFeedbackView(7, TODAY, 1, 6, 6, 6, 6, NOW)
    chart = figures.session_feedback(partners, [TODAY - timedelta(days=7), TODAY], [rating], labels)
    assert isinstance(chart, figures.Chart)
    assert [t.name for t in chart.figure.data] == ["Ana: overall", "Ana: lowest rating"]
    assert list(chart.figure.data[0].y) == [None, 6]
    assert "Ben hasn't rated it yet" in chart.caption and "lowest" not in chart.caption
    assert [(r["Partner"], r["Overall"]) for r in chart.table] == [
        ("Ana", None), ("Ben", None), ("Ana", 6), ("Ben", None)
    ]  # fmt: skip


def test_parallel_clicks_and_sends_keep_one_session_and_one_rating(engine: Engine) -> None:
    """Eight "Session held" clicks at once make one session, all told its id; eight sends of Ana's ratings
    at once save one, and every other send is told "already sent", never a database error."""
    cast = _cast(engine)

    def mark(session: Session) -> int:
        return session_feedback.mark_held(
            session=session, viewer=cast.kim, couple_id=cast.couple_id, held_on=TODAY, now=NOW
        )

    results, errors = race(engine, *([mark] * 8))
    assert errors == [] and len(set(results)) == 1 and _count(engine, TherapySession) == 1
    (held,) = set(results)
    assert isinstance(held, int)

    def send(session: Session) -> None:
        session_feedback.submit(session=session, viewer=cast.ana, session_id=held, ratings=GOOD, now=NOW)

    results, errors = race(engine, *([send] * 8))
    assert len(results) == 1 and len(errors) == 7
    assert [e for e in errors if not (isinstance(e, FeedbackError) and str(e) == ALREADY_SENT)] == []
    assert _count(engine, SessionFeedback) == 1 and len(_held_events(engine)) == 1
