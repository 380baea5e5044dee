"""The traffic monitors' intake: an application's batches of calls (``POST /api/report``:
``web/api/_reported.py``) counted for the traffic monitors they belong to, each judged
(``engine/_traffic.py``) into a check the runner takes (``_intake.Taker``) when its
verdict changes, and every ten seconds while it stays."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Check, where_failed
from tether.monitor.config import Monitor, MonitorConfig
from tether.monitor.config._conditions import glob_matcher
from tether.monitor.engine._traffic import Thresholds, Traffic, TrafficCall
from tether.monitor.runtime._intake import Taker

if TYPE_CHECKING:
    from tether.monitor.metrics._metrics import MonitorMetrics

_RECORD_EVERY = 10.0
"""Seconds between a traffic monitor's stored checks while its verdict stays the same (a
changed verdict is stored at once)."""
_ROUTES_KEPT = 10_000
"""Endpoints whose traffic monitors are remembered (then the memory starts again)."""


class CallCounter(Protocol):
    """The objectives, as the traffic intake hands them calls (``_objective_stage.py``)."""

    def calls(self, monitor: str, calls: Iterable[TrafficCall]) -> None: ...


class TrafficTaker(Taker, Protocol):
    """The runner, as the traffic intake sees it."""

    @property
    def objectives(self) -> CallCounter: ...

    @property
    def metrics(self) -> MonitorMetrics: ...
    @property
    def since(self) -> Mapping[str, float]: ...


class TrafficIntake:
    """Each traffic monitor's calls and verdicts, for one runner."""

    def __init__(self, runner: TrafficTaker) -> None:
        self._runner = runner
        self.monitors: dict[str, Traffic] = {}
        """Each traffic monitor's calls (``_traffic.py``), kept across reloads while its
        app, endpoint and thresholds stay."""
        self._apps: dict[str, list[tuple[str, Callable[[str], bool]]]] = {}
        """Each application's traffic monitors, with what their endpoint matches."""
        self._stored: dict[str, tuple[bool, float]] = {}
        """Each traffic monitor's last stored verdict and when."""
        self._routes: dict[tuple[str, str], tuple[str, ...]] = {}
        """(app, endpoint) to the traffic monitors its calls count for."""

    def configure(self, config: MonitorConfig) -> None:
        """Take ``config``'s traffic monitors (at start and on reload)."""
        kept, self.monitors = self.monitors, {}
        self._apps = {}
        for m in config.monitors:
            if not m.traffic or m.app is None:
                continue
            rules = Thresholds(m.consecutive, m.failure_ratio, m.window, m.min_calls)
            old = kept.get(m.name)
            same = old is not None and (old.app, old.endpoint, old.thresholds) == (
                m.app,
                m.endpoint,
                rules,
            )
            self.monitors[m.name] = (
                old if same and old is not None else Traffic(m.app, m.endpoint, rules)
            )
            self._apps.setdefault(m.app, []).append((m.name, glob_matcher(m.endpoint)))
        self._routes = {}
        for name in set(self._stored) - self.monitors.keys():
            del self._stored[name]

    def forget(self, name: str) -> None:
        """``name`` was removed from the configuration."""
        self.monitors.pop(name, None)
        self._stored.pop(name, None)

    def _monitors_of(self, app: str, endpoint: str) -> tuple[str, ...]:
        """The traffic monitors a call of ``app`` to ``endpoint`` counts for."""
        key = (app, endpoint)
        names = self._routes.get(key)
        if names is None:
            if len(self._routes) >= _ROUTES_KEPT:
                self._routes.clear()
            names = self._routes[key] = tuple(
                name for name, matches in self._apps.get(app, ()) if matches(endpoint)
            )
        return names

    def report(self, app: str, calls: list[TrafficCall], dropped: int) -> int:
        """Take an application's batch of calls (``POST /api/report``): count them in the
        metrics, feed the traffic monitors they belong to, and judge those now.  Returns
        how many calls were taken (all of them: those of no traffic monitor here are
        counted in the metrics).  A paused monitor, or one another instance of a cluster
        holds, gets none (docs/deployment.md)."""
        runner = self._runner
        now = runner.wall()
        runner.metrics.traffic(app, calls, dropped)
        if app not in self._apps:
            return len(calls)
        routed: dict[str, list[TrafficCall]] = {}
        for call in calls:
            for name in self._monitors_of(app, call.endpoint):
                routed.setdefault(name, []).append(call)
        for name, mine in routed.items():
            m = runner.monitor(name)
            if runner.controls.is_paused(m) or not runner.probes_here(name):
                continue
            runner.objectives.calls(name, mine)
            self.monitors[name].add(mine, now)
            self._judge(m, now)
        return len(calls)

    def judge(self) -> None:
        """Judge every traffic monitor now, so that failures leaving the window bring one
        back up without a new call (the runner calls it every second)."""
        runner = self._runner
        now = runner.wall()
        for name in self.monitors:
            m = runner.monitor(name)
            if not runner.controls.is_paused(m) and runner.probes_here(name):
                self._judge(m, now)

    def _judge(self, m: Monitor, now: float) -> None:
        """Store a check of traffic monitor ``m`` when its verdict changed, or every
        ten seconds while it stays; no verdict (no calls) stores nothing."""
        verdict = self.monitors[m.name].verdict(now)
        if verdict.ok is None:
            return
        last = self._stored.get(m.name)
        if last is not None and last[0] == verdict.ok and now - last[1] < _RECORD_EVERY:
            return
        self._stored[m.name] = (verdict.ok, now)
        kind = None if verdict.ok or verdict.kind is None else Kind(verdict.kind)
        record = ProbeRecord(m.name, now, verdict.ok, kind, verdict.latency_ms, verdict.detail)
        self._runner.take_check(Check(record, where_failed(m.url, None, kind)))

    def words(self, name: str) -> str | None:
        """A down traffic monitor's failure, short, for an incident that joins it to a
        probe's: "37% of checkout's calls fail with tls.expired since 10:02"."""
        traffic = self.monitors.get(name)
        if traffic is None:
            return None
        words = traffic.verdict(self._runner.wall()).words
        if words is None:
            return None
        since = self._runner.since.get(name)
        if since is None:
            return words
        return f"{words} since {dt.datetime.fromtimestamp(since, dt.UTC):%H:%M}"
