"""The ``/probe`` answer's text: ``blackbox_probe`` writes it directly, and it stays the
text prometheus_client's ``generate_latest`` writes for the same gauges, byte for byte,
for real probes of the lab's scenarios and for values at the edges of the number format."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from tether.lab import Lab
from tether.monitor._metrics import blackbox_probe, phase_seconds
from tether.probe import ProbeOptions, ProbeResult, probe
from tether.probe._result import Phase


def registry_text(result: ProbeResult) -> bytes:
    """The answer as prometheus_client renders it: a registry of the five gauges."""
    registry = CollectorRegistry()
    ok = result.failure is None
    Gauge("probe_success", "Whether the probe succeeded", registry=registry).set(int(ok))
    Gauge("probe_duration_seconds", "Probe duration", registry=registry).set(
        sum(p.ms for p in result.phases) / 1000
    )
    phases = Gauge(
        "probe_http_duration_seconds", "Duration of each phase", ["phase"], registry=registry
    )
    for name, seconds in phase_seconds(result).items():
        phases.labels(name).set(seconds)
    http = result.phase("http")
    status: Any = http.details.get("status") if http else None
    Gauge("probe_http_status_code", "HTTP status code", registry=registry).set(status or 0)
    failure = Gauge(
        "probe_failure_info",
        "Why the probe failed: the tether kind and layer",
        ["kind", "layer"],
        registry=registry,
    )
    if result.failure is not None:
        failure.labels(result.failure.kind.value, result.failure.layer.value).set(1)
    return generate_latest(registry)


@pytest.mark.parametrize(
    "scenario", ["healthy", "refused", "tls_ok", "tls_expired", "http_404", "close_no_response"]
)
def test_a_real_probe_reads_as_prometheus_client_writes_it(lab: Lab, scenario: str) -> None:
    """Passing and failing probes, with and without TLS and a status, answer the same bytes
    as a registry of the same gauges."""
    result = probe(lab[scenario].url, ProbeOptions(timeout=2, deadline=4, cacert=lab.ca_file))
    assert blackbox_probe(result) == registry_text(result)


def test_numbers_at_the_edges_of_the_format_read_the_same() -> None:
    """Zero, tiny (exponent) and huge (Go's exponent) durations, and a status code, are
    written as prometheus_client writes them."""
    result = ProbeResult(
        "http://127.0.0.1:1/",
        (
            Phase("dns", True, 0.0),
            Phase("connect", True, 0.0123),
            Phase("tls", True, 12_345_678_901.0),
            Phase("http", True, 2.5, {"status": 204, "ttfb_ms": 2.5}),
        ),
        None,
    )
    text = blackbox_probe(result)
    assert text == registry_text(result)
    assert b'probe_http_duration_seconds{phase="tls"} 1.2345678901e+07\n' in text
