"""Every string a person typed is shown as text on every page, never as Markdown or HTML.

Streamlit renders Markdown (and its own directives, math and emoji) in titles, captions, alerts, widget
labels, radio options, button labels, expander and tab titles. A display name such as `![t](http://host/x)`
would make the partner's browser fetch a remote image. The names here are written straight into the
database: the display-name rule now refuses them, but older accounts may still hold such names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from program.course import checkins, journey, reflections
from program.course.questionnaires import BASELINE, stage_occasion
from program.infra.db import write_session
from program.infra.models import Person, Role, StageOpening, Visibility
from program.privacy.viewer import Viewer
from tests.factories import grant, make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, do_step, finish_assessment
from tests.ui.helpers import app, as_viewer, open_couple

HOST = "evil.example"
LONG = ("[x](http://evil.example/l) " * 400)[:10_000]
HOSTILE = {
    "image": "![t](http://evil.example/t.png)",
    "link": "[Reset your password](http://evil.example/reset)",
    "autolink": "www.evil.example or https://evil.example/x or admin@evil.example",
    "html link": '<a href="http://evil.example/a">Ana</a>',
    "html image": '<img src="http://evil.example/i.png">',
    "styled span": '<span style="position:fixed;inset:0;background:red">Cover</span>',
    "directives": ":red[Alarm] :material/skull: :blue-background[Cover]",
    "math": "$x^2$ and $$x$$",
    "heading": "# Shout",
    "quote": "> Shout",
    "list": "- Shout",
    "controls": "Ana\u202eevil\u200b\x1b[31m\x07",
    "long": LONG,
}
# How each payload looks when it reached Markdown unescaped; its escaped form matches none of these.
UNESCAPED = [
    ("a Markdown link or image", re.compile(r"(?<!\\)!(?<!\\)\[|(?<!\\)\[[^\]]*(?<!\\)\]\s*\(")),
    # GitHub's autolinks are found after backslash escapes are resolved: escaping alone does not stop them.
    ("an autolink", re.compile(r"(?i)(?:www\\?\.|https?\\?:|\w\\?@\w)")),
    ("raw HTML", re.compile(r"(?<!\\)<(?:a|img|span)\b", re.IGNORECASE)),
    ("a Streamlit directive", re.compile(r"(?<!\\):(?:red|blue-background)(?<!\\)\[|:material/skull")),
    ("math", re.compile(r"(?<!\\)\$(?:x|\$x)")),
    ("block syntax", re.compile(r"(?m)^[ \t]{0,3}(?:#{1,6}|>|-)[ \t]*Shout")),
    ("a control or format character", re.compile("[\u202e\u200b\x1b\x07\x00]")),
]
# Elements whose text Streamlit shows as text, whatever it holds.
PLAIN_ELEMENTS = {"Text", "Code", "Arrow", "PlotlyChart", "Json"}
MARKDOWN_FIELDS = ("body", "label", "help")


@dataclass(frozen=True)
class Couple:
    ana: Viewer
    ben: Viewer
    therapist: Viewer
    couple_id: int


def _rename(engine: Engine, viewer: Viewer, name: str) -> None:
    if engine.dialect.name == "postgresql":
        # The column holds 80 characters, and PostgreSQL text cannot hold NUL.
        name = name.replace("\x00", "")[:80]
    with write_session(engine) as session:
        person = session.get(Person, viewer.person_id)
        assert person is not None
        person.display_name = name


def _seed(engine: Engine, name: str) -> Couple:
    """Ana and Ben in a couple with a therapist both let in, each part way through, all named `name`,
    each having shared writing and check-in notes made of every hostile string."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    therapist = make_person(engine, "dr.kim", Role.THERAPIST)
    couple_id = make_couple(engine, ana, ben)
    grant(engine, couple_id, therapist, ana)
    grant(engine, couple_id, therapist, ben)
    finish_assessment(engine, ben)
    answer_all(engine, ana, PROGRAM.assessment.overview.questionnaire, BASELINE, 3)
    stage = PROGRAM.stage_by_key["communication"]
    conversation = next(e for e in stage.exercises if e.kind == "conversation")
    with write_session(engine) as session:
        session.add(StageOpening(couple_id=couple_id, stage=stage.key))
    for partner in (ana, ben):
        answer_all(engine, partner, stage.check, stage_occasion(stage.key, "start"), 4)
    body = "\n".join(value for value in HOSTILE.values() if value is not LONG)
    do_step(engine, ben, stage.key, conversation.key)
    with write_session(engine) as session:
        for partner in (ana, ben):
            reflections.save_text(
                session=session, viewer=partner, context=journey.GOALS_CONTEXT, body=body,
                visibility=Visibility.PARTNER, now=T0,
            )  # fmt: skip
            checkins.save_checkin(
                session=session, viewer=partner, ratings={"closeness": 4, "communication": 5, "conflict": 6,
                "trust": 7, "overall": 5}, note=body[: checkins.MAX_NOTE_CHARS],
                note_visibility=Visibility.PARTNER, today=T0.date(), now=T0,
            )  # fmt: skip
    for person in (ana, ben, therapist):
        _rename(engine, person, name)
    return Couple(ana, ben, therapist, couple_id)


def _walk(node: object) -> Iterator[object]:
    yield node
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from _walk(child)


def markdown_strings(at: AppTest) -> list[tuple[str, str]]:
    """Every string on the page that Streamlit renders as Markdown, with the element it sits in."""
    found: list[tuple[str, str]] = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None or type(proto).__name__ in PLAIN_ELEMENTS:
            continue
        kind = type(proto).__name__
        for field, value in proto.ListFields():
            if field.name in MARKDOWN_FIELDS and isinstance(value, str):
                found.append((f"{kind}.{field.name}", value))
            elif field.name == "options" and kind == "Radio":
                found += [(f"{kind}.options", str(option)) for option in value]
    return found


def unescaped(at: AppTest) -> list[str]:
    """What on this page let a hostile string through as Markdown or HTML."""
    return [
        f"{what} in {where}: {text[:160]!r}"
        for where, text in markdown_strings(at)
        for what, pattern in UNESCAPED
        if pattern.search(text)
    ]


def _pages(engine: Engine, couple: Couple) -> Iterator[tuple[str, AppTest]]:
    for page in ("home", "assessment", "communication", "conflict", "trust", "connection", "checkin",
                 "progress", "questionnaires", "account"):  # fmt: skip
        yield f"{page} as Ana", as_viewer(app(f"pages/{page}.py"), couple.ana, engine).run()
    at = as_viewer(app("pages/therapist.py"), couple.therapist, engine).run()
    yield "caseload", at
    open_couple(at, couple.couple_id)
    yield "the couple opened by their therapist", at
    yield "therapist's account", as_viewer(app("pages/account.py"), couple.therapist, engine).run()


@pytest.mark.parametrize("name", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_names_and_texts_are_text_on_every_page(app_env: Engine, name: str) -> None:
    """With hostile names for both partners and the therapist, and hostile shared texts and notes, no
    page hands any of them to Markdown unescaped, and every page still draws without an error."""
    couple = _seed(app_env, name)
    problems: dict[str, list[str]] = {}
    for page, at in _pages(app_env, couple):
        assert not at.exception, (page, at.exception)
        assert not [e.value for e in at.error], (page, [e.value for e in at.error])
        assert markdown_strings(at), page
        if found := unescaped(at):
            problems[page] = found
    assert problems == {}


def test_the_checks_catch_a_string_pasted_into_markdown() -> None:
    """The detector itself can fail: each hostile string pasted raw into a caption is caught."""
    for name in HOSTILE.values():
        at = AppTest.from_string(f"import streamlit as st\nst.caption({name!r})").run()
        assert unescaped(at), name
