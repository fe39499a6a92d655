"""The login gate: every page passes through it before it reads or shows anything.

streamlit-authenticator draws the login form, checks the password and sets the cookie. Around it we add
what it lacks (see sessions.py and throttle.py): a server-side record of each login that its cookie must
match, throttling, equal treatment of unknown usernames, and an audit record of every attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from streamlit_authenticator.utilities.exceptions import LoginError

from program import accounts, audit, sessions, throttle
from program.access import Viewer
from program.db import read_session, write_session
from program.models import Role, utcnow
from program.settings import Settings
from program.ui import runtime
from program.ui.errors import friendly_errors
from program.ui.navigation import routed_viewer
from program.ui.widgets import retry_pending_saves

ROLE_LABELS = {Role.PARTNER: "a partner in a couple", Role.THERAPIST: "a therapist"}
WRONG_LOGIN = "That username and password don't match an account. Please check them and try again."
SESSION_ID = "kindred_session_id"
FLASH = "kindred_flash"


def flash(message: str) -> None:
    """A message for the login page, shown once (e.g. why the person was signed out)."""
    st.session_state[FLASH] = message


def _authenticator(
    engine: Engine, settings: Settings, now: datetime
) -> tuple[stauth.Authenticate, accounts.CredentialStore]:
    """One Authenticate per run (it mounts the cookie component), reading credentials from the database."""
    credentials: dict[str, Any] = {"usernames": {}}
    authenticator = stauth.Authenticate(
        credentials,
        cookie_name=settings.cookie_name,
        cookie_key=settings.secret_cookie_key(),
        cookie_expiry_days=settings.cookie_lifetime_days(),
        auto_hash=False,
        login_sleep_time=0,
    )

    def refuse_if_throttled(username: str) -> None:
        with read_session(engine) as session:
            wait_until = throttle.retry_at(
                session=session, key=throttle.key_for(username, settings.code_key()), now=now
            )
        if wait_until is not None:
            raise throttle.LoginThrottled(wait_until)

    # The library keeps a reference to our dict; swap in the store that reads the database on demand.
    store = accounts.CredentialStore(engine, guard=refuse_if_throttled)
    credentials["usernames"] = store
    return authenticator, store


def _resume(
    engine: Engine, settings: Settings, authenticator: stauth.Authenticate, now: datetime
) -> Viewer | None:
    """The viewer of this browser session, from its live server-side session or a still-valid cookie."""
    state = st.session_state
    resumed: sessions.Resumed | None = None
    if state.get("authentication_status") and state.get(SESSION_ID):
        with read_session(engine) as session:
            resumed = sessions.resume(
                session=session,
                session_id=state[SESSION_ID],
                now=now,
                policies=sessions.Policies.from_settings(settings),
            )
        if resumed is None:
            st.session_state.setdefault(FLASH, "You have been signed out. Please log in again.")
            authenticator.logout(location="unrendered")
            return None
    elif not state.get("logout"):
        token = authenticator.cookie_controller.get_cookie()
        if token:
            with read_session(engine) as session:
                resumed = sessions.resume_from_cookie(
                    session=session,
                    username=str(token["username"]),
                    exp_date=float(token["exp_date"]),
                    now=now,
                    policies=sessions.Policies.from_settings(settings),
                )
            if resumed is None:  # logged out, signed out everywhere, expired, idle or disabled
                authenticator.cookie_controller.delete_cookie()
                return None
            state.update(
                authentication_status=True,
                username=resumed.viewer.username,
                name=resumed.viewer.display_name,
                roles=[resumed.viewer.role],
            )
            state[SESSION_ID] = resumed.session_id
    if resumed is None:
        return None
    if resumed.needs_touch:
        with write_session(engine) as session:
            sessions.touch(session=session, session_id=resumed.session_id, now=now)
    return resumed.viewer


def _end_session(engine: Engine, viewer: Viewer, session_id: int | None) -> None:
    with write_session(engine) as session:
        if session_id is not None:
            sessions.end(session=session, session_id=session_id, now=utcnow())
        audit.record(session, action="logout", actor_id=viewer.person_id)


def authenticate() -> Viewer:
    """Return the logged-in viewer; for anyone else show the login page and stop the run."""
    engine = runtime.engine()
    settings = runtime.settings()
    now = utcnow()
    authenticator, store = _authenticator(engine, settings, now)
    viewer = _resume(engine, settings, authenticator, now)
    if viewer is not None:
        st.sidebar.caption(f"Signed in as **{viewer.display_name}**")
        session_id = st.session_state.get(SESSION_ID)
        authenticator.logout(
            "Log out",
            location="sidebar",
            key="log_out_button",
            callback=lambda _event: _end_session(engine, viewer, session_id),
        )
        if st.session_state.get("authentication_status"):
            return viewer
        st.session_state.pop(SESSION_ID, None)
    # Cookies were checked above against the server's record; stop the library from logging in with one
    # on its own (its login form would otherwise accept a cookie from an ended session).
    st.session_state["logout"] = True
    _login_page(engine, settings, authenticator, store, now)
    st.stop()


def show_page(render: Callable[[Viewer], None], *roles: Role) -> None:
    """A page's whole body: check access, then draw it, with no traceback ever shown."""
    with friendly_errors():
        viewer = require(*roles)
        retry_pending_saves(viewer)  # autosaves an earlier run could not write (disk full) go first
        render(viewer)


def require(*roles: Role) -> Viewer:
    """The access check every page makes first: logged in, and in one of these roles."""
    viewer = routed_viewer() or authenticate()
    if viewer.role not in roles:
        st.error("This page isn't part of your account. Please use the menu to find your pages.")
        st.stop()
    return viewer


def _login_page(
    engine: Engine,
    settings: Settings,
    authenticator: stauth.Authenticate,
    store: accounts.CredentialStore,
    now: datetime,
) -> None:
    st.title("Kindred")
    st.write(
        "A private, self-guided program for couples: practise talking, handling conflict, rebuilding "
        "trust and feeling close, each at your own pace, with progress you can see together."
    )
    if message := st.session_state.pop(FLASH, None):
        st.info(message)
    login_tab, register_tab, reset_tab = st.tabs(["Log in", "Create an account", "Reset password"])
    with login_tab:
        _login_form(engine, settings, authenticator, store, now)
    with register_tab:
        _register_form(engine, settings)
    with reset_tab:
        _reset_form(engine, settings)


def _when(moment: datetime, now: datetime) -> str:
    seconds = max(1, round((moment - now).total_seconds()))
    return f"{seconds} seconds" if seconds < 90 else f"{round(seconds / 60)} minutes"


def _login_form(
    engine: Engine,
    settings: Settings,
    authenticator: stauth.Authenticate,
    store: accounts.CredentialStore,
    now: datetime,
) -> None:
    # A failed attempt leaves False behind; clear it so that False below means "failed in this run".
    if st.session_state.get("authentication_status") is False:
        st.session_state["authentication_status"] = None
    try:
        authenticator.login(
            location="main",
            key="login",
            fields={"Form name": "Log in", "Username": "Username", "Password": "Password", "Login": "Log in"},
            max_login_attempts=throttle.FREE_ATTEMPTS,  # makes the library consult our throttle first
        )
    except throttle.LoginThrottled as wait:
        _record_attempt(engine, store.last_username or "", "login.throttled")
        st.error(
            "Too many attempts to log in to this account. For its safety, please wait "
            f"{_when(wait.retry_at, now)} (until {wait.retry_at:%H:%M:%S} UTC) and try again."
        )
        return
    except LoginError:
        st.error(WRONG_LOGIN)
        return
    status = st.session_state.get("authentication_status")
    username = st.session_state.get("username") or store.last_username or ""
    if status is False:
        if not store.last_found:
            accounts.spend_like_a_password_check(rounds=settings.bcrypt_rounds)
        with write_session(engine) as session:
            throttle.record_failure(
                session=session, key=throttle.key_for(username, settings.code_key()), now=now
            )
        _record_attempt(engine, username, "login.failed")
        st.error(WRONG_LOGIN)
    elif status:
        _start_session(engine, settings, authenticator, username, now)
        # The cookie component reruns the app once it has stored the cookie; a rerun now would lose it.
        st.success("Welcome back. Opening Kindred…")


def _record_attempt(engine: Engine, username: str, action: str) -> None:
    accounts.record_login(engine=engine, username=username, outcome=action)


def _start_session(
    engine: Engine, settings: Settings, authenticator: stauth.Authenticate, username: str, now: datetime
) -> None:
    exp_date = authenticator.cookie_controller.cookie_model.exp_date
    with write_session(engine) as session:
        person = accounts.find_person(session=session, username=username)
        assert person is not None and person.id is not None
        login = sessions.start(
            session=session,
            person=person,
            token=sessions.token_id(username, exp_date),
            now=now,
            policies=sessions.Policies.from_settings(settings),
        )
        throttle.reset(session=session, key=throttle.key_for(username, settings.code_key()))
        audit.record(session, action="login.succeeded", actor_id=person.id)
        st.session_state[SESSION_ID] = login.id


def _register_form(engine: Engine, settings: Settings) -> None:
    with st.form("register"):
        role = st.radio(
            "I am joining as", list(ROLE_LABELS), format_func=ROLE_LABELS.__getitem__, horizontal=True
        )
        display_name = st.text_input("What should we call you?", max_chars=accounts.MAX_NAME_CHARS)
        username = st.text_input("Username", help="3 to 32 letters, digits, dots, dashes or underscores.")
        password = st.text_input(
            "Password",
            type="password",
            help=f"At least {accounts.MIN_PASSWORD_CHARS} characters. A few unrelated words work well.",
        )
        repeat = st.text_input("Type the password again", type="password")
        submitted = st.form_submit_button("Create account")
    if not submitted:
        return
    new = accounts.NewAccount(username, display_name, password, repeat, Role(role))
    try:
        with write_session(engine) as session:
            person = accounts.register(session=session, account=new, bcrypt_rounds=settings.bcrypt_rounds)
            username = person.username
    except accounts.AccountError as error:
        st.error(str(error))
    except IntegrityError:  # someone took the name between our check and the insert
        st.error("That username is taken. Please choose another.")
    else:
        st.success(
            f"Your account is ready, {new.display_name.strip()}. Log in as **{username}** on the Log in tab."
        )


def _reset_form(engine: Engine, settings: Settings) -> None:
    st.caption(
        "Forgot your password? Ask whoever runs this Kindred server for a reset code, then choose a new "
        "password here. Codes work once, for 30 minutes."
    )
    with st.form("reset"):
        username = st.text_input("Username")
        code = st.text_input("Reset code", placeholder="7KQ2-M9XD-4RTB")
        password = st.text_input("New password", type="password")
        repeat = st.text_input("Type the new password again", type="password")
        submitted = st.form_submit_button("Set new password")
    if not submitted:
        return
    try:
        with write_session(engine, commit_on=(accounts.WrongResetCode,)) as session:
            accounts.reset_password(
                session=session,
                username=username,
                code=code,
                new=password,
                repeat=repeat,
                key=settings.code_key(),
                rounds=settings.bcrypt_rounds,
                now=utcnow(),
            )
    except accounts.AccountError as error:
        st.error(str(error))
    else:
        st.success("Your new password is set. Log in with it on the Log in tab.")
