"""The viewer: the logged-in person on whose behalf a page reads data. Login makes one; every read rule
takes one."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from program.infra.models import Person, Role


@dataclass(frozen=True)
class Viewer:
    """The logged-in person on whose behalf a page reads data."""

    person_id: int
    username: str
    display_name: str
    role: Role

    @classmethod
    def of(cls, person: Person) -> Viewer:
        """The viewer for a person row."""
        assert person.id is not None
        return cls(person.id, person.username, person.display_name, Role(person.role))


def normalise_username(raw: str) -> str:
    """The canonical form of a username: trimmed, case-folded, compatibility-normalised (full-width
    letters become plain ones), so look-alikes of a name are that name."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold()).strip()
