"""The monitor's coordinator: checks in → store → detector → incident engine → outbox.
It makes no decision of its own; every clock is injectable.

The checks come from probers (``_prober.py``: schedule → probe → judge), in this
process (``workers: 1``) or in worker processes (``_workers.py``), and from pushes
(``_pushes.py``) and an application's calls (``_traffic_intake.py``).  Each runs
through the intake's stages (:attr:`Runner.stages`, in order, as Alertmanager's
``MultiStage`` runs its notification stages; a stage may end the check's run):
``_placed_here`` (a monitor probed here goes on), ``_record`` (store it), ``_remember``
(what the pages show now) and ``_detect`` (the detector, pure, which may ask for a
re-probe or change the monitor's state).  A state change is published as this
location's (``publish_location_state``), the quorum decides the cluster's
(``act_on_quorum``), and the runner writes down what the incident engine (pure)
answers (``write_incidents``, ``_decided.py``): incidents and their alerts, queued in
the outbox.

The incidents and their alerts go through alert delivery's stages (``_delivery.py``);
the rounds beside the checks (controls, heartbeats, the engine's tick, deliveries,
housekeeping) are the runner's run (``_rounds.py``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Final

from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.alerts import Channel, Outbox
from tether.monitor.checks._prober import Check, Prober, host_of, take_record
from tether.monitor.cluster._membership import Membership
from tether.monitor.cluster._view import ClusterView, LocationsView, views_of
from tether.monitor.config import (
    Monitor,
    MonitorConfig,
    resolve_location,
)
from tether.monitor.engine._detect import (
    Detector,
    Observation,
    StateChanged,
)
from tether.monitor.engine._holds import Holds
from tether.monitor.engine._quorum import Quorum, QuorumEvent
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import (
    Event as IncidentEvent,
)
from tether.monitor.runtime._controls import ControlsIntake
from tether.monitor.runtime._decided import (
    act_on_detection,
    commit_incidents,
    publish_location_state,
    take_quorum_events,
    tick_incidents,
)
from tether.monitor.runtime._delivery import AlertDelivery, alert_delivery
from tether.monitor.runtime._discovery import Discovery
from tether.monitor.runtime._fleet import Fleet
from tether.monitor.runtime._intake import Stage
from tether.monitor.runtime._loop import paused_collector
from tether.monitor.runtime._monitor_set import SetChange, set_change
from tether.monitor.runtime._monitor_set import apply as apply_set
from tether.monitor.runtime._monitor_terms import detector_rules
from tether.monitor.runtime._objective_stage import Objectives
from tether.monitor.runtime._pushes import Pushes
from tether.monitor.runtime._rounds import prune, run_rounds
from tether.monitor.runtime._saved import Saved, SavedStates, state_prefix
from tether.monitor.runtime._traffic_intake import TrafficIntake
from tether.monitor.runtime.agents._intake import AgentIntake
from tether.monitor.store import Cluster, Store
from tether.probe import ProbeOptions, ProbeResult, probe_async

log = logging.getLogger("tether.monitor")


_RESTART_SECTIONS: Final = ("storage", "server", "workers", "cluster")
"""What a running monitor cannot change: a reload says so."""
_SAID_SECTIONS: Final = frozenset({"alerts", "monitors"})
"""What a reload's summary says in its own words (the channels, each monitor)."""


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
        self.store = store
        self.outbox = outbox
        self.wall, self.mono, self._sleep = wall, mono, sleep or asyncio.sleep
        self.prober = Prober(wall=wall, mono=mono, sleep=sleep, rand=rand, probe=probe)
        self.fleet: Fleet = fleet or self.prober
        self.detector = Detector()
        self.latest: dict[str, Observation] = {}
        self.certificates: dict[str, float] = {}
        """When each monitor's certificate expires, as its last check that saw one said."""
        self.since: dict[str, float] = {}
        """When each monitor entered its state, as seen here (the pages read the store's)."""
        from tether.monitor.metrics._metrics import MonitorMetrics

        self.metrics = MonitorMetrics(wall=wall)
        self.metrics.watch_store(store.health)
        outbox.hook = self.metrics
        self.quorum = Quorum(live=[self.here])
        """Every monitor's state for the whole cluster, from each location's: what the
        incident engine, the holds and the pages go by.  One instance at one location
        passes its detector's changes through unchanged."""
        self.membership = Membership(
            self, store, self.quorum, self.here, cluster, wall=wall, sleep=self._sleep, rand=rand
        )
        """This instance's part in its cluster: its shards, its lead, its renewal rounds."""
        self.config = config
        self.saved = SavedStates(
            self,
            self.detector,
            self.here,
            state_prefix(config, self.here),
            shared=self.membership.shared,
        )
        """Each monitor's detector state in the store, and taking it back (``_saved.py``)."""
        self.traffic = TrafficIntake(self)
        """The traffic monitors' calls and verdicts (``_traffic_intake.py``)."""
        self.location_states: dict[str, LocationState] = {}
        """What was last published of each monitor at this location."""
        self.delivery: AlertDelivery
        """Alert delivery's stages (``_delivery.py``), built whole from the configuration."""
        self.deliver_by(config)
        self.engine = self._engine(config)
        controls = store.controls(wall())
        self.controls = ControlsIntake(self, controls)
        """What the write API changed: pauses, checks asked for, windows (``_controls.py``)."""
        self.holds = Holds().open(controls.windows)
        """What holds alerts back (parents, windows): the engine's ``hold`` asks it."""
        self._waiting: dict[str, list[asyncio.Future[ProbeRecord]]] = {}
        self.pushes = Pushes(self, controls.pushes)
        """The push monitors' pushes and missed heartbeats (``_pushes.py``)."""
        self.probed_here: set[str] = set()
        """The monitors this instance probes (or would, were they not paused): of its
        location, in the shards it holds.  Worked out when the configuration or the
        shards change (:meth:`place`), since every check asks."""
        self.by_name: dict[str, Monitor] = {}
        """The configuration's monitors, by name."""
        self.several: dict[str, Monitor] = {}
        """The monitors probed from more than one location: what the pages and
        ``/metrics`` show locations of, kept here rather than found at each request."""
        self.hosts: dict[str, str] = {}
        """Every monitor not paused, and its host (to correlate failures with)."""
        self.objectives = Objectives(self, config, shared=self.membership.shared)
        self.discovery = Discovery(config)  # its sources read by run_monitor (_discovery.py)
        self.agents = AgentIntake(self)  # what tether agents send (agents/_intake.py)
        self.stages: tuple[Stage, ...] = (
            self._placed_here,
            self._record,
            self._remember,
            self.objectives,
            self._detect,
        )
        """The intake's stages, run in this order on each check (:meth:`take_check`)."""
        self._start(config)

    def _engine(self, config: MonitorConfig) -> IncidentEngine:
        """The incident engine, with the open incidents and what they have told.  The
        routes at once: the open incidents are restored with them (the channels a
        ``local`` incident has paged are its alerted members' channels), so a restart
        keeps its reminders and its one resolution per channel."""
        store = self.store
        opened = store.incidents(open_only=True, limit=100_000)
        return IncidentEngine(
            {m.name: self.delivery.route(m) for m in config.monitors},
            store.new_incident_id,
            hold=self._hold,
            incidents=opened,
            told=store.incident_tellings(min((i.opened for i in opened), default=self.wall())),
            traffic=self.traffic.words,
        )

    def _start(self, config: MonitorConfig) -> None:
        """Take ``config``, every state back from the store, and the pauses."""
        self._configure(config, starting=True)
        with paused_collector():
            self._restore()
        for m in config.monitors:
            self.pause_or_resume(m)

    # -- configuration -------------------------------------------------------------------

    def _configure(self, config: MonitorConfig, *, starting: bool = False) -> None:
        """Take ``config`` as the one in force, every monitor anew (at start).  At start the
        quorum decides nothing yet: it knows no location's state until they are restored
        (:meth:`_restore`), and deciding from nothing resolved a partial incident whose
        location still failed."""
        change = set_change(self.by_name, config.monitors)
        apply_set(self, change, config, whole=True, starting=starting)

    def _restore(self) -> None:
        """Take every monitor's state back from the store (``_saved.py``) and, alone,
        what this location sees of each, deciding nothing: the store's open incidents
        match them (squared).  In a cluster, each monitor is taken back when its shard
        comes here (:meth:`adopt`)."""
        if self.membership.shared:
            return
        here = self.probed_here
        located = self.saved.restore_all(self.saved.read())
        states = [s for s in located if s.monitor in here]
        self.quorum.restore(states)
        for state in states:
            self.location_states[state.monitor] = state
            if self._single(state.monitor):
                self.since[state.monitor] = state.since

    def save_state(self, name: str) -> None:
        """Save ``name``'s detector state, with what this location last published."""
        self.saved.save(name, self.location_states.get(name))

    def read_saved(self, names: Collection[str]) -> Mapping[str, Saved]:
        """The saved states of ``names``, with the checks stored since (off the loop)."""
        return self.saved.read(names)

    def checkpoint(self) -> None:
        """Save every monitor's detector state (the writer batches them) at once: at the
        stop (the run's own checkpoints let the event loop go between slices,
        ``_rounds.checkpoint``)."""
        for name in self.detector.names():
            self.save_state(name)

    def pause_or_resume(self, m: Monitor) -> None:
        """Pause ``m``'s detector, or resume it, as the controls say (if probed here)."""
        if m.name not in self.probed_here:
            # Probed from another location or by another instance: paused or resumed
            # there, and known here from the state it publishes.
            return
        now = self.wall()
        if self.controls.is_paused(m):
            events = self.detector.pause(m.name, now)
        elif self.detector.state(m.name) is State.PAUSED:
            events = self.detector.resume(m.name, now)
        else:
            return
        for event in events:
            act_on_detection(self, event, None, now)

    def monitor(self, name: str) -> Monitor:
        """The monitor called ``name`` (KeyError if none)."""
        return self.by_name[name]

    def locations(self, names: Iterable[str] | None = None) -> dict[str, LocationsView]:
        """Every monitor of more than one location (or those of ``names``), with what its
        locations see: on the event loop, as the quorum changes there.  A monitor of one
        location costs nothing (they are kept aside: :attr:`several`)."""
        monitors: Iterable[Monitor] = self.several.values()
        if names is not None:
            monitors = [self.by_name[n] for n in names if n in self.by_name]
        return views_of(self.quorum, monitors, self.config)

    def cluster_view(self) -> ClusterView:
        """This instance, from memory (on the event loop); the instances are read off it."""
        return ClusterView(self.cluster.id, self.here, self.leading, self.config.locations)

    def describe(self) -> str:
        """What this instance is doing, in a line (for a stuck monitor's stack dump)."""
        due = self.prober.schedule.next_due()
        next_in = "none" if due is None else f"in {due - self.mono():.1f} s"
        return (
            f"location {self.here}, {len(self.probed_here)} monitors here, "
            f"{'leading' if self.leading else 'not leading'}; the in-process prober has "
            f"{len(self.prober.names)} plans, {len(self.prober.schedule)} scheduled, "
            f"next due {next_in}"
        )

    # -- the intake: each check through its stages, then what they decide -------------

    async def check(self, name: str, due: float) -> ProbeRecord:
        """Check ``name`` now with this process's prober, and take the result."""
        return self.take_check(await self.prober.check(name, due))

    def take_check(self, check: Check) -> ProbeRecord:
        """Run a check (a prober's, a push's, a traffic verdict's) through the intake's
        stages (:attr:`stages`) in order, until one ends its run, as Alertmanager's
        ``MultiStage`` runs its notification stages."""
        for stage in self.stages:
            if not stage(check):
                break
        return check.record

    def _placed_here(self, check: Check) -> bool:
        """Go on only with a monitor probed here: one removed, or moved to another
        instance, while the check ran, is not taken."""
        return check.record.monitor in self.probed_here

    def _record(self, check: Check) -> bool:
        """Store the check; a pass of a monitor of this one location counts for the
        correlation here (a cluster's leader sees state changes, not each check)."""
        record = check.record
        take_record(self.store, check)
        if record.ok and not self.membership.shared and record.monitor not in self.several:
            self.quorum.failures.passed(record.monitor, record.ts)
        return True

    def _remember(self, check: Check) -> bool:
        """Keep what pages show of the monitor now; answer whoever waits for its next check."""
        record = check.record
        name = record.monitor
        self.latest[name] = Observation(
            name, record.ok, record.ts, record.latency_ms, record.kind, check.host, record.lag_ms
        )
        if check.cert_expires is not None and self.certificates.get(name) != check.cert_expires:
            self.certificates[name] = check.cert_expires  # stored as it changes (a renewal)
            self.store.save_certificate(name, check.cert_expires)
        self.metrics.observe(record, check.timings, check.cert_days_left)
        for waiting in self._waiting.pop(name, ()):
            if not waiting.done():
                waiting.set_result(record)
        return True

    def _detect(self, check: Check) -> bool:
        """Feed the detector the observation, and act on what it makes of it."""
        record = check.record
        name, now = record.monitor, record.ts
        changed = False
        for event in self.detector.observe(self.latest[name], now):
            changed = changed or isinstance(event, StateChanged)
            act_on_detection(self, event, record, now, check.host)
        last = self.location_states.get(name)
        if not changed and not record.ok and last is not None and last.state is State.DOWN:
            # Still down, but perhaps for another reason now: the incidents correlate on
            # each down monitor's latest kind and host.
            publish_location_state(self, name, State.DOWN, last.since, "", record, check.host, now)
        return True

    def _single(self, name: str) -> bool:
        """Whether ``name`` is probed from one location (or is no monitor now)."""
        return name not in self.several

    def act_on_quorum(self, events: Iterable[QuorumEvent], now: float) -> None:
        """What the quorum decided for the whole cluster, acted on (``_decided.py``)."""
        take_quorum_events(self, events, now)

    def write_incidents(self, events: Iterable[IncidentEvent], now: float) -> None:
        """Write down what the incident engine decided (``_decided.py``)."""
        commit_incidents(self.store, events, now)

    def tick(self, acknowledged: Mapping[int, float] | None = None) -> None:
        """The engine's tick, with the acknowledgements made from outside (``_decided.py``)."""
        tick_incidents(self, acknowledged)

    def _hold(self, monitor: str, now: float) -> str | None:
        """Why ``monitor``'s alerts wait now, or None: the incident engine asks alert
        delivery's inhibit stage in force (the holds decide from the cluster's states)."""
        return self.delivery.inhibit(monitor, now)

    def deliver_by(
        self, config: MonitorConfig, channels: Mapping[str, Channel] | None = None
    ) -> None:
        """Build alert delivery's stages from ``config`` (``_delivery.py``), through
        ``channels`` (default: the outbox's), and put them in place whole: the outbox's
        gates and channels, the incident engine's hold and (as the monitor set is
        applied) its routes.  At start, on a reload, on a discovery change of routes."""
        delivery = alert_delivery(
            config,
            self.store,
            self.outbox.channels if channels is None else channels,
            holds=lambda: self.holds,
            quorum=self.quorum,
        )
        self.delivery = delivery
        self.outbox.send = delivery.send
        self.outbox.gates = list(delivery.gates)

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
        The monitors go the way discovery's changes go (:meth:`change_monitors`), every
        one of them put, since the file's other sections may have changed.
        """
        changes: list[str] = []
        for section in _RESTART_SECTIONS:
            if getattr(config, section) != getattr(self.config, section):
                changes.append(f"{section} changed: restart tether monitor to apply it")
        if config.alerts != self.config.alerts:
            changes.append("alert channels changed")
        # Every other section that changed is said by its name (a status page's
        # subscribe.webhook_networks, maintenance, discover): a reload that changed one
        # took effect, and "no change" would say it did not.
        for section in type(config).model_fields:
            if section in _SAID_SECTIONS or section in _RESTART_SECTIONS:
                continue
            if getattr(config, section) != getattr(self.config, section):
                changes.append(f"{section} changed")
        change = set_change(self.by_name, config.monitors)
        changes += change.lines(self.by_name)
        self.deliver_by(config, channels)
        apply_set(self, change, config, whole=True)
        for m in config.monitors:
            self.pause_or_resume(m)
        return changes

    def change_monitors(self, change: SetChange) -> list[str]:
        """Run the monitors ``change`` puts and removes, the rest of the configuration
        as it is (discovery): what changed, one line each, as :meth:`reload` says it.
        Each part of the runner hears of the monitors changed alone (``_monitor_set.py``)."""
        lines = change.lines(self.by_name)
        apply_set(self, change, whole=False)
        for m in change.put.values():
            self.pause_or_resume(m)
        return lines

    def _to_probe(self) -> list[Monitor]:
        """The monitors to probe here: those of this location and of the shards this
        instance holds (every one when alone), not paused."""
        here = self.probed_here
        return [
            m
            for m in self.config.monitors
            if m.probed and not self.controls.is_paused(m) and m.name in here
        ]

    def place(self) -> tuple[frozenset[str], frozenset[str]]:
        """Work out the monitors this instance probes (:attr:`probed_here`) from the
        configuration and the shards held: those it probed before, and those it probes
        now."""
        before = frozenset(self.probed_here)
        mine = [m.name for m in self.config.monitors if self.here in self.config.placed(m)]
        self.probed_here = set(self.membership.holding(mine))
        return before, frozenset(self.probed_here)

    def forget(self, name: str, now: float) -> None:
        """``name`` was removed from the configuration: every part forgets it."""
        self.detector.forget(name)
        self.quorum.forget(name)
        self.location_states.pop(name, None)
        self.pushes.forget(name)
        self.traffic.forget(name)
        self.latest.pop(name, None)
        self.certificates.pop(name, None)
        self.since.pop(name, None)
        self.metrics.forget(name)
        self.write_incidents(self.engine.forget(name, now), now)

    # -- the monitors here, their hosts, their next check --------------------------------

    def set_hosts(self) -> None:
        """Take the monitored hosts again (a reload, a pause): the correlation's too."""
        self.hosts = {
            m.name: host_of(m.url) for m in self.config.monitors if not self.controls.is_paused(m)
        }
        self.quorum.failures.set_hosts(self.hosts)

    def probes_here(self, name: str) -> bool:
        """Whether this instance probes ``name`` (its location, its shard; paused or not)."""
        return name in self.probed_here

    def next_record(self, name: str) -> asyncio.Future[ProbeRecord]:
        """The next check of ``name`` this instance takes (call it on the event loop)."""
        waiting: asyncio.Future[ProbeRecord] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(name, []).append(waiting)
        return waiting

    # -- running -------------------------------------------------------------------------

    async def run(
        self,
        stop: asyncio.Event,
        *,
        deliver_every: float = 1.0,
        freeze_gc: bool = False,
        began: float | None = None,
    ) -> None:
        """Check every monitor on its interval until ``stop``, with the rounds beside
        (``_rounds.py``: ``freeze_gc``, a cluster's); uptime counts from ``began``."""
        await run_rounds(
            self, stop, self._sleep, deliver_every=deliver_every, freeze_gc=freeze_gc, began=began
        )

    # -- its part in a cluster (the membership's: cluster/_membership.py) ----------------

    @property
    def cluster(self) -> Cluster:
        return self.membership.cluster

    @property
    def leading(self) -> bool:
        """Whether this instance runs the incident engine (alone, always)."""
        return self.membership.leading

    @property
    def held(self) -> frozenset[int]:
        """The shards this instance holds."""
        return self.membership.held

    async def renew(self) -> None:
        """One renewal round (:meth:`Membership.renew`)."""
        await self.membership.renew()

    async def poll_locations(self) -> None:
        """Read what every location published since the last read, into the quorum."""
        await self.membership.poll_locations()

    def drop(self, name: str, *, save: bool) -> None:
        """Stop keeping ``name``'s state here: its shard moved to another instance."""
        if save:
            self.save_state(name)
        self.detector.forget(name)
        self.latest.pop(name, None)
        self.certificates.pop(name, None)
        self.location_states.pop(name, None)

    def adopt(self, name: str, saved: Saved | None) -> None:
        """Keep ``name``'s state here, from its ``saved`` detector state and the checks
        stored since (:meth:`read_saved`): its shard came to this instance."""
        m = self.by_name[name]
        self.detector.configure(name, detector_rules(m))
        if saved is not None:
            self.saved.restore(name, saved, square=False)
        self.pause_or_resume(m)

    def assign(self) -> None:
        """Have the fleet probe the monitors to probe here from now on."""
        self.fleet.assign(self._to_probe())

    def reprobe(self, name: str, delay: float) -> None:
        self.fleet.reprobe(name, delay)

    async def _prune(self) -> None:
        """Drop what is past its retention, on the leader (``_rounds.py``)."""
        await prune(self)

    def published(self, name: str) -> bool:
        """Whether this location published ``name``'s state (it probes it itself)."""
        return name in self.location_states
