"""What the web asks of the running monitor: the one view of it that the pages, the APIs
and ``/metrics`` read, and the few things they hand it (a push, reported calls, an
action).  ``runtime/_runner.Runner`` is one; the web names no more of it than this, and
imports nothing from the runtime above it (docs/architecture.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tether.monitor._agent_wire import Assignment, Batch, Receipt
    from tether.monitor._records import Controls, ProbeRecord
    from tether.monitor.alerts import Outbox
    from tether.monitor.cluster._view import ClusterView, LocationsView
    from tether.monitor.config import Monitor, MonitorConfig
    from tether.monitor.engine._detect import Observation
    from tether.monitor.engine._discovery import SourceStatus
    from tether.monitor.engine._quorum import Quorum
    from tether.monitor.engine._traffic import Traffic, TrafficCall
    from tether.monitor.metrics._agent_metrics import AgentsView
    from tether.monitor.metrics._metrics import MonitorMetrics
    from tether.monitor.metrics._objective_metrics import ObjectivesView
    from tether.monitor.store import Cluster, Store


class PushIntake(Protocol):
    """The push monitors' intake, as the web hands it a push."""

    def monitor(self, token: str) -> Monitor | None:
        """The push monitor ``token`` belongs to, if any (nothing is recorded)."""

    def push(
        self, token: str, ok: bool, message: str | None, latency_ms: float | None
    ) -> str | None:
        """Take a push made with ``token``: its monitor's name, or None if no monitor's."""


class TrafficReports(Protocol):
    """The traffic monitors' intake, as the web reads their calls and hands it more."""

    @property
    def monitors(self) -> Mapping[str, Traffic]:
        """Each traffic monitor's calls."""

    def report(self, app: str, calls: list[TrafficCall], dropped: int) -> int:
        """Take an application's batch of calls: how many were taken."""


class AgentService(Protocol):
    """The agents' intake (``runtime/agents/_intake.py``), as the web hands it an agent's
    poll and batch, and reads the agents."""

    def assignment(self, location: str, agent: str = "") -> Assignment:
        """What the agent at ``location`` probes now (the poll renews its lease)."""

    async def changed(self, location: str, version: str | None, wait: float) -> None:
        """Return once ``location``'s assignment is not ``version``, or after ``wait`` s."""

    async def take(self, batch: Batch, location: str) -> Receipt:
        """Take a batch; answered once what it holds is committed (``WireError``: a
        batch refused, a check's time out of its window)."""

    def refused(self, location: str, why: str) -> None:
        """A batch from ``location``'s agent was refused with the 400 ``why``: said once."""

    def release(self) -> None:
        """Answer every long poll now: the server is shutting down."""

    def view(self) -> AgentsView:
        """The agent locations now."""


class RunControls(Protocol):
    """The running monitor's controls (pauses, checks asked for, windows)."""

    def is_paused(self, m: Monitor) -> bool:
        """Whether ``m`` is paused: in the configuration, or through the write API."""

    def apply(self, controls: Controls) -> None:
        """Take the store's controls now, as written through the write API."""


class DiscoveryView(Protocol):
    """The ``discover:`` sources, as the pages and ``/metrics`` read them."""

    def status(self) -> list[SourceStatus]: ...


class Running(Protocol):
    """The running monitor, as the web sees it."""

    # -- what it holds now, read --------------------------------------------------------

    @property
    def config(self) -> MonitorConfig: ...
    @property
    def store(self) -> Store: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def metrics(self) -> MonitorMetrics: ...
    @property
    def cluster(self) -> Cluster: ...
    @property
    def quorum(self) -> Quorum: ...
    @property
    def leading(self) -> bool: ...
    @property
    def wall(self) -> Callable[[], float]: ...
    @property
    def latest(self) -> Mapping[str, Observation]: ...
    @property
    def since(self) -> Mapping[str, float]: ...
    @property
    def certificates(self) -> Mapping[str, float]: ...
    @property
    def traffic(self) -> TrafficReports: ...
    @property
    def objectives(self) -> ObjectivesView: ...
    @property
    def discovery(self) -> DiscoveryView: ...

    def monitor(self, name: str) -> Monitor: ...
    def probes_here(self, name: str) -> bool: ...
    def locations(self, names: Iterable[str] | None = None) -> dict[str, LocationsView]: ...
    def cluster_view(self) -> ClusterView: ...

    # -- what the web hands it ----------------------------------------------------------

    @property
    def pushes(self) -> PushIntake: ...
    @property
    def controls(self) -> RunControls: ...
    @property
    def agents(self) -> AgentService: ...
    def tick(self, acknowledged: Mapping[int, float] | None = None) -> None: ...
    def next_record(self, name: str) -> asyncio.Future[ProbeRecord]: ...
