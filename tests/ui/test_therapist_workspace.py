"""The therapist's couple view as a shared screen: presentation mode (on each time a couple is opened) shows
only the charts and what both partners shared with each other; each private kind appears only once the
therapist turns it off. Also the brief, opening a stage early, revocation, and the couple's record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.course import checkins, journey, reflections, safety
from program.infra import audit
from program.infra.db import read_session, write_session
from program.infra.models import Person, Role, SafetyScreen, StageOpening, Visibility
from program.infra.settings import Settings
from program.ops.demo import load_demo
from program.privacy import grants
from program.privacy.viewer import Viewer
from program.therapist import caseload, homework, session_feedback, session_notes
from program.ui.therapist import BACK, PRESENTATION
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, finish_assessment
from tests.ui.helpers import app, as_viewer, open_couple, texts
from tests.ui.test_hostile_strings import HOSTILE, LONG, markdown_strings, unescaped

NOW = datetime.now(UTC)
TODAY = NOW.date()
SHARED_BY_BOTH = "We both want calmer mornings."
FOR_KIM_ONLY = "I am thinking about leaving."
NOTE = "Ben went quiet when money came up."
HOMEWORK = "Ten minutes of walking, phones away"


@dataclass(frozen=True)
class Seeded:
    ana: Viewer
    ben: Viewer
    kim: Viewer
    couple_id: int
    other_id: int


def _seed(engine: Engine) -> Seeded:
    """Ana and Ben with Dr Kim, and a second couple (Cai and Dee) in Dr Kim's caseload."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr Kim")
    couple_id = make_couple(engine, ana, ben)
    cai, dee = make_person(engine, "cai", name="Cai"), make_person(engine, "dee", name="Dee")
    other_id = make_couple(engine, cai, dee)
    for couple, partners in ((couple_id, (ana, ben)), (other_id, (cai, dee))):
        for partner in partners:
            grant(engine, couple, kim, partner)
    with write_session(engine) as session:
        reflections.save_text(
            session=session, viewer=ben, context=journey.GOALS_CONTEXT, body=SHARED_BY_BOTH,
            visibility=Visibility.PARTNER, now=NOW,
        )  # fmt: skip
    return Seeded(ana, ben, kim, couple_id, other_id)


def _therapist_only_text(engine: Engine, s: Seeded) -> str:
    with write_session(engine) as session:
        reflections.save_text(
            session=session, viewer=s.ana, context=journey.STRENGTHS_CONTEXT, body=FOR_KIM_ONLY,
            visibility=Visibility.THERAPIST, now=NOW,
        )  # fmt: skip
    return FOR_KIM_ONLY


def _session_note(engine: Engine, s: Seeded) -> str:
    with write_session(engine) as session:
        session_notes.add_note(session=session, viewer=s.kim, couple_id=s.couple_id, body=NOTE, now=NOW)
    return NOTE


def _safety_flag(engine: Engine, s: Seeded) -> str:
    with write_session(engine) as session:
        session.add(SafetyScreen(person_id=s.ana.person_id, form="full", answers={}, flagged=True))
    with write_session(engine) as session:
        safety.share_attention(session=session, viewer=s.ana, therapist_id=s.kim.person_id, share=True)
    return "asked that you know their private safety check needs attention"


def _alert(engine: Engine, s: Seeded) -> str:
    """Ana's overall check-in falls from 8 to 2: the caseload raises a check-in drop for the couple."""
    for weeks, overall in ((3, 8), (2, 8), (1, 8), (0, 2)):
        day = TODAY - timedelta(weeks=weeks)
        with write_session(engine) as session:
            checkins.save_checkin(
                session=session, viewer=s.ana, note=None, today=day, now=NOW - timedelta(weeks=weeks),
                ratings={"closeness": 5, "communication": 5, "conflict": 5, "trust": 5, "overall": overall},
            )  # fmt: skip
    with read_session(engine) as session:
        row = caseload.couple_row(
            session=session, viewer=s.kim, couple_id=s.couple_id, program=PROGRAM,
            settings=Settings(cookie_key=None, database_url="sqlite://"), today=TODAY,
        )  # fmt: skip
    drops = [alert.text for alert in row.alerts if alert.kind == "checkin-drop"]
    assert drops, row.alerts
    return drops[0]


def _homework(engine: Engine, s: Seeded) -> str:
    with write_session(engine) as session:
        homework.assign(
            session=session, viewer=s.kim, couple_id=s.couple_id, title=HOMEWORK, instructions="Daily.",
            due_on=TODAY + timedelta(days=7), for_person_id=None, today=TODAY, now=NOW,
        )  # fmt: skip
    return HOMEWORK


def _session_feedback(engine: Engine, s: Seeded) -> str:
    with write_session(engine) as session:
        session_feedback.mark_held(
            session=session, viewer=s.kim, couple_id=s.couple_id, held_on=TODAY, now=NOW
        )
    return "Session feedback"


def _report_button(_engine: Engine, _s: Seeded) -> str:
    return "Session report (PDF)"


def _other_couples_names(_engine: Engine, _s: Seeded) -> str:
    return "Cai"


PRIVATE_KINDS: dict[str, Callable[[Engine, Seeded], str]] = {
    "therapist-only text": _therapist_only_text,
    "session note": _session_note,
    "safety flag": _safety_flag,
    "alert": _alert,
    "homework": _homework,
    "session feedback": _session_feedback,
    "report button": _report_button,
}


def on_screen(at: AppTest) -> str:
    """Everything drawn: text, widget labels and values, tab labels, tables."""
    parts = [texts(at)]
    parts += [text for _, text in markdown_strings(at)]
    parts += [str(t.value) for t in at.text]
    parts += [b.label for b in at.button]
    parts += [str(a.value) for a in at.text_area]
    parts += [str(t.label) for t in at.tabs]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(parts)


def _open(engine: Engine, s: Seeded) -> AppTest:
    """The therapist's page, with Ana and Ben chosen from the caseload."""
    at = as_viewer(app("pages/therapist.py"), s.kim, engine).run()
    assert not at.exception, at.exception
    open_couple(at, s.couple_id)
    assert not at.exception, at.exception
    return at


def _presenting(at: AppTest) -> bool:
    return bool(at.toggle(key=PRESENTATION).value)


def _present(at: AppTest, on: bool) -> AppTest:
    at.toggle(key=PRESENTATION).set_value(on).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("kind", list(PRIVATE_KINDS))
def test_presentation_mode_hides_each_private_kind_until_turned_off(app_env: Engine, kind: str) -> None:
    """Opened, the couple view is in presentation mode: the charts and what both shared are there, this
    private kind is not; turned off, it appears, marked "Only you can see this"."""
    s = _seed(app_env)
    secret = PRIVATE_KINDS[kind](app_env, s)
    at = _open(app_env, s)
    assert _presenting(at)
    shown = on_screen(at)
    assert SHARED_BY_BOTH in shown and "Shared by both of you" in shown
    assert secret not in shown
    assert "Only you can see this" not in shown
    shown = on_screen(_present(at, False))
    assert secret in shown
    assert "Only you can see this" in shown


def test_other_couples_names_are_never_beside_an_open_couple(app_env: Engine) -> None:
    """The caseload lists Cai & Dee, but once Ana & Ben are open (either mode) no other couple's name is on
    screen."""
    s = _seed(app_env)
    at = as_viewer(app("pages/therapist.py"), s.kim, app_env).run()
    assert "Cai" in on_screen(at)
    at = _open(app_env, s)
    assert "Cai" not in on_screen(at) and "Dee" not in on_screen(at)
    assert "Cai" not in on_screen(_present(at, False))


def test_presentation_mode_is_on_again_after_back_and_reopen(app_env: Engine) -> None:
    """Turned off, then Back to the list: opening the couple again starts in presentation mode, and the
    therapist-only text is gone again."""
    s = _seed(app_env)
    _therapist_only_text(app_env, s)
    at = _present(_open(app_env, s), False)
    assert FOR_KIM_ONLY in on_screen(at)
    [back] = [b for b in at.button if b.label == BACK]
    back.click().run()
    assert at.title[0].value == "Your couples"
    assert FOR_KIM_ONLY not in on_screen(at)
    open_couple(at, s.couple_id)
    assert _presenting(at)
    assert FOR_KIM_ONLY not in on_screen(at)


def test_presentation_mode_stays_off_across_reruns(app_env: Engine) -> None:
    """Once turned off it stays off while the couple stays open, rerun after rerun."""
    s = _seed(app_env)
    _session_note(app_env, s)
    at = _present(_open(app_env, s), False)
    for _ in range(3):
        at.run()
        assert not _presenting(at)
        assert NOTE in on_screen(at)


def test_a_revocation_closes_the_couple_at_once(app_env: Engine) -> None:
    """Ana withdraws her grant while the private view is open: the next rerun is back at the list with a
    notice, and nothing of the couple shows."""
    s = _seed(app_env)
    _therapist_only_text(app_env, s)
    at = _present(_open(app_env, s), False)
    with write_session(app_env) as session:
        grants.revoke_access(session=session, viewer=s.ana, therapist_id=s.kim.person_id, now=NOW)
    at.run()
    assert not at.exception
    shown = on_screen(at)
    assert "no longer gives you access" in shown
    assert FOR_KIM_ONLY not in shown and "Ana" not in shown
    assert at.title[0].value == "Your couples"


def test_opening_records_the_view_and_the_brief_counts_from_the_previous_one(app_env: Engine) -> None:
    """The first opening's brief says it is the first look; Ben then shares a text with Dr Kim alone, and
    the next opening's brief lists it as new, shared with Dr Kim only. The couple reads both openings."""
    s = _seed(app_env)
    at = _present(_open(app_env, s), False)
    assert "This is your first look at this couple" in texts(at)
    with write_session(app_env) as session:
        reflections.save_text(
            session=session, viewer=s.ben, context=journey.STRENGTHS_CONTEXT, body="later",
            visibility=Visibility.THERAPIST, now=datetime.now(UTC),
        )  # fmt: skip
    at = _present(_open(app_env, s), False)
    shown = texts(at)
    assert "Since you last opened this couple" in shown
    assert "- Ben shared with you only: Strengths" in shown
    with read_session(app_env) as session:
        record = grants.view_record(session=session, viewer=s.ana)
    assert [r.what for r in record] == ["opened your record", "opened your record"]


def test_open_a_stage_early_offers_only_stages_not_yet_open(app_env: Engine) -> None:
    """Both finished the assessment (Talking and listening is open by progress) and Dr Kim opened Trust
    early: only the other stages are offered; with every stage open, the view says so."""
    s = _seed(app_env)
    finish_assessment(app_env, s.ana)
    finish_assessment(app_env, s.ben)
    trust = next(stage for stage in PROGRAM.stages if stage.key == "trust")
    with write_session(app_env) as session:
        session.add(StageOpening(couple_id=s.couple_id, stage=trust.key, opened_by_id=s.kim.person_id))
    at = _present(_open(app_env, s), False)
    offered = at.selectbox(key=f"open_stage_{s.couple_id}").options
    expected = [stage.title for stage in PROGRAM.stages if stage.key not in {"communication", "trust"}]
    assert offered == expected
    with write_session(app_env) as session:
        for stage in PROGRAM.stages:
            if stage.key not in {"communication", "trust"}:
                session.add(
                    StageOpening(couple_id=s.couple_id, stage=stage.key, opened_by_id=s.kim.person_id)
                )
    at.run()
    assert "Every stage is already open for this couple." in texts(at)
    assert not [b for b in at.button if b.label == "Open this stage"]


def test_the_couple_reads_each_therapist_action_without_its_contents(app_env: Engine) -> None:
    """Opening, a note written and edited, homework assigned, a session held, a report downloaded and a
    stage opened each show on the partners' account page, newest first, with no note or homework text."""
    s = _seed(app_env)
    _open(app_env, s)
    with write_session(app_env) as session:
        note = session_notes.add_note(
            session=session, viewer=s.kim, couple_id=s.couple_id, body=NOTE, now=NOW
        )
    with write_session(app_env) as session:
        session_notes.edit_note(session=session, viewer=s.kim, note_id=note, body=NOTE + " Edited.", now=NOW)
    _homework(app_env, s)
    _session_feedback(app_env, s)
    with write_session(app_env) as session:
        audit.record(
            session, action="therapist.report_downloaded", actor_id=s.kim.person_id, couple_id=s.couple_id,
            detail="downloaded a session report (PDF)",
        )  # fmt: skip
    with write_session(app_env) as session:
        journey.open_stage(session=session, viewer=s.kim, couple_id=s.couple_id, stage="trust", now=NOW)
    for partner in (s.ana, s.ben):
        at = as_viewer(app("pages/account.py"), partner, app_env).run()
        assert "What your therapist did with your record" in texts(at)
        record = at.dataframe[-1].value
        assert list(record["What"]) == [
            f"opened {PROGRAM.stage_by_key['trust'].title} early",
            "downloaded a session report (PDF)",
            "marked a session held",
            "assigned homework",
            "edited a session note",
            "wrote a session note",
            "opened your record",
        ]
        assert set(record["Therapist"]) == {"Dr Kim"}
        shown = on_screen(at)
        assert NOTE not in shown and HOMEWORK not in shown


def _rename(engine: Engine, viewer: Viewer, name: str) -> None:
    if engine.dialect.name == "postgresql":
        name = name.replace("\x00", "")[:80]
    with write_session(engine) as session:
        person = session.get(Person, viewer.person_id)
        assert person is not None
        person.display_name = name


@pytest.mark.parametrize(
    "name",
    [v for v in HOSTILE.values() if v is not LONG],
    ids=[k for k, v in HOSTILE.items() if v is not LONG],
)
def test_hostile_names_and_texts_are_text_in_the_couple_view(app_env: Engine, name: str) -> None:
    """Hostile partner names, shared texts (both kinds), homework and a note are text in every tab."""
    s = _seed(app_env)
    with write_session(app_env) as session:
        for visibility, context in (
            (Visibility.PARTNER, journey.GOALS_CONTEXT),
            (Visibility.THERAPIST, journey.STRENGTHS_CONTEXT),
        ):
            reflections.save_text(
                session=session, viewer=s.ana, context=context, body=name, visibility=visibility, now=NOW
            )
        session_notes.add_note(session=session, viewer=s.kim, couple_id=s.couple_id, body=name, now=NOW)
        homework.assign(
            session=session, viewer=s.kim, couple_id=s.couple_id, title=name[:100], instructions=name,
            due_on=TODAY, for_person_id=None, today=TODAY, now=NOW,
        )  # fmt: skip
    at = as_viewer(app("pages/therapist.py"), s.kim, app_env).run()
    for person in (s.ana, s.ben):
        _rename(app_env, person, name)
    at.run()
    open_couple(at, s.couple_id)
    assert not at.exception
    assert unescaped(at) == []
    _present(at, False)
    assert not at.exception and not at.error
    assert unescaped(at) == []


def test_the_demo_therapist_works_through_the_demo_couple(app_env: Engine) -> None:
    """With the demo loaded (today), the demo therapist opens the demo couple: presentation mode shows
    charts; turned off, every tab draws without an error, the brief counts from the demo's last view, and the
    session-report button and the private marker are there."""
    accounts = load_demo(engine=app_env, program=PROGRAM, weeks=12, today=TODAY, bcrypt_rounds=4)
    with read_session(app_env) as session:
        person = session.exec(select(Person).where(Person.username == accounts.therapist)).one()
        therapist = Viewer.of(person)
    at = as_viewer(app("pages/therapist.py"), therapist, app_env).run()
    assert not at.exception and at.title[0].value == "Your couples"
    open_couple(at, accounts.couple_id)
    assert not at.exception and _presenting(at)
    assert at.get("plotly_chart")
    _present(at, False)
    assert not at.error, [e.value for e in at.error]
    shown = on_screen(at)
    # The demo has the therapist's earlier views, so the brief counts from the latest of them.
    assert "Since you last opened this couple" in shown and "Check-ins over the last 4 weeks" in shown
    assert "Session report (PDF)" in shown and "Only you can see this" in shown
