"""Session notes: the therapist's own, per couple, only while the couple lets them in; dated, edited without
anything half-saved, and recorded for the couple as "wrote/edited a session note", never with the text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Role, TherapistNote
from program.privacy import couples, grants
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import session_notes
from program.therapist.session_notes import NoteError, SessionNote
from tests.factories import grant, make_couple, make_person

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HOSTILE = "![x](https://evil.example/x.png) <script>alert(1)</script> **bold** [link](https://e.example)"


def _couple(engine: Engine, therapist: Viewer, a: str = "ana", b: str = "ben") -> tuple[int, Viewer, Viewer]:
    one, two = make_person(engine, a), make_person(engine, b)
    couple_id = make_couple(engine, one, two)
    grant(engine, couple_id, therapist, one)
    grant(engine, couple_id, therapist, two)
    return couple_id, one, two


def _add(engine: Engine, viewer: Viewer, couple_id: int, body: str, now: datetime = NOW) -> int:
    with write_session(engine) as session:
        return session_notes.add_note(session=session, viewer=viewer, couple_id=couple_id, body=body, now=now)


def _edit(engine: Engine, viewer: Viewer, note_id: int, body: str, now: datetime = NOW) -> None:
    with write_session(engine) as session:
        session_notes.edit_note(session=session, viewer=viewer, note_id=note_id, body=body, now=now)


def _notes(engine: Engine, viewer: Viewer, couple_id: int) -> list[SessionNote]:
    with read_session(engine) as session:
        return session_notes.notes(session=session, viewer=viewer, couple_id=couple_id)


def _trail(engine: Engine) -> list[tuple[str, int | None, str]]:
    with read_session(engine) as session:
        return [
            (e.action, e.couple_id, e.detail)
            for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
            if e.action.startswith("therapist.note")
        ]


def test_a_therapist_writes_dated_notes_and_edits_them_newest_first(engine: Engine) -> None:
    """Notes come back newest first, trimmed, with when each was written and last edited; the couple's
    trail says a note was written and edited, never what it says."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, _, _ = _couple(engine, kim)
    first = _add(engine, kim, couple_id, "  Ana spoke about her mother.  ")
    second = _add(engine, kim, couple_id, "Ben quiet today.", NOW + timedelta(days=7))
    _edit(engine, kim, first, "Ana spoke about her father.", NOW + timedelta(days=8))

    notes = _notes(engine, kim, couple_id)
    assert [n.id for n in notes] == [second, first]
    assert notes[1] == SessionNote(
        first, "Ana spoke about her father.", notes[1].created_at, notes[1].updated_at
    )
    assert notes[1].created_at.replace(tzinfo=UTC) == NOW
    assert notes[1].updated_at.replace(tzinfo=UTC) == NOW + timedelta(days=8)
    assert _trail(engine) == [
        ("therapist.note_written", couple_id, "wrote a session note"),
        ("therapist.note_written", couple_id, "wrote a session note"),
        ("therapist.note_edited", couple_id, "edited a session note"),
    ]


@pytest.mark.parametrize("body", ["", "   \n\t ", "x" * 5001])
def test_an_empty_or_too_long_note_is_refused_with_a_message_and_nothing_saved(
    engine: Engine, body: str
) -> None:
    """Nothing is written, to the notes or to the trail, for a note that cannot be kept."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, _, _ = _couple(engine, kim)
    with pytest.raises(NoteError, match="empty|at most 5000"):
        _add(engine, kim, couple_id, body)
    kept = _add(engine, kim, couple_id, "kept")
    with pytest.raises(NoteError):
        _edit(engine, kim, kept, body, NOW + timedelta(days=1))
    assert [(n.body, n.updated_at.replace(tzinfo=UTC)) for n in _notes(engine, kim, couple_id)] == [
        ("kept", NOW)
    ]
    assert [a for a, _, _ in _trail(engine)] == ["therapist.note_written"]
    longest = _add(engine, kim, couple_id, "y" * 5000)  # the longest note is kept whole
    assert [(n.id, n.body) for n in _notes(engine, kim, couple_id)][0] == (longest, "y" * 5000)


def test_partners_never_read_or_write_notes(engine: Engine) -> None:
    """A partner of the couple is refused, whichever way they ask."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, _ = _couple(engine, kim)
    note = _add(engine, kim, couple_id, "private to Kim")
    with pytest.raises(AccessDenied):
        _notes(engine, ana, couple_id)
    with pytest.raises(AccessDenied):
        _add(engine, ana, couple_id, "a partner's try")
    with pytest.raises(AccessDenied):
        _edit(engine, ana, note, "rewritten by Ana")
    assert [n.body for n in _notes(engine, kim, couple_id)] == ["private to Kim"]


def test_a_second_therapist_of_the_same_couple_never_reads_or_edits_the_first_ones_notes(
    engine: Engine,
) -> None:
    """Both therapists see the couple; each reads only their own notes."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    lee = make_person(engine, "lee", Role.THERAPIST)
    couple_id, ana, ben = _couple(engine, kim)
    grant(engine, couple_id, lee, ana)
    grant(engine, couple_id, lee, ben)
    kims = _add(engine, kim, couple_id, "Kim's note")
    _add(engine, lee, couple_id, "Lee's note")
    assert [n.body for n in _notes(engine, lee, couple_id)] == ["Lee's note"]
    assert [n.body for n in _notes(engine, kim, couple_id)] == ["Kim's note"]
    with pytest.raises(AccessDenied):
        _edit(engine, lee, kims, "overwritten by Lee")
    with pytest.raises(AccessDenied):
        _edit(engine, kim, 10_000_000, "a note that does not exist")
    assert [n.body for n in _notes(engine, kim, couple_id)] == ["Kim's note"]


def test_no_note_without_the_couples_standing_access(engine: Engine) -> None:
    """A revoked grant, an ended couple, an unapproved therapist, another couple: read, add and edit are
    all refused, and the earlier notes stay unchanged."""
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id, ana, ben = _couple(engine, kim)
    other_id, _, _ = _couple(engine, make_person(engine, "lee", Role.THERAPIST), "cai", "dee")
    note = _add(engine, kim, couple_id, "before")
    with pytest.raises(AccessDenied):
        _add(engine, kim, other_id, "on a couple that never let Kim in")

    with write_session(engine) as session:
        grants.revoke_access(session=session, viewer=ana, therapist_id=kim.person_id, now=NOW)
    for attempt in (
        lambda: _notes(engine, kim, couple_id),
        lambda: _add(engine, kim, couple_id, "after revocation"),
        lambda: _edit(engine, kim, note, "after revocation"),
    ):
        with pytest.raises(AccessDenied):
            attempt()
    grant(engine, couple_id, kim, ana)
    assert [n.body for n in _notes(engine, kim, couple_id)] == ["before"]

    with write_session(engine) as session:
        grants.unapprove_therapist(session=session, username="kim", operator="op", now=NOW)
    with pytest.raises(AccessDenied):
        _edit(engine, kim, note, "while unapproved")
    with write_session(engine) as session:
        grants.approve_therapist(session=session, username="kim", operator="op", now=NOW)

    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=NOW)
    with pytest.raises(AccessDenied):
        _notes(engine, kim, couple_id)
    with pytest.raises(AccessDenied):
        _edit(engine, kim, note, "after the couple ended")
    with read_session(engine) as session:
        assert session.exec(select(TherapistNote.body)).all() == ["before"]
