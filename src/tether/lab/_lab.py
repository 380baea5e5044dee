"""The fault lab: servers on loopback that misbehave on purpose, one scenario each."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tether._hostport import bracketed
from tether._kinds import Kind
from tether.lab import _dns, _grpc, _servers, _signed
from tether.lab._certs import LabCerts, make_certs


@dataclass(frozen=True, slots=True)
class Scenario:
    """One misbehaviour of the lab, and the failure kind it produces."""

    name: str
    url: str
    kind: Kind | None
    """What a client with a total timeout sees; None for healthy scenarios."""
    description: str
    proxy: str | None = None
    """The proxy to send ``url`` through, for the proxy scenarios."""
    resolver: str | None = None
    """``host:port`` of the DNS server that knows the URL's name, for the DNS scenarios."""
    method: str = "GET"
    ca_file: str | None = None
    """The only CA a client should trust here, when it is not the lab CA."""
    trust_anchor: str | None = None
    """The DS record a ``dns://`` check with ``dnssec`` starts from, for the dnssec_*
    scenarios (the lab's own, :attr:`Lab.trust_anchor`, but for dnssec_wrong_anchor)."""

    @property
    def host(self) -> str:
        if self.url.startswith("dns://"):
            return self.url[len("dns://") :]
        return self.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        """The URL's port; a ``dns://`` scenario's: its resolver's (the lab's DNS server)."""
        where = self.resolver if self.url.startswith("dns://") and self.resolver else self.url
        return int(where.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[1])


# name, expected kind, what the server does.  Order is the table's order.
SPECS: tuple[tuple[str, Kind | None, str], ...] = (
    ("healthy", None, "answers 200 at once, keep-alive"),
    ("tls_ok", None, "HTTPS with a certificate from the lab CA"),
    ("latency", None, "answers 200 after a fixed delay (?ms= to change it)"),
    ("stall_one_in_ten", None, "answers 200 at once, but holds every tenth request first"),
    ("load_latency", None, "4 workers of 10 ms behind a queue: latency grows with load"),
    ("refused", Kind.CONNECT_REFUSED, "a port nothing listens on"),
    ("blackhole", Kind.CONNECT_TIMEOUT, "a listener with a full backlog: SYNs are dropped"),
    ("reset_on_accept", Kind.CONNECTION_RESET, "accepts, then resets before any answer"),
    ("reset_mid_head", Kind.CONNECTION_RESET, "sends half a status line, then resets"),
    ("reset_after_head", Kind.CONNECTION_RESET, "sends the response head, then resets"),
    ("reset_mid_body", Kind.CONNECTION_RESET, "sends 100 of 1000 body bytes, then resets"),
    ("close_no_response", Kind.CONNECTION_CLOSED, "reads the request, closes without a word"),
    (
        "reset_on_reuse",
        Kind.CONNECTION_RESET,
        "redirects, then resets when the client reuses the connection",
    ),
    (
        "close_on_reuse",
        Kind.CONNECTION_CLOSED,
        "redirects, then closes when the client reuses the connection",
    ),
    ("truncated_body", Kind.RESPONSE_TRUNCATED, "Content-Length 100, sends 10, closes"),
    ("cut_chunked", Kind.RESPONSE_TRUNCATED, "a chunked body cut before its last chunk"),
    ("stall_headers", Kind.READ_TIMEOUT, "reads the request, never answers"),
    ("slow_drip", Kind.DEADLINE_EXCEEDED, "one body byte every second, for ever"),
    ("garbage", Kind.RESPONSE_MALFORMED, "answers with bytes that are not HTTP"),
    ("bad_chunk_size", Kind.RESPONSE_MALFORMED, "a chunk size line that is not hexadecimal"),
    ("bad_chunk_footer", Kind.RESPONSE_MALFORMED, "chunk data not followed by CRLF"),
    ("bad_length", Kind.RESPONSE_MALFORMED, "Content-Length: -3"),
    (
        "length_and_chunked",
        Kind.RESPONSE_MALFORMED,
        "both Content-Length and Transfer-Encoding: chunked",
    ),
    ("bad_version", Kind.RESPONSE_MALFORMED, "an HTTP/2.0 status line on HTTP/1.1"),
    (
        "conflicting_length",
        Kind.RESPONSE_MALFORMED,
        "two Content-Length fields that disagree (3 and 12), 3 bytes sent",
    ),
    ("bad_gzip", Kind.RESPONSE_MALFORMED, "Content-Encoding: gzip on a body that is not gzip"),
    (
        "surplus_body",
        Kind.RESPONSE_MALFORMED,
        "a redirect with bytes beyond its Content-Length, read as the next response",
    ),
    ("bad_header", Kind.RESPONSE_MALFORMED, "a header line without a colon"),
    ("too_many_headers", Kind.RESPONSE_TOO_LARGE, "a response with 200 header fields"),
    ("long_header", Kind.RESPONSE_TOO_LARGE, "a header line of 200,000 bytes"),
    ("long_status_line", Kind.RESPONSE_TOO_LARGE, "a status line of 200,000 bytes"),
    ("long_chunk_line", Kind.RESPONSE_TOO_LARGE, "a chunk-size line of 200,000 bytes"),
    ("long_trailer", Kind.RESPONSE_TOO_LARGE, "a trailer line of 200,000 bytes"),
    ("http_404", Kind.HTTP_CLIENT_ERROR, "answers 404"),
    ("http_429", Kind.HTTP_RATE_LIMITED, "answers 429 with Retry-After: 3"),
    ("http_503", Kind.HTTP_SERVER_ERROR, "answers 503 with Retry-After: 120"),
    ("redirect_loop", Kind.HTTP_REDIRECT_LOOP, "/a redirects to /b, /b to /a"),
    (
        "redirect_scheme_loop",
        Kind.HTTP_REDIRECT_LOOP,
        "http:// redirects to https://, and https:// back to http://",
    ),
    ("tls_expired", Kind.TLS_EXPIRED, "certificate expired yesterday"),
    ("tls_not_yet_valid", Kind.TLS_EXPIRED, "certificate valid from tomorrow"),
    (
        "tls_expired_intermediate",
        Kind.TLS_EXPIRED,
        "a valid leaf whose intermediate expired yesterday",
    ),
    (
        "tls_expired_root",
        Kind.TLS_EXPIRED,
        "a valid leaf of a root that expired yesterday, the client's only CA",
    ),
    ("tls_self_signed", Kind.TLS_SELF_SIGNED, "a self-signed leaf certificate"),
    ("tls_unknown_ca", Kind.TLS_UNTRUSTED, "certificate from a CA the client does not trust"),
    ("tls_wrong_host", Kind.TLS_HOSTNAME_MISMATCH, "certificate for wrong.lab.test"),
    ("tls_to_plain", Kind.TLS_PROTOCOL, "HTTPS spoken to the plain HTTP port"),
    ("plain_to_tls", Kind.CONNECTION_CLOSED, "plain HTTP spoken to the TLS port"),
    ("tls_version", Kind.TLS_PROTOCOL, "the server speaks TLS 1.1 at most"),
    ("tls_stall", Kind.TLS_TIMEOUT, "accepts, never answers the TLS ClientHello"),
    ("tls_weak_key", Kind.TLS_PROTOCOL, "a certificate with a 1024-bit RSA key"),
    ("tls_no_cipher", Kind.TLS_PROTOCOL, "TLS 1.2 with NULL ciphers only: no suite in common"),
    ("tls_client_cert", Kind.TLS_PROTOCOL, "requires a client certificate, and gets none"),
    ("tls_eof", Kind.TLS_PROTOCOL, "reads the ClientHello, then closes"),
    (
        "tls_no_intermediate",
        Kind.TLS_UNTRUSTED,
        "a leaf from an intermediate CA, served without the intermediate",
    ),
    ("proxy_refused", Kind.PROXY_UNREACHABLE, "the proxy's port is closed"),
    ("proxy_auth", Kind.PROXY_AUTH_REQUIRED, "the proxy answers 407 to CONNECT"),
    ("proxy_bad_gateway", Kind.PROXY_REJECTED, "the proxy answers 502 to CONNECT"),
    ("proxy_forbidden", Kind.PROXY_REJECTED, "the proxy answers 403 to CONNECT"),
    ("proxy_blackhole", Kind.PROXY_UNREACHABLE, "the proxy's port drops connection attempts"),
    ("dns_nxdomain", Kind.DNS_NOT_FOUND, "the lab resolver says NXDOMAIN"),
    ("dns_nodata", Kind.DNS_NO_ADDRESS, "the name exists but has no A or AAAA record"),
    ("dns_servfail", Kind.DNS_UNAVAILABLE, "the lab resolver says SERVFAIL"),
    ("dns_refused", Kind.DNS_UNAVAILABLE, "the lab resolver says REFUSED"),
    (
        "dns_dangling_cname",
        Kind.DNS_NO_ADDRESS,
        "a CNAME to a name that has no address records",
    ),
    ("dns_silent", Kind.DNS_TIMEOUT, "the lab resolver never answers"),
    (
        "upload_early_close",
        Kind.CONNECTION_BROKEN_PIPE,
        "hangs up after the head of a large upload",
    ),
    (
        "upload_stall",
        Kind.WRITE_TIMEOUT,
        "stops reading a large upload and keeps the connection open",
    ),
    ("flapping", Kind.HTTP_SERVER_ERROR, "healthy, then 503, alternating every 10 s"),
    ("grpc_serving", None, "a gRPC server (HTTP/2) whose health service says SERVING"),
    ("grpc_not_serving", Kind.GRPC_NOT_SERVING, "its service lab.Draining is NOT_SERVING"),
    (
        "grpc_unimplemented",
        Kind.GRPC_STATUS,
        "a gRPC server without the health service: UNIMPLEMENTED (12)",
    ),
    ("grpc_hang", Kind.READ_TIMEOUT, "its health check of lab.Hanging is never answered"),
    ("grpc_http1", Kind.RESPONSE_MALFORMED, "grpc:// to the healthy server, which speaks HTTP/1.1"),
    ("page_ok", None, "a page whose text (#ready) its script draws: a browser check passes"),
    (
        "page_script_error",
        Kind.BROWSER_PAGE_ERROR,
        "its script calls a library that answered 404 and throws; only a browser check sees it",
    ),
    (
        "page_never_renders",
        Kind.BROWSER_STEP_FAILED,
        "its script draws #ready only if /api/data answers, which says 503: a browser "
        "check's wait_for #ready step fails; HTTP sees 200",
    ),
    (
        "page_broken_asset",
        Kind.HTTP_CLIENT_ERROR,
        "its image answers 404: a browser check with fail_on_failed_requests fails; HTTP sees 200",
    ),
    ("dnssec_ok", None, "a signed zone whose DS is in the lab's signed dnssec.lab.test."),
    ("dnssec_bogus", Kind.DNS_DNSSEC_BOGUS, "its A record was changed after signing"),
    (
        "dnssec_rollover",
        Kind.DNS_DNSSEC_BOGUS,
        "re-keyed: signed with a new key while the parent's DS names the old one",
    ),
    (
        "dnssec_wrong_anchor",
        Kind.DNS_DNSSEC_BOGUS,
        "dnssec_ok's name, checked from a trust anchor for a key the lab does not publish",
    ),
    ("dnssec_expired", Kind.DNS_DNSSEC_EXPIRED, "signatures that expired 30 days ago"),
    ("dnssec_not_yet_valid", Kind.DNS_DNSSEC_EXPIRED, "signatures valid from tomorrow"),
    ("dnssec_insecure", Kind.DNS_DNSSEC_INSECURE, "a signed zone with no DS in its parent"),
    ("dnssec_unsigned", Kind.DNS_DNSSEC_INSECURE, "a zone that is not signed (no RRSIG)"),
    (
        "dnssec_nodata",
        Kind.DNS_DNSSEC_INSECURE,
        "a name with no A record in a signed zone: NODATA, whose proof is not validated",
    ),
    (
        "dnssec_outside",
        Kind.DNS_DNSSEC_INSECURE,
        "a zone signed with its own key, outside the trust anchor's dnssec.lab.test.",
    ),
)
GRPC_SCENARIOS: frozenset[str] = frozenset(name for name, *_ in SPECS if name.startswith("grpc_"))
"""The ``grpc://`` scenarios: for a gRPC health check, not for the HTTP clients' matrix."""
BROWSER_SCENARIOS: frozenset[str] = frozenset(
    name for name, *_ in SPECS if name.startswith("page_")
)
"""The pages for a browser check: an HTTP client gets 200 from each, and their kind is
what a monitor's ``browser:`` check reports (page_broken_asset's with
``fail_on_failed_requests: true``)."""
DNSSEC_SCENARIOS: frozenset[str] = frozenset(_signed.SCENARIO_NAMES)
"""The ``dns://`` scenarios for a check with ``dnssec`` (the lab's trust anchor), not for
the HTTP clients' matrix."""

_UPLOADS = frozenset({"upload_early_close", "upload_stall"})
"""Scenarios about a large upload: their requests are POSTs with a body."""

_DNS_NAMES = {
    "dns_nxdomain": "nx",
    "dns_nodata": "nodata",
    "dns_servfail": "servfail",
    "dns_refused": "refused",
    "dns_dangling_cname": "dangling",
    "dns_silent": "silent",
}


def full_backlog(host: str, port: int = 0) -> list[socket.socket]:
    """A listener on ``host:port`` whose accept queue is full: Linux then drops new SYNs.

    Returns the listener (first) and the connections that fill its queue; the
    caller closes them all.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family)
    sockets = [listener]
    try:
        if port:  # a fixed port (tether lab --port) is taken again at the next start
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(0)
        address = listener.getsockname()[:2]
        for _ in range(4):
            filler = socket.socket(family)
            sockets.append(filler)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(address)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


LISTENERS: tuple[str, ...] = (
    "healthy",
    "tls_ok",
    "latency",
    "refused",
    "blackhole",
    "reset_on_accept",
    "reset_mid_head",
    "reset_after_head",
    "reset_mid_body",
    "close_no_response",
    "reset_on_reuse",
    "close_on_reuse",
    "truncated_body",
    "cut_chunked",
    "stall_headers",
    "slow_drip",
    "garbage",
    "bad_chunk_size",
    "conflicting_length",
    "bad_chunk_footer",
    "bad_length",
    "length_and_chunked",
    "bad_version",
    "long_chunk_line",
    "long_trailer",
    "bad_gzip",
    "surplus_body",
    "bad_header",
    "too_many_headers",
    "long_header",
    "long_status_line",
    "upload_early_close",
    "upload_stall",
    "flapping",
    "tls_stall",
    "status",
    "redirect_loop",
    "tls_expired",
    "tls_not_yet_valid",
    "tls_self_signed",
    "tls_unknown_ca",
    "tls_wrong_host",
    "tls_no_intermediate",
    "tls_expired_intermediate",
    "tls_weak_key",
    "tls_expired_root",
    "tls_version",
    "tls_no_cipher",
    "tls_client_cert",
    "proxy_auth",
    "proxy_bad_gateway",
    "proxy_forbidden",
    "redirect_http",
    "redirect_https",
    "dns",
    "stall_one_in_ten",
    "load_latency",
    "grpc_serving",
    "grpc_unimplemented",
    "pages",
)
"""Every port the lab listens on (or holds), in the order of their offsets from
``port_base`` (``tether lab --port BASE``): a new one is added at the end, so that a
configuration written against one version's ports keeps working.  ``status`` serves the
http_404, http_429 and http_503 scenarios; ``dns`` is the DNS server (UDP and TCP);
``pages`` the page_* scenarios' pages."""
PORT_OFFSETS: dict[str, int] = {name: i for i, name in enumerate(LISTENERS)}
_SHARED_PORTS = {
    "http_404": "status",
    "http_429": "status",
    "http_503": "status",
    "tls_eof": "close_no_response",
    "tls_to_plain": "healthy",
    "plain_to_tls": "tls_ok",
    "redirect_scheme_loop": "redirect_http",
    "grpc_not_serving": "grpc_serving",
    "grpc_hang": "grpc_serving",
    "grpc_http1": "healthy",
    **dict.fromkeys(BROWSER_SCENARIOS, "pages"),
    **dict.fromkeys(
        ("proxy_refused", "proxy_auth", "proxy_bad_gateway", "proxy_forbidden", "proxy_blackhole"),
        "tls_ok",
    ),
}


def listener_of(scenario: str) -> str:
    """The listener whose port scenario ``scenario``'s URL names (its offset is
    ``PORT_OFFSETS[listener_of(scenario)]``): its own, or one it shares (the statuses,
    the proxies' target, the DNS names' healthy server)."""
    if scenario in _DNS_NAMES:
        return "healthy"
    if scenario in DNSSEC_SCENARIOS:
        return "dns"
    return _SHARED_PORTS.get(scenario, scenario)


class Lab:
    """Start every scenario on loopback; use as a context manager.

    >>> with Lab() as lab:                               # doctest: +SKIP
    ...     requests.get(lab["refused"].url, timeout=1)  # raises, for real
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        dns_port: int = 0,
        latency: float = 0.2,
        drip_interval: float = 1.0,
        flap_period: float = 10.0,
        stall: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        cert_dir: Path | None = None,
        port_base: int = 0,
    ) -> None:
        if port_base and not 1024 <= port_base <= 65535 - len(LISTENERS):
            raise ValueError(
                f"port_base: give a port from 1024 to {65535 - len(LISTENERS)} (the lab takes "
                f"{len(LISTENERS)} ports from it), not {port_base}"
            )
        self.host = host
        self.port_base = port_base
        """The first of the lab's fixed ports (``PORT_OFFSETS``); 0: any free ports."""
        self._dns_port = dns_port or self._port("dns")
        self._latency = latency
        self._drip_interval = drip_interval
        self._flap_period = flap_period
        self._stall = stall
        self._clock = clock
        self._cert_dir = cert_dir
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._sockets: list[socket.socket] = []
        self._udp: asyncio.DatagramTransport | None = None
        self.scenarios: dict[str, Scenario] = {}
        self.certs: LabCerts | None = None
        """The lab's certificates, in a temporary directory (or ``cert_dir``) from
        :meth:`start`; a temporary one is removed by :meth:`stop`."""
        self._own_cert_dir = False
        self.resolver: str = ""
        """``host:port`` of the lab's DNS server."""
        self.dnssec: _signed.SignedTree | None = None
        """The lab's signed ``dnssec.lab.test.`` tree, keyed and signed by :meth:`start`
        at the real clock."""

    # -- public face -----------------------------------------------------------

    def __getitem__(self, name: str) -> Scenario:
        return self.scenarios[name]

    def __iter__(self) -> Iterator[Scenario]:
        return iter(self.scenarios.values())

    @property
    def trust_anchor(self) -> str:
        """The DS record of ``dnssec.lab.test.``, the trust anchor of the dnssec_*
        scenarios (a ``dns://`` check's ``trust_anchor``)."""
        assert self.dnssec is not None, "the lab is not started"
        return self.dnssec.anchor_ds

    @property
    def ca_file(self) -> str:
        """PEM file of the CA that signed the lab's valid certificates."""
        assert self.certs is not None, "the lab is not started"
        return str(self.certs.ca_file)

    def client_ssl_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the lab CA."""
        assert self.certs is not None, "the lab is not started"
        return self.certs.client_context()

    def start(self) -> Lab:
        self.certs = make_certs(self._cert_dir)
        # A directory the lab made is the lab's to remove when it stops; one it was
        # given is the caller's.
        self._own_cert_dir = self._cert_dir is None
        loop, thread = _servers.run_loop("tether-lab")
        self._loop, self._thread = loop, thread
        try:
            asyncio.run_coroutine_threadsafe(self._start(), loop).result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            _servers.end_loop(loop, self._thread, self._stop)
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        if self.certs is not None and self._own_cert_dir:
            shutil.rmtree(self.certs.directory, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- inside the lab's loop ---------------------------------------------------

    def _tracked(self, handler: _servers.Handler) -> _servers.Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            try:
                await handler(reader, writer)
            except (OSError, asyncio.IncompleteReadError, _servers.NotHTTP, ssl.SSLError):
                pass  # the client misbehaving back is part of the game
            except asyncio.CancelledError:
                pass  # the lab is stopping: end quietly
            finally:
                self._writers.discard(writer)
                with contextlib.suppress(Exception):
                    writer.close()

        return handle

    def _port(self, name: str) -> int:
        """The port of listener ``name``: fixed from ``port_base``, else 0 (any free one)."""
        return self.port_base + PORT_OFFSETS[name] if self.port_base else 0

    async def _serve(
        self,
        name: str,
        handler: _servers.Handler,
        context: ssl.SSLContext | None = None,
    ) -> int:
        server = await asyncio.start_server(
            self._tracked(handler),
            self.host,
            self._port(name),
            ssl=context,
            ssl_handshake_timeout=5 if context else None,
        )
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def _reserve(self, name: str) -> int:
        """A port that refuses: bound (so nobody else takes it) but not listening."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.bind((self.host, self._port(name)))
        self._sockets.append(sock)
        return int(sock.getsockname()[1])

    def _blackhole(self, name: str) -> int:
        sockets = full_backlog(self.host, self._port(name))
        self._sockets += sockets
        return int(sockets[0].getsockname()[1])

    async def _start(self) -> None:
        certs = self.certs
        assert certs is not None
        h = bracketed(self.host)
        ports = await self._start_plain(certs)
        status = await self._serve("status", _servers.status)
        redirect = await self._serve("redirect_loop", _servers.redirect_loop)
        await self._start_tls(certs, ports)
        proxies = await self._start_proxies(ports)
        hops = await self._start_redirects(h, certs)
        ports["grpc_serving"] = await self._serve(
            "grpc_serving", _grpc.health_server(_grpc.STATUSES)
        )
        ports["grpc_unimplemented"] = await self._serve(
            "grpc_unimplemented", _grpc.health_server(None)
        )
        ports["pages"] = await self._serve("pages", _servers.pages)
        self.dnssec, zones = _signed.lab_tree(time.time())
        self._udp, dns_tcp, dns_port = await _dns.serve(self.host, self._dns_port, zones)
        self._servers.append(dns_tcp)
        self.resolver = f"{h}:{dns_port}"
        urls = _scenario_urls(
            h, ports, status=status, redirect=redirect, hops=hops, proxies=proxies
        )
        self._describe(urls, proxies, certs)

    def _handlers(self) -> dict[str, _servers.Handler]:
        """The plain HTTP scenarios' servers that are one handler each, by scenario."""
        answering = {
            "bad_chunk_size": _servers.BAD_CHUNK_SIZE,
            "conflicting_length": _servers.CONFLICTING_LENGTH,
            "bad_chunk_footer": _servers.BAD_CHUNK_FOOTER,
            "bad_length": _servers.BAD_LENGTH,
            "length_and_chunked": _servers.LENGTH_AND_CHUNKED,
            "bad_version": _servers.BAD_VERSION,
            "long_chunk_line": _servers.LONG_CHUNK_LINE,
            "long_trailer": _servers.LONG_TRAILER,
            "bad_gzip": _servers.BAD_GZIP,
            "bad_header": _servers.BAD_HEADER,
            "too_many_headers": _servers.TOO_MANY_HEADERS,
            "long_header": _servers.LONG_HEADER,
            "long_status_line": _servers.LONG_STATUS_LINE,
        }
        return {
            "latency": _servers.latency(self._latency),
            "stall_one_in_ten": _servers.stall_one_in(10, self._stall),
            "load_latency": _servers.load_latency(4, 0.01),
            "reset_on_accept": _servers.reset_on_accept,
            "reset_mid_head": _servers.reset_after(b"HTTP/1.1 20"),
            "reset_after_head": _servers.reset_after(_servers.response(200, length=1000)),
            "reset_mid_body": _servers.reset_mid_body,
            "close_no_response": _servers.close_no_response,
            "reset_on_reuse": _servers.dropping_reused(hard=True),
            "close_on_reuse": _servers.dropping_reused(hard=False),
            "truncated_body": _servers.truncated_body,
            "cut_chunked": _servers.cut_chunked,
            "stall_headers": _servers.stall_headers,
            "slow_drip": _servers.slow_drip(self._drip_interval),
            "garbage": _servers.garbage,
            **{name: _servers.answering(raw) for name, raw in answering.items()},
            "surplus_body": _servers.surplus_body,
            "upload_early_close": _servers.upload_early_close,
            "upload_stall": _servers.upload_stall,
            "flapping": _servers.flapping(self._flap_period, self._clock),
            "tls_stall": _servers.silent,
        }

    async def _start_plain(self, certs: LabCerts) -> dict[str, int]:
        """The healthy servers, the refusing and black-holed ports, and every server of
        :meth:`_handlers`: their ports by scenario."""
        healthy = await self._serve("healthy", _servers.healthy)
        tls_ok = await self._serve("tls_ok", _servers.healthy, certs.server_context(certs.valid))
        refused = self._reserve("refused")
        handlers = self._handlers()
        ports: dict[str, int] = {
            "healthy": healthy,
            "tls_ok": tls_ok,
            "refused": refused,
            "blackhole": self._blackhole("blackhole"),
        }
        for name, handler in handlers.items():
            ports[name] = await self._serve(name, handler)
        return ports

    async def _start_tls(self, certs: LabCerts, ports: dict[str, int]) -> None:
        """The TLS scenarios' servers, each a certificate chain or a handshake that fails,
        into ``ports``."""
        serve = self._serve
        for name, chain in (
            ("tls_expired", certs.expired),
            ("tls_not_yet_valid", certs.not_yet_valid),
            ("tls_self_signed", certs.self_signed),
            ("tls_unknown_ca", certs.unknown_ca),
            ("tls_wrong_host", certs.wrong_host),
            ("tls_no_intermediate", certs.no_intermediate),
            ("tls_expired_intermediate", certs.expired_intermediate),
            ("tls_weak_key", certs.weak_key),
            ("tls_expired_root", certs.expired_root),
        ):
            ports[name] = await serve(name, _servers.healthy, certs.server_context(chain))
        ports["tls_version"] = await serve(
            "tls_version",
            _servers.tls_refusing(
                certs.server_context(certs.valid, maximum=ssl.TLSVersion.TLSv1_1)
            ),
        )
        ports["tls_no_cipher"] = await serve(
            "tls_no_cipher",
            _servers.tls_refusing(
                certs.server_context(certs.valid, ciphers="ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0")
            ),
        )
        ports["tls_client_cert"] = await serve(
            "tls_client_cert",
            _servers.tls_refusing(certs.server_context(certs.valid, client_ca=certs.ca_file)),
        )
        ports["tls_eof"] = ports["close_no_response"]

    async def _start_proxies(self, ports: dict[str, int]) -> dict[str, int]:
        """The proxy scenarios' proxies, by scenario: three that answer CONNECT with an
        error, and the refusing and black-holed ports of ``ports``."""
        proxy_auth = await self._serve("proxy_auth", _servers.proxy_answering(407))
        proxy_bad = await self._serve("proxy_bad_gateway", _servers.proxy_answering(502))
        proxy_forbidden = await self._serve("proxy_forbidden", _servers.proxy_answering(403))
        return {
            "proxy_refused": ports["refused"],
            "proxy_auth": proxy_auth,
            "proxy_bad_gateway": proxy_bad,
            "proxy_forbidden": proxy_forbidden,
            "proxy_blackhole": ports["blackhole"],
        }

    async def _start_redirects(self, h: str, certs: LabCerts) -> dict[str, str]:
        """Two servers that redirect to each other, http to https and back: their URLs."""
        hops: dict[str, str] = {}
        plain_hop = await self._serve("redirect_http", _servers.redirecting(hops, "https"))
        tls_hop = await self._serve(
            "redirect_https", _servers.redirecting(hops, "http"), certs.server_context(certs.valid)
        )
        hops.update(http=f"http://{h}:{plain_hop}/", https=f"https://{h}:{tls_hop}/")
        return hops

    def _describe(self, urls: dict[str, str], proxies: dict[str, int], certs: LabCerts) -> None:
        """Every scenario of :data:`SPECS`, at its URL, into ``self.scenarios``."""
        h = bracketed(self.host)
        for name, kind, description in SPECS:
            self.scenarios[name] = Scenario(
                name=name,
                url=urls[name],
                kind=kind,
                description=description.replace(
                    "every 10 s", f"every {self._flap_period:g} s"
                ).replace("every second", f"every {self._drip_interval:g} s")
                if name in ("flapping", "slow_drip")
                else description,
                proxy=f"http://{h}:{proxies[name]}" if name in proxies else None,
                resolver=self.resolver if name in _DNS_NAMES or name in DNSSEC_SCENARIOS else None,
                method="POST" if name in _UPLOADS else "GET",
                ca_file=str(certs.expired_root_ca) if name == "tls_expired_root" else None,
                trust_anchor=self._anchor_of(name),
            )

    def _anchor_of(self, scenario: str) -> str | None:
        if scenario not in DNSSEC_SCENARIOS or self.dnssec is None:
            return None
        wrong = scenario in _signed.WRONG_ANCHOR
        return self.dnssec.other_ds if wrong else self.dnssec.anchor_ds

    async def _stop(self) -> None:
        await close_accepting(self._servers)
        # A connection accepted just now has a handler task that has not run
        # yet: let it start and register its writer, or its socket would leak.
        for _ in range(3):
            await asyncio.sleep(0)
        for writer in list(self._writers):
            writer.transport.abort()
        if self._udp is not None:
            self._udp.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # abort() closes sockets in callbacks scheduled for the next turns of the loop.
        for _ in range(3):
            await asyncio.sleep(0)


async def close_accepting(servers: list[asyncio.Server]) -> None:
    """Close ``servers`` with no connection caught between its accept and its transport.

    A selector loop accepts a connection in one turn and makes its transport in the
    first step of a task, a turn later.  Python 3.11's ``Server.close()`` in between
    fails that step (an assertion in ``Server._attach``), and the half-made transport
    keeps the socket open until the collector finds it: a ResourceWarning in whatever
    runs then, a failure under ``-W error``.  So accepting stops first (each listening
    socket's reader removed), the tasks of connections accepted already run while the
    servers are open, and only then do the servers close."""
    loop = asyncio.get_running_loop()
    if isinstance(loop, asyncio.SelectorEventLoop):
        for server in servers:
            for sock in server.sockets:
                loop.remove_reader(sock.fileno())
        for _ in range(2):
            await asyncio.sleep(0)
    for server in servers:
        server.close()


def _scenario_urls(
    h: str,
    ports: dict[str, int],
    *,
    status: int,
    redirect: int,
    hops: dict[str, str],
    proxies: dict[str, int],
) -> dict[str, str]:
    """Each scenario's URL, by scenario (a proxy scenario's is ``tls_ok``'s, reached
    through its proxy): ``h`` is the lab's host as a URL spells it."""
    urls: dict[str, str] = {name: f"http://{h}:{port}/" for name, port in ports.items()}
    urls.update({name: f"https://{h}:{ports[name]}/" for name in ports if name.startswith("tls_")})
    urls["http_404"] = f"http://{h}:{status}/404"
    urls["http_429"] = f"http://{h}:{status}/429?retry_after=3"
    urls["http_503"] = f"http://{h}:{status}/503?retry_after=120"
    urls["redirect_loop"] = f"http://{h}:{redirect}/a"
    urls["redirect_scheme_loop"] = hops["http"]
    urls["tls_to_plain"] = f"https://{h}:{ports['healthy']}/"
    urls["plain_to_tls"] = f"http://{h}:{ports['tls_ok']}/"
    for name in proxies:
        urls[name] = f"https://{h}:{ports['tls_ok']}/"
    for name, label in _DNS_NAMES.items():
        urls[name] = f"http://{label}.lab.test:{ports['healthy']}/"
    grpc = f"grpc://{h}:{ports['grpc_serving']}"
    urls["grpc_serving"] = f"{grpc}/lab.Serving"
    urls["grpc_not_serving"] = f"{grpc}/lab.Draining"
    urls["grpc_hang"] = f"{grpc}/{_grpc.HANGING}"
    urls["grpc_unimplemented"] = f"grpc://{h}:{ports['grpc_unimplemented']}/lab.Serving"
    urls["grpc_http1"] = f"grpc://{h}:{ports['healthy']}/"
    for name in BROWSER_SCENARIOS:
        urls[name] = f"http://{h}:{ports['pages']}/{name.removeprefix('page_')}"
    urls.update({name: f"dns://{label}" for name, label in _signed.SCENARIO_NAMES.items()})
    return urls
