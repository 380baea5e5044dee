"""Which failures are one incident.

Pure functions over the current failures, called by the incident layer:

- :func:`correlate` groups failing monitors into incidents.  Failures of the
  same kind on the same service are one incident (``host:db.lan:5432:connect.refused``:
  what failed, at the layer that failed; a name for DNS).
  When most of the hosts (at least ``local_min_hosts`` hosts and
  ``local_fraction`` of all monitored hosts) fail at once at the DNS or connect
  layer (a host fails there from its first failure when none of its monitors has
  passed a check since, see :class:`Failures`), the fault is on this machine's
  side: one ``local`` incident, worded from the catalogue ("this machine cannot
  resolve names: DNS lookup timed out"), instead of a page per target.  A
  failure without a kind (a condition that was not met) or without a host is its
  own incident.

What holds an incident's alerts back (a parent down, a maintenance window, flapping)
is ``_holds.py``'s.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Final, Literal

from tether._catalogue import CATALOGUE
from tether._frozen import quick_init
from tether._kinds import Kind, Layer
from tether.monitor.engine._detect import Observation

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
    local_wait: float = 30.0
    """Seconds a new incident's pages of one host wait, at a local layer, while at least
    ``local_min_hosts`` hosts fail there with its kind but not yet ``local_fraction`` of
    them: if the ``local`` incident opens meanwhile, it takes them in and they never go
    (0: no wait)."""

    def __post_init__(self) -> None:
        if self.local_min_hosts < 1:
            raise ValueError(f"local_min_hosts: must be at least 1, not {self.local_min_hosts!r}")
        if not 0 < self.local_fraction <= 1:
            raise ValueError(
                f"local_fraction: must be above 0 and at most 1, not {self.local_fraction!r}"
            )
        if self.local_wait < 0:
            raise ValueError(f"local_wait: must be at least 0 s, not {self.local_wait!r}")


_RULES: Final = Correlation()
"""The rules when none are given."""

LEADER_LAG: Final = 3.0
"""Seconds a cluster's leader may see a state change after the instance that made it
(it reads the others' once a second), with a margin."""


def leader_rules(
    checks: Iterable[tuple[float, float, int]], rules: Correlation = _RULES
) -> Correlation:
    """The rules a cluster's leader correlates by: ``rules``, with ``local_wait`` at least
    as long as a whole host takes to be seen failing, from its first monitor's failure to
    its last one's confirmation: the longest of the ``checks`` (each probed monitor's
    interval, timeout and failure threshold: one interval, and each confirmation's
    re-probe a second later and its timeout), plus :data:`LEADER_LAG`.  The leader sees
    state changes, not each passing check, so a host counts for the ``local`` group only
    once every monitor on it fails (:class:`Failures`): a shorter wait would send the
    pages of the first hosts of a wave before the ``local`` incident can open."""
    whole = max(
        (interval + (threshold - 1) * (1.0 + timeout) for interval, timeout, threshold in checks),
        default=0.0,
    )
    return dataclasses.replace(rules, local_wait=max(rules.local_wait, whole + LEADER_LAG))


@quick_init
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
    passed: Mapping[str, float] | None = None,
) -> list[IncidentGroup]:
    """Group the currently failing monitors into incidents.

    ``failing`` holds the standing failure of each monitor that is failing now (its
    ``timestamp``: when that failure began); ``hosts`` maps every monitored (not paused)
    monitor to its host, which is what counts as "most hosts"; ``passed`` gives each
    monitor's latest passing check, when every check is seen (see :class:`Failures`).  A
    monitor's host comes from ``hosts``, else from its observation.  The ``local`` group,
    if any, comes first; the rest are sorted by key.
    """
    failures = Failures(hosts)
    for monitor, at in (passed or {}).items():
        failures.passed(monitor, at)
    for o in failing:
        failures.set(o.monitor, o)
    return failures.groups(rules)


class Failures:
    """The failing monitors, kept in step one change at a time, and the incident group of
    any of them: what :func:`correlate` works out, at a cost per change that does not grow
    with the number of monitors or of failures (a mass outage is thousands of changes).

    Per host it counts the monitors, and per layer that can be local the failing ones
    with their kinds; a host is down at a layer, failing with the commonest kind of its
    failures there (the first in code order on a tie), when

    - every monitor on it fails at that layer; or, earlier,
    - one of them does and no monitor on it has passed a check since that failure began
      (its observation's ``timestamp``): those not checked since do not count against
      it.  This needs every passing check (:meth:`passed`), so it holds only on a host
      all of whose monitors have passed one; in a cluster, where the leader sees state
      changes alone, the first rule is the only one.
    """

    def __init__(self, hosts: Mapping[str, str] | None = None) -> None:
        self._hosts: dict[str, str] = {}
        self._failing: dict[str, tuple[Observation, str | None]] = {}
        self._size: Counter[str] = Counter()
        """Monitors per host: the monitored ones, and failing ones placed there by their
        observation only."""
        self._at: dict[Layer, Counter[str]] = defaultdict(Counter)
        """Per layer, failing monitors per host."""
        self._kinds: dict[Layer, dict[str, Counter[Kind]]] = defaultdict(dict)
        self._spread: Counter[tuple[Layer, Kind]] = Counter()
        """Per layer and kind, the hosts with at least one monitor failing there with it."""
        self.sees_passes = True
        """Whether every passing check is told (:meth:`passed`).  A cluster's leader sees
        state changes alone: it cannot tell a host's first failure from the others, so
        :meth:`forming` counts every host failing at the layer with the kind."""
        self._down: dict[tuple[Layer, Kind], set[str]] = defaultdict(set)
        """Per layer and kind, the hosts down at that layer (see above), with that kind
        the commonest."""
        self._passes: dict[str, float] = {}
        """Each monitor's latest passing check."""
        self._watched: Counter[str] = Counter()
        """Per host, its monitored monitors that have passed a check."""
        self._last_pass: dict[str, float] = {}
        """Per host, the latest passing check of its monitors."""
        self._fresh: dict[Layer, Counter[str]] = defaultdict(Counter)
        """Per layer, failing monitors per host whose failure began after the host's
        latest passing check."""
        self._queue: dict[str, list[tuple[float, int, _Fresh]]] = {}
        """Per host, a heap of those fresh failures by when they began, so that a passing
        check ends the ones it is later than without a walk."""
        self._token: dict[str, _Fresh] = {}
        self._live: Counter[str] = Counter()
        self._order = itertools.count()
        self.set_hosts(hosts or {})

    def set_hosts(self, hosts: Mapping[str, str]) -> None:
        """Every monitored (not paused) monitor and its host: after a reload or a pause,
        so the whole picture is worked out again (the one walk over every monitor)."""
        failing = [o for o, _ in self._failing.values()]
        self._hosts = dict(hosts)
        self._failing.clear()
        self._size = Counter(self._hosts.values())
        self._at.clear()
        self._kinds.clear()
        self._spread.clear()
        self._down.clear()
        self._watched.clear()
        self._last_pass.clear()
        self._fresh.clear()
        self._queue.clear()
        self._token.clear()
        self._live.clear()
        # A monitor paused or removed is seen passing again before it counts.
        self._passes = {m: at for m, at in self._passes.items() if m in self._hosts}
        for monitor, at in self._passes.items():
            host = self._hosts[monitor]
            self._watched[host] += 1
            self._last_pass[host] = max(at, self._last_pass.get(host, at))
        for o in failing:
            self.set(o.monitor, o)

    def move(self, monitor: str, host: str | None) -> None:
        """``monitor`` is now on ``host`` (None: no longer monitored: removed, paused):
        the one monitor's counts moved, not the whole picture worked out again (a
        change of the monitor set: ``runtime/_monitor_set.py``).  A pass it had counts
        for its new host; its old host's latest pass stays (that host was reachable
        then)."""
        old = self._hosts.get(monitor)
        if old == host:
            return
        placed = self._failing.get(monitor)
        if placed is not None:
            self.set(monitor, None)
        passed = monitor in self._passes
        if old is not None:
            self._judge(old, leaving=True)
            del self._hosts[monitor]
            self._size[old] -= 1
            if passed:
                self._watched[old] -= 1
            self._judge(old, leaving=False)
            if self._size[old] <= 0:
                del self._size[old]
        if host is None:
            self._passes.pop(monitor, None)  # seen passing again before it counts
        else:
            self._judge(host, leaving=True)
            self._hosts[monitor] = host
            self._size[host] += 1
            if passed:
                self._watched[host] += 1
                at = self._passes[monitor]
                self._last_pass[host] = max(at, self._last_pass.get(host, at))
            self._judge(host, leaving=False)
        if placed is not None:
            self.set(monitor, placed[0])

    def set(self, monitor: str, failure: Observation | None) -> None:
        """``monitor``'s standing failure now, or None once it is not failing."""
        if failure is not None and failure.ok:
            failure = None
        old = self._failing.pop(monitor, None)
        if old is not None:
            self._count(old, -1)
        if failure is not None:
            fallback = None if failure.host is None else host_part(failure.host)
            placed = (failure, self._hosts.get(monitor, fallback))
            self._failing[monitor] = placed
            self._count(placed, 1)

    def passed(self, monitor: str, at: float) -> None:
        """``monitor`` passed a check at ``at``: its host is reachable, so a failure on it
        that began before is no sign of this machine (the runner tells every passing
        check it takes, when it sees them all)."""
        old = self._passes.get(monitor)
        if old is not None and old >= at:
            return
        self._passes[monitor] = at
        host = self._hosts.get(monitor)
        if host is None:
            return
        last = self._last_pass.get(host)
        if old is not None and last is not None and last >= at:
            return  # nothing it goes by changes
        # With no fresh failure on the host (most checks), whether it is down cannot
        # change: its counts are not judged again.
        judge = self._live[host] > 0
        if judge:
            self._judge(host, leaving=True)
        if old is None:
            self._watched[host] += 1
        if last is None or at > last:
            self._last_pass[host] = at
            queue = self._queue.get(host)
            while queue and queue[0][0] <= at:
                token = heapq.heappop(queue)[2]
                if token.alive:
                    token.alive = False
                    self._fresh[token.layer][host] -= 1
                    self._live[host] -= 1
        if judge:
            self._judge(host, leaving=False)

    def host_of(self, monitor: str) -> str | None:
        """The host failing ``monitor`` is counted on (None: not failing, or no host)."""
        placed = self._failing.get(monitor)
        return None if placed is None else placed[1]

    def _count(self, placed: tuple[Observation, str | None], step: int) -> None:
        o, host = placed
        if host is None:
            return
        self._judge(host, leaving=True)
        if o.monitor not in self._hosts:  # placed by its observation alone
            self._size[host] += step
        layer = o.layer
        if layer is not None and o.kind is not None:
            self._at[layer][host] += step
            kinds = self._kinds[layer].setdefault(host, Counter())
            before = kinds[o.kind]
            kinds[o.kind] += step
            if kinds[o.kind] <= 0:
                del kinds[o.kind]
                if before > 0:
                    self._spread[(layer, o.kind)] -= 1
            elif before <= 0:
                self._spread[(layer, o.kind)] += 1
            if step > 0:
                self._began(o, host, layer)
            else:
                self._ended(o.monitor, host)
        self._judge(host, leaving=False)
        if self._size[host] <= 0:
            del self._size[host]

    def _began(self, o: Observation, host: str, layer: Layer) -> None:
        """``o``'s failure is fresh on ``host`` if it began after the host's latest pass."""
        last = self._last_pass.get(host)
        if last is not None and o.timestamp <= last:
            return
        token = self._token[o.monitor] = _Fresh(layer)
        self._fresh[layer][host] += 1
        self._live[host] += 1
        queue = self._queue.setdefault(host, [])
        heapq.heappush(queue, (o.timestamp, next(self._order), token))
        if len(queue) > 2 * self._live[host] + 16:  # mostly failures gone: drop them
            queue[:] = [e for e in queue if e[2].alive]
            heapq.heapify(queue)

    def _ended(self, monitor: str, host: str) -> None:
        token = self._token.pop(monitor, None)
        if token is not None and token.alive:
            token.alive = False
            self._fresh[token.layer][host] -= 1
            self._live[host] -= 1

    def _judge(self, host: str, *, leaving: bool) -> None:
        """Take ``host`` out of (before a change) or put it back into (after) the down
        hosts of each layer and kind, by its counts."""
        early = self._watched[host] == self._size[host]
        for layer, at in self._at.items():
            failing = at[host]
            if not failing:
                continue
            if failing != self._size[host] and not (early and self._fresh[layer][host] > 0):
                continue
            down = self._down[(layer, _commonest(self._kinds[layer][host]))]
            if leaving:
                down.discard(host)
            else:
                down.add(host)

    def group_of(self, monitor: str, rules: Correlation | None = None) -> IncidentGroup | None:
        """The incident group of failing ``monitor``, or None if it is not failing.  Its
        ``monitors`` names ``monitor`` alone: listing the others would walk them all."""
        placed = self._failing.get(monitor)
        if placed is None:
            return None
        o, host = placed
        local = self._local(rules or _RULES)
        if local is not None and host in local[1] and o.layer is local[0]:
            g = local[2]
            return IncidentGroup(g.key, g.scope, (monitor,), g.kind, g.host, g.cause)
        return _group(_key(o, host), [placed])

    def local_hosts(self, rules: Correlation | None = None) -> frozenset[str]:
        """The hosts the ``local`` group takes now (empty when there is none): those all
        of whose monitors fail at its layer, with its kind the commonest.  A copy, made
        when the incident layer folds the incidents of those hosts: once per opening."""
        local = self._local(rules or _RULES)
        return frozenset() if local is None else frozenset(local[1])

    def in_local(self, host: str | None, rules: Correlation | None = None) -> bool:
        """Whether ``host`` is one of the hosts the ``local`` group takes now."""
        local = self._local(rules or _RULES)
        return local is not None and host in local[1]

    def forming(self, monitor: str, rules: Correlation | None = None) -> tuple[int, Layer] | None:
        """How many hosts are down at the layer of failing ``monitor``'s failure with its
        kind, and that layer, when the ``local`` group may be forming around it: at least
        ``local_min_hosts`` hosts, at a layer that can be local, but no ``local`` group
        yet.  None otherwise (the engine does not wait then).  Without every passing
        check (:attr:`sees_passes`), every host with a monitor failing there with that
        kind counts: a host counts as down only once all of its monitors fail then, one
        interval into a wave."""
        rules = rules or _RULES
        placed = self._failing.get(monitor)
        if placed is None:
            return None
        o = placed[0]
        if o.kind is None or o.layer is None or o.layer not in rules.local_layers:
            return None
        down = self._down.get((o.layer, o.kind))
        hosts = 0 if down is None else len(down)
        if not self.sees_passes:
            hosts = max(hosts, self._spread[(o.layer, o.kind)])
        if hosts < rules.local_min_hosts:
            return None
        if self._local(rules) is not None:
            return None
        return hosts, o.layer

    def groups(self, rules: Correlation | None = None) -> list[IncidentGroup]:
        """Every group, with all its monitors: the ``local`` group first, if any, the rest
        sorted by key (:func:`correlate`)."""
        local = self._local(rules or _RULES)
        groups: list[IncidentGroup] = []
        by_key: dict[str, list[tuple[Observation, str | None]]] = defaultdict(list)
        in_local: list[str] = []
        for o, host in self._failing.values():
            if local is not None and host in local[1] and o.layer is local[0]:
                in_local.append(o.monitor)
            else:
                by_key[_key(o, host)].append((o, host))
        if local is not None:
            groups.append(dataclasses.replace(local[2], monitors=tuple(sorted(in_local))))
        groups.extend(_group(key, members) for key, members in sorted(by_key.items()))
        return groups

    def _local(self, rules: Correlation) -> tuple[Layer, AbstractSet[str], IncidentGroup] | None:
        """One incident on this machine's side, when most hosts fail at DNS or connect
        with one kind (its ``monitors`` left empty), the layer it is at and its hosts.

        A host counts when it is down at the layer (see the class): one of its monitors
        that passed a check since shows this machine can reach it.  Layers are not
        mixed: refusals on one host and unresolvable names on others are not one cause;
        nor are kinds: hosts that refuse and hosts that time out are two causes, and only
        the commonest (the most hosts; the first layer, then the first kind in code order,
        on a tie) can be this machine's.  The others keep their incidents of one host.
        """
        best: tuple[Layer, Kind] | None = None
        most = 0
        for (layer, kind), down in self._down.items():
            if layer not in rules.local_layers or not down:
                continue
            if best is None or (-len(down), layer, _ORDER[kind]) < (
                -most,
                best[0],
                _ORDER[best[1]],
            ):
                best, most = (layer, kind), len(down)
        if best is None:
            return None
        hosts = len(self._size)
        if most < rules.local_min_hosts or most / hosts < rules.local_fraction:
            return None
        layer, kind = best
        return layer, self._down[best], _local_group(kind, most, hosts)


_ORDER = {kind: i for i, kind in enumerate(Kind)}


@functools.lru_cache(maxsize=1024)
def _local_group(kind: Kind, most: int, hosts: int) -> IncidentGroup:
    """The ``local`` group (its ``monitors`` left empty) of ``most`` of ``hosts`` hosts
    failing with ``kind``: made once per count, as :meth:`Failures._local` is asked
    several times for each change of a wave and its counts seldom move."""
    entry = CATALOGUE[kind]
    words = _LOCAL_WORDS.get(entry.layer, f"this machine fails at the {entry.layer} layer")
    cause = f"{words}: {_lower_first(entry.title)} ({most} of {hosts} hosts at once)"
    return IncidentGroup("local", "local", (), kind, None, cause)


@dataclass(slots=True)
class _Fresh:
    """A failure counted as begun after its host's latest pass, until a later pass (or
    its end) says otherwise."""

    layer: Layer
    alive: bool = True


def _commonest(kinds: Counter[Kind]) -> Kind:
    """The kind most failures have (the first in code order on a tie)."""
    return min(kinds, key=lambda k: (-kinds[k], _ORDER[k]))


def _key(o: Observation, host: str | None) -> str:
    """``host:WHERE:KIND``.  WHERE is what failed, as the observation says it (the
    prober's ``where_failed``: a name for DNS, ``host:port`` beyond, so that two services
    on one host are two incidents) when that is on the host the monitor is counted on, or
    is its proxy; else that host (an address the failure carried does not split a name's
    incident)."""
    if o.kind is None:
        return f"monitor:{o.monitor}"
    if host is None or o.kind is Kind.HEARTBEAT_MISSED:  # a job that did not push: its own
        return f"monitor:{o.monitor}:{o.kind.value}"
    where = o.host
    if where is None or (host_part(where) != host and o.layer is not Layer.PROXY):
        where = host
    return f"host:{where}:{o.kind.value}"


def where_of_key(key: str) -> str:
    """``db.lan:5432`` from ``host:db.lan:5432:connect.refused``."""
    return key.partition(":")[2].rpartition(":")[0]


def host_part(where: str) -> str:
    """The host of ``where``: ``db.lan`` of ``db.lan:5432``, ``::1`` of ``[::1]:80``, and
    ``where`` itself when it names no port (``db.lan``, ``::1``)."""
    if where.startswith("["):
        return where[1 : where.find("]")] if "]" in where else where
    head, colon, port = where.rpartition(":")
    return head if colon and port.isdigit() and ":" not in head else where


def _group(key: str, members: list[tuple[Observation, str | None]]) -> IncidentGroup:
    o, host = members[0]
    monitors = tuple(sorted(m.monitor for m, _ in members))
    if o.kind is None:
        return IncidentGroup(key, "monitor", monitors, None, host, "its conditions are not met")
    title = _lower_first(CATALOGUE[o.kind].title)
    if key.startswith("monitor:"):
        return IncidentGroup(key, "monitor", monitors, o.kind, None, title)
    return IncidentGroup(key, "host", monitors, o.kind, host, f"{title} on {where_of_key(key)}")


def _lower_first(title: str) -> str:
    """ "Connection refused" -> "connection refused"; "DNS lookup timed out" stays."""
    first = title.split(" ", 1)[0]
    return title if first.isupper() else title[:1].lower() + title[1:]
