"""The relationship history in the assessment: each partner's own answers (how long together, living
together, children, what brought them here), private unless they share them, kept by the couple they were
given in, in their own export; shown on the page as text."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from sqlalchemy.engine import Engine

from program.auth import accounts
from program.course import journey, reflections, shared_texts
from program.infra.db import read_session, write_session
from program.infra.models import Role, Visibility
from program.privacy import couples
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import grant, make_person
from tests.program_helpers import PROGRAM, T0
from tests.ui.helpers import app, as_viewer

KEY = b"k" * 32
HOSTILE = "**7 years** [see](http://e.vil) <b>x</b>"


def _link(engine: Engine, first: Viewer, second: Viewer) -> int:
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=first, key=KEY, now=T0).code
    with write_session(engine) as session:
        return couples.join_couple(session=session, viewer=second, code=code, key=KEY, now=T0)


def _answer(
    engine: Engine, viewer: Viewer, key: str, body: str, visibility: Visibility | None = None
) -> None:
    with write_session(engine) as session:
        reflections.save_text(
            session=session,
            viewer=viewer,
            context=journey.HISTORY_PREFIX + key,
            body=body,
            visibility=visibility,
            now=T0,
        )


def _read(engine: Engine, viewer: Viewer, couple: int) -> dict[str, str]:
    """What this viewer reads of other people's texts in the couple: label -> body."""
    with read_session(engine) as session:
        texts = shared_texts.shared_with_viewer(
            session=session, viewer=viewer, couple_id=couple, program=PROGRAM
        )
    return {t.where: t.body for t in texts}


def test_each_partners_history_is_private_until_they_share_it(engine: Engine) -> None:
    """Ana answers all four; Ben and their therapist read none of it. She shares what brought her here
    with Ben (the couple) and how long together with the therapist alone: each reads only theirs."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple = _link(engine, ana, ben)
    grant(engine, couple, kim, ana)
    grant(engine, couple, kim, ben)
    for key in journey.HISTORY_QUESTIONS:
        _answer(engine, ana, key, f"Ana on {key}")
    assert _read(engine, ben, couple) == {} and _read(engine, kim, couple) == {}
    _answer(engine, ana, "why", "We keep having the same fight.", Visibility.PARTNER)
    _answer(engine, ana, "together", HOSTILE, Visibility.THERAPIST)
    assert _read(engine, ben, couple) == {
        "Relationship history · What brought us here": "We keep having the same fight."
    }
    assert _read(engine, kim, couple) == {
        "Relationship history · What brought us here": "We keep having the same fight.",
        "Relationship history · How long together": HOSTILE,
    }


def test_a_later_partner_never_reads_the_history_given_in_an_earlier_couple(engine: Engine) -> None:
    """Ana shared her history with Ben; she leaves and links with Cai, who reads none of it, and her new
    couple's history starts empty for her too."""
    ana, ben, cai = (make_person(engine, n, name=n.title()) for n in ("ana", "ben", "cai"))
    _link(engine, ana, ben)
    _answer(engine, ana, "why", "About Ben", Visibility.PARTNER)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=T0)
    new = _link(engine, ana, cai)
    assert _read(engine, cai, new) == {}
    with read_session(engine) as session:
        assert reflections.own_texts(session=session, viewer=ana, prefix=journey.HISTORY_PREFIX) == {}


def test_the_export_holds_ones_own_history_and_pronouns_and_not_the_partners(engine: Engine) -> None:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    _link(engine, ana, ben)
    _answer(engine, ana, "children", "Two, from before.")
    _answer(engine, ben, "children", "Ben's own answer", Visibility.PARTNER)
    with write_session(engine) as session:
        accounts.set_pronouns(session=session, viewer=ana, pronouns="she/her")
    with read_session(engine) as session:
        data = export.export_zip(session=session, viewer=ana, program=PROGRAM, now=T0)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("reflections.csv").decode("utf-8-sig"))))
        account = json.loads(archive.read("account.json"))
    assert [r["body"] for r in rows if r["context"].startswith(journey.HISTORY_PREFIX)] == [
        "Two, from before."
    ]
    assert account["pronouns"] == "she/her"


def test_the_assessment_page_asks_the_four_questions_privately_and_shows_answers_as_text(
    app_env: Engine,
) -> None:
    """The goals tab holds the four questions, each with its own sharing choice (private first); a
    hostile answer comes back into its box as typed and nothing of it is rendered as Markdown."""
    ana = make_person(app_env, "ana", name="Ana")
    _answer(app_env, ana, "together", HOSTILE)
    at = as_viewer(app("pages/assessment.py"), ana, app_env).run()
    assert not at.exception
    questions = [q for _, q in journey.HISTORY_QUESTIONS.values()]
    boxes = {t.label: t.value for t in at.text_area if t.label in questions}
    assert list(boxes) == questions
    assert boxes["How long have you been together?"] == HOSTILE
    choices = [s for s in at.selectbox if s.key and s.key.startswith(f"sharing::{journey.HISTORY_PREFIX}")]
    assert len(choices) == 4 and all(s.value == Visibility.PRIVATE for s in choices)
    assert not any("e.vil" in m.value for m in at.markdown)
