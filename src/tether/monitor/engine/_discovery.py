"""The discovered monitors over time: what each source's last good read made, and what
it made before that is kept for the source's grace period.

Pure: each step is given ``now`` and what the source's latest read made
(:func:`tether.monitor.config._discovered.monitors_from`), and returns a new value.  A
monitor whose target disappeared is kept, and probed, until ``grace`` has passed since
it was last seen; one that comes back within it is the same monitor, with its history
and its state, since nothing of it was forgotten.  :func:`combine` puts the sources
together with the file's own monitors, one monitor per name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Kept", "SourceSet", "SourceStatus", "combine"]


M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Kept(Generic[M]):
    """A discovered monitor, and since when its target has been missing (None: it is
    in the latest read)."""

    monitor: M
    gone_since: float | None = None


@dataclass(frozen=True, slots=True)
class SourceSet(Generic[M]):
    """One source's monitors by name."""

    kept: Mapping[str, Kept[M]] = field(default_factory=dict)

    def advance(self, found: Mapping[str, M], now: float, grace: float) -> SourceSet[M]:
        """The set after a read that made ``found``: those, and those of before missing
        for less than ``grace`` seconds (counted from the first read that missed them)."""
        kept: dict[str, Kept[M]] = {name: Kept(m) for name, m in found.items()}
        for name, before in self.kept.items():
            if name in found:
                continue
            since = now if before.gone_since is None else before.gone_since
            if now - since < grace:
                kept[name] = Kept(before.monitor, since)
        return SourceSet(kept)

    def expire(self, now: float, grace: float) -> SourceSet[M]:
        """The set at ``now`` with no new read: those missing ``grace`` seconds gone."""
        present = {n: k.monitor for n, k in self.kept.items() if k.gone_since is None}
        return self.advance(present, now, grace)

    @property
    def monitors(self) -> dict[str, M]:
        return {name: k.monitor for name, k in self.kept.items()}

    @property
    def present(self) -> int:
        """How many targets the latest read had (those kept in their grace not counted)."""
        return sum(1 for k in self.kept.values() if k.gone_since is None)


def combine(
    own: Iterable[str], sources: Iterable[tuple[str, Mapping[str, M]]]
) -> tuple[list[M], list[str]]:
    """The discovered monitors to run beside the file's (named ``own``), source after
    source, and a line for each left out because its name is taken: by the file, or by
    an earlier source."""
    taken: dict[str, str | None] = dict.fromkeys(own)
    out: list[M] = []
    said: list[str] = []
    for source, monitors in sources:
        for name in sorted(monitors):
            if name in taken:
                owner = taken[name]
                by = "a monitor of the file" if owner is None else f"made by source {owner}"
                said.append(f"{source}: monitor {name!r} left out: the name is {by}")
                continue
            taken[name] = source
            out.append(monitors[name])
    return out, said


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What the pages and ``/metrics`` show of one source."""

    name: str
    kind: str
    targets: int
    """Monitors it makes now (those kept in their grace period too)."""
    up: bool
    """Whether its latest read succeeded."""
    last_success: float | None
    """When a read last succeeded (Unix seconds); None: never yet."""
    error: str | None = None
    """Why its latest read failed (redacted)."""
    failing_since: float | None = None
