"""The push monitors' intake: a job's pushes (``POST /api/push/TOKEN``: ``web/api/_push.py``),
those read from the store (made through another instance of a cluster), and the
heartbeats they miss, each turned into a check the runner takes (``_intake.Taker``)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from tether._durations import format_duration
from tether._kinds import Kind
from tether._redact import redact_text
from tether.monitor._records import ProbeRecord, Push
from tether.monitor.checks._prober import Check, service_of
from tether.monitor.config import Monitor, MonitorConfig
from tether.monitor.engine._heartbeat import TokenIndex, missed
from tether.monitor.reports._documents import iso
from tether.monitor.runtime._intake import Taker

_PUSH_MESSAGE = 1000
"""Characters of a push's ``msg`` kept as its check's detail."""


class Pushes:
    """Each push monitor's pushes and missed heartbeats, for one runner."""

    def __init__(self, runner: Taker, seen: Mapping[str, Push]) -> None:
        """``seen``: the last push of each monitor the store has (the controls' read at
        start), taken already."""
        self._runner = runner
        self._tokens = TokenIndex(())
        self._monitors: list[Monitor] = []
        """The push monitors, walked each second (:meth:`heartbeats`): not every monitor."""
        self._last: dict[str, float] = {}
        """When each push monitor last had a push, or began to be watched (wall seconds)."""
        self._seen: dict[str, float] = {m: p.at for m, p in seen.items()}
        """When the last push of each monitor that this instance knows was made: one read
        from the store (made through another instance) is taken once, if it is newer."""
        self._missed: dict[str, float] = {}
        """The expected time of each push monitor's last missed heartbeat, counted once."""

    def configure(self, config: MonitorConfig, now: float) -> None:
        """Take ``config``'s push monitors (at start and on reload), watched from ``now``
        if they are new."""
        self._tokens = TokenIndex(config.monitors)
        self._monitors = [m for m in config.monitors if m.push]
        for m in self._monitors:
            self._last.setdefault(m.name, now)

    def forget(self, name: str) -> None:
        """``name`` was removed from the configuration."""
        self._last.pop(name, None)
        self._missed.pop(name, None)

    def monitor(self, token: str) -> Monitor | None:
        """The push monitor ``token`` belongs to, if any (nothing is recorded)."""
        name = self._tokens.find(token)
        return None if name is None else self._runner.monitor(name)

    def push(
        self, token: str, ok: bool, message: str | None, latency_ms: float | None
    ) -> str | None:
        """Take a push made with ``token``: the name of its monitor, or ``None`` when the
        token is no monitor's.  A paused monitor's push is answered and not recorded."""
        runner = self._runner
        name = self._tokens.find(token)
        if name is None:
            return None
        m = runner.monitor(name)
        if runner.controls.is_paused(m):
            return name
        now = runner.wall()
        detail = None if not message else redact_text(message[:_PUSH_MESSAGE])
        if not ok and detail is None:
            detail = "the job reported down"
        # Kept in the store whoever probes it: on a cluster, the instance that holds the
        # monitor takes it from there (:meth:`stored`); alone, a restart knows it.
        runner.store.record_push(name, now, ok, detail, latency_ms)
        if runner.probes_here(name):
            self._take(m, Push(now, ok, detail, latency_ms))
        return name

    def stored(self, pushes: Mapping[str, Push], monitors: Mapping[str, Monitor]) -> None:
        """Take the store's last push of each monitor (``monitors``: the configuration's,
        by name) when it is newer than any known here: one sent to another instance is
        taken by the one that holds the monitor."""
        runner = self._runner
        for name, push in pushes.items():
            if push.at <= self._seen.get(name, -math.inf):
                continue
            self._seen[name] = push.at
            m = monitors.get(name)
            if (
                m is not None
                and m.push
                and not runner.controls.is_paused(m)
                and runner.probes_here(name)
            ):
                self._take(m, push)

    def _take(self, m: Monitor, push: Push) -> None:
        self._seen[m.name] = push.at
        self._last[m.name] = push.at
        self._missed.pop(m.name, None)
        record = ProbeRecord(m.name, push.at, push.ok, None, push.latency_ms, push.detail)
        self._runner.take_check(Check(record, service_of(m.url)))

    def heartbeats(self) -> None:
        """Record a failed check for each push monitor whose heartbeat is overdue, once
        for each expected time it missed (the runner calls it every second)."""
        runner = self._runner
        now = runner.wall()
        for m in self._monitors:
            if not runner.probes_here(m.name) or runner.controls.is_paused(m):
                continue
            since = self._last.setdefault(m.name, now)
            expected = missed(m, since, now)
            if expected is None or self._missed.get(m.name) == expected:
                continue
            self._missed[m.name] = expected
            detail = (
                f"no push since {iso(since)}: one was expected at {iso(expected)} "
                f"(grace {format_duration(m.grace)})"
            )
            silent = ProbeRecord(m.name, now, False, Kind.HEARTBEAT_MISSED, None, detail)
            runner.take_check(Check(silent, service_of(m.url)))
