"""The login gate: every page passes through it before it reads or shows anything."""

from __future__ import annotations

from typing import Any

import streamlit as st
import streamlit_authenticator as stauth
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from streamlit_authenticator.utilities.exceptions import LoginError

from program import accounts
from program.access import Viewer
from program.db import read_session, write_session
from program.models import Role
from program.ui import runtime
from program.ui.navigation import routed_viewer

ROLE_LABELS = {Role.PARTNER: "a partner in a couple", Role.THERAPIST: "a therapist"}
WRONG_LOGIN = "That username and password don't match an account. Please check them and try again."


def _authenticator(engine: Engine) -> tuple[stauth.Authenticate, accounts.CredentialStore]:
    """One Authenticate per run (it mounts the cookie component), reading credentials from the database."""
    settings = runtime.settings()
    credentials: dict[str, Any] = {"usernames": {}}
    authenticator = stauth.Authenticate(
        credentials,
        cookie_name=settings.cookie_name,
        cookie_key=settings.secret_cookie_key(),
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=0,
    )
    # The library keeps a reference to our dict; swap in the store that reads the database on demand.
    store = accounts.CredentialStore(engine)
    credentials["usernames"] = store
    return authenticator, store


def _viewer(engine: Engine, username: str | None) -> Viewer | None:
    if not username:
        return None
    with read_session(engine) as session:
        person = accounts.find_person(session=session, username=username)
        return Viewer.of(person) if person else None


def authenticate() -> Viewer:
    """Return the logged-in viewer; for anyone else show the login page and stop the run."""
    engine = runtime.engine()
    authenticator, store = _authenticator(engine)
    if not st.session_state.get("authentication_status"):
        try:
            authenticator.login(location="unrendered")  # a valid cookie logs in again, silently
        except LoginError:
            pass  # the cookie names an account that no longer exists: show the login form
    if st.session_state.get("authentication_status"):
        viewer = _viewer(engine, st.session_state.get("username"))
        if viewer is None:  # deleted or disabled since this session logged in
            authenticator.logout(location="unrendered")
        else:
            st.sidebar.caption(f"Signed in as **{viewer.display_name}**")
            authenticator.logout(
                "Log out",
                location="sidebar",
                key="log_out_button",
                callback=lambda _event: _record(engine, viewer.username, "logout"),
            )
            if st.session_state.get("authentication_status"):
                return viewer
    _login_page(engine, authenticator, store)
    st.stop()


def require(*roles: Role) -> Viewer:
    """The access check every page makes first: logged in, and in one of these roles."""
    viewer = routed_viewer() or authenticate()
    if viewer.role not in roles:
        st.error("This page isn't part of your account. Please use the menu to find your pages.")
        st.stop()
    return viewer


def _record(engine: Engine, username: str | None, outcome: str) -> None:
    if username:
        accounts.record_login(engine=engine, username=username, outcome=outcome)


def _login_page(engine: Engine, authenticator: stauth.Authenticate, store: accounts.CredentialStore) -> None:
    st.title("Kindred")
    st.write(
        "A private, self-guided program for couples: practise talking, handling conflict, rebuilding "
        "trust and feeling close, each at your own pace, with progress you can see together."
    )
    login_tab, register_tab = st.tabs(["Log in", "Create an account"])
    with login_tab:
        _login_form(engine, authenticator, store)
    with register_tab:
        _register_form(engine)


def _login_form(engine: Engine, authenticator: stauth.Authenticate, store: accounts.CredentialStore) -> None:
    # A failed attempt leaves False behind; clear it so that False below means "failed in this run".
    if st.session_state.get("authentication_status") is False:
        st.session_state["authentication_status"] = None
    try:
        authenticator.login(
            location="main",
            key="login",
            fields={"Form name": "Log in", "Username": "Username", "Password": "Password", "Login": "Log in"},
            callback=lambda event: _record(engine, event.get("username"), "login.succeeded"),
        )
    except LoginError:
        st.error(WRONG_LOGIN)
        return
    status = st.session_state.get("authentication_status")
    if status is False:
        _record(engine, store.last_username, "login.failed")
        st.error(WRONG_LOGIN)
    elif status:
        # The cookie component reruns the app once it has stored the cookie; a rerun now would lose it.
        st.success("Welcome back. Opening Kindred…")


def _register_form(engine: Engine) -> None:
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
            person = accounts.register(
                session=session, account=new, bcrypt_rounds=runtime.settings().bcrypt_rounds
            )
            username = person.username
    except accounts.AccountError as error:
        st.error(str(error))
    except IntegrityError:  # someone took the name between our check and the insert
        st.error("That username is taken. Please choose another.")
    else:
        st.success(
            f"Your account is ready, {new.display_name.strip()}. Log in as **{username}** on the Log in tab."
        )
