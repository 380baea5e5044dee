"""The ``/probe`` answer's text: ``blackbox_probe`` writes it directly, and it stays the
text prometheus_client's ``generate_latest`` writes for the same gauges, byte for byte,
for real probes of the lab's scenarios and for values at the edges of the number format.
Durations are to the nanosecond, as blackbox_exporter's (Go's) are."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.utils import floatToGoString

from tether.lab import Lab
from tether.monitor.checks._blackbox import phase_seconds
from tether.monitor.web.scrape._probe_metrics import _number, _seconds, blackbox_probe
from tether.probe import HttpDetails, Phase, ProbeOptions, ProbeResult, Response, probe


def ns(seconds: float) -> float:
    """``seconds`` to the nanosecond: the value of a duration in the answer."""
    return float(f"{seconds:.9f}")


def registry_text(result: ProbeResult) -> bytes:
    """The answer of an http module as prometheus_client renders it: a registry of the same
    gauges, each value read off the result's phases here."""
    registry = CollectorRegistry()

    def gauge(name: str, text: str, value: float | None, labels: Any = None) -> Gauge:
        g = Gauge(name, text, list(labels or ()), registry=registry)
        if value is not None:
            g.set(value)
        return g

    ok = result.failure is None
    gauge("probe_success", "Whether the probe succeeded", int(ok))
    gauge("probe_duration_seconds", "Probe duration", ns(sum(p.ms for p in result.phases) / 1000))
    dns, connect = result.phase("dns"), result.phase("connect")
    # The details as diagnose --json gives them: the reference reads none of the types.
    lookup = dns.ms / 1000 if dns is not None and "skipped" not in dns.details.to_json() else 0.0
    gauge("probe_dns_lookup_time_seconds", "Time taken for the probe's DNS lookup", ns(lookup))
    if connect is not None and connect.details.to_json().get("address"):
        six = ":" in connect.details.to_json()["address"]
        gauge("probe_ip_protocol", "The IP protocol of the probe (4 or 6)", 6 if six else 4)
    phases = gauge("probe_http_duration_seconds", "Duration of each phase", None, ["phase"])
    for name, seconds in phase_seconds(result).items():
        phases.labels(name).set(ns(seconds))
    http = result.phase("http")
    details: dict[str, Any] = http.details.to_json() if http else {}
    gauge("probe_http_status_code", "HTTP status code", details.get("status") or 0)
    gauge(
        "probe_http_content_length",
        "Length of the response body as its Content-Length says (-1: none said)",
        details.get("expected_size", -1) if http else 0,
    )
    gauge(
        "probe_http_uncompressed_body_length",
        "Length of the response body read",
        details.get("size") or 0,
    )
    gauge("probe_http_redirects", "Redirects followed", 0)
    tls = result.phase("tls")
    https = result.target.startswith("https://") and tls is not None
    gauge("probe_http_ssl", "Whether TLS was used for the final response", int(https))
    version = details.get("version")
    gauge(
        "probe_http_version",
        "The response's HTTP version",
        {"HTTP/1.1": 1.1, "HTTP/1.0": 1.0}.get(str(version), 0),
    )
    shown = tls.details.to_json() if tls is not None else {}
    if shown.get("chain"):
        ends = [dt.datetime.fromisoformat(c["not_after"]).timestamp() for c in shown["chain"]]
        gauge(
            "probe_ssl_earliest_cert_expiry",
            "When the first certificate of the chain to expire expires (Unix time)",
            min(ends),
        )
        info = gauge(
            "probe_tls_version_info", "The TLS version of the connection", None, ["version"]
        )
        info.labels(shown["version"].replace("TLSv", "TLS ")).set(1)
    failure = gauge(
        "probe_failure_info",
        "Why the probe failed: the tether kind and layer",
        None,
        ["kind", "layer"],
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
            Phase("http", True, 2.5, HttpDetails("GET", Response(204, 0, ttfb_ms=2.5))),
        ),
        None,
    )
    text = blackbox_probe(result)
    assert text == registry_text(result)
    assert b'probe_http_duration_seconds{phase="tls"} 1.2345678901e+07\n' in text


@given(st.one_of(st.floats(), st.integers(-(10**7), 10**7), st.booleans()))
def test_every_value_is_written_as_prometheus_client_writes_it(value: float) -> None:
    """The short cuts for whole numbers and floats below a million in size write what
    prometheus_client's floatToGoString writes, for any float (NaN, infinities, -0.0,
    Go's exponents) or integer."""
    assert _number(value) == floatToGoString(value)


@given(
    st.one_of(
        st.floats(),
        st.floats(0, 1e-4),
        st.floats(1e-4, 1e6),
        st.integers(0, 10**15).map(lambda n: n / 1e9),
        st.sampled_from([5e-10, 1e-4, 99999.9999999995, 999999.9999999999, 1e6, -0.0]),
    )
)
def test_a_duration_is_written_to_the_nanosecond_as_prometheus_client_writes_it(
    seconds: float,
) -> None:
    """A duration's text, written from its nine decimal places rather than by ``repr``, is
    floatToGoString's text of the duration to the nanosecond (below a million seconds in
    size; beyond, and NaN and the infinities, of the value as it is)."""
    value = float(f"{seconds:.9f}") if -1e6 < seconds < 1e6 else seconds
    assert _seconds(seconds) == floatToGoString(value)
    assert _seconds(seconds) == floatToGoString(value)  # the second time from what was kept


def test_the_durations_of_an_answer_are_to_the_nanosecond() -> None:
    """A probe's measured times (floats of 17 digits) are answered to the nanosecond, as
    blackbox_exporter answers them, and the phases with them."""
    result = ProbeResult(
        "http://127.0.0.1:1/",
        (
            Phase("dns", True, 0.004567891234),
            Phase("connect", True, 0.123456789012),
            Phase("http", True, 2.5, HttpDetails("GET", Response(200, 3, ttfb_ms=1.0000004))),
        ),
        None,
    )
    text = blackbox_probe(result).decode()
    assert "\nprobe_dns_lookup_time_seconds 4.568e-06\n" in text
    assert '\nprobe_http_duration_seconds{phase="resolve"} 4.568e-06\n' in text
    assert '\nprobe_http_duration_seconds{phase="connect"} 0.000123457\n' in text
    assert '\nprobe_http_duration_seconds{phase="processing"} 0.001\n' in text
    assert '\nprobe_http_duration_seconds{phase="transfer"} 0.0015\n' in text
    assert "\nprobe_duration_seconds 0.002628025\n" in text
