"""The monitor's coordinator: checks in → store → detector → incident engine → outbox.
It makes no decision of its own; every clock is injectable.

The checks come from probers (``_prober.py``: schedule → probe → judge), in this
process (``workers: 1``) or in worker processes (``_workers.py``); the coordinator
tells them which monitors to probe and when to probe one again.  What it does with
each check, in order:
1. store its record;
2. feed the detector (pure), which may ask for a confirmation re-probe (passed back
   to the prober) or change the monitor's state;
3. hand each state change to the incident engine (pure), and write down what it
   answers: incidents opened, joined, left and resolved, and their alerts, queued
   in the outbox, one queue per channel.

Beside the checks, once a second: the engine's tick (held alerts whose hold lifted,
reminders, escalation), acknowledgements made with ``tether ack``, and the
outbox's deliveries; every ten minutes, a checkpoint of the detector and pruning.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from tether._kinds import Kind
from tether._plural import count
from tether._redact import redact_url
from tether.monitor._baseline import Latency
from tether.monitor._correlate import held_by_parent
from tether.monitor._detect import (
    Degraded,
    Detector,
    Event,
    Observation,
    Recovered,
    ReprobeRequested,
    Rules,
    StateChanged,
)
from tether.monitor._incidents import (
    Escalation,
    IncidentEngine,
    Opened,
    Route,
)
from tether.monitor._incidents import (
    Event as IncidentEvent,
)
from tether.monitor._prober import Check, Prober, Sink, host_of
from tether.monitor._quorum import LocationsChanged, Placement, Quorum, QuorumEvent
from tether.monitor._records import Incident, LocationState, ProbeRecord
from tether.monitor._shares import monitors_in, shard_of
from tether.monitor._state import State
from tether.monitor.alerts import Channel, Outbox
from tether.monitor.config import Monitor, MonitorConfig, resolve_location
from tether.monitor.store import (
    Cluster,
    ClusterError,
    LocationFeed,
    SoloCluster,
    Store,
    StoreError,
)
from tether.probe import ProbeOptions, ProbeResult, probe_async

log = logging.getLogger("tether.monitor")

_STATE_KEY = "detector:"
"""Each monitor's detector state is saved under ``detector:NAME``, on its own: saving
every monitor on each change cost 1.4 s of CPU per change at 60,000 monitors."""
_LEGACY_KEY = "__detector__"
"""Where the first stores kept every monitor's state in one document."""
_CHECKPOINT_EVERY = 600.0
"""Seconds between saves of every monitor's state, so that a crash loses at most this much
of the latency baselines (states themselves are saved as they change)."""


class Fleet(Protocol):
    """Whatever probes the monitors for the coordinator: one :class:`Prober` in this
    process, or the worker processes (``_workers.WorkerFleet``)."""

    def assign(self, monitors: Iterable[Monitor]) -> None:
        """Probe exactly ``monitors`` from now on."""

    def reprobe(self, name: str, delay: float) -> None:
        """Probe ``name`` again in ``delay`` seconds."""

    async def run(self, stop: asyncio.Event, sink: Sink) -> None:
        """Probe until ``stop``, handing every check to ``sink``."""


class Runner:
    def __init__(
        self,
        config: MonitorConfig,
        store: Store,
        outbox: Outbox,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        rand: Callable[[], float] = random.random,
        probe: Callable[[str, ProbeOptions], Awaitable[ProbeResult]] = probe_async,
        fleet: Fleet | None = None,
        location: str | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        """``probe`` is what the prober of this process probes with; ``fleet`` replaces
        that prober (worker processes).  ``location`` is where this instance probes from
        (default: the configuration's only location); ``cluster`` is its part in a
        cluster of instances on one PostgreSQL database (default: alone)."""
        self.here = resolve_location(config, location, env={})
        self.cluster: Cluster = cluster or SoloCluster(self.here)
        self.shared = not isinstance(self.cluster, SoloCluster)
        """Whether other instances share the work (through the store): this one then
        probes the monitors of the shards it holds, publishes what it sees to the store,
        reads what every location sees from it, and leads only while it holds the
        leader's lease."""
        self.held = self.cluster.held()
        self.leading = not self.shared
        self.feed = LocationFeed()
        self._lead_lapsed = False
        self.store = store
        self.outbox = outbox
        self.wall, self.mono, self._sleep = wall, mono, sleep or asyncio.sleep
        self._rand = rand
        self.prober = Prober(wall=wall, mono=mono, sleep=sleep, rand=rand, probe=probe)
        self.fleet: Fleet = fleet or self.prober
        self.detector = Detector()
        self.latest: dict[str, Observation] = {}
        self.since: dict[str, float] = {}
        """When each monitor entered its current state (wall seconds), for the dashboard;
        kept in memory only, so a restart knows it again from the next change."""
        from tether.monitor._metrics import MonitorMetrics

        self.metrics = MonitorMetrics(wall=wall)
        self.metrics.watch_store(store.health)
        outbox.hook = self.metrics
        self.quorum = Quorum(live=[self.here])
        """Every monitor's state for the whole cluster, from each location's: what the
        incident engine, the holds and the pages go by.  One instance at one location
        passes its detector's changes through unchanged."""
        self._published: dict[str, tuple[State, float, Kind | None, str | None]] = {}
        """What was last published of each monitor at this location: its state, since
        when, and the kind and host of its failure."""
        self.engine = IncidentEngine(
            {},
            store.new_incident_id,
            hold=self._hold,
            incidents=store.incidents(open_only=True, limit=100_000),
        )
        self._configure(config)
        self._restore(store.load_state())
        for m in config.monitors:
            self._pause_or_resume(m)

    # -- configuration -------------------------------------------------------------------

    def _configure(self, config: MonitorConfig) -> None:
        """Take ``config`` as the one in force (at start and on reload)."""
        self.config = config
        self._by_name: dict[str, Monitor] = {m.name: m for m in config.monitors}
        self._hosts = {m.name: host_of(m.url) for m in config.monitors if not m.paused}
        self._depends = {m.name: m.depends_on for m in config.monitors}
        now = self.wall()
        events: list[QuorumEvent] = []
        for m in config.monitors:
            self.detector.configure(m.name, _rules(m))
            events += self.quorum.configure(m.name, Placement(config.placed(m), m.quorum), now)
        self.engine.routes = {m.name: _route(m) for m in config.monitors}
        self._place()
        self.fleet.assign(self._probed())
        self._lead(events, now)

    def _restore(self, saved: dict[str, dict[str, Any]]) -> None:
        found = dict(saved.get(_LEGACY_KEY, {}).get("monitors", {}))
        found.update(
            (key.removeprefix(_STATE_KEY), data)
            for key, data in saved.items()
            if key.startswith(_STATE_KEY)
        )
        for name, data in found.items():
            if name not in self._by_name:
                continue  # removed from the configuration while tether was stopped
            try:
                self.detector.restore(name, data)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("%s: saved state not restored, starting afresh: %s", name, exc)
        if self.shared:
            return  # the quorum learns every location's states from the store
        # The store's open incidents already match these states: nothing to decide.
        here = self._here()
        self.quorum.restore(
            LocationState(name, self.here, state, self.wall())
            for name, state in self.detector.states().items()
            if name in here
        )

    def _save(self, name: str) -> None:
        exported = self.detector.export(name)
        if exported is not None:
            self.store.save_state(_STATE_KEY + name, exported)

    def checkpoint(self) -> None:
        """Save every monitor's detector state (the writer batches them)."""
        for name in self.detector.states():
            self._save(name)

    def _pause_or_resume(self, m: Monitor) -> None:
        if self.here not in self.config.placed(m):
            return  # probed from elsewhere: paused or resumed there
        now = self.wall()
        if m.paused:
            events = self.detector.pause(m.name, now)
        elif self.detector.state(m.name) is State.PAUSED:
            events = self.detector.resume(m.name, now)
        else:
            return
        for event in events:
            self._handle(event, None, now)

    def monitor(self, name: str) -> Monitor:
        """The monitor called ``name`` (KeyError if none)."""
        return self._by_name[name]

    # -- one check -----------------------------------------------------------------------

    async def check(self, name: str, due: float) -> ProbeRecord:
        """Check ``name`` now with this process's prober, and take the result."""
        return self.take(await self.prober.check(name, due))

    def take(self, check: Check) -> ProbeRecord:
        """Store a check a prober made, and act on what the detector makes of it."""
        record = check.record
        name, now = record.monitor, record.ts
        if name not in self._mine:  # removed, or moved to another instance, meanwhile
            return record
        self.store.record(record)
        observation = Observation(name, record.ok, now, record.latency_ms, record.kind, check.host)
        self.latest[name] = observation
        self.metrics.observe(record, check.timings, check.cert_days_left)
        changed = False
        for event in self.detector.observe(observation, now):
            changed = changed or isinstance(event, StateChanged)
            self._handle(event, record, now, check.host)
        last = self._published.get(name)
        if not changed and not record.ok and last is not None and last[0] is State.DOWN:
            # Still down, but perhaps for another reason now: the incidents correlate on
            # each down monitor's latest kind and host.
            self._publish(name, State.DOWN, last[1], "", record, check.host, now)
        return record

    def _handle(
        self, event: Event, record: ProbeRecord | None, now: float, host: str | None = None
    ) -> None:
        name = event.monitor
        if isinstance(event, ReprobeRequested):
            self.fleet.reprobe(name, event.delay)
        elif isinstance(event, StateChanged):
            log.info(
                "%s: %s -> %s (%s)",
                name if self._single(name) else f"{name} from {self.here}",
                event.old,
                event.new,
                event.reason,
                extra={"event": "state", "monitor": name, "state": str(event.new)},
            )
            self._save(name)
            self._publish(name, event.new, event.at, event.reason, record, host, now)
        elif isinstance(event, Degraded | Recovered):
            notice = self.engine.notice(event, now)
            log.warning("%s", notice.text, extra={"event": "latency", "monitor": name})
            for alert in notice.alerts:
                self.outbox.queue(alert.channel, alert.dedup, alert.payload, now)

    def _single(self, name: str) -> bool:
        m = self._by_name.get(name)
        return m is None or len(self.config.placed(m)) == 1

    def _publish(
        self,
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
        seen = (state, since, kind, host if failed else None)
        if self._published.get(name) == seen:
            return
        self._published[name] = seen
        published = LocationState(
            name,
            self.here,
            state,
            since,
            reason,
            kind,
            None if record is None else record.detail,
            host if failed else None,
            None if record is None else record.latency_ms,
        )
        if self.shared:  # the other instances read it from the store (poll_locations)
            self.store.record_location_state(published, fence=self.cluster.fence(name))
        # This instance is the source of what its location sees of its own monitors: its
        # quorum takes it at once, and does not read it back.
        self._lead(self.quorum.update(published, now), now)

    def _lead(self, events: Iterable[QuorumEvent], now: float) -> None:
        """What the quorum decided for the whole cluster: state changes go to the
        incident engine (and to the store, for uptime), location changes to its partial
        incidents: on the leader.  Every instance keeps the states, for its pages."""
        for event in events:
            name = event.monitor
            if isinstance(event, LocationsChanged):
                if self.leading:
                    self._apply(self.engine.locations(event), now)
                continue
            self.since[name] = event.at
            if event.new is not State.PAUSED:  # a paused monitor keeps its last up value
                self.metrics.state(name, event.new is not State.DOWN)
            if not self.leading:
                continue
            if not self._single(name):
                log.info(
                    "%s: %s -> %s (%s)",
                    name,
                    event.old,
                    event.new,
                    event.reason,
                    extra={"event": "state", "monitor": name, "state": str(event.new)},
                )
            self.store.record_state(name, event.at, event.new)
            down = self.quorum.down() if event.new is State.DOWN else ()  # to correlate with
            changes = self.engine.changed(
                event, self.quorum.record(name), down, self._hosts, self.quorum.locations(name)
            )
            self._apply(changes, now)

    def _hold(self, monitor: str, now: float) -> str | None:
        """Why ``monitor``'s alerts wait now, or None (the incident engine asks)."""
        states = self.quorum.view()
        if states.get(monitor) is State.FLAPPING:
            return "it is flapping"
        parent = held_by_parent(monitor, self._depends, states)
        if parent is not None:
            return f"{parent}, which it depends on, is down"
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        window = next(
            (w for w in self.config.maintenance if w.covers(monitor) and w.active(at)), None
        )
        return None if window is None else f"maintenance window {window.name}"

    def _apply(self, events: Iterable[IncidentEvent], now: float) -> None:
        """Write down what the incident engine decided, each incident change with its
        alerts in one commit (a crash between the two would leave an incident whose
        members say they were alerted, and no alert)."""
        for event in events:
            incident = event.incident
            opened = isinstance(event, Opened)
            if opened or event.entry is not None or event.alerts:
                self.store.commit_incident(
                    incident, event.alerts, now, opened=opened, entry=event.entry
                )
            entry = event.entry or (incident.timeline[-1] if incident.timeline else None)
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

    def tick(self, acknowledged: Iterable[Incident] = ()) -> None:
        """Take the acknowledgements made from outside (``tether ack``: ``acknowledged``
        are open incidents as the store has them), then send the held alerts whose hold
        lifted, the reminders and the escalation steps that are due."""
        now = self.wall()
        for incident in acknowledged:
            if incident.acknowledged is None:
                continue
            if self.engine.acknowledge(incident.id, incident.acknowledged) is not None:
                log.warning(
                    "incident %d acknowledged: reminders and escalation stop",
                    incident.id,
                    extra={"event": "incident.acknowledged", "incident": incident.id},
                )
        self._apply(self.engine.tick(now), now)

    def _acknowledged(self) -> list[Incident]:
        """Open incidents as the store has them, when the engine has any open (a read)."""
        if not self.engine.open_incidents():
            return []
        try:
            return self.store.incidents(open_only=True, limit=100_000)
        except StoreError:
            # Held alerts, reminders and escalation go on; acknowledgements made while
            # the store is away are read once it is back (the writer has said why).
            return []

    # -- reloading -----------------------------------------------------------------------

    def reload(
        self, config: MonitorConfig, channels: Mapping[str, Channel] | None = None
    ) -> list[str]:
        """Run ``config`` from now on, keeping every state, baseline, incident and queued
        alert; return what changed, one line each.

        Monitors keep their place in the schedule unless their interval changed.  A
        removed monitor is forgotten (its history stays in the store) and leaves its
        incident; an incident left with no monitor is resolved.  ``storage`` and
        ``server`` cannot change under a running monitor: they are reported, not applied.
        """
        old = self._by_name
        new = {m.name: m for m in config.monitors}
        now = self.wall()
        changes: list[str] = []
        for section in ("storage", "server", "workers", "cluster"):
            if getattr(config, section) != getattr(self.config, section):
                changes.append(f"{section} changed: restart tether monitor to apply it")
        if config.alerts != self.config.alerts:
            changes.append("alert channels changed")
        for name in sorted(old.keys() - new.keys()):
            changes.append(f"removed {name}")
            self._forget(name, now)
        self._configure(config)
        if channels is not None:
            self.outbox.channels = channels
        for name, m in new.items():
            before = old.get(name)
            if before is None:
                changes.append(f"added {name}")
            elif before != m:
                changes.append(f"changed {name}")
            self._pause_or_resume(m)
        return changes

    def _probed(self) -> list[Monitor]:
        """The monitors to probe here: those of this location and of the shards this
        instance holds (every one when alone), not paused."""
        here = self._here()
        return [m for m in self.config.monitors if not m.paused and m.name in here]

    def _here(self) -> frozenset[str]:
        """The monitors this instance probes (or would, were they not paused): of its
        location, in the shards it holds.  Worked out when the configuration or the
        shards change (:meth:`_place`), since every check asks."""
        return self._mine

    def _place(self) -> None:
        mine = [m.name for m in self.config.monitors if self.here in self.config.placed(m)]
        if self.shared:
            mine = monitors_in(mine, self.held, self.cluster.shards)
        self._mine = frozenset(mine)

    def _forget(self, name: str, now: float) -> None:
        self.detector.forget(name)
        self.quorum.forget(name)
        self._published.pop(name, None)
        self.latest.pop(name, None)
        self.since.pop(name, None)
        self.metrics.forget(name)
        self._apply(self.engine.forget(name, now), now)

    # -- running -------------------------------------------------------------------------

    async def run(
        self, stop: asyncio.Event, *, deliver_every: float = 1.0, freeze_gc: bool = False
    ) -> None:
        """Check every monitor on its interval until ``stop`` is set.

        ``freeze_gc`` (what ``tether monitor`` does) collects once, then moves every object
        alive now (the configuration, parsed conditions, saved states and baselines) out
        of the garbage collector's reach: they live as long as the process, and with tens
        of thousands of monitors each full collection walked them again, pausing the
        event loop for over a second.  It does so once more when every monitor has run
        once, for what the first checks create (metrics series, schedule entries, latest
        results).  Not more often: whatever is frozen in the middle of a check is never
        collected if it later becomes a reference cycle.

        In a cluster, the first renewal round comes before anything else (this instance
        probes only what it holds), then one every ``cluster.every`` seconds; every
        instance reads what the locations see once a second, and the leader alone runs
        the incident engine's tick.  On a clean stop it hands its leases back.
        """
        if freeze_gc:
            freeze()
        if self.shared:
            await self.renew()
        else:
            started = self.wall()
            for m in self.config.monitors:
                # Uptime counts from here in the state the monitor had when tether stopped.
                self.store.record_state(m.name, started, self.detector.state(m.name))

        async def every_second() -> None:
            while not stop.is_set():
                try:
                    if self.shared:
                        await self.poll_locations()
                    if self.leading:
                        self.tick(await asyncio.to_thread(self._acknowledged))
                except Exception:
                    log.exception("incident tick failed")
                await self._sleep(deliver_every)

        async def rounds() -> None:
            while self.shared and not stop.is_set():
                await self._sleep(self.cluster.every)
                if not stop.is_set():
                    await self.renew()

        longest = max((m.interval for m in self.config.monitors), default=0.0)

        async def housekeeping() -> None:
            """Checkpoint the detector, and drop results past their retention, every
            ten minutes."""
            last = begun = self.mono()
            refreeze = freeze_gc
            while not stop.is_set():
                await self._sleep(1.0)
                if refreeze and self.mono() - begun > longest + 1:
                    refreeze = False
                    freeze()
                if self.mono() - last >= _CHECKPOINT_EVERY:
                    last = self.mono()
                    self.checkpoint()
                    self.feed.reset()  # a full read now and then: see LocationFeed
                    await self._prune()

        await self._prune()
        await asyncio.gather(
            self.fleet.run(stop, self.take),
            self.outbox.run(stop, self.wall, self._sleep, every=deliver_every),
            every_second(),
            rounds(),
            housekeeping(),
        )
        self.checkpoint()
        if not self.shared:
            stopped = self.wall()
            for m in self.config.monitors:  # while tether is stopped, nothing is known
                self.store.record_state(m.name, stopped, State.UNKNOWN)
        # Held: closing the store writes it or spills it, and says which.
        with contextlib.suppress(StoreError):
            self.store.flush()
        if self.shared:
            try:
                await asyncio.to_thread(self.cluster.leave, self.wall())
            except ClusterError as exc:
                log.warning("could not hand the leases back (they run out): %s", exc)

    # -- a cluster of instances ----------------------------------------------------------

    async def renew(self) -> None:
        """One renewal round: hold on to this instance's shards (and claim or hand back
        toward its fair share), and lead or not.  When the database cannot be reached, it
        goes on probing what it holds, and leads only until its leader's lease runs out
        on its own clock."""
        now = self.wall()
        try:
            done = await asyncio.to_thread(self.cluster.round, now)
        except ClusterError as exc:
            if not self._lead_lapsed:
                log.error(
                    "cannot renew the leases; probing what is held, and leading only until "
                    "the lease runs out: %s",
                    exc,
                    extra={"event": "cluster.failed"},
                )
            self._lead_lapsed = True
            await self._take_lead(self.cluster.is_leader(self.wall()))
            return
        if self._lead_lapsed:
            log.warning("leases renewed again", extra={"event": "cluster.resumed"})
            self._lead_lapsed = False
        if done.lost or done.release or done.gained:
            await self._move(done.held - done.release, done.gained, done.release)
        if done.release:
            try:
                await asyncio.to_thread(self.cluster.release, done.release, self.wall())
            except ClusterError as exc:  # they run out instead
                log.warning("could not hand back %d shards: %s", len(done.release), exc)
        try:
            instances = await asyncio.to_thread(self.cluster.instances, self.wall())
        except ClusterError:
            instances = None
        if instances is not None:
            live = {i.location for i in instances if i.alive} | {self.here}
            self._lead(self.quorum.set_live(live, self.wall()), self.wall())
        await self._take_lead(done.leader)

    async def _move(
        self, held: frozenset[int], gained: frozenset[int], released: frozenset[int]
    ) -> None:
        """Probe the monitors of ``held`` from now on: those of shards given up stop
        (their state saved first, for the next owner, unless the shard was lost: its new
        owner writes that now), those of ``gained`` start from their saved state."""
        before = self._here()
        lost = self.held - held - released
        self.held = held
        self._place()
        after = self._here()
        gone, new = before - after, after - before
        for name in sorted(gone):
            if shard_of(name, self.cluster.shards) not in lost:
                self._save(name)
            self.detector.forget(name)
            self.latest.pop(name, None)
            self._published.pop(name, None)
        if gone:
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(self.store.flush)
        if new:
            saved = await asyncio.to_thread(self.store.load_state)
            for name in sorted(new):
                m = self._by_name[name]
                self.detector.configure(name, _rules(m))
                data = saved.get(_STATE_KEY + name)
                if data is not None:
                    try:
                        self.detector.restore(name, data)
                    except (KeyError, TypeError, ValueError) as exc:
                        log.warning("%s: saved state not restored, starting afresh: %s", name, exc)
                self._pause_or_resume(m)
        self.fleet.assign(self._probed())
        for name in sorted(new):
            # Taken over, most likely from an instance that died a lease ago: probe them
            # soon rather than somewhere in their interval, so none waits two intervals.
            m = self._by_name[name]
            self.fleet.reprobe(name, self._rand() * min(m.interval, self.cluster.every))
        log.info(
            "now probing %s of location %s (%d shards of %d)",
            count(len(after), "monitor"),
            self.here,
            len(held),
            self.cluster.shards,
            extra={"event": "cluster.shards"},
        )

    async def _take_lead(self, leading: bool) -> None:
        """Become the leader (run the incident engine) or stop being it."""
        if leading == self.leading:
            return
        if not leading:
            self.leading = False
            log.warning("no longer the leader", extra={"event": "cluster.follower"})
            return
        try:
            # What this instance wrote while it could not (an incident it opened as the
            # leader before its lease ran out, say) must be in the store before the store
            # is read for the open incidents.
            await asyncio.to_thread(self.store.flush)
            await asyncio.to_thread(self.store.reserve_incident_ids)
            incidents = await asyncio.to_thread(
                self.store.incidents, open_only=True, limit=100_000
            )
        except StoreError as exc:
            log.error("cannot take the lead yet: %s", exc)
            return
        self.engine = IncidentEngine(
            self.engine.routes, self.store.new_incident_id, hold=self._hold, incidents=incidents
        )
        self.leading = True
        log.warning("leading the cluster now", extra={"event": "cluster.leader"})
        # Square the open incidents with what the locations see now: the last leader may
        # have died between a change and its incident, or nobody led for a while.
        self.feed.reset()
        await self.poll_locations()
        now = self.wall()
        down = self.quorum.down()
        for name, state in self.quorum.states().items():
            record = self.quorum.record(name) if state is State.DOWN else None
            if state is State.DOWN and record is not None:
                at = record.ts  # down since then, at the location that stands for it
            elif state in (State.UP, State.DEGRADED):
                at = now
            else:
                continue
            event = StateChanged(name, at, State.UNKNOWN, state, "as the new leader found it")
            changes = self.engine.changed(
                event, record, down, self._hosts, self.quorum.locations(name)
            )
            self._apply(changes, now)
        self._lead(self.quorum.snapshot(now), now)

    async def poll_locations(self) -> None:
        """Read what every location published since the last read, into the quorum."""
        try:
            rows = await asyncio.to_thread(self.store.location_states, self.feed.since())
        except StoreError:
            return  # read again next second; the writer has said why
        now = self.wall()
        mine = self._here()
        events: list[QuorumEvent] = []
        for state in self.feed.take(rows):
            if state.location == self.here and state.monitor in mine:
                continue  # its own, known first-hand (and perhaps newer than this row)
            events += self.quorum.update(state, now)
        self._lead(events, now)

    async def _prune(self) -> None:
        """Drop history past its retention; a store that cannot be written now is pruned
        next time (the writer has said why)."""
        try:
            await asyncio.to_thread(self.store.prune, self.wall())
        except StoreError as exc:
            log.debug("prune skipped: %s", exc)


def freeze() -> None:
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.info(
        "%d objects moved out of the collector's reach in %.2f s",
        gc.get_freeze_count(),
        time.perf_counter() - started,
    )


def _rules(m: Monitor) -> Rules:
    # No margin means never degraded: an infinite margin puts the limit out of reach.
    k = math.inf if m.latency_margin is None else m.latency_margin
    return Rules(
        failure_threshold=m.failure_threshold,
        success_threshold=m.success_threshold,
        latency=Latency(k=k),
    )


def _route(m: Monitor) -> Route:
    return Route(
        channels=tuple(m.alerts),
        url=redact_url(m.url),
        remind_every=m.remind_every,
        escalate=tuple(Escalation(step.after, tuple(step.alerts)) for step in m.escalate),
        partial_alerts=m.partial_alerts,
    )
