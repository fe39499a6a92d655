"""Short codes people read aloud or type: invites, therapist codes, password resets.

Codes use Crockford's base-32 alphabet (no I, L, O or U), so "0"/"O" and "1"/"I"/"L" cannot be
confused, and are grouped in fours. Only a keyed digest of a code is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, SQLModel, delete

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})
# Control (NUL, escape...), format (zero-width, right-to-left override) and lone surrogate characters: never
# part of anything a person means to type, invisible on screen, and PostgreSQL refuses NUL in text outright.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
HIDDEN_CHARACTER_MESSAGE = (
    "That code has an invisible or control character in it (often left by copying and pasting). "
    "Please type it again."
)
# Far more than any code typed with spaces and dashes; longer text is refused before any work on it.
_LONGEST_TYPED = 64


def new_code(groups: int) -> str:
    """A random code of `groups` groups of four characters, 20 bits each, like "7KQ2-M9XD-4RTB"."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(groups * 4))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def has_hidden_characters(typed: str) -> bool:
    """Whether typed text holds a control, format or surrogate character that no keyboard types on purpose."""
    return any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in typed)


def normalise(typed: str) -> str:
    """The code as typed, without spaces or dashes, upper-cased, with look-alike letters mapped."""
    return "".join(ch for ch in typed.upper() if ch.isalnum()).translate(_LOOKALIKES)


def digest(code: str, key: bytes) -> str:
    """The stored form of a code: HMAC-SHA256 under the server's key, so a leaked table reveals nothing."""
    return hmac.new(key, normalise(code).encode(), hashlib.sha256).hexdigest()


def looks_valid(typed: str, groups: int) -> bool:
    """Whether the typed text has the right length and alphabet to be a code at all."""
    if len(typed) > _LONGEST_TYPED or has_hidden_characters(typed):
        return False
    code = normalise(typed)
    return len(code) == groups * 4 and all(ch in ALPHABET for ch in code)


@dataclass(frozen=True)
class IssuedCode:
    """A code just made (or an invite shown again to its maker): the code itself and when it stops working."""

    code: str
    expires_at: datetime


def issue(
    session: Session,
    *,
    table: type[SQLModel],
    replaces: ColumnElement[bool],
    row: Callable[[str, IssuedCode], SQLModel],
    groups: int,
    lifetime: timedelta,
    key: bytes,
    now: datetime,
) -> IssuedCode:
    """Make a new code of `groups` groups that works for `lifetime` from `now`, to be shown once.

    The rows of `table` that `replaces` selects (its owner's earlier codes) are deleted first, so they stop
    working. `row(code_hash, issued)` builds the row to store, found later by that keyed digest: the code
    itself is never stored in the clear (an invite keeps it encrypted at rest, for its maker to see again).
    """
    session.exec(delete(table).where(replaces))
    issued = IssuedCode(new_code(groups), now + lifetime)
    session.add(row(digest(issued.code, key), issued))
    return issued


def typed_digest(
    typed: str,
    *,
    groups: int,
    key: bytes,
    refuse: Callable[[str], Exception],
    malformed: str,
    hidden: str = HIDDEN_CHARACTER_MESSAGE,
) -> str:
    """The digest to look a typed code up by. Raises `refuse(hidden)` for an invisible or control character
    in it, and `refuse(malformed)` for text that cannot be a code of `groups` groups at all."""
    if has_hidden_characters(typed):
        raise refuse(hidden)
    if not looks_valid(typed, groups):
        raise refuse(malformed)
    return digest(typed, key)
