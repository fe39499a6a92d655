"""The therapist's "Session notes" section of a couple: write a dated note, read and edit one's own notes.

The UI of program.therapist.session_notes, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

import streamlit as st

from program.infra.db import Session, read_session
from program.infra.models import utcnow
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import session_notes
from program.therapist.session_notes import NoteError
from program.ui import runtime
from program.ui.gate import clear_flash, confirm_for, show_own_flash
from program.ui.localtime import local_date, local_time
from program.ui.writes import written

SECTION = "Session notes"
NOTES_WRITTEN = "kindred_notes_written"
NOTE_SAVED = "Your note is saved. Only you can read it."
NOTE_UPDATED = "Your note is updated."


def render_session_notes(viewer: Viewer, couple_id: int) -> None:
    """Write a note on this couple, then the therapist's own notes, newest first, each editable."""
    owner = f"notes-{couple_id}"
    try:
        with read_session(runtime.engine()) as session:
            notes = session_notes.notes(session=session, viewer=viewer, couple_id=couple_id)
    except AccessDenied:
        st.warning("This couple no longer gives you access.")
        return
    st.subheader(f":material/lock: {SECTION}")
    st.caption("Only you can see these notes: never the couple, nor another therapist they see.")
    show_own_flash(owner)
    # A new field after each saved note; a refused one keeps what was typed.
    written = st.session_state.get(NOTES_WRITTEN, 0)
    with st.form(f"write_note_{couple_id}"):
        st.markdown("**Write a session note**")
        st.caption(f"Dated {local_date(utcnow())}")
        body = st.text_area(
            "Note",
            max_chars=session_notes.MAX_NOTE_CHARS,
            height=140,
            key=f"new_note_{couple_id}_{written}",
        )
        submitted = st.form_submit_button("Save note")
    if submitted:
        clear_flash()
        if _save(viewer, body, couple_id=couple_id):
            st.session_state[NOTES_WRITTEN] = written + 1
            confirm_for(owner, NOTE_SAVED)
            st.rerun()
    if not notes:
        st.caption("No notes on this couple yet.")
    for note in notes:
        with st.container(border=True):
            dated = f"Written {local_time(note.created_at)}"
            if note.updated_at != note.created_at:
                dated += f" · edited {local_time(note.updated_at)}"
            st.caption(dated)
            st.text(note.body)  # typed text, shown as text
            with st.expander("Edit"), st.form(f"edit_note_{note.id}"):
                new_body = st.text_area(
                    "Note",
                    value=note.body,
                    max_chars=session_notes.MAX_NOTE_CHARS,
                    height=140,
                    key=f"edit_note_body_{note.id}",
                )
                if st.form_submit_button("Save changes"):
                    clear_flash()
                    if _save(viewer, new_body, note_id=note.id):
                        confirm_for(owner, NOTE_UPDATED)
                        st.rerun()


def _save(viewer: Viewer, body: str, *, couple_id: int | None = None, note_id: int | None = None) -> bool:
    """Add a note (couple_id) or edit one (note_id); a refusal is shown here and nothing is saved."""

    def write(session: Session) -> None:
        if note_id is not None:
            session_notes.edit_note(session=session, viewer=viewer, note_id=note_id, body=body, now=utcnow())
        else:
            assert couple_id is not None
            session_notes.add_note(
                session=session, viewer=viewer, couple_id=couple_id, body=body, now=utcnow()
            )

    return written(
        write,
        NoteError,
        said={AccessDenied: "This couple no longer gives you access, so the note was not saved."},
    )
