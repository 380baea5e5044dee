"""The write API's controls (``web/api/_actions.py``), as a running monitor takes them: every
instance reads the store's each second, and the one a change was made on at once.  Pauses
and resumptions, checks asked for, pushes made through another instance, maintenance
windows, and the acknowledgements made with ``tether ack``.  It reaches the runner only
through :class:`Controlled`."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from tether._redact import redact_text
from tether.monitor._records import Controls, OpenedWindow
from tether.monitor.config import Monitor
from tether.monitor.engine._holds import Holds
from tether.monitor.reports._documents import iso
from tether.monitor.store import Store, StoreError

if TYPE_CHECKING:
    from tether.monitor.runtime._pushes import Pushes

log = logging.getLogger("tether.monitor")


class Controlled(Protocol):
    """The runner, as its controls see it."""

    holds: Holds
    """What holds alerts back: opened anew when the maintenance windows change."""

    @property
    def store(self) -> Store: ...
    @property
    def wall(self) -> Callable[[], float]: ...
    @property
    def pushes(self) -> Pushes: ...
    @property
    def by_name(self) -> Mapping[str, Monitor]:
        """The configuration's monitors, by name."""

    def probes_here(self, name: str) -> bool:
        """Whether this instance probes ``name`` (its location, its shard)."""

    def pause_or_resume(self, m: Monitor) -> None:
        """Pause ``m``'s detector, or resume it, as :meth:`ControlsIntake.is_paused` says."""

    def set_hosts(self) -> None:
        """Take the hosts of the monitors not paused again (to correlate failures with)."""

    def assign(self) -> None:
        """Have the fleet probe the monitors placed here (not paused) from now on."""

    def reprobe(self, name: str, delay: float) -> None:
        """Probe ``name`` in ``delay`` seconds."""


class ControlsIntake:
    """What the write API changed, as one runner has taken it."""

    def __init__(self, runner: Controlled, controls: Controls) -> None:
        """``controls``: the store's, read at start."""
        self._runner = runner
        self._paused: dict[str, tuple[float, str]] = dict(controls.paused)
        """The monitors paused through the write API (name to when, and by whom)."""
        self._checks_seen: dict[str, float] = dict(controls.checks)
        """The last check asked for of each monitor that this instance has taken: one
        asked for before it started is not made again."""
        self.windows: tuple[OpenedWindow, ...] = controls.windows
        """The maintenance windows opened through the write API and not over."""
        self._acks_taken: dict[int, float] = {}
        """The acknowledgements read from the store last time (:meth:`acknowledged`)."""

    def is_paused(self, m: Monitor) -> bool:
        """Whether ``m`` is paused: in the configuration, or through the write API."""
        return m.paused or m.name in self._paused

    def apply(self, controls: Controls) -> None:
        """Take what the write API changed, on this instance or another (every instance
        reads the store's controls each second): pause or resume monitors, check those
        asked for, hold alerts in the maintenance windows."""
        runner = self._runner
        monitors = runner.by_name
        before, self._paused = self._paused, dict(controls.paused)
        changed = sorted(before.keys() ^ self._paused.keys())
        if changed:
            runner.set_hosts()
            for name in changed:
                m = monitors.get(name)
                if m is not None:
                    runner.pause_or_resume(m)
            runner.assign()
            for name in changed:  # resumed: known again at once, not within an interval
                m = monitors.get(name)
                if m is not None and not self.is_paused(m) and runner.probes_here(name):
                    runner.reprobe(name, 0.0)
        for name, at in controls.checks.items():
            if at <= self._checks_seen.get(name, -math.inf):
                continue
            self._checks_seen[name] = at
            m = monitors.get(name)
            if m is not None and not self.is_paused(m) and runner.probes_here(name):
                runner.reprobe(name, 0.0)
        runner.pushes.stored(controls.pushes, monitors)
        if controls.windows != self.windows:
            _log_windows(self.windows, controls.windows)
            self.windows = controls.windows
            runner.holds = runner.holds.open(controls.windows)

    async def read(self) -> None:
        """Read the store's controls (off the event loop) and take them."""
        runner = self._runner
        try:
            controls = await asyncio.to_thread(runner.store.controls, runner.wall())
        except StoreError:
            return  # read again next second; the pauses and windows in force stay
        self.apply(controls)

    def acknowledged(self) -> dict[int, float]:
        """The acknowledgements the store has that were not taken yet (a read, off the
        event loop): one short row per acknowledged open incident, however many monitors
        the incidents hold.  Once every incident with its timeline and members was read
        here each second: during a mass outage that read alone took longer than the
        second it had."""
        try:
            found = self._runner.store.acknowledgements()
        except StoreError:
            # Held alerts, reminders and escalation go on; acknowledgements made while
            # the store is away are read once it is back (the writer has said why).
            return {}
        new = {i: at for i, at in found.items() if self._acks_taken.get(i) != at}
        self._acks_taken = found
        return new


def _log_windows(before: Iterable[OpenedWindow], after: Iterable[OpenedWindow]) -> None:
    """Say which windows opened at run time hold alerts here from now on, and which no
    longer do: on a cluster, each instance says so when it has read the change."""
    was = {w.id for w in before}
    now = {w.id: w for w in after}
    for window in now.values():
        if window.id not in was:
            log.info(
                "maintenance window #%d holds the alerts of %s until %s: %s (opened by %s)",
                window.id,
                ", ".join(window.monitors) or "every monitor",
                iso(window.end),
                redact_text(window.reason),
                window.opened_by,
                extra={"event": "maintenance.open", "window": window.id},
            )
    for gone in sorted(was - now.keys()):
        log.info(
            "maintenance window #%d is over: it holds no alert from now on",
            gone,
            extra={"event": "maintenance.over", "window": gone},
        )
