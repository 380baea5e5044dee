"""This instance's part in a cluster of instances on one PostgreSQL database: the
renewal rounds that hold its shards and the leader's lease, the monitors it takes on and
gives up when its shards move, taking the lead and giving it up, and the reading of what
every location publishes.  Alone (a :class:`~tether.monitor.store.SoloCluster`), it holds
every shard and leads, and its rounds never run: it only writes its row of the store's
instances every ``cluster.every`` seconds (:meth:`Membership.beat`), as an instance of a
cluster heartbeats at each round, for the pages and ``tether status`` to read.

It decides; the runner it belongs to (``runtime/_runner.Runner``) keeps the monitors'
detectors, the fleet and the incident engine's writes, and is reached only through
:class:`Coordinator`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from tether._plural import count
from tether.monitor._state import State
from tether.monitor._turns import in_turns
from tether.monitor.engine._detect import StateChanged
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.store import Cluster, ClusterError, LocationFeed, SoloCluster, StoreError
from tether.monitor.store._shares import monitors_in, shard_of

if TYPE_CHECKING:
    from tether.monitor.config import Monitor
    from tether.monitor.engine._quorum import Quorum, QuorumEvent
    from tether.monitor.engine.incidents._events import Event as IncidentEvent
    from tether.monitor.store import Store

__all__ = ["AgentsLive", "Coordinator", "Membership"]

log = logging.getLogger("tether.monitor")

HANDOVER_LEASES: Final = 4
"""Leases over which an instance spreads the first probes of the monitors a live
instance released to it (at a start, or when one joins), or over their interval if that
is shorter: 32 s with the default lease.  Over half a round, as after a death, ten
thousand monitors handed over would run within a second of each other, and so every
interval after (a run is planned an interval after the last); spread over their
interval (30 s and less, with the default lease), they run as spread as at a start, and
none waits more than that window past its interval."""


class AgentsLive(Protocol):
    """The runner's agents, as a renewal round counts their locations."""

    def live_in_store(self, now: float) -> frozenset[str]:
        """The agent locations whose agent reported (to any instance) within its lease."""


class Coordinator(Protocol):
    """What the membership asks of the runner it belongs to."""

    @property
    def agents(self) -> AgentsLive:
        """The agents that report to the cluster (``runtime/agents/_intake.py``)."""

    engine: IncidentEngine
    """The incident engine: a new one, from the store's open incidents, when this
    instance takes the lead."""

    @property
    def hosts(self) -> Mapping[str, str]:
        """Every monitored host (to correlate failures with)."""

    def place(self) -> tuple[frozenset[str], frozenset[str]]:
        """Work out the monitors this instance probes from the shards held now: those it
        probed before, and those it probes now."""

    def drop(self, name: str, *, save: bool) -> None:
        """Stop keeping ``name``'s state here (saved first for its next owner if ``save``)."""

    def read_saved(self, names: Collection[str]) -> Mapping[str, Any]:
        """The saved detector states of ``names``, with the checks stored since each was
        saved (called off the event loop)."""

    def adopt(self, name: str, saved: Any) -> None:
        """Keep ``name``'s state here from now on, from what :meth:`read_saved` gave of
        it (None: nothing saved)."""

    def assign(self) -> None:
        """Have the fleet probe the monitors placed here (not paused) from now on."""

    def monitor(self, name: str) -> Monitor:
        """The monitor called ``name``."""

    def reprobe(self, name: str, delay: float) -> None:
        """Probe ``name`` in ``delay`` seconds."""

    def published(self, name: str) -> bool:
        """Whether this location published ``name``'s state itself (known first-hand)."""

    def act_on_quorum(self, events: Iterable[QuorumEvent], now: float) -> None:
        """Act on what the quorum decided for the whole cluster."""

    def write_incidents(self, events: Iterable[IncidentEvent], now: float) -> None:
        """Write down what the incident engine decided."""


class Membership:
    """This instance in its cluster: the shards it holds, whether it leads."""

    def __init__(
        self,
        coordinator: Coordinator,
        store: Store,
        quorum: Quorum,
        here: str,
        cluster: Cluster | None = None,
        *,
        wall: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        rand: Callable[[], float],
    ) -> None:
        """``here`` is this instance's location; ``cluster`` its part in a cluster of
        instances on one PostgreSQL database (default: alone)."""
        self._coordinator = coordinator
        self._store = store
        self._quorum = quorum
        self.here = here
        self.cluster: Cluster = cluster or SoloCluster(here)
        self.shared = not isinstance(self.cluster, SoloCluster)
        """Whether other instances share the work (through the store): this one then
        probes the monitors of the shards it holds, publishes what it sees to the store,
        reads what every location sees from it, and leads only while it holds the
        leader's lease."""
        self.held = self.cluster.held()
        self.leading = not self.shared
        self.feed = LocationFeed()
        self._lead_lapsed = False
        self._round_in = self.cluster.every
        """Seconds from the last renewal round to the next (:meth:`renew` sets it)."""
        self._wall, self._sleep, self._rand = wall, sleep, rand

    def holding(self, names: Iterable[str]) -> list[str]:
        """The monitors of ``names`` in the shards this instance holds (every one alone),
        in their order."""
        if self.shared:
            return monitors_in(names, self.held, self.cluster.shards)
        return list(names)

    async def rounds(self, stop: asyncio.Event) -> None:
        """A renewal round every ``cluster.every`` seconds (or sooner: :meth:`renew`)
        until ``stop``; alone, a heartbeat (:meth:`beat`) as often."""
        while not self.shared and not stop.is_set():
            self.beat()
            await self._sleep(self.cluster.every)
        while self.shared and not stop.is_set():
            await self._sleep(self._round_in)
            if not stop.is_set():
                await self.renew()

    def beat(self) -> None:
        """Alone: write this instance's row of the store's instances, its heartbeat now,
        and forget the rows of instances dead for a lease (one killed before this one
        started: one monitor runs per SQLite file).  Nothing while the store cannot be
        written: a heartbeat held until it can would say nothing true."""
        if not self._store.health().up:
            return
        now = self._wall()
        (me,) = self.cluster.instances(now)
        with contextlib.suppress(StoreError):
            self._store.save_instance(dataclasses.replace(me, heartbeat=now))
            self._store.forget_instances(now - self.cluster.ttl)

    async def leave(self) -> None:
        """Hand this instance's leases back, on a clean stop (else they run out); alone,
        take its row out of the store's instances."""
        if not self.shared:
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(self._store.remove_instance, self.cluster.id)
            return
        try:
            await asyncio.to_thread(self.cluster.leave, self._wall())
        except ClusterError as exc:
            log.warning("could not hand the leases back (they run out): %s", exc)

    async def renew(self) -> None:
        """One renewal round: hold on to this instance's shards (and claim or hand back
        toward its fair share), and lead or not.  When the database cannot be reached, it
        goes on probing what it holds, and leads only until its leader's lease runs out
        on its own clock.

        The next round comes ``cluster.every`` seconds later, or as soon as a lease of
        another instance runs out if that is sooner: if that instance is dead, this one
        claims its shards then, rather than up to a round later."""
        now = self._wall()
        self._round_in = self.cluster.every
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
            await self._take_lead(self.cluster.is_leader(self._wall()))
            return
        if self._lead_lapsed:
            log.warning("leases renewed again", extra={"event": "cluster.resumed"})
            self._lead_lapsed = False
        if done.lost or done.release or done.gained:
            await self._move(done.held - done.release, done.gained, done.release, done.orphaned)
        if done.release:
            try:
                await asyncio.to_thread(self.cluster.release, done.release, self._wall())
            except ClusterError as exc:  # they run out instead
                log.warning("could not hand back %d shards: %s", len(done.release), exc)
        try:
            instances = await asyncio.to_thread(self.cluster.instances, self._wall())
        except ClusterError:
            instances = None
        if instances is not None:
            live = {i.location for i in instances if i.alive} | {self.here}
            # An agent's location is live while its agent reports, to whichever instance.
            with contextlib.suppress(StoreError):
                live |= await asyncio.to_thread(self._coordinator.agents.live_in_store, now)
            self._coordinator.act_on_quorum(self._quorum.set_live(live, self._wall()), self._wall())
        await self._take_lead(done.leader)
        self._round_in = done.next_round(self._wall(), self.cluster.every)

    async def _move(
        self,
        held: frozenset[int],
        gained: frozenset[int],
        released: frozenset[int],
        orphaned: frozenset[int] = frozenset(),
    ) -> None:
        """Probe the monitors of ``held`` from now on: those of shards given up stop
        (their state saved first, for the next owner, unless the shard was lost: its new
        owner writes that now), those of ``gained`` start from their saved state, those
        of ``orphaned`` (gained from a holder that died or left) probed soon, the others
        within their interval or :data:`HANDOVER_LEASES`."""
        lost = self.held - held - released
        self.held = held
        before, after = self._coordinator.place()
        gone, new = before - after, after - before
        for name in sorted(gone):
            self._coordinator.drop(name, save=shard_of(name, self.cluster.shards) not in lost)
        if gone:
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(self._store.flush)
        if new:
            saved = await asyncio.to_thread(self._coordinator.read_saved, new)
            for name in sorted(new):
                self._coordinator.adopt(name, saved.get(name))
        self._coordinator.assign()
        for name in sorted(new):
            m = self._coordinator.monitor(name)
            if shard_of(name, self.cluster.shards) in orphaned:
                # Taken over from an instance that died a lease ago (or left): probe them
                # soon rather than somewhere in their interval, so none waits two
                # intervals; spread over half a round at most (a lease's eighth).
                window = min(m.interval, self.cluster.every) / 2
            elif m.interval > HANDOVER_LEASES * self.cluster.ttl:
                # Released by a live instance, which probed them until then: within
                # HANDOVER_LEASES, rather than somewhere in a long interval.
                window = HANDOVER_LEASES * self.cluster.ttl
            else:
                continue  # its first run spread over its interval, as at a start
            self._coordinator.reprobe(name, self._rand() * window)
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
        store = self._store
        try:
            # What this instance wrote while it could not (an incident it opened as the
            # leader before its lease ran out, say) must be in the store before the store
            # is read for the open incidents.
            await asyncio.to_thread(store.flush)
            await asyncio.to_thread(store.reserve_incident_ids)
            incidents = await asyncio.to_thread(store.incidents, open_only=True, limit=100_000)
            since = min((i.opened for i in incidents), default=0.0)
            told = await asyncio.to_thread(store.incident_tellings, since) if incidents else {}
            # Each monitor's last state in the store, to square with the quorum's below.
            stored = await asyncio.to_thread(
                store.state_changes_of, list(self._quorum.states()), math.inf
            )
        except StoreError as exc:
            log.error("cannot take the lead yet: %s", exc)
            return
        was = self._coordinator.engine
        self._coordinator.engine = IncidentEngine(
            was.routes,
            was.new_id,
            hold=was.hold,
            incidents=incidents,
            told=told,
            traffic=was.traffic,
            correlation=was.correlation,
        )
        self.leading = True
        log.warning("leading the cluster now", extra={"event": "cluster.leader"})
        # Square the open incidents with what the locations see now: the last leader may
        # have died between a change and its incident, or nobody led for a while.  Every
        # location's state first, deciding nothing: taken one at a time, a monitor's
        # first location read alone would look like the whole picture (a partial incident
        # resolved before its failing location's state was read, and opened again).
        self.feed.reset()
        await self.poll_locations(decide=False)
        now = self._wall()
        quorum = self._quorum
        for name, state in quorum.states().items():
            record = quorum.record(name) if state is State.DOWN else None
            if state is State.DOWN and record is not None:
                at = record.ts  # down since then, at the location that stands for it
            elif state in (State.UP, State.DEGRADED):
                at = now
            else:
                continue
            # Uptime and ``tether status`` read the leader's changes: one that no leader
            # wrote (the last one died first, or the change came while nobody led) is
            # written now, or the store would say the monitor's old state until its next.
            last = stored.get(name)
            if not last or last[-1][1] is not state:
                store.record_state(name, max(at, last[-1][0]) if last else at, state)
            event = StateChanged(name, at, State.UNKNOWN, state, "as the new leader found it")
            changes = self._coordinator.engine.changed(
                event, record, quorum.failures, self._coordinator.hosts, quorum.locations(name)
            )
            self._coordinator.write_incidents(changes, now)
        self._coordinator.act_on_quorum(quorum.snapshot(now), now)

    async def poll_locations(self, *, decide: bool = True) -> None:
        """Read what every location published since the last read, into the quorum (with
        ``decide`` false, taken without deciding anything: a new leader squares the
        incidents with the whole picture after)."""
        try:
            read = await asyncio.to_thread(
                self._store.location_changes, self.feed.since(), self.feed.horizon
            )
        except StoreError:
            # Read again next second, in full: the database may come back another one
            # (its transactions numbered afresh).  The writer has said why.
            self.feed.reset()
            return
        now = self._wall()
        taken = []
        # In turns: in a wave one read is thousands of changes, the checks waited behind.
        async for state in in_turns(self.feed.take(read.rows, read.horizon)):
            if state.location == self.here and self._coordinator.published(state.monitor):
                # Its own, known first-hand (and perhaps newer than this row).  One taken
                # over and not changed since is known from the row its last holder wrote.
                continue
            if self.feed.states.get((state.monitor, state.location)) is not state:
                continue  # stale
            if decide:
                self._coordinator.act_on_quorum(self._quorum.update(state, now), now)
            else:
                taken.append(state)
        if taken:
            self._quorum.restore(taken)
