"""Prometheus metrics and OpenTelemetry span events, when their libraries exist.

Metric names are stable and carry their unit:

    tether_retries_total{endpoint, kind}        counter
    tether_give_ups_total{endpoint, kind}       counter
    tether_retry_delay_seconds                  histogram
    tether_breaker_state{endpoint}              gauge: 0 closed, 1 half-open, 2 open
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

_BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def prometheus() -> Callable[[str, Any], None] | None:
    if importlib.util.find_spec("prometheus_client") is None:
        return None
    import prometheus_client as prom

    retries = prom.Counter("tether_retries", "Retries scheduled by tether", ["endpoint", "kind"])
    give_ups = prom.Counter("tether_give_ups", "Calls tether gave up on", ["endpoint", "kind"])
    delays = prom.Histogram(
        "tether_retry_delay_seconds",
        "Backoff waits before retries",
        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    )
    breaker = prom.Gauge(
        "tether_breaker_state", "Circuit state: 0 closed, 1 half-open, 2 open", ["endpoint"]
    )

    def instrument(event: str, d: Any) -> None:
        if event == "retry":
            retries.labels(d.endpoint, d.failure.kind.value).inc()
            delays.observe(d.delay)
        elif event == "give_up":
            give_ups.labels(d.endpoint, d.failure.kind.value).inc()
        elif event == "breaker_change":
            breaker.labels(d.endpoint).set(_BREAKER_VALUES[d.new])

    return instrument


def opentelemetry() -> Callable[[str, Any], None] | None:
    if importlib.util.find_spec("opentelemetry") is None:
        return None
    try:
        from opentelemetry import trace
    except ImportError:  # a namespace package without the API
        return None

    def instrument(event: str, d: Any) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        attributes: dict[str, str | int | float] = {"tether.endpoint": d.endpoint}
        failure = getattr(d, "failure", None)
        if failure is not None:
            attributes["tether.kind"] = failure.kind.value
        for name in ("attempt", "attempts", "delay", "reason", "old", "new"):
            value = getattr(d, name, None)
            if value is not None:
                attributes[f"tether.{name}"] = value
        span.add_event(f"tether.{event}", attributes)

    return instrument
