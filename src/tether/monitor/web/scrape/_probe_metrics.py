"""One probe's answer to ``/probe``, in blackbox_exporter's text format: the series of
the module's prober, the TLS ones, and tether's ``probe_failure_info``."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.utils import floatToGoString

from tether.monitor.checks._blackbox import BLACKBOX_PHASES, ModuleProbe
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
    """:data:`_go_float`'s text, without its work where it is Python's own: a small whole
    number (a status, a count, a flag) is ``repr(float(value))``, and so is a float below
    a million in size (Go turns to an exponent sooner than Python above it, and infinities
    and NaN are spelled apart; a NaN fails both comparisons)."""
    cls: type[object] = value.__class__  # an int passes as a float (PEP 484)
    if -1_000_000 < value < 1_000_000:
        if cls is float:
            return repr(value)
        if cls is int:
            return f"{value}.0"
    return _go_float(value)


def _seconds(seconds: float) -> str:
    """A duration's text, to the nanosecond as blackbox_exporter's are (Go's durations are
    whole nanoseconds): :data:`_go_float`'s text of ``float(f"{seconds:.9f}")``, written
    from those nine places rather than by ``repr``, which finds a float's shortest digits
    by big-number arithmetic (1.7 x the time; a ``/probe`` writes five durations).
    The shortest digits of a whole number of nanoseconds below a million seconds are its
    own (neighbouring nanoseconds are far more than a float's step apart): from 1e-4 s,
    the nine places without their trailing zeros; below it, where ``repr`` writes an
    exponent, the text of each number of nanoseconds, kept."""
    if 0.0 <= seconds < 1e5:
        text = f"{seconds:.9f}"
        if text[:6] != "0.0000":  # 1e-4 s and up: repr's fixed notation
            text = text.rstrip("0")
            return text + "0" if text[-1] == "." else text
        small = _SMALL.get(text)
        if small is None:
            small = _small(int(text[2:]))
            if len(_SMALL) < 8192:
                _SMALL[text] = small
        return small
    # Negative, a day and more, NaN, the infinities: rare, the long way.
    return _number(float(f"{seconds:.9f}") if -1e6 < seconds < 1e6 else seconds)


_SMALL: dict[str, str] = {}
""":func:`_seconds`'s text below 1e-4 s, by its nine places, for each met so far."""


def _small(ns: int) -> str:
    """The text of ``ns`` nanoseconds, below 1e-4 s: ``repr``'s exponent, or ``0.0``."""
    if ns <= 0:
        return "0.0"
    digits = str(ns)
    exponent = 10 - len(digits)
    digits = digits.rstrip("0")
    mantissa = digits if len(digits) == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{mantissa}e-{exponent:02d}"


def _head(name: str, text: str) -> str:
    """``name``'s ``# HELP`` and ``# TYPE`` lines."""
    head = _HEADS.get(name)
    if head is None:
        head = _HEADS[name] = f"# HELP {name} {text}\n# TYPE {name} gauge\n"
    return head


def _flag(name: str, text: str) -> tuple[str, str]:
    """A gauge of one unlabelled sample that is 0 or 1: its whole text for each."""
    head = _head(name, text)
    return f"{head}{name} 0.0\n", f"{head}{name} 1.0\n"


_SUCCESS = _flag("probe_success", "Whether the probe succeeded")
_HTTP_SSL = _flag("probe_http_ssl", "Whether TLS was used for the final response")
_DURATION = _head("probe_duration_seconds", "Probe duration") + "probe_duration_seconds "
_LOOKUP = (
    _head("probe_dns_lookup_time_seconds", "Time taken for the probe's DNS lookup")
    + "probe_dns_lookup_time_seconds "
)
_IP_PROTOCOL = {
    family: _head("probe_ip_protocol", "The IP protocol of the probe (4 or 6)")
    + f"probe_ip_protocol {family}.0\n"
    for family in (4, 6)
}
_FAILURE_HEAD = _head("probe_failure_info", "Why the probe failed: the tether kind and layer")
_FAILURES: dict[tuple[str, str], str] = {}
"""``probe_failure_info``'s whole text for each ``(kind, layer)`` met so far (a few dozen
kinds at most: a fixed vocabulary)."""


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
    prober = answer.prober
    phases = _phases(result)
    duration = 0.0
    for p in result.phases:
        duration += p.ms
    lines = [_SUCCESS[answer.failure is None], _DURATION, _seconds(duration / 1000), "\n"]

    def gauge(name: str, text: str, *samples: tuple[str, float | str]) -> None:
        """A gauge's head and samples, each value a number or its text written already."""
        lines.append(_head(name, text))
        for labels, value in samples:
            shown = value if isinstance(value, str) else _number(value)
            lines.append(f"{name}{labels} {shown}\n")

    dns = phases.get("dns")
    if prober == "dns":
        # The server is an address: nothing to look up; its family is the protocol.
        lookup = 0.0
        asked = dns.details if dns is not None else None
        address = asked.address if isinstance(asked, DnsQueryDetails) else ""
    else:
        lookup = dns.ms / 1000 if dns is not None and not isinstance(dns.details, Skipped) else 0.0
        connect = phases.get("connect")
        reached = connect.details if connect is not None else None
        address = (reached.address or "") if isinstance(reached, ConnectDetails) else ""
        icmp = phases.get("icmp")
        if icmp is not None:
            echoes = icmp.details
            address = (echoes.address or "") if isinstance(echoes, IcmpDetails) else ""
    lookup_text = _seconds(lookup)
    lines += (_LOOKUP, lookup_text, "\n")
    if address:
        lines.append(_IP_PROTOCOL[6 if ":" in address else 4])
    if prober == "http":
        _http_series(result, phases, lookup_text, lines)
    elif prober == "icmp":
        _icmp_series(phases, gauge)
    elif prober == "grpc":
        _grpc_series(result, phases, lines)
    elif prober == "dns" and answer.dns is not None:
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
    if prober == "dns":
        gauge(
            "probe_dns_query_succeeded",
            "Whether the DNS server answered",
            ("", int(dns is not None and dns.failure is None)),
        )
    if "tls" in phases:
        _tls_series(phases, gauge)
    failure = answer.failure
    if failure is None:
        lines.append(_FAILURE_HEAD)
    else:
        text = _FAILURES.get(failure)
        if text is None:
            kind, layer = failure
            text = f'{_FAILURE_HEAD}probe_failure_info{{kind="{kind}",layer="{layer}"}} 1.0\n'
            if len(_FAILURES) < 1024:
                _FAILURES[failure] = text
        lines.append(text)
    return "".join(lines).encode()


_Gauge = Callable[..., None]


def _sample(name: str, text: str) -> str:
    """The head of an unlabelled gauge and its sample's name, to be followed by the value."""
    return f"{_head(name, text)}{name} "


_HTTP_PHASES = _head("probe_http_duration_seconds", "Duration of each phase")
_PHASE_SAMPLES = {
    name: f'probe_http_duration_seconds{{phase="{name}"}} '
    for name in ("resolve", "connect", "tls", "processing", "transfer")
}
_STATUS = _sample("probe_http_status_code", "HTTP status code")
_LENGTH = _sample(
    "probe_http_content_length",
    "Length of the response body as its Content-Length says (-1: none said)",
)
_BODY = _sample("probe_http_uncompressed_body_length", "Length of the response body read")
_REDIRECTS = _sample("probe_http_redirects", "Redirects followed")
_HTTP_VERSION = _sample("probe_http_version", "The response's HTTP version")


def _http_series(
    result: ProbeResult, phases: dict[str, Phase], lookup: str, lines: list[str]
) -> None:
    """blackbox_exporter's http series, appended to ``lines``: the phases as
    :func:`~tether.monitor.checks._blackbox.phase_seconds` names them, then the answer's
    status, lengths, redirects, TLS and version.  ``lookup`` is the text of the dns
    phase's seconds, written already."""
    http = phases.get("http")
    details = http.details if http is not None else None
    response = details.response if isinstance(details, HttpDetails) else None
    hops = details.redirects if isinstance(details, HttpDetails) else ()
    lines.append(_HTTP_PHASES)
    # phase_seconds(result), each value written as it is found (a later phase of the same
    # name takes the place of the first, as in that dict).  The dns phase's value is
    # written once: the lookup's text above is the same number's.
    found: dict[str, Phase] = {}
    for phase in result.phases:
        name = BLACKBOX_PHASES.get(phase.name)
        if name is not None and not isinstance(phase.details, Skipped):
            found[name] = phase
    dns = phases.get("dns")
    for name, phase in found.items():
        seconds = lookup if phase is dns else _seconds(phase.ms / 1000)
        lines += (_PHASE_SAMPLES[name], seconds, "\n")
    ttfb = response.ttfb_ms if response is not None else None
    if ttfb is not None:
        assert http is not None  # a response is an http phase's
        lines += (_PHASE_SAMPLES["processing"], _seconds(float(ttfb) / 1000), "\n")
        transfer = max(0.0, http.ms - float(ttfb)) / 1000
        lines += (_PHASE_SAMPLES["transfer"], _seconds(transfer), "\n")
    if response is not None:
        status = response.status or 0
        expected = response.expected_size
        length = -1 if expected is None else expected
        size = response.size or 0
        version = response.version or ""
    else:
        status, length, size, version = 0, -1 if http is not None else 0, 0, ""
    last = hops[-1].url if hops else result.target
    ssl = "tls" in phases and last.lower().startswith("https://")
    lines += (
        _STATUS,
        _number(status),
        "\n",
        _LENGTH,
        _number(length),
        "\n",
        _BODY,
        _number(size),
        "\n",
        _REDIRECTS,
        _number(max(0, len(hops) - 1)),
        "\n",
        _HTTP_SSL[ssl],
        _HTTP_VERSION,
        _version_number(version),
        "\n",
    )


_VERSIONS: dict[str, str] = {}


def _version_number(version: str) -> str:
    """``probe_http_version``'s value for a response's ``HTTP/x.y`` (0 for none),
    remembered (a handful of versions exist)."""
    text = _VERSIONS.get(version)
    if text is None:
        text = _number(float(version[5:]) if version.startswith("HTTP/") else 0)
        if len(_VERSIONS) < 64:
            _VERSIONS[version] = text
    return text


def _icmp_series(phases: dict[str, Phase], gauge: _Gauge) -> None:
    """blackbox_exporter's icmp series: the phases resolve, setup (the socket and the
    send: tether does not time them apart, so 0) and rtt, and the reply's hop limit."""
    dns, icmp = phases.get("dns"), phases.get("icmp")
    echoes = icmp.details if icmp is not None else None
    if not isinstance(echoes, IcmpDetails):
        echoes = None
    rtt = echoes.rtt_avg_ms if echoes is not None else None
    seconds = {
        "resolve": _seconds(dns.ms / 1000 if dns is not None else 0.0),
        "setup": "0.0",
        "rtt": _seconds((rtt or 0.0) / 1000),
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


_GRPC_PHASES = _head("probe_grpc_duration_seconds", "Duration of gRPC request by phase")
_GRPC_HEALTH_HEAD = _head("probe_grpc_healthcheck_response", "Response HealthCheck response")
_GRPC_HEALTH = {
    answer: _GRPC_HEALTH_HEAD
    + "".join(
        f'probe_grpc_healthcheck_response{{serving_status="{s}"}} {int(s == answer)}.0\n'
        for s in _SERVING_STATUSES
    )
    for answer in (None, *_SERVING_STATUSES)
}
"""The health series' whole text for each answer (None: the call failed, all 0)."""
_GRPC_SSL = _flag("probe_grpc_ssl", "Indicates if SSL was used for the connection")
_GRPC_CODE = _sample("probe_grpc_status_code", "Response gRPC status code")


def _grpc_series(result: ProbeResult, phases: dict[str, Phase], lines: list[str]) -> None:
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
    after = 0.0
    for p in result.phases:
        if p.name in ("connect", "tls", "grpc"):
            after += p.ms
    answered = d is not None and d.code == 0
    status = d.serving_status if d is not None and answered else None
    code = d.code if d is not None else None
    if code is None:
        f = result.failure
        silent = f is not None and f.kind.value in ("read.timeout", "deadline.exceeded")
        code = _DEADLINE_EXCEEDED if silent else _UNAVAILABLE
    lines += (
        _GRPC_PHASES,
        'probe_grpc_duration_seconds{phase="check"} ',
        _seconds(after / 1000),
        '\nprobe_grpc_duration_seconds{phase="resolve"} ',
        _seconds(resolve),
        "\n",
        _GRPC_HEALTH.get(status) or _GRPC_HEALTH[None],
        _GRPC_SSL[answered and "tls" in phases],
        _GRPC_CODE,
        _number(code),
        "\n",
    )


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
