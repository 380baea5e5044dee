"""The built-in instruments, fed by real calls to the fault lab: logging, Prometheus, OTel.

Prometheus metrics live in ``prometheus_client``'s default registry, which
other tests also feed, so each test compares a sample before and after its
own calls.  Span events go to a real SDK ``TracerProvider`` with an in-memory
exporter; its tracer's span is made current for the call, which is all
tether's instrument looks at (``trace.get_current_span()`` at event time),
so the global provider is left alone and test order does not matter.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

import tether
from tests.helpers.fakes import FakeClock
from tether.lab import Lab


def quiet_policy(**changes: Any) -> tether.RetryPolicy:
    """A policy with a fake clock that reports only retries and give-ups."""
    clock = FakeClock()
    defaults: dict[str, Any] = {"breaker": None, "budget": None, "unhealthy_after": 100}
    return tether.RetryPolicy(clock=clock, sleep=clock.sleep, **{**defaults, **changes})


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    """A sample of the default registry, 0 where none was recorded yet."""
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def fail_refused(lab: Lab, policy: tether.RetryPolicy, url: str | None = None) -> None:
    with tether.Session(policy=policy) as session, pytest.raises(requests.ConnectionError):
        session.get(url or lab["refused"].url)


def fresh_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter: Prometheus' registry and tether's instruments are
    made once per process, so a test of their first use needs a process of its own."""
    src = str(Path(tether.__file__).parent.parent)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": src},
    )


# Each call to the lab's /503 retries once and gives up: two events, no real sleep.
_CALL = """
import tether

def call(url):
    policy = tether.RetryPolicy(attempts=2, sleep=[].append, breaker=None, budget=None)
    with tether.Session(policy=policy) as session:
        return session.get(url).status_code
"""


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


# -- logging ---------------------------------------------------------------------


def test_log_lines_one_info_per_retry_one_warning_per_give_up(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    """Logger "tether" says INFO for each retry and WARNING once when it gives up, redacted."""
    caplog.set_level(logging.INFO, logger="tether")
    url = lab["refused"].url.replace("http://", "http://bob:hunter2@")
    fail_refused(lab, quiet_policy(), url)
    records = [r for r in caplog.records if r.name == "tether"]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO, logging.WARNING]
    shown = f"GET http://bob:***@127.0.0.1:{lab['refused'].port}/"
    assert records[0].getMessage().startswith(f"retrying {shown} in ")
    assert "after attempt 1: connect.refused" in records[0].getMessage()
    assert "after attempt 2: connect.refused" in records[1].getMessage()
    assert records[2].getMessage().startswith(f"giving up on {shown} after 3 attempts in ")
    assert all("hunter2" not in r.getMessage() for r in records)


def test_a_raising_hook_is_logged_and_ignored(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    """A user hook that raises changes nothing about the call; the error is logged."""

    def broken(details: object) -> None:
        raise RuntimeError("hook bug")

    fail_refused(lab, quiet_policy(on_retry=broken))
    errors = [r for r in caplog.records if r.name == "tether" and r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["tether: the retry hook raised; ignored"] * 2


_LOGGING_LEFT_ALONE = (
    """
import json, logging, sys

def configured():
    # Each tether logger with a handler, a level, or propagation turned off.
    out = {}
    for name, logger in logging.root.manager.loggerDict.items():
        if name.split(".")[0] == "tether" and isinstance(logger, logging.Logger):
            state = [type(h).__name__ for h in logger.handlers]
            if state or logger.level or not logger.propagate:
                out[name] = [*state, logging.getLevelName(logger.level), logger.propagate]
    return out

logging.basicConfig(format="app: %(name)s %(levelname)s %(message)s")
root = (list(logging.root.handlers), logging.root.level)
snapshots = {"before": configured()}
import tether
snapshots["import"] = configured()
handlers = list(logging.getLogger("tether").handlers)
"""
    + _CALL.replace("import tether\n", "")
    + """
call(sys.argv[1])
from tether.monitor import channels_for, parse_config
config = parse_config(
    "alerts: [{name: ops, type: webhook, url: 'http://127.0.0.1:9/hook'}]\\n"
    "monitors: [{name: api, url: 'http://127.0.0.1:9/', alerts: [ops]}]\\n"
)
channels_for(config)
snapshots["use"] = configured()
assert logging.getLogger("tether").handlers == handlers
assert (list(logging.root.handlers), logging.root.level) == root
print(json.dumps(snapshots))
"""
)


def test_tether_adds_one_null_handler_at_import_and_changes_no_logging_after(lab: Lab) -> None:
    """`import tether` gives the tether logger a NullHandler and nothing else; a retrying
    Session call and a webhook channel later add no handler or level to any logger, leave
    the application's root set-up alone, and tether's give-up reaches it by propagation."""
    run = fresh_python(_LOGGING_LEFT_ALONE, f"http://127.0.0.1:{lab['http_404'].port}/503")
    assert run.returncode == 0, run.stderr
    snapshots = json.loads(run.stdout)
    assert snapshots["before"] == {}
    assert snapshots["import"] == {"tether": ["NullHandler", "NOTSET", True]}
    assert snapshots["use"] == {"tether": ["NullHandler", "NOTSET", True]}
    assert "app: tether WARNING giving up on GET http://127.0.0.1:" in run.stderr


# -- Prometheus --------------------------------------------------------------------


def test_prometheus_counts_retries_and_give_ups_exactly(lab: Lab) -> None:
    """tether_retries_total grows by the retries made, tether_give_ups_total by one per call."""
    labels = {"endpoint": f"127.0.0.1:{lab['refused'].port}", "kind": "connect.refused"}
    retries = sample("tether_retries_total", labels)
    give_ups = sample("tether_give_ups_total", labels)
    delays = sample("tether_retry_delay_seconds_count")
    fail_refused(lab, quiet_policy())
    fail_refused(lab, quiet_policy(attempts=4))
    assert sample("tether_retries_total", labels) - retries == 2 + 3
    assert sample("tether_give_ups_total", labels) - give_ups == 2
    assert sample("tether_retry_delay_seconds_count") - delays == 5


def test_prometheus_breaker_state_gauge(lab: Lab) -> None:
    """tether_breaker_state reads 2 while the circuit is open and 0 once a trial closed it."""
    clock = FakeClock()
    policy = tether.RetryPolicy(
        clock=clock,
        sleep=clock.sleep,
        budget=None,
        breaker=tether.Breaker(failures=2, cooldown=5),
    )
    # "localhost" makes an endpoint key of its own, which no other test touches.
    port = lab["http_404"].port
    base = f"http://localhost:{port}"
    endpoint = {"endpoint": f"localhost:{port}"}
    assert REGISTRY.get_sample_value("tether_breaker_state", endpoint) is None
    with tether.Session(policy=policy) as session:
        assert session.get(base + "/503").status_code == 503
        assert sample("tether_breaker_state", endpoint) == 2
        clock.now += 5
        assert session.get(base + "/200").status_code == 200
    assert sample("tether_breaker_state", endpoint) == 0
    assert session.guard.breaker_state(base) is tether.BreakerState.CLOSED


# -- OpenTelemetry -----------------------------------------------------------------


def test_span_events_for_retries_and_the_give_up(
    lab: Lab, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """Under an active span, each retry and the give-up become span events with attributes."""
    provider, exporter = spans
    with provider.get_tracer("test").start_as_current_span("checkout"):
        fail_refused(lab, quiet_policy())
    [span] = exporter.get_finished_spans()
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert [name for name, _ in events] == ["tether.retry", "tether.retry", "tether.give_up"]
    endpoint = f"127.0.0.1:{lab['refused'].port}"
    for attempt, (_, attributes) in enumerate(events[:2], start=1):
        assert attributes["tether.endpoint"] == endpoint
        assert attributes["tether.kind"] == "connect.refused"
        assert attributes["tether.attempt"] == attempt
        assert isinstance(attributes["tether.delay"], float)
    give_up = events[2][1]
    assert give_up["tether.attempts"] == 3
    assert give_up["tether.reason"] == "every attempt it could make failed"


def test_no_span_no_events(lab: Lab, spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    """Without a recording span current, the call still works and nothing is recorded."""
    provider, exporter = spans
    fail_refused(lab, quiet_policy())
    with provider.get_tracer("test").start_as_current_span("idle"):
        pass
    [span] = exporter.get_finished_spans()
    assert span.events == ()


def test_breaker_change_is_a_span_event(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """The circuit opening during a traced call shows as a tether.breaker_change event."""
    provider, exporter = spans
    with socket.socket() as port:
        port.bind(("127.0.0.1", 0))  # bound, not listening: refuses
        url = f"http://127.0.0.1:{port.getsockname()[1]}/"
        policy = quiet_policy(breaker=tether.Breaker(failures=2, cooldown=5))
        with (
            provider.get_tracer("test").start_as_current_span("call"),
            tether.Session(policy=policy) as session,
            pytest.raises(requests.ConnectionError),
        ):
            session.get(url)
    [span] = exporter.get_finished_spans()
    changes = [dict(e.attributes or {}) for e in span.events if e.name == "tether.breaker_change"]
    assert [(c["tether.old"], c["tether.new"]) for c in changes] == [("closed", "open")]


# -- under concurrency, and when an instrument breaks ------------------------------

_FIRST_CALLS_TOGETHER = (
    _CALL
    + """
import json, sys, threading
from prometheus_client import REGISTRY

url, threads = sys.argv[1], int(sys.argv[2])
start = threading.Barrier(threads)
results = []

def first_call():
    start.wait()
    try:
        results.append(call(url))
    except Exception as exc:
        results.append(repr(exc))

workers = [threading.Thread(target=first_call) for _ in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
families = [m for m in REGISTRY.collect() if m.name.startswith("tether_")]
retries = next(m for m in families if m.name == "tether_retries")
print(json.dumps({
    "results": results,
    "families": sorted(m.name for m in families),
    "retries": sum(s.value for s in retries.samples if s.name == "tether_retries_total"),
}))
"""
)


def test_sixteen_threads_making_their_first_call_together_all_succeed(lab: Lab) -> None:
    """16 threads released at once, each making its process's first retrying call, all get
    their answer, and Prometheus holds one set of tether's series counting every retry."""
    url = f"http://127.0.0.1:{lab['http_404'].port}/503"
    run = fresh_python(_FIRST_CALLS_TOGETHER, url, "16")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["results"] == [503] * 16
    assert out["families"] == [
        "tether_breaker_state",
        "tether_give_ups",
        "tether_hedges",
        "tether_retries",
        "tether_retry_delay_seconds",
    ]
    assert out["retries"] == 16


_NAME_TAKEN = (
    _CALL
    + """
import logging, sys
import prometheus_client

logging.basicConfig(format="%(levelname)s %(message)s")
prometheus_client.Counter("tether_retries", "the application's own metric of that name")
print(call(sys.argv[1]), call(sys.argv[1]))
"""
)


def test_instruments_that_cannot_be_made_do_not_fail_calls(lab: Lab) -> None:
    """An application that registered a metric named like tether's still gets its answers;
    tether says once, as a warning, that it goes on without Prometheus."""
    run = fresh_python(_NAME_TAKEN, f"http://127.0.0.1:{lab['http_404'].port}/503")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["503", "503"]
    lines = [line for line in run.stderr.splitlines() if "instrumentation" in line]
    assert lines == [
        "WARNING tether: Prometheus instrumentation could not be set up; calls go on without it"
    ]


_BROKEN_SPAN = (
    _CALL
    + """
import logging, sys
from opentelemetry import trace

# A span from a tracing backend with a bug: it records, but add_event raises.
class BrokenSpan(trace.NonRecordingSpan):
    def is_recording(self):
        return True

    def add_event(self, name, attributes=None, timestamp=None):
        raise RuntimeError("exporter bug")

logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
with trace.use_span(BrokenSpan(trace.INVALID_SPAN_CONTEXT)):
    print(call(sys.argv[1]), call(sys.argv[1]))
"""
)


def test_an_instrument_that_raises_does_not_fail_calls(lab: Lab) -> None:
    """OpenTelemetry raising on every event changes no answer; the first error is a warning
    with its traceback, the rest are debug lines."""
    run = fresh_python(_BROKEN_SPAN, f"http://127.0.0.1:{lab['http_404'].port}/503")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["503", "503"]
    failed = [
        line.split(" tether ", 1)
        for line in run.stderr.splitlines()
        if "instrumentation failed" in line
    ]
    assert failed == [
        ["WARNING", "tether: OpenTelemetry instrumentation failed on retry; ignored"],
        ["DEBUG", "tether: OpenTelemetry instrumentation failed on give_up; ignored"],
        ["DEBUG", "tether: OpenTelemetry instrumentation failed on retry; ignored"],
        ["DEBUG", "tether: OpenTelemetry instrumentation failed on give_up; ignored"],
    ]
    assert run.stderr.count("RuntimeError: exporter bug") == 4
