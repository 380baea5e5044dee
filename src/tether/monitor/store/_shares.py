"""How instances at one location split the monitors between them: pure arithmetic.

Each monitor belongs to one of :data:`SHARDS` shards, by a hash of its name that every
process computes alike (CRC-32, not Python's ``hash``, which is salted per process).
An instance holds leases on a share of its location's shards and probes the monitors
in them (``store/_cluster.py`` keeps the leases).  At each renewal round it asks
:func:`plan_share` what to do with what it holds:

```
 live instances n ──► fair = ceil(SHARDS / n)
 held > fair ──► release the extra ones (the highest numbers): others take them
 held < fair ──► claim up to fair - held of the free or expired ones
```

With 256 shards and 3 instances, fair is 86: two hold 86 and one 84.  When a fourth
joins, fair drops to 64: the three release down to 64 and it claims what they let go.
When one leaves or dies, fair rises, and the others claim its shards once free (at
once) or expired (after the lease's time).  Nothing here reads a clock or a database.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["SHARDS", "Share", "fair_share", "monitors_in", "plan_share", "shard_of"]

SHARDS: Final = 256
"""Shards per location: many more than instances, so shares come out even (ceil(256/n)
is within 1% of 256/n up to 10 instances), few enough that a renewal round touches a
few hundred rows at most."""


def shard_of(name: str, shards: int = SHARDS) -> int:
    """The shard monitor ``name`` belongs to: the same in every process and version."""
    return zlib.crc32(name.encode("utf-8", "surrogatepass")) % shards


def monitors_in(names: Iterable[str], held: Collection[int], shards: int = SHARDS) -> list[str]:
    """The monitors of ``names`` whose shard is in ``held``, in their order."""
    return [name for name in names if shard_of(name, shards) in held]


def fair_share(shards: int, live: int) -> int:
    """The most shards one of ``live`` instances should hold: ``ceil(shards / live)``
    (every shard when the instance believes itself alone)."""
    return -(-shards // max(live, 1))


@dataclass(frozen=True, slots=True)
class Share:
    """What one instance does with its shards this round."""

    fair: int
    """The most it should hold."""
    release: frozenset[int]
    """Held beyond the fair share: stop probing their monitors, then hand them back."""
    claim: int
    """How many more it may take (of those free or expired)."""


def plan_share(held: Collection[int], live: int, shards: int = SHARDS) -> Share:
    """What an instance holding ``held`` does when ``live`` instances (itself included)
    share ``shards``: release what is beyond its fair share, or claim up to it.

    The extra shards released are the highest-numbered, so the plan depends on nothing
    but its arguments; claims take the lowest-numbered free ones, so a release and the
    claims that follow it move few monitors around.
    """
    fair = fair_share(shards, live)
    if len(held) > fair:
        return Share(fair, frozenset(sorted(held)[fair:]), 0)
    return Share(fair, frozenset(), fair - len(held))
