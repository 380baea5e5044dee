"""Each monitor's detector state in the store, and taking it back: the runner's memory of
what its location sees, rebuilt from the store at start and when a cluster's shard
comes to this instance (STYLE.md, "State has one home: the store").

- **Saved at each change.**  A monitor's state is saved when it changes, with what this
  location published of it then (its state, since when, the kind, detail and host of
  its failure), and every ten minutes for all (a checkpoint, for the latency baselines).
  Saved on its own: saving every monitor on each change cost 1.4 s of CPU per change at
  60,000 monitors.  With several locations, each location's under its own key
  (:meth:`SavedStates.key`).
- **Taken back with the checks stored since.**  A state saved at a change does not
  count the checks after it: after a ``kill -9`` an ``alert_when`` window that was
  filling, or two failures of three, would start again from that change.  The checks
  are in the store, so each monitor probed from this location alone is given back the
  ones made after its state was saved (:meth:`Detector.replay`): the store is read
  once, not written more often.  (A monitor of several locations is not: its stored
  checks do not say which location made them.)
- **Squared with the incidents.**  A change is written in this order: its incident
  (with the alerts), then the state.  A crash can stop the writer between the two; a
  state restored that disagrees with the open incidents is restored as unknown
  (:meth:`SavedStates.unsquared`), and the next checks decide.
- **The cause kept.**  What a location published is restored with the state: the
  quorum, the correlation and a partial incident go on with the failure's true kind,
  not "conditions not met" until the next change.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from tether._plural import count
from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._detect import Detector, Observation, checks_counted
from tether.monitor.runtime._monitor_terms import detector_rules, verdict_forgotten

if TYPE_CHECKING:
    from tether.monitor.config import Monitor, MonitorConfig
    from tether.monitor.engine.incidents._engine import IncidentEngine
    from tether.monitor.store import Store

__all__ = [
    "CHECKPOINT_EVERY",
    "CHECKPOINT_SPREAD",
    "STATE_KEY",
    "Saved",
    "SavedStates",
    "observed",
    "published_of",
    "state_prefix",
]

log = logging.getLogger("tether.monitor")

STATE_KEY: Final = "detector:"
"""Where a monitor's detector state is saved (``detector:NAME``), when the configuration
has one location; with several, each location's under ``detector@LOCATION:NAME``."""
LEGACY_KEY: Final = "__detector__"
"""Where the first stores kept every monitor's state in one document."""
CHECKPOINT_EVERY: Final = 600.0
"""Seconds between saves of every monitor's state, so that a crash loses at most this much
of the latency baselines of a monitor of several locations (the others' are rebuilt from
the stored checks; states themselves are saved as they change)."""
CHECKPOINT_SPREAD: Final = 60.0
"""Seconds a checkpoint may spread its saves over, letting the event loop go between
slices of them (``_rounds.py``); past it, the rest is saved at once.  So two saves of one
monitor's state are at most ``CHECKPOINT_EVERY + CHECKPOINT_SPREAD`` apart."""
_PUBLISHED: Final = "published"
"""The key of what the location published, beside the detector's own."""
_SPARE: Final = 8
"""Checks beyond those a checkpoint's interval holds: a late result, a check asked for."""


def replay_depth(m: Monitor) -> int:
    """How many of ``m``'s newest checks stored since its state was saved are given back
    to it, at most: every one it can have made since (a state is saved at least once a
    checkpoint), and those its state counts over (:func:`checks_counted`)."""
    made = math.ceil((CHECKPOINT_EVERY + CHECKPOINT_SPREAD) / max(m.interval, 1.0))
    return made + checks_counted(detector_rules(m)) + _SPARE


@dataclass(frozen=True, slots=True)
class Saved:
    """A monitor's saved detector state, and the checks stored since it was saved."""

    data: Mapping[str, Any]
    since: tuple[ProbeRecord, ...] = field(default=())


def observed(record: ProbeRecord) -> Observation:
    """A stored check as the detector takes it (the host it failed at is not stored: the
    detector does not count by it)."""
    return Observation(record.monitor, record.ok, record.ts, record.latency_ms, record.kind)


def published_of(saved: Mapping[str, Any], location: str, state: State) -> LocationState | None:
    """What ``location`` published of the monitor when ``saved`` was saved, if it was in
    ``state`` then (None: not known, or another state)."""
    data = saved.get(_PUBLISHED)
    if not isinstance(data, Mapping):
        return None
    try:
        found = LocationState.from_json({**data, "location": location})
    except (KeyError, TypeError, ValueError):
        return None
    return found if found.state is state else None


class Holder(Protocol):
    """The runner, as the saved states need it."""

    @property
    def store(self) -> Store: ...
    @property
    def config(self) -> MonitorConfig: ...
    @property
    def by_name(self) -> Mapping[str, Monitor]: ...
    @property
    def wall(self) -> Callable[[], float]: ...

    engine: IncidentEngine


def state_prefix(config: MonitorConfig, location: str) -> str:
    """Where ``location``'s detector states are saved: ``detector:`` when the
    configuration has that one location, else ``detector@LOCATION:``."""
    return STATE_KEY if len(config.locations) <= 1 else f"detector@{location}:"


class SavedStates:
    """The detector states of the monitors one location probes (``detector``'s), in the
    store under ``prefix``."""

    def __init__(
        self, holder: Holder, detector: Detector, location: str, prefix: str, *, shared: bool
    ) -> None:
        self._holder = holder
        self.detector = detector
        self.location = location
        self._shared = shared
        self._prefix = prefix

    def key(self, name: str) -> str:
        """The key of ``name``'s detector state in the store: its location's own when
        there are several.  Once all locations shared one key, and an instance starting
        after another location had saved took that location's state as its own: a first
        check agreeing with it changed nothing, so the location never published what it
        saw and the quorum never counted it."""
        return self._prefix + name

    def save(self, name: str, published: LocationState | None) -> None:
        """Queue ``name``'s state, with what this location last published of it."""
        exported = self.detector.export(name)
        if exported is None:
            return
        if published is not None:
            exported[_PUBLISHED] = published.to_json()
        self._holder.store.save_state(self.key(name), exported)

    # -- reading back ------------------------------------------------------------------

    def read(self, names: Collection[str] | None = None) -> dict[str, Saved]:
        """The saved states of ``names`` (every monitor's: None), each with the checks
        stored since it was saved when this location alone probes it (call it off the
        event loop, but for the start)."""
        store = self._holder.store
        if names is None:
            stored = store.load_state()
            found = dict(stored.get(LEGACY_KEY, {}).get("monitors", {}))
            found.update(
                (key.removeprefix(self._prefix), data)
                for key, data in stored.items()
                if key.startswith(self._prefix)
            )
        else:
            stored = store.load_state([self.key(n) for n in names])
            found = {n: stored[self.key(n)] for n in names if self.key(n) in stored}
        by_name = self._holder.by_name
        since: dict[str, float] = {}
        depths: dict[str, int] = {}
        for name, data in found.items():
            m = by_name.get(name)
            through = data.get("through") if isinstance(data, Mapping) else None
            if m is not None and self._alone_here(m) and isinstance(through, int | float):
                since[name], depths[name] = float(through), replay_depth(m)
        checks: Mapping[str, list[ProbeRecord]] = (
            store.verdicts_of(since, max(depths.values())) if since else {}
        )
        return {
            name: Saved(data, tuple(checks.get(name, [])[-depths.get(name, 1) :]))
            for name, data in found.items()
            if name in by_name and isinstance(data, Mapping)
        }

    def _alone_here(self, m: Monitor) -> bool:
        """Whether this location alone probes ``m``: its stored checks are all this
        location's."""
        return self._holder.config.placed(m) == (self.location,)

    def restore(self, name: str, saved: Saved, *, square: bool) -> bool:
        """Take ``name``'s state back from ``saved`` and the checks since; with
        ``square``, as unknown if it disagrees with the open incidents (:meth:`unsquared`).
        Whether it was squared."""
        detector = self.detector
        try:
            detector.restore(name, saved.data)
            if saved.since:
                detector.replay(name, (observed(r) for r in saved.since))
        # OverflowError: a number no float holds, as a direct database write can leave.
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            log.warning("%s: saved state not restored, starting afresh: %s", name, exc)
            return False
        exported = detector.export(name)
        if square and exported is not None and self.unsquared(name, exported):
            detector.restore(name, verdict_forgotten(exported))
            return True
        return False

    def restore_all(self, saved: Mapping[str, Saved]) -> list[LocationState]:
        """At start: every monitor's state back (:meth:`restore`, squared when alone),
        and what this location sees of each, for the quorum: its saved publication,
        or what the checks replayed say."""
        squared = 0
        for name, one in saved.items():
            squared += self.restore(name, one, square=not self._shared)
        if squared:
            log.warning(
                "%s restored as unknown: the saved state and the open incidents did not "
                "match (tether stopped between the two writes); the next checks decide, "
                "and alert if need be",
                count(squared, "monitor"),
                extra={"event": "restore.squared"},
            )
        return [self.located(name, one) for name, one in saved.items()]

    def located(self, name: str, saved: Saved) -> LocationState:
        """What this location sees of ``name`` as restored: its saved publication if its
        state is the one restored, else the newest check replayed (the cause a crash
        kept from being saved), else the state alone."""
        state, here = self.detector.state(name), self.location
        known = published_of(saved.data, here, state)
        if known is not None:
            return known
        if state in (State.DOWN, State.FLAPPING):
            failed = [r for r in saved.since if not r.ok]
            if failed:
                r = failed[-1]
                return LocationState(
                    name, here, state, r.ts, "", r.kind, r.detail, None, r.latency_ms
                )
        return LocationState(name, here, state, self._holder.wall())

    def unsquared(self, name: str, data: Mapping[str, Any]) -> bool:
        """Whether ``name``'s saved state and the open incidents disagree: saved down and
        in no open incident, or saved up (or degraded) and still down in one.

        A change is written in this order: its incident (with the alerts), then the
        monitor's state.  A crash (``kill -9``) can stop the writer between the two, and
        leave the incident written and the state not; the other case, a state written
        and not its incident, can only come from a store written by an older tether.
        Either way, the monitor is restored as unknown (its baseline kept): its next
        checks decide, as on a first start, and the engine, which knows the open
        incidents, alerts only what it has not (down again while still in its incident:
        nothing; up: it leaves it, with its recovery alert)."""
        holder = self._holder
        m = holder.by_name.get(name)
        if m is None or len(holder.config.placed(m)) > 1:
            return False  # several locations: the quorum, not this detector, decides
        try:
            availability = data["availability"]
            health, flapping = str(availability["health"]), bool(availability["flapping"])
        except (KeyError, TypeError):
            return False  # not restored at all: starts afresh
        if flapping or data.get("paused"):
            return False  # its alerts are held, or it is in no incident: nothing owed
        member = holder.engine.incident_of(name) is not None
        if health == State.DOWN.value:
            return not member
        return member and health in (State.UP.value, State.DEGRADED.value)
