"""The therapist's caseload as a sortable table, the alerts in words below it, and a way to open a couple.

The UI of program.therapist.caseload, which holds the rules and the data; this module only draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import streamlit as st

from program.privacy.viewer import Viewer
from program.therapist.caseload import Alert, CaseloadRow
from program.ui import localtime
from program.ui.text import md

TABLE = "kindred_caseload_table"
# Bumped whenever a couple is opened from the table, so the table comes back with no row selected (a
# selection left standing would reopen the couple on the way back to the list).
TABLE_GENERATION = "kindred_caseload_table_generation"
CHOSEN = "kindred_caseload_chosen"
OPEN_CHOICE = "kindred_caseload_open_choice"


def _local_day(moment: datetime | None, zone: tzinfo) -> date | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).date()


def caseload_frame(rows: Sequence[CaseloadRow], zone: tzinfo) -> list[dict[str, Any]]:
    """The table: one row per couple, each partner's name, stage, last activity (their local day),
    latest outcome and check-in, and the number of alerts. Names stay text (a dataframe shows text as
    text)."""
    records: list[dict[str, Any]] = []
    for row in rows:
        record: dict[str, Any] = {}
        for number, partner in enumerate(row.partners[:2], start=1):
            record[f"Partner {number}"] = partner.name
            record[f"Stage {number}"] = partner.stage
            record[f"Last active {number}"] = _local_day(partner.last_active, zone)
            record[f"Outcome {number}"] = (
                round(partner.latest_outcome, 1) if partner.latest_outcome is not None else None
            )
            record[f"Check-in {number}"] = partner.latest_checkin
        record["Alerts"] = len(row.alerts)
        records.append(record)
    return records


def _column_config() -> dict[str, Any]:
    config: dict[str, Any] = {
        "Alerts": st.column_config.NumberColumn("Alerts", help="Listed below the table")
    }
    for number in (1, 2):
        config[f"Last active {number}"] = st.column_config.DateColumn(
            f"Last active {number}", format="D MMM YYYY", help="Their latest activity in this couple"
        )
        config[f"Outcome {number}"] = st.column_config.NumberColumn(
            f"Outcome {number}",
            format="%.1f",
            help="The outcome measure's main score at the latest occasion both partners sent",
        )
        config[f"Check-in {number}"] = st.column_config.NumberColumn(
            f"Check-in {number}", help="Overall rating (0-10) in their latest weekly check-in"
        )
    return config


def _chose_from_table(rows: Sequence[CaseloadRow], key: str) -> None:
    state = st.session_state.get(key)
    selected = list(state.selection.rows) if state is not None else []
    if selected and 0 <= selected[0] < len(rows):
        st.session_state[CHOSEN] = rows[selected[0]].couple_id


def alert_line(alert: Alert, zone: tzinfo) -> str:
    """One alert as a Markdown list item, its words escaped (they may hold a partner's typed name)."""
    since = f" (since {localtime.local_date(alert.since, zone)})" if alert.since is not None else ""
    return f"- {md(alert.text)}{since}"


def render_caseload_table(viewer: Viewer, rows: list[CaseloadRow]) -> int | None:
    """Draw the sortable caseload and the alerts in words; the couple the therapist chose to open (a row
    picked in the table, or "Open" beside the list), else None."""
    if not rows:
        st.info(
            "No couple has given you access yet. Make a code on your account page and give it to a couple; "
            "they appear here once both partners have entered it."
        )
        return None
    zone = localtime.local_zone()
    generation = int(st.session_state.get(TABLE_GENERATION, 0))
    key = f"{TABLE}_{viewer.person_id}_{generation}"
    st.caption("Click a column's header to sort by it; pick a row to open that couple.")
    st.dataframe(
        caseload_frame(rows, zone),
        hide_index=True,
        column_config=_column_config(),
        on_select=lambda: _chose_from_table(rows, key),
        selection_mode="single-row",
        key=key,
    )
    names = {row.couple_id: row.names for row in rows}
    # Options of a select box are shown as text: the names need no escaping there.
    choice = st.selectbox(
        "Open a couple", list(names), format_func=lambda couple_id: names[couple_id], key=OPEN_CHOICE
    )
    chosen: int | None = st.session_state.pop(CHOSEN, None)
    if st.button("Open", key="kindred_caseload_open") and choice is not None:
        chosen = int(choice)
    flagged = [row for row in rows if row.alerts]
    st.subheader("Alerts")
    if not flagged:
        st.caption("Nothing to flag in your couples right now.")
    for row in flagged:
        lines = "\n".join(alert_line(alert, zone) for alert in row.alerts)
        st.markdown(f"**{md(row.names)}**\n\n{lines}")
    if chosen is not None and chosen in names:
        st.session_state[TABLE_GENERATION] = generation + 1
        return chosen
    return None
