"""Which failures are one incident, and when an incident's alerts wait.

Pure functions over the current failures, called by the incident layer:

- :func:`correlate` groups failing monitors into incidents.  Failures of the
  same kind on the same host are one incident (``host:db.lan:connect.refused``).
  When monitors of most of the hosts (at least ``local_min_hosts`` hosts and
  ``local_fraction`` of all monitored hosts) fail at once at the DNS or connect
  layer, the fault is on this machine's side: one ``local`` incident, worded
  from the catalogue ("this machine cannot resolve names: DNS lookup timed
  out"), instead of a page per target.  A failure without a kind (a condition
  that was not met) or without a host is its own incident.
- :func:`held_by_parent`: a child's incident waits while a monitor it
  ``depends_on`` is down.
- :class:`Maintenance` and :func:`in_maintenance`: probing goes on during a
  maintenance window; alerts wait.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from tether._catalogue import CATALOGUE
from tether._kinds import Kind, Layer
from tether.monitor._detect import Observation
from tether.monitor._state import State

Scope = Literal["local", "host", "monitor"]

_LOCAL_WORDS = {
    Layer.PROXY: "this machine cannot use its proxy",
    Layer.DNS: "this machine cannot resolve names",
    Layer.CONNECT: "this machine cannot open connections",
    Layer.TLS: "this machine cannot verify certificates",
}


@dataclass(frozen=True, slots=True)
class Correlation:
    """When failures across hosts are blamed on this machine."""

    local_min_hosts: int = 3
    """Two hosts failing together is too often a coincidence, or one shared upstream."""
    local_fraction: float = 0.6
    """Share of all monitored hosts that must be failing."""
    local_layers: frozenset[Layer] = field(
        default_factory=lambda: frozenset({Layer.DNS, Layer.CONNECT})
    )
    """Layers whose failures can come from this machine; an HTTP status comes from the server."""

    def __post_init__(self) -> None:
        if self.local_min_hosts < 1:
            raise ValueError(f"local_min_hosts: must be at least 1, not {self.local_min_hosts!r}")
        if not 0 < self.local_fraction <= 1:
            raise ValueError(
                f"local_fraction: must be above 0 and at most 1, not {self.local_fraction!r}"
            )


@dataclass(frozen=True, slots=True)
class IncidentGroup:
    """Failing monitors that make one incident.

    ``key`` is stable while the cause lasts (``local``, ``host:HOST:KIND``,
    ``monitor:NAME`` or ``monitor:NAME:KIND``): the incident layer keeps one
    incident open per key and adds or removes monitors as they come and go.
    """

    key: str
    scope: Scope
    monitors: tuple[str, ...]
    kind: Kind | None
    host: str | None
    cause: str
    """Plain words: "connection refused on db.lan"."""

    def __repr__(self) -> str:
        return f"<IncidentGroup {self.key} {','.join(self.monitors)}>"


def correlate(
    failing: Iterable[Observation],
    hosts: Mapping[str, str],
    rules: Correlation | None = None,
) -> list[IncidentGroup]:
    """Group the currently failing monitors into incidents.

    ``failing`` holds the latest failed observation of each monitor that is
    failing now; ``hosts`` maps every monitored (not paused) monitor to its
    host, which is what counts as "most hosts".  A monitor's host comes from
    ``hosts``, else from its observation.  The ``local`` group, if any, comes
    first; the rest are sorted by key.
    """
    rules = rules or Correlation()
    placed = [(o, hosts.get(o.monitor, o.host)) for o in failing if not o.ok]
    groups: list[IncidentGroup] = []
    local = _local_group(placed, hosts, rules)
    if local is not None:
        groups.append(local)
        placed = [(o, host) for o, host in placed if o.monitor not in local.monitors]
    by_key: dict[str, list[tuple[Observation, str | None]]] = defaultdict(list)
    for o, host in placed:
        by_key[_key(o, host)].append((o, host))
    groups.extend(_group(key, members) for key, members in sorted(by_key.items()))
    return groups


def _key(o: Observation, host: str | None) -> str:
    if o.kind is None:
        return f"monitor:{o.monitor}"
    if host is None:
        return f"monitor:{o.monitor}:{o.kind.value}"
    return f"host:{host}:{o.kind.value}"


def _group(key: str, members: list[tuple[Observation, str | None]]) -> IncidentGroup:
    o, host = members[0]
    monitors = tuple(sorted(m.monitor for m, _ in members))
    if o.kind is None:
        return IncidentGroup(key, "monitor", monitors, None, host, "its conditions are not met")
    title = _lower_first(CATALOGUE[o.kind].title)
    if key.startswith("monitor:"):
        return IncidentGroup(key, "monitor", monitors, o.kind, None, title)
    return IncidentGroup(key, "host", monitors, o.kind, host, f"{title} on {host}")


def _local_group(
    placed: list[tuple[Observation, str | None]],
    hosts: Mapping[str, str],
    rules: Correlation,
) -> IncidentGroup | None:
    """One incident on this machine's side, when most hosts fail at DNS or connect.

    A host counts only if every monitor on it fails, at the same layer: one that still
    passes shows this machine can reach it.  Layers are not mixed: refusals on one
    host and unresolvable names on others are not one cause.
    """
    members: dict[str, set[str]] = defaultdict(set)
    for monitor, monitored in hosts.items():
        members[monitored].add(monitor)
    for o, where in placed:
        if where is not None:
            members[where].add(o.monitor)
    best: tuple[set[str], list[Observation]] | None = None
    for layer in sorted(rules.local_layers):
        at_layer = [(o, host) for o, host in placed if host is not None and o.layer is layer]
        failing = {o.monitor for o, _ in at_layer}
        down_hosts = {host for _, host in at_layer if members[host] <= failing}
        if best is None or len(down_hosts) > len(best[0]):
            best = down_hosts, [o for o, host in at_layer if host in down_hosts]
    if best is None:
        return None
    failing_hosts, local = best
    if len(failing_hosts) < rules.local_min_hosts:
        return None
    if len(failing_hosts) / len(members) < rules.local_fraction:
        return None
    counts = Counter(o.kind for o in local if o.kind is not None)
    # The commonest kind names the cause; ties go to the first in code order.
    order = list(Kind)
    kind = min(counts, key=lambda k: (-counts[k], order.index(k)))
    entry = CATALOGUE[kind]
    words = _LOCAL_WORDS.get(entry.layer, f"this machine fails at the {entry.layer} layer")
    cause = (
        f"{words}: {_lower_first(entry.title)} "
        f"({len(failing_hosts)} of {len(members)} hosts at once)"
    )
    monitors = tuple(sorted(o.monitor for o in local))
    return IncidentGroup("local", "local", monitors, kind, None, cause)


def _lower_first(title: str) -> str:
    """ "Connection refused" -> "connection refused"; "DNS lookup timed out" stays."""
    first = title.split(" ", 1)[0]
    return title if first.isupper() else title[:1].lower() + title[1:]


def held_by_parent(
    monitor: str,
    depends_on: Mapping[str, Collection[str]],
    states: Mapping[str, State],
) -> str | None:
    """The parent whose outage holds back ``monitor``'s incident, or ``None``.

    Only direct parents count, and only while ``down``: in a chain
    ``router <- db <- api`` a router outage takes db down too, which holds api.
    """
    for parent in sorted(depends_on.get(monitor, ())):
        if states.get(parent) is State.DOWN:
            return parent
    return None


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A maintenance window: from ``start`` (epoch s) for ``duration`` s, repeated
    every ``every`` s if given (86400 daily, 604800 weekly), for ``monitors``
    (``None``: all of them)."""

    start: float
    duration: float
    every: float | None = None
    monitors: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.duration <= 0:
            raise ValueError(f"maintenance.duration: must be more than 0 s, not {self.duration!r}")
        if self.every is not None and self.every < self.duration:
            raise ValueError(
                f"maintenance.every: must be at least the duration ({self.duration:g} s), "
                f"not {self.every!r}"
            )

    def covers(self, monitor: str, now: float) -> bool:
        """Is ``monitor`` in this window at ``now``?"""
        if self.monitors is not None and monitor not in self.monitors:
            return False
        if now < self.start:
            return False
        offset = now - self.start
        if self.every is not None:
            offset %= self.every
        return offset < self.duration


def in_maintenance(monitor: str, now: float, windows: Iterable[Maintenance]) -> Maintenance | None:
    """The window that holds back ``monitor``'s alerts at ``now``, or ``None``."""
    return next((w for w in windows if w.covers(monitor, now)), None)
