"""HTTP/3 with aioquic (``tether[http3]``): the ``quic`` phase (QUIC's handshake, TLS 1.3
inside it) over a connected UDP socket, and one request over the connection.

aioquic is imported only here, and only when a probe asks for HTTP/3.  The socket is
connected (aioquic's own ``connect()`` leaves it unconnected) so that an ICMP port
unreachable comes back as ``ECONNREFUSED``: nothing listening is ``connect.refused`` at
once, not a silent timeout.  Certificates are verified against the same trust as the TCP
walk's (the system's store and ``cacert``), never aioquic's default of certifi's: by
tether, once the handshake is done and before anything is sent, with aioquic's own
checks, against an OpenSSL store built once per trust (:data:`STORES`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from tether._classify import failure_for
from tether._failure import Failure
from tether._kinds import Kind
from tether._version import __version__
from tether.probe import _tls
from tether.probe._details import Certificate, TlsDetails
from tether.probe._http import Exchange

if TYPE_CHECKING:
    from aioquic.asyncio.protocol import QuicConnectionProtocol

__all__ = ["STORES", "Handshake", "alt_svc_port", "handshake", "load", "request"]

_CRYPTO_ERROR = 0x100
"""QUIC's error codes 0x100-0x1ff carry a TLS alert (RFC 9001, section 4.8)."""

_USER_AGENT = f"tether/{__version__}"


@dataclass(slots=True)
class Handshake:
    """What the ``quic`` phase found: the connection, or why there is none."""

    details: TlsDetails
    failure: Failure | None = None
    connection: Any = None
    """The aioquic protocol (a ``QuicConnectionProtocol``) once the handshake is done."""
    datagrams: int = 0
    """Datagrams the server sent back (0: the Initial went unanswered)."""
    unverified: Any = None
    """The connection, when the handshake completed and only its certificate failed
    verification (``insecure`` may go on over it)."""


def alt_svc_port(value: str) -> int | None:
    """The port an ``Alt-Svc`` header offers HTTP/3 on, when it offers it on this host
    (``h3=":443"``); None for none, or only on another host (not followed)."""
    for entry in value.split(","):
        head = entry.split(";", 1)[0].strip()
        name, sep, where = head.partition("=")
        if not sep or name.strip().lower() != "h3":
            continue
        where = where.strip().strip('"')
        host, colon, port = where.rpartition(":")
        if colon and not host and port.isascii() and port.isdigit() and 0 < int(port) < 65536:
            return int(port)
    return None


def load() -> None:
    """Import aioquic now (tens of ms, once), so that the quic phase times the server,
    not the import."""
    import OpenSSL.crypto  # noqa: F401


class _Stores:
    """OpenSSL stores by :class:`_tls.Trust` (the TCP walk's cache key: the CA file and
    the system's store, stamped, so a file replaced on disk makes a new store): loading
    a bundle takes milliseconds, which aioquic, given the paths, spends at every
    handshake.  At most ``size``, the least recently used dropped first."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._built: OrderedDict[_tls.Trust, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cacert: str | None) -> Any:
        key = _tls.trust(cacert, verify=True, alpn=("h3",))
        with self._lock:
            found = self._built.get(key)
            if found is None:
                found = self._built[key] = _build_store(cacert)
                while len(self._built) > self._size:
                    self._built.popitem(last=False)
            self._built.move_to_end(key)
            return found


def _build_store(cacert: str | None) -> Any:
    """The system's trust as OpenSSL finds it (``SSL_CERT_FILE``, ``SSL_CERT_DIR`` or its
    defaults: what ``ssl.create_default_context`` loads), plus ``cacert``."""
    from OpenSSL import crypto

    store = crypto.X509Store()
    paths = ssl.get_default_verify_paths()
    cafile = paths.cafile if paths.cafile and os.path.isfile(paths.cafile) else None
    capath = paths.capath if paths.capath and os.path.isdir(paths.capath) else None
    if cafile or capath:
        store.load_locations(cafile, capath)
    if cacert:
        store.load_locations(cacert)
    return store


STORES = _Stores()


def _verified(proto: Any, server_name: str, store: Any, now: dt.datetime) -> str | None:
    """Why the certificate the handshake received is not to be trusted for
    ``server_name``, or None: aioquic's own checks (``aioquic.tls.verify_certificate``:
    the leaf's dates, its name by service_identity, the chain by OpenSSL), in its order
    and with its words, against ``store``."""
    from OpenSSL import crypto

    tls = proto._quic.tls
    leaf = getattr(tls, "_peer_certificate", None)
    if leaf is None:
        return "the server sent no certificate"
    if now < leaf.not_valid_before_utc:
        return "Certificate is not valid yet"
    if now > leaf.not_valid_after_utc:
        return "Certificate is no longer valid"
    names = _tls.certificate(leaf.public_bytes(_der()), now).sans
    if not _tls.names_match(names, server_name):
        return f"hostname {server_name!r} doesn't match {', '.join(names) or 'no name'}"
    chain = [crypto.X509.from_cryptography(c) for c in tls._peer_certificate_chain]
    context = crypto.X509StoreContext(store, crypto.X509.from_cryptography(leaf), chain)
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        return str(exc.args[0])
    return None


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


async def handshake(
    family: int,
    address: str,
    port: int,
    *,
    server_name: str,
    cacert: str | None,
    verify: bool,
    timeout: float,
    url: str,
    now: dt.datetime,
    closers: list[Callable[[], None]],
) -> Handshake:
    """QUIC's handshake with ``address``: ALPN ``h3``, SNI ``server_name`` (none for an
    address), the certificate verified unless ``verify`` is false.  Never raises for what
    the server does or does not do.  What closes the connection goes into ``closers`` as
    soon as there is one, for the caller to call, even when this is cancelled."""
    from aioquic.h3.connection import H3_ALPN
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    details = TlsDetails(None if _is_address(server_name) else server_name, False)
    where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"

    def fail(kind: Kind, detail: str) -> Handshake:
        failure = failure_for(kind, detail, url=url, host=server_name, port=port)
        return Handshake(details, failure)

    try:
        store = STORES.get(cacert) if verify else None
    except Exception:  # OpenSSL's error (a list of its codes) for a file it cannot use
        why = "no such file" if cacert and not os.path.isfile(cacert) else "no certificate in it"
        return fail(Kind.TLS_UNTRUSTED, f"cannot read the CA file {cacert}: {why}")
    # aioquic verifies nothing itself (it would build a store at every handshake): the
    # certificate is verified below, against the cached store, before anything is sent.
    config = QuicConfiguration(
        is_client=True,
        alpn_protocols=H3_ALPN,
        server_name=server_name,
        verify_mode=ssl.CERT_NONE,
    )
    client = _client_class()
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect((address, port))
        peer = sock.getpeername()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: client(QuicConnection(configuration=config)), sock=sock
        )
    except OSError as exc:
        sock.close()
        return fail(Kind.CONNECT_UNREACHABLE, f"cannot send UDP to {where}: {exc.strerror}")
    except BaseException:  # cancelled (the deadline) before the transport took the socket
        sock.close()
        raise
    result = Handshake(details)
    closers.append(lambda: _close(proto, transport))
    proto.connect(peer)
    try:
        async with asyncio.timeout(timeout):
            await proto.wait_connected()
    except TimeoutError:
        kind, why = (
            (Kind.CONNECT_TIMEOUT, _SILENT_UDP.format(where=where, timeout=timeout))
            if proto.datagrams == 0
            else (Kind.TLS_TIMEOUT, _SLOW_HANDSHAKE.format(where=where, timeout=timeout))
        )
        result.failure = failure_for(kind, why, url=url, host=server_name, port=port)
    except ConnectionError:
        result.failure = (
            failure_for(
                Kind.CONNECT_REFUSED,
                f"nothing listens on UDP port {port} of {address}: the QUIC Initial was "
                "refused (ICMP port unreachable)",
                url=url,
                host=server_name,
                port=port,
            )
            if proto.refused
            else _closed(proto.terminated, where=where, url=url, host=server_name, port=port)
        )
    result.datagrams = proto.datagrams
    if result.failure is None and store is not None:
        refusal = _verified(proto, server_name, store, now)
        if refusal is not None:
            said = f"the certificate of {where} failed verification ({refusal})"
            kind = _alert_kind(42, refusal)
            result.failure = failure_for(kind, said, url=url, host=server_name, port=port)
            result.unverified = proto
    result.details = _described(proto, details.server_name, result.failure is None and verify, now)
    if result.failure is None:
        result.connection = proto
    return result


_SILENT_UDP = (
    "no answer over QUIC (UDP) from {where} within {timeout:g} s: nothing listens on that "
    "UDP port, or a firewall drops UDP (HTTP/3 needs it)"
)
_SLOW_HANDSHAKE = (
    "{where} answered over QUIC but did not complete the handshake within {timeout:g} s"
)


def _described(proto: Any, server_name: str | None, verified: bool, now: dt.datetime) -> TlsDetails:
    """The quic phase's details: as the tls phase's, from aioquic's TLS 1.3 state."""
    chain = _peer_chain(proto, now)
    tls = proto._quic.tls
    alpn = getattr(tls, "alpn_negotiated", None) if tls is not None else None
    suite = getattr(getattr(tls, "key_schedule", None), "cipher_suite", None)
    return TlsDetails(
        server_name,
        verified,
        "TLSv1.3" if chain else None,
        getattr(suite, "name", None),
        alpn,
        chain if chain else None,
    )


@functools.cache
def _client_class() -> type[Any]:
    """aioquic's protocol, counting the datagrams that came back, taking an ICMP refusal
    (a connected socket's ``ECONNREFUSED``) as the end of the handshake, and handing the
    events to the request's HTTP/3 layer.  Made once, at the first HTTP/3 probe."""
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.quic.events import ConnectionTerminated

    class Client(QuicConnectionProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.datagrams = 0
            self.refused = False
            self.terminated: Any = None
            self.on_h3: Callable[[Any], None] | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(cast(asyncio.DatagramTransport, _Connected(transport)))

        def datagram_received(self, data: bytes | str, addr: Any) -> None:
            self.datagrams += 1
            super().datagram_received(data, addr)

        def error_received(self, exc: Exception) -> None:
            self.refused = self.refused or isinstance(exc, ConnectionRefusedError)
            waiter, self._connected_waiter = self._connected_waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionError())

        def quic_event_received(self, event: Any) -> None:
            if isinstance(event, ConnectionTerminated) and self.terminated is None:
                self.terminated = event
            if self.on_h3 is not None:
                self.on_h3(event)

    return Client


class _Connected:
    """A datagram transport over a connected socket, as aioquic's protocol uses it: it
    sends each datagram with the peer's address, which asyncio's own loop accepts on a
    connected socket and uvloop's (the monitor's) refuses (``sendto`` with an address on a
    connected socket fails with ``EISCONN``); the socket knows its peer, so none is given."""

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self._transport.sendto(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _close(proto: Any, transport: asyncio.BaseTransport) -> None:
    """CONNECTION_CLOSE, sent at once; then the socket."""
    try:
        proto.close()
    finally:
        transport.close()


def _peer_chain(proto: Any, now: dt.datetime) -> tuple[Certificate, ...]:
    """The certificates the server sent (leaf first), as far as the handshake got: aioquic
    keeps them before it verifies them, so a failed verification still shows them."""
    tls = getattr(getattr(proto, "_quic", None), "tls", None)
    leaf = getattr(tls, "_peer_certificate", None)
    if leaf is None:
        return ()
    from cryptography.hazmat.primitives.serialization import Encoding

    rest = getattr(tls, "_peer_certificate_chain", None) or []
    return tuple(_tls.certificate(c.public_bytes(Encoding.DER), now) for c in [leaf, *rest])


def _closed(event: Any, *, where: str, url: str, host: str, port: int) -> Failure:
    """The failure a CONNECTION_CLOSE during the handshake means."""
    if event is None:
        return failure_for(
            Kind.CONNECTION_CLOSED,
            f"the QUIC connection to {where} ended during the handshake",
            url=url,
            host=host,
            port=port,
        )
    code, reason = event.error_code, (event.reason_phrase or "").strip()
    if _CRYPTO_ERROR <= code < _CRYPTO_ERROR + 0x100:
        alert = code - _CRYPTO_ERROR
        kind = _alert_kind(alert, reason)
        said = f"TLS alert {alert}" + (f": {reason}" if reason else "")
        return failure_for(
            kind, f"the QUIC handshake with {where} failed ({said})", url=url, host=host, port=port
        )
    said = f"error 0x{code:x}" + (f": {reason}" if reason else "")
    return failure_for(
        Kind.TLS_PROTOCOL,
        f"the QUIC connection to {where} was closed during the handshake ({said})",
        url=url,
        host=host,
        port=port,
    )


def _alert_kind(alert: int, reason: str) -> Kind:
    text = reason.lower()
    if alert == 45 or "expired" in text or "no longer valid" in text or "not valid yet" in text:
        return Kind.TLS_EXPIRED
    if "doesn't match" in text or "does not match" in text or "hostname" in text:
        return Kind.TLS_HOSTNAME_MISMATCH
    if "self-signed" in text or "self signed" in text:
        return Kind.TLS_SELF_SIGNED
    if alert in (42, 43, 44, 46, 48):  # bad, unsupported, revoked, unknown cert; unknown CA
        return Kind.TLS_UNTRUSTED
    return Kind.TLS_PROTOCOL


def _is_address(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return True
    return False


async def request(
    proto: QuicConnectionProtocol,
    *,
    method: str,
    authority: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    timeout: float,
    max_body: int,
    keep_body: int,
    url: str,
    out: Exchange,
) -> Exchange:
    """One request on a new stream of ``proto``; the answer goes into ``out`` as it comes
    (status, headers, the body up to ``max_body``).  Never raises for what the server does."""
    from aioquic.h3.connection import H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived
    from aioquic.quic.events import ConnectionTerminated, StreamReset

    h3 = H3Connection(proto._quic)
    quic = proto._quic
    stream_id = quic.get_next_available_stream_id()
    progress = asyncio.Event()
    state: dict[str, Any] = {"ended": False, "reset": None, "closed": None}
    out.version = "3"
    started = time.perf_counter()

    def received(event: Any) -> None:
        if isinstance(event, ConnectionTerminated):
            state["closed"] = event
        elif isinstance(event, StreamReset) and event.stream_id == stream_id:
            state["reset"] = event.error_code
        for h in h3.handle_event(event):
            if getattr(h, "stream_id", None) != stream_id:
                continue
            if out.ttfb_ms is None:
                out.ttfb_ms = (time.perf_counter() - started) * 1000
            if isinstance(h, HeadersReceived):
                _take_headers(out, h.headers)
            elif isinstance(h, DataReceived):
                if len(out.body) < keep_body:
                    out.body += h.data[: keep_body - len(out.body)]
                out.size += len(h.data)
                out.over_limit = out.size > max_body
            if getattr(h, "stream_ended", False):
                state["ended"] = True
        progress.set()

    proto.on_h3 = received  # type: ignore[attr-defined]
    h3.send_headers(stream_id, request_fields(method, authority, path, headers, body), not body)
    if body:
        h3.send_data(stream_id, body, end_stream=True)
    proto.transmit()
    while not (state["ended"] or out.over_limit):
        if (failure := _broken(state, url)) is not None:
            out.failure = failure
            return out
        progress.clear()
        try:
            async with asyncio.timeout(timeout):
                await progress.wait()
        except TimeoutError:
            what = (
                f"the body stopped arriving: nothing for {timeout:g} s"
                if out.status is not None
                else f"the server sent no answer over HTTP/3 within {timeout:g} s"
            )
            out.failure = failure_for(Kind.READ_TIMEOUT, what, url=url)
            return out
    out.complete = state["ended"]
    return out


def request_fields(
    method: str, authority: str, path: str, headers: list[tuple[str, str]], body: bytes | None
) -> list[tuple[bytes, bytes]]:
    """The request's fields: the pseudo-headers, then the caller's, lower-cased, less
    those HTTP/3 has no place for (``Host`` is ``:authority``; no connection-specific
    fields, RFC 9114 section 4.2)."""
    names = {n.lower() for n, _ in headers}
    sent = [
        (b":method", method.encode()),
        (b":scheme", b"https"),
        (b":authority", authority.encode()),
        (b":path", path.encode()),
    ]
    base = [("user-agent", _USER_AGENT), ("accept", "*/*")]
    for name, value in [(n, v) for n, v in base if n not in names] + headers:
        if name.lower() in ("host", "connection", "transfer-encoding", "keep-alive", "upgrade"):
            continue
        sent.append((name.lower().encode(), value.encode()))
    if body is not None and "content-length" not in names:
        sent.append((b"content-length", str(len(body)).encode()))
    return sent


def _broken(state: dict[str, Any], url: str) -> Failure | None:
    """The stream reset, or the connection closed, before the answer ended."""
    if state["reset"] is not None:
        return failure_for(
            Kind.CONNECTION_RESET,
            f"the server reset the HTTP/3 stream (error 0x{state['reset']:x})",
            url=url,
        )
    event = state["closed"]
    if event is None:
        return None
    said = f"error 0x{event.error_code:x}" + (
        f": {event.reason_phrase}" if event.reason_phrase else ""
    )
    return failure_for(
        Kind.CONNECTION_CLOSED,
        f"the server closed the QUIC connection before the answer was complete ({said})",
        url=url,
    )


def _take_headers(out: Exchange, headers: list[tuple[bytes, bytes]]) -> None:
    fields: dict[str, str] = {}
    for name, value in headers:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        if key == ":status":
            if out.status is None and text.isascii() and text.isdigit():
                out.status = int(text)
            continue
        if key.startswith(":"):
            continue
        fields[key] = f"{fields[key]}, {text}" if key in fields else text
    if not out.headers:
        out.headers = fields
