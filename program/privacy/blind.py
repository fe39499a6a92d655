"""The blind rule, once: a partner's entries for one occasion stay hidden from the other partner (and from a
therapist) until both current partners have done that same occasion; one's own are always visible.

Pure: the callers in access.py read the rows and say who has done what; this decides whose entries show.
"""

from __future__ import annotations

from collections.abc import Collection


def visible_authors(
    viewer_id: int | None, partners: Collection[int], done: Collection[int]
) -> frozenset[int]:
    """Whose entries of one occasion the viewer may see.

    `partners`: the couple's current partners; `done`: who has done the occasion (sent the questionnaire,
    wrote what matters, reviewed the agreement, finished the wishes list). Every current partner's entries
    once the couple has two partners and both have done it; until then only the viewer's own (viewer_id
    None: nobody's, for a view that must be the same for every reader). Never an entry of anyone who is
    not a current partner: a former partner's stays out, and so does whatever the viewer wrote in a couple
    they are no longer in. Whether the viewer may see the couple at all is the caller's check
    (access.require_couple), made first.
    """
    members = frozenset(partners)
    if len(members) == 2 and members <= frozenset(done):
        return members
    return members & {viewer_id} if viewer_id is not None else frozenset()
