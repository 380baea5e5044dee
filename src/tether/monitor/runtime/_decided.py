"""What the detector, the quorum and the incident engine decided, acted on, in the order
a check's news travels: the detector's events of a monitor probed here (a re-probe, a
state change published as this location's, a latency notice); the quorum's state change
for the cluster, to the incident engine (and to the store, for uptime) on the leader;
each incident change the engine answers, written with its alerts in one commit, where
the outbox finds them (``alerts/_outbox.py``); and the engine's tick (held alerts whose
hold lifted, reminders, escalation, ``tether ack``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._detect import (
    Degraded,
    Event,
    Recovered,
    ReprobeRequested,
    StateChanged,
)
from tether.monitor.engine._quorum import LocationsChanged, QuorumEvent
from tether.monitor.engine.incidents._events import Event as IncidentEvent
from tether.monitor.engine.incidents._events import Opened

if TYPE_CHECKING:
    from tether.monitor.alerts import Outbox
    from tether.monitor.cluster._membership import Membership
    from tether.monitor.config import Monitor
    from tether.monitor.engine._quorum import Quorum
    from tether.monitor.engine.incidents._engine import IncidentEngine
    from tether.monitor.runtime._fleet import Fleet
    from tether.monitor.store import Cluster, Store

__all__ = [
    "DecidingRunner",
    "DetectingRunner",
    "StateGauge",
    "act_on_detection",
    "commit_incidents",
    "publish_location_state",
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


class DetectingRunner(DecidingRunner, Protocol):
    """The runner, as what its detector decides of the monitors probed here is acted on."""

    here: str
    fleet: Fleet
    outbox: Outbox
    membership: Membership
    location_states: dict[str, LocationState]
    """What was last published of each monitor at this location."""

    @property
    def cluster(self) -> Cluster: ...
    def save_state(self, name: str) -> None: ...
    def act_on_quorum(self, events: Iterable[QuorumEvent], now: float) -> None: ...


def act_on_detection(
    runner: DetectingRunner,
    event: Event,
    record: ProbeRecord | None,
    now: float,
    host: str | None = None,
) -> None:
    """What the detector decided of a monitor here: a re-probe asked for, a state change
    published as this location's (and saved), a latency notice sent."""
    name = event.monitor
    if isinstance(event, ReprobeRequested):
        runner.fleet.reprobe(name, event.delay)
    elif isinstance(event, StateChanged):
        log.info(
            "%s: %s -> %s (%s)",
            name if name not in runner.several else f"{name} from {runner.here}",
            event.old,
            event.new,
            event.reason,
            extra={"event": "state", "monitor": name, "state": str(event.new)},
        )
        # The incident change (with its alerts) is queued before the state: a crash
        # between the two leaves what _unsquared squares at the next start.
        publish_location_state(runner, name, event.new, event.at, event.reason, record, host, now)
        runner.save_state(name)
    elif isinstance(event, Degraded | Recovered):
        notice = runner.engine.notice(event, now)
        log.warning("%s", notice.text, extra={"event": "latency", "monitor": name})
        for alert in notice.alerts:
            runner.outbox.post(alert.channel, alert.dedup, alert.payload, now)


def publish_location_state(
    runner: DetectingRunner,
    name: str,
    state: State,
    since: float,
    reason: str,
    record: ProbeRecord | None,
    host: str | None,
    now: float,
) -> None:
    """Tell the quorum what this location sees of ``name`` now, unless nothing it goes
    by changed since the last time."""
    failed = record is not None and not record.ok
    kind = record.kind if failed and record is not None else None
    last = runner.location_states.get(name)
    if last is not None and (last.state, last.since, last.kind, last.host) == (
        state,
        since,
        kind,
        host if failed else None,
    ):
        return
    published = runner.location_states[name] = LocationState(
        name,
        runner.here,
        state,
        since,
        reason,
        kind,
        None if record is None else record.detail,
        host if failed else None,
        None if record is None else record.latency_ms,
    )
    if runner.membership.shared or name in runner.several:  # the others read it; tether status
        runner.store.record_location_state(published, fence=runner.cluster.fence(name))
    # This instance is the source of what its location sees of its own monitors: its
    # quorum takes it at once, and does not read it back.
    runner.act_on_quorum(runner.quorum.update(published, now), now)


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
