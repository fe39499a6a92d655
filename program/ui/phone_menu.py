"""On a phone, choosing a page in the sidebar menu closes the menu, so the chosen page is what one sees.

On a narrow screen Streamlit draws the sidebar over the page. Its own page list (st.navigation's) closes
itself when a link is chosen, but only for a browser that says it is a phone; Kindred's menu is made of
st.sidebar.page_link entries (Streamlit's list is hidden, see .streamlit/config.toml), and a page link never
closes the sidebar, nor does st.set_page_config(initial_sidebar_state=...) once the person has opened it (the
open/closed choice is kept in the browser's localStorage and wins over the page's setting). So a few lines of
our own, in the page's document (an st.components.v2 component is not iframed, and its code is served by the
app itself, as the CSP's script-src 'self' asks): after a tap on a menu link, when the screen is as narrow
as the one where Streamlit overlays the sidebar, press the sidebar's own "Collapse sidebar" button. That is
the button a person would press, so Streamlit remembers the menu as closed, as it does after a tap outside it.
"""

from __future__ import annotations

from functools import cache

import streamlit as st
from streamlit.components.v2.types import ComponentRenderer

COMPONENT = "kindred_phone_menu"
KEY = "kindred_phone_menu"
# Streamlit's "md" breakpoint: at or below this width the sidebar is drawn over the page.
OVERLAY_MAX_WIDTH_PX = 768

# Trusted code of our own; the only data it receives is the breakpoint above.
_JS = """
const STATE = (window.__kindredPhoneMenu = window.__kindredPhoneMenu || {});

function onClick(event) {
  const target = event.target instanceof Element ? event.target : null;
  const link = target && target.closest('[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]');
  if (!link || !window.matchMedia(STATE.query).matches) return;
  const collapse = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (collapse) collapse.click();
}

export default function (component) {
  STATE.query = `(max-width: ${component.data.overlayMaxWidthPx - 0.02}px)`;
  if (STATE.installed) return;
  STATE.installed = true;
  // On the document, so it runs after Streamlit's own handler (on its root) has started the page change.
  document.addEventListener("click", onClick);
}
"""


@cache
def _component() -> ComponentRenderer:
    """Registered once per process (registering again under the same name logs a warning)."""
    return st.components.v2.component(COMPONENT, js=_JS)


def render() -> None:
    """Install, once per browser tab, the closing of the menu after a choice on a narrow screen."""
    _component()(key=KEY, data={"overlayMaxWidthPx": OVERLAY_MAX_WIDTH_PX})
