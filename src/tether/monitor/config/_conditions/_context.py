"""What the probe saw: the values conditions are evaluated against, filled from a
probe's phases."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tether._rcodes import rcode_of_kind, worst_rcode
from tether.monitor.config._conditions._placeholders import PHASE_NAMES

if TYPE_CHECKING:
    from tether.probe import (
        Certificate,
        DnsDetails,
        DnsQueryDetails,
        DnsRecord,
        Phase,
        ProbeResult,
        Response,
    )


@dataclass(slots=True)
class ProbeContext:
    """The values conditions are evaluated against; ``None`` means the probe did not see it.

    Made once per probe and only read after: not ``frozen``, since a frozen dataclass
    sets each of its fields through ``object.__setattr__`` (a call that wraps its
    arguments anew), which made half the cost of a context, and every check with
    conditions makes one."""

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
    """Keys ``dns``, ``dnssec``, ``connect``, ``tls``, ``quic``, ``auth``, ``query``, ``ssh``,
    ``smtp``, ``ws``, ``grpc``, ``ttfb``, ``transfer``; absent when not run."""
    banner: str | None = None
    """The server's first words: an SSH identification line, an SMTP greeting's text."""
    packet_loss_percent: float | None = None
    """An icmp:// check's share of echo requests unanswered, 0 to 100."""
    rtt_ms: float | None = None
    """An icmp:// check's average round trip over the replies that came back."""
    domain_expires_in_s: float | None = None
    """Seconds until the domain's registration expires (RDAP); negative once it has."""
    domain_missing: str | None = None
    """Why there is no ``domain_expires_in_s`` when an RDAP lookup was made."""
    grpc_status: str | None = None
    """A grpc:// check's health answer: ``SERVING``, ``NOT_SERVING``, ``SERVICE_UNKNOWN``
    or ``UNKNOWN``."""
    grpc_code: int | None = None
    """A grpc:// check's call status (``grpc-status``; 0 is OK)."""
    result: str | int | float | bool | None = None
    """A database check's first value (the first row's first column); None for NULL."""
    rows: int | None = None
    """The rows a database check's query answered (at most the number it reads)."""
    _json: Any = field(default=None, init=False, repr=False, compare=False)
    """The body read as JSON, once the first condition or extraction that reads a path of
    it has read it (:meth:`body_json`); None until then."""

    def body_json(self) -> Any:
        """The body read as JSON (None when there is none; :data:`NOT_JSON` when it is not
        JSON), read once for every condition and extraction of a check that reads it."""
        parsed = self._json
        if parsed is None and self.body is not None:
            try:
                parsed = json.loads(self.body)
            except (ValueError, RecursionError):
                parsed = NOT_JSON
            if parsed is not None:  # a body of ``null`` is read again: cheap
                self._json = parsed
        return parsed


NOT_JSON: Final = object()
"""What :meth:`ProbeContext.body_json` answers for a body that is not JSON."""


_TIMED: Final = frozenset(PHASE_NAMES)


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
    # Here, not at the top: loading a configuration does not load the probe engine.  The
    # module, not names from it: a from-import checks each name on every call.
    from tether import probe

    phases = {p.name: p for p in result.phases}
    d = {name: p.details for name, p in phases.items()}
    timings: dict[str, float] = {}
    for name, phase in phases.items():  # ttfb and transfer are the http phase's, below
        # A proxy tunnel records dns and connect as skipped, with 0 ms: not a timing.
        if name in _TIMED and not isinstance(phase.details, probe.Skipped):
            timings[name] = phase.ms
    http = d.get("http")
    response = http.response if isinstance(http, probe.HttpDetails) else None
    status = None
    if response is not None:
        status = response.status
        if (ttfb := response.ttfb_ms) is not None:
            timings["ttfb"] = float(ttfb)
            timings["transfer"] = max(0.0, phases["http"].ms - float(ttfb))
    elif isinstance(ws := d.get("ws"), probe.WsDetails):
        status = ws.status  # ws://: the upgrade's status
    tls = d.get("tls")
    if tls is None:
        tls = d.get("quic")  # an HTTP/3 check's handshake
    dns, connect = d.get("dns"), d.get("connect")
    context = ProbeContext(
        status=status,
        response_time_ms=sum(p.ms for p in result.phases if p.name != "rdap"),
        body=body if body is not None else result.body,
        headers=dict(headers)
        if headers is not None
        else (dict(result.headers) if result.headers else _known_headers(response)),
        certificate_expires_in_s=_certificate_seconds(tls.leaf, now)
        if isinstance(tls, probe.TlsDetails)
        else None,
        dns_rcode=None
        if dns is None
        else _rcode(
            dns if isinstance(dns, probe.DnsQueryDetails) else None,
            dns if isinstance(dns, probe.DnsDetails) else None,
            isinstance(dns, probe.Skipped),
            phases,
        ),
        ips=_addresses(
            connect.address if isinstance(connect, probe.ConnectDetails) else None,
            dns.answers if isinstance(dns, (probe.DnsDetails, probe.DnsQueryDetails)) else None,
        ),
        connected=_connected(phases, d.get("proxy")),
        phase_ms=timings,
    )
    if not d.keys() <= _HTTP_PHASES:
        _others(context, d)
    return context


_HTTP_PHASES: Final = frozenset({"url", "proxy", "dns", "connect", "tls", "http"})
"""The phases of an http(s):// walk: none holds a banner, an ICMP series, an RDAP lookup,
a gRPC call or a database's answer, so a context of these alone has none of them."""


def _others(context: ProbeContext, d: Mapping[str, object]) -> None:
    """Fill in ``context``'s values from the phases an http(s):// walk has not: the banner
    (SSH, SMTP), an ICMP series, the RDAP lookup, the gRPC call, a database's answer."""
    from tether import probe

    ssh, smtp, icmp, rdap = d.get("ssh"), d.get("smtp"), d.get("icmp"), d.get("rdap")
    call, query = d.get("grpc"), d.get("query")
    banner = ssh.banner if isinstance(ssh, probe.SshDetails) else None
    if not banner:
        banner = smtp.banner if isinstance(smtp, probe.SmtpDetails) and smtp.greeting else None
    context.banner = banner
    if isinstance(icmp, probe.IcmpDetails):
        context.packet_loss_percent, context.rtt_ms = icmp.loss_percent, icmp.rtt_avg_ms
    if isinstance(rdap, probe.RdapDetails):
        context.domain_expires_in_s, context.domain_missing = rdap.expires_in_s, rdap.missing
    if isinstance(call, probe.GrpcDetails):
        context.grpc_status, context.grpc_code = call.serving_status, call.code
    if isinstance(query, probe.DatabaseDetails):
        context.result, context.rows = query.result, query.rows


def _rcode(
    query: DnsQueryDetails | None,
    walk: DnsDetails | None,
    skipped: bool,
    phases: Mapping[str, Phase],
) -> str | None:
    """The rcode of a dns phase (a ``dns://`` check's ``query``, a walk's name lookup, or
    ``skipped`` by a proxy's tunnel): a server's answer; the system resolver's, as its
    failure's kind says it; None where no query was made (an address, a proxy's tunnel)
    or no answer came."""
    rcode: str | None = None
    system = not skipped and query is None and walk is None
    if query is not None:
        rcode, system = query.rcode, query.rcode is None
    elif walk is not None and walk.asked_server:
        # One answer per record type: the worst decides, as the dns phase's verdict does.
        rcode = worst_rcode(walk.rcodes.values()) if walk.rcodes else None
    elif walk is not None:
        system = not walk.literal
    if system:
        failure = phases["dns"].failure
        rcode = rcode_of_kind(failure.kind if failure is not None else None)
    return rcode


def _known_headers(response: Response | None) -> dict[str, str]:
    if response is None:
        return {}
    return {
        name: str(value)
        for name, value in (("retry-after", response.retry_after), ("location", response.location))
        if value is not None
    }


def _certificate_seconds(leaf: Certificate | None, now: dt.datetime | None) -> float | None:
    if leaf is None:
        return None
    if now is not None and leaf.not_after:
        return (leaf.expires - now).total_seconds()
    return float(leaf.days_left) * 86400.0


def _addresses(connected: str | None, answers: Sequence[DnsRecord] | None) -> tuple[str, ...]:
    found: list[str] = []
    if connected:
        found.append(connected)
    for answer in answers or ():
        if answer.address not in found:
            found.append(answer.address)
    return tuple(found)


def _connected(phases: Mapping[str, Phase], proxy: object) -> bool:
    """Whether the probe reached its target: connected, QUIC's handshake done, or the
    proxy reached (``proxy``: the proxy phase's details)."""
    connect = phases.get("connect")
    if connect is not None:
        return bool(connect.ok)
    quic = phases.get("quic")
    if quic is not None:  # an HTTP/3 check: connected once QUIC's handshake is done
        return bool(quic.ok)
    phase = phases.get("proxy")
    # An http:// request through a forwarding proxy records no connect phase.
    if phase is None or not phase.ok:
        return False
    from tether import probe

    return isinstance(proxy, probe.ProxyDetails) and proxy.mode is not None
