"""curriculum.exactly_in_order: the check of the content lists whose keys the code names (the keeping plan's
three parts, the session feedback's four items)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from program.course.curriculum import exactly_in_order


@dataclass(frozen=True)
class Part:
    key: str


KEYS = ("keep", "watch", "help")


def test_the_named_keys_in_order_pass_unchanged() -> None:
    parts = [Part("keep"), Part("watch"), Part("help")]
    assert exactly_in_order(parts, KEYS) is parts


@pytest.mark.parametrize(
    "keys", [("keep", "watch"), ("keep", "help", "watch"), ("keep", "watch", "help", "help"), ()]
)
def test_a_missing_moved_or_extra_key_is_refused_with_the_expected_list(keys: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="must be exactly keep, watch, help, in that order"):
        exactly_in_order([Part(k) for k in keys], KEYS)
