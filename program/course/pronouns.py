"""A person's optional pronouns, as the words the app uses in text about them ("they" when none given).

Pronouns are free text the person typed (account page). Only plain words are ever put into a sentence: a
well-known set by its first word ("she/her", "he/him", "they/them", "xe/xem", "ze/zir"), or a custom set of
three plain words (subject/object/possessive, e.g. "fae/faer/faer"). Anything else keeps "they"; the typed
text itself is shown as text only where the person's pronouns are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]{0,11}")


@dataclass(frozen=True)
class PronounForms:
    """The forms of a person's pronouns a sentence needs."""

    subject: str  # they / she
    object: str  # them / her
    possessive: str  # their / her
    plural_verbs: bool  # "they have" / "she has"

    def verb(self, singular: str, plural: str) -> str:
        """The verb form that goes with the subject: verb("has", "have")."""
        return plural if self.plural_verbs else singular


THEY = PronounForms("they", "them", "their", True)
_KNOWN = {
    "they": THEY,
    "she": PronounForms("she", "her", "her", False),
    "he": PronounForms("he", "him", "his", False),
    "xe": PronounForms("xe", "xem", "xyr", False),
    "ze": PronounForms("ze", "zir", "zir", False),
}


def pronoun_forms(pronouns: str | None) -> PronounForms:
    """The words for text about a person with these pronouns; "they" when none (or none usable) given."""
    if not pronouns:
        return THEY
    words = [w.strip().lower() for w in re.split(r"[/,]", pronouns)]
    if words and words[0] in _KNOWN:
        return _KNOWN[words[0]]
    if len(words) == 3 and all(_WORD.fullmatch(w) for w in words):
        return PronounForms(words[0], words[1], words[2], False)
    return THEY
