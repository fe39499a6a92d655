"""The weekly check-in page: this week's ratings, note and optional intimacy rating, past weeks, what the
partner shared of theirs, and the couple's check-in time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time

import streamlit as st

from program.course import checkins, reflections
from program.course.curriculum import CheckinForm, IntimacyRating
from program.infra.db import Engine, Session, read_session, write_session
from program.infra.models import CheckIn, Visibility, utcnow
from program.privacy import access
from program.privacy.viewer import Viewer
from program.ui import localtime, runtime
from program.ui.gate import confirm, show_flash
from program.ui.widgets import SAVE_LATER, answering_as, save_or_keep

SAVE = "Save my check-in"
INTIMACY_ON = "checkin_intimacy_on"
SAVE_TIME = "Save our check-in time"
DEFAULT_RATING = 5
DEFAULT_TIME = (6, time(19, 0))  # Sunday evening: a natural moment to look back on the week
# Table headings; the content's labels are whole questions, too long for a column.
SHORT_LABELS = {
    "closeness": "Closeness",
    "communication": "Communication",
    "conflict": "Handling conflict",
    "trust": "Trust",
    "overall": "Overall",
}
SHARING_SHORT = {
    Visibility.PRIVATE: "private",
    Visibility.PARTNER: "shared",
    Visibility.THERAPIST: "therapist",
}


def local_today() -> date:
    """Today where the person is (their browser's time zone), or in UTC when the browser doesn't say.

    The week, and so which check-in can still be changed, follows the person's own calendar.
    """
    return localtime.local_today()


def _week(day: date) -> str:
    return f"{day:%d %B %Y}".lstrip("0")


def render_checkin(viewer: Viewer) -> None:
    """This week's check-in for the viewer, their past weeks, and the couple's check-in time."""
    engine, form, today = runtime.engine(), runtime.program().checkin, local_today()
    with read_session(engine) as session:
        done = checkins.this_week(session=session, viewer=viewer, today=today)
        history = checkins.own_history(session=session, viewer=viewer)
        couple_id = access.current_couple_id(session=session, viewer=viewer)
        chosen = checkins.checkin_time(session=session, viewer=viewer)
        # Only what the partner chose to share with this viewer (the rule is access.readable_checkins).
        partners_shared = (
            []
            if couple_id is None
            else [
                (row.week_start, row.intimacy)
                for row in access.readable_checkins(session=session, viewer=viewer, couple_id=couple_id)
                if row.person_id != viewer.person_id and row.intimacy is not None
            ]
        )
    st.title(form.title)
    st.write(form.intro)
    answering_as(viewer)
    show_flash()  # a confirmation stays until the person acts again or leaves the page
    _checkin_form(viewer, form, today, done)
    _history(engine, viewer, history)
    _partners_shared(partners_shared)
    _time_section(engine, viewer, couple_id, chosen, today)


def _checkin_form(viewer: Viewer, form: CheckinForm, today: date, done: CheckIn | None) -> None:
    week = checkins.week_start(today)
    if done is not None:
        st.info(
            f"You have done your check-in for this week (the week of {_week(week)}); your answers are "
            "below. You can change it until Sunday.",
            icon=":material/check_circle:",
        )
    sharing = list(reflections.VISIBILITY_LABELS)
    rated = done is not None and done.intimacy is not None
    # Outside the form, so turning it on shows the rating at once; off unless this week has one.
    with_intimacy = st.checkbox(
        form.intimacy.toggle, value=rated, help=form.intimacy.toggle_help, key=INTIMACY_ON
    )
    with st.form("checkin"):
        ratings: dict[str, int] = {}
        for rating in form.ratings:
            ratings[rating.key] = st.slider(
                rating.label,
                min_value=checkins.MIN_RATING,
                max_value=checkins.MAX_RATING,
                value=getattr(done, rating.key) if done else DEFAULT_RATING,
                step=1,
                key=f"checkin_{rating.key}",
            )
            st.caption(f"{checkins.MIN_RATING} = {rating.low} · {checkins.MAX_RATING} = {rating.high}")
        note = st.text_area(
            form.note_prompt,
            value=(done.note or "") if done else "",
            max_chars=checkins.MAX_NOTE_CHARS,
            help=form.note_help,
            key="checkin_note",
        )
        visibility = st.selectbox(
            "Who can read your note",
            sharing,
            index=sharing.index(Visibility(done.note_visibility)) if done else 0,
            format_func=reflections.VISIBILITY_LABELS.__getitem__,
            key="checkin_note_sharing",
        )
        intimacy, intimacy_sharing = (
            _intimacy_inputs(form.intimacy, done if rated else None) if with_intimacy else (None, None)
        )
        submitted = st.form_submit_button(SAVE, type="primary")
    if not submitted:
        return

    def write(session: Session) -> None:
        checkins.save_checkin(
            session=session,
            viewer=viewer,
            ratings=ratings,
            note=note,
            note_visibility=Visibility(visibility),
            intimacy=intimacy,
            intimacy_visibility=Visibility(intimacy_sharing or Visibility.PRIVATE),
            today=today,
            now=utcnow(),
        )

    try:
        saved = save_or_keep(viewer, "checkin", write, values={}, in_callback=False)
    except checkins.CheckinError as error:
        st.error(str(error))
    else:
        if not saved:  # the form keeps what was entered; the next run saves it
            st.warning(SAVE_LATER, icon=":material/cloud_off:")
            return
        confirm(
            "Your check-in for this week is updated." if done else "Your check-in for this week is saved."
        )
        st.rerun()


def _intimacy_inputs(item: IntimacyRating, done: CheckIn | None) -> tuple[int, Visibility | None]:
    """The optional intimacy rating and who may see it, inside the check-in form (done: this week's,
    if it has a rating)."""
    sharing = list(reflections.VISIBILITY_LABELS)
    value = st.slider(
        item.label,
        min_value=checkins.MIN_RATING,
        max_value=checkins.MAX_RATING,
        value=done.intimacy if done is not None and done.intimacy is not None else DEFAULT_RATING,
        step=1,
        key="checkin_intimacy",
    )
    st.caption(f"{checkins.MIN_RATING} = {item.low} · {checkins.MAX_RATING} = {item.high}")
    chosen = st.selectbox(
        item.sharing_label,
        sharing,
        index=sharing.index(Visibility(done.intimacy_visibility)) if done is not None else 0,
        format_func=reflections.VISIBILITY_LABELS.__getitem__,
        key="checkin_intimacy_sharing",
    )
    return value, chosen


def _history(engine: Engine, viewer: Viewer, history: list[CheckIn]) -> None:
    st.subheader("Your check-ins")
    if not history:
        st.caption("Your past weeks will show here once you have done your first check-in.")
        return
    # The optional rating gets a column once the person has given one, and not before.
    rated = any(row.intimacy is not None for row in history)
    st.dataframe(
        [
            {
                "Week of": _week(row.week_start),
                **{SHORT_LABELS[key]: getattr(row, key) for key in SHORT_LABELS},
                "Note": SHARING_SHORT[Visibility(row.note_visibility)] if row.note else "",
                **({"Intimacy": _own_intimacy(row)} if rated else {}),
            }
            for row in reversed(history)
        ],
        hide_index=True,
    )
    _intimacy_sharing(engine, viewer, [row for row in reversed(history) if row.intimacy is not None])
    with_notes = [row for row in reversed(history) if row.note]
    if not with_notes:
        return
    # Ratings of past weeks stay as they were, but who may read a note stays its writer's choice.
    _sharing_form(
        engine,
        with_notes,
        _Sharing(
            form="note_sharing",
            title="Change who can read a note",
            which="Which week's note",
            who="Who can read it",
            button="Save who can read it",
            saved="Saved who can read your note for the week of {week}.",
        ),
        lambda session, week, visibility: checkins.set_note_visibility(
            session=session, viewer=viewer, week=week, visibility=visibility, now=utcnow()
        ),
    )


@dataclass(frozen=True)
class _Sharing:
    """The words of one "change who can see it" form."""

    form: str
    title: str
    which: str
    who: str
    button: str
    saved: str  # {week} is put in


def _sharing_form(
    engine: Engine,
    rows: list[CheckIn],
    words: _Sharing,
    save: Callable[[Session, date, Visibility], object],
) -> None:
    """Pick one of the viewer's past weeks and who may see that week's note or rating, and save it."""
    with st.expander(words.title):
        with st.form(words.form):
            week = st.selectbox(
                words.which,
                [row.week_start for row in rows],
                format_func=lambda day: f"Week of {_week(day)}",
            )
            visibility = st.selectbox(
                words.who,
                list(reflections.VISIBILITY_LABELS),
                format_func=reflections.VISIBILITY_LABELS.__getitem__,
            )
            submitted = st.form_submit_button(words.button)
        if submitted and week is not None:
            try:
                with write_session(engine) as session:
                    save(session, week, Visibility(visibility))
            except checkins.CheckinError as error:
                st.error(str(error))
            else:
                confirm(words.saved.format(week=_week(week)))
                st.rerun()


def _own_intimacy(row: CheckIn) -> str:
    if row.intimacy is None:
        return ""
    return f"{row.intimacy} ({SHARING_SHORT[Visibility(row.intimacy_visibility)]})"


def _intimacy_sharing(engine: Engine, viewer: Viewer, rated: list[CheckIn]) -> None:
    """Who may see each week's intimacy rating stays its writer's choice, for every week."""
    if not rated:
        return
    _sharing_form(
        engine,
        rated,
        _Sharing(
            form="intimacy_sharing",
            title="Change who can see an intimacy rating",
            which="Which week's rating",
            who="Who can see it",
            button="Save who can see it",
            saved="Saved who can see your intimacy rating for the week of {week}.",
        ),
        lambda session, week, visibility: checkins.set_intimacy_visibility(
            session=session, viewer=viewer, week=week, visibility=visibility
        ),
    )


def _partners_shared(shared: list[tuple[date, int]]) -> None:
    """The intimacy ratings the partner shared with this viewer; nothing at all when there are none, so
    an unshared rating and no rating look the same."""
    if not shared:
        return
    st.subheader("Intimacy ratings your partner shared with you")
    st.dataframe(
        [{"Week of": _week(week), "Intimacy": value} for week, value in reversed(shared)],
        hide_index=True,
    )


def _time_section(
    engine: Engine, viewer: Viewer, couple_id: int | None, chosen: tuple[int, time] | None, today: date
) -> None:
    st.header("Your check-in time")
    if couple_id is None:
        st.info(
            "Choosing a weekly check-in time, and adding it to your calendar, is for couples. Once you and "
            "your partner are linked (on the Account page), either of you can pick it here."
        )
        return
    st.write(
        "Pick a moment in the week when you both do your check-in, each on your own. Either of you can "
        "change it. Kindred sends no reminders itself: add the time to your calendar and let it remind you."
    )
    weekday, at = chosen or DEFAULT_TIME
    with st.form("checkin_time"):
        day_col, time_col = st.columns(2)
        with day_col:
            new_day = st.selectbox(
                "Day", range(7), index=weekday, format_func=checkins.WEEKDAYS.__getitem__, key="checkin_day"
            )
        with time_col:
            new_time = st.time_input("Time", value=at, key="checkin_clock")
        submitted = st.form_submit_button(SAVE_TIME)
    if submitted:
        try:
            if new_day is None or new_time is None:
                raise checkins.CheckinError("Please choose both a day and a time.")
            with write_session(engine) as session:
                checkins.set_checkin_time(session=session, viewer=viewer, weekday=new_day, at=new_time)
        except checkins.CheckinError as error:
            st.error(str(error))
        else:
            confirm(f"Your check-in time is saved: {checkins.describe_time(new_day, new_time)}.")
            st.rerun()
    if chosen is None:
        return
    st.write(f"Your couple's check-in time: **{checkins.describe_time(*chosen)}**.")
    st.download_button(
        "Add to your calendar",
        data=checkins.calendar_file(weekday=chosen[0], at=chosen[1], first_day=today),
        file_name="kindred-weekly-checkin.ics",
        mime="text/calendar",
        on_click="ignore",
        icon=":material/event:",
    )
    st.caption(
        "A calendar file with a weekly event and a reminder, at this time wherever you are. It holds no "
        "names and no links. If you change the time, download the file again (and delete the old event if "
        "your calendar keeps both)."
    )
