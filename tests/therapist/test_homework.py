"""Homework from a couple's therapist: assigned to both partners or one, seen and marked done only by whom
it is for in their current couple, and its completion seen by the therapist."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, HomeworkAssignment, HomeworkCompletion, Role
from program.privacy import couples, grants
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import homework
from program.therapist.homework import HomeworkError, HomeworkItem, HomeworkStatus
from tests.factories import grant, make_couple, make_person

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)
HOSTILE = "![x](https://evil.example/x.png) <b>bold</b> [link](https://e.example)"


def _couple(engine: Engine, therapist: Viewer, a: str = "ana", b: str = "ben") -> tuple[int, Viewer, Viewer]:
    one, two = make_person(engine, a), make_person(engine, b)
    couple_id = make_couple(engine, one, two)
    grant(engine, couple_id, therapist, one)
    grant(engine, couple_id, therapist, two)
    return couple_id, one, two


def _assign(
    engine: Engine,
    viewer: Viewer,
    couple_id: int,
    *,
    title: str = "Ten minutes of listening",
    instructions: str = "Each evening, one talks and one listens.",
    due_on: date = TODAY + timedelta(days=7),
    for_person_id: int | None = None,
) -> int:
    with write_session(engine) as session:
        return homework.assign(
            session=session,
            viewer=viewer,
            couple_id=couple_id,
            title=title,
            instructions=instructions,
            due_on=due_on,
            for_person_id=for_person_id,
            today=TODAY,
            now=NOW,
        )


def _mine(engine: Engine, viewer: Viewer, today: date = TODAY) -> list[HomeworkItem]:
    with read_session(engine) as session:
        return homework.for_partner(session=session, viewer=viewer, today=today)


def _done(engine: Engine, viewer: Viewer, assignment_id: int, now: datetime = NOW) -> None:
    with write_session(engine) as session:
        homework.mark_done(session=session, viewer=viewer, assignment_id=assignment_id, now=now)


def _status(engine: Engine, viewer: Viewer, couple_id: int) -> list[HomeworkStatus]:
    with read_session(engine) as session:
        return homework.couple_homework(session=session, viewer=viewer, couple_id=couple_id)


def _completions(engine: Engine) -> list[tuple[int, int]]:
    with read_session(engine) as session:
        return [(c.assignment_id, c.person_id) for c in session.exec(select(HomeworkCompletion))]


def test_round_trip_assigned_seen_done_and_reported_back(engine: Engine) -> None:
    """The therapist assigns homework to both; each partner sees it, Ana marks it done (twice: harmless);
    the therapist sees who did it when; the couple's trail says "assigned homework" and nothing more."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, ben = _couple(engine, kim)
    hw = _assign(engine, kim, couple_id, title="  Ten minutes of listening ")

    for partner in (ana, ben):
        [item] = _mine(engine, partner)
        assert (item.id, item.title, item.due_on, item.for_both, item.overdue, item.done_at) == (
            hw,
            "Ten minutes of listening",
            TODAY + timedelta(days=7),
            True,
            False,
            None,
        )
        assert item.instructions == "Each evening, one talks and one listens."
    _done(engine, ana, hw)
    _done(engine, ana, hw, NOW + timedelta(hours=1))
    [item] = _mine(engine, ana)
    assert item.done_at is not None and item.done_at.replace(tzinfo=UTC) == NOW
    assert _mine(engine, ben)[0].done_at is None

    [status] = _status(engine, kim, couple_id)
    assert (status.id, status.for_person_id, status.title) == (hw, None, "Ten minutes of listening")
    assert {pid: at.replace(tzinfo=UTC) for pid, at in status.done.items()} == {ana.person_id: NOW}
    with read_session(engine) as session:
        trail = session.exec(
            select(AuditEvent.action, AuditEvent.couple_id, AuditEvent.detail).where(
                col(AuditEvent.action).startswith("therapist.")
            )
        ).all()
    assert [tuple(t) for t in trail] == [("therapist.homework_assigned", couple_id, "assigned homework")]


def test_homework_for_one_partner_never_reaches_the_other(engine: Engine) -> None:
    """Homework for Ben alone: Ana neither sees it nor can mark it done."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, ben = _couple(engine, kim)
    for_ben = _assign(engine, kim, couple_id, title="Ben's own task", for_person_id=ben.person_id)
    assert _mine(engine, ana) == []
    assert [i.title for i in _mine(engine, ben)] == ["Ben's own task"]
    assert not _mine(engine, ben)[0].for_both
    with pytest.raises(AccessDenied):
        _done(engine, ana, for_ben)
    assert _completions(engine) == []
    [status] = _status(engine, kim, couple_id)
    assert status.for_person_id == ben.person_id and status.done == {}


def test_a_partner_of_another_couple_can_neither_see_nor_mark_it(engine: Engine) -> None:
    """Cai and Dee, another couple of the same therapist, get nothing of Ana and Ben's homework."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, _ = _couple(engine, kim)
    _, cai, _ = _couple(engine, kim, "cai", "dee")
    hw = _assign(engine, kim, couple_id)
    assert _mine(engine, cai) == []
    with pytest.raises(AccessDenied):
        _done(engine, cai, hw)
    with pytest.raises(AccessDenied):
        _done(engine, cai, hw + 1000)  # one that does not exist: refused the same way
    with pytest.raises(AccessDenied):
        _status(engine, cai, couple_id)
    with pytest.raises(AccessDenied):
        _status(engine, ana, couple_id)  # the therapist's view is the therapist's
    assert _completions(engine) == []


def test_a_couple_that_ended_takes_its_homework_with_it(engine: Engine) -> None:
    """After the couple ends, and when Ana forms a new couple, the old homework neither shows nor can be
    marked done, and the therapist can no longer assign or read it."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, ben = _couple(engine, kim)
    hw = _assign(engine, kim, couple_id)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=NOW)
    assert _mine(engine, ana) == []
    with pytest.raises(AccessDenied):
        _done(engine, ana, hw)
    with pytest.raises(AccessDenied):
        _assign(engine, kim, couple_id)
    with pytest.raises(AccessDenied):
        _status(engine, kim, couple_id)
    eve = make_person(engine, "eve")
    make_couple(engine, ana, eve)
    assert _mine(engine, ana) == []
    with pytest.raises(AccessDenied):
        _done(engine, ana, hw)
    assert _completions(engine) == []


def test_only_a_therapist_with_standing_access_assigns(engine: Engine) -> None:
    """A partner, a therapist after one partner revoked, an unapproved therapist: refused, nothing saved."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    lee = make_person(engine, "lee", Role.THERAPIST, approved=False)
    couple_id, ana, ben = _couple(engine, kim)
    grant(engine, couple_id, lee, ana)
    grant(engine, couple_id, lee, ben)
    with pytest.raises(AccessDenied):
        _assign(engine, ana, couple_id)
    with pytest.raises(AccessDenied):
        _assign(engine, lee, couple_id)
    with write_session(engine) as session:
        grants.revoke_access(session=session, viewer=ben, therapist_id=kim.person_id, now=NOW)
    with pytest.raises(AccessDenied):
        _assign(engine, kim, couple_id)
    with read_session(engine) as session:
        assert session.exec(select(HomeworkAssignment)).all() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": "   "}, "title"),
        ({"title": "t" * 161}, "161 characters"),
        ({"instructions": "i" * 4001}, "4001 characters"),
        ({"due_on": TODAY - timedelta(days=1)}, "has passed"),
    ],
)
def test_bad_homework_is_refused_with_a_clear_message(
    engine: Engine, change: dict[str, object], message: str
) -> None:
    """Each refusal says what to change; nothing is saved or recorded."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, _, _ = _couple(engine, kim)
    with pytest.raises(HomeworkError, match=message):
        _assign(engine, kim, couple_id, **change)  # type: ignore[arg-type]
    with read_session(engine) as session:
        assert session.exec(select(HomeworkAssignment)).all() == []
        assert session.exec(select(AuditEvent).where(AuditEvent.action == homework.ASSIGNED)).all() == []


def test_homework_for_someone_outside_this_couple_is_refused(engine: Engine) -> None:
    """A person id from another couple (even one the same therapist sees), or a former partner, is refused."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, _, _ = _couple(engine, kim)
    _, cai, _ = _couple(engine, kim, "cai", "dee")
    with pytest.raises(HomeworkError, match="this couple"):
        _assign(engine, kim, couple_id, for_person_id=cai.person_id)
    with pytest.raises(HomeworkError, match="this couple"):
        _assign(engine, kim, couple_id, for_person_id=kim.person_id)
    with read_session(engine) as session:
        assert session.exec(select(HomeworkAssignment)).all() == []


def test_boundaries_that_are_allowed(engine: Engine) -> None:
    """Due today, a 160-character title, 4000 characters of instructions, no instructions at all."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, _ = _couple(engine, kim)
    _assign(engine, kim, couple_id, title="t" * 160, instructions="i" * 4000, due_on=TODAY)
    _assign(engine, kim, couple_id, title=HOSTILE, instructions="", due_on=TODAY)
    assert sorted((i.title, len(i.instructions)) for i in _mine(engine, ana)) == sorted(
        [("t" * 160, 4000), (HOSTILE, 0)]
    )


def test_overdue_then_done_then_gone_after_two_weeks(engine: Engine) -> None:
    """Open homework past its due day is overdue; done, it shows with its day for two weeks, then drops off.
    Open homework comes first, soonest due first."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, _ = _couple(engine, kim)
    soon = _assign(engine, kim, couple_id, title="soon", due_on=TODAY)
    later = _assign(engine, kim, couple_id, title="later", due_on=TODAY + timedelta(days=3))
    tomorrow = TODAY + timedelta(days=1)
    assert [(i.title, i.overdue) for i in _mine(engine, ana, tomorrow)] == [("soon", True), ("later", False)]
    _done(engine, ana, soon, NOW + timedelta(days=1))
    assert [(i.title, i.overdue, i.done_at is not None) for i in _mine(engine, ana, tomorrow)] == [
        ("later", False, False),
        ("soon", False, True),
    ]
    assert [i.id for i in _mine(engine, ana, tomorrow + timedelta(days=14))] == [later, soon]
    assert [i.id for i in _mine(engine, ana, tomorrow + timedelta(days=15))] == [later]


def test_two_clicks_at_once_mark_it_done_once(engine: Engine) -> None:
    """Parallel "Mark done" requests leave one completion and no error."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, _ = _couple(engine, kim)
    hw = _assign(engine, kim, couple_id)
    errors: list[BaseException] = []

    def click() -> None:
        try:
            _done(engine, ana, hw)
        except BaseException as error:  # noqa: BLE001 - collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _completions(engine) == [(hw, ana.person_id)]


def test_a_partners_export_lists_their_homework_never_the_other_partners_own(engine: Engine) -> None:
    """Ana's export holds the homework for both and for her (done or not, in a couple since ended too),
    never Ben's own homework; Ben's holds his and the shared one."""
    import csv
    import io
    import zipfile

    from program.your_data import export
    from tests.program_helpers import PROGRAM

    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, ben = _couple(engine, kim)
    both = _assign(engine, kim, couple_id, title="Both: walk together")
    _assign(engine, kim, couple_id, title="Ana: write a letter", for_person_id=ana.person_id)
    _assign(engine, kim, couple_id, title="=BEN ONLY secret task", for_person_id=ben.person_id)
    _done(engine, ana, both)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=NOW)

    def rows(viewer: Viewer) -> list[dict[str, str]]:
        with read_session(engine) as session:
            data = export.export_zip(session=session, viewer=viewer, program=PROGRAM, now=NOW)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            text = archive.read("homework.csv").decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))

    ana_rows = rows(ana)
    assert [(r["title"], r["for"], bool(r["completed_at"])) for r in ana_rows] == [
        ("Both: walk together", "both partners", True),
        ("Ana: write a letter", "you", False),
    ]
    assert ana_rows[0]["instructions"] == "Each evening, one talks and one listens."
    assert [(r["title"], r["for"]) for r in rows(ben)] == [
        ("Both: walk together", "both partners"),
        ("'=BEN ONLY secret task", "you"),  # a spreadsheet formula is defused
    ]
