"""Where an alert goes: Alertmanager's route tree, walked as a pure function of the
alert's labels and the instant (docs/routing.md).

The walk is Alertmanager's (``dispatch/route.go``, ``Route.Match``), depth first::

    match(route, labels):
        if route's matchers do not all match: nothing
        for each child, in order:
            found += match(child, labels)
            if the child's subtree matched and the child has no `continue`: stop
        if nothing was found below: the route itself
        found

so an alert goes to the most specific routes that match it, and to the root when no
other does.  A child inherits its parent's ``channels`` (when it names none) and
grouping settings (when it leaves one out); time intervals are a route's own.  A route
in one of its ``mute_time_intervals``, or outside all of its ``active_time_intervals``,
still takes the alert (so ``continue`` behaves as at any other time) but sends nothing:
the result says it is muted and by what, so the alert is recorded, never lost.

A monitor's ``alerts:`` list is the simple form of a route: one that takes every alert
of that monitor, beside the tree (a tree with no ``routes:`` is a root with no channel).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from tether.monitor.config._errors import KeyPath, render_path
from tether.monitor.config._routes import GROUP_ALL, RouteConfig, TimeInterval, TimeSpec
from tether.monitor.config.labels._labels import Matchers, matches

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig

__all__ = [
    "DEFAULT_GROUPING",
    "EVENTS",
    "AlertRoute",
    "Grouping",
    "Matched",
    "RouteTree",
    "in_interval",
    "in_spec",
    "route_tree",
    "routing_labels",
]

EVENTS: Final = (
    "incident.opened",
    "monitor.down",
    "monitor.up",
    "incident.resolved",
    "incident.reminder",
    "incident.escalated",
    "incident.updated",
    "incident.partial",
    "incident.partial_resolved",
    "monitor.degraded",
    "monitor.recovered",
    *("objective.burning", "objective.resolved"),
    *("agent.skipped", "agent.running"),
)
"""The events an alert can be about (``AlertPayload.event``), its ``event`` label."""


@dataclass(frozen=True, slots=True)
class Grouping:
    """How a route's alerts are grouped into notifications (Alertmanager's settings).

    ``group_by`` names the labels whose values make a group (``("...",)``: every label);
    ``group_wait`` is how long a new group waits for more alerts before its first
    notification, ``group_interval`` how long it waits before telling of changes, and
    ``repeat_interval`` how long before it repeats a notification that has not changed.
    """

    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float

    def key(self, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The group an alert of ``labels`` joins: the ``group_by`` labels and their values
        (a missing label reads as ""), sorted by name; every label for ``...``."""
        if self.group_by == (GROUP_ALL,):
            return tuple(sorted(labels.items()))
        return tuple(sorted((name, labels.get(name, "")) for name in self.group_by))


DEFAULT_GROUPING: Final = Grouping(("incident",), 30.0, 300.0, 4 * 3600.0)
"""The root's settings when it gives none: grouped by incident, Alertmanager's waits."""


@dataclass(frozen=True, slots=True)
class AlertRoute:
    """A node of the tree with its inheritance done: the channels and grouping in force."""

    path: KeyPath
    """Where it is written, ``("routes", "routes", 0)``: shown as ``routes.routes[0]``."""
    channels: tuple[str, ...]
    matchers: Matchers
    grouping: Grouping
    continue_: bool = False
    routes: tuple[AlertRoute, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    mute_time_intervals: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return render_path(self.path)

    def __repr__(self) -> str:
        return f"<Route {self.where} -> {', '.join(self.channels) or '(no channel)'}>"


@dataclass(frozen=True, slots=True)
class Matched:
    """One route an alert reaches: where it sends, how it is grouped, and whether it is
    muted at that instant (the alert then goes nowhere through this route, and is
    recorded as muted)."""

    route: AlertRoute
    group_key: tuple[tuple[str, str], ...]
    muted_by: str | None = None
    """The mute time interval the instant is in."""
    outside: tuple[str, ...] = ()
    """The route's active time intervals, when the instant is in none of them."""

    @property
    def channels(self) -> tuple[str, ...]:
        return self.route.channels

    @property
    def grouping(self) -> Grouping:
        return self.route.grouping

    @property
    def muted(self) -> bool:
        return self.muted_by is not None or bool(self.outside)

    @property
    def sends_to(self) -> tuple[str, ...]:
        """The channels it sends to now: none when muted."""
        return () if self.muted else self.route.channels

    def __repr__(self) -> str:
        why = (
            f" muted by {self.muted_by}"
            if self.muted_by is not None
            else f" muted: outside {', '.join(self.outside)}"
            if self.outside
            else ""
        )
        return f"<Matched {self.route.where} -> {', '.join(self.channels) or '(no channel)'}{why}>"


def routing_labels(
    labels: Mapping[str, str],
    *,
    monitor: str,
    event: str,
    kind: str | None = None,
    location: str | None = None,
    incident: int | None = None,
) -> dict[str, str]:
    """The labels an alert is routed on: the monitor's own, with tether's beside them
    (``monitor``, ``event``, and ``kind``, ``location`` and ``incident`` where there is
    one); tether's win, though a monitor's labels cannot take their names."""
    out = dict(labels)
    out.update(monitor=monitor, event=event)
    if kind is not None:
        out["kind"] = kind
    if location is not None:
        out["location"] = location
    if incident is not None:
        out["incident"] = str(incident)
    return out


# -- time intervals --------------------------------------------------------------------


def _within(value: int, spans: tuple[tuple[int, int], ...]) -> bool:
    return not spans or any(begin <= value <= end for begin, end in spans)


def _days_in_month(day: dt.date) -> int:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return (following - dt.timedelta(days=1)).day


def _on_day_of_month(day: dt.date, spans: tuple[tuple[int, int], ...]) -> bool:
    """Alertmanager's reading: a negative day counts from the month's end, a range is
    clamped to the month, and one beginning after the month's last day is skipped."""
    if not spans:
        return True
    last = _days_in_month(day)
    for begin, end in spans:
        first = last + begin + 1 if begin < 0 else begin
        final = last + end + 1 if end < 0 else end
        if first > last:
            continue
        if max(first, 1) <= day.day <= min(final, last):
            return True
    return False


def in_spec(spec: TimeSpec, at: dt.datetime) -> bool:
    """Whether the aware instant ``at``, on the wall clock of the spec's location,
    satisfies every field the spec gives (minutes: seconds are not read, as in
    Alertmanager)."""
    if at.tzinfo is None:
        raise ValueError("in_spec() needs a timezone-aware datetime")
    local = at.astimezone(zoneinfo.ZoneInfo(spec.location))
    minute = local.hour * 60 + local.minute
    if spec.times and not any(r.start_time <= minute < r.end_time for r in spec.times):
        return False
    weekday = (local.weekday() + 1) % 7  # Alertmanager's: sunday is 0
    return (
        _within(weekday, spec.weekdays)
        and _on_day_of_month(local.date(), spec.days_of_month)
        and _within(local.month, spec.months)
        and _within(local.year, spec.years)
    )


def in_interval(interval: TimeInterval, at: dt.datetime) -> bool:
    """Whether ``at`` is inside one of the interval's specs."""
    return any(in_spec(spec, at) for spec in interval.time_intervals)


# -- the tree ----------------------------------------------------------------------------


def build(
    config: RouteConfig, parent: AlertRoute | None = None, path: KeyPath = ("routes",)
) -> AlertRoute:
    """The route ``config`` with its parent's channels and grouping where it gives none."""
    base = parent.grouping if parent is not None else DEFAULT_GROUPING
    grouping = Grouping(
        config.group_by if config.group_by is not None else base.group_by,
        config.group_wait if config.group_wait is not None else base.group_wait,
        config.group_interval if config.group_interval is not None else base.group_interval,
        config.repeat_interval if config.repeat_interval is not None else base.repeat_interval,
    )
    route = AlertRoute(
        path=path,
        channels=config.channels or (parent.channels if parent is not None else ()),
        matchers=config.matchers,
        grouping=grouping,
        continue_=config.continue_,
        active_time_intervals=config.active_time_intervals,
        mute_time_intervals=config.mute_time_intervals,
    )
    children = tuple(
        build(child, route, (*path, "routes", i)) for i, child in enumerate(config.routes)
    )
    return replace(route, routes=children)


def walk(route: AlertRoute, labels: Mapping[str, str]) -> list[AlertRoute]:
    """The routes ``labels`` reach under ``route``, in order (Alertmanager's Match)."""
    if not matches(route.matchers, labels):
        return []
    found: list[AlertRoute] = []
    for child in route.routes:
        below = walk(child, labels)
        found += below
        if below and not child.continue_:
            break
    return found or [route]


@dataclass(frozen=True, slots=True)
class RouteTree:
    """The configured tree, the named time intervals its routes refer to, and each
    monitor's own ``alerts:`` list (the simple form of a route)."""

    root: AlertRoute
    intervals: Mapping[str, TimeInterval] = field(default_factory=dict)
    monitors: Mapping[str, AlertRoute] = field(default_factory=dict)

    def match(self, labels: Mapping[str, str], at: dt.datetime | None = None) -> list[Matched]:
        """Every route an alert of ``labels`` reaches, the tree's first, then its
        monitor's own; each muted or not at ``at`` (None: time is not considered)."""
        reached = walk(self.root, labels)
        own = self.monitors.get(labels.get("monitor", ""))
        if own is not None:
            reached.append(own)
        return [self._matched(route, labels, at) for route in reached]

    def _matched(
        self, route: AlertRoute, labels: Mapping[str, str], at: dt.datetime | None
    ) -> Matched:
        key = route.grouping.key(labels)
        if at is None:
            return Matched(route, key)
        for name in route.mute_time_intervals:
            if in_interval(self.intervals[name], at):
                return Matched(route, key, muted_by=name)
        active = route.active_time_intervals
        if active and not any(in_interval(self.intervals[name], at) for name in active):
            return Matched(route, key, outside=active)
        return Matched(route, key)


def route_tree(config: MonitorConfig) -> RouteTree:
    """The tree of a loaded configuration: its ``routes:`` (none: a root with no
    channel) and a route per monitor that lists ``alerts:``."""
    root = build(config.routes) if config.routes is not None else build(RouteConfig())
    monitors = {
        m.name: AlertRoute(
            path=("monitors", i, "alerts"),
            channels=m.alerts,
            matchers=(),
            grouping=root.grouping,
        )
        for i, m in enumerate(config.monitors)
        if m.alerts
    }
    return RouteTree(root, {t.name: t for t in config.time_intervals}, monitors)
