"""The calls applications report (``/api/report``), counted as they come and exported
as the ``tether_traffic_*`` families when scraped; bounded whatever the reports say."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from prometheus_client.core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from tether.monitor.engine._traffic import TrafficCall

TRAFFIC_APPS: Final = 100
"""Applications with series of their own; the calls of any more count under ``other``."""
TRAFFIC_ENDPOINTS: Final = 200
"""Endpoints of one application with series of their own; the rest count under ``other``."""
TRAFFIC_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""``tether_traffic_latency_seconds``'s bounds: Prometheus's default ones."""


@dataclass(slots=True)
class _Latency:
    buckets: list[int] = field(default_factory=lambda: [0] * (len(TRAFFIC_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0


class TrafficMetrics(Collector):
    """The reported calls, counted as they come and labelled when scraped."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], _Latency] = {}
        self.dropped: dict[str, int] = {}
        self.retries: dict[tuple[str, str], int] = {}
        self._endpoints: dict[str, set[str]] = {}

    def _label(self, app: str, endpoint: str) -> tuple[str, str]:
        seen = self._endpoints.get(app)
        if seen is None:
            if len(self._endpoints) >= TRAFFIC_APPS:
                app, endpoint = "other", "other"
                seen = self._endpoints.setdefault(app, set())
            else:
                seen = self._endpoints[app] = set()
        if endpoint not in seen:
            if len(seen) >= TRAFFIC_ENDPOINTS:
                return app, "other"
            seen.add(endpoint)
        return app, endpoint

    def count(self, app: str, calls: Iterable[TrafficCall], dropped: int) -> None:
        if dropped:
            self.dropped[app] = self.dropped.get(app, 0) + dropped
        labels: dict[str, tuple[str, str]] = {}
        for call in calls:
            label = labels.get(call.endpoint)
            if label is None:
                label = labels[call.endpoint] = self._label(app, call.endpoint)
            key = (*label, call.kind or "")
            self.calls[key] = self.calls.get(key, 0) + 1
            latency = self.latency.get(label)
            if latency is None:
                latency = self.latency[label] = _Latency()
            seconds = call.ms / 1000
            latency.buckets[bisect.bisect_left(TRAFFIC_BUCKETS, seconds)] += 1
            latency.total += seconds
            latency.count += 1
            if call.attempts > 1:
                self.retries[label] = self.retries.get(label, 0) + call.attempts - 1

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "tether_traffic_calls",
            "Calls applications reported, by endpoint and failure kind (empty: a success)",
            labels=["app", "endpoint", "kind"],
        )
        for (app, endpoint, kind), n in sorted(self.calls.items()):
            calls.add_metric([app, endpoint, kind], n)
        yield calls
        latency = HistogramMetricFamily(
            "tether_traffic_latency_seconds",
            "The reported calls' latency, every attempt included",
            labels=["app", "endpoint"],
        )
        for (app, endpoint), hist in sorted(self.latency.items()):
            cumulative, running = [], 0
            for bound, n in zip((*TRAFFIC_BUCKETS, math.inf), hist.buckets, strict=True):
                running += n
                cumulative.append((floatToGoString(bound), float(running)))  # type: ignore[no-untyped-call]
            latency.add_metric([app, endpoint], cumulative, hist.total)
        yield latency
        retries = CounterMetricFamily(
            "tether_traffic_retries",
            "The reported calls' attempts after their first: what their retries hid",
            labels=["app", "endpoint"],
        )
        for (app, endpoint), n in sorted(self.retries.items()):
            retries.add_metric([app, endpoint], n)
        yield retries
        dropped = CounterMetricFamily(
            "tether_traffic_dropped",
            "Calls an application's client dropped before it could report them",
            labels=["app"],
        )
        for app, n in sorted(self.dropped.items()):
            dropped.add_metric([app], n)
        yield dropped
