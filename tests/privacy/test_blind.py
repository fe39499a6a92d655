"""The blind rule as one pure function (program.privacy.blind.visible_authors), tried as an attacker would:
a partner who wants the other's answers before sending their own, a therapist looking early, a former
partner's entry in a couple that re-formed, a couple of one, a viewer outside the couple."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from program.privacy.blind import visible_authors

ANA, BEN, CARL, THERAPIST = 1, 2, 3, 90


def test_one_partner_sent_shows_only_ones_own() -> None:
    # Ana sent; Ben did not: Ben sees nothing of Ana's (only his own draft), Ana sees her own.
    assert visible_authors(BEN, [ANA, BEN], {ANA}) == {BEN}
    assert visible_authors(ANA, [ANA, BEN], {ANA}) == {ANA}
    # Ben sent, Ana did not: the same the other way round.
    assert visible_authors(ANA, [ANA, BEN], {BEN}) == {ANA}
    assert visible_authors(BEN, [ANA, BEN], {BEN}) == {BEN}


def test_nobody_sent_still_shows_ones_own_draft() -> None:
    assert visible_authors(ANA, [ANA, BEN], set()) == {ANA}
    assert visible_authors(BEN, [ANA, BEN], []) == {BEN}


def test_both_sent_shows_both_to_each_partner() -> None:
    for viewer in (ANA, BEN):
        assert visible_authors(viewer, [ANA, BEN], {ANA, BEN}) == {ANA, BEN}
    # Order and repetition of the inputs do not matter.
    assert visible_authors(ANA, (BEN, ANA), [BEN, ANA, BEN]) == {ANA, BEN}


def test_a_therapist_sees_nothing_until_both_sent() -> None:
    assert visible_authors(THERAPIST, [ANA, BEN], set()) == frozenset()
    assert visible_authors(THERAPIST, [ANA, BEN], {ANA}) == frozenset()
    assert visible_authors(THERAPIST, [ANA, BEN], {BEN}) == frozenset()
    assert visible_authors(THERAPIST, [ANA, BEN], {ANA, BEN}) == {ANA, BEN}


def test_a_view_for_every_reader_shows_nobodys_until_both_sent() -> None:
    # viewer None: nothing viewer-specific (a couple's shared view), so not even "one's own".
    assert visible_authors(None, [ANA, BEN], {ANA}) == frozenset()
    assert visible_authors(None, [ANA, BEN], {ANA, BEN}) == {ANA, BEN}


def test_a_former_partners_entry_never_counts_nor_shows() -> None:
    # Ana and Carl were a couple; Carl left and Ben joined. Carl's sending does not open Ana's answers to
    # Ben, and Carl's entries never show, to anyone, even once both current partners sent.
    assert visible_authors(BEN, [ANA, BEN], {ANA, CARL}) == {BEN}
    assert visible_authors(ANA, [ANA, BEN], {ANA, CARL}) == {ANA}
    assert CARL not in visible_authors(ANA, [ANA, BEN], {ANA, BEN, CARL})
    assert CARL not in visible_authors(THERAPIST, [ANA, BEN], {ANA, BEN, CARL})
    # Carl himself, no longer a partner of this couple, never gets back what he wrote there (whether he may
    # see the couple at all is access.require_couple's question, asked before this rule).
    assert CARL not in visible_authors(CARL, [ANA, BEN], {ANA, BEN, CARL})
    assert visible_authors(CARL, [ANA, BEN], {CARL}) == frozenset()
    assert visible_authors(CARL, [ANA, BEN], {ANA, CARL}) == frozenset()


def test_a_couple_of_one_never_opens() -> None:
    # Ana alone (her partner left, or has not joined yet): her own always, nothing to anyone else.
    assert visible_authors(ANA, [ANA], {ANA}) == {ANA}
    assert visible_authors(ANA, [ANA], set()) == {ANA}
    assert visible_authors(THERAPIST, [ANA], {ANA}) == frozenset()
    assert visible_authors(BEN, [ANA], {ANA, BEN}) == frozenset()
    assert visible_authors(None, [ANA], {ANA}) == frozenset()


def test_no_partners_show_nothing() -> None:
    assert visible_authors(ANA, [], {ANA}) == frozenset()


PEOPLE = st.sampled_from([ANA, BEN, CARL, THERAPIST])


@given(
    viewer=st.one_of(st.none(), PEOPLE),
    partners=st.sets(PEOPLE, max_size=3),
    done=st.sets(PEOPLE, max_size=4),
)
def test_the_rule_against_its_statement(viewer: int | None, partners: set[int], done: set[int]) -> None:
    """PRODUCT.md, read independently: another's entry shows only when the couple has two partners who
    both did it; one's own always; nobody else's, ever."""
    shown = visible_authors(viewer, partners, done)
    assert shown <= partners
    for author in partners:
        everyone_did = len(partners) == 2 and partners <= done
        assert (author in shown) == (everyone_did or author == viewer)
