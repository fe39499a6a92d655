"""Guided conversations speak to the partners by name, and ask the listener to validate.

Content writes {a}, {b}, {speaker} and {listener}; loading refuses a bare role letter ("what A does") or a
placeholder it does not know, naming the file and the field; the page puts in the partners' names, escaped.
Every listener who reflects back then says what makes sense about the speaker's feelings. "Repairing a
small hurt" takes one partner's hurt a day.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Element

from program.course import conversations, questionnaires
from program.course.curriculum import ContentError, ConversationExercise, load_program
from program.course.journey import Journey, PartnerProgress
from program.infra.db import write_session
from program.infra.models import ExerciseRecord, StageOpening
from program.infra.settings import CONTENT_DIR
from program.privacy.tables import CoupleMembership
from program.privacy.viewer import Viewer
from program.ui.text import md
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, answer_all
from tests.ui.helpers import _as_read, app, as_viewer

ROLE_LETTER = re.compile(r"\b[AB]\b")
CONVERSATIONS = [
    (stage.key, exercise)
    for stage in PROGRAM.stages
    for exercise in stage.exercises
    if isinstance(exercise, ConversationExercise)
]


# ---- loading refuses role letters and unknown placeholders ----------------------------------------


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A private copy of the shipped content to break."""
    copy = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, copy)
    return copy


def _refused(content: Path, file: str, old: str, new: str) -> str:
    path = content / "stages" / file
    text = path.read_text()
    assert old in text, f"{old!r} is not in {file}"
    path.write_text(text.replace(old, new, 1))  # its first place: the message names which field
    with pytest.raises(ContentError) as caught:
        load_program(content)
    return str(caught.value)


def test_a_bare_role_letter_in_a_listener_text_stops_loading_naming_file_and_field(content: Path) -> None:
    """ "what A does" would show a letter where a partner expects a name: loading refuses it."""
    message = _refused(
        content,
        "conflict.toml",
        "Reflect back both parts: what {speaker} does",
        "Reflect back both parts: what A does",
    )
    assert message.startswith("content/stages/conflict.toml: exercises.1.conversation.turns.0.listener: ")
    assert "bare role letter 'A'" in message and "{speaker}" in message


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            "Tell {listener} three specific things you've appreciated about them lately",
            "Tell {partner} three specific things you've appreciated about them lately",
            "turns.0.prompt",
            "unknown placeholder {partner}",
        ),
        (
            "This is a warm conversation, so set it up",
            "{speaker}, this is a warm conversation, so set it up",  # no one speaks yet in the intro
            "intro",
            "unknown placeholder {speaker} (allowed: {a}, {b})",
        ),
        (
            "Choose one daily ritual and one weekly ritual",
            "Choose one daily ritual for {a and one weekly ritual",
            "closing",
            "a brace that is not part of a placeholder",
        ),
        (
            "Ask questions out of curiosity, not to test",
            "Ask B questions out of curiosity, not to test",
            "rules",
            "rule 3: bare role letter 'B'",
        ),
        (
            'title = "Appreciate, wonder, plan"',
            'title = "Appreciate, wonder, plan: A then B"',
            "title",
            "bare role letter 'A'",
        ),
    ],
)
def test_placeholders_are_checked_in_every_field(
    content: Path, old: str, new: str, field: str, words: str
) -> None:
    """Each text field of a conversation refuses what would not become a name, naming the field."""
    message = _refused(content, "connection.toml", old, new)
    assert message.startswith(f"content/stages/connection.toml: exercises.1.conversation.{field}")
    assert words in message


def test_a_conversation_waiting_for_an_unknown_one_is_refused(content: Path) -> None:
    """another_day_after must name a conversation earlier in the same stage."""
    message = _refused(
        content,
        "trust.toml",
        'another_day_after = "repairing-a-small-hurt"',
        'another_day_after = "daily-trust-log"',
    )
    assert message.startswith("content/stages/trust.toml: ")
    assert "another_day_after names 'daily-trust-log'" in message


def test_names_go_in_once_so_a_name_holding_a_placeholder_stays_as_typed() -> None:
    """A partner called "{b}" is shown as "{b}", not replaced by the other partner's name."""
    turn = PROGRAM.stage_by_key["conflict"].exercise("naming-our-cycle")
    assert isinstance(turn, ConversationExercise)
    shown = conversations.shown_turn(turn.turns[0], "{b}", "Bo", lambda name: name)
    assert shown.speaker == "{b}" and shown.listener == "Bo"
    assert "what {b} does, and what {b} feels underneath" in shown.listening


# ---- what partners see -----------------------------------------------------------------------------


def _couple_ben_joined_first(engine: Engine, ana_name: str, ben_name: str) -> tuple[Viewer, Viewer, int]:
    # Ana's account is older (a lower id), but Ben joined the couple first: part A follows the joining.
    ana = make_person(engine, "ana", name=ana_name)
    ben = make_person(engine, "ben", name=ben_name)
    couple = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        for membership in session.exec(select(CoupleMembership).where(CoupleMembership.couple_id == couple)):
            joined = datetime(2026, 1, 1, tzinfo=UTC) if membership.person_id == ben.person_id else None
            membership.joined_at = joined or datetime(2026, 1, 5, tzinfo=UTC)
    return ana, ben, couple


def _conversation_text(at: AppTest, title: str) -> str:
    expander = next(e for e in at.expander if e.label.startswith(title))
    return "\n".join(_as_read(str(e.value)) for e in _elements(expander))


SHOWN = ("markdown", "info", "caption", "warning", "error", "success")


def _elements(block: Block) -> list[Element]:
    found: list[Element] = []
    for child in block.children.values():
        if isinstance(child, Block):
            found += _elements(child)
        elif isinstance(child, Element) and child.type in SHOWN:
            found.append(child)
    return found


@pytest.mark.parametrize("stage", [stage.key for stage in PROGRAM.stages])
def test_every_conversation_shows_names_and_never_a_role_letter(app_env: Engine, stage: str) -> None:
    """Walked turn by turn to the closing, every conversation of the stage names both partners where its
    content says {a}/{b}/{speaker}/{listener}, and shows no bare A or B anywhere; Ben, who joined first,
    speaks first by default on Ana's screen."""
    ana, _ben, couple = _couple_ben_joined_first(app_env, "Ximena", "Oluwaseun")
    content = PROGRAM.stage_by_key[stage]
    with write_session(app_env) as session:
        session.add(StageOpening(couple_id=couple, stage=stage))
    answer_all(app_env, ana, content.check, questionnaires.stage_occasion(stage, "start"), 3)
    at = as_viewer(app(f"pages/{stage}.py"), ana, app_env).run()
    talks = [e for e in content.exercises if isinstance(e, ConversationExercise)]
    for talk in talks:
        if talk.another_day_after is not None:
            at.button(key=f"done::{stage}::{talk.another_day_after}").click().run()
            with write_session(app_env) as session:
                earlier = session.exec(
                    select(ExerciseRecord).where(ExerciseRecord.exercise == talk.another_day_after)
                ).one()
                assert earlier.completed_at is not None
                earlier.completed_at -= timedelta(days=1)
            at.run()
        first = "Oluwaseun" if talk.turns[0].speaker == "A" else "Ximena"
        seen = []
        for number, turn in enumerate(talk.turns, start=1):
            shown = _conversation_text(at, talk.title)
            speaker, listener = ("Oluwaseun", "Ximena") if turn.speaker == "A" else ("Ximena", "Oluwaseun")
            assert f"Turn {number} of {len(talk.turns)}: {speaker} speaks, {listener} listens" in shown
            if number == 1:
                assert speaker == first
            for text in (turn.prompt, turn.listener):
                for placeholder, name in turn.names("Oluwaseun", "Ximena").items():
                    if f"{{{placeholder}}}" in text:
                        assert name in shown, (talk.key, number, placeholder)
            seen.append(shown)
            at.button(key=f"next::turn::{stage}::{talk.key}").click().run()
        seen.append(_conversation_text(at, talk.title))
        assert "Closing" in seen[-1]
        for text in seen:
            assert "{" not in text and "}" not in text, text
            letter = ROLE_LETTER.search(text)
            assert letter is None, (talk.key, text[max(0, letter.start() - 40) : letter.end() + 40])
    assert not at.exception


def test_a_hostile_name_is_shown_as_typed_inside_the_content(app_env: Engine) -> None:
    """A partner's name put into a turn's text is escaped: it shows as typed and makes no link."""
    hostile = "Zed (www.evil.test) & Co."  # the name rules let this through; www. would autolink
    ana, _ben, couple = _couple_ben_joined_first(app_env, "Ana", hostile)
    with write_session(app_env) as session:
        session.add(StageOpening(couple_id=couple, stage="communication"))
    answer_all(
        app_env, ana, "communication-check", questionnaires.stage_occasion("communication", "start"), 3
    )
    at = as_viewer(app("pages/communication.py"), ana, app_env).run()
    expander = next(e for e in at.expander if e.label.startswith("Taking turns"))
    raw = "\n".join(str(e.value) for e in _elements(expander))
    assert f"If {md(hostile)} corrects you, try again until {md(hostile)} says yes." in raw
    assert "www.evil" not in raw  # escaped: the word joiner breaks the autolink
    assert f"If {hostile} corrects you" in _as_read(raw)  # and it reads as typed


# ---- listener validation -----------------------------------------------------------------------------

REFLECTS = re.compile(
    r"(?i)reflect back|reflect it back|say back|sum up|say the request back|said the hurt back"
)
VALIDATES = re.compile(r"(?i)makes sense to you")


@pytest.mark.parametrize(("stage", "talk"), CONVERSATIONS, ids=[f"{s}-{t.key}" for s, t in CONVERSATIONS])
def test_every_listener_who_reflects_back_then_says_what_makes_sense(
    stage: str, talk: ConversationExercise
) -> None:
    """In every conversation the listener validates at least once, and every turn that asks them to reflect
    back also asks, after the reflection, what makes sense to them about the speaker's feelings."""
    validating = [turn for turn in talk.turns if VALIDATES.search(turn.listener)]
    assert validating, f"{stage}/{talk.key}: no turn asks the listener what makes sense"
    for number, turn in enumerate(talk.turns, start=1):
        reflected = REFLECTS.search(turn.listener)
        if reflected is None:
            continue
        validated = VALIDATES.search(turn.listener, reflected.end())
        assert validated is not None, f"{stage}/{talk.key} turn {number}: reflects back without validating"


# ---- one hurt per conversation, the other on another day ----------------------------------------------


def test_each_repair_conversation_takes_one_partners_hurt() -> None:
    """Each hurt conversation has one partner describe a hurt (the other owns it); the second takes the
    other partner's hurt and waits for the first."""
    trust = PROGRAM.stage_by_key["trust"]
    talks = [e for e in trust.exercises if isinstance(e, ConversationExercise) and "hurt" in e.key]
    assert [t.key for t in talks] == ["repairing-a-small-hurt", "repairing-the-other-hurt"]
    hurt_of = []
    for talk in talks:
        sharing = [turn.speaker for turn in talk.turns if "Describe your small hurt" in turn.prompt]
        owning = [turn.speaker for turn in talk.turns if turn.prompt.startswith("Take responsibility")]
        assert len(sharing) == 1 and len(owning) == 1 and sharing != owning, talk.key
        hurt_of.append(sharing[0])
    assert hurt_of == ["A", "B"]
    assert talks[1].another_day_after == talks[0].key


def _journey(done_at: datetime | None, *, partner_did: bool = False) -> Journey:
    me, partner = PartnerProgress(1, "Ana"), PartnerProgress(2, "Ben")
    if done_at is not None:
        (partner if partner_did else me).done["trust"] = {"repairing-a-small-hurt": done_at}
    return Journey(PROGRAM, 7, me, partner, {})


def _second() -> ConversationExercise:
    talk = PROGRAM.stage_by_key["trust"].exercise("repairing-the-other-hurt")
    assert isinstance(talk, ConversationExercise)
    return talk


def test_the_second_hurt_waits_until_the_day_after_the_first() -> None:
    """Closed before the first is done and on its day (whoever marked it); open from the next day."""
    utc = ZoneInfo("UTC")
    done = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
    assert "opens the day after" in (
        conversations.waiting_reason(_journey(None), "trust", _second(), date(2026, 11, 9), utc) or ""
    )
    for partner_did in (False, True):
        same_day = conversations.waiting_reason(
            _journey(done, partner_did=partner_did), "trust", _second(), date(2026, 11, 2), utc
        )
        assert same_day is not None and "it opens on Tuesday 03 November" in same_day
        assert (
            conversations.waiting_reason(
                _journey(done, partner_did=partner_did), "trust", _second(), date(2026, 11, 3), utc
            )
            is None
        )


def test_the_day_is_the_partners_own_day() -> None:
    """Marked done at 23:30 UTC, which is already the next morning in Berlin: it opens a day later there."""
    done = datetime(2026, 11, 2, 23, 30)  # naive, as SQLite returns it (UTC)
    berlin = ZoneInfo("Europe/Berlin")
    assert (
        conversations.waiting_reason(_journey(done), "trust", _second(), date(2026, 11, 3), ZoneInfo("UTC"))
        is None
    )
    waiting = conversations.waiting_reason(_journey(done), "trust", _second(), date(2026, 11, 3), berlin)
    assert waiting is not None and "Wednesday 04 November" in waiting


# ---- the baseline's reworded item ---------------------------------------------------------------------


def test_no_baseline_item_echoes_the_published_all_things_considered_item() -> None:
    """The satisfaction item keeps its key, subscale and keying (stored answers still score) in new words."""
    baseline = PROGRAM.instruments["kindred-baseline"]
    assert not [i.key for i in baseline.items if "all things considered" in i.text.lower()]
    item = next(i for i in baseline.items if i.key == "sat-glad")
    assert (item.subscale, item.reverse, item.scale, item.perspective) == ("satisfaction", False, None, "us")
