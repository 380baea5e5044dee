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

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Kept", "SourceSet", "SourceStatus", "combine", "owner"]


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
    oldest_gone: float | None = field(init=False, default=None, compare=False)
    """Since when the longest-missing monitor has been missing (None: every one is in
    the latest read), so that a look with no read costs nothing while none expires."""

    def __post_init__(self) -> None:
        gone = [k.gone_since for k in self.kept.values() if k.gone_since is not None]
        object.__setattr__(self, "oldest_gone", min(gone, default=None))

    def advance(self, found: Mapping[str, M], now: float, grace: float) -> SourceSet[M]:
        """The set after a read that made ``found``: those, and those of before missing
        for less than ``grace`` seconds (counted from the first read that missed them)."""
        kept: dict[str, Kept[M]] = {}
        for name, m in found.items():
            was = self.kept.get(name)
            # The same entry when nothing of it changed: what changed is found by identity.
            same = was is not None and was.monitor is m and was.gone_since is None
            kept[name] = was if same and was is not None else Kept(m)
        for name, before in self.kept.items():
            if name in found:
                continue
            since = now if before.gone_since is None else before.gone_since
            if now - since < grace:
                kept[name] = before if before.gone_since is not None else Kept(before.monitor, now)
        return SourceSet(kept)

    def expire(self, now: float, grace: float) -> SourceSet[M]:
        """The set at ``now`` with no new read: those missing ``grace`` seconds gone."""
        if self.oldest_gone is None or now - self.oldest_gone < grace:
            return self
        present = {n: k.monitor for n, k in self.kept.items() if k.gone_since is None}
        return self.advance(present, now, grace)

    def changes(self, before: SourceSet[M]) -> tuple[dict[str, Kept[M]], frozenset[str]]:
        """What changed since ``before``: each entry new or not the same (its monitor, or
        since when it is missing), and the names no longer kept.  Costs a look at each
        name; an entry kept as it was is the same object, so most looks end at once."""
        put = {
            name: k
            for name, k in self.kept.items()
            if (old := before.kept.get(name)) is not k and old != k
        }
        return put, frozenset(before.kept.keys() - self.kept.keys())

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


def owner(
    name: str, own: Container[str], sources: Sequence[tuple[str, Mapping[str, M]]]
) -> tuple[str, M] | None:
    """Who runs the monitor ``name``, as :func:`combine` decides it for the whole set,
    asked of one name: None when the file has it or no source does, else the first
    source (in the file's order) that makes it, and what it made.  What a change of a few
    names costs, not the fleet."""
    if name in own:
        return None
    for source, monitors in sources:
        found = monitors.get(name)
        if found is not None:
            return source, found
    return None


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
