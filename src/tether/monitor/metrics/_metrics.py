"""Prometheus metrics of the monitor, in a registry of its own.

Phase names follow blackbox_exporter's ``probe_http_duration_seconds``
(resolve, connect, tls, processing, transfer) so existing dashboards read
them; the failure counter carries the *kind*, the reason label blackbox
leaves out.

The per-check series carry the ``location`` of the instance that made the check: each
instance exports its own checks, and Prometheus scraping every instance of a cluster gets
each monitor once per location.  Their values are kept here as plain numbers and labelled
when scraped (the location, and what the quorum and the cluster say, come from the
runner then: :class:`~tether.monitor.cluster._view.ClusterView`); a check costs a few dict writes,
and nothing in it can raise.  The lines of every monitor are written by hand
(:mod:`~tether.monitor.metrics._exposition`), once per check and kept.

**A scrape that does not grow with the fleet** (issue 46).  Each monitor's series are
about 600 bytes (75 MB a scrape at 120,000 monitors), more than one scrape should carry:
while the configuration has at most ``server.metrics_monitor_limit`` monitors (10,000 by
default) the default scrape carries every series, as it always did; with more, it carries
the *summary* (every family without a ``monitor`` label, and the fleet's counts:
``tether_monitors``, ``tether_monitors_down``, ``tether_checks_total``,
``tether_check_failures_total``), and the series of each monitor are scraped in
*scoped* scrapes, ``/metrics?shard=I&shards=N`` (the monitors whose CRC-32 of the name
is I modulo N, as kube-state-metrics shards its objects and the cluster its monitors)
or ``/metrics?monitor=NAME`` (one job a monitor, as blackbox_exporter's ``/probe``
scrapes one target), which Prometheus's ``params`` and relabelling set per target.
A scoped scrape reads its shard's monitors from a partition kept as monitors come and go
(:class:`_Roster`), so its cost is its shard's and what changed in it, whatever the
fleet.

    tether_monitor_up{monitor}                       1 up, 0 down: the cluster's state
    tether_monitor_labels{monitor, <its labels>}     1, for each monitor with labels
    tether_probe_success{monitor, location}          the last check: 1 passed, 0 failed
    tether_probe_duration_seconds{monitor, location}      the last check, all phases
    tether_probe_phase_seconds{monitor, location, phase}  the last check, per phase
    tether_probe_failures_total{monitor, location, kind}  failed checks, by failure kind
    tether_certificate_expiry_seconds{monitor, location}  until the leaf certificate expires
    tether_location_up{monitor, location}            what each location sees (several only)
    tether_monitors                                  monitors configured (the summary)
    tether_monitors_down                             of them, down: tether_monitor_up 0
    tether_checks_total{location}                    checks made here
    tether_check_failures_total{kind, location}      of them, failed, by failure kind
    tether_metrics_scoped                            1: the monitors' series are scraped scoped
    tether_cluster_instances{location}               live instances at each location
    tether_cluster_leader                            1 on the instance that leads
    tether_alerts_sent_total{channel}                alerts delivered, per channel
    tether_alert_delivery_failures_total{channel, kind}  failed deliveries, by failure kind
    tether_alerts_suppressed_total{channel}          alerts kept back (a silence, a muted route)
    tether_alerts_queued{channel}                    alerts waiting in the channel's queue
    tether_alerts_oldest_queued_seconds{channel}     how long the oldest of them has waited
    tether_traffic_calls_total{app, endpoint, kind}  reported calls (kind "" for a success)
    tether_traffic_latency_seconds{app, endpoint}    their latency, a histogram
    tether_traffic_retries_total{app, endpoint}      their attempts after the first
    tether_traffic_dropped_total{app}                calls the application's client dropped
    tether_metrics_render_errors_total               series left out of a scrape (below)
    tether_agent_*{location}                         the agents' (metrics/_agent_metrics.py)

The traffic series are bounded whatever the reports say: 100 applications and 200
endpoints per application at most; the calls of any more count under ``other``
(:mod:`~tether.monitor.metrics._traffic_metrics` counts them).  ``/probe``'s answer, in
blackbox_exporter's series, is written by :mod:`~tether.monitor.web.scrape._probe_metrics`.

A scrape renders what it can: a series whose value no float holds (a count past 1.8e308)
or whose labels cannot be written is left out, and so is the rest of a source that
raises; each is counted in ``tether_metrics_render_errors_total`` (and logged once per
family), and every other series is served.  One bad series once made every scrape a
500, and Prometheus blind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.cluster._view import ClusterView, LocationsView
from tether.monitor.engine._traffic import TrafficCall
from tether.monitor.metrics._agent_metrics import AgentMetrics
from tether.monitor.metrics._exposition import (
    CHECK_FAMILIES,
    LABELS_HEAD,
    LOCATION_UP_HEAD,
    UP_HEAD,
    Last,
    Lines,
    One,
    Written,
    exposed,
    family_text,
    head,
    info_line,
    label_value,
    write_lines,
)
from tether.monitor.metrics._traffic_metrics import TrafficMetrics
from tether.monitor.store._base import StoreHealth
from tether.monitor.store._shares import shard_of

__all__ = ["SHARDS_MAX", "MonitorMetrics", "Scope"]

log = logging.getLogger("tether.monitor")

SHARDS_MAX: Final = 1000
"""The most shards a scoped scrape may split the monitors into."""


@dataclass(frozen=True, slots=True)
class Scope:
    """The monitors a scoped scrape carries the series of: those of shard ``shard`` of
    ``shards`` (by the CRC-32 of the name: ``store._shares.shard_of``) and, when
    ``monitors`` names some, only those of them."""

    shard: int = 0
    shards: int = 1
    monitors: tuple[str, ...] | None = None


class _Roster:
    """Every monitor with series here (or configured), in the order first seen, and for
    each shard count a scope asked for, the monitors of each of its shards, kept as
    monitors come and go: a scoped scrape takes its shard's names from here instead of
    hashing every monitor's.  Used on the event loop alone (``observe``, ``state``,
    ``labels``, ``forget`` and ``scrape`` all run there)."""

    def __init__(self) -> None:
        self._names: dict[str, None] = {}
        self._parts: dict[int, list[dict[str, None]]] = {}
        """Each shard count asked for: the monitors of each shard (dicts: ordered sets)."""

    def __len__(self) -> int:
        return len(self._names)

    def add(self, name: object) -> None:
        if not isinstance(name, str) or name in self._names:
            return  # a name that is not text has no series that can be written
        self._names[name] = None
        for shards, parts in self._parts.items():
            parts[shard_of(name, shards)][name] = None

    def drop(self, name: object) -> None:
        if not isinstance(name, str) or name not in self._names:
            return
        del self._names[name]
        for shards, parts in self._parts.items():
            parts[shard_of(name, shards)].pop(name, None)

    def shard(self, index: int, shards: int) -> list[str]:
        """The monitors of shard ``index`` of ``shards``, in the order first seen."""
        parts = self._parts.get(shards)
        if parts is None:  # the first scrape of this count: every name hashed, once
            parts = self._parts[shards] = [{} for _ in range(shards)]
            for name in self._names:
                parts[shard_of(name, shards)][name] = None
        return list(parts[index])

    def scope(self, scope: Scope) -> list[str]:
        """The monitors ``scope`` covers: its shard's, or of the named monitors those
        in its shard (each once, in the order named)."""
        if scope.monitors is None:
            return self.shard(scope.shard, scope.shards)
        named = dict.fromkeys(scope.monitors)
        return [n for n in named if n in self._names and shard_of(n, scope.shards) == scope.shard]


class _StoreCollector(Collector):
    """The store's writing, read when scraped: up or holding, what waits, what failed."""

    def __init__(self, health: Callable[[], StoreHealth]) -> None:
        self._health = health

    def collect(self) -> Iterator[Metric]:
        h = self._health()
        yield GaugeMetricFamily(
            "tether_store_up", "1 while the store takes writes, 0 while they are held", int(h.up)
        )
        yield GaugeMetricFamily(
            "tether_store_down_seconds",
            "How long writes have been held (0 while the store is up)",
            h.down_for,
        )
        held = GaugeMetricFamily(
            "tether_store_held",
            "Writes waiting for the store: results and state changes in memory and in the "
            "spill file, and incident and alert writes",
            labels=["where"],
        )
        held.add_metric(["memory"], h.held)
        held.add_metric(["spill"], h.spilled)
        held.add_metric(["writes"], h.held_writes)
        yield held
        yield CounterMetricFamily(
            "tether_store_write_errors", "Failed store writes (each retried)", h.errors
        )
        yield CounterMetricFamily(
            "tether_store_dropped",
            "Results and state changes dropped: memory and the spill file were full",
            h.dropped,
        )
        yield CounterMetricFamily(
            "tether_store_refused",
            "Items the database refused even alone (logged and left out)",
            h.refused,
        )


_ABSENT: Final = object()
_ESCAPED_MAX: Final = 4096


class _Scrape:
    """One scrape: the registry's series, then those labelled with what the runner says
    now (the location of the checks, the locations' states, the instances).

    ``names`` are the monitors of a scoped scrape (their series only; None: the default
    scrape, whose monitors' series are there when ``whole``)."""

    def __init__(
        self,
        metrics: MonitorMetrics,
        cluster: ClusterView,
        locations: Mapping[str, LocationsView],
        probed: Container[str] | None,
        names: Sequence[str] | None = None,
        whole: bool = True,
    ) -> None:
        self._metrics = metrics
        self._cluster = cluster
        self._locations = locations
        self._probed = probed
        self._names = names
        self._whole = whole

    def sources(self) -> list[Callable[[], Iterable[Metric | Written]]]:
        """Where the scrape's families come from, each read on its own: one that raises
        loses only the families it had not given yet."""
        if self._names is not None:
            return [self._up, self._checks, self._location_up]
        collectors = [c.collect for c in self._metrics.collectors]
        if not self._whole:
            return [self._summary, *collectors, self._cluster_families]
        return [
            self._summary,
            self._up,
            *collectors,
            self._checks,
            self._location_up,
            self._cluster_families,
        ]

    def _each(self, lines: Mapping[str, str | None]) -> list[str | None]:
        """The values of ``lines`` for this scrape's monitors (every monitor's by
        default), read one by one: the event loop may add or remove one meanwhile."""
        if self._names is None or not lines:  # none to look up: the lines of no monitor
            return list(lines.values())
        get = lines.get
        return [line for name in self._names if (line := get(name, _ABSENT)) is not _ABSENT]  # type: ignore[misc]

    def _summary(self) -> Iterator[Metric]:
        m = self._metrics
        yield GaugeMetricFamily(
            "tether_monitors", "Monitors in the configuration, discovered ones too", m.configured
        )
        yield GaugeMetricFamily(
            "tether_monitors_down",
            "Monitors down for the cluster: those whose tether_monitor_up is 0",
            len(m.down),
        )
        here = self._cluster.here
        checks = CounterMetricFamily(
            "tether_checks", "Checks made at this instance", labels=["location"]
        )
        checks.add_metric([here], m.checked)
        yield checks
        failures = CounterMetricFamily(
            "tether_check_failures",
            "Failed checks made at this instance, by failure kind: tether_probe_failures_total "
            "summed over the monitors",
            labels=["kind", "location"],
        )
        for kind, n in sorted(m.failed.items()):
            failures.add_metric([kind, here], n)
        yield failures
        yield GaugeMetricFamily(
            "tether_metrics_scoped",
            "1 when this scrape leaves each monitor's series to scoped scrapes "
            "(/metrics?shard=I&shards=N): more monitors than server.metrics_monitor_limit",
            int(not self._whole),
        )

    def _up(self) -> Iterator[Written]:
        lines = self._each(self._metrics.up)
        written = [line for line in lines if line is not None]
        yield Written.of("tether_monitor_up", UP_HEAD, written, len(lines) - len(written))
        labelled = self._each(self._metrics.labelled)
        if labelled:
            written = [line for line in labelled if line is not None]
            left_out = len(labelled) - len(written)
            yield Written.of("tether_monitor_labels", LABELS_HEAD, written, left_out)

    def _checks(self) -> Iterator[Written]:
        """The per-check series, written out (:func:`go_value`, :func:`label_value`): a
        series whose value or labels cannot be written is left out and counted."""
        metrics = self._metrics
        here = label_value(self._cluster.here)
        checks = metrics.checks
        probed = self._probed
        if self._names is None:
            items: Iterable[tuple[str, Last | None]] = list(checks.items())
        else:  # made as they are read: a list of them would wake the cyclic collector
            get = checks.get
            items = ((name, get(name)) for name in self._names)
        written: list[Lines] = []
        for monitor, last in items:
            if last is None:
                continue
            if probed is not None and monitor not in probed:
                continue  # moved to another instance of this location, which exports it
            # A monitor's lines are written when a check changes them (MonitorMetrics.
            # observe, once a scrape has asked for them), else here: a scrape writes
            # again the lines of the monitors checked since the last one at most.
            kept = last.written
            if kept is None or kept.version != last.version or kept.here != here:
                kept = last.written = write_lines(last, here, metrics.escaped, last.version)
                metrics.rendered += 1
            written.append(kept)
        metrics.here, metrics.writing = here, True  # each check writes its lines from now
        lost = dict.fromkeys(CHECK_FAMILIES, 0)
        for kept in written:
            for family, n in kept.lost:
                lost[family] += n
        total = [k.total for k in written]
        created = [k.created for k in written]
        if any(created):  # the counters' _created samples: a gauge after them
            help_text = CHECK_FAMILIES["tether_probe_failures"][1]
            total.append(head("tether_probe_failures_created", help_text, "gauge"))
            total.extend(created)
        families = (
            [k.success for k in written],
            [k.duration for k in written],
            [k.phase for k in written],
            total,
            [k.expiry for k in written],
        )
        for (name, (kind, text)), lines in zip(CHECK_FAMILIES.items(), families, strict=True):
            yield Written.of(name, head(exposed(name, kind), text, kind), lines, lost[name])

    def _location_up(self) -> Iterator[Written]:
        lines: list[str] = []
        lost = 0
        locations: dict[str, str | None] = {}
        for monitor, view in self._locations.items():
            m = label_value(monitor)
            for location, fact in view.facts.items():
                if fact.live and fact.state not in _SILENT:
                    if location in locations:
                        at = locations[location]
                    else:
                        at = locations[location] = label_value(location)
                    if m is None or at is None:
                        lost += 1
                        continue
                    value = "0.0" if fact.state is State.DOWN else "1.0"
                    lines.append(f'tether_location_up{{location="{at}",monitor="{m}"}} {value}\n')
        yield Written.of("tether_location_up", LOCATION_UP_HEAD, lines, lost)

    def _cluster_families(self) -> Iterator[Metric]:
        live = self._cluster.live()
        if live is not None:
            instances = GaugeMetricFamily(
                "tether_cluster_instances",
                "Live instances at each location (0: nothing probes from there)",
                labels=["location"],
            )
            for location, n in live.items():
                instances.add_metric([location], n)
            yield instances
        yield GaugeMetricFamily(
            "tether_cluster_leader",
            "1 on the instance that leads the cluster (runs the incidents), else 0",
            int(self._cluster.leading),
        )


_SILENT: Final = frozenset({State.UNKNOWN, State.PAUSED})
"""Location states that say nothing of the target: no ``tether_location_up`` sample."""


class MonitorMetrics:
    def __init__(self, *, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._oldest: dict[str, float | None] = {}
        """Each channel seen, and when its oldest queued alert was queued (None: none
        waits); the age is set at each scrape."""
        self.checks: dict[str, Last] = {}
        """Each monitor's last check here, labelled when scraped."""
        self.registry = CollectorRegistry()
        r = self.registry
        self._render_errors = 0
        self._render_lock = threading.Lock()
        self._said: set[str] = set()
        """The families whose render errors were logged (once each)."""
        self.up: dict[str, str | None] = {}
        """Each monitor's ``tether_monitor_up`` line, written when its state changes (None:
        its name cannot be written; counted at each scrape)."""
        self.labelled: dict[str, str | None] = {}
        """Each labelled monitor's ``tether_monitor_labels`` line, written when the
        configuration is (None: a label cannot be written; counted at each scrape)."""
        self.rendered = 0
        """How many times a monitor's per-check lines were written (for the tests: a
        scrape writes those of the monitors checked since the last one)."""
        self.writing = False
        """Whether a scrape asked for the monitors' series: from then on each check
        writes its monitor's lines as it arrives (some 8 µs, on the event loop) and a
        scrape joins them; before (no one scrapes them), none are written."""
        self.here: str | None = None
        """The location label (escaped) that scrape wrote the lines with."""
        self.escaped: dict[object, str | None] = {}
        """Phase and kind names escaped as label values, each once (a few dozen)."""
        self._configured: set[str] = set()
        """The monitors of the configuration, discovered ones too (``tether_monitors``)."""
        self.down: set[str] = set()
        """The monitors whose ``tether_monitor_up`` is 0 (``tether_monitors_down``)."""
        self.checked = 0
        """Checks made here (``tether_checks_total``)."""
        self.failed: dict[str, int] = {}
        """Of them, failed, by kind (``tether_check_failures_total``)."""
        self._roster = _Roster()
        self._scoped = False
        """Whether the last default scrape left the monitors' series out (said once)."""

        self.alerts_sent = Counter(
            "tether_alerts_sent", "Alerts delivered, per channel", ["channel"], registry=r
        )
        self.alert_failures = Counter(
            "tether_alert_delivery_failures",
            "Failed alert deliveries, by channel and failure kind",
            ["channel", "kind"],
            registry=r,
        )
        self.alerts_suppressed = Counter(
            "tether_alerts_suppressed",
            "Alerts kept from the channel by a silence or a muted route, recorded, not sent",
            ["channel"],
            registry=r,
        )
        self.alerts_queued_now = Gauge(
            "tether_alerts_queued", "Alerts waiting in the channel's queue", ["channel"], registry=r
        )
        self.alerts_oldest = Gauge(
            "tether_alerts_oldest_queued_seconds",
            "How long the oldest alert in the channel's queue has waited",
            ["channel"],
            registry=r,
        )
        self.traffic_calls = TrafficMetrics()
        r.register(self.traffic_calls)
        self.agents = AgentMetrics()
        r.register(self.agents)
        self.collectors: list[Collector] = [
            self.alerts_sent,
            self.alert_failures,
            self.alerts_suppressed,
            self.alerts_queued_now,
            self.alerts_oldest,
            self.traffic_calls,
            self.agents,
        ]
        """What the registry holds, in its order, read one by one at a scrape (after
        ``tether_monitor_up``)."""

    def traffic(self, app: str, calls: Iterable[TrafficCall], dropped: int) -> None:
        """An application's batch of calls (``tether_traffic_*``)."""
        self.traffic_calls.count(app, calls, dropped)

    # -- the outbox's hook (alerts.DeliveryHook) -----------------------------------------

    def alert_sent(self, channel: str) -> None:
        self.alerts_sent.labels(channel).inc()

    def alert_failed(self, channel: str, kind: Kind) -> None:
        self.alert_failures.labels(channel, kind.value).inc()

    def alert_suppressed(self, channel: str) -> None:
        self.alerts_suppressed.labels(channel).inc()

    def alerts_queued(self, channel: str, count: int, oldest_at: float | None) -> None:
        self.alerts_queued_now.labels(channel).set(count)
        self._oldest[channel] = oldest_at

    # -- checks --------------------------------------------------------------------------

    def observe(
        self, record: ProbeRecord, timings: Mapping[str, float], days_left: int | None
    ) -> None:
        """A check: its verdict, its duration, ``timings`` (seconds per blackbox phase,
        :func:`phase_seconds`) and the certificate's ``days_left`` when it saw one."""
        last = self.checks.get(record.monitor)
        if last is None:
            last = self.checks[record.monitor] = Last(label_value(record.monitor))
            self._roster.add(record.monitor)
        self.checked += 1
        last.version += 1
        last.success = 1 if record.ok else 0
        last.duration = (record.latency_ms or 0.0) / 1000
        last.phases.update(timings)
        if not record.ok:
            kind = record.kind.value if record.kind is not None else "condition"
            self.failed[kind] = self.failed.get(kind, 0) + 1
            counted = last.failures.get(kind)
            if counted is None:
                last.failures[kind] = [1.0, self._wall()]
            else:
                counted[0] += 1
        if days_left is not None:
            last.expiry = days_left * 86400.0
        if self.writing:
            if len(self.escaped) > _ESCAPED_MAX:  # names no check makes: start again
                self.escaped = {}
            last.written = write_lines(last, self.here, self.escaped, last.version)
            self.rendered += 1

    def state(self, monitor: str, up: bool) -> None:
        """The monitor's state for the cluster changed (``tether_monitor_up``)."""
        name = str(monitor)  # as prometheus_client's labels() took it
        label = label_value(name)
        if name not in self.up:
            self._roster.add(name)
        self.up[name] = (
            None if label is None else f'tether_monitor_up{{monitor="{label}"}} {float(up)!r}\n'
        )
        if up:
            self.down.discard(name)
        else:
            self.down.add(name)

    def labels(self, monitors: Mapping[str, Mapping[str, str]]) -> None:
        """The monitors' labels, as the configuration (or a reload) now says: one info
        line for each that has any, ``monitor`` among its labels."""
        self.labelled = {}
        self._configured = set(monitors)
        for monitor, labels in monitors.items():
            self._roster.add(monitor)
            if labels:
                self.labelled[monitor] = info_line(monitor, labels)

    def label(self, monitor: str, labels: Mapping[str, str]) -> None:
        """One monitor put in the configuration with its labels now (none: its info line
        goes), the others as they are (a change of the monitor set; one removed is
        :meth:`forget`'s)."""
        self._configured.add(monitor)
        self._roster.add(monitor)
        if labels:
            self.labelled[monitor] = info_line(monitor, labels)
        else:
            self.labelled.pop(monitor, None)

    @property
    def configured(self) -> int:
        """How many monitors the configuration has (``tether_monitors``)."""
        return len(self._configured)

    def forget(self, monitor: str) -> None:
        """Drop every series of a monitor removed from the configuration (those of its
        locations are made at each scrape from the configuration: they go with it)."""
        self.checks.pop(monitor, None)
        self.up.pop(str(monitor), None)
        self.labelled.pop(monitor, None)
        self._configured.discard(monitor)
        self.down.discard(str(monitor))
        self._roster.drop(monitor)

    def watch_store(self, health: Callable[[], StoreHealth]) -> None:
        """Read the store's health at each scrape (``tether_store_*``)."""
        collector = _StoreCollector(health)
        self.registry.register(collector)
        self.collectors.append(collector)

    # -- scrapes -------------------------------------------------------------------------

    def whole(self, limit: int | None) -> bool:
        """Whether the default scrape carries each monitor's series: with at most
        ``limit`` monitors configured (None: always)."""
        return limit is None or self.configured <= limit

    def scope(self, scope: Scope) -> list[str]:
        """The monitors a scoped scrape of ``scope`` carries (on the event loop)."""
        return self._roster.scope(scope)

    def render(
        self,
        cluster: ClusterView,
        locations: Mapping[str, LocationsView] | None = None,
        probed: Container[str] | None = None,
        *,
        scoped: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> bytes:
        """The text Prometheus scrapes: the checks made here labelled with ``cluster.here``
        (only those of ``probed``, the monitors this instance probes now, when given: one
        whose shard moved to another instance is exported by that one), the monitors'
        ``locations`` (``Runner.locations``), and the instances when ``cluster`` has read
        them.  With ``scoped`` (:meth:`scope`'s), only the series of those monitors;
        without, the default scrape: the summary, and each monitor's series while at most
        ``limit`` monitors are configured (:meth:`whole`)."""
        whole = self.whole(limit)
        if scoped is None:
            self._tell_scoped(not whole, limit)
        now = self._wall()
        for channel, oldest in list(self._oldest.items()):
            self.alerts_oldest.labels(channel).set(0.0 if oldest is None else now - oldest)
        parts: list[bytes] = []
        lost = 0
        scrape = _Scrape(self, cluster, locations or {}, probed, scoped, whole)
        for source in scrape.sources():
            try:
                for metric in source():
                    if isinstance(metric, Written):
                        text, left_out = metric.text, metric.left_out
                    else:
                        text, left_out = family_text(metric)
                    parts.append(text)
                    if left_out:
                        lost += left_out
                        self._say(metric.name, f"{left_out} series left out")
            except Exception as exc:  # what the source gave before it raised is kept
                lost += 1
                self._say(getattr(source, "__qualname__", "a source"), f"{exc!r}")
        with self._render_lock:
            self._render_errors += lost
            total = self._render_errors
        if scoped is not None:  # the count is the default scrape's: once per instance
            return b"".join(parts)
        errors = CounterMetricFamily(
            "tether_metrics_render_errors",
            "Series (or sources of series) left out of a scrape: they could not be rendered",
            total,
        )
        parts.append(generate_latest(One(errors)))
        return b"".join(parts)

    def _tell_scoped(self, scoped: bool, limit: int | None) -> None:
        """Say, once each time it starts, that the default scrape leaves the monitors'
        series out."""
        if scoped and not self._scoped:
            log.warning(
                "metrics: %d monitors, more than server.metrics_monitor_limit (%s): the "
                "default /metrics carries their summary, each monitor's series are scraped "
                "with /metrics?shard=I&shards=N (docs/monitor.md, Prometheus metrics)",
                self.configured,
                limit,
                extra={"event": "metrics.scoped"},
            )
        self._scoped = scoped

    def _say(self, family: str, what: str) -> None:
        if family not in self._said:
            self._said.add(family)
            log.warning(
                "metrics: %s: %s; the rest is served (tether_metrics_render_errors_total "
                "counts each scrape's)",
                family,
                what,
                extra={"event": "metrics.render_error"},
            )
