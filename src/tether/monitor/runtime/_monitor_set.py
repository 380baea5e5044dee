"""A change of the monitor set, and the one path by which every part of the runner that
keeps something per monitor hears of it: the detector, the quorum, the schedule (the
fleet), the hosts the correlation counts, the metrics' labels, the holds (parents,
inhibition rules), the incident engine's routes, pushes and traffic, objectives and
the agents' assignments.  A reload (SIGHUP, the whole file) and discovery (the targets
of a source that changed) both come this way: a reload as a change of every monitor,
the file's other sections with it (:func:`apply` with ``whole``), discovery as the
change alone, so that its cost is the change's, not the fleet's.

Prometheus's scrape pool does the same with its targets (``scrapePool.sync``: a loop
started for each new target, stopped for each one gone, the others left running); here
each part takes the monitors put (added or changed) and the names removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tether.monitor.alerts import route_tree
from tether.monitor.checks._prober import host_of
from tether.monitor.cluster._view import agent_locations
from tether.monitor.config import AlertmanagerChannelConfig, Monitor, MonitorConfig
from tether.monitor.engine._correlate import leader_rules
from tether.monitor.engine._quorum import Placement, QuorumEvent
from tether.monitor.runtime._monitor_terms import detector_rules, incident_route, incident_routes

if TYPE_CHECKING:
    from tether.monitor.cluster._membership import Membership
    from tether.monitor.engine._detect import Detector
    from tether.monitor.engine._holds import Holds
    from tether.monitor.engine._quorum import Quorum
    from tether.monitor.engine.incidents._engine import IncidentEngine
    from tether.monitor.metrics._metrics import MonitorMetrics
    from tether.monitor.runtime._controls import ControlsIntake
    from tether.monitor.runtime._fleet import Fleet
    from tether.monitor.runtime._objective_stage import Objectives
    from tether.monitor.runtime._pushes import Pushes
    from tether.monitor.runtime._traffic_intake import TrafficIntake
    from tether.monitor.runtime.agents._intake import AgentIntake

__all__ = ["SetChange", "SetRunner", "apply", "set_change"]


class SetRunner(Protocol):
    """The runner, as a change of its monitors reaches each of its parts."""

    config: MonitorConfig
    by_name: dict[str, Monitor]
    several: dict[str, Monitor]
    hosts: dict[str, str]
    probed_here: set[str]
    here: str
    holds: Holds
    detector: Detector
    quorum: Quorum
    engine: IncidentEngine
    metrics: MonitorMetrics
    membership: Membership
    fleet: Fleet
    controls: ControlsIntake
    pushes: Pushes
    traffic: TrafficIntake
    objectives: Objectives
    agents: AgentIntake

    def wall(self) -> float: ...
    def forget(self, name: str, now: float) -> None: ...
    def set_hosts(self) -> None: ...
    def place(self) -> tuple[frozenset[str], frozenset[str]]: ...
    def assign(self) -> None: ...
    def act_on_quorum(self, events: Iterable[QuorumEvent], now: float) -> None: ...


@dataclass(frozen=True, slots=True)
class SetChange:
    """Monitors ``put`` (added, or changed: their configuration now) and names
    ``removed``."""

    put: Mapping[str, Monitor] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.put or self.removed)

    def lines(self, before: Mapping[str, Monitor]) -> list[str]:
        """What changed, one line each (``removed NAME``, ``added NAME``, ``changed
        NAME``), against the set ``before`` it; a monitor put as it was says nothing."""
        out = [f"removed {name}" for name in sorted(self.removed) if name in before]
        for name, m in self.put.items():
            was = before.get(name)
            if was is None:
                out.append(f"added {name}")
            elif was is not m and was != m:
                out.append(f"changed {name}")
        return out


def set_change(before: Mapping[str, Monitor], after: Iterable[Monitor]) -> SetChange:
    """The change from the set ``before`` to ``after``, every monitor of ``after`` put
    (as a reload puts them; :meth:`SetChange.lines` tells which changed)."""
    put = {m.name: m for m in after}
    return SetChange(put, frozenset(before.keys() - put.keys()))


def apply(
    runner: SetRunner,
    change: SetChange,
    config: MonitorConfig | None = None,
    *,
    whole: bool,
    starting: bool = False,
) -> None:
    """Make ``change`` to the runner's monitors, each part of the runner told of the
    monitors put and removed.  ``whole`` (at start, on a reload): ``config`` is the new
    configuration, whose other sections may have changed too, so what is worked out
    from them (routes, holds, objectives, the agents' assignments, placement) is worked
    out again for every monitor, and ``change`` puts every monitor of it.  Otherwise
    (discovery) the configuration stays, with ``change`` made to its monitors.
    ``starting``: the quorum decides nothing yet, since no location's state is restored."""
    now = runner.wall()
    for name in change.removed:
        runner.forget(name, now)
    old = runner.by_name
    before = old if whole else {n: old[n] for n in (*change.removed, *change.put) if n in old}
    config = _keep(runner, change, config, whole=whole)
    runner.holds = (
        runner.holds.configure(config) if whole else runner.holds.change(change.put, change.removed)
    )
    if whole or _touches(change, before, lambda m: m.push):
        runner.pushes.configure(config, now)
    if whole or _touches(change, before, lambda m: m.traffic):
        runner.traffic.configure(config)
    if whole or config.objectives:
        # Counts, spenders and firing rules kept; the share of the monitors that joined
        # read from the store, that of those that left taken away (_objective_stage.py).
        runner.objectives.configure(config)
    events: list[QuorumEvent] = []
    for name, m in change.put.items():
        runner.detector.configure(name, detector_rules(m))
        events += runner.quorum.configure(name, Placement(config.placed(m), m.quorum), now)
    if runner.membership.shared:
        events += _known_states(runner, config, change, before, now)
    _routes(runner, config, change, whole=whole)
    if whole:
        runner.metrics.labels({m.name: m.labels for m in config.monitors})
    else:  # those removed went with runner.forget
        for name, m in change.put.items():
            runner.metrics.label(name, m.labels)
    if runner.membership.shared:  # the leader sees state changes, not each passing check
        runner.quorum.failures.sees_passes = False
        probed = (m for m in (config.monitors if whole else change.put.values()) if m.probed)
        checks = ((m.interval, m.timeout, m.failure_threshold) for m in probed)
        # A change can only lengthen the wait (one removed leaves it: a reload sets it).
        runner.engine.correlation = (
            leader_rules(checks)
            if whole or runner.engine.correlation is None
            else leader_rules(checks, runner.engine.correlation)
        )
    if whole:
        runner.place()
        runner.assign()
    else:
        _place(runner, change)
    if not starting:
        runner.act_on_quorum(events, now)
    if whole or _agents_hear(config, change, before):
        runner.agents.configure(config)


def _keep(
    runner: SetRunner, change: SetChange, config: MonitorConfig | None, *, whole: bool
) -> MonitorConfig:
    """The runner's own view of its monitors, with ``change`` made: by name, those of
    several locations, the monitored hosts (and the correlation's); and the
    configuration in force."""
    failures = runner.quorum.failures
    if whole:
        assert config is not None
        runner.config = config
        runner.by_name = {m.name: m for m in config.monitors}
        runner.several = {m.name: m for m in config.monitors if len(config.placed(m)) > 1}
        runner.set_hosts()
        return config
    by_name, several, hosts = runner.by_name, runner.several, runner.hosts
    for name in change.removed:
        by_name.pop(name, None)
        several.pop(name, None)
        if hosts.pop(name, None) is not None:
            failures.move(name, None)
    for name, m in change.put.items():
        by_name[name] = m
    # Tuples of references, made in C: the one cost that grows with the fleet.
    config = runner.config.model_copy(update={"monitors": tuple(by_name.values())})
    runner.config = config
    for name, m in change.put.items():
        if len(config.placed(m)) > 1:
            several[name] = m
        else:
            several.pop(name, None)
        host = None if runner.controls.is_paused(m) else host_of(m.url)
        if hosts.get(name) != host:
            if host is None:
                del hosts[name]
            else:
                hosts[name] = host
            failures.move(name, host)
    return config


def _known_states(
    runner: SetRunner,
    config: MonitorConfig,
    change: SetChange,
    before: Mapping[str, Monitor],
    now: float,
) -> list[QuorumEvent]:
    """What the quorum decides from the states already published of the monitors new
    here.  Another instance of the cluster may have learnt of a monitor first (the
    leader's discovered set, a reload read a moment earlier) and published its state
    before this one knew the monitor: the feed kept the row, and a state published only
    as it changes would otherwise stay unknown here until its next change."""
    known = runner.membership.feed.states
    events: list[QuorumEvent] = []
    for name, m in change.put.items():
        if name in before:
            continue
        for location in config.placed(m):
            state = known.get((name, location))
            if state is not None:
                events += runner.quorum.update(state, now)
    return events


def _place(runner: SetRunner, change: SetChange) -> None:
    """The monitors this instance probes, with ``change`` made, and the fleet told of
    those it starts, changes or stops probing."""
    here, config = runner.probed_here, runner.config
    mine = [n for n, m in change.put.items() if runner.here in config.placed(m)]
    held = set(runner.membership.holding(mine))
    stop = [n for n in change.removed if n in here]
    probe: list[Monitor] = []
    for name, m in change.put.items():
        if name in held:
            here.add(name)
            if m.probed and not runner.controls.is_paused(m):
                probe.append(m)
                continue
        else:
            here.discard(name)
        stop.append(name)
    for name in change.removed:
        here.discard(name)
    runner.fleet.update(probe, stop)


def _touches(
    change: SetChange, before: Mapping[str, Monitor], test: Callable[[Monitor], bool]
) -> bool:
    """Whether a monitor put, or one removed or changed as it was, passes ``test``."""
    return any(test(m) for m in change.put.values()) or any(test(m) for m in before.values())


def _routes(runner: SetRunner, config: MonitorConfig, change: SetChange, *, whole: bool) -> None:
    """The incident engine's route of each monitor.  A changed route is a new map (the
    engine routes its open incidents again when the map is not the one it routed); a
    monitor added or removed changes the map in place (no open incident of it to route
    again: a removed monitor left its incident in :meth:`Runner.forget`)."""
    engine = runner.engine
    if whole:
        engine.routes = incident_routes(config)
        return
    tree = route_tree(config) if config.routes is not None else None
    alone = frozenset(c.name for c in config.alerts if isinstance(c, AlertmanagerChannelConfig))
    changed = any(n in engine.routes for n in change.put)
    routes = engine.routes
    if changed or not isinstance(routes, dict):
        routes = dict(routes)
    for name in change.removed:
        routes.pop(name, None)
    for name, m in change.put.items():
        routes[name] = incident_route(m, tree, alone)
    engine.routes = routes


def _agents_hear(config: MonitorConfig, change: SetChange, before: Mapping[str, Monitor]) -> bool:
    """Whether an agent location's assignment may change: a monitor put, removed or
    changed is (or was) placed at an agent's location."""
    locations = agent_locations(config)
    if not locations:
        return False
    monitors = [*change.put.values(), *before.values()]
    return any(locations.intersection(config.placed(m)) for m in monitors)
