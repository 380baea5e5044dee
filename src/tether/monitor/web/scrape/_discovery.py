"""What the pages and ``/metrics`` show of the ``discover:`` sources: a banner while one
fails, and three families per source::

    tether_discovery_targets{source}                       monitors it makes now
    tether_discovery_up{source}                            1 when its latest read succeeded
    tether_discovery_last_success_timestamp_seconds{source}  when a read last did
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from markupsafe import Markup
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tether._durations import human_duration
from tether._plural import count
from tether._redact import redact_text
from tether.monitor.engine._discovery import SourceStatus
from tether.monitor.web._html import EMPTY, render

__all__ = ["discovery_banner", "discovery_metrics"]


def discovery_banner(sources: Iterable[SourceStatus], now: float) -> Markup:
    """The banner every page shows while a discovery source fails: ``Discovery source
    inventory is failing: <error>; its last 12 monitors kept for 3 min 0 s``; empty while
    every source reads."""
    failing = [
        (
            s.name,
            None if s.error is None else redact_text(s.error),
            count(s.targets, "monitor"),
            None if s.failing_since is None else human_duration(now - s.failing_since),
        )
        for s in sources
        if s.error is not None
    ]
    if not failing:
        return EMPTY
    return render("banner_discovery.html", failing=failing) + Markup("\n")


class _Families(Collector):
    def __init__(self, sources: Sequence[SourceStatus]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        targets = GaugeMetricFamily(
            "tether_discovery_targets",
            "Monitors a discovery source makes now (those in their grace period too)",
            labels=["source"],
        )
        up = GaugeMetricFamily(
            "tether_discovery_up",
            "Whether a discovery source's latest read succeeded",
            labels=["source"],
        )
        last = GaugeMetricFamily(
            "tether_discovery_last_success_timestamp_seconds",
            "When a discovery source was last read successfully (Unix seconds)",
            labels=["source"],
        )
        for s in self._sources:
            targets.add_metric([s.name], s.targets)
            up.add_metric([s.name], 1.0 if s.up else 0.0)
            if s.last_success is not None:
                last.add_metric([s.name], s.last_success)
        yield targets
        yield up
        yield last


def discovery_metrics(sources: Sequence[SourceStatus]) -> bytes:
    """The ``tether_discovery_*`` families in Prometheus's text format (nothing when the
    file discovers nothing)."""
    if not sources:
        return b""
    return generate_latest(_Families(sources))
