"""Prometheus metrics and OpenTelemetry span events, when their libraries exist.

Metric names are stable and carry their unit:

    tether_retries_total{endpoint, kind}        counter
    tether_hedges_total{endpoint, trigger}      counter: trigger is "delay" (no answer in
                                                time) or the kind of the failure that sent it
    tether_give_ups_total{endpoint, kind}       counter
    tether_retry_delay_seconds                  histogram
    tether_breaker_state{endpoint}              gauge: 0 closed, 1 half-open, 2 open

and, with OpenTelemetry, every ended call (one per logical call, all attempts in it)
records the HTTP client semantic conventions' histogram

    http.client.request.duration (s){http.request.method, server.address, server.port,
                                     http.response.status_code, error.type}

where ``error.type`` is the tether kind (``connect.refused``, ``http.server_error``) of a
call that failed, and absent for one that succeeded.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tether._hostport import InvalidHostPort, split_hostport
from tether._log import logger

if TYPE_CHECKING:
    from tether._retry._record import CallRecord

_BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def prometheus() -> Callable[[str, Any], None] | None:
    if importlib.util.find_spec("prometheus_client") is None:
        return None
    import prometheus_client as prom

    retries = prom.Counter("tether_retries", "Retries scheduled by tether", ["endpoint", "kind"])
    hedges = prom.Counter(
        "tether_hedges", "Hedged attempts sent by tether", ["endpoint", "trigger"]
    )
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
        elif event == "hedge":
            trigger = "delay" if d.failure is None else d.failure.kind.value
            hedges.labels(d.endpoint, trigger).inc()
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


_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
"""The semantic conventions' advised boundaries for ``http.client.request.duration``."""


class Duration:
    """The call-duration sink and whether it is asleep: made on the API's default (proxy)
    meter before the application sets a MeterProvider, it would drop every record, so the
    registry of sinks leaves it out until it wakes (issue 46 §5: no record is built when
    no sink listens)."""

    __slots__ = ("_proxy", "sink")

    def __init__(self, sink: Callable[[CallRecord], None], proxy: Any) -> None:
        self.sink = sink
        self._proxy = proxy
        """The API's proxy histogram whose waking we are told of; None: always awake."""

    def asleep(self) -> bool:
        """Does the histogram still have no real instrument behind it?"""
        return self._proxy is not None and self._proxy._real_instrument is None


class _Waker:
    """Told, with the API's proxy instruments, that a MeterProvider was set."""

    __slots__ = ("_woken",)

    def __init__(self, woken: Callable[[], None]) -> None:
        self._woken = woken

    def on_meter_set(self, meter: Any) -> None:
        self._woken()


def call_duration(meter: Any = None, *, woken: Callable[[], None] | None = None) -> Duration | None:
    """A sink of ended calls recording ``http.client.request.duration`` with ``meter``
    (default: ``opentelemetry.metrics.get_meter("tether", version)``, a no-op until the
    application configures a MeterProvider); None without the OpenTelemetry API.

    ``woken``: called (under the API's lock: it must take none the API's callers hold)
    once a MeterProvider set later gives the proxy histogram a real instrument; the
    returned sink is :meth:`Duration.asleep` until then.  Without ``woken``, or where the
    API's proxy meter does not keep the list of instruments it tells, the sink is always
    awake and drops each record itself while the proxy has nothing behind it."""
    if meter is None:
        if importlib.util.find_spec("opentelemetry") is None:
            return None
        try:
            from opentelemetry import metrics
        except ImportError:  # a namespace package without the API
            return None
        from tether._version import __version__

        meter = metrics.get_meter("tether", __version__)
    described = {
        "unit": "s",
        "description": "Duration of HTTP client requests, all of tether's attempts included.",
    }
    try:
        histogram = meter.create_histogram(
            "http.client.request.duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            **described,
        )
    except TypeError:  # an API before 1.23 takes no advice on buckets
        histogram = meter.create_histogram("http.client.request.duration", **described)
    record = histogram.record
    # The API's proxy instrument, until the application sets a MeterProvider, drops every
    # measurement: see that first (a private attribute, read with a default, so that if
    # it goes, every call is recorded as before) rather than build attributes for nothing.
    proxy = histogram if hasattr(histogram, "_real_instrument") else None
    # Calls repeat the same few (method, endpoint, status, kind): build each attribute
    # set once.  Bounded, as endpoints may be many.
    attributes: dict[tuple[Any, ...], dict[str, str | int]] = {}
    warned = False

    def sink(r: CallRecord) -> None:
        nonlocal warned
        if proxy is not None and proxy._real_instrument is None:
            return
        key = (r.method, r.endpoint, r.status, r.kind)
        try:
            attrs = attributes.get(key)
            if attrs is None:
                if len(attributes) >= 4096:
                    attributes.clear()
                attrs = attributes[key] = _attributes(*key)
            record(r.seconds, attrs)
        except Exception:
            level = logging.DEBUG if warned else logging.WARNING
            warned = True
            logger.log(level, "tether: OpenTelemetry call metrics failed; ignored", exc_info=True)

    return Duration(sink, _told(meter, proxy, woken))


def _told(meter: Any, proxy: Any, woken: Callable[[], None] | None) -> Any:
    """``proxy`` once ``woken`` will be called when it gets a real instrument; None (always
    awake) where it cannot be: no ``woken``, no proxy, or an API whose proxy meter keeps
    no list of the instruments it tells (private attributes, read with defaults;
    tests/retry/test_private_seams.py names them)."""
    instruments = getattr(meter, "_instruments", None)
    lock = getattr(meter, "_lock", None)
    if woken is None or proxy is None or not isinstance(instruments, list) or lock is None:
        return None
    with lock:  # the lock under which the API tells its instruments of a new provider
        instruments.append(_Waker(woken))
    return proxy


def _attributes(method: str, endpoint: str, status: int | None, kind: Any) -> dict[str, str | int]:
    attrs: dict[str, str | int] = {}
    if method:  # a @tether.retry function has none
        attrs["http.request.method"] = method
    try:
        host, port = split_hostport(endpoint)
    except InvalidHostPort:  # a function's qualified name: no host to name
        pass
    else:
        attrs["server.address"] = host
        attrs["server.port"] = port
    if status is not None:
        attrs["http.response.status_code"] = status
    if kind is not None:
        attrs["error.type"] = str(kind.value)
    return attrs
