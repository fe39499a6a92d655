"""Routing and the login gate, driven through Streamlit's AppTest."""

from __future__ import annotations

import base64
import json
import warnings

import bcrypt
import jwt
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit_authenticator.controllers.cookie_controller import CookieController

from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Person, Role, utcnow
from program.infra.settings import get_settings
from program.privacy import couples
from program.ui import gate
from program.ui.navigation import PARTNER_PAGES, THERAPIST_PAGES
from tests.conftest import TEST_COOKIE_KEY
from tests.factories import PASSWORD, grant, make_couple, make_person
from tests.ui.helpers import (
    LOGIN_BUTTON,
    PAGE_FILES,
    REGISTER_BUTTON,
    app,
    as_viewer,
    button_keys,
    fill,
    log_in,
    texts,
)


def test_pages_folder_is_what_the_routing_lists() -> None:
    """Every page file is checked below; a new page without a test fails here first."""
    routed = {path for path, *_ in PARTNER_PAGES + THERAPIST_PAGES}
    assert set(PAGE_FILES) == routed
    assert len(PAGE_FILES) == 14  # with "Keeping it going" and "Intimacy", each listed once open


@pytest.mark.usefixtures("app_env")
def test_a_visitor_sees_the_welcoming_login_page() -> None:
    """Logged out, the app shows its name, what it is, and the login and registration forms."""
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "Kindred"
    assert "self-guided program for couples" in texts(at)
    assert {LOGIN_BUTTON, REGISTER_BUTTON} <= button_keys(at)


@pytest.mark.parametrize("page", PAGE_FILES)
def test_a_page_opened_directly_while_logged_out_shows_only_the_login_form(
    app_env: Engine, page: str
) -> None:
    """A deep link runs the page file without app.py; the page itself must stop at the login form."""
    ana = make_person(app_env, "ana", name="Ana Secret")
    kim = make_person(app_env, "dr.kim", Role.THERAPIST)
    ben = make_person(app_env, "ben")
    couple = make_couple(app_env, ana, ben)
    grant(app_env, couple, kim, ana)
    grant(app_env, couple, kim, ben)
    at = app(page).run()
    assert not at.exception
    assert at.title[0].value == "Kindred"
    assert LOGIN_BUTTON in button_keys(at)
    shown = texts(at)
    assert "Ana Secret" not in shown and "Your couples" not in shown and "Your account" not in shown


def test_a_partner_is_routed_to_their_home(app_env: Engine) -> None:
    """A logged-in partner lands on the partner home, greeted by name and told where they stand."""
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app(), ana, app_env).run()
    assert not at.exception
    assert at.subheader[0].value == "Hello, Ana"
    assert "haven't linked up with your partner" in texts(at)
    assert "Signed in as **Ana**" in texts(at)


def test_a_partner_cannot_open_the_therapist_page(app_env: Engine) -> None:
    """Even run directly, the therapist page refuses a partner and shows no couples."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    at = as_viewer(app("pages/therapist.py"), ana, app_env).run()
    assert "isn't part of your account" in at.error[0].value
    assert "Your couples" not in texts(at)


def test_a_therapist_is_routed_to_their_couples(app_env: Engine) -> None:
    """A therapist lands on their list: empty until both partners grant access, then the couple by name."""
    kim = make_person(app_env, "dr.kim", Role.THERAPIST)
    at = as_viewer(app(), kim, app_env).run()
    assert at.title[0].value == "Your couples"
    assert "No couple has given you access yet" in texts(at)
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    couple = make_couple(app_env, ana, ben)
    grant(app_env, couple, kim, ana)
    grant(app_env, couple, kim, ben)
    at.run()
    assert at.selectbox(key="kindred_caseload_open_choice").options == ["Ana & Ben"]
    assert at.selectbox(key="kindred_caseload_open_choice").value == couple


def test_a_therapist_cannot_open_the_partner_home(app_env: Engine) -> None:
    """The partner home refuses a therapist."""
    kim = make_person(app_env, "dr.kim", Role.THERAPIST)
    at = as_viewer(app("pages/home.py"), kim, app_env).run()
    assert "isn't part of your account" in at.error[0].value


def test_both_roles_can_open_their_account_page(app_env: Engine) -> None:
    """The account page shows the viewer's own details."""
    for viewer in (make_person(app_env, "ana", name="Ana"), make_person(app_env, "dr.kim", Role.THERAPIST)):
        at = as_viewer(app("pages/account.py"), viewer, app_env).run()
        assert at.title[0].value == "Your account"
        assert f"username **{viewer.username}**" in texts(at)


def test_logging_in_through_the_form_opens_the_home_page(app_env: Engine) -> None:
    """The right username (any case) and password log in; the next run shows the home page."""
    make_person(app_env, "ana", name="Ana")
    at = log_in(app().run(), "  ANA", PASSWORD)
    assert at.session_state["authentication_status"] is True
    at.run()
    assert at.subheader[0].value == "Hello, Ana"


def test_a_wrong_password_gets_a_message_and_is_audited(app_env: Engine) -> None:
    """A wrong password shows the same message as an unknown name, and both attempts are recorded."""
    ana = make_person(app_env, "ana")
    at = log_in(app().run(), "ana", "not the password")
    wrong_password_message = at.error[0].value
    at = log_in(at, "nobody-here", "whatever password")
    assert at.error[0].value == wrong_password_message
    assert at.title[0].value == "Kindred"
    with read_session(app_env) as session:
        failures = session.exec(select(AuditEvent).where(AuditEvent.action == "login.failed")).all()
    assert [event.actor_id for event in failures] == [ana.person_id, None]


def test_registering_creates_an_account_that_can_log_in(app_env: Engine) -> None:
    """The registration form creates the account; a bad password is refused and nothing is saved."""
    at = app().run()
    at.text_input[2].input("Robin")
    at.text_input[3].input("robin")
    at.text_input[4].input("short")
    at.text_input[5].input("short")
    at.button(key=REGISTER_BUTTON).click().run()
    assert "at least 10 characters" in at.error[0].value
    with read_session(app_env) as session:
        assert session.exec(select(Person)).first() is None
    at.text_input[4].input(PASSWORD)
    at.text_input[5].input(PASSWORD)
    at.button(key=REGISTER_BUTTON).click().run()
    assert "Your account is ready, Robin" in at.success[0].value
    at = log_in(at, "robin", PASSWORD).run()
    assert at.subheader[0].value == "Hello, Robin"


def test_logging_out_returns_to_the_login_page(app_env: Engine) -> None:
    """The sidebar's log-out button ends the session and shows the login form."""
    ana = make_person(app_env, "ana")
    # AppTest reruns the page file itself after the first run (folder mode), so settle on that first.
    at = as_viewer(app(), ana, app_env).run().run()
    at.sidebar.button(key="log_out_button").click().run()
    assert at.session_state["authentication_status"] is None
    assert at.title[0].value == "Kindred"
    with read_session(app_env) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "logout")).first() is not None


def test_a_logouts_cookie_delete_is_drawn_on_every_run_until_the_browser_reports_it(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logout's run can be cut short before the browser has loaded the cookie component; drawn once, the
    delete was then lost and the browser kept the cookie. It is drawn again on each run until the component
    reports it done, then no more; logging in again before that drops it."""
    deleted: list[str] = []
    monkeypatch.setattr(
        CookieController, "delete_cookie", lambda self: deleted.append(self.cookie_model.cookie_name)
    )
    ana = make_person(app_env, "ana")
    at = as_viewer(app(), ana, app_env).run().run()
    at.sidebar.button(key="log_out_button").click().run()
    assert deleted == ["kindred_session"]
    at.run()
    assert deleted == ["kindred_session"] * 2
    at.session_state[gate.COOKIE_DELETED] = True  # what the component reports once it has run
    at.run().run()
    assert deleted == ["kindred_session"] * 3
    # Logged out again, and back in before the browser reported the delete: the run that logs in draws no
    # delete beside the login's new cookie, nor does any run after it.
    at = as_viewer(app(), ana, app_env).run().run()
    at.sidebar.button(key="log_out_button").click().run()
    count = len(deleted)
    at = log_in(at, "ana", PASSWORD).run()
    assert at.session_state["authentication_status"] is True
    at.run()
    assert len(deleted) == count


def test_a_disabled_account_is_logged_out_on_its_next_run(app_env: Engine) -> None:
    """Disabling an account ends its live sessions at their next rerun."""
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app(), ana, app_env).run()
    assert at.subheader[0].value == "Hello, Ana"
    with write_session(app_env) as session:
        person = session.exec(select(Person).where(Person.username == "ana")).one()
        person.disabled_at = person.created_at
    at.run()
    assert at.title[0].value == "Kindred"
    assert at.session_state["authentication_status"] is None


def test_an_unexpected_error_shows_a_calm_message_not_a_traceback(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If something breaks while drawing a page, the person sees a plain message and no traceback."""
    ana = make_person(app_env, "ana")

    def broken(**_: object) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr("program.course.journey.load_journey", broken)
    at = as_viewer(app("pages/home.py"), ana, app_env).run()
    assert not at.exception
    assert "Something went wrong on our side" in at.error[0].value
    assert "exploded" not in texts(at)


class _Client:
    """What a browser's connection tells Streamlit: its cookies, headers and address."""

    def __init__(self, cookies: dict[str, str]) -> None:
        self.cookies = cookies
        self.headers: list[tuple[str, str]] = []
        self.remote_ip = "198.51.100.9"


def _with_cookie(monkeypatch: pytest.MonkeyPatch, value: str) -> list[str]:
    """Send this login cookie with every run; returns the list of cookie deletions the page asked for."""
    client = _Client({"kindred_session": value})
    monkeypatch.setattr("streamlit.runtime.context._get_client_context", lambda: client)
    deleted: list[str] = []
    monkeypatch.setattr(
        CookieController, "delete_cookie", lambda self: deleted.append(self.cookie_model.cookie_name)
    )
    return deleted


def _token(payload: dict[str, object], *, key: str = TEST_COOKIE_KEY, algorithm: str = "HS256") -> str:
    # The forged HS512 token uses the test key, shorter than PyJWT recommends for SHA-512; the warning
    # says nothing about Kindred, which signs and accepts only HS256.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(payload, key, algorithm=algorithm)


def _unsigned(payload: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


FUTURE = 4.1e9
BAD_COOKIES = {
    "alg none": _unsigned({"username": "ana", "exp_date": FUTURE}),
    "other algorithm": _token({"username": "ana", "exp_date": FUTURE}, algorithm="HS512"),
    "bad signature": _token({"username": "ana", "exp_date": FUTURE}, key="another key " * 4),
    "no expiry": _token({"username": "ana"}),
    "text expiry": _token({"username": "ana", "exp_date": "tomorrow"}),
    "huge expiry": _token({"username": "ana", "exp_date": 10**400}),
    "list username": _token({"username": ["ana"], "exp_date": FUTURE}),
    "no username": _token({"exp_date": FUTURE}),
    "expired": _token({"username": "ana", "exp_date": 1.0}),
    "garbage": "not-a-token\x7f%%%",
}


@pytest.mark.parametrize("name", BAD_COOKIES)
def test_a_bad_cookie_is_deleted_and_the_login_form_shown(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A malformed, forged or expired login cookie never locks the browser out: it goes, the form stays.
    The delete is drawn again on the next run (the first may be cut short before the browser runs it),
    and no more once the browser reports it done."""
    make_person(app_env, "ana", name="Ana")
    deleted = _with_cookie(monkeypatch, BAD_COOKIES[name])
    at = app().run()
    assert not at.exception
    assert "Something went wrong" not in texts(at)
    assert at.title[0].value == "Kindred"
    assert LOGIN_BUTTON in button_keys(at)
    assert deleted == ["kindred_session"]
    at.run()
    assert deleted == ["kindred_session"] * 2
    at.session_state[gate.COOKIE_DELETED] = True
    at.run().run()
    assert deleted == ["kindred_session"] * 3 and LOGIN_BUTTON in button_keys(at)


def test_an_over_long_password_costs_one_check_for_real_and_unknown_names(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 72 bytes, a real name and an unknown one each cost one full bcrypt check and get one message."""
    make_person(app_env, "ana")
    checks: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        result = real_checkpw(password, hashed)  # a check that raises at once costs no time: not counted
        checks.append(hashed)
        return result

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    at = log_in(app().run(), "ana", "x" * 80)
    real = (len(checks), at.error[0].value)
    checks.clear()
    at = log_in(at, "nobody-here", "x" * 80)
    assert (len(checks), at.error[0].value) == real == (1, real[1])


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_nul_byte_in_the_login_form_gets_a_clear_message(app_env: Engine, field: str) -> None:
    """NUL typed into either field is refused by name, on SQLite and PostgreSQL alike, never generically."""
    make_person(app_env, "ana")
    username, password = ("an\x00a", PASSWORD) if field == "username" else ("ana", PASSWORD + "\x00")
    at = log_in(app().run(), username, password)
    assert not at.exception
    assert "control characters" in at.error[0].value
    assert at.session_state["authentication_status"] is not True


def test_the_sign_up_form_does_not_say_a_name_is_taken(app_env: Engine) -> None:
    """Registering an existing name, in full-width letters too, gets the same answer as a reserved name."""
    make_person(app_env, "sam")
    answers = set()
    for username in ("sam", "ＳＡＭ", "admin"):
        at = app().run()
        at.text_input[2].input("Robin")
        at.text_input[3].input(username)
        at.text_input[4].input(PASSWORD)
        at.text_input[5].input(PASSWORD)
        at.button(key=REGISTER_BUTTON).click().run()
        answers.add(at.error[0].value)
    assert answers == {"That username isn't available. Please choose another."}


def test_invite_only_sign_up_asks_for_a_code_and_links_the_couple(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With KINDRED_REGISTRATION=invite the form asks for a code; a partner's invite makes them a couple."""
    monkeypatch.setenv("KINDRED_REGISTRATION", "invite")
    get_settings.cache_clear()
    ana = make_person(app_env, "ana", name="Ana")
    with write_session(app_env) as session:
        invite = couples.create_couple(
            session=session, viewer=ana, key=get_settings().code_key(), now=utcnow()
        ).code
    at = app().run()
    at.text_input[2].input("Ben")
    at.text_input[3].input("ben")
    at.text_input[4].input(PASSWORD)
    at.text_input[5].input(PASSWORD)
    at.button(key=REGISTER_BUTTON).click().run()
    assert "by invitation" in at.error[0].value
    fill(at, "Invite code", invite)
    at.button(key=REGISTER_BUTTON).click().run()
    assert "Your account is ready, Ben" in at.success[0].value
    at = log_in(at, "ben", PASSWORD).run()
    assert "You are doing Kindred with" in texts(at.switch_page("pages/account.py").run())
