"""Whose doing a score measures: every shipped subscale rates one perspective only.

A stage check that adds "I listen well" to "we talk over each other" gives one number that can rise while the
couple gets worse. So every item of Kindred's own questionnaires declares its perspective ("me": what I do;
"partner": what my partner does; "us": the two of us, or how our relationship is), and a subscale holds one
perspective only. Item keys that ever shipped stay, with their reverse keying, so answers already stored still
score, the same way round.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from program.course import journey, questionnaires
from program.course.curriculum import Instrument, Item, Program, load_program
from program.course.scoring import score
from program.infra.db import write_session
from program.infra.models import StageOpening
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, T0, answer_all, do_step
from tests.ui.helpers import app, as_viewer

BASELINE = "kindred-baseline"

# Every item key each shipped instrument has had, with its reverse keying (before issue 11 split the checks).
# Stored answers are keyed by these: a key that vanished would make old answers unscorable, and a flipped
# `reverse` would score them the wrong way round.
SHIPPED_BEFORE: dict[str, dict[str, bool]] = {
    "communication-check": {
        "com-say-without-blame": False,
        "com-talk-over": True,
        "com-understand-first": False,
        "com-miss-bids": True,
        "com-sum-up": False,
    },
    "conflict-check": {
        "con-raise-gently": False,
        "con-heats-fast": True,
        "con-pause-return": False,
        "con-reconnect": False,
        "con-against-each-other": True,
    },
    "trust-check": {
        "tru-follow-through": False,
        "tru-wonder-hidden": True,
        "tru-keep-my-word": False,
        "tru-assume-worst": True,
        "tru-settle-hurts": False,
    },
    "connection-check": {
        "cnx-say-thanks": False,
        "cnx-days-pass": True,
        "cnx-rituals": False,
        "cnx-curious": False,
        "cnx-affection": False,
    },
    BASELINE: {
        "com-heard": False,
        "tru-rely": False,
        "cnx-fun": False,
        "con-escalate": True,
        "sat-glad": False,
        "tru-doubt": True,
        "com-bring-up": False,
        "cnx-lonely": True,
        "con-repair": False,
        "sat-hopeful": False,
        "com-guess": True,
        "tru-back": False,
        "con-gentle": False,
        "cnx-affection": False,
        "sat-let-down": True,
        "com-understood": False,
        "con-stuck": True,
        "cnx-respond": False,
        "tru-check": True,
        "sat-adds": False,
        "com-hold-back": True,
        "con-pause": False,
        "tru-honest": False,
        "cnx-intimacy": False,
        "sat-good-in-me": False,
    },
}


@pytest.fixture(scope="module")
def program() -> Program:
    """The shipped content, loaded once."""
    return load_program()


def _shipped(program: Program) -> list[Instrument]:
    """Kindred's own instruments (an operator's licensed ones keep their publisher's structure)."""
    return [i for key, i in sorted(program.instruments.items()) if key not in program.extra_instruments]


def _stage_checks(program: Program) -> list[Instrument]:
    return [program.instruments[stage.check] for stage in program.stages]


def _words(item: Item) -> set[str]:
    return set(re.findall(r"[a-z']+", item.text.lower()))


def test_every_shipped_item_declares_its_perspective(program: Program) -> None:
    """No shipped statement leaves its perspective to a guess: the baseline and all four stage checks."""
    shipped = _shipped(program)
    assert {i.key for i in shipped} >= {BASELINE, *(s.check for s in program.stages)}
    untagged = [(i.key, item.key) for i in shipped for item in i.items if item.perspective is None]
    assert untagged == []


def test_no_shipped_subscale_mixes_perspectives(program: Program) -> None:
    """Each subscale's score is about one thing: me, my partner, or us, never a blend."""
    mixed = {
        (instrument.key, subscale.key): found
        for instrument in _shipped(program)
        for subscale in instrument.subscales
        if len(found := sorted({str(i.perspective) for i in instrument.items_of(subscale.key)})) != 1
    }
    assert mixed == {}


def test_each_stage_check_scores_what_i_do_apart_from_how_we_are(program: Program) -> None:
    """Every stage check has a 'me' subscale and a separate 'us' one: a partner sees both kinds of change."""
    for check in _stage_checks(program):
        perspectives = [check.items_of(s.key)[0].perspective for s in check.subscales]
        assert "me" in perspectives and "us" in perspectives, check.key
        assert len(perspectives) == len(set(perspectives)), check.key  # one subscale per perspective


def test_each_stage_check_subscale_is_short_but_not_a_single_item(program: Program) -> None:
    """A score rests on at least three statements, and reverse-worded ones sit in every check."""
    for check in _stage_checks(program):
        for subscale in check.subscales:
            assert len(check.items_of(subscale.key)) >= 3, (check.key, subscale.key)
        assert any(item.reverse for item in check.items), check.key


def test_the_declared_perspective_matches_the_wording(program: Program) -> None:
    """A mis-tagged statement is caught: 'me' items speak of what I do and never start from 'we' or 'my
    partner'; 'us' items speak of the two of us; 'partner' items name my partner."""
    wrong: list[tuple[str, str, str]] = []
    for instrument in _shipped(program):
        for item in instrument.items:
            words, text = _words(item), item.text.lower()
            if item.perspective == "me":
                fits = "i" in words and not text.startswith(("we ", "our ", "my partner"))
            elif item.perspective == "us":
                fits = bool(words & {"we", "us", "our", "ourselves", "relationship"}) or "each other" in text
            else:
                fits = "my partner" in text
            if not fits:
                wrong.append((instrument.key, item.key, str(item.perspective)))
    assert wrong == []


@pytest.mark.parametrize("instrument", sorted(SHIPPED_BEFORE))
def test_answers_already_stored_still_score_the_same_way_round(program: Program, instrument: str) -> None:
    """Every item key that ever shipped is still there with the same reverse keying, so stored answers map."""
    now = {item.key: item.reverse for item in program.instruments[instrument].items}
    assert {key: now.get(key) for key in SHIPPED_BEFORE[instrument]} == SHIPPED_BEFORE[instrument]


def test_perspective_is_optional_for_an_operator_instrument() -> None:
    """A licensed questionnaire need not declare perspectives; a declared one must be me, us or partner."""
    item = Item(key="happy", subscale="overall", text="How happy are you?")
    assert item.perspective is None
    assert Item(key="happy", subscale="overall", text="We laugh.", perspective="us").perspective == "us"
    with pytest.raises(ValueError, match="perspective"):
        Item.model_validate({"key": "laugh", "subscale": "s1", "text": "We laugh.", "perspective": "them"})


@pytest.mark.parametrize("check", ["communication-check", "conflict-check", "connection-check"])
def test_a_check_answered_before_the_split_still_scores(program: Program, check: str) -> None:
    """Answers stored under the old five statements still score without an error; a subscale made of kept
    statements gets its score from them, the reverse-worded ones turned round, and one made mostly of new
    statements says 'not enough answers' (None) instead of a number that rests on one statement."""
    instrument = program.instruments[check]
    # Every old answer on the good side: 6 of 7, or 2 of 7 where the statement is worded the other way round.
    old = {key: (2 if reverse else 6) for key, reverse in SHIPPED_BEFORE[check].items()}
    scores = score(instrument, old)
    for subscale in instrument.subscales:
        kept = [i for i in instrument.items_of(subscale.key) if i.key in old]
        enough = len(kept) >= math.ceil(instrument.min_answered * len(instrument.items_of(subscale.key)))
        assert scores[subscale.key].score == (6.0 if enough else None), (check, subscale.key)
    assert any(s.score is not None for s in scores.values()), check


def test_the_stage_page_shows_what_i_do_and_how_we_are_as_separate_changes(app_env: Engine) -> None:
    """Ana did her part better while things between them got worse: her finished stage page shows both
    moves, one per perspective, instead of one blended number that stays flat."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    couple = make_couple(app_env, ana, ben)
    with write_session(app_env) as session:
        session.add(StageOpening(couple_id=couple, stage="communication"))
    check = PROGRAM.instruments[PROGRAM.stage_by_key["communication"].check]
    answer_all(app_env, ana, check.key, questionnaires.stage_occasion("communication", "start"), 4)
    for step in journey.stage_steps(PROGRAM, "communication")[1:-1]:
        do_step(app_env, ana, "communication", step)
    wanted = {"me": 6, "us": 2}  # scored values; a reverse-worded statement is answered the other way round
    later = T0 + timedelta(days=7)
    with write_session(app_env) as session:
        for item in check.items:
            value = wanted[item.subscale]
            answer = check.scale.max + check.scale.min - value if item.reverse else value
            questionnaires.save_answer(
                session=session, viewer=ana, instrument=check, item=item.key, value=answer,
                occasion=questionnaires.stage_occasion("communication", "end"), now=later,
            )  # fmt: skip
        questionnaires.submit(
            session=session, viewer=ana, instrument=check, now=later,
            occasion=questionnaires.stage_occasion("communication", "end"),
        )  # fmt: skip
    at = as_viewer(app("pages/communication.py"), ana, app_env).run()
    assert not at.exception
    shown = {m.label: (m.value, m.delta) for m in at.metric}
    assert shown == {
        "What I do: start to end": ("6.0", "+2.0"),
        "How we are together: start to end": ("2.0", "-2.0"),
    }
