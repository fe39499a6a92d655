"""The benchmark's floor (bench/floor.py) draws what the page drew: the same elements, labels, options,
tables and figures, in the same containers, so a page-to-floor ratio compares like with like."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bench.floor import compare, element_counts, floor_script

PAGE = """
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

st.title("A *page* with [a link](https://example.org)")
st.caption("caption")
left, right = st.columns([2, 1])
left.metric("Check-ins", "12", delta="3")
right.info("Due on Sunday")
charts, table = st.tabs(["Charts", "Table"])
with charts:
    st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[4, 1, 6], name="<b>Ana</b>")))
    with st.expander("Show the numbers"):
        st.dataframe(
            pd.DataFrame({"week": [1, 2], "overall": [4, 6]}),
            on_select="rerun",
            selection_mode="single-row",
        )
with table:
    with st.form("f"):
        st.radio("Rating", ["overall", "trust"], index=1, horizontal=True)
        st.selectbox("Partner", ["Ana", "Ben"])
        st.slider("How close", 0, 10, 7)
        st.text_input("Password", type="password")
        st.text_area("Note", value="typed")
        st.checkbox("Share it", value=True)
        st.form_submit_button("Save")
with st.container(border=True):
    st.markdown("**bold**")
    st.text("plain")
st.warning("careful")
with st.sidebar:
    st.button("Log out")
"""


def test_the_floor_draws_every_element_and_figure_the_page_drew(tmp_path: Path) -> None:
    """Same element counts by type, the same figure data and table, nothing left undrawn."""
    page = AppTest.from_string(PAGE, default_timeout=30).run()
    assert not page.exception
    script, unknown = floor_script(page._tree, tmp_path / "floor.pickle")
    floor = AppTest.from_string(script, default_timeout=30).run()
    assert not floor.exception, floor.exception
    assert not unknown
    assert compare(element_counts(page._tree), element_counts(floor._tree)) == ""
    assert element_counts(floor._tree)["plotly_chart"] == 1
    (page_chart,), (floor_chart,) = page.get("plotly_chart"), floor.get("plotly_chart")
    assert json.loads(floor_chart.proto.spec)["data"] == json.loads(page_chart.proto.spec)["data"]
    assert floor.dataframe[0].value.equals(page.dataframe[0].value)
    assert list(floor.dataframe[0].proto.selection_mode) == list(page.dataframe[0].proto.selection_mode)
    assert [r.value for r in floor.radio] == ["trust"]
    assert floor.slider[0].value == 7
    assert floor.text_area[0].value == "typed"
    assert [t.value for t in floor.title] == [t.value for t in page.title]
    assert [b.label for b in floor.sidebar.button] == ["Log out"]


def test_a_floor_that_drifts_from_its_page_is_reported() -> None:
    """compare names each type whose count differs."""
    page = AppTest.from_string("import streamlit as st\nst.title('a')\nst.button('b')").run()
    floor = AppTest.from_string("import streamlit as st\nst.title('a')").run()
    assert compare(element_counts(page._tree), element_counts(floor._tree)) == "button 1 vs 0"
