"""What the dashboard and ``/metrics`` show of locations and instances: each monitor's
locations from a quorum (the runner's, on its event loop: ``Runner.locations``), and the
cluster's instances off it (a database query with PostgreSQL), as the other store reads
are.  Records and pure functions: nothing here reads the runner.

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
    from tether.monitor.store import Cluster, Instance

__all__ = ["ClusterView", "LocationsView", "below_quorum", "views_of"]


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
    :meth:`read`, every instance the cluster knows."""

    id: str
    here: str
    """This instance's location."""
    leading: bool
    locations: tuple[str, ...]
    """The configuration's locations."""
    instances: tuple[Instance, ...] | None = None
    """Every instance, leader first (None: not read, or they could not be)."""

    def read(self, cluster: Cluster, now: float) -> ClusterView:
        """With the instances read from ``cluster``: off the event loop, since with
        PostgreSQL it is a query (a ClusterError when the database cannot be reached)."""
        return replace(self, instances=tuple(cluster.instances(now)))

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
