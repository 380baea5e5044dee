"""One probe's answer to ``/probe``, in blackbox_exporter's text format: the series of
the module's prober, the TLS ones, and tether's ``probe_failure_info``."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.utils import floatToGoString

from tether.monitor.checks._blackbox import ModuleProbe, phase_seconds
from tether.probe import (
    ConnectDetails,
    DnsQueryDetails,
    GrpcDetails,
    HttpDetails,
    IcmpDetails,
    Phase,
    ProbeResult,
    Skipped,
    TlsDetails,
)

_go_float: Callable[[float], str] = floatToGoString
"""How prometheus_client writes a sample's value (``1.0``, ``2.5e-05``)."""
_HEADS: dict[str, str] = {}
"""Each gauge's ``# HELP`` and ``# TYPE`` lines, written once (a gauge's name has one text)."""


def _number(value: float) -> str:
    """:data:`_go_float`'s text, without its work for a small whole number (most of an
    answer's values: a status, a count, a flag), whose text is ``repr(float(value))``."""
    if value.__class__ is int and -1_000_000 < value < 1_000_000:
        return f"{value}.0"
    return _go_float(value)


def _phases(result: ProbeResult) -> dict[str, Phase]:
    """``result``'s phases by name, the first of each name (as ``ProbeResult.phase``)."""
    found: dict[str, Phase] = {}
    for p in result.phases:
        if p.name not in found:
            found[p.name] = p
    return found


def blackbox_probe(answer: ModuleProbe | ProbeResult) -> bytes:
    """One probe in blackbox_exporter's ``/probe`` format, plus the failure kind.

    The series are blackbox_exporter's for the module's prober (an http probe's
    ``probe_http_*``; a tcp or dns probe has none of them), with ``probe_ssl_*`` and
    ``probe_tls_version_info`` when a TLS handshake was made, and tether's
    ``probe_failure_info{kind, layer}``.  A bare ``ProbeResult`` is an http module's.

    Written out here, in the text prometheus_client's ``generate_latest`` writes for the
    same gauges (tests/monitor/web/test_probe_answer.py holds it to that): a registry and its metric
    objects made for each request cost more than the rest of the answer.  Every label
    value is a fixed phase name, a kind's and layer's code or a TLS version, which need no
    escaping."""
    if isinstance(answer, ProbeResult):
        f = answer.failure
        answer = ModuleProbe("http", answer, None if f is None else (f.kind.value, f.layer.value))
    result = answer.result
    lines: list[str] = []
    phases = _phases(result)

    def gauge(name: str, text: str, *samples: tuple[str, float]) -> None:
        head = _HEADS.get(name)
        if head is None:
            head = _HEADS[name] = f"# HELP {name} {text}\n# TYPE {name} gauge\n"
        lines.append(head)
        for labels, value in samples:
            lines.append(f"{name}{labels} {_number(value)}\n")

    gauge("probe_success", "Whether the probe succeeded", ("", int(answer.failure is None)))
    gauge(
        "probe_duration_seconds",
        "Probe duration",
        ("", sum(p.ms for p in result.phases) / 1000),
    )
    dns = phases.get("dns")
    connect = phases.get("connect")
    if answer.prober == "dns":
        # The server is an address: nothing to look up; its family is the protocol.
        lookup = 0.0
        asked = dns.details if dns is not None else None
        address = asked.address if isinstance(asked, DnsQueryDetails) else ""
    else:
        lookup = dns.ms / 1000 if dns is not None and not isinstance(dns.details, Skipped) else 0.0
        reached = connect.details if connect is not None else None
        address = (reached.address or "") if isinstance(reached, ConnectDetails) else ""
        icmp = phases.get("icmp")
        if icmp is not None:
            echoes = icmp.details
            address = (echoes.address or "") if isinstance(echoes, IcmpDetails) else ""
    gauge("probe_dns_lookup_time_seconds", "Time taken for the probe's DNS lookup", ("", lookup))
    if address:
        gauge(
            "probe_ip_protocol",
            "The IP protocol of the probe (4 or 6)",
            ("", 6 if ":" in address else 4),
        )
    if answer.prober == "http":
        _http_series(result, phases, gauge)
    elif answer.prober == "icmp":
        _icmp_series(phases, gauge)
    elif answer.prober == "grpc":
        _grpc_series(result, phases, gauge)
    elif answer.prober == "dns" and answer.dns is not None:
        gauge("probe_dns_answer_rrs", "Records in the answer section", ("", answer.dns.answer))
        gauge(
            "probe_dns_authority_rrs",
            "Records in the authority section",
            ("", answer.dns.authority),
        )
        gauge(
            "probe_dns_additional_rrs",
            "Records in the additional section",
            ("", answer.dns.additional),
        )
    if answer.prober == "dns":
        gauge(
            "probe_dns_query_succeeded",
            "Whether the DNS server answered",
            ("", int(dns is not None and dns.failure is None)),
        )
    _tls_series(phases, gauge)
    gauge(
        "probe_failure_info",
        "Why the probe failed: the tether kind and layer",
        *(
            [(f'{{kind="{answer.failure[0]}",layer="{answer.failure[1]}"}}', 1)]
            if answer.failure is not None
            else []
        ),
    )
    return "".join(lines).encode()


_Gauge = Callable[..., None]


def _http_series(result: ProbeResult, phases: dict[str, Phase], gauge: _Gauge) -> None:
    http = phases.get("http")
    details = http.details if http is not None else None
    response = details.response if isinstance(details, HttpDetails) else None
    hops = details.redirects if isinstance(details, HttpDetails) else ()
    gauge(
        "probe_http_duration_seconds",
        "Duration of each phase",
        *((f'{{phase="{name}"}}', s) for name, s in phase_seconds(result).items()),
    )
    status = response.status if response is not None else None
    gauge("probe_http_status_code", "HTTP status code", ("", status or 0))
    expected = response.expected_size if response is not None else None
    gauge(
        "probe_http_content_length",
        "Length of the response body as its Content-Length says (-1: none said)",
        ("", (-1 if expected is None else expected) if http is not None else 0),
    )
    gauge(
        "probe_http_uncompressed_body_length",
        "Length of the response body read",
        ("", (response.size if response is not None else 0) or 0),
    )
    gauge("probe_http_redirects", "Redirects followed", ("", max(0, len(hops) - 1)))
    last = hops[-1].url if hops else result.target
    ssl = last.lower().startswith("https://") and "tls" in phases
    gauge("probe_http_ssl", "Whether TLS was used for the final response", ("", int(ssl)))
    version = (response.version if response is not None else None) or ""
    gauge(
        "probe_http_version",
        "The response's HTTP version",
        ("", float(version[5:]) if version.startswith("HTTP/") else 0),
    )


def _icmp_series(phases: dict[str, Phase], gauge: _Gauge) -> None:
    """blackbox_exporter's icmp series: the phases resolve, setup (the socket and the
    send: tether does not time them apart, so 0) and rtt, and the reply's hop limit."""
    dns, icmp = phases.get("dns"), phases.get("icmp")
    echoes = icmp.details if icmp is not None else None
    if not isinstance(echoes, IcmpDetails):
        echoes = None
    rtt = echoes.rtt_avg_ms if echoes is not None else None
    seconds = {
        "resolve": dns.ms / 1000 if dns is not None else 0.0,
        "setup": 0.0,
        "rtt": (rtt or 0.0) / 1000,
    }
    gauge(
        "probe_icmp_duration_seconds",
        "Duration of icmp request by phase",
        *((f'{{phase="{name}"}}', s) for name, s in seconds.items()),
    )
    if echoes is not None and echoes.hop_limit is not None:
        gauge(
            "probe_icmp_reply_hop_limit",
            "Replied packet hop limit (TTL for ipv4)",
            ("", echoes.hop_limit),
        )


_SERVING_STATUSES = ("NOT_SERVING", "SERVICE_UNKNOWN", "SERVING", "UNKNOWN")
"""The health answers, in the order blackbox_exporter's registry writes their series."""
_UNAVAILABLE = 14
_DEADLINE_EXCEEDED = 4


def _grpc_series(result: ProbeResult, phases: dict[str, Phase], gauge: _Gauge) -> None:
    """blackbox_exporter's grpc series: the phases resolve and check (all that follows the
    lookup), the health answer as a 1 among its four statuses (all 0 when the call
    failed), the call's gRPC code, and whether TLS carried a call that answered.

    Where no call ended with a code, the code is the one a gRPC client gives such a
    failure: DEADLINE_EXCEEDED for silence, UNAVAILABLE for the rest (refused, TLS,
    an HTTP/1.1 port)."""
    dns, call = phases.get("dns"), phases.get("grpc")
    details = call.details if call is not None else None
    d = details if isinstance(details, GrpcDetails) else None
    resolve = dns.ms / 1000 if dns is not None and not isinstance(dns.details, Skipped) else 0.0
    after = [p.ms for p in result.phases if p.name in ("connect", "tls", "grpc")]
    gauge(
        "probe_grpc_duration_seconds",
        "Duration of gRPC request by phase",
        ('{phase="check"}', sum(after) / 1000),
        ('{phase="resolve"}', resolve),
    )
    answered = d is not None and d.code == 0
    status = d.serving_status if d is not None and answered else None
    gauge(
        "probe_grpc_healthcheck_response",
        "Response HealthCheck response",
        *((f'{{serving_status="{s}"}}', int(s == status)) for s in _SERVING_STATUSES),
    )
    code = d.code if d is not None else None
    if code is None:
        f = result.failure
        silent = f is not None and f.kind.value in ("read.timeout", "deadline.exceeded")
        code = _DEADLINE_EXCEEDED if silent else _UNAVAILABLE
    gauge(
        "probe_grpc_ssl",
        "Indicates if SSL was used for the connection",
        ("", int(answered and "tls" in phases)),
    )
    gauge("probe_grpc_status_code", "Response gRPC status code", ("", code))


def _tls_series(phases: dict[str, Phase], gauge: _Gauge) -> None:
    tls = phases.get("tls")
    details = tls.details if tls is not None else None
    if not isinstance(details, TlsDetails) or not details.chain:
        return
    expiries = [c.expires.timestamp() for c in details.chain]
    gauge(
        "probe_ssl_earliest_cert_expiry",
        "When the first certificate of the chain to expire expires (Unix time)",
        ("", min(expiries)),
    )
    version = details.version or ""
    if version.startswith("TLSv"):
        gauge(
            "probe_tls_version_info",
            "The TLS version of the connection",
            (f'{{version="TLS {version[4:]}"}}', 1),
        )
