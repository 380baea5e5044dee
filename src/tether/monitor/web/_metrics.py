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
and nothing in it can raise.

The series of each monitor (``tether_monitor_up``, the per-check ones and
``tether_location_up``: tens of thousands of lines with as many monitors) are written out
here, in the text prometheus_client's ``generate_latest`` writes for the same families,
byte for byte (tests/monitor/web/test_metrics_text.py holds it to that): each monitor's
label value is escaped once, when it is first seen, ``tether_monitor_up``'s line when its
state changes, and its per-check lines at the first scrape after a check (kept between
scrapes: one in a wave writes those of the monitors checked since the last).  Sample objects
made, label names checked and values formatted again for every series cost about 80 µs a
monitor, a second of CPU per scrape at 20,000 monitors, held under the GIL while the checks
wait.  The other families are few and small, and go through prometheus_client.

    tether_monitor_up{monitor}                       1 up, 0 down: the cluster's state
    tether_monitor_labels{monitor, <its labels>}     1, for each monitor with labels
    tether_probe_success{monitor, location}          the last check: 1 passed, 0 failed
    tether_probe_duration_seconds{monitor, location}      the last check, all phases
    tether_probe_phase_seconds{monitor, location, phase}  the last check, per phase
    tether_probe_failures_total{monitor, location, kind}  failed checks, by failure kind
    tether_certificate_expiry_seconds{monitor, location}  until the leaf certificate expires
    tether_location_up{monitor, location}            what each location sees (several only)
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
    tether_agent_*{location}                         the agents' (web/_agent_metrics.py)

The traffic series are bounded whatever the reports say: 100 applications and 200
endpoints per application at most; the calls of any more count under ``other``
(:mod:`~tether.monitor.web._traffic_metrics` counts them).  ``/probe``'s answer, in
blackbox_exporter's series, is written by :mod:`~tether.monitor.web._probe_metrics`.

A scrape renders what it can: a series whose value no float holds (a count past 1.8e308)
or whose labels cannot be written is left out, and so is the rest of a source that
raises; each is counted in ``tether_metrics_render_errors_total`` (and logged once per
family), and every other series is served.  One bad series once made every scrape a
500, and Prometheus blind.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

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
from tether.monitor.engine._traffic import Call
from tether.monitor.store._base import StoreHealth
from tether.monitor.web._agent_metrics import AgentMetrics
from tether.monitor.web._traffic_metrics import TrafficMetrics

log = logging.getLogger("tether.monitor")


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


@dataclass(slots=True)
class _Last:
    """A monitor's last check at this instance, and its failures so far, by kind: the
    values of its per-check series."""

    label: str | None
    """The monitor's name as a label value, escaped (None: it cannot be written)."""
    success: int = 0
    duration: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    expiry: float | None = None
    failures: dict[str, list[float]] = field(default_factory=dict)
    """Each kind's count, and when it was first counted (the counter's ``_created``)."""
    version: int = 0
    """Counts the checks: the lines written for an older one are written again."""
    written: _Lines | None = None
    """Its lines as the last scrape wrote them."""


class _Scrape:
    """One scrape: the registry's series, then those labelled with what the runner says
    now (the location of the checks, the locations' states, the instances)."""

    def __init__(
        self,
        metrics: MonitorMetrics,
        cluster: ClusterView,
        locations: Mapping[str, LocationsView],
        probed: Container[str] | None,
    ) -> None:
        self._metrics = metrics
        self._cluster = cluster
        self._locations = locations
        self._probed = probed

    def sources(self) -> list[Callable[[], Iterable[Metric | _Written]]]:
        """Where the scrape's families come from, each read on its own: one that raises
        loses only the families it had not given yet."""
        return [
            self._up,
            *(c.collect for c in self._metrics.collectors),
            self._checks,
            self._places,
        ]

    def _up(self) -> Iterator[_Written]:
        lines = list(self._metrics.up.values())
        written = [line for line in lines if line is not None]
        yield _Written.of("tether_monitor_up", _UP_HEAD, written, len(lines) - len(written))
        labelled = list(self._metrics.labelled.values())
        if labelled:
            written = [line for line in labelled if line is not None]
            left_out = len(labelled) - len(written)
            yield _Written.of("tether_monitor_labels", _LABELS_HEAD, written, left_out)

    def _checks(self) -> Iterator[_Written]:
        """The per-check series, written out (:func:`_go_value`, :func:`label_value`): a
        series whose value or labels cannot be written is left out and counted."""
        here = label_value(self._cluster.here)
        success: list[str] = []
        duration: list[str] = []
        phase: list[str] = []
        total: list[str] = []
        created: list[str] = []
        expiry: list[str] = []
        lost = dict.fromkeys(_CHECK_FAMILIES, 0)
        names: dict[object, str | None] = {}
        """Phase and kind names escaped, each once a scrape."""
        for monitor, last in list(self._metrics.checks.items()):
            if self._probed is not None and monitor not in self._probed:
                continue  # moved to another instance of this location, which exports it
            # A monitor's lines are written again only after a check changed them (or
            # the location did): a scrape in a wave re-renders the monitors checked since
            # the last one, not every monitor.
            version = last.version
            kept = last.written
            if kept is None or kept.version != version or kept.here != here:
                kept = last.written = _lines(last, here, names, version)
                self._metrics.rendered += 1
            success.extend(kept.success)
            duration.extend(kept.duration)
            phase.extend(kept.phase)
            total.extend(kept.total)
            created.extend(kept.created)
            expiry.extend(kept.expiry)
            if kept.lost:
                for family, n in kept.lost:
                    lost[family] += n
        if created:  # the counters' _created samples: a gauge after them
            help_text = _CHECK_FAMILIES["tether_probe_failures"][1]
            total.append(_head("tether_probe_failures_created", help_text, "gauge"))
            total.extend(created)
        for (name, (kind, text)), lines in zip(
            _CHECK_FAMILIES.items(), (success, duration, phase, total, expiry), strict=True
        ):
            yield _Written.of(name, _head(_exposed(name, kind), text, kind), lines, lost[name])

    def _places(self) -> Iterator[Metric | _Written]:
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
        yield _Written.of("tether_location_up", _LOCATION_UP_HEAD, lines, lost)
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


@dataclass(frozen=True, slots=True)
class _Lines:
    """A monitor's lines of the per-check families as last written, for the check
    ``version`` it had and the location label ``here`` (:meth:`_Scrape._checks`)."""

    version: int
    here: str | None
    success: tuple[str, ...]
    duration: tuple[str, ...]
    phase: tuple[str, ...]
    total: tuple[str, ...]
    created: tuple[str, ...]
    expiry: tuple[str, ...]
    lost: tuple[tuple[str, int], ...]
    """The series of each family left out (and counted at each scrape)."""


def _escaped(names: dict[object, str | None], name: object) -> str | None:
    """``name`` as a label value (:func:`label_value`), escaped once a scrape."""
    if name in names:
        return names[name]
    value = names[name] = label_value(name)
    return value


def _lines(last: _Last, here: str | None, names: dict[object, str | None], version: int) -> _Lines:
    """A monitor's per-check series, written out (:func:`_go_value`,
    :func:`label_value`): a series whose value or labels cannot be written is left out
    and counted.  ``names``: phase and kind names escaped so far."""
    go = _go_value
    families: list[list[str]] = [[] for _ in range(6)]
    success, duration, phase, total, created, expiry = families
    lost = dict.fromkeys(_CHECK_FAMILIES, 0)
    phases = list(last.phases.items())
    failures = list(last.failures.items())
    if here is None or last.label is None:  # every series of it
        lost["tether_probe_success"] += 1
        lost["tether_probe_duration_seconds"] += 1
        lost["tether_probe_phase_seconds"] += len(phases)
        lost["tether_probe_failures"] += sum(1 + (c is not None) for _, (_, c) in failures)
        lost["tether_certificate_expiry_seconds"] += last.expiry is not None
    else:
        at = f'location="{here}",monitor="{last.label}"'
        try:
            success.append(f"tether_probe_success{{{at}}} {go(last.success)}\n")
        except Exception:  # left out and counted, as every other below
            lost["tether_probe_success"] += 1
        try:
            duration.append(f"tether_probe_duration_seconds{{{at}}} {go(last.duration)}\n")
        except Exception:
            lost["tether_probe_duration_seconds"] += 1
        for name, seconds in phases:
            p = _escaped(names, name)
            try:
                if p is None:
                    raise ValueError(name)
                phase.append(f'tether_probe_phase_seconds{{{at},phase="{p}"}} {go(seconds)}\n')
            except Exception:
                lost["tether_probe_phase_seconds"] += 1
        for kind, (n, since) in failures:
            k = _escaped(names, kind)
            try:
                if k is None:
                    raise ValueError(kind)
                total.append(f'tether_probe_failures_total{{kind="{k}",{at}}} {go(n)}\n')
            except Exception:
                lost["tether_probe_failures"] += 1
            if since is None:
                continue
            try:
                if k is None:
                    raise ValueError(kind)
                created.append(f'tether_probe_failures_created{{kind="{k}",{at}}} {go(since)}\n')
            except Exception:
                lost["tether_probe_failures"] += 1
        if last.expiry is not None:
            try:
                expiry.append(f"tether_certificate_expiry_seconds{{{at}}} {go(last.expiry)}\n")
            except Exception:
                lost["tether_certificate_expiry_seconds"] += 1
    return _Lines(
        version,
        here,
        tuple(success),
        tuple(duration),
        tuple(phase),
        tuple(total),
        tuple(created),
        tuple(expiry),
        tuple((family, n) for family, n in lost.items() if n),
    )


_CHECK_FAMILIES: Final = {
    "tether_probe_success": ("gauge", "1 if the last check passed"),
    "tether_probe_duration_seconds": ("gauge", "Duration of the last check"),
    "tether_probe_phase_seconds": (
        "gauge",
        "Duration of each phase of the last check (blackbox_exporter's phase names)",
    ),
    "tether_probe_failures": ("counter", "Failed checks by failure kind"),
    "tether_certificate_expiry_seconds": ("gauge", "Seconds until the leaf certificate expires"),
}
"""The per-check families, in their order: each one's type and help."""


def _exposed(name: str, kind: str) -> str:
    """The name a family is written under: a counter's with ``_total``."""
    return f"{name}_total" if kind == "counter" else name


def _head(name: str, text: str, kind: str) -> str:
    """A family's ``# HELP`` and ``# TYPE`` lines, as ``generate_latest`` writes them."""
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {text}\n# TYPE {name} {kind}\n"


_UP_HEAD: Final = _head("tether_monitor_up", "1 while the monitor is up", "gauge")
_LABELS_HEAD: Final = _head(
    "tether_monitor_labels",
    "1 for each monitor with labels: its labels, to join on the monitor label",
    "gauge",
)
_LOCATION_UP_HEAD: Final = _head(
    "tether_location_up",
    "What each location of a monitor of several sees: 1 up, 0 down (as tether_monitor_up); "
    "absent while it has no result there, has it paused, or has no live instance",
    "gauge",
)


@dataclass(frozen=True, slots=True)
class _Written:
    """A family written out here, and how many of its series were left out."""

    name: str
    text: bytes
    left_out: int

    @classmethod
    def of(cls, name: str, head: str, lines: list[str], left_out: int) -> _Written:
        return cls(name, (head + "".join(lines)).encode(), left_out)


def label_value(value: object) -> str | None:
    """``value`` as a label value in the text format (backslash, newline and double quote
    escaped, as ``generate_latest`` escapes them); None for what cannot be written: not
    text, or text UTF-8 cannot encode (a lone surrogate)."""
    if not isinstance(value, str):
        return None
    escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    try:
        escaped.encode()
    except UnicodeEncodeError:
        return None
    return escaped


def _info_line(monitor: str, labels: Mapping[str, str]) -> str | None:
    """``tether_monitor_labels{monitor="api",team="payments"} 1.0``, each value escaped
    once, the names sorted as ``generate_latest`` sorts them (None: one cannot be
    written)."""
    pairs = sorted({**labels, "monitor": monitor}.items())
    values = [label_value(value) for _, value in pairs]
    if None in values:
        return None
    body = ",".join(f'{name}="{value}"' for (name, _), value in zip(pairs, values, strict=True))
    return f"tether_monitor_labels{{{body}}} 1.0\n"


_INF: Final = math.inf


def _go_value(value: object) -> str:
    """A sample's value as ``generate_latest`` writes it (prometheus_client's
    ``floatToGoString``: ``1.0``, ``+Inf``, ``NaN``, ``1.5e+06``); raises for what no
    float holds (a count past 1.8e308, text that is not a number)."""
    f = float(value)  # type: ignore[arg-type]  # what it cannot take raises: left out
    s = repr(f)
    if f >= 1e6:  # Go writes an exponent from a million on, Python from 1e16
        if f == _INF:
            return "+Inf"
        dot = s.find(".")
        if dot > 6:
            mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
            return f"{mantissa}e+{dot - 1:02d}"
        return s
    if s[-1] > "9":  # inf or nan: every other repr ends with a digit
        return "-Inf" if f == -_INF else "NaN"
    return s


_SILENT: Final = frozenset({State.UNKNOWN, State.PAUSED})
"""Location states that say nothing of the target: no ``tether_location_up`` sample."""


class MonitorMetrics:
    def __init__(self, *, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._oldest: dict[str, float | None] = {}
        """Each channel seen, and when its oldest queued alert was queued (None: none
        waits); the age is set at each scrape."""
        self.checks: dict[str, _Last] = {}
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

    def traffic(self, app: str, calls: Iterable[Call], dropped: int) -> None:
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
            last = self.checks[record.monitor] = _Last(label_value(record.monitor))
        last.version += 1
        last.success = 1 if record.ok else 0
        last.duration = (record.latency_ms or 0.0) / 1000
        last.phases.update(timings)
        if not record.ok:
            kind = record.kind.value if record.kind is not None else "condition"
            counted = last.failures.get(kind)
            if counted is None:
                last.failures[kind] = [1.0, self._wall()]
            else:
                counted[0] += 1
        if days_left is not None:
            last.expiry = days_left * 86400.0

    def state(self, monitor: str, up: bool) -> None:
        """The monitor's state for the cluster changed (``tether_monitor_up``)."""
        name = str(monitor)  # as prometheus_client's labels() took it
        label = label_value(name)
        self.up[name] = (
            None if label is None else f'tether_monitor_up{{monitor="{label}"}} {float(up)!r}\n'
        )

    def labels(self, monitors: Mapping[str, Mapping[str, str]]) -> None:
        """The monitors' labels, as the configuration (or a reload) now says: one info
        line for each that has any, ``monitor`` among its labels."""
        self.labelled = {}
        for monitor, labels in monitors.items():
            if labels:
                self.labelled[monitor] = _info_line(monitor, labels)

    def label(self, monitor: str, labels: Mapping[str, str]) -> None:
        """One monitor's labels now (none: its info line goes), the others' as they are
        (a change of the monitor set)."""
        if labels:
            self.labelled[monitor] = _info_line(monitor, labels)
        else:
            self.labelled.pop(monitor, None)

    def forget(self, monitor: str) -> None:
        """Drop every series of a monitor removed from the configuration (those of its
        locations are made at each scrape from the configuration: they go with it)."""
        self.checks.pop(monitor, None)
        self.up.pop(str(monitor), None)

    def watch_store(self, health: Callable[[], StoreHealth]) -> None:
        """Read the store's health at each scrape (``tether_store_*``)."""
        collector = _StoreCollector(health)
        self.registry.register(collector)
        self.collectors.append(collector)

    def render(
        self,
        cluster: ClusterView,
        locations: Mapping[str, LocationsView] | None = None,
        probed: Container[str] | None = None,
    ) -> bytes:
        """The text Prometheus scrapes: the checks made here labelled with ``cluster.here``
        (only those of ``probed``, the monitors this instance probes now, when given: one
        whose shard moved to another instance is exported by that one), the monitors'
        ``locations`` (``Runner.locations``), and the instances
        when ``cluster`` has read them."""
        now = self._wall()
        for channel, oldest in list(self._oldest.items()):
            self.alerts_oldest.labels(channel).set(0.0 if oldest is None else now - oldest)
        parts: list[bytes] = []
        lost = 0
        for source in _Scrape(self, cluster, locations or {}, probed).sources():
            try:
                for metric in source():
                    if isinstance(metric, _Written):
                        text, left_out = metric.text, metric.left_out
                    else:
                        text, left_out = _family_text(metric)
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
        errors = CounterMetricFamily(
            "tether_metrics_render_errors",
            "Series (or sources of series) left out of a scrape: they could not be rendered",
            total,
        )
        parts.append(generate_latest(_One(errors)))
        return b"".join(parts)

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


class _One(Collector):
    """One family, as ``generate_latest`` takes it."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self._metric


def _family_text(metric: Metric) -> tuple[bytes, int]:
    """``metric`` in the text format, and how many of its samples were left out because
    they could not be written (a value no float holds, a label that is not text)."""
    try:
        return generate_latest(_One(metric)), 0
    except Exception:  # which sample, and why, is found below
        pass

    def alone(samples: list[Any]) -> Metric:
        copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
        copy.samples = samples
        return copy

    kept = []
    for sample in metric.samples:
        try:
            generate_latest(_One(alone([sample])))
        except Exception:  # left out and counted
            continue
        kept.append(sample)
    try:
        return generate_latest(_One(alone(kept))), len(metric.samples) - len(kept)
    except Exception:  # samples that render alone but not together
        return b"", len(metric.samples)
