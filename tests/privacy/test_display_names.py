"""Display names: letters, marks, numbers, spaces and a little punctuation, from any script; nothing that
could be markup, tracking or a disguise where the name is shown."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from program.auth import accounts
from program.infra.db import read_session, write_session
from program.infra.models import Person, Role
from tests.factories import PASSWORD


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Ana", "Ana"),
        ("  Zoë   Jo-Ann  ", "Zoë Jo-Ann"),
        ("Mary O'Neil & Sam (Sammy) Jr.", "Mary O'Neil & Sam (Sammy) Jr."),
        ("O\u2019Brien", "O\u2019Brien"),
        ("Dr\u00a0Rivera", "Dr Rivera"),  # a no-break space folds to a space
        ("Ｓａｍ", "Ｓａｍ"),  # full-width letters are letters
        ("José", "José"),  # NFC: e + combining acute becomes é
        ("محمد", "محمد"),
        ("李小龍", "李小龍"),
        ("Agent 47", "Agent 47"),
        ("A" * accounts.MAX_NAME_CHARS, "A" * accounts.MAX_NAME_CHARS),
    ],
)
def test_names_people_have_are_accepted(typed: str, stored: str) -> None:
    """Names in any script, with the punctuation names use, are kept (spaces folded, composed)."""
    assert accounts.check_display_name(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "![t](http://evil.example/t.png)",
        "[Reset your password](http://evil.example/reset)",
        '<a href="http://evil.example/a">Ana</a>',
        "<img src=x>",
        ":red[Ana]",
        ":material/skull:",
        "$x$",
        "# Ana",
        "> Ana",
        "Ana*",
        "Ana_",
        "Ana`",
        "Ana %{x}",
        "Ana\x00",
        "Ana\x1b[31m",
        "\u202eanA",  # right-to-left override
        "Ana\u2066",  # bidi isolate
        "An\u200ba",  # zero-width space
        "An\u00ada",  # soft hyphen
        "Ana\ufeff",
        "Ana 🙂",
        "Za" + "\u0301" * 5 + "lgo",  # five combining marks on one letter
        "",
        "   ",
        "---",
        "A" * (accounts.MAX_NAME_CHARS + 1),
        "A" * 10_000,
    ],
)
def test_names_that_could_be_markup_or_a_disguise_are_refused(typed: str) -> None:
    """Markup, controls, format characters, symbols, empty and over-long names get a clear message."""
    with pytest.raises(accounts.AccountError) as refused:
        accounts.check_display_name(typed)
    assert str(refused.value).startswith(("Please", "Tell us", "Your name"))


def test_registration_refuses_a_hostile_name_and_saves_nothing(engine: Engine) -> None:
    """Registering as `![t](http://host/x)` is refused with the rule, and no account is created."""
    account = accounts.NewAccount("ana", "![t](http://evil.example/t.png)", PASSWORD, PASSWORD, Role.PARTNER)
    with pytest.raises(accounts.AccountError, match="letters, numbers, spaces"):
        with write_session(engine) as session:
            accounts.register(session=session, account=account, bcrypt_rounds=4)
    with read_session(engine) as session:
        assert session.exec(select(func.count()).select_from(Person)).one() == 0


def test_registration_stores_the_folded_name(engine: Engine) -> None:
    """What is stored is what check_display_name returns."""
    account = accounts.NewAccount("ana", "  Ana\u00a0 María ", PASSWORD, PASSWORD, Role.PARTNER)
    with write_session(engine) as session:
        person = accounts.register(session=session, account=account, bcrypt_rounds=4)
        assert person.display_name == "Ana María"
