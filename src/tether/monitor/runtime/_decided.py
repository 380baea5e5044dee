"""What the quorum and the incident engine decided, acted on: a monitor's state change
for the cluster goes to the incident engine (and to the store, for uptime), on the
leader; each incident change the engine answers is written with its alerts in one
commit, where the outbox finds them (``alerts/_outbox.py``); and the engine's tick
(held alerts whose hold lifted, reminders, escalation, ``tether ack``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from tether.monitor._state import State
from tether.monitor.engine._incident_events import Event as IncidentEvent
from tether.monitor.engine._incident_events import Opened
from tether.monitor.engine._quorum import LocationsChanged, QuorumEvent

if TYPE_CHECKING:
    from tether.monitor.config import Monitor
    from tether.monitor.engine._incidents import IncidentEngine
    from tether.monitor.engine._quorum import Quorum
    from tether.monitor.store import Store

__all__ = [
    "DecidingRunner",
    "StateGauge",
    "commit_incidents",
    "take_quorum_events",
    "tick_incidents",
]

log = logging.getLogger("tether.monitor")


class StateGauge(Protocol):
    """The metrics' gauge of each monitor's state for the cluster (``tether_monitor_up``)."""

    def state(self, monitor: str, up: bool) -> None: ...


class DecidingRunner(Protocol):
    """The runner, as what its quorum and incident engine decide is acted on."""

    store: Store
    engine: IncidentEngine
    quorum: Quorum
    since: dict[str, float]
    several: dict[str, Monitor]
    hosts: dict[str, str]

    def wall(self) -> float: ...
    @property
    def metrics(self) -> StateGauge: ...
    @property
    def leading(self) -> bool: ...


def take_quorum_events(runner: DecidingRunner, events: Iterable[QuorumEvent], now: float) -> None:
    """What the quorum decided for the whole cluster: state changes go to the
    incident engine (and to the store, for uptime), location changes to its partial
    incidents: on the leader.  Every instance keeps the states, for its pages."""
    for event in events:
        name = event.monitor
        if isinstance(event, LocationsChanged):
            if runner.leading:
                commit_incidents(runner.store, runner.engine.locations(event), now)
            continue
        runner.since[name] = event.at
        if event.new is not State.PAUSED:  # a paused monitor keeps its last up value
            runner.metrics.state(name, event.new is not State.DOWN)
        if not runner.leading:
            continue
        if name in runner.several:
            log.info(
                "%s: %s -> %s (%s)",
                name,
                event.old,
                event.new,
                event.reason,
                extra={"event": "state", "monitor": name, "state": str(event.new)},
            )
        runner.store.record_state(name, event.at, event.new)
        # The quorum keeps the failures to correlate with, one change at a time.
        changes = runner.engine.changed(
            event,
            runner.quorum.record(name),
            runner.quorum.failures,
            runner.hosts,
            runner.quorum.locations(name),
        )
        commit_incidents(runner.store, changes, now)


def commit_incidents(store: Store, events: Iterable[IncidentEvent], now: float) -> None:
    """Write down what the incident engine decided, each incident change with its
    alerts in one commit (a crash between the two would leave an incident whose
    members say they were alerted, and no alert)."""
    for event in events:
        incident = event.incident
        opened = isinstance(event, Opened)
        # A member of the local incident joins or leaves with no line of its own
        # (its timeline is grouped): its record is written all the same (touched).
        if opened or event.entry is not None or event.alerts or event.touched or event.moves:
            store.commit_incident(
                incident,
                event.alerts,
                now,
                opened=opened,
                entry=event.entry,
                touched=event.touched,
                moves=event.moves,
            )
        entry = event.entry or (incident.timeline[-1] if opened and incident.timeline else None)
        if entry is not None:
            log.warning(
                "incident %d: %s: %s",
                incident.id,
                entry.event,
                entry.detail,
                extra={
                    "event": f"incident.{type(event).__name__.lower()}",
                    "incident": incident.id,
                    "monitor": event.monitor,
                    "kind": None if incident.kind is None else incident.kind.value,
                },
            )


def tick_incidents(runner: DecidingRunner, acknowledged: Mapping[int, float] | None) -> None:
    """Take the acknowledgements made from outside (``tether ack``: ``acknowledged``
    maps open incidents' ids to when they were acknowledged), then send the held
    alerts whose hold lifted, the reminders and the escalation steps that are due."""
    now = runner.wall()
    for incident_id, at in (acknowledged or {}).items():
        if runner.engine.acknowledge(incident_id, at) is not None:
            log.warning(
                "incident %d acknowledged: reminders and escalation stop",
                incident_id,
                extra={"event": "incident.acknowledged", "incident": incident_id},
            )
    commit_incidents(runner.store, runner.engine.tick(now), now)
