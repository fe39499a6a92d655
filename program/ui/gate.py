"""The login gate: every page passes through it before it reads or shows anything.

streamlit-authenticator draws the login form, checks the password and sets the cookie. Around it we add
what it lacks (see login_sessions.py and throttle.py): a server-side record of each login that its cookie must
match, throttling, equal treatment of unknown usernames, and an audit record of every attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from functools import partial
from typing import Literal

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit.delta_generator import DeltaGenerator

from program.auth import accounts, login_sessions, throttle
from program.infra import audit
from program.infra.db import Engine, IntegrityError, read_session, shared_reads, write_session
from program.infra.models import Role, utcnow
from program.infra.settings import Settings
from program.privacy.viewer import Viewer
from program.ui import quick_exit, runtime
from program.ui.errors import friendly_errors
from program.ui.navigation import routed_viewer
from program.ui.text import md
from program.ui.widgets import retry_pending_saves

ROLE_LABELS = {Role.PARTNER: "a partner in a couple", Role.THERAPIST: "a therapist"}
WRONG_LOGIN = accounts.WRONG_LOGIN
SESSION_ID = "kindred_session_id"
FLASH = "kindred_flash"
DELETE_COOKIE = "kindred_delete_cookie"
COOKIE_DELETED = "delete"  # the key extra_streamlit_components gives its delete component
LOGIN_PAGE = "login"
LOGGED_OUT = "You are logged out."
SIGNED_OUT_HERE = (
    "You were signed out on this device: from another device (sign out everywhere, or a password "
    "change), after a long time without use, or because the account was closed. Please log in again."
)
FlashKind = Literal["info", "success"]

# The page this run is drawing (its confirmations belong to it), and where its kept message is drawn.
_page: ContextVar[str] = ContextVar("kindred_page", default=LOGIN_PAGE)
_flash_slot: ContextVar[DeltaGenerator | None] = ContextVar("kindred_flash_slot", default=None)


# One mechanism for every message set before st.rerun(): kept in session state with the page it belongs
# to, drawn by show_flash() on that page on every run until the person acts again (clear_flash, or a new
# message) or opens another page (_enter_page drops it). A message that vanished with the next run was
# gone before anyone could read it.
def flash(message: str, *, kind: FlashKind = "info") -> None:
    """A message for the login page: why the person was signed out, or what they did that signed them
    out. It stays there, through reruns, until they log in or use one of the page's forms."""
    st.session_state[FLASH] = {"page": LOGIN_PAGE, "kind": kind, "message": message}


def confirm(message: str) -> None:
    """A confirmation for the page being drawn, set just before st.rerun(): it stays on this page through
    later runs until the person acts again or opens another page."""
    st.session_state[FLASH] = {"page": _page.get(), "kind": "success", "message": message}


def clear_flash() -> None:
    """The person acted again: the kept message has served, both kept and as drawn in this run."""
    st.session_state.pop(FLASH, None)
    slot = _flash_slot.get()
    if slot is not None:
        slot.empty()


def show_flash() -> None:
    """Draw here the message kept for the page being drawn, if any."""
    slot = st.empty()
    _flash_slot.set(slot)
    kept = st.session_state.get(FLASH)
    if not isinstance(kept, dict) or kept.get("page") != _page.get():
        return
    message = str(kept.get("message", ""))
    if kept.get("kind") == "success":
        slot.success(message)
    else:
        slot.info(message)


# Which section of a page set the kept confirmation, where a page has several (the therapist's couple view,
# the home page's cards): each draws only its own.
FLASH_OWNER = "kindred_flash_owner"


def confirm_for(owner: str, message: str) -> None:
    """A confirmation kept for one section of the page (see confirm), drawn by show_own_flash(owner)."""
    confirm(message)
    st.session_state[FLASH_OWNER] = owner


def show_own_flash(owner: str) -> None:
    """Draw the kept confirmation here if this section set it (show_flash draws a page's message)."""
    kept = st.session_state.get(FLASH)
    if isinstance(kept, dict) and st.session_state.get(FLASH_OWNER) == owner:
        show_flash()


def _enter_page(page: str) -> None:
    """Start drawing a page: a message kept for another page is dropped (the person moved on)."""
    _page.set(page)
    _flash_slot.set(None)
    kept = st.session_state.get(FLASH)
    if isinstance(kept, dict) and kept.get("page") != page:
        st.session_state.pop(FLASH, None)


def _signed_out_here() -> None:
    """Tell the login page this device's login ended elsewhere, unless it already says why (a password
    changed or an account deleted on this very device)."""
    kept = st.session_state.get(FLASH)
    if not isinstance(kept, dict) or kept.get("page") != LOGIN_PAGE:
        flash(SIGNED_OUT_HERE)


def _page_key(render: Callable[..., object]) -> str:
    """A name for the page a render function draws (stage pages share one function with a stage key)."""
    if isinstance(render, partial):
        return f"{_page_key(render.func)}{sorted(render.keywords.items())!r}"
    return f"{render.__module__}.{getattr(render, '__qualname__', type(render).__qualname__)}"


def _authenticator(settings: Settings) -> stauth.Authenticate:
    """One Authenticate per run (it mounts the cookie component); we use it for the cookie only.

    Our own login form checks passwords (accounts.attempt_login): the library's form checks the
    password before anything we could count, and cannot be told to spend equal time on every refusal.
    """
    return stauth.Authenticate(
        {"usernames": {}},
        cookie_name=settings.cookie_name,
        cookie_key=settings.secret_cookie_key(),
        cookie_expiry_days=settings.cookie_lifetime_days(),
        auto_hash=False,
        login_sleep_time=0,
    )


def _read_cookie(authenticator: stauth.Authenticate) -> tuple[str, float] | None:
    """The username and expiry in a valid login cookie; a cookie of any other kind is marked for deletion
    (drawn after the login page, see _delete_cookie_until_done).

    The library catches only a bad signature or unreadable token: `alg: none`, another algorithm, a
    missing or non-numeric expiry would raise on every page load and lock the browser out.
    """
    try:
        token = authenticator.cookie_controller.get_cookie()
        if not token:
            if authenticator.cookie_controller.cookie_model.token is not None:  # unreadable, bad or expired
                st.session_state[DELETE_COOKIE] = True
            return None
        username, exp_date = token["username"], float(token["exp_date"])
        if not isinstance(username, str) or exp_date != exp_date:  # NaN
            raise ValueError("malformed login cookie")
        return username, exp_date
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError, OverflowError, AttributeError):
        st.session_state[DELETE_COOKIE] = True
        return None


def _resume(
    engine: Engine, settings: Settings, authenticator: stauth.Authenticate, now: datetime
) -> Viewer | None:
    """The viewer of this browser session, from its live server-side session or a still-valid cookie."""
    state = st.session_state
    resumed: login_sessions.Resumed | None = None
    if state.get("authentication_status") and state.get(SESSION_ID):
        with read_session(engine) as session:
            resumed = login_sessions.resume(
                session=session,
                session_id=state[SESSION_ID],
                now=now,
                policies=login_sessions.Policies.from_settings(settings),
            )
        if resumed is None:
            _signed_out_here()
            authenticator.logout(location="unrendered")
            return None
    elif not state.get("logout"):
        token = _read_cookie(authenticator)
        if token is not None:
            with read_session(engine) as session:
                resumed = login_sessions.resume_from_cookie(
                    session=session,
                    username=token[0],
                    exp_date=token[1],
                    now=now,
                    policies=login_sessions.Policies.from_settings(settings),
                )
            if resumed is None:  # logged out, signed out everywhere, expired, idle or disabled
                # Only a cookie we signed gets here, and the notice is the same whatever its username:
                # it says nothing about which accounts exist.
                st.session_state[DELETE_COOKIE] = True
                _signed_out_here()
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
            login_sessions.touch(session=session, session_id=resumed.session_id, now=now)
    return resumed.viewer


def _end_session(engine: Engine, viewer: Viewer, session_id: int | None) -> None:
    with write_session(engine) as session:
        if session_id is not None:
            login_sessions.end(session=session, session_id=session_id, now=utcnow())
        audit.record(session, action="logout", actor_id=viewer.person_id)


def _log_out(engine: Engine, viewer: Viewer, session_id: int | None) -> None:
    """The "Log out" button's callback: it runs before the script, so the run it starts is logged out
    from its first line and draws nothing of the account (no name, no button, no menu in the sidebar)."""
    _end_session(engine, viewer, session_id)
    state = st.session_state
    state.pop(SESSION_ID, None)
    # What streamlit-authenticator's logout leaves: logged out, and no re-login from a cookie in this session.
    state.update(authentication_status=None, username=None, name=None, roles=None, email=None, logout=True)
    state[DELETE_COOKIE] = True  # the cookie component is drawn by the script, not in a callback
    flash(LOGGED_OUT)


def authenticate() -> Viewer:
    """Return the logged-in viewer; for anyone else show the login page and stop the run."""
    engine = runtime.engine()
    settings = runtime.settings()
    # First, before anything can stop the run: on every page, logged in or not, via app.py or a deep link.
    quick_exit.render(engine=engine, settings=settings, session_key=SESSION_ID)
    now = utcnow()
    authenticator = _authenticator(settings)
    viewer = _resume(engine, settings, authenticator, now)
    if viewer is not None:
        st.sidebar.caption(f"Signed in as **{md(viewer.display_name)}**")
        session_id = st.session_state.get(SESSION_ID)
        st.sidebar.button(
            "Log out", key="log_out_button", on_click=_log_out, args=(engine, viewer, session_id)
        )
        if st.session_state.get("authentication_status"):
            return viewer
        st.session_state.pop(SESSION_ID, None)
    # Cookies were checked above against the server's record; stop the library from logging in with one
    # on its own (its login form would otherwise accept a cookie from an ended session).
    st.session_state["logout"] = True
    _login_page(engine, settings, authenticator, now)
    # After the form, so that a login in this run (which drops the flag) never draws it beside its cookie.
    if st.session_state.get(DELETE_COOKIE):
        _delete_cookie_until_done(authenticator)
    st.stop()


def _delete_cookie_until_done(authenticator: stauth.Authenticate) -> None:
    """After a logout, or a cookie refused, draw the cookie component's delete on every run until the
    browser reports it done.

    Drawn in one run only, the delete was lost when that run was cut short by a rerun before the browser
    loaded the component (seen on a busy machine): the browser kept the ended login's cookie, and the next
    visit said "You were signed out on this device". The component reports under its key, "delete".
    """
    authenticator.cookie_controller.delete_cookie()
    if st.session_state.get(COOKIE_DELETED) is True:
        st.session_state.pop(DELETE_COOKIE, None)


# The roles a page passes to show_page (pages import only program.ui).
PARTNER, THERAPIST = Role.PARTNER, Role.THERAPIST


def show_page(render: Callable[[Viewer], None], *roles: Role) -> None:
    """A page's whole body: check access, then draw it, with no traceback ever shown."""
    with friendly_errors(), shared_reads(runtime.engine()):  # app.py's, or (deep link) the page's own
        viewer = require(*roles)
        _enter_page(_page_key(render))
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
    now: datetime,
) -> None:
    st.title("Kindred")
    st.write(
        "A private, self-guided program for couples: practise talking, handling conflict, rebuilding "
        "trust and feeling close, each at your own pace, with progress you can see together."
    )
    _enter_page(LOGIN_PAGE)
    show_flash()
    login_tab, register_tab, reset_tab = st.tabs(["Log in", "Create an account", "Reset password"])
    with login_tab:
        _login_form(engine, settings, authenticator, now)
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
    now: datetime,
) -> None:
    with st.form("login"):
        st.subheader("Log in")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in")
    if not submitted:
        return
    clear_flash()
    if not username.strip() or not password.strip():
        st.error("Please enter your username and your password.")
        return
    try:
        person = accounts.attempt_login(
            engine=engine,
            username=username,
            password=password,
            key=settings.code_key(),
            rounds=settings.bcrypt_rounds,
            now=now,
        )
    except throttle.LoginThrottled as wait:
        st.error(
            "Too many attempts to log in to this account. For its safety, please wait "
            f"{_when(wait.retry_at, now)} (until {wait.retry_at:%H:%M:%S} UTC) and try again."
        )
        return
    except accounts.AccountError as error:
        st.error(str(error))
        return
    st.session_state.update(
        authentication_status=True,
        username=person.username,
        name=person.display_name,
        roles=[person.role],
        email=None,
    )
    st.session_state.pop(DELETE_COOKIE, None)  # a delete still pending must not follow this login
    authenticator.cookie_controller.set_cookie()
    _start_session(engine, settings, authenticator, person.username, now)
    # The cookie component reruns the app once it has stored the cookie; a rerun now would lose it.
    st.success("Welcome back. Opening Kindred…")


def _start_session(
    engine: Engine, settings: Settings, authenticator: stauth.Authenticate, username: str, now: datetime
) -> None:
    exp_date = authenticator.cookie_controller.cookie_model.exp_date
    with write_session(engine) as session:
        person = accounts.find_person(session=session, username=username)
        assert person is not None and person.id is not None
        login = login_sessions.start(
            session=session,
            person=person,
            token=login_sessions.token_id(username, exp_date),
            now=now,
            policies=login_sessions.Policies.from_settings(settings),
        )
        throttle.reset(session=session, key=throttle.key_for(username, settings.code_key()))
        audit.record(session, action="login.succeeded", actor_id=person.id)
        st.session_state[SESSION_ID] = login.id


def client_address() -> str:
    """Who is registering, for the per-client limit: the peer address, or the proxy's word for it.

    Streamlit reports loopback peers as None; then the request came through our own proxy (nginx on
    this machine), whose X-Real-IP names the client. A client cannot set that for itself: a direct
    connection from elsewhere has a peer address, which wins.
    """
    address = st.context.ip_address
    if isinstance(address, str) and address:
        return address
    headers = st.context.headers
    forwarded = headers.get("X-Real-IP") or headers.get("X-Forwarded-For") or ""
    # Outside a real server (tests, bare runs) these may be stand-ins rather than text.
    return forwarded.split(",")[-1].strip() if isinstance(forwarded, str) and forwarded.strip() else "local"


def _register_form(engine: Engine, settings: Settings) -> None:
    invite_only = settings.registration == "invite"
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
        invite_code = ""
        if invite_only:
            invite_code = st.text_input(
                "Invite code",
                placeholder="7KQ2-M9XD-4RTB",
                help="Kindred is open by invitation here: the code your partner or your therapist gave you. "
                "A partner's invite code links you with them.",
            )
        submitted = st.form_submit_button("Create account")
    if not submitted:
        return
    clear_flash()
    new = accounts.NewAccount(username, display_name, password, repeat, Role(role))
    try:
        person = accounts.register_account(
            engine=engine,
            account=new,
            policy=accounts.RegistrationPolicy(
                invite_only=invite_only,
                per_client_per_hour=settings.registrations_per_client_per_hour,
                per_hour=settings.registrations_per_hour,
            ),
            client=client_address(),
            invite_code=invite_code,
            key=settings.code_key(),
            bcrypt_rounds=settings.bcrypt_rounds,
            now=utcnow(),
        )
    except accounts.AccountError as error:
        st.error(str(error))
    except IntegrityError:  # someone took the name between our check and the insert
        st.error(accounts.UNAVAILABLE)
    else:
        st.success(
            f"Your account is ready, {md(person.display_name)}. "
            f"Log in as **{md(person.username)}** on the Log in tab."
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
    clear_flash()
    try:
        accounts.reset_password(
            engine=engine,
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
