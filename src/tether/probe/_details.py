"""What each phase found, typed: one frozen record per kind of phase, made once by the
step that walked it, read by attribute (``isinstance(phase.details, TlsDetails)``).

Each record's :meth:`to_json` is the phase's part of ``tether diagnose --json``
(docs/diagnose.md, "The details of each phase"): the keys in the order the probe has
always written them, a key left out where the phase never learnt it.  A field that is
``None`` is left out unless the JSON has always said ``null`` for it; each record says
which.  Nothing here is read back: the monitor stores a check's phase timings, not its
details.

A new check type adds its record here, beside its kin, and to :data:`PhaseDetails`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

from tether._frozen import quick_init

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NoDetails:
    """A phase that learnt nothing: an invalid URL, or one the deadline cut first."""

    def to_json(self) -> Json:
        return {}


NO_DETAILS = NoDetails()


@dataclass(frozen=True, slots=True)
class Skipped:
    """A phase the proxy walked for the probe (``dns`` and ``connect`` through a tunnel)."""

    why: str

    def to_json(self) -> Json:
        return {"skipped": self.why}


@quick_init
@dataclass(frozen=True, slots=True)
class UrlDetails:
    """The ``url`` phase: the target as parsed."""

    scheme: str
    host: str
    """As given (an international name in its own letters)."""
    port: int | None = None
    """None for the schemes without one (``icmp://``, ``dns://``)."""
    idna: str | None = None
    """The ASCII form of an international name."""
    credentials: bool = False

    def to_json(self) -> Json:
        out: Json = {"scheme": self.scheme, "host": self.host}
        if self.port is not None:
            out["port"] = self.port
        if self.idna is not None:
            out["idna"] = self.idna
        if self.credentials:
            out["credentials"] = "present (redacted)"
        return out


@quick_init
@dataclass(frozen=True, slots=True)
class ProxyDetails:
    """The ``proxy`` phase: which proxy, if any, and how it answered."""

    proxy: str | None
    """Its URL, redacted; None without one (the JSON says null)."""
    source: str
    bypass: str = ""
    """Why the environment's proxy was not used (``NO_PROXY covers HOST``)."""
    mode: str | None = None
    """``forwarding`` or ``CONNECT``, once the proxy was reached."""
    status: int | None = None
    """The answer to CONNECT (null in the JSON when none came)."""

    def to_json(self) -> Json:
        out: Json = {"proxy": self.proxy, "source": self.source}
        if self.bypass:
            out["bypass"] = self.bypass
        if self.mode is not None:
            out["mode"] = self.mode
        if self.mode == "CONNECT":
            out["status"] = self.status
        return out


@quick_init
@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One address of a DNS answer (with a server asked directly, its TTL and time)."""

    type: str
    address: str
    ttl: int | None = None
    ms: float | None = None

    def to_json(self) -> Json:
        out: Json = {"type": self.type, "address": self.address}
        if self.ttl is not None:
            out["ttl"] = self.ttl
        if self.ms is not None:
            out["ms"] = self.ms
        return out


@quick_init
@dataclass(frozen=True, slots=True)
class DnsDetails:
    """The walk's ``dns`` phase: the system resolver, a server asked directly, or none
    for an address literal."""

    SYSTEM: ClassVar[str] = "system (getaddrinfo)"

    resolver: str | None
    """:attr:`SYSTEM`, the server asked (``HOST:PORT``), or None for an address literal."""
    answers: tuple[DnsRecord, ...] | None = None
    """None: no answer came."""
    rcodes: dict[str, str] | None = None
    """A server asked directly: its rcode per query type (null in the JSON when it did
    not answer).  The system resolver says none."""
    literal: bool = False

    @property
    def asked_server(self) -> bool:
        """A DNS server was asked directly (``--resolver``), not the system."""
        return self.resolver is not None and self.resolver != self.SYSTEM

    def to_json(self) -> Json:
        out: Json = {"resolver": self.resolver}
        if self.literal:
            out["literal"] = True
        if self.asked_server:
            out["rcode"] = self.rcodes
        if self.answers is not None:
            out["answers"] = [a.to_json() for a in self.answers]
        return out


@dataclass(frozen=True, slots=True)
class DnsSections:
    """How many records each section of a DNS reply held."""

    answer: int
    authority: int
    additional: int

    def to_json(self) -> Json:
        return {"answer": self.answer, "authority": self.authority, "additional": self.additional}


@dataclass(frozen=True, slots=True)
class DnsQueryDetails:
    """The ``dns`` phase of a ``dns://NAME`` probe: one query of one record type."""

    resolver: str
    address: str
    """The server's address, as asked."""
    record_type: str
    rcode: str | None = None
    """None: no reply came (then the JSON has no rcode, answers or sections)."""
    answers: tuple[DnsRecord, ...] = ()
    sections: DnsSections | None = None

    def to_json(self) -> Json:
        out: Json = {
            "resolver": self.resolver,
            "address": self.address,
            "record_type": self.record_type,
        }
        if self.rcode is not None:
            out["rcode"] = {self.record_type: self.rcode}
            out["answers"] = [a.to_json() for a in self.answers]
            if self.sections is not None:
                out["sections"] = self.sections.to_json()
        return out


@dataclass(frozen=True, slots=True)
class DnssecDetails:
    """The ``dnssec`` phase of a ``dns://NAME`` probe with ``dnssec``: the chain walked."""

    anchor: str
    """The trust anchor's zone."""
    zones: tuple[str, ...] = ()
    """The zones whose keys were proven, from the anchor's down."""
    signers: tuple[str, ...] = ()
    """The zones that signed the answer's records."""
    secure: bool = False

    def to_json(self) -> Json:
        return {
            "anchor": self.anchor,
            "zones": list(self.zones),
            "signers": list(self.signers),
            "secure": self.secure,
        }


@dataclass(frozen=True, slots=True)
class RdapDetails:
    """The ``rdap`` phase: a monitor's domain registration, as its registry's RDAP server
    gives it (``[DOMAIN_EXPIRATION]``); made by the monitor, not the probe engine."""

    domain: str
    server: str | None = None
    """The RDAP base URL the bootstrap names for the domain's TLD (credentials redacted)."""
    expires: str | None = None
    """The registration's ``expiration`` event (ISO 8601), when the answer has one."""
    expires_in_s: float | None = None
    """Seconds until then, at the check's time."""
    missing: str | None = None
    """Why there is no expiry: no RDAP server for the TLD, no registration, no event."""
    cached: bool = False
    """Taken from the lookup cache: nothing was asked this time."""

    def to_json(self) -> Json:
        out: Json = {"domain": self.domain, "server": self.server, "cached": self.cached}
        if self.expires is not None:
            out["expires"] = self.expires
            out["expires_in_s"] = self.expires_in_s
        if self.missing is not None:
            out["missing"] = self.missing
        return out


@quick_init
@dataclass(frozen=True, slots=True)
class Attempt:
    """One connection attempt of the race to an address (RFC 8305)."""

    address: str
    family: str
    outcome: str
    """``connected``, ``not needed``, or a failure kind."""
    ms: float
    ended_in_race: bool = False
    """An attempt the race saw end: its JSON has always said ``ms`` before ``outcome``."""

    def to_json(self) -> Json:
        if self.ended_in_race:
            return {
                "address": self.address,
                "family": self.family,
                "ms": self.ms,
                "outcome": self.outcome,
            }
        return {
            "address": self.address,
            "family": self.family,
            "outcome": self.outcome,
            "ms": self.ms,
        }


@quick_init
@dataclass(frozen=True, slots=True)
class ConnectDetails:
    """The ``connect`` phase: the address that connected (None if none did), every attempt."""

    address: str | None
    port: int
    attempts: tuple[Attempt, ...] = ()

    def to_json(self) -> Json:
        return {
            "address": self.address,
            "port": self.port,
            "attempts": [a.to_json() for a in self.attempts],
        }


@dataclass(frozen=True, slots=True)
class Certificate:
    """One certificate of the chain a server sent."""

    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: str
    """ISO 8601, UTC."""
    not_after: str
    days_left: int

    @property
    def expires(self) -> dt.datetime:
        """``not_after`` as a time."""
        return dt.datetime.fromisoformat(self.not_after)

    def to_json(self) -> Json:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "days_left": self.days_left,
        }


@dataclass(frozen=True, slots=True)
class TlsDetails:
    """The ``tls`` phase: the handshake, and the chain (seen without verifying, after a
    verification that failed)."""

    server_name: str | None
    """SNI; None for an address (null in the JSON)."""
    verified: bool
    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    chain: tuple[Certificate, ...] | None = None
    """Leaf first; None when no handshake completed (then version, cipher and ALPN are
    not in the JSON either: they are null there when the handshake said none)."""
    problems: tuple[str, ...] | None = None
    """Every problem of the chain, when verification failed."""
    error: str | None = None
    """Why verification or the handshake failed."""

    @property
    def leaf(self) -> Certificate | None:
        return self.chain[0] if self.chain else None

    def to_json(self) -> Json:
        out: Json = {"server_name": self.server_name, "verified": self.verified}
        if self.chain is not None:
            out["version"] = self.version
            out["cipher"] = self.cipher
            out["alpn"] = self.alpn
            out["chain"] = [c.to_json() for c in self.chain]
        if self.problems is not None:
            out["problems"] = list(self.problems)
        if self.error is not None:
            out["error"] = self.error
        return out


@quick_init
@dataclass(frozen=True, slots=True)
class Response:
    """What arrived of one HTTP response, even when its body then broke off."""

    status: int | None
    """None: no status line came (null in the JSON)."""
    size: int
    """Body bytes read."""
    version: str | None = None
    """The status line's (``HTTP/1.1``)."""
    expected_size: int | None = None
    """What a ``Content-Length`` announced."""
    ttfb_ms: float | None = None
    retry_after: int | None = None
    """The seconds a ``Retry-After`` asks for (None when it cannot be read)."""
    retry_after_sent: bool = False
    """The response had a ``Retry-After`` (the JSON then has ``retry_after``, maybe null)."""
    location: str | None = None
    """Redacted."""

    def to_json(self) -> Json:
        out: Json = {"status": self.status, "size": self.size}
        if self.version is not None:
            out["version"] = self.version
        if self.expected_size is not None:
            out["expected_size"] = self.expected_size
        if self.ttfb_ms is not None:
            out["ttfb_ms"] = self.ttfb_ms
        if self.retry_after_sent:
            out["retry_after"] = self.retry_after
        if self.location is not None:
            out["location"] = self.location
        return out


@quick_init
@dataclass(frozen=True, slots=True)
class Hop:
    """One request of a redirect chain."""

    url: str
    response: Response
    ms: float

    def to_json(self) -> Json:
        return {"url": self.url, **self.response.to_json(), "ms": self.ms}


@quick_init
@dataclass(frozen=True, slots=True)
class HttpDetails:
    """The ``http`` phase: the last hop's request and response, and the chain when the
    probe followed redirects (every hop, the last one included)."""

    method: str
    response: Response
    redirects: tuple[Hop, ...] = ()

    def to_json(self) -> Json:
        out: Json = {"method": self.method, **self.response.to_json()}
        if self.redirects:
            out["redirects"] = [h.to_json() for h in self.redirects]
        return out


@dataclass(frozen=True, slots=True)
class SshDetails:
    """The ``ssh`` phase: the server's identification line, or what it sent instead."""

    protocol: str | None = None
    software: str | None = None
    comments: str = ""
    banner: str | None = None
    """The whole identification line; None when none came (then no protocol, software
    or comments in the JSON)."""
    preamble_lines: int | None = None
    """Lines the server sent before it."""
    received: tuple[str, ...] | None = None
    """The first lines it sent, shown, when it did not speak SSH (2.0)."""

    def to_json(self) -> Json:
        out: Json = {}
        if self.banner is not None:
            out["protocol"] = self.protocol
            out["software"] = self.software
            out["comments"] = self.comments
            out["banner"] = self.banner
        if self.preamble_lines is not None:
            out["preamble_lines"] = self.preamble_lines
        if self.received is not None:
            out["received"] = list(self.received)
        return out


@dataclass(frozen=True, slots=True)
class SmtpDetails:
    """The ``smtp`` phase: the greeting, EHLO's extensions and STARTTLS's offer."""

    greeting: int | None = None
    """The greeting's code; None when none came (nor its banner, in the JSON)."""
    banner: str = ""
    extensions: tuple[str, ...] | None = None
    starttls: str | None = None
    """``offered`` or ``not offered``."""

    def to_json(self) -> Json:
        out: Json = {}
        if self.greeting is not None:
            out["greeting"] = self.greeting
            out["banner"] = self.banner
        if self.extensions is not None:
            out["extensions"] = list(self.extensions)
        if self.starttls is not None:
            out["starttls"] = self.starttls
        return out


@dataclass(frozen=True, slots=True)
class DatabaseDetails:
    """A database or cache check's ``auth`` phase (who logged in, to what) or its
    ``query`` phase (what ran, the first value of its answer, how many rows)."""

    server: str | None = None
    """The server's version, as it gives it, when it does."""
    user: str | None = None
    database: str | None = None
    query: str | None = None
    """The query or command run (``query`` phase)."""
    result: str | int | float | bool | None = None
    """The first row's first column (a Redis reply's first value); None for NULL."""
    rows: int | None = None
    """Rows read (at most the check's cap); None before the query ran."""
    read_only: bool | None = None
    """Whether the server answered as read-only, when ``role`` asked."""
    error: str | None = None
    """The server's error code: a SQLSTATE, a MySQL error number, a Redis error prefix."""

    def summary(self) -> str:
        """A few words for ``tether diagnose``."""
        words = []
        if self.user is not None or self.database is not None:
            words.append(f"as {self.user or '(default user)'} on {self.database or '(default)'}")
        if self.server:
            words.append(self.server)
        if self.query is not None:
            words.append(self.query if len(self.query) <= 60 else self.query[:59] + "…")
        if self.rows is not None:
            shown = "NULL" if self.result is None else repr(self.result)
            words.append(f"{self.rows} row{'' if self.rows == 1 else 's'}, first {shown}")
        if self.read_only is not None:
            words.append("read-only" if self.read_only else "read-write")
        if self.error:
            words.append(f"error {self.error}")
        return ", ".join(words)

    def to_json(self) -> Json:
        out: Json = {}
        for key in ("server", "user", "database", "query", "rows", "read_only", "error"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        if self.rows:
            out["result"] = self.result
        return out


@dataclass(frozen=True, slots=True)
class IcmpDetails:
    """The ``icmp`` phase: the echo requests sent and the replies that came."""

    sent: int
    address: str | None = None
    """None when no request could be planned (then the JSON has only ``sent``)."""
    socket: str = ""
    """``datagram`` or ``raw``."""
    received: int | None = None
    loss_percent: float | None = None
    rtt_min_ms: float | None = None
    rtt_avg_ms: float | None = None
    rtt_max_ms: float | None = None
    """The round trips are null in the JSON when no reply came."""
    rtts_ms: tuple[float | None, ...] = ()
    """Per request, None when lost."""
    hop_limit: int | None = None
    unreachable: str | None = None
    error: str | None = None

    def to_json(self) -> Json:
        if self.address is None:
            return {"sent": self.sent}
        out: Json = {
            "address": self.address,
            "socket": self.socket,
            "sent": self.sent,
            "received": self.received,
            "loss_percent": self.loss_percent,
            "rtt_min_ms": self.rtt_min_ms,
            "rtt_avg_ms": self.rtt_avg_ms,
            "rtt_max_ms": self.rtt_max_ms,
            "rtts_ms": list(self.rtts_ms),
        }
        if self.hop_limit is not None:
            out["hop_limit"] = self.hop_limit
        if self.unreachable is not None:
            out["unreachable"] = self.unreachable
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True)
class WsMessage:
    """A WebSocket message sent or received: its type (``text``, ``binary``), its size
    and, for a reply, its first characters."""

    type: str
    bytes: int
    text: str | None = None

    def to_json(self) -> Json:
        out: Json = {"type": self.type, "bytes": self.bytes}
        if self.text is not None:
            out["text"] = self.text
        return out


@dataclass(frozen=True, slots=True)
class WsClose:
    """The close frame a server sent instead of a reply."""

    code: int
    reason: str | None

    def to_json(self) -> Json:
        return {"code": self.code, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class WsDetails:
    """The ``ws`` phase: the upgrade, then the message sent and its reply."""

    status: int | None = None
    accept: str | None = None
    """``ok`` or ``mismatch``: the ``Sec-WebSocket-Accept`` checked."""
    subprotocol: str | None = None
    """Chosen by the server (in the JSON, null or not, once accepted)."""
    upgrade_ms: float | None = None
    sent: WsMessage | None = None
    close: WsClose | None = None
    reply: WsMessage | None = None
    reply_ms: float | None = None

    def to_json(self) -> Json:
        out: Json = {}
        if self.status is not None:
            out["status"] = self.status
        if self.accept is not None:
            out["accept"] = self.accept
        if self.accept == "ok":
            out["subprotocol"] = self.subprotocol
        if self.upgrade_ms is not None:
            out["upgrade_ms"] = self.upgrade_ms
        if self.sent is not None:
            out["sent"] = self.sent.to_json()
        if self.close is not None:
            out["close"] = self.close.to_json()
        if self.reply is not None:
            out["reply"] = self.reply.to_json()
        if self.reply_ms is not None:
            out["reply_ms"] = self.reply_ms
        return out


@dataclass(frozen=True, slots=True)
class GrpcDetails:
    """The ``grpc`` phase: the ``grpc.health.v1.Health/Check`` call and its answer."""

    service: str = ""
    """The service asked about (empty: the server as a whole)."""
    http_status: int | None = None
    """The HTTP/2 ``:status`` of the answer's headers."""
    code: int | None = None
    """The call's ``grpc-status`` (0 is OK)."""
    code_name: str | None = None
    """Its name: ``OK``, ``UNIMPLEMENTED``..."""
    message: str | None = None
    """The ``grpc-message`` of a failed call, decoded and redacted."""
    serving_status: str | None = None
    """The health answer: ``SERVING``, ``NOT_SERVING``, ``SERVICE_UNKNOWN`` or ``UNKNOWN``."""
    alpn: str | None = None
    """The protocol the TLS handshake agreed (``grpcs://``)."""

    def to_json(self) -> Json:
        out: Json = {"service": self.service}
        for name in ("http_status", "code", "code_name", "message", "serving_status", "alpn"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class BrowserDetails:
    """A browser check's phase (``navigation``, ``first_paint``, ``load``, ``stepN.ACTION``):
    the main document's status, when the milestone came (ms since the navigation began),
    the step done, and on the last phase what the page logged and which requests failed
    (redacted)."""

    status: int | None = None
    at_ms: float | None = None
    step: str | None = None
    console_errors: tuple[str, ...] = ()
    failed_requests: tuple[str, ...] = ()

    def to_json(self) -> Json:
        out: Json = {}
        if self.status is not None:
            out["status"] = self.status
        if self.at_ms is not None:
            out["at_ms"] = self.at_ms
        if self.step is not None:
            out["step"] = self.step
        if self.console_errors:
            out["console_errors"] = list(self.console_errors)
        if self.failed_requests:
            out["failed_requests"] = list(self.failed_requests)
        return out


PhaseDetails = (
    NoDetails
    | Skipped
    | UrlDetails
    | ProxyDetails
    | DnsDetails
    | DnsQueryDetails
    | DnssecDetails
    | RdapDetails
    | ConnectDetails
    | TlsDetails
    | HttpDetails
    | SshDetails
    | SmtpDetails
    | DatabaseDetails
    | IcmpDetails
    | WsDetails
    | BrowserDetails
    | GrpcDetails
)
"""What a :class:`~tether.probe.Phase` may carry."""
