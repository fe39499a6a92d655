"""Quick exit: a button on every page (and Escape twice) that leaves Kindred for a neutral site at once.

Someone may walk in on a person using Kindred. Leaving must not wait for the server, so all of it happens in
the browser, in the page's own document (an st.components.v2 component is not iframed): the script hides the
page, deletes the login cookie, and replaces the location with the neutral site (`location.replace`, so Back
does not come back). It also sends a trigger to the server, best effort; the trigger's callback ends this
login there (the LoginSession is revoked). Callbacks run before the script body, so the tab closing a moment
later rarely stops it; and with the cookie gone the browser cannot log in again anyway.

The button lives in `document.body`, outside Streamlit's page tree: it stays put, clickable and un-faded
through reruns and page switches. Kindred's own page switches replace the history entry instead of adding
one (see _JS), so after a quick exit Back does not land on an earlier Kindred page either.
"""

from __future__ import annotations

from functools import cache, partial

import streamlit as st
from streamlit.components.v2.types import ComponentRenderer

from program.auth import login_sessions
from program.infra.db import Engine, write_session
from program.infra.models import utcnow
from program.infra.settings import Settings

COMPONENT = "kindred_quick_exit"
KEY = "kindred_quick_exit"
LABEL = "Quick exit"
# Escape pressed twice within this long leaves too.
DOUBLE_ESCAPE_MS = 1000
BUTTON_ID = "kindred-quick-exit"

# Trusted code of our own; the data it receives (URL, cookie name) comes from the operator's settings.
_JS = """
const STATE = (window.__kindredQuickExit = window.__kindredQuickExit || { lastEscape: 0 });

function go(url) {
  try { window.top.location.replace(url); } catch (error) { window.location.replace(url); }
}

function leave(fromOtherTab) {
  if (STATE.leaving) return;
  STATE.leaving = true;
  const { data, trigger } = STATE;
  // Hide the page first: nothing of Kindred stays on screen while the neutral site loads.
  document.documentElement.style.visibility = "hidden";
  document.cookie = `${data.cookie}=; Max-Age=0; Path=/; SameSite=Strict`;
  // Other Kindred tabs of this browser leave too: one left open behind would still show its page.
  if (!fromOtherTab) { try { STATE.channel.postMessage("leave"); } catch (error) { /* none open */ } }
  try { trigger("exit", true); } catch (error) { /* the server is best effort; leaving is not */ }
  // Streamlit sends the trigger from a zero-delay timer; this one runs right after it, so the message
  // is on the wire before the page unloads (the page is already hidden: nothing waits on the server).
  setTimeout(() => go(data.url), 0);
}

function onKey(event) {
  if (event.key !== "Escape") return;
  const now = Date.now();
  if (now - STATE.lastEscape <= STATE.data.doubleEscapeMs) { leave(false); }
  STATE.lastEscape = now;
}

function install(data) {
  const button = document.createElement("button");
  button.id = data.buttonId;
  button.type = "button";
  button.textContent = data.label;
  button.title = "Leave Kindred now (or press Escape twice)";
  Object.assign(button.style, {
    position: "fixed", top: "0.5rem", right: "3.5rem", zIndex: "1000010",
    minHeight: "2.75rem", padding: "0.5rem 1rem", borderRadius: "0.5rem",
    background: "#111418", color: "#FFFFFF", border: "2px solid #FFFFFF",
    font: "600 1rem sans-serif", cursor: "pointer", boxShadow: "0 1px 4px rgba(0,0,0,0.4)",
  });
  button.addEventListener("focus", () => { button.style.outline = "3px solid #FFBF47"; });
  button.addEventListener("blur", () => { button.style.outline = "none"; });
  button.addEventListener("click", () => leave(false));
  // First in the document, so it is the first thing the Tab key reaches.
  document.body.prepend(button);
  document.addEventListener("keydown", onKey, true);
  STATE.channel = new BroadcastChannel(data.buttonId);
  STATE.channel.onmessage = () => leave(true);
  // Page switches in Kindred replace the history entry rather than add one: after a quick exit, Back
  // must not reach an earlier Kindred page.
  const replace = window.history.replaceState.bind(window.history);
  window.history.pushState = (state, unused, url) => replace(state, unused, url);
}

export default function (component) {
  STATE.data = component.data;
  STATE.trigger = component.setTriggerValue;
  if (!document.getElementById(component.data.buttonId)) install(component.data);
}
"""


@cache
def _component() -> ComponentRenderer:
    """Registered once per process (registering again under the same name logs a warning)."""
    return st.components.v2.component(COMPONENT, js=_JS)


def render(*, engine: Engine, settings: Settings, session_key: str) -> None:
    """Draw the quick exit; its server half ends the login whose id is in session state under session_key."""
    _component()(
        key=KEY,
        data={
            "url": settings.quick_exit_url,
            "cookie": settings.cookie_name,
            "label": LABEL,
            "buttonId": BUTTON_ID,
            "doubleEscapeMs": DOUBLE_ESCAPE_MS,
        },
        on_exit_change=partial(_end_this_login, engine, session_key),
    )


def _end_this_login(engine: Engine, session_key: str) -> None:
    """Revoke this browser's login on the server and forget it in this session (a widget callback).

    The audit row is an ordinary logout: a quick exit leaves no trace that says someone fled.
    """
    state = st.session_state
    login_id = state.get(session_key)
    if isinstance(login_id, int):
        with write_session(engine) as session:
            login_sessions.log_out(session=session, session_id=login_id, now=utcnow())
    state.pop(session_key, None)
    # What streamlit-authenticator's logout leaves: logged out, and no re-login from a cookie in this session.
    state.update(authentication_status=None, username=None, name=None, roles=None, logout=True)
