"""A page's floor: a plain Streamlit script that draws the same elements from memory.

After a page's run, `floor_script` walks its AppTest element tree (main area and sidebar) and writes a
script that draws each element with the same labels, values and options, in the same containers (tabs,
columns, expanders, forms, containers). Tables and Plotly figures are taken once from the page and held in
`st.cache_resource`: the figures as read-only `go.Figure` objects, as the cheapest way Streamlit can draw a
figure it already has. That is the floor: what Streamlit itself costs to draw the page, with no database,
no access checks and no figure building. Custom components (the login cookie's) are not drawn; they are
counted apart.

`compare` counts the elements of each type in page and floor, so a floor that drifts from its page shows.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Custom components the page loads (streamlit-authenticator's cookie manager): not part of any floor.
SKIPPED = frozenset({"bidi_component", "component_instance"})
# Block types that are only the tree's own roots.
ROOTS = frozenset({"main", "sidebar", "event", "bottom"})
HORIZONTAL = 1  # streamlit.proto.Block.FlexContainer.Direction.HORIZONTAL
PASSWORD = 1  # streamlit.proto.TextInput.Type.PASSWORD
# streamlit.proto.Dataframe.SelectionMode, in its order, as st.dataframe names them.
SELECTION_MODES = ("single-row", "multi-row", "single-column", "multi-column", "single-cell", "multi-cell",
                   "single-row-required")  # fmt: skip


class _Script:
    """Lines of the floor script, and what it keeps in memory."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.frames: list[Any] = []
        self.figures: list[str] = []
        self.keys = 0
        self.unknown: Counter[str] = Counter()

    def key(self) -> str:
        self.keys += 1
        return f'key="k{self.keys}"'

    def add(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)


def floor_script(tree: Any, data_file: Path) -> tuple[str, Counter[str]]:
    """The floor of the page whose element tree this is; its data (tables, figures) go to data_file.
    Returns the script and the element types it could not draw."""
    script = _Script()
    for root in tree.children.values():
        if root.type == "main":
            _children(script, root, 0)
        elif root.type == "sidebar" and root.children:
            script.add(0, "with st.sidebar:")
            script.add(1, "pass")
            _children(script, root, 1)
    data_file.write_bytes(pickle.dumps({"frames": script.frames, "figures": script.figures}))
    head = f"""import datetime
import json
import pickle

import plotly.graph_objects as go
import streamlit as st


@st.cache_resource
def _memory(path: str) -> tuple[list, list]:
    raw = pickle.loads(open(path, "rb").read())
    return raw["frames"], [go.Figure(json.loads(spec)) for spec in raw["figures"]]


frames, figures = _memory({str(data_file)!r})
"""
    return head + "\n".join(script.lines) + "\n", script.unknown


def _children(script: _Script, block: Any, depth: int) -> None:
    for node in block.children.values():
        _node(script, node, depth)


def _block(script: _Script, node: Any, depth: int, opener: str) -> None:
    script.add(depth, f"with {opener}:")
    script.add(depth + 1, "pass")
    _children(script, node, depth + 1)


def _node(script: _Script, node: Any, depth: int) -> None:  # noqa: C901, PLR0912, PLR0915
    kind = node.type
    proto: Any = getattr(node, "proto", None)
    label = repr(getattr(node, "label", ""))
    value = getattr(node, "value", None)
    if kind in SKIPPED:
        return
    if kind == "flex_container":
        children = list(node.children.values())
        if children and all(c.type == "column" for c in children):
            name = f"_columns{script.keys}"
            script.keys += 1
            weights = [c.weight for c in children]
            script.add(depth, f"{name} = st.columns({weights!r})")
            for index, column in enumerate(children):
                _block(script, column, depth, f"{name}[{index}]")
            return
        horizontal = proto.flex_container.direction == HORIZONTAL
        border = proto.flex_container.border
        _block(script, node, depth, f"st.container(horizontal={horizontal}, border={border})")
    elif kind == "tab_container":
        children = list(node.children.values())
        name = f"_tabs{script.keys}"
        script.keys += 1
        script.add(depth, f"{name} = st.tabs({[c.label for c in children]!r})")
        for index, tab in enumerate(children):
            _block(script, tab, depth, f"{name}[{index}]")
    elif kind == "expander":
        _block(script, node, depth, f"st.expander({label}, expanded={proto.expanded})")
    elif kind == "form":
        _block(script, node, depth, f'st.form("f{script.keys}", border={proto.form.border})')
        script.keys += 1
    elif kind in ("title", "header", "subheader", "caption", "text", "info", "warning", "error", "success"):
        script.add(depth, f"st.{kind}({value!r})")
    elif kind == "markdown":
        script.add(depth, f"st.markdown({value!r}, unsafe_allow_html={proto.allow_html})")
    elif kind == "divider":
        script.add(depth, "st.divider()")
    elif kind == "empty":
        script.add(depth, "st.empty()")
    elif kind == "button":
        call = "form_submit_button" if proto.is_form_submitter else "button"
        script.add(depth, f"st.{call}({label}, {script.key()})")
    elif kind == "download_button":
        script.add(depth, f"st.download_button({label}, data=b'', {script.key()})")
    elif kind in ("checkbox", "toggle"):
        script.add(depth, f"st.{kind}({label}, value={bool(value)}, {script.key()})")
    elif kind == "text_input":
        secret = ", type='password'" if proto.type == PASSWORD else ""
        script.add(depth, f"st.text_input({label}, value={value!r}{secret}, {script.key()})")
    elif kind == "text_area":
        script.add(depth, f"st.text_area({label}, value={value!r}, {script.key()})")
    elif kind in ("date_input", "time_input"):
        script.add(depth, f"st.{kind}({label}, value={value!r}, {script.key()})")
    elif kind in ("radio", "selectbox"):
        options = list(node.options)
        chosen: int | None = getattr(node, "index", None)
        extra = ", horizontal=True" if kind == "radio" and proto.horizontal else ""
        script.add(depth, f"st.{kind}({label}, {options!r}, index={chosen!r}{extra}, {script.key()})")
    elif kind == "multiselect":
        script.add(depth, f"st.multiselect({label}, {list(node.options)!r}, {script.key()})")
    elif kind == "slider":
        bounds: tuple[Any, ...] = (node.min, node.max, node.step)
        if all(isinstance(v, int) for v in (value if isinstance(value, list | tuple) else [value])):
            bounds = tuple(int(bound) for bound in bounds)
        script.add(
            depth,
            f"st.slider({label}, min_value={bounds[0]!r}, max_value={bounds[1]!r}, value={value!r}, "
            f"step={bounds[2]!r}, {script.key()})",
        )
    elif kind == "select_slider":
        script.add(
            depth, f"st.select_slider({label}, {list(node.options)!r}, value={value!r}, {script.key()})"
        )
    elif kind == "number_input":
        script.add(depth, f"st.number_input({label}, value={value!r}, {script.key()})")
    elif kind == "metric":
        delta = getattr(node, "delta", None) or None
        script.add(depth, f"st.metric({label}, {value!r}, delta={delta!r})")
    elif kind in ("dataframe", "table"):
        script.frames.append(value)
        selection = ""
        if kind == "dataframe" and proto.selection_mode:
            modes = [SELECTION_MODES[mode] for mode in proto.selection_mode]
            selection = f", on_select='rerun', selection_mode={modes!r}, {script.key()}"
        script.add(depth, f"st.{kind}(frames[{len(script.frames) - 1}]{selection})")
    elif kind == "plotly_chart":
        script.figures.append(proto.spec)
        script.add(depth, f"st.plotly_chart(figures[{len(script.figures) - 1}], {script.key()})")
    elif kind == "page_link":
        script.add(depth, f"st.page_link('https://example.org/', label={proto.label!r})")
    else:
        script.unknown[kind] += 1


def element_counts(tree: Any) -> Counter[str]:
    """Elements of each type under the main area and the sidebar (custom components left out)."""
    counts: Counter[str] = Counter()

    def walk(nodes: Iterable[Any]) -> None:
        for node in nodes:
            if node.type not in SKIPPED:
                counts[node.type] += 1
            walk(getattr(node, "children", {}).values())

    walk(root for root in tree.children.values() if root.type in ("main", "sidebar"))
    return counts


def compare(page: Counter[str], floor: Counter[str]) -> str:
    """'' when page and floor hold the same elements; else what differs, type by type."""
    differ = [
        f"{kind} {page[kind]} vs {floor[kind]}" for kind in sorted(page | floor) if page[kind] != floor[kind]
    ]
    return ", ".join(differ)
