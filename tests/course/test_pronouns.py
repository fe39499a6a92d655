"""Optional pronouns: kept trimmed (up to 40 characters, no control characters), used in text about the
person ("they" when none, or none usable, were given), and never put into a sentence as anything but a
plain word."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from program.auth import accounts
from program.course import home_path, journey, reminders
from program.course.pronouns import THEY, pronoun_forms
from program.infra.db import read_session, write_session
from program.infra.models import Person
from program.privacy.viewer import Viewer
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, T0, finish_assessment

TITLES = {key: key for key in journey.ORDER}


def _set(engine: Engine, viewer: Viewer, typed: str | None) -> str | None:
    with write_session(engine) as session:
        return accounts.set_pronouns(session=session, viewer=viewer, pronouns=typed)


def _stored(engine: Engine, viewer: Viewer) -> str | None:
    with read_session(engine) as session:
        person = session.get(Person, viewer.person_id)
        assert person is not None
        return person.pronouns


def test_pronouns_are_kept_trimmed_and_emptied_to_none(engine: Engine) -> None:
    """Spaces around and inside are folded; an empty or blank entry clears them."""
    ana = make_person(engine, "ana")
    assert _set(engine, ana, "  she /  her  ") == "she / her"
    assert _stored(engine, ana) == "she / her"
    assert _set(engine, ana, "   ") is None and _stored(engine, ana) is None
    assert _set(engine, ana, "they/them") == "they/them"
    assert _set(engine, ana, "") is None and _stored(engine, ana) is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("x" * 41, "40 characters or fewer"),
        ("she/her\x00", "control characters"),
        ("she\nher", "control characters"),
    ],
)
def test_bad_pronouns_are_refused_and_nothing_is_saved(engine: Engine, typed: str, message: str) -> None:
    """Too long, a NUL or a line break: a clear message, and what was kept before stays."""
    ana = make_person(engine, "ana")
    _set(engine, ana, "he/him")
    with pytest.raises(accounts.AccountError, match=message):
        _set(engine, ana, typed)
    assert _stored(engine, ana) == "he/him"


def test_forty_characters_are_accepted(engine: Engine) -> None:
    ana = make_person(engine, "ana")
    assert _set(engine, ana, "  " + "y" * 40 + "  ") == "y" * 40


@pytest.mark.parametrize(
    ("typed", "subject", "obj", "possessive"),
    [
        (None, "they", "them", "their"),
        ("she/her", "she", "her", "her"),
        ("She / Her / Hers", "she", "her", "her"),
        ("he/him", "he", "him", "his"),
        ("they/them", "they", "them", "their"),
        ("she/they", "she", "her", "her"),
        ("xe/xem/xyr", "xe", "xem", "xyr"),
        ("fae/faer/faer", "fae", "faer", "faer"),
        ("any pronouns", "they", "them", "their"),
        ("fae/faer", "they", "them", "their"),
        ("**x**/[y](http://e.vil)/<b>z</b>", "they", "them", "their"),
        ("a/b/c d", "they", "them", "their"),
    ],
)
def test_the_words_used_in_text(typed: str | None, subject: str, obj: str, possessive: str) -> None:
    """Known sets by their first word, custom sets of three plain words; anything else says "they"."""
    forms = pronoun_forms(typed)
    assert (forms.subject, forms.object, forms.possessive) == (subject, obj, possessive)


def test_they_takes_plural_verbs_and_she_singular() -> None:
    assert THEY.verb("has", "have") == "have"
    assert pronoun_forms("she/her").verb("has", "have") == "has"


def _pair(engine: Engine, pronouns: str | None) -> tuple[Viewer, Viewer]:
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    if pronouns is not None:
        _set(engine, ben, pronouns)
    return ana, ben


def _journey(engine: Engine, viewer: Viewer, now: datetime | None = None) -> journey.Journey:
    with read_session(engine) as session:
        return journey.load_journey(session=session, viewer=viewer, program=PROGRAM, now=now)


@pytest.mark.parametrize(("pronouns", "half"), [(None, "their half"), ("he/him", "his half")])
def test_the_waiting_line_uses_the_partners_pronouns(engine: Engine, pronouns: str | None, half: str) -> None:
    """Ana waits on Ben's half of the assessment: "his half" once he gave he/him, "their half" before."""
    ana, _ = _pair(engine, pronouns)
    finish_assessment(engine, ana)
    path = home_path.build(_journey(engine, ana), titles=TITLES, due=[])
    line = f"Ben still has to finish {half} of the assessment; then communication opens for you both."
    assert path.waiting_on_partner == [line]


@pytest.mark.parametrize(
    ("pronouns", "back"), [(None, "until they are back"), ("she/her", "until she is back")]
)
def test_the_away_news_and_the_waiting_conversation_use_pronouns(
    engine: Engine, pronouns: str | None, back: str
) -> None:
    """Ben is away: Ana's news says so with his pronouns (or "they"), and her next stage's conversation
    waits "for him to reach it"."""
    ana, ben = _pair(engine, pronouns)
    finish_assessment(engine, ana)
    finish_assessment(engine, ben)
    progress = _journey(engine, ana, T0 + timedelta(days=400))
    assert progress.solo == journey.Solo.AWAY
    news = reminders.partner_news(progress)
    assert any(line.startswith("Ben hasn't finished a step") and line.endswith(back + ".") for line in news)
    second = PROGRAM.stages[1].key
    # Ben's partner is still at the first stage, so the second stage's conversations wait for him.
    progress.me.done.setdefault(PROGRAM.stages[0].key, {})["check-end"] = T0
    waiting = progress.joint_waiting_reason(second)
    assert waiting is not None
    forms = pronoun_forms(pronouns)
    assert f"it opens for {forms.object} once {forms.subject} {forms.verb('has', 'have')} finished" in waiting


def test_a_partner_who_is_present_gets_no_away_news(engine: Engine) -> None:
    ana, ben = _pair(engine, "she/her")
    finish_assessment(engine, ben)
    assert not any("hasn't finished a step" in line for line in reminders.partner_news(_journey(engine, ana)))
