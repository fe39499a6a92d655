"""The optional intimacy module: opened by mutual consent, with a private wishes list.

Privacy rules, and the choices made where the brief left room:
- Offered to a partner once they have finished Connection, the last stage. Each partner privately says
  yes or no and may change it at any time. The module opens only while both current partners say yes.
- Nobody learns the other's "no" or that they have not answered: the only thing about the other that any
  reader returns (access.readable_module) is whether the module is open. Nothing is sent to the other
  partner when someone chooses (no notice, reminder or news), the confirmation after saving depends only
  on the saver's own answer and on "open", a therapist learns nothing at all, and the export holds only
  the person's own rows.
- A partner who changes to "no" closes the module for both. To the other it then simply reads as not
  open, in the very words shown before anyone answered ("It opens when you both choose it"): we never say
  "closed by your partner". The other may of course remember it was open; what they see cannot tell a
  withdrawal from a "no" or from no answer. Marks are kept (privately) and the common list comes back if
  both choose it again.
- Wishes: each partner marks items yes / maybe / no on their own, then says "I'm done". Only while the
  module is open and both are done do both see the common items: those both marked yes or maybe, in the
  list's own order, never which of the two marks either gave (a "maybe" is a real maybe, and a reader
  who learned it could feel pressed). Items either marked "no" or left unmarked never show. Marks can be
  changed after "I'm done": the person stays done and the common list updates at once (it can only ever
  grow or shrink by an item both marked yes or maybe).
- Everything belongs to the couple it was given in: a couple that ends takes its choices and marks with
  it, and a new couple (even of the same two people) starts with no answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator
from sqlmodel import Session, select

from program.course import journey
from program.course.curriculum import STAGE_KEYS, Key, Program, Text, _Content, read_content
from program.course.rows import add_or_winner
from program.infra import audit
from program.infra.models import ModuleChoice, Role, WishMark
from program.infra.settings import CONTENT_DIR
from program.privacy import access
from program.privacy.access import ModuleView, WishesView
from program.privacy.viewer import Viewer

MODULE = "intimacy"
MARKS = ("yes", "maybe", "no")
LAST_STAGE = STAGE_KEYS[-1]
OPT_OUT_WORDS = "stop"
NOT_OPEN = "The intimacy module is not open. It opens when you both choose it."


class IntimacyError(ValueError):
    """A choice or mark that cannot be saved; the message says why, in words for the person."""


class Section(_Content):
    """One part of the module's reading."""

    key: Key
    title: Text
    body: Text


class TouchStep(_Content):
    """One step of the non-demand touch practice, each with its own explicit opt-out."""

    key: Key
    title: Text
    body: Text
    opt_out: Text

    @model_validator(mode="after")
    def _says_you_can_stop(self) -> TouchStep:
        if OPT_OUT_WORDS not in self.opt_out.lower():
            raise ValueError(f"step {self.key!r}: opt_out must say plainly that you can stop")
        return self


class TouchPractice(_Content):
    """The touch practice: what it is, and its steps."""

    title: Text
    intro: Text
    steps: Annotated[list[TouchStep], Field(min_length=3)]


class Wish(_Content):
    """One idea on the wishes list."""

    key: Key
    text: Text
    kind: Literal["tender", "playful", "practical"]


class WishesList(_Content):
    """The wishes list: 20 to 30 ideas, tender, playful or practical, nothing explicit."""

    title: Text
    intro: Text
    items: Annotated[list[Wish], Field(min_length=20, max_length=30)]


class IntimacyContent(_Content):
    """program/course/content/intimacy.toml."""

    key: Literal["intimacy"]
    title: Text
    offer: Text
    offer_detail: Text
    choice_question: Text
    not_yet: Text
    sections: Annotated[list[Section], Field(min_length=3)]
    touch: TouchPractice
    wishes: WishesList

    @model_validator(mode="after")
    def _unique_keys(self) -> IntimacyContent:
        for what, keys in (
            ("sections", [s.key for s in self.sections]),
            ("touch steps", [s.key for s in self.touch.steps]),
            ("wishes", [w.key for w in self.wishes.items]),
        ):
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            if repeated:
                raise ValueError(f"{what} keys must be unique; repeated: {', '.join(repeated)}")
        if "both" not in self.offer:
            raise ValueError("offer must say the module opens when you both choose it")
        return self

    @property
    def item_keys(self) -> list[str]:
        """The wishes list's keys, in order."""
        return [w.key for w in self.wishes.items]

    def wish_text(self, key: str) -> str:
        """The words of one wish."""
        return next(w.text for w in self.wishes.items if w.key == key)


def load_content(path: Path = CONTENT_DIR / "intimacy.toml") -> IntimacyContent:
    """Read and validate the module's content; a broken file raises ContentError naming the field."""
    return read_content(IntimacyContent, path, f"{path.parent.name}/{path.name}")


@cache
def content() -> IntimacyContent:
    """The shipped content, read once per process."""
    return load_content()


@dataclass(frozen=True)
class Standing:
    """Where the module stands for one partner: offered to them yet, and what they may know of it."""

    offered: bool
    couple_id: int | None
    module: ModuleView | None  # None: not in a couple of two


def standing(*, session: Session, viewer: Viewer, program: Program) -> Standing:
    """Whether the module is offered to the viewer (they finished the last stage in their current couple,
    which has both partners), and their view of it."""
    progress = journey.load_journey(session=session, viewer=viewer, program=program)
    couple_id = progress.couple_id
    if couple_id is None or progress.partner is None:
        return Standing(False, couple_id, None)
    view = access.readable_module(session=session, viewer=viewer, couple_id=couple_id, module=MODULE)
    return Standing(progress.me.finished_at(LAST_STAGE) is not None, couple_id, view)


def is_open(*, session: Session, viewer: Viewer) -> bool:
    """Whether the module is open for the viewer's current couple (the menu asks this on every page)."""
    if viewer.role != Role.PARTNER:
        return False
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    if couple_id is None:
        return False
    return access.readable_module(session=session, viewer=viewer, couple_id=couple_id, module=MODULE).is_open


def _require_offered(session: Session, viewer: Viewer, program: Program) -> int:
    if viewer.role != Role.PARTNER:
        raise IntimacyError("Only partners in a couple can choose this module.")
    where = standing(session=session, viewer=viewer, program=program)
    if where.couple_id is None or where.module is None:
        raise IntimacyError("This module is for a couple doing Kindred together.")
    if not where.offered:
        raise IntimacyError(content().not_yet)
    return where.couple_id


def _own_choice(session: Session, viewer: Viewer, couple_id: int) -> ModuleChoice | None:
    return session.exec(
        select(ModuleChoice).where(
            ModuleChoice.person_id == viewer.person_id,
            ModuleChoice.couple_id == couple_id,
            ModuleChoice.module == MODULE,
        )
    ).first()


def choose(*, session: Session, viewer: Viewer, program: Program, wants: bool, now: datetime) -> ModuleView:
    """Save the viewer's private yes or no; returns what they may now know (their answer, and "open")."""
    couple_id = _require_offered(session, viewer, program)
    row = _own_choice(session, viewer, couple_id)
    if row is None:
        row = ModuleChoice(person_id=viewer.person_id, couple_id=couple_id, module=MODULE, wants=wants)
        # Two tabs answering at once: the loser updates the winner's row instead of failing.
        row = add_or_winner(session, row, lambda: _own_choice(session, viewer, couple_id))
    row.wants = wants
    row.chosen_at = now
    session.add(row)
    # The trail records that a choice was made, never which: an operator reading it learns no answer.
    audit.record(session, action="module.choice", actor_id=viewer.person_id, couple_id=couple_id,
                 detail=MODULE)  # fmt: skip
    session.flush()
    return access.readable_module(session=session, viewer=viewer, couple_id=couple_id, module=MODULE)


def _require_open(session: Session, viewer: Viewer, program: Program) -> int:
    couple_id = _require_offered(session, viewer, program)
    if not access.readable_module(session=session, viewer=viewer, couple_id=couple_id, module=MODULE).is_open:
        raise IntimacyError(NOT_OPEN)
    return couple_id


def save_marks(
    *,
    session: Session,
    viewer: Viewer,
    program: Program,
    marks: Mapping[str, str | None],
    done: bool,
    now: datetime,
) -> WishesView:
    """Save the viewer's marks (None: leave unmarked, which counts like "no") and, with done, say they
    finished their list. Everything is checked first: a refused save changes nothing."""
    couple_id = _require_open(session, viewer, program)
    keys = content().item_keys
    unknown = [item for item in marks if item not in keys]
    if unknown:
        raise IntimacyError("That idea is not on the wishes list. Please reload the page and try again.")
    wrong = [m for m in marks.values() if m is not None and m not in MARKS]
    if wrong:
        raise IntimacyError("Please mark each idea yes, maybe or no.")
    existing = {
        m.item: m
        for m in session.exec(
            select(WishMark).where(WishMark.person_id == viewer.person_id, WishMark.couple_id == couple_id)
        )
    }
    for item, mark in marks.items():
        row = existing.get(item)
        if mark is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = WishMark(person_id=viewer.person_id, couple_id=couple_id, item=item, mark=mark)
        elif row.mark == mark:
            continue
        row.mark = mark
        row.updated_at = now
        session.add(row)
    if done:
        choice = _own_choice(session, viewer, couple_id)
        assert choice is not None  # the module is open, so the viewer said yes
        if choice.wishes_finished_at is None:
            choice.wishes_finished_at = now
            session.add(choice)
    session.flush()
    return access.readable_wishes(
        session=session, viewer=viewer, couple_id=couple_id, module=MODULE, items=keys
    )


def wishes(*, session: Session, viewer: Viewer, couple_id: int) -> WishesView:
    """The viewer's wishes list view (own marks; the common items when both may see them)."""
    return access.readable_wishes(
        session=session, viewer=viewer, couple_id=couple_id, module=MODULE, items=content().item_keys
    )
