"""The agents' intake: what ``tether agent`` asks for (its assignment) and sends (its
batches of checks), taken for the runner it belongs to, so that an agent's location is a
location like any other: its checks stored like every check, detected on per (monitor,
location) with the runner's detector, published to the quorum as that location's
state, and the location live while its agent reports.

- **Each batch once.**  A batch whose id was taken is answered ``duplicate`` and
  stores nothing.  The ids are kept in the store (``store/_agents.py``), written in one
  commit with the batch's results, and the answer waits for that commit: the agent
  drops its spool on the answer, so one sent before the commit could lose checks.
- **On the server's time.**  Each check is placed at ``ts + offset`` where ``offset =
  server_now - batch.sent_at`` (:func:`placed`), never after the batch arrived.  A batch
  with a check dated more than a day after its ``sent_at``, or older than
  ``storage.raw_retention`` before it, is refused whole (a 400 naming the check): its
  agent drops such checks before sending, so only a broken or hostile peer sends one.
  The counts an agent says (``dropped``) are bounded per batch and held at
  ``COUNT_MAX`` in total.
- **The past never alerts.**  A check older than ``agents.late_after`` on the server's
  time, or older than the newest already detected for its monitor and location, is
  stored (history, roll-ups, uptime) and not detected on.  A batch's checks are
  detected in time order.
- **Not live, never down.**  A location is live while its agent reported (a batch or
  a poll) within ``agents.lease``: alone, the quorum's live locations are this
  instance's and the live agents' (:meth:`AgentIntake.tick`); in a cluster the
  membership's renewal reads them from the store (:meth:`AgentIntake.live_in_store`),
  so every instance sees the same.  An agent that stops is a location the quorum no
  longer counts, never a monitor down.
- **What an agent does not run** (``Batch.cannot_run``) is kept on its row, and alerted
  once per episode (``agents/_not_run.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Final, Protocol

from tether.monitor._agent_wire import (
    MAX_WAIT,
    AgentCheck,
    AgentWireError,
    Assignment,
    Batch,
    NotRun,
    Receipt,
    out_of_window,
)
from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.cluster._view import agent_locations, live_agents
from tether.monitor.config._monitor_wire import monitor_json
from tether.monitor.engine._detect import Detector, Observation, StateChanged
from tether.monitor.metrics._agent_metrics import AgentsView
from tether.monitor.runtime._monitor_terms import detector_rules
from tether.monitor.runtime._saved import Holder, SavedStates
from tether.monitor.runtime.agents._not_run import NotRunAlerts, not_run_changes
from tether.monitor.store import AgentRow, StoreError
from tether.monitor.store._agents import counted

if TYPE_CHECKING:
    from tether.monitor.alerts import Outbox
    from tether.monitor.cluster._membership import Membership
    from tether.monitor.config import Monitor, MonitorConfig
    from tether.monitor.engine._quorum import Quorum, QuorumEvent
    from tether.monitor.metrics._metrics import MonitorMetrics

__all__ = ["AgentIntake", "AgentRunner", "placed"]

log = logging.getLogger("tether.monitor")

_PRUNE_EVERY: Final = 600.0
"""Seconds between prunings of the batch ids past ``agents.keep_batches``."""


class AgentRunner(Holder, Protocol):
    """The runner, as the agents' intake sees it."""

    @property
    def quorum(self) -> Quorum: ...
    @property
    def metrics(self) -> MonitorMetrics: ...
    @property
    def membership(self) -> Membership: ...
    @property
    def here(self) -> str: ...
    @property
    def latest(self) -> dict[str, Observation]: ...
    @property
    def outbox(self) -> Outbox: ...

    def probes_here(self, name: str) -> bool: ...
    def act_on_quorum(self, events: Iterable[QuorumEvent], now: float) -> None: ...


def placed(check: AgentCheck, offset: float, now: float) -> ProbeRecord:
    """``check``'s record on the server's clock: its ``ts`` plus ``offset``, the server's
    clock minus the agent's as the batch arrived (``server_now - sent_at``), and never
    after ``now``, the batch's arrival (a check dated after its batch left was made
    before its agent's clock went back).

    Good enough because the error is only the batch's transfer time (the server read its
    clock after the batch arrived, the agent before it left): milliseconds, against
    detection thresholds of seconds, and the same error for every check of the batch, so
    their order and spacing are the agent's own.  An agent's clock that drifts is
    corrected at each batch."""
    return replace(check.record, ts=min(check.record.ts + offset, now))


class AgentIntake:
    """The agents of one runner: their assignments, batches, detectors and liveness."""

    def __init__(self, runner: AgentRunner) -> None:
        self._runner = runner
        self._detectors: dict[str, Detector] = {}
        """One detector per agent location (each keeps its monitors' states)."""
        self._placed: dict[str, tuple[Monitor, ...]] = {}
        """The probe monitors placed at each agent location."""
        self._names: dict[str, frozenset[str]] = {}
        self._versions: dict[str, str] = {}
        self._changed = asyncio.Event()
        """Set (and replaced) when a reload changes an assignment: the long polls wake."""
        self._released = False
        """Set once the server shuts down: every long poll is answered at once."""
        self._newest: dict[tuple[str, str], float] = {}
        """The newest check detected on, per (location, monitor), on the server's time."""
        self._published: dict[tuple[str, str], LocationState] = {}
        """What each agent location last published of each monitor."""
        self._saved: dict[str, SavedStates] = {}
        """Each agent location's detector states in the store (``_saved.py``)."""
        self._rows: dict[str, AgentRow] = {}
        self._live: frozenset[str] = frozenset()
        self._warned: set[str] = set()
        self._in_flight: set[str] = set()
        self.duplicates = 0
        self.polling = 0
        """Long polls waiting now."""
        self.skipped: dict[str, int] = {}
        self._restored = False
        self._pruned = -math.inf
        self._refused: dict[str, str] = {}
        """The last refusal said of each location's batches, until one is taken."""
        self.not_run = NotRunAlerts(lambda: runner.outbox)
        runner.metrics.agents.view = self.view

    # -- the configuration -----------------------------------------------------------

    def configure(self, config: MonitorConfig) -> None:
        """Take ``config``'s agent locations and the monitors placed there (at start and on
        reload); the long polls of an assignment that changed are answered."""
        changed = False
        locations = agent_locations(config)
        for location in list(self._detectors):
            if location not in locations:
                del self._detectors[location]
                del self._saved[location]
        for location in sorted(locations):
            monitors = tuple(
                m for m in config.monitors if m.probed and location in config.placed(m)
            )
            detector = self._detectors.setdefault(location, Detector())
            if location not in self._saved:
                self._saved[location] = SavedStates(
                    self._runner, detector, location, self._prefix(location), shared=False
                )
            names = frozenset(m.name for m in monitors)
            for gone in self._names.get(location, frozenset()) - names:
                detector.forget(gone)
                self._newest.pop((location, gone), None)
                self._published.pop((location, gone), None)
            for m in monitors:
                detector.configure(m.name, detector_rules(m))
            self._placed[location], self._names[location] = monitors, names
            text = json.dumps([monitor_json(m) for m in monitors], sort_keys=True)
            version = hashlib.sha256(text.encode()).hexdigest()[:16]
            changed = changed or self._versions.get(location) != version
            self._versions[location] = version
        for location in list(self._placed):
            if location not in locations:
                self._placed.pop(location)
                self._names.pop(location, None)
                self._versions.pop(location, None)
                changed = True
        if changed:
            self._changed.set()
            self._changed = asyncio.Event()
        if not self._restored and self._names:  # nothing to read while no agent reports here
            self._restored = True
            self._restore()
        if locations:
            self.not_run.configure(config)
        self._unplaced(self._runner.wall())

    def _unplaced(self, now: float) -> None:
        """Each monitor an agent said it does not run, and that is no longer placed at its
        location, is over: said, and resolved."""
        for location, row in list(self._rows.items()):
            if not row.cannot_run:
                continue
            names = self._names.get(location, frozenset())
            kept = tuple(n for n in row.cannot_run if n.monitor in names)
            if len(kept) == len(row.cannot_run):
                continue
            for n in row.cannot_run:
                if n.monitor not in names:
                    self.not_run.ended(location, n, now, placed=False)
            self._keep(replace(row, cannot_run=kept))

    @staticmethod
    def _prefix(location: str) -> str:
        """Where a location's detector states are saved: the runner's scheme."""
        return f"detector@{location}:"

    def _restore(self) -> None:
        """Take back the detectors' saved states (with the checks stored since, for a
        monitor only its agent probes), what each location published, and the agents'
        rows: a restart neither forgets what an agent's location saw, nor its cause, nor
        alerts it again."""
        store, now = self._runner.store, self._runner.wall()
        states = []
        try:
            rows = store.agent_rows()
            for location, names in self._names.items():
                saved = self._saved[location]
                found = saved.read(names)
                squared = sum(
                    saved.restore(n, one, square=not self._runner.membership.shared)
                    for n, one in found.items()
                )
                if squared:
                    log.warning(
                        "%d monitors at %s restored as unknown: their saved states and the "
                        "open incidents did not match; the next checks decide",
                        squared,
                        location,
                        extra={"event": "restore.squared"},
                    )
                for name, one in found.items():
                    state = saved.located(name, one)
                    states.append(state)
                    self._published[(location, name)] = state
                    through = saved.detector.through(name)
                    if through is not None:
                        self._newest[(location, name)] = through
        except StoreError as exc:
            log.warning("the agents' saved states were not read, starting afresh: %s", exc)
            return
        self._rows = {row.location: row for row in rows}
        if not self._runner.membership.shared:
            # Live first, then the states, deciding nothing: the store's open incidents
            # match them already (as the runner restores its own location's).
            quorum = self._runner.quorum
            quorum.set_live({self._runner.here, *self._live_rows(now)}, now)
            quorum.restore(states)
            self._live = self._live_rows(now)

    # -- what the web asks -------------------------------------------------------------

    def assignment(self, location: str, agent: str = "") -> Assignment:
        """What the agent at ``location`` probes now (its poll renews its lease)."""
        now = self._runner.wall()
        self._seen(location, now, agent=agent or None)
        settings = self._runner.config.agents
        return Assignment(
            version=self._versions.get(location, "none"),
            location=location,
            monitors=tuple(monitor_json(m) for m in self._placed.get(location, ())),
            lease=settings.lease,
            batch_every=settings.batch_every,
            server_time=now,
            max_age=self._runner.config.storage.raw_retention,
        )

    def release(self) -> None:
        """Answer every long poll at once, and any asked from now on: the server is
        shutting down, and would otherwise wait for them (up to :data:`MAX_WAIT`)."""
        self._released = True
        self._changed.set()

    async def changed(self, location: str, version: str | None, wait: float) -> None:
        """Return when ``location``'s assignment is no longer ``version`` (at once if it is
        not), or after ``wait`` seconds (at most :data:`MAX_WAIT`)."""
        if self._released or version is None or wait <= 0:
            return
        if version != self._versions.get(location, "none"):
            return
        event = self._changed
        self.polling += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(wait, MAX_WAIT))
        finally:
            self.polling -= 1

    async def take(self, batch: Batch, location: str) -> Receipt:
        """Take ``batch`` from the agent at ``location``; answered once what it holds is
        committed (:class:`StoreError` if it cannot be: the agent sends it again)."""
        runner = self._runner
        store = runner.store
        now = runner.wall()
        offset = now - batch.sent_at
        self._window(batch)
        self._clock(location, batch, offset)
        if batch.id in self._in_flight or await asyncio.to_thread(store.batch_taken, batch.id):
            self.duplicates += 1
            self._seen(location, now, said=self._said(location, batch, offset, now))
            return Receipt(0, True, offset, runner.wall())
        self._in_flight.add(batch.id)
        try:
            taken, late, skipped = self._store_and_detect(batch, location, offset, now)
            # Committed with the results queued above, in one transaction.
            if not await asyncio.to_thread(store.take_batch, batch.id, location, now):
                self.duplicates += 1  # taken meanwhile by another instance
                return Receipt(0, True, offset, runner.wall())
        finally:
            self._in_flight.discard(batch.id)
        if skipped:
            self.skipped[location] = self.skipped.get(location, 0) + skipped
            log.warning(
                "agent at %s sent %d checks of monitors not placed there: left out",
                location,
                skipped,
                extra={"event": "agent.skipped", "location": location},
            )
        said = self._said(location, batch, offset, now)
        self._seen(location, now, batch=batch, taken=taken, late=late, said=said)
        return Receipt(taken, False, offset, runner.wall())

    def refused(self, location: str, why: str) -> None:
        """A batch from ``location``'s agent was refused (``why``, the 400's line): said
        once, until the next refusal for another reason or a batch taken."""
        if self._refused.get(location) != why:
            self._refused[location] = why
            log.warning(
                "agent at %s: its batch was refused: %s",
                location,
                why,
                extra={"event": "agent.refused", "location": location},
            )

    def _window(self, batch: Batch) -> None:
        """Refuse ``batch`` (a :class:`AgentWireError` naming the check) if one of its checks is
        outside the window its ``sent_at`` allows: where it would be placed, no page could
        show it, or it would be the monitor's newest check for good."""
        max_age = self._runner.config.storage.raw_retention
        for i, check in enumerate(batch.checks):
            why = out_of_window(check, batch.sent_at, max_age)
            if why is not None:
                raise AgentWireError(
                    f"results[{i}].ts: {why}: is the agent's clock right? (docs/agents.md, Clocks)"
                )

    def _said(
        self, location: str, batch: Batch, offset: float, now: float
    ) -> tuple[NotRun, ...] | None:
        """What the agent at ``location`` does not run, after ``batch``: its list, if it
        says one about the assignment the server holds now (each change alerted), else
        what was known."""
        row = self._rows.get(location)
        known = None if row is None else row.cannot_run
        if batch.cannot_run is None or batch.assignment != self._versions.get(location):
            return known
        names = self._names.get(location, frozenset())
        said = tuple(n for n in batch.cannot_run if n.monitor in names)
        began, ended = not_run_changes(known, said)
        for n in began:
            self.not_run.began(location, n, offset, now)
        for n in ended:
            self.not_run.ended(location, n, now)
        # The same episode keeps the since first said.
        first = {n.monitor: n.since for n in known or ()}
        return tuple(replace(n, since=first.get(n.monitor, n.since)) for n in said)

    def view(self) -> AgentsView:
        """The agent locations now, for ``/metrics``, ``/api/agents`` and the dashboard."""
        rows = tuple(r for loc, r in sorted(self._rows.items()) if loc in self._placed)
        live = self._live_rows(self._runner.wall())
        max_offset = self._runner.config.agents.max_clock_offset
        return AgentsView(rows, live, self.duplicates, dict(self.skipped), max_offset, self.polling)

    # -- the checks ------------------------------------------------------------------

    def _store_and_detect(
        self, batch: Batch, location: str, offset: float, now: float
    ) -> tuple[int, int, int]:
        """Store each check of ``batch`` on the server's time and detect on those not
        late, in time order: (taken, late, skipped)."""
        names = self._names.get(location, frozenset())
        late_before = now - self._runner.config.agents.late_after
        taken = late = skipped = 0
        for check in sorted(batch.checks, key=lambda c: c.record.ts):
            name = check.record.monitor
            if name not in names:
                skipped += 1
                continue
            record = placed(check, offset, now)
            self._runner.store.record(record)
            taken += 1
            key = (location, name)
            if record.ts < late_before or record.ts <= self._newest.get(key, -math.inf):
                late += 1
                continue
            self._newest[key] = record.ts
            self._detect(location, check, record)
        return taken, late, skipped

    def _detect(self, location: str, check: AgentCheck, record: ProbeRecord) -> None:
        runner = self._runner
        name = record.monitor
        seen = Observation(
            name, record.ok, record.ts, record.latency_ms, record.kind, check.host, record.lag_ms
        )
        if not runner.probes_here(name):  # the pages show what its only prober saw
            runner.latest[name] = seen
            runner.metrics.observe(record, check.timings, check.cert_days_left)
        changed = False
        for event in self._detectors[location].observe(seen, record.ts):
            if isinstance(event, StateChanged):
                changed = True
                log.info(
                    "%s from %s: %s -> %s (%s)",
                    name,
                    location,
                    event.old,
                    event.new,
                    event.reason,
                    extra={"event": "state", "monitor": name, "state": str(event.new)},
                )
                self._publish(location, name, event.new, event.at, event.reason, check, record)
                self._saved[location].save(name, self._published.get((location, name)))
            # A re-probe asked for is not sent: the agent probes on its own schedule.
        last = self._published.get((location, name))
        if not changed and not record.ok and last is not None and last.state is State.DOWN:
            # Still down, perhaps for another reason: the incidents correlate on it.
            self._publish(location, name, State.DOWN, last.since, "", check, record)

    def _publish(
        self,
        location: str,
        name: str,
        state: State,
        since: float,
        reason: str,
        check: AgentCheck,
        record: ProbeRecord,
    ) -> None:
        """Tell the quorum (and, in a cluster, the store) what ``location`` sees of
        ``name``, unless nothing it goes by changed."""
        failed = not record.ok
        seen = (state, since, record.kind if failed else None, check.host if failed else None)
        last = self._published.get((location, name))
        if last is not None and (last.state, last.since, last.kind, last.host) == seen:
            return
        published = self._published[(location, name)] = LocationState(
            name,
            location,
            state,
            since,
            reason,
            record.kind if failed else None,
            record.detail,
            check.host if failed else None,
            record.latency_ms,
        )
        runner = self._runner
        # The cluster's instances read it from the store, and so does tether status.
        runner.store.record_location_state(published)
        now = runner.wall()
        runner.act_on_quorum(runner.quorum.update(published, now), now)

    # -- the agents ------------------------------------------------------------------

    def _clock(self, location: str, batch: Batch, offset: float) -> None:
        """Warn, once each time it crosses the bound, of an agent's clock far off."""
        bound = self._runner.config.agents.max_clock_offset
        if abs(offset) > bound and location not in self._warned:
            self._warned.add(location)
            log.warning(
                "agent at %s: its clock is %.1f s off this server's (more than %g s): "
                "its results are placed on the server's time; set its clock right",
                location,
                -offset,
                bound,
                extra={"event": "agent.clock", "location": location},
            )
        elif abs(offset) <= bound and location in self._warned:
            self._warned.discard(location)
            log.info("agent at %s: its clock is right again", location)

    def _seen(
        self,
        location: str,
        now: float,
        *,
        agent: str | None = None,
        batch: Batch | None = None,
        taken: int = 0,
        late: int = 0,
        said: tuple[NotRun, ...] | None = None,
    ) -> None:
        """The agent at ``location`` said a word at ``now``: its row, kept and queued."""
        old = self._rows.get(location) or AgentRow(location, "", "", now, 0.0)
        if batch is not None:
            self._refused.pop(location, None)
        row = replace(
            old,
            last_seen=now,
            agent=batch.agent if batch is not None else agent if agent is not None else old.agent,
            version=batch.version if batch is not None else old.version,
            offset=now - batch.sent_at if batch is not None else old.offset,
            results=counted(old.results, taken),
            late=counted(old.late, late),
            dropped=counted(old.dropped, batch.dropped if batch is not None else 0),
            cannot_run=old.cannot_run if said is None else said,
        )
        self._keep(row)
        if location not in self._live:
            self.tick(now)

    def _keep(self, row: AgentRow) -> None:
        """``row`` as its location's, in memory and queued to the store."""
        self._rows[row.location] = row
        try:
            self._runner.store.save_agent(row)
        except StoreError as exc:
            log.debug("agent row not queued: %s", exc)

    def _live_rows(self, now: float) -> frozenset[str]:
        return live_agents(self._rows.values(), self._runner.config, now)

    def live_in_store(self, now: float) -> frozenset[str]:
        """The agent locations live at ``now`` by the store's rows (every instance's
        agents): what a cluster's renewal round counts (call it off the event loop)."""
        return live_agents(self._runner.store.agent_rows(), self._runner.config, now)

    def tick(self, now: float | None = None) -> None:
        """Once a second: alone, the quorum's live locations are this instance's and the
        live agents' (said when one turns); and the old batch ids are pruned."""
        runner = self._runner
        now = runner.wall() if now is None else now
        live = self._live_rows(now)
        if live != self._live:
            for location in sorted(live - self._live):
                log.info("agent location %s is live", location, extra={"event": "agent.live"})
            for location in sorted(self._live - live):
                log.warning(
                    "agent location %s is not live: no word from its agent for %g s "
                    "(its monitors are not counted there until it reports)",
                    location,
                    runner.config.agents.lease,
                    extra={"event": "agent.lost", "location": location},
                )
            self._live = live
            if not runner.membership.shared:
                runner.act_on_quorum(runner.quorum.set_live({runner.here, *live}, now), now)
        if now - self._pruned >= _PRUNE_EVERY and self._placed:
            self._pruned = now
            try:
                runner.store.prune_agent_batches(now - runner.config.agents.keep_batches)
            except StoreError as exc:
                log.debug("agent batches not pruned: %s", exc)
