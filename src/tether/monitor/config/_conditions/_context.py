"""What the probe saw: the values conditions are evaluated against, filled from a
probe's phases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tether._rcodes import rcode_of_kind, worst_rcode

if TYPE_CHECKING:
    from tether.probe import Phase, ProbeResult


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """The values conditions are evaluated against; ``None`` means the probe did not see it."""

    status: int | None = None
    response_time_ms: float | None = None
    """The whole probe, every phase included."""
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """Looked up without regard to case."""
    certificate_expires_in_s: float | None = None
    """Seconds until the leaf certificate's ``notAfter``; negative once it has expired."""
    dns_rcode: str | None = None
    ips: tuple[str, ...] = ()
    """The address connected to first, then the other DNS answers."""
    connected: bool = False
    phase_ms: Mapping[str, float] = field(default_factory=dict)
    """Keys ``dns``, ``connect``, ``tls``, ``ssh``, ``smtp``, ``ws``, ``ttfb``,
    ``transfer``; absent when not run."""
    banner: str | None = None
    """The server's first words: an SSH identification line, an SMTP greeting's text."""
    packet_loss_percent: float | None = None
    """An icmp:// check's share of echo requests unanswered, 0 to 100."""
    rtt_ms: float | None = None
    """An icmp:// check's average round trip over the replies that came back."""


def context_from_probe(
    result: ProbeResult,
    body: bytes | str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> ProbeContext:
    """Fill a :class:`ProbeContext` from a probe's phases.

    The body and headers come from ``result.body`` and ``result.headers`` (a probe made
    with ``ProbeOptions(keep_body=...)``) unless passed here.  With ``now`` the certificate's
    remaining time is exact; without it, it is the phase's whole ``days_left``.
    """
    phases = {p.name: p for p in result.phases}
    details = {name: p.details for name, p in phases.items()}
    http = details.get("http") or details.get("ws", {})  # ws://: the upgrade's status
    timings: dict[str, float] = {}
    for name in ("dns", "connect", "tls", "ssh", "smtp", "icmp", "ws"):
        phase = phases.get(name)
        # A proxy tunnel records dns and connect as skipped, with 0 ms: not a timing.
        if phase is not None and "skipped" not in phase.details:
            timings[name] = phase.ms
    ttfb = http.get("ttfb_ms")
    if ttfb is not None:
        timings["ttfb"] = float(ttfb)
        timings["transfer"] = max(0.0, phases["http"].ms - float(ttfb))
    return ProbeContext(
        status=http.get("status"),
        response_time_ms=sum(p.ms for p in result.phases),
        body=body if body is not None else result.body,
        headers=dict(headers)
        if headers is not None
        else (dict(result.headers) if result.headers else _known_headers(http)),
        certificate_expires_in_s=_certificate_seconds(details.get("tls", {}), now),
        dns_rcode=_rcode(phases.get("dns")),
        ips=_addresses(details),
        connected=_connected(phases),
        phase_ms=timings,
        banner=details.get("ssh", {}).get("banner") or details.get("smtp", {}).get("banner"),
        packet_loss_percent=details.get("icmp", {}).get("loss_percent"),
        rtt_ms=details.get("icmp", {}).get("rtt_avg_ms"),
    )


def _known_headers(http: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: str(http[key])
        for name, key in (("retry-after", "retry_after"), ("location", "location"))
        if http.get(key) is not None
    }


def _certificate_seconds(tls: Mapping[str, Any], now: dt.datetime | None) -> float | None:
    chain = tls.get("chain") or []
    if not chain:
        return None
    leaf = chain[0]
    if now is not None and leaf.get("not_after"):
        return (dt.datetime.fromisoformat(leaf["not_after"]) - now).total_seconds()
    return float(leaf["days_left"]) * 86400.0


def _rcode(phase: Phase | None) -> str | None:
    if phase is None or phase.details.get("literal") or "skipped" in phase.details:
        return None  # no query was made
    rcodes = phase.details.get("rcode", "system")
    if isinstance(rcodes, dict) and rcodes:
        # One answer per record type: the worst decides, as the dns phase's verdict does.
        return worst_rcode(rcodes.values())
    if rcodes == "system":
        return rcode_of_kind(phase.failure.kind if phase.failure is not None else None)
    return None  # the server did not answer


def _addresses(details: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    found: list[str] = []
    connected = details.get("connect", {}).get("address")
    if connected:
        found.append(str(connected))
    for answer in details.get("dns", {}).get("answers") or []:
        address = str(answer.get("address"))
        if address not in found:
            found.append(address)
    return tuple(found)


def _connected(phases: Mapping[str, Phase]) -> bool:
    connect = phases.get("connect")
    if connect is not None:
        return bool(connect.ok)
    proxy = phases.get("proxy")
    # An http:// request through a forwarding proxy records no connect phase.
    return proxy is not None and bool(proxy.ok) and "mode" in proxy.details
