"""Therapist accounts approved by the server's operator, as people see it in the pages: a therapist
waiting for approval gets no code, and a partner sees whose code it is, and that the operator approved
them, before giving anything."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from program.infra.db import read_session, write_session
from program.infra.models import Person, Role, utcnow
from program.privacy import grants
from program.privacy.viewer import Viewer
from tests.factories import grant, make_couple, make_person
from tests.ui.helpers import app, as_viewer, click, fill, texts
from tests.ui.test_hostile_strings import HOSTILE, unescaped

CHECK = "FormSubmitter:grant_therapist-Check the code"


def _page(engine: Engine, viewer: Viewer, page: str = "account") -> AppTest:
    return as_viewer(app(f"pages/{page}.py"), viewer, engine).run()


def _code(engine: Engine, therapist: Viewer) -> str:
    at = _page(engine, therapist)
    click(at, "Make a code")
    assert not at.error, [e.value for e in at.error]
    return str(at.code[0].value)


def _enter(at: AppTest, code: str) -> AppTest:
    fill(at, "Your therapist's code", code)
    return at.button(key=CHECK).click().run()


def _given_to(engine: Engine, partner: Viewer) -> list[str]:
    with read_session(engine) as session:
        return [t.therapist_name for t in grants.therapists_of_couple(session=session, viewer=partner)]


def test_a_therapist_waiting_for_approval_gets_no_code_and_is_told_how(app_env: Engine) -> None:
    """Neither the account page nor the couples page offers a code before the operator approves; both say
    the account waits and show the operator's command with this username."""
    eve = make_person(app_env, "dr.eve", Role.THERAPIST, "Dr Eve", approved=False)
    for page in ("account", "therapist"):
        at = _page(app_env, eve, page)
        assert not at.exception
        assert "waiting for approval by this server's operator" in texts(at)
        assert [c.value for c in at.code] == ["python -m program approve-therapist dr.eve"]
        assert not [b for b in at.button if "code" in b.label.lower()]


def test_an_unapproved_therapist_sees_no_couple_even_with_both_grants(app_env: Engine) -> None:
    """Grants a couple gave before the operator withdrew approval do not show that couple to the
    therapist: the couples page holds only the waiting notice, and the partners read why."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, "Dr Kim")
    couple_id = make_couple(app_env, ana, ben)
    grant(app_env, couple_id, kim, ana)
    grant(app_env, couple_id, kim, ben)
    at = _page(app_env, kim, "therapist")
    assert at.selectbox(key="kindred_caseload_open_choice").options == ["Ana & Ben"]
    assert [b.label for b in at.button if b.label.startswith("Open")] == ["Open"]
    with write_session(app_env) as session:
        grants.unapprove_therapist(session=session, username="dr.kim", operator="root", now=utcnow())
    at.run()
    assert not [b for b in at.button if b.label.startswith("Open")]
    assert "Ana" not in texts(at) and "waiting for approval" in texts(at)
    # The couple is not told "can see your couple" about a therapist who no longer can.
    shown = texts(_page(app_env, ana))
    assert "**Dr Kim** cannot see your couple while this server's operator has not approved" in shown
    assert "can see your couple:" not in shown


def test_a_partner_confirms_the_right_therapist_of_two_before_access_is_given(app_env: Engine) -> None:
    """With Dr Kim's and Dr Lee's codes about, entering Dr Lee's asks "Give Dr Lee access?" with the
    operator's approval, grants nothing yet, and the confirm button grants Dr Lee alone."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, "Dr Kim")
    lee = make_person(app_env, "dr.lee", Role.THERAPIST, "Dr Lee")
    _code(app_env, kim)
    lee_code = _code(app_env, lee)
    at = _enter(_page(app_env, ana), lee_code)
    shown = texts(at)
    assert "Give **Dr Lee** access to your couple?" in shown
    assert "approved by this server's operator" in shown
    assert "Dr Kim" not in shown
    assert _given_to(app_env, ana) == []
    at.button(key="grant_confirm").click().run()
    assert "Access given to Dr Lee" in at.success[0].value
    assert _given_to(app_env, ana) == ["Dr Lee"]


def test_cancelling_the_confirmation_gives_nothing(app_env: Engine) -> None:
    """Cancel returns to the empty code form, with no grant made."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, "Dr Kim")
    at = _enter(_page(app_env, ana), _code(app_env, kim))
    at.button(key="grant_cancel").click().run()
    assert [t.label for t in at.text_input if "therapist" in t.label] == ["Your therapist's code"]
    assert "Give **Dr Kim** access" not in texts(at)
    assert _given_to(app_env, ana) == []


def test_a_code_unapproved_between_check_and_confirm_gives_nothing(app_env: Engine) -> None:
    """The operator withdraws approval while the partner looks at the confirmation: confirming is refused
    with a message, not a traceback, and no grant is written."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, "Dr Kim")
    at = _enter(_page(app_env, ana), _code(app_env, kim))
    with write_session(app_env) as session:
        grants.unapprove_therapist(session=session, username="dr.kim", operator="root", now=utcnow())
    at.button(key="grant_confirm").click().run()
    assert not at.exception
    assert "don't recognise that code" in at.error[0].value
    assert _given_to(app_env, ana) == []


def test_an_unapproved_therapists_code_is_refused_at_the_check(app_env: Engine) -> None:
    """A code entered after the operator withdrew approval stops at the first step, saying why."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, "Dr Kim")
    code = _code(app_env, kim)
    with write_session(app_env) as session:
        grants.unapprove_therapist(session=session, username="dr.kim", operator="root", now=utcnow())
    at = _enter(_page(app_env, ana), code)
    assert "don't recognise that code" in at.error[0].value
    assert not [b for b in at.button if b.key == "grant_confirm"]


def test_a_hostile_therapist_name_is_text_in_the_confirmation(app_env: Engine) -> None:
    """Every hostile display name a therapist may hold is shown as text in the question, the caption, the
    confirm button and the notice after it."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    kim = make_person(app_env, "dr.kim", Role.THERAPIST)
    code = _code(app_env, kim)
    for kind, name in HOSTILE.items():
        with write_session(app_env) as session:
            person = session.get(Person, kim.person_id)
            assert person is not None
            person.display_name = name.replace("\x00", "")[:80]
        at = _enter(_page(app_env, ana), code)
        assert [b for b in at.button if b.key == "grant_confirm"], kind
        assert unescaped(at) == [], kind
        at.button(key="grant_cancel").click().run()
    # The last name (a long run of links) confirmed: the notice after it, and the listing, stay text too.
    at = _enter(_page(app_env, ana), code)
    at.button(key="grant_confirm").click().run()
    assert at.success and unescaped(at) == []
