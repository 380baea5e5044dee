"""The quorum: each location's state of each monitor in, the monitor's state for the whole
cluster out.

Every instance runs a detector per monitor at its own location (thresholds, re-probes,
flapping, as with one instance) and publishes each change as a :class:`LocationState`.
The leader feeds them to :class:`Quorum`, with the locations that have a live instance,
and gets back what the incident engine takes: a :class:`StateChanged` when the monitor's
state for the cluster changes, and a :class:`LocationsChanged` when what its locations
see changes (a location fails or recovers, a failure's kind changes, a location's last
instance dies), from which the engine keeps its partial incident.  Pure: it reads no
clock (``now`` is given) and does no I/O.

The rules (docs/detection.md, "Locations and quorum"):

- **Counted** are the monitor's locations with a live instance and not paused there.  A
  location with no live instance is not counted, either way: it shows as such
  (``live=False``) and its last state is kept for when it comes back.
- **Needed** is the quorum of the counted locations: ``majority`` is more than half of
  them (2 of 3, 3 of 4, 1 of 1); a number ``q`` is ``q``, lowered to the number counted
  when fewer are alive, so that dead instances never keep an outage silent.
- The monitor is **down** when at least ``needed`` counted locations are down;
  **flapping** when that is reached only by counting flapping locations too (it could go
  either way: alerts wait, as for one flapping location); **degraded** when ``needed``
  locations are degraded; **up** when it is none of these and at least one location sees
  it up.  Otherwise (only unknown locations, and failures below the quorum) it keeps the
  state it had, or is ``unknown`` if it had none: a location that just started says
  nothing yet.
- **Paused** when every live location has it paused; **unknown** when no location of the
  monitor has a live instance (nobody probes it).
- Some counted locations failing while the monitor is not down is **partial**:
  :attr:`LocationsChanged.partial`.

With one location, the monitor's state is that location's and each change passes
through as the detector made it (same ``old``, ``new`` and ``reason``; ``at`` is the
``now`` given): a single instance behaves exactly as it did without a quorum.

```
 LocationState ─┐                        ┌─► StateChanged     ─► IncidentEngine.changed
 live locations ─┼─► Quorum (per monitor) ┤
 Placement ─────┘                        └─► LocationsChanged ─► IncidentEngine.locations
```
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from tether._frozen import quick_init
from tether._plural import joined
from tether.monitor._records import LocationFact, LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._correlate import Failures
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine._journal import Journal

__all__ = [
    "MAJORITY",
    "LocationsChanged",
    "Placement",
    "Quorum",
    "QuorumEvent",
    "Verdict",
    "location_state",
]

MAJORITY: Literal["majority"] = "majority"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a monitor is probed from, and how many of those places must fail."""

    locations: tuple[str, ...]
    quorum: int | Literal["majority"] = MAJORITY

    def __post_init__(self) -> None:
        if not self.locations:
            raise ValueError("locations: a monitor is probed from at least one location")
        if len(set(self.locations)) != len(self.locations):
            raise ValueError(f"locations: each once, not {', '.join(self.locations)}")
        if self.quorum != MAJORITY and (isinstance(self.quorum, bool) or self.quorum < 1):
            raise ValueError(f"quorum: must be at least 1 or majority, not {self.quorum!r}")

    def needed(self, counted: int) -> int:
        """How many of ``counted`` locations must fail: more than half for ``majority``; a
        number, lowered to ``counted`` when fewer are alive; at least 1."""
        if self.quorum == MAJORITY:
            return counted // 2 + 1
        return max(1, min(self.quorum, counted))


_FAILING: Final = frozenset({State.DOWN, State.FLAPPING})
"""A location's states that count as failing (:attr:`Verdict.failing`)."""


@quick_init
@dataclass(frozen=True, slots=True)
class Verdict:
    """The monitor's state for the cluster, and the counts behind it."""

    state: State
    failing: tuple[str, ...]
    """Counted locations that are down or flapping, in the placement's order."""
    needed: int
    counted: tuple[str, ...]
    dead: tuple[str, ...]
    """The monitor's locations with no live instance."""


@dataclass(frozen=True, slots=True)
class LocationsChanged:
    """What the monitor's locations see changed; only for a monitor of more than one.

    ``locations`` has every location of the monitor, in its placement's order (a location
    with no live instance has ``live=False``; one with no result yet is ``unknown``).
    """

    monitor: str
    at: float
    state: State
    """The monitor's state for the cluster, after any :class:`StateChanged` before this."""
    locations: Mapping[str, LocationFact]
    failing: tuple[str, ...]
    """Counted locations that are down or flapping."""
    needed: int
    """How many failing locations make it down (the quorum of the counted)."""
    counted: int
    """How many locations count: live, and not paused there."""

    @property
    def partial(self) -> bool:
        """Some counted locations fail, and the monitor is not down (nor paused)."""
        return bool(self.failing) and self.state not in (State.DOWN, State.PAUSED)

    def __repr__(self) -> str:
        shown = ",".join(self.failing) or "none"
        return (
            f"<LocationsChanged {self.monitor} {self.state} failing={shown} "
            f"({len(self.failing)} of {self.counted}, quorum {self.needed})>"
        )


QuorumEvent = StateChanged | LocationsChanged


def location_state(
    change: StateChanged,
    location: str,
    record: ProbeRecord | None = None,
    host: str | None = None,
) -> LocationState:
    """What an instance publishes for its detector's ``change`` at ``location``: the new
    state with the check behind it (its kind, detail and latency; none for a pause)."""
    return LocationState(
        change.monitor,
        location,
        change.new,
        change.at,
        change.reason,
        None if record is None or record.ok else record.kind,
        None if record is None else record.detail,
        host,
        None if record is None else record.latency_ms,
    )


@dataclass(slots=True)
class _Monitor:
    placement: Placement
    rows: dict[str, LocationState] = field(default_factory=dict)
    verdict: Verdict | None = None
    shown: tuple[object, ...] | None = None
    """What the last LocationsChanged said (None: nothing yet, so the first always goes)."""


class Quorum:
    """Each (monitor, location)'s latest state, the live locations, and the verdicts.

    ``placements`` says where each monitor is probed from; ``live`` are the locations with
    a live instance (a single instance: its own, always).
    """

    def __init__(
        self, placements: Mapping[str, Placement] | None = None, live: Iterable[str] = ()
    ) -> None:
        self._live = frozenset(live)
        self._monitors: dict[str, _Monitor] = {
            name: _Monitor(placement) for name, placement in (placements or {}).items()
        }
        self._states: dict[str, State] = dict.fromkeys(self._monitors, State.UNKNOWN)
        """Each monitor's state for the cluster, in :attr:`_monitors`' order, kept as
        verdicts change: :meth:`states` copies it (a page asks for every state at each
        refresh, which a call per monitor made cost milliseconds of the loop)."""
        self.journal = Journal()
        """Which monitors' states changed, in order (added and removed ones too): for the
        pages that keep every state between requests (:class:`Journal`)."""
        self._down: dict[str, None] = {}
        """The monitors down for the cluster, in the order they went down: kept as verdicts
        change, so that :meth:`down` does not walk every monitor at each change."""
        self.failures = Failures()
        """The standing failure of each monitor down for the cluster, kept in step with
        :attr:`_down` for the incident engine to correlate one change at a time (the
        runner gives it the monitored hosts)."""
        for name, entry in self._monitors.items():
            self._judged(name, entry)

    # -- what the leader feeds -----------------------------------------------------------

    def configure(self, monitor: str, placement: Placement, now: float) -> list[QuorumEvent]:
        """A monitor added, or its locations or quorum changed (a reload).  States of
        locations it no longer has are dropped: they would be stale if it got them back."""
        entry = self._monitors.get(monitor)
        if entry is None:
            entry = self._monitors[monitor] = _Monitor(placement)
            self._states[monitor] = State.UNKNOWN
            self.journal.mark(monitor)
        entry.placement = placement
        entry.rows = {k: v for k, v in entry.rows.items() if k in placement.locations}
        return self._decide(monitor, entry, now, None)

    def forget(self, monitor: str) -> None:
        """A monitor removed from the configuration (the engine's ``forget`` closes its
        incidents)."""
        self._monitors.pop(monitor, None)
        if self._states.pop(monitor, None) is not None:
            self.journal.mark(monitor)
        self._down.pop(monitor, None)
        self.failures.set(monitor, None)

    def update(self, state: LocationState, now: float) -> list[QuorumEvent]:
        """A location published its state of a monitor."""
        entry = self._monitors.get(state.monitor)
        if entry is None or state.location not in entry.placement.locations:
            return []  # not probed from there (a stale instance's config): not counted
        entry.rows[state.location] = state
        return self._decide(state.monitor, entry, now, state)

    def set_live(self, locations: Iterable[str], now: float) -> list[QuorumEvent]:
        """The locations with a live instance now (from the heartbeats)."""
        live = frozenset(locations)
        if live == self._live:
            return []
        self._live = live
        events: list[QuorumEvent] = []
        for name, entry in self._monitors.items():
            events += self._decide(name, entry, now, None)
        return events

    def restore(self, states: Iterable[LocationState]) -> None:
        """Take states without deciding anything: a single instance restarting with its
        detector's saved states, whose incidents the store already matches, and a new
        leader reading every location's, which then squares the open incidents with the
        whole picture (:meth:`snapshot`)."""
        for state in states:
            entry = self._monitors.get(state.monitor)
            if entry is not None and state.location in entry.placement.locations:
                entry.rows[state.location] = state
        for name, entry in self._monitors.items():
            self._judged(name, entry)
            entry.shown = self._shown(entry) if len(entry.placement.locations) > 1 else None

    # -- what the leader reads -----------------------------------------------------------

    @property
    def live(self) -> frozenset[str]:
        return self._live

    def state(self, monitor: str) -> State:
        entry = self._monitors.get(monitor)
        return State.UNKNOWN if entry is None or entry.verdict is None else entry.verdict.state

    def view(self) -> Mapping[str, State]:
        """Every monitor's state for the cluster, looked up as asked (a hold asks for a
        parent or two, at each check: :meth:`states` would copy them all)."""
        return _StateView(self)

    def states(self) -> dict[str, State]:
        """Every monitor's state for the cluster (for holds: ``held_by_parent``, flapping)."""
        return dict(self._states)

    def verdict(self, monitor: str) -> Verdict | None:
        entry = self._monitors.get(monitor)
        return None if entry is None else entry.verdict

    def locations(self, monitor: str) -> dict[str, LocationFact]:
        """What each of the monitor's locations sees, in its placement's order."""
        entry = self._monitors.get(monitor)
        return {} if entry is None else self._facts(entry)

    def observation(self, monitor: str) -> Observation | None:
        """The failure that stands for the monitor's (for :func:`correlate`): the most
        common kind among its failing locations (the first location's on a tie), with that
        location's host; ``None`` when no counted location fails."""
        row = self._representative(monitor)
        if row is None:
            return None
        return Observation(monitor, False, row.since, row.latency_ms, row.kind, row.host)

    def record(self, monitor: str) -> ProbeRecord | None:
        """The check that stands for the monitor's failure, for the incident engine's
        ``changed`` (its kind and detail): the same location as :meth:`observation`."""
        row = self._representative(monitor)
        if row is None:
            return None
        return ProbeRecord(monitor, row.since, False, row.kind, row.latency_ms, row.detail)

    def down(self) -> list[Observation]:
        """The standing failure of every monitor down for the cluster."""
        out = []
        for name in self._down:
            observation = self.observation(name)
            if observation is not None:
                out.append(observation)
        return out

    def snapshot(self, now: float) -> list[LocationsChanged]:
        """What every monitor of several locations sees now: a new leader gives these to
        the engine after the published states, so that open partial incidents match."""
        out = []
        for name, entry in self._monitors.items():
            if len(entry.placement.locations) > 1:
                entry.shown = self._shown(entry)
                out.append(self._locations_changed(name, entry, now))
        return out

    # -- the rules -----------------------------------------------------------------------

    def _decide(
        self, name: str, entry: _Monitor, now: float, cause: LocationState | None
    ) -> list[QuorumEvent]:
        before = entry.verdict
        old = State.UNKNOWN if before is None else before.state
        verdict = self._judged(name, entry)
        events: list[QuorumEvent] = []
        if verdict.state is not old:
            events.append(
                StateChanged(
                    name, now, old, verdict.state, self._reason(entry, old, verdict, cause)
                )
            )
        if len(entry.placement.locations) > 1:
            shown = self._shown(entry)
            if shown != entry.shown:
                entry.shown = shown
                events.append(self._locations_changed(name, entry, now))
        elif entry.shown is not None:
            # Reloaded down to one location: a last picture, so that a partial incident of
            # the locations it had closes; from now on its changes pass through alone.
            entry.shown = None
            events.append(self._locations_changed(name, entry, now))
        return events

    def _judged(self, name: str, entry: _Monitor) -> Verdict:
        """Judge ``entry`` again, and keep :attr:`_down` in step."""
        verdict = entry.verdict = self._judge(entry)
        if self._states.get(name) is not verdict.state:
            self._states[name] = verdict.state
            self.journal.mark(name)
        if verdict.state is State.DOWN:
            self._down.setdefault(name)
            self.failures.set(name, self.observation(name))
        else:
            self._down.pop(name, None)
            self.failures.set(name, None)
        return verdict

    def _judge(self, entry: _Monitor) -> Verdict:
        if len(entry.placement.locations) == 1:
            return self._judge_one(entry)
        return self._judge_many(entry)

    def _judge_many(self, entry: _Monitor) -> Verdict:
        placement = entry.placement
        live = [loc for loc in placement.locations if loc in self._live]
        dead = tuple(loc for loc in placement.locations if loc not in self._live)
        states = {loc: self._state_at(entry, loc) for loc in live}
        counted = tuple(loc for loc in live if states[loc] is not State.PAUSED)
        needed = placement.needed(len(counted))
        failing = tuple(loc for loc in counted if states[loc] in (State.DOWN, State.FLAPPING))
        previous = State.UNKNOWN if entry.verdict is None else entry.verdict.state
        if not live:
            state = State.UNKNOWN
        elif not counted:
            state = State.PAUSED
        else:
            tally = Counter(states[loc] for loc in counted)
            up = tally[State.UP] + tally[State.DEGRADED]
            if tally[State.DOWN] >= needed:
                state = State.DOWN
            elif len(failing) >= needed:
                state = State.FLAPPING
            elif tally[State.DEGRADED] >= needed:
                state = State.DEGRADED
            elif up:
                state = State.UP
            elif previous in (State.UNKNOWN, State.PAUSED):
                state = State.UNKNOWN
            else:
                state = previous  # only unknown locations besides failures below quorum
        return Verdict(state, failing, needed, counted, dead)

    def _judge_one(self, entry: _Monitor) -> Verdict:
        """:meth:`_judge_many`'s verdict for a monitor of one location (every monitor
        without ``locations:``), without its tallies: once per change of a mass outage
        (tests/monitor/engine/test_quorum.py holds the two equal for every state)."""
        placement = entry.placement
        (location,) = placement.locations
        if location not in self._live:
            return Verdict(State.UNKNOWN, (), placement.needed(0), (), (location,))
        state = self._state_at(entry, location)
        if state is State.PAUSED:
            return Verdict(State.PAUSED, (), placement.needed(0), (), ())
        failing = (location,) if state in _FAILING else ()
        if state is State.UNKNOWN:  # one location counted, seeing nothing yet
            previous = State.UNKNOWN if entry.verdict is None else entry.verdict.state
            state = State.UNKNOWN if previous in (State.UNKNOWN, State.PAUSED) else previous
        # One location counted needs one (placement.needed(1)): it decides alone.
        return Verdict(state, failing, 1, (location,), ())

    @staticmethod
    def _state_at(entry: _Monitor, location: str) -> State:
        row = entry.rows.get(location)
        return State.UNKNOWN if row is None else row.state

    def _facts(self, entry: _Monitor) -> dict[str, LocationFact]:
        facts = {}
        for loc in entry.placement.locations:
            row = entry.rows.get(loc)
            live = loc in self._live
            facts[loc] = (
                LocationFact(State.UNKNOWN, live=live) if row is None else row.fact(live=live)
            )
        return facts

    def _shown(self, entry: _Monitor) -> tuple[object, ...]:
        """What a LocationsChanged says that matters: the verdict, and each location's
        state, kind and liveness (not its detail, whose timings change every check)."""
        verdict = entry.verdict or self._judge(entry)
        facts = self._facts(entry)
        return (
            verdict.state,
            verdict.needed,
            tuple((loc, f.state, f.kind, f.live) for loc, f in facts.items()),
        )

    def _locations_changed(self, name: str, entry: _Monitor, now: float) -> LocationsChanged:
        verdict = entry.verdict or self._judge(entry)
        return LocationsChanged(
            name,
            now,
            verdict.state,
            self._facts(entry),
            verdict.failing,
            verdict.needed,
            len(verdict.counted),
        )

    def _representative(self, monitor: str) -> LocationState | None:
        entry = self._monitors.get(monitor)
        if entry is None or entry.verdict is None or not entry.verdict.failing:
            return None
        failing = entry.verdict.failing
        if len(failing) == 1:  # one location, as most monitors have: no tally to take
            return entry.rows[failing[0]]
        rows = [entry.rows[loc] for loc in failing]
        kinds = Counter(row.kind for row in rows)
        top = max(kinds.values())
        return next(row for row in rows if kinds[row.kind] == top)

    def _reason(
        self, entry: _Monitor, old: State, verdict: Verdict, cause: LocationState | None
    ) -> str:
        """The change in plain words; with one location, the detector's own."""
        placement = entry.placement
        if len(placement.locations) == 1 and cause is not None:
            return cause.reason
        state, n = verdict.state, len(verdict.counted)
        failures = _failures(entry, verdict.failing)
        dead = f"; not counted: {joined(verdict.dead)} (no live instance)" if verdict.dead else ""
        of = f"of {n} {'location' if n == 1 else 'locations'}"
        if state is State.DOWN:
            down = [loc for loc in verdict.failing if entry.rows[loc].state is State.DOWN]
            return f"down from {len(down)} {of}: {failures}{dead}"
        if state is State.FLAPPING:
            return (
                f"{len(verdict.failing)} {of} down or flapping ({failures}), the quorum is "
                f"{verdict.needed}: flapping until they settle{dead}"
            )
        if state is State.PAUSED:
            return "paused"
        if state is State.UNKNOWN:
            if not verdict.counted and verdict.dead:
                return f"no live instance at {joined(verdict.dead)}: nothing probes it"
            return "resumed" if old is State.PAUSED else "no result yet"
        ups = [
            loc
            for loc in verdict.counted
            if self._state_at(entry, loc) in (State.UP, State.DEGRADED)
        ]
        if state is State.DEGRADED:
            slow = [loc for loc in verdict.counted if self._state_at(entry, loc) is State.DEGRADED]
            words = f"slower than usual from {len(slow)} {of}: {joined(slow)}"
        else:
            words = f"up from {len(ups)} {of}"
        if verdict.failing:
            words += f"; failing from {failures}, below the quorum of {verdict.needed}"
        return words + dead


def _failures(entry: _Monitor, failing: Iterable[str]) -> str:
    """``eu-west (connect.timeout), us-east (flapping)``."""
    return ", ".join(f"{loc} ({entry.rows[loc].fact().why})" for loc in failing)


class _StateView(Mapping[str, State]):
    __slots__ = ("_quorum",)

    def __init__(self, quorum: Quorum) -> None:
        self._quorum = quorum

    def __getitem__(self, monitor: str) -> State:
        if monitor not in self._quorum._monitors:
            raise KeyError(monitor)
        return self._quorum.state(monitor)

    def __iter__(self) -> Iterator[str]:
        return iter(self._quorum._monitors)

    def __len__(self) -> int:
        return len(self._quorum._monitors)
