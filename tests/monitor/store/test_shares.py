"""How instances split a location's monitors: the shard of a name, the fair share, and
what one instance releases or claims.  Pure: no clock, no database.

Beside the cases, a simulation of whole clusters (instances joining, leaving and dying,
each following ``plan_share`` against one pool of shards) shows that the shares settle
at the fair share with every shard held once.
"""

from __future__ import annotations

import zlib
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor.store._shares import SHARDS, fair_share, monitors_in, plan_share, shard_of


def test_a_monitors_shard_is_fixed_whatever_the_process() -> None:
    """The shard is CRC-32 of the name's UTF-8 modulo 256: the same in every process (no
    salted hash) and every version; these values must never change, or monitors would
    move between instances on an upgrade."""
    assert [shard_of(n) for n in ("api", "web", "db", "café")] == [15, 81, 40, 181]
    assert shard_of("api") == zlib.crc32(b"api") % 256
    assert shard_of("api", shards=16) == zlib.crc32(b"api") % 16
    assert 0 <= shard_of("\ud800 odd") < SHARDS  # a lone surrogate does not raise


def test_monitors_spread_evenly_over_the_shards() -> None:
    """25,600 names fill each of the 256 shards with about 100 (none under 60 or over
    140): an instance's share of shards is its share of monitors."""
    counts = Counter(shard_of(f"monitor-{n}") for n in range(25_600))
    assert len(counts) == SHARDS
    assert min(counts.values()) >= 60
    assert max(counts.values()) <= 140


def test_monitors_in_picks_the_monitors_of_the_shards_held() -> None:
    """The monitors an instance probes are those whose shard it holds, in their order."""
    names = ["api", "web", "db", "café"]
    assert monitors_in(names, {15, 40}) == ["api", "db"]
    assert monitors_in(names, set()) == []
    assert monitors_in(names, range(SHARDS)) == names


def test_the_fair_share_is_the_ceiling_of_shards_over_live_instances() -> None:
    """256 over 1, 3, 4 and 300 instances; an instance that sees none alive (not even
    itself) takes everything rather than nothing."""
    assert [fair_share(256, n) for n in (1, 3, 4, 300, 0)] == [256, 86, 64, 1, 256]


def test_an_instance_above_its_share_releases_the_highest_numbered_shards() -> None:
    """Holding all 256 when a second instance appears: keep 0-127, release 128-255."""
    share = plan_share(range(256), live=2)
    assert (share.fair, share.claim) == (128, 0)
    assert share.release == frozenset(range(128, 256))


def test_an_instance_below_its_share_claims_the_difference() -> None:
    """Holding 60 of a fair 86: claim 26 more, release nothing; at its share, nothing."""
    share = plan_share(range(60), live=3)
    assert (share.fair, share.release, share.claim) == (86, frozenset(), 26)
    at = plan_share(range(86), live=3)
    assert (at.release, at.claim) == (frozenset(), 0)


@given(
    held=st.frozensets(st.integers(0, SHARDS - 1)),
    live=st.integers(0, 20),
)
def test_a_plan_never_leaves_an_instance_above_its_share_or_claims_past_it(
    held: frozenset[int], live: int
) -> None:
    """Whatever is held and however many are alive: what is released was held, what is
    kept is at most the fair share, and claims only fill up to it."""
    share = plan_share(held, live)
    assert share.release <= held
    kept = held - share.release
    assert len(kept) == min(len(held), share.fair)
    assert not (share.release and share.claim)
    if not share.release:
        assert len(kept) + share.claim == share.fair


def settle(held: dict[str, set[int]], rounds: int = 10) -> None:
    """Rounds of every instance in turn against one pool of shards: release what is
    beyond the fair share, claim the lowest free ones up to it."""
    for _ in range(rounds):
        for name in sorted(held):
            share = plan_share(held[name], len(held))
            held[name] -= share.release
            taken = set().union(*held.values())
            free = [s for s in range(SHARDS) if s not in taken]
            held[name] |= set(free[: share.claim])


@settings(max_examples=50)
@given(
    events=st.lists(
        st.tuples(st.sampled_from(["join", "leave"]), st.integers(0, 9)),
        min_size=1,
        max_size=12,
    )
)
def test_shares_settle_at_the_fair_share_with_every_shard_held_once(
    events: list[tuple[str, int]],
) -> None:
    """Instances join and leave (or die: their shards come free) in any order; after a
    few rounds each holds at most the fair share, no shard is held twice, and while
    anyone is alive every shard is held."""
    held: dict[str, set[int]] = {}
    for what, n in events:
        name = f"i{n}"
        if what == "join":
            held.setdefault(name, set())
        else:
            held.pop(name, None)
        settle(held, rounds=3)
    settle(held)
    every = [s for shards in held.values() for s in shards]
    assert len(every) == len(set(every))
    if held:
        fair = fair_share(SHARDS, len(held))
        assert all(len(shards) <= fair for shards in held.values())
        assert set(every) == set(range(SHARDS))
