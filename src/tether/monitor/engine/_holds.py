"""What holds a monitor's alerts back, and why: the holds, one pure decision.

The incident engine asks, for a monitor that is down, whether its alert waits (its
``hold``); the runner answers with :meth:`Holds.why`, which asks :func:`hold_of`, in
this order:

1. the monitor is **flapping** (its state for the cluster): one alert for a monitor
   that comes and goes, not one a minute;
2. another monitor that holds it is **down**: one it ``depends_on``, or the source of
   an ``inhibit_rules:`` rule that selects it (one mechanism, ``_inhibit.py``): the
   source's incident says it, not each target's;
3. a **maintenance window** covers it at ``now``: the configuration's
   (``maintenance:``), then those opened at run time (``POST /api/maintenance``,
   :func:`opened_window`); probing goes on, alerts wait.

A pause is not a hold: a paused monitor has a state of its own (``paused``), handed
to the incident engine as any change is.  Nothing here reads a clock: ``now`` and the
states are given.  :class:`Maintenance` and :func:`in_maintenance` are windows in epoch seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tether._redact import redact_text
from tether.monitor._records import OpenedWindow
from tether.monitor._state import State
from tether.monitor.config import MaintenanceWindow, Monitor, MonitorConfig
from tether.monitor.engine._detect import Observation
from tether.monitor.engine._inhibit import Inhibition, KindOf, rules_of

Failing = Callable[[str], Observation | None]
"""A monitor's standing failure for the cluster (the quorum's ``observation``), or None:
its ``kind`` is what a rule's ``kind`` matchers read."""


@dataclass(frozen=True, slots=True)
class Holds:
    """What holds alerts back, as the runner keeps it: the monitors that hold others
    while down (``inhibition``: ``depends_on`` and ``inhibit_rules:``), the
    configuration's maintenance windows (``configured``) and those opened at run time
    (``opened``).  A value: a reload (:meth:`configure`) and a change of the windows
    opened (:meth:`open`) each make a new one; a change of the monitor set alone
    (:meth:`change`) changes the inhibition's index in place."""

    inhibition: Inhibition = field(default_factory=Inhibition)
    configured: tuple[HoldingWindow, ...] = ()
    opened: tuple[HoldingWindow, ...] = ()

    def configure(self, config: MonitorConfig) -> Holds:
        """These holds with ``config``'s parents, inhibition rules and maintenance
        windows."""
        inhibition = Inhibition.build(
            {m.name: m.labels for m in config.monitors},
            rules_of(config.inhibit_rules),
            {m.name: m.depends_on for m in config.monitors if m.depends_on},
        )
        return dataclasses.replace(self, inhibition=inhibition, configured=config.maintenance)

    def change(self, put: Mapping[str, Monitor], removed: Iterable[str] = ()) -> Holds:
        """These holds with the monitors ``put`` (added or changed) and ``removed``, the
        rules and windows as they are: the index is changed in place, for those monitors
        alone (a discovery change: ``runtime/_monitor_set.py``)."""
        self.inhibition.change({name: (m.labels, m.depends_on) for name, m in put.items()}, removed)
        return self

    def open(self, windows: Iterable[OpenedWindow]) -> Holds:
        """These holds with ``windows`` (all those opened at run time and not over)."""
        return dataclasses.replace(self, opened=tuple(opened_window(w) for w in windows))

    def why(
        self,
        monitor: str,
        now: float,
        states: Mapping[str, State],
        failing: Failing | None = None,
    ) -> str | None:
        """Why ``monitor``'s alerts wait at ``now``, in words, or None (:func:`hold_of`):
        ``states`` is every monitor's state for the cluster, ``failing`` gives the
        failure of one that is down (for ``kind`` matchers; none: no kind)."""
        windows = itertools.chain(self.configured, self.opened)
        kind_of = None if failing is None else _kinds(failing)
        return hold_of(monitor, now, states, self.inhibition, windows, kind_of)


def _kinds(failing: Failing) -> KindOf:
    def kind_of(monitor: str) -> str | None:
        failure = failing(monitor)
        return None if failure is None or failure.kind is None else str(failure.kind)

    return kind_of


def opened_window(window: OpenedWindow) -> MaintenanceWindow:
    """A window opened through the write API as the configuration's windows are, so that
    one mechanism holds the alerts of both."""
    return MaintenanceWindow(
        name=f"#{window.id} ({redact_text(window.reason)})",
        start=dt.datetime.fromtimestamp(window.start, dt.UTC),
        end=dt.datetime.fromtimestamp(window.end, dt.UTC),
        monitors=window.monitors,
    )


def held_by_parent(
    monitor: str,
    depends_on: Mapping[str, Collection[str]],
    states: Mapping[str, State],
) -> str | None:
    """The parent whose outage holds back ``monitor``'s incident, or ``None``.

    Only direct parents count, and only while ``down``: in a chain
    ``router <- db <- api`` a router outage takes db down too, which holds api.  The
    same rules as :class:`Holds` asks, made of ``monitor``'s parents alone.
    """
    inhibition = Inhibition.build({}, depends_on={monitor: depends_on.get(monitor, ())})
    found = inhibition.source(monitor, states)
    return None if found is None else found[0]


class HoldingWindow(Protocol):
    """A maintenance window as the holds ask it (the file's, or one opened at run time)."""

    @property
    def name(self) -> str: ...

    def covers(self, monitor: str) -> bool: ...

    def active(self, at: dt.datetime) -> bool: ...


def hold_of(
    monitor: str,
    now: float,
    states: Mapping[str, State],
    inhibition: Inhibition,
    windows: Iterable[HoldingWindow],
    kind_of: KindOf | None = None,
) -> str | None:
    """Why ``monitor``'s alerts wait at ``now``, in words, or None: it is flapping (in
    ``states``), a monitor that holds it is down (a parent it depends on, or the source
    of an inhibition rule: ``inhibition``), or a maintenance window of ``windows``
    covers it now, asked in that order (:class:`Holds` asks it with what it keeps)."""
    if states.get(monitor) is State.FLAPPING:
        return "it is flapping"
    inhibited = inhibition.why(monitor, states, kind_of)
    if inhibited is not None:
        return inhibited
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    window = next((w for w in windows if w.covers(monitor) and w.active(at)), None)
    return None if window is None else f"maintenance window {window.name}"


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A maintenance window: from ``start`` (epoch s) for ``duration`` s, repeated
    every ``every`` s if given (86400 daily, 604800 weekly), for ``monitors``
    (``None``: all of them)."""

    start: float
    duration: float
    every: float | None = None
    monitors: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.duration <= 0:
            raise ValueError(f"maintenance.duration: must be more than 0 s, not {self.duration!r}")
        if self.every is not None and self.every < self.duration:
            raise ValueError(
                f"maintenance.every: must be at least the duration ({self.duration:g} s), "
                f"not {self.every!r}"
            )

    def covers(self, monitor: str, now: float) -> bool:
        """Is ``monitor`` in this window at ``now``?"""
        if self.monitors is not None and monitor not in self.monitors:
            return False
        if now < self.start:
            return False
        offset = now - self.start
        if self.every is not None:
            offset %= self.every
        return offset < self.duration


def in_maintenance(monitor: str, now: float, windows: Iterable[Maintenance]) -> Maintenance | None:
    """The window that holds back ``monitor``'s alerts at ``now``, or ``None``."""
    return next((w for w in windows if w.covers(monitor, now)), None)
