"""The therapist's "Assign homework" and "Session notes" sections and the partner's "From your therapist" on
the home page, driven as people use them: assign, see it at home, mark it done, see it done; notes written
and edited; typed text always shown as text."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.infra.db import read_session
from program.infra.models import HomeworkAssignment, HomeworkCompletion, Role, TherapistNote
from program.privacy.viewer import Viewer
from program.ui.localtime import local_today
from tests.factories import grant, make_couple, make_person
from tests.ui.helpers import app, as_viewer, click, texts
from tests.ui.test_hostile_strings import unescaped

# The therapist's two sections as the couple view draws them, for the couple in session state.
SECTIONS = """
import streamlit as st
from program.infra.models import Role
from program.ui.gate import show_page
from program.ui.homework import render_assign_homework
from program.ui.session_notes import render_session_notes


def _couple_view(viewer):
    render_session_notes(viewer, st.session_state["test_couple_id"])
    render_assign_homework(viewer, st.session_state["test_couple_id"])


show_page(_couple_view, Role.THERAPIST)
"""
HOSTILE_TITLE = "![t](http://evil.example/t.png) <img src=x> :red[Alarm]"
HOSTILE_BODY = "# Shout\n[Reset your password](http://evil.example/reset)\n<span style='x'>Cover</span> $x^2$"


def _people(engine: Engine) -> tuple[Viewer, Viewer, Viewer, int]:
    ana = make_person(engine, "ana", name="Ana")
    ben = make_person(engine, "ben", name="Ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr Kim")
    couple_id = make_couple(engine, ana, ben)
    grant(engine, couple_id, kim, ana)
    grant(engine, couple_id, kim, ben)
    return ana, ben, kim, couple_id


def _therapist(engine: Engine, kim: Viewer, couple_id: int) -> AppTest:
    at = as_viewer(AppTest.from_string(SECTIONS, default_timeout=30), kim, engine)
    at.session_state["test_couple_id"] = couple_id
    return at.run()


def _home(engine: Engine, partner: Viewer) -> AppTest:
    return as_viewer(app("pages/home.py"), partner, engine).run()


def _assign(
    at: AppTest, couple_id: int, title: str, what: str = "", for_person: int | None = None
) -> AppTest:
    [title_input] = [t for t in at.text_input if t.label == "Title"]
    title_input.input(title)
    [what_input] = [t for t in at.text_area if t.label == "What to do"]
    what_input.input(what)
    [for_box] = [s for s in at.selectbox if s.label == "For"]
    for_box.set_value(for_person)
    return at.button(key=f"FormSubmitter:assign_homework_{couple_id}-Assign homework").click().run()


def _errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


def _plain(at: AppTest) -> list[str]:
    return [str(t.value) for t in at.text]


def test_round_trip_assigned_seen_at_home_marked_done_and_seen_done(app_env: Engine) -> None:
    """Dr Kim assigns homework for both; Ana finds it under "From your therapist" and marks it done;
    Dr Kim then reads that Ana did it, and that Ben has not yet."""
    ana, ben, kim, couple_id = _people(app_env)
    at = _therapist(app_env, kim, couple_id)
    assert not at.exception and not _errors(at)
    assert "From your therapist" not in texts(_home(app_env, ana))  # nothing yet: no heading

    at = _assign(at, couple_id, "Ten minutes of listening", "Each evening, one talks and one listens.")
    assert not at.exception and not _errors(at)
    assert "Homework assigned." in texts(at)
    assert "Ana: not done yet" in texts(at) and "Ben: not done yet" in texts(at)

    home = _home(app_env, ana)
    assert not home.exception
    shown = texts(home)
    assert "From your therapist" in shown and "**Ten minutes of listening**" in shown
    assert "Each evening, one talks and one listens." in _plain(home)
    assert f"Due {local_today():%A} {local_today().day}" in shown
    click(home, "Mark done")
    assert not home.exception
    assert "Done on" in texts(home) and not [b for b in home.button if b.label == "Mark done"]

    at.run()
    assert "Ana: done on" in texts(at) and "Ben: not done yet" in texts(at)
    assert [b.label for b in _home(app_env, ben).button if b.label == "Mark done"] == ["Mark done"]


def test_homework_for_one_partner_never_reaches_the_other(app_env: Engine) -> None:
    """Chosen "For" Ben by name in the form: Ben sees it at home, Ana sees no trace of it."""
    ana, ben, kim, couple_id = _people(app_env)
    at = _therapist(app_env, kim, couple_id)
    [for_box] = [s for s in at.selectbox if s.label == "For"]
    assert for_box.options == ["Both partners", "Ana", "Ben"]
    at = _assign(at, couple_id, "Ben's own task", "Only for Ben", for_person=ben.person_id)
    assert not _errors(at)
    assert "for Ben" in texts(at) and "Ana: not done yet" not in texts(at)

    ana_home = _home(app_env, ana)
    assert "From your therapist" not in texts(ana_home)
    assert "Ben's own task" not in texts(ana_home) + "".join(_plain(ana_home))
    assert not [b for b in ana_home.button if b.label == "Mark done"]
    ben_home = _home(app_env, ben)
    assert "Ben's own task" in texts(ben_home) and "Only for Ben" in _plain(ben_home)


def test_an_empty_title_is_refused_in_the_page_and_nothing_is_assigned(app_env: Engine) -> None:
    """The therapist reads what to change; no homework is saved; what they typed stays in the form."""
    _, _, kim, couple_id = _people(app_env)
    at = _assign(_therapist(app_env, kim, couple_id), couple_id, "   ", "Some instructions")
    assert not at.exception
    assert _errors(at) == ["Give the homework a title, so the couple knows what it is."]
    assert [t.value for t in at.text_area if t.label == "What to do"] == ["Some instructions"]
    with read_session(app_env) as session:
        assert session.exec(select(HomeworkAssignment)).all() == []


def test_hostile_titles_instructions_and_notes_show_as_text(app_env: Engine) -> None:
    """Markdown and HTML typed into homework and notes reach no page as markup: the therapist's sections
    and the partner's home show them as the characters typed."""
    ana, _, kim, couple_id = _people(app_env)
    at = _therapist(app_env, kim, couple_id)
    at = _assign(at, couple_id, HOSTILE_TITLE, HOSTILE_BODY)
    assert not _errors(at)
    [note_box] = [t for t in at.text_area if t.label == "Note"]
    note_box.input(HOSTILE_BODY)
    at = at.button(key=f"FormSubmitter:write_note_{couple_id}-Save note").click().run()
    assert not at.exception and not _errors(at)
    assert unescaped(at) == []
    assert HOSTILE_TITLE in texts(at)
    assert _plain(at).count(HOSTILE_BODY) == 2  # the note and the homework's instructions

    home = _home(app_env, ana)
    assert unescaped(home) == []
    assert HOSTILE_TITLE in texts(home) and HOSTILE_BODY in _plain(home)
    click(home, "Mark done")
    assert unescaped(home) == [] and "Done on" in texts(home)


def test_notes_are_written_dated_edited_and_never_on_the_partners_pages(app_env: Engine) -> None:
    """A note saved shows with its date and an Edit form; an edit replaces it; an empty note is refused
    with a message; the partner's home and progress pages never show a note."""
    ana, _, kim, couple_id = _people(app_env)
    at = _therapist(app_env, kim, couple_id)
    assert "Session notes" in texts(at) and "No notes on this couple yet." in texts(at)
    at = at.button(key=f"FormSubmitter:write_note_{couple_id}-Save note").click().run()
    assert _errors(at) == ["The note is empty. Write something before saving it."]

    [box] = [t for t in at.text_area if t.label == "Note"]
    box.input("  Ana named a fear of being left.  ")
    at = at.button(key=f"FormSubmitter:write_note_{couple_id}-Save note").click().run()
    assert not _errors(at)
    assert "Your note is saved. Only you can read it." in texts(at)
    assert _plain(at) == ["Ana named a fear of being left."]
    assert "Written " in texts(at) and [e.label for e in at.expander] == ["Edit"]
    # The field for the next note starts empty.
    assert [t.value for t in at.text_area if t.label == "Note"][0] == ""

    with read_session(app_env) as session:
        [note_id] = session.exec(select(TherapistNote.id)).all()
    edit = at.text_area(key=f"edit_note_body_{note_id}")
    edit.input("Ana named a fear of being left; Ben listened.")
    at = at.button(key=f"FormSubmitter:edit_note_{note_id}-Save changes").click().run()
    assert not _errors(at)
    assert _plain(at) == ["Ana named a fear of being left; Ben listened."]
    assert "Your note is updated." in texts(at)

    for page in ("home", "progress", "account"):
        partner_view = as_viewer(app(f"pages/{page}.py"), ana, app_env).run()
        seen = texts(partner_view) + "".join(_plain(partner_view))
        assert "fear of being left" not in seen, page


def test_marking_done_after_the_couple_ended_is_refused_calmly(app_env: Engine) -> None:
    """Ana's home page was drawn; then Ben ends the couple: her "Mark done" saves nothing, and the old
    couple's homework is gone from her page."""
    from program.infra.db import write_session
    from program.infra.models import utcnow
    from program.privacy import couples

    ana, ben, kim, couple_id = _people(app_env)
    _assign(_therapist(app_env, kim, couple_id), couple_id, "Walk together")
    home = _home(app_env, ana)
    with write_session(app_env) as session:
        couples.leave_couple(session=session, viewer=ben, now=utcnow())
    click(home, "Mark done")
    assert not home.exception and not _errors(home)
    assert "From your therapist" not in texts(home) and "Walk together" not in texts(home)
    with read_session(app_env) as session:
        assert session.exec(select(HomeworkCompletion)).all() == []
