"""The viewer: the logged-in person on whose behalf a page reads data. Login makes one; every read rule
takes one."""

from __future__ import annotations

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
