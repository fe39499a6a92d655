"""The session report: a real PDF (read back with pypdf) with the couple's names, one image per chart,
homework for both partners and occasions both completed; nothing private to one partner; therapist only."""

from __future__ import annotations

import io
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import plotly.graph_objects as go
import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from program.course import checkins, reflections, safety
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Person, Role, SafetyScreen, Visibility
from program.infra.settings import Settings
from program.ops.demo import load_demo
from program.privacy import couples, grants
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import homework, report, session_notes
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, finish_assessment
from tests.report_tools import needs_report_tools

pytestmark = needs_report_tools

SETTINGS = Settings.model_construct()
# Hostile and non-Latin-1 names: Markdown and HTML must come out as the characters typed.
ZOE = "Zoë Łucja Оля"
HTML_NAME = "<b>x</b> **bold**"
# Distinctive strings of everything private to one partner or to the therapist.
NOTE = "SECRET-SESSION-NOTE-7Q"
THERAPIST_ONLY = "THERAPIST-ONLY-REFLECTION-4K"
SHARED_TEXT = "SHARED-WITH-PARTNER-TEXT-9M"
CHECKIN_NOTE = "CHECKIN-NOTE-SHARED-2P"
ONE_PARTNER_HOMEWORK = "ONLY-FOR-ZOE-HOMEWORK-5T"
BOTH_HOMEWORK = "Ten minutes of listening"
RATINGS = ("closeness", "communication", "conflict", "trust", "overall")


@dataclass(frozen=True)
class Couple:
    therapist: Viewer
    partners: tuple[Viewer, Viewer]
    couple_id: int


def _pdf_text(pdf: bytes) -> tuple[str, int]:
    """All the text of the PDF and the number of images on its pages."""
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text, sum(len(page.images) for page in reader.pages)


def _build(engine: Engine, viewer: Viewer, couple_id: int, steps: list[str] | None = None) -> bytes:
    with write_session(engine) as session:
        return report.build_report(
            session=session,
            viewer=viewer,
            couple_id=couple_id,
            program=PROGRAM,
            settings=SETTINGS,
            now=T0 + timedelta(days=30),
            on_step=None if steps is None else steps.append,
        )


def _downloads(engine: Engine, couple_id: int) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(
                    AuditEvent.action == report.DOWNLOADED, AuditEvent.couple_id == couple_id
                )
            )
        )


@pytest.fixture
def couple(engine: Engine) -> Couple:
    """A couple with hostile names, both baselines sent, a few check-ins, and everything private planted."""
    kim = make_person(engine, "kim", Role.THERAPIST, "Dr Kim")
    zoe = make_person(engine, "zoe", name=ZOE)
    ben = make_person(engine, "ben")
    # Names from before today's name rule, or written to the database some other way: printed as typed.
    with write_session(engine) as session:
        person = session.get(Person, ben.person_id)
        assert person is not None
        person.display_name = HTML_NAME
    couple_id = make_couple(engine, zoe, ben)
    for partner in (zoe, ben):
        grant(engine, couple_id, kim, partner)
        finish_assessment(engine, partner)
    with write_session(engine) as session:
        for week in range(3):
            day = T0.date() + timedelta(weeks=week)
            for number, partner in enumerate((zoe, ben)):
                checkins.save_checkin(
                    session=session,
                    viewer=partner,
                    ratings=dict.fromkeys(RATINGS, 5 + week + number),
                    note=CHECKIN_NOTE,
                    note_visibility=Visibility.PARTNER,
                    today=day,
                    now=T0 + timedelta(weeks=week),
                )
    with write_session(engine) as session:
        session_notes.add_note(session=session, viewer=kim, couple_id=couple_id, body=NOTE, now=T0)
        homework.assign(
            session=session, viewer=kim, couple_id=couple_id, title=ONE_PARTNER_HOMEWORK, instructions="",
            due_on=T0.date() + timedelta(days=7), for_person_id=zoe.person_id, today=T0.date(), now=T0,
        )  # fmt: skip
        both = homework.assign(
            session=session, viewer=kim, couple_id=couple_id, title=BOTH_HOMEWORK, instructions="Take turns.",
            due_on=T0.date() + timedelta(days=7), for_person_id=None, today=T0.date(), now=T0,
        )  # fmt: skip
        reflections.save_text(
            session=session, viewer=zoe, context="goals:mine", body=THERAPIST_ONLY,
            visibility=Visibility.THERAPIST, now=T0,
        )  # fmt: skip
        reflections.save_text(
            session=session, viewer=ben, context="goals:mine", body=SHARED_TEXT,
            visibility=Visibility.PARTNER, now=T0,
        )  # fmt: skip
        session.add(SafetyScreen(person_id=zoe.person_id, answers={"fear": 3}, flagged=True))
    with write_session(engine) as session:
        homework.mark_done(session=session, viewer=ben, assignment_id=both, now=T0 + timedelta(days=2))
        safety.share_attention(session=session, viewer=zoe, therapist_id=kim.person_id, share=True)
    return Couple(kim, (zoe, ben), couple_id)


def test_the_report_has_both_names_as_typed_one_image_per_chart_and_nothing_private(
    engine: Engine, couple: Couple
) -> None:
    """Hostile and Unicode names print as typed; each chart is one image; no private text reaches the PDF."""
    steps: list[str] = []
    pdf = _build(engine, couple.therapist, couple.couple_id, steps)
    assert pdf.startswith(b"%PDF-")
    text, images = _pdf_text(pdf)
    # On the cover, as typed: no Markdown turned to bold, no HTML taken as a tag.
    assert f"{ZOE} & {HTML_NAME}" in text
    with read_session(engine) as session:
        drawn = report.gather(
            session=session, viewer=couple.therapist, couple_id=couple.couple_id, program=PROGRAM,
            settings=SETTINGS, now=T0,
        ).charts  # fmt: skip
    assert len(drawn) >= 3  # check-ins, the profile, the perception gap, the stages at least
    assert images == len(drawn)
    for title, _ in drawn:
        assert title in text
    assert steps == list(report.STEPS)
    # Homework for both, with who did it; the baseline both sent.
    assert BOTH_HOMEWORK in text
    assert "Done 4 November 2026" in text and "Not yet" in text
    assert "Start" in text and PROGRAM.instruments[PROGRAM.assessment.overview.questionnaire].title in text
    for private in (NOTE, THERAPIST_ONLY, SHARED_TEXT, CHECKIN_NOTE, ONE_PARTNER_HOMEWORK, "Take turns."):
        assert private not in text
    lowered = text.lower()
    assert "safety" not in lowered and "attention" not in lowered
    # The file's metadata names nobody.
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info is not None and ZOE not in str(dict(info)) and "Zo" not in str(dict(info))
    [download] = _downloads(engine, couple.couple_id)
    assert download.actor_id == couple.therapist.person_id
    assert download.detail == "downloaded a session report (PDF)"


def test_a_partner_another_therapist_and_a_revoked_therapist_are_refused(
    engine: Engine, couple: Couple
) -> None:
    """Nobody but a therapist both partners let in gets the report, and a refusal records nothing."""
    other = make_person(engine, "lee", Role.THERAPIST, "Dr Lee")
    strangers = (other, *couple.partners)
    for viewer in strangers:
        with pytest.raises(AccessDenied):
            _build(engine, viewer, couple.couple_id)
    # Dr Lee with a grant from one partner only still sees nothing.
    grant(engine, couple.couple_id, other, couple.partners[0])
    with pytest.raises(AccessDenied):
        _build(engine, other, couple.couple_id)
    with write_session(engine) as session:
        grants.revoke_access(
            session=session, viewer=couple.partners[1], therapist_id=couple.therapist.person_id, now=T0
        )
    with pytest.raises(AccessDenied):
        _build(engine, couple.therapist, couple.couple_id)
    assert _downloads(engine, couple.couple_id) == []


def test_a_couple_that_ended_is_no_longer_in_the_report_of_its_new_couple(engine: Engine) -> None:
    """A re-formed couple: the report of Ana's new couple holds the new partner, not her old one."""
    kim = make_person(engine, "kim", Role.THERAPIST, "Dr Kim")
    ana, ben, cal = (make_person(engine, n, name=f"{n.title()}-Name") for n in ("ana", "ben", "cal"))
    old = make_couple(engine, ana, ben)
    for partner in (ana, ben):
        grant(engine, old, kim, partner)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=T0)
    new = make_couple(engine, ana, cal)
    for partner in (ana, cal):
        grant(engine, new, kim, partner)
    with pytest.raises(AccessDenied):
        _build(engine, kim, old)
    text, images = _pdf_text(_build(engine, kim, new))
    assert "Ana-Name" in text and "Cal-Name" in text and "Ben-Name" not in text
    assert images == 0  # nothing recorded yet: no chart is drawn, none is left empty on a page


def test_occasion_words_read_as_people_say_them() -> None:
    """Outcome, stage-check and repeated occasions get words, never their keys."""
    stage = PROGRAM.stages[0]
    assert report.occasion_words("baseline", PROGRAM) == "Start"
    assert report.occasion_words(f"{stage.key}:start", PROGRAM) == f"Start of {stage.title}"
    assert report.occasion_words(f"{stage.key}:end", PROGRAM) == f"End of {stage.title}"
    assert report.occasion_words("extra:2026-11-03", PROGRAM) == "3 November 2026"


def test_the_demo_couple_report_draws_every_chart(engine: Engine) -> None:
    """The demo couple's report: every chart the progress page draws is an image, with names and homework."""
    demo = load_demo(engine=engine, program=PROGRAM, today=date(2026, 11, 25), bcrypt_rounds=4)
    with Session(engine) as session:
        person = session.exec(select(Person).where(col(Person.username) == demo.therapist)).one()
        kim = Viewer.of(person)
        data = report.gather(
            session=session, viewer=kim, couple_id=demo.couple_id, program=PROGRAM, settings=SETTINGS, now=T0
        )
    assert len(data.charts) >= 7
    text, images = _pdf_text(_build(engine, kim, demo.couple_id))
    assert images == len(data.charts)
    for partner in data.partners:
        assert partner.name in text


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    return int(width), int(height)


def test_two_reports_drawn_at_once_each_get_their_own_charts() -> None:
    """Two therapists building at the same moment share one chromium; neither gets the other's images."""
    heights = {"first": 300, "second": 520}

    def draw(which: str) -> list[bytes]:
        figures = [go.Figure(go.Bar(x=[which], y=[n])) for n in range(3)]
        return report.RENDERER.draw(figures, [(400, heights[which])] * 3)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(heights, pool.map(draw, heights), strict=True))
    for which, pngs in results.items():
        assert [_png_size(png) for png in pngs] == [
            (400 * report.IMAGE_SCALE, heights[which] * report.IMAGE_SCALE)
        ] * 3


def test_a_chromium_that_died_between_reports_is_replaced() -> None:
    """The warm chromium crashed (or was killed) while idle: the next report starts a new one and draws."""
    figure = go.Figure(go.Bar(x=["a"], y=[1]))
    assert len(report.RENDERER.draw([figure], [(300, 200)])) == 1
    process = report.RENDERER._kaleido.subprocess
    process.kill()
    process.wait(timeout=10)
    [png] = report.RENDERER.draw([figure], [(300, 200)])
    assert _png_size(png) == (300 * report.IMAGE_SCALE, 200 * report.IMAGE_SCALE)
    assert report.RENDERER._kaleido.subprocess.pid != process.pid
