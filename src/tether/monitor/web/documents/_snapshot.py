"""What a page or ``tether status`` is built from: a :class:`Snapshot` of the monitors'
states (the running monitor's memory, copied on its event loop, or the store's, for
``tether status``), and the :class:`Facts` the store holds of the monitors a page shows.

State has one home, the store; the runner's memory is a cache of it.  So a page reads
from memory only what it needs of every monitor (the states, for the counts and the
filters; what each location sees, for the monitors of several; the alert channels'
deliveries and the store's writing, which are this process's), and reads from the store
what it shows of each row: its newest result from whichever location took it, when it
entered its state, when its certificate expires (:class:`Facts`, one read each for the
rows of a page).  ``tether status`` reads the rest from the store as well
(:meth:`Snapshot.stored`): the states and what each location last wrote, and which
locations are live from the instances' heartbeats and the agents' rows
(:func:`~tether.monitor.cluster._view.live_locations`), so that it and ``/api/status``
give one document for one store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tether._redact import redact_url
from tether.monitor._state import State
from tether.monitor.alerts import ChannelStatus
from tether.monitor.cluster._view import ClusterView, LocationsView, views_of
from tether.monitor.engine._detect import Observation
from tether.monitor.engine._quorum import Placement, Quorum
from tether.monitor.reports._documents import iso, location_json, round_ms
from tether.monitor.web._routing import monitor_path
from tether.monitor.web.documents._documents import (
    CheckDoc,
    MonitorHead,
    TrafficDoc,
    certificate_json,
    traffic_json,
)

if TYPE_CHECKING:
    from tether.monitor.config import Monitor, MonitorConfig
    from tether.monitor.engine._journal import Journal
    from tether.monitor.store import ProbeRecord, Store
    from tether.monitor.store._base import StoreHealth
    from tether.monitor.web._running import Running

__all__ = ["Facts", "Snapshot", "stored_monitors"]


def stored_monitors(config: MonitorConfig, store: Store) -> tuple[Monitor, ...]:
    """The monitors a status read from the store (``tether status``) shows: the one list
    it takes them from.  The configuration's, as the running monitor's are (its
    discovered monitors join its configuration)."""
    return config.monitors


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store says of the monitors a page shows, read once for them all: each
    one's newest result (from whichever location or instance took it), its last state
    change, and when its certificate expires."""

    latest: Mapping[str, ProbeRecord] = field(default_factory=dict)
    changes: Mapping[str, tuple[float, State]] = field(default_factory=dict)
    certificates: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store, names: Iterable[str]) -> Facts:
        """Three reads of the store for ``names`` (none for no name)."""
        wanted = list(names)
        if not wanted:
            return cls()
        changes = store.state_changes_of(wanted, math.inf)
        return cls(
            store.latest_results(wanted),
            {name: found[-1] for name, found in changes.items() if found},
            store.certificates(wanted),
        )

    def since(self, name: str, state: State) -> float | None:
        """When ``name`` entered ``state``, as the store's last change of it says; None
        when the store's last change is not to ``state`` (not written yet) or there is
        none."""
        last = self.changes.get(name)
        return last[0] if last is not None and last[1] is state else None

    def check(self, name: str, now: float) -> CheckDoc | None:
        """``name``'s newest result as a row's ``last_check``."""
        record = self.latest.get(name)
        if record is None:
            return None
        return {
            "at": iso(record.ts),
            "ago_s": round(now - record.ts, 3),
            "ok": record.ok,
            "latency_ms": round_ms(record.latency_ms),
            "kind": record.kind.value if record.kind else None,
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The monitors' states at one moment, copied on the runner's event loop (so that a
    page can be built on a worker thread while the runner goes on), or read from the
    store (:meth:`stored`)."""

    now: float
    config: MonitorConfig
    monitors: tuple[Monitor, ...]
    states: dict[str, State]
    latest: dict[str, Observation]
    """Each monitor's latest check as the runner saw it: what the overview sorts by
    latency (a row shows the store's newest: :class:`Facts`)."""
    since: dict[str, float]
    certificates: dict[str, float]
    """When each monitor's leaf certificate expires: what the overview sorts by."""
    channels: tuple[ChannelStatus, ...]
    store: Store
    store_health: StoreHealth
    locations: dict[str, LocationsView]
    """What each location sees of each monitor of more than one."""
    cluster: ClusterView
    """This instance (the instances and agents are read from the store off the loop,
    :meth:`~tether.monitor.cluster._view.ClusterView.stored`), or, read from the store,
    the whole cluster."""
    live: frozenset[str] | None = None
    """The locations the running quorum counts live (None: read from the store)."""
    traffic: dict[str, TrafficDoc] = field(default_factory=dict)
    """What the window of each shown traffic monitor holds (:func:`traffic_json`)."""
    journal: Journal | None = None
    """The quorum's record of which states changed (None: a snapshot read from the store),
    and its end when ``states`` were copied: a :class:`StateBoard` reads the changes."""
    journal_end: int = 0

    @classmethod
    def of(cls, runner: Running, shown: Iterable[str] | None = None) -> Snapshot:
        """``shown``: the monitors whose locations the page shows (every one by default;
        what each location sees is copied for these alone, as it costs the loop more than
        a state does)."""
        return cls(
            runner.wall(),
            runner.config,
            runner.config.monitors,
            runner.quorum.states(),
            dict(runner.latest),
            dict(runner.since),
            dict(runner.certificates),
            tuple(runner.outbox.status()),
            runner.store,
            runner.store.health(),
            runner.locations(shown),
            runner.cluster_view(),
            runner.quorum.live,
            {
                name: traffic_json(runner.traffic.monitors[name].view(runner.wall()))
                for name in (runner.traffic.monitors if shown is None else shown)
                if name in runner.traffic.monitors
            },
            runner.quorum.journal,
            runner.quorum.journal.end,
        )

    @classmethod
    def stored(cls, config: MonitorConfig, store: Store, now: float) -> Snapshot:
        """What the store says, for ``tether status`` (no running monitor to ask): each
        monitor's state as it last changed, its newest result, its certificate, what each
        location last wrote of a monitor of several, counted as the running quorum counts
        (the locations live by the instances' heartbeats and the agents' last words), the
        instances and agents, the alerts queued per channel.  What only the process that
        delivers alerts and writes the store knows is left empty: its deliveries since it
        started, how its writing goes
        (:data:`~tether.monitor.web.documents._status.BY_THE_MOMENT`)."""
        monitors = stored_monitors(config, store)
        names = [m.name for m in monitors]
        changes = store.state_changes_of(names, math.inf)
        states = {n: c[-1][1] for n, c in changes.items() if c}
        since = {n: c[-1][0] for n, c in changes.items() if c}
        latest = {
            n: Observation(n, r.ok, r.ts, r.latency_ms, r.kind)
            for n, r in store.latest_results(names).items()
        }
        here = config.locations[0] if len(config.locations) == 1 else ""
        cluster = ClusterView("", here, False, config.locations).stored(store, config, now)
        several = [m for m in monitors if len(config.placed(m)) > 1]
        locations: dict[str, LocationsView] = {}
        if several:
            placed = {m.name: Placement(config.placed(m), m.quorum) for m in several}
            quorum = Quorum(placed, live=cluster.live_at or ())
            quorum.restore(row.state for row in store.location_states())
            locations = views_of(quorum, several, config)
        backlog = store.backlog()
        # As the outbox lists them: every configured channel and any with alerts queued.
        channels = tuple(
            ChannelStatus(name, queued, oldest, False, None, None, 0, 0)
            for name in sorted({c.name for c in config.alerts} | set(backlog))
            for queued, oldest in [backlog.get(name, (0, None))]
        )
        return cls(
            now,
            config,
            monitors,
            states,
            latest,
            since,
            store.certificates(names),
            channels,
            store,
            store.health(),
            locations,
            cluster,
        )

    def state(self, name: str) -> State:
        return self.states.get(name, State.UNKNOWN)

    def since_of(
        self, name: str, opened: Mapping[str, float], facts: Facts | None = None
    ) -> float | None:
        """When ``name`` entered its state: as the store's last change says (``facts``),
        else as the runner saw it change; after a restart, before either, a down monitor
        has been down at least since it joined its open incident (``opened``:
        :func:`~tether.monitor.web.documents._dashboard.opened_since`)."""
        state = self.state(name)
        since = None if facts is None else facts.since(name, state)
        if since is None:
            since = self.since.get(name)
        if since is None and state is State.DOWN:
            since = opened.get(name)
        return since

    def head(self, m: Monitor, opened: Mapping[str, float], facts: Facts) -> MonitorHead:
        """What the dashboard's row and the monitor's page share: who, what state, since
        when, the last check, the certificate (``facts``: what the store says of it),
        and, for a monitor of several locations, what each sees."""
        now = self.now
        since = self.since_of(m.name, opened, facts)
        out: MonitorHead = {
            "name": m.name,
            "href": monitor_path(m.name),
            "url": redact_url(m.url),
            "state": str(self.state(m.name)),
            "since": iso(since),
            "for_s": None if since is None else round(now - since, 3),
            "last_check": facts.check(m.name, now),
            "certificate": certificate_json(facts.certificates.get(m.name), now),
            "labels": dict(m.labels),
        }
        view = self.locations.get(m.name)
        if view is not None:
            out["locations"] = [
                {**location_json(where, fact), "live": fact.live}
                for where, fact in view.facts.items()
            ]
            out["quorum"] = {
                "needed": view.needed,
                "failing": list(view.failing),
                "counted": view.counted,
                "below": view.below_quorum,
            }
        return out
