"""What an instance probes early when shards come to it (``Membership._move``): only the
monitors of shards whose last holder's lease ran out.

The coordinator and the cluster here are stand-ins recording what they are told (the
runner's fleet and a PostgreSQL cluster are the real ones in test_cluster_takeover.py,
which holds a killed instance's monitors to their bound); what is under test is the
membership's choice, which needs neither."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from tether.monitor.cluster._membership import Membership
from tether.monitor.store._shares import SHARDS, shard_of

NAMES = [f"m{i:05d}" for i in range(2000)]


@dataclass
class _Monitor:
    interval: float


@dataclass
class _Coordinator:
    """Records the monitors adopted and those asked to be probed early."""

    placed: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
    adopted: list[str] = field(default_factory=list)
    early: dict[str, float] = field(default_factory=dict)

    def place(self) -> tuple[frozenset[str], frozenset[str]]:
        return self.placed

    def drop(self, name: str, *, save: bool) -> None:
        raise AssertionError("nothing is given up here")

    def read_saved(self, names: Collection[str]) -> Mapping[str, Any]:
        return {}

    def adopt(self, name: str, saved: Any) -> None:
        self.adopted.append(name)

    def assign(self) -> None:
        pass

    def monitor(self, name: str) -> _Monitor:
        # Every fourth monitor checked hourly, the others every 30 s.
        return _Monitor(3600.0 if int(name[1:]) % 4 == 0 else 30.0)

    def reprobe(self, name: str, delay: float) -> None:
        self.early[name] = delay


class _Cluster:
    shards = SHARDS
    ttl = 8.0
    every = ttl / 4

    def held(self) -> frozenset[int]:
        return frozenset()


def _moved(orphaned: frozenset[int]) -> _Coordinator:
    coordinator = _Coordinator()
    gained = frozenset(range(SHARDS // 2))
    coordinator.placed = (
        frozenset(),
        frozenset(n for n in NAMES if shard_of(n, SHARDS) in gained),
    )
    membership = Membership(
        coordinator,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        "eu",
        _Cluster(),  # type: ignore[arg-type]
        wall=lambda: 0.0,
        sleep=asyncio.sleep,
        rand=itertools.cycle([i / 100 for i in range(100)]).__next__,
    )
    asyncio.run(membership._move(gained, gained, frozenset(), orphaned))
    return coordinator


def test_monitors_released_to_an_instance_keep_their_spread_first_run() -> None:
    """Shards claimed free (at start, or released by a live instance): a monitor of a
    30 s interval keeps the first run the fleet spread over its interval (none asked to
    run early: thousands would otherwise run within a second of each other, in step
    every interval after); an hourly one runs within four leases (32 s), spread over
    them."""
    coordinator = _moved(frozenset())
    hourly = {n for n in coordinator.adopted if int(n[1:]) % 4 == 0}
    assert len(coordinator.adopted) > len(hourly) > 0
    assert set(coordinator.early) == hourly
    delays = coordinator.early.values()
    assert max(delays) <= 4 * _Cluster.ttl
    assert max(delays) - min(delays) > 3 * _Cluster.ttl


def test_monitors_of_shards_whose_holder_died_are_probed_within_half_a_round() -> None:
    """Shards taken from a holder whose lease ran out (or that left): their monitors,
    whatever their interval, are probed within half a round (a lease's eighth); the
    others as released shards' are."""
    orphaned = frozenset(range(0, SHARDS // 2, 2))
    coordinator = _moved(orphaned)
    theirs = {n for n in coordinator.adopted if shard_of(n, SHARDS) in orphaned}
    assert theirs
    assert theirs <= set(coordinator.early)
    assert all(0 <= coordinator.early[n] <= _Cluster.every / 2 for n in theirs)
    others = set(coordinator.early) - theirs
    assert all(int(n[1:]) % 4 == 0 for n in others)
