"""What the dashboard, ``/api/status``, ``tether status`` and ``/metrics`` show of
locations and instances: each monitor's locations from a quorum (the runner's, on its
event loop: ``Runner.locations``; or one restored from the store), and the cluster's
instances and agents off it, read from the store as the other store reads are.  Records
and pure functions: nothing here reads the runner.

Which locations are live is decided here once (:func:`live_locations`): a location is
live while an instance there heartbeats within the cluster's lease, or while its agent
(``tether agent``) reported within ``agents.lease``.  The quorum counts exactly these
(the membership's rounds, the agents' intake), and the pages and ``tether status`` say
the same of them.

A monitor probed from one location shows none of this: its state is its location's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tether.monitor._records import LocationFact

if TYPE_CHECKING:
    from tether.monitor.config import Monitor, MonitorConfig
    from tether.monitor.engine._quorum import Quorum
    from tether.monitor.store import AgentRow, Cluster, Instance, Store

__all__ = [
    "ClusterView",
    "LocationsView",
    "agent_locations",
    "below_quorum",
    "live_agents",
    "live_locations",
    "views_of",
]


def agent_locations(config: MonitorConfig) -> frozenset[str]:
    """The locations agents report for: those an ``agent`` token is bound to."""
    return frozenset(t.location for t in config.tokens if t.scope == "agent" and t.location)


def live_agents(rows: Iterable[AgentRow], config: MonitorConfig, now: float) -> frozenset[str]:
    """The agent locations of ``config`` whose agent's last word (a batch or a poll, the
    server's clock in its row) is within ``agents.lease`` of ``now``."""
    places = agent_locations(config)
    lease = config.agents.lease
    return frozenset(
        r.location for r in rows if r.location in places and now - r.last_seen <= lease
    )


def live_locations(
    instances: Iterable[Instance], agents: Iterable[AgentRow], config: MonitorConfig, now: float
) -> frozenset[str]:
    """The locations live at ``now``: those with an instance alive (its heartbeat within
    the lease) and the agent locations whose agent reported within ``agents.lease``.  The
    one answer to "is anything probing from there", for the quorum and for every page."""
    alive = frozenset(i.location for i in instances if i.alive)
    return alive | live_agents(agents, config, now)


@dataclass(frozen=True, slots=True)
class LocationsView:
    """What one monitor's locations see, and the quorum's count over them."""

    facts: Mapping[str, LocationFact]
    """Each location, in the monitor's order (``live=False``: no instance there is alive,
    so it is not counted)."""
    needed: int
    """How many failing locations make the monitor down."""
    failing: tuple[str, ...]
    """Counted locations that are down or flapping."""
    counted: int
    """Locations that count: live, and not paused there."""

    @property
    def below_quorum(self) -> str | None:
        """ "failing in 1 of 3 locations, below quorum" while some counted locations fail
        but fewer than the quorum needs (the monitor is up for the cluster, not
        everywhere); ``None`` otherwise."""
        return below_quorum(len(self.failing), self.counted, self.needed)


def below_quorum(failing: int, counted: int, needed: int) -> str | None:
    """The words for a monitor failing at ``failing`` of ``counted`` locations when that
    is fewer than the ``needed`` that make it down, so that a partial failure is seen
    rather than read as a clean up; ``None`` when none fail or the quorum is reached."""
    if not 0 < failing < needed:
        return None
    return f"failing in {failing} of {counted} locations, below quorum"


def views_of(
    quorum: Quorum, monitors: Iterable[Monitor], config: MonitorConfig
) -> dict[str, LocationsView]:
    """Each of ``monitors`` placed at more than one location, with what its locations
    see as ``quorum`` has it (a running monitor's, or one restored from the store)."""
    out: dict[str, LocationsView] = {}
    for m in monitors:
        if len(config.placed(m)) < 2:
            continue
        verdict = quorum.verdict(m.name)
        if verdict is None:
            continue
        out[m.name] = LocationsView(
            quorum.locations(m.name), verdict.needed, verdict.failing, len(verdict.counted)
        )
    return out


@dataclass(frozen=True, slots=True)
class ClusterView:
    """This instance and the cluster's: who it is, where, whether it leads, and, once
    :meth:`read` or :meth:`stored`, every instance the cluster knows; with
    :meth:`stored`, the agents and which locations are live as well."""

    id: str
    here: str
    """This instance's location."""
    leading: bool
    locations: tuple[str, ...]
    """The configuration's locations."""
    instances: tuple[Instance, ...] | None = None
    """Every instance, leader first (None: not read, or they could not be)."""
    agent_places: frozenset[str] = frozenset()
    """The configuration's agent locations (:func:`agent_locations`; :meth:`stored`)."""
    agents: tuple[AgentRow, ...] = ()
    """Their agents' rows, for those heard from."""
    agents_live: frozenset[str] = frozenset()
    """Of those, the locations whose agent reported within its lease."""
    live_at: frozenset[str] | None = None
    """The locations live (:func:`live_locations`; None: not worked out)."""

    def read(self, cluster: Cluster, now: float) -> ClusterView:
        """With the instances read from ``cluster``: off the event loop, since with
        PostgreSQL it is a query (a ClusterError when the database cannot be reached)."""
        return replace(self, instances=tuple(cluster.instances(now)))

    def stored(
        self, store: Store, config: MonitorConfig, now: float, live: Iterable[str] | None = None
    ) -> ClusterView:
        """With the instances and the agents' rows read from ``store`` (off the event
        loop), and the locations live: ``live`` as a running quorum counts them, or
        worked out from what was read (:func:`live_locations`) when not given."""
        instances = tuple(store.instances(now, config.cluster.lease))
        places = agent_locations(config)
        agents = tuple(r for r in store.agent_rows() if r.location in places)
        found = live_locations(instances, agents, config, now) if live is None else live
        return replace(
            self,
            instances=instances,
            agent_places=places,
            agents=agents,
            agents_live=live_agents(agents, config, now),
            live_at=frozenset(found),
        )

    def live(self) -> dict[str, int] | None:
        """How many live instances each location has: every location of the file (0 for
        one with none), then any other location a live instance names; None when the
        instances were not read."""
        if self.instances is None:
            return None
        out = dict.fromkeys(self.locations, 0)
        for instance in self.instances:
            if instance.alive:
                out[instance.location] = out.get(instance.location, 0) + 1
        return out
