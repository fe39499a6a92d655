"""Short codes people read aloud or type: invites, therapist codes, password resets.

Codes use Crockford's base-32 alphabet (no I, L, O or U), so "0"/"O" and "1"/"I"/"L" cannot be
confused, and are grouped in fours. Only a keyed digest of a code is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def new_code(groups: int) -> str:
    """A random code of `groups` groups of four characters, 20 bits each, like "7KQ2-M9XD-4RTB"."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(groups * 4))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise(typed: str) -> str:
    """The code as typed, without spaces or dashes, upper-cased, with look-alike letters mapped."""
    return "".join(ch for ch in typed.upper() if ch.isalnum()).translate(_LOOKALIKES)


def digest(code: str, key: bytes) -> str:
    """The stored form of a code: HMAC-SHA256 under the server's key, so a leaked table reveals nothing."""
    return hmac.new(key, normalise(code).encode(), hashlib.sha256).hexdigest()


def looks_valid(typed: str, groups: int) -> bool:
    """Whether the typed text has the right length and alphabet to be a code at all."""
    code = normalise(typed)
    return len(code) == groups * 4 and all(ch in ALPHABET for ch in code)
