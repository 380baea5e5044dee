"""``classify(exc)``: one place that knows every library's exceptions.

The root cause of a network failure hides under wrappers: requests wraps
urllib3's ``MaxRetryError``, whose ``reason`` is the real error; httpx chains
httpcore's error, which chains the ``OSError``; aiohttp keeps it in
``os_error`` or ``certificate_error``.  So classification walks the whole
chain and collects two sorts of evidence:

* **facts** from each exception: an errno, a ``getaddrinfo`` code, a
  certificate ``verify_code``, an OpenSSL reason, an HTTP status, or a
  library's own specific class.  Each fact names a kind, with a strength: a
  precise low-level fact (errno 111) beats a library's class (httpx's
  ``RemoteProtocolError``), which beats a generic wrapper (requests'
  ``ReadTimeout``).  Among equals the deepest wins.
* **context** from the wrappers: the failure happened talking to a proxy,
  while connecting, or while reading.  Context turns "refused" into "proxy
  unreachable" and a bare ``TimeoutError`` into a connect or read timeout.

Classes are recognised by name (``"urllib3.NewConnectionError"``, package plus
class name, first match along the MRO), so no HTTP library is imported here
and subclass traps resolve themselves: urllib3's ``NameResolutionError``
subclasses ``NewConnectionError``, which subclasses ``ConnectTimeoutError``,
and ``http.client.RemoteDisconnected`` is both a reset and a bad status line;
the most derived rule wins.

Words are read only from the clients that wrote them.  Much of what a library knows
is only in its message ("Tunnel connection failed: 407", "Receive buffer too long"),
and the same words can come from any code: a message is matched only on an exception
from a client whose messages are known, which its class says, or for a builtin
(``OSError``, ``ValueError``, ``TimeoutError``) the function that raised it or a
client's exception wrapping it.  What does not depend on words counts whoever raised
it: a network errno, and the builtin connection errors (a bare
``ConnectionResetError()`` is still a reset).  Parsers' errors go through the table in
``_parser_errors``, which the probe reads too.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import re
import socket
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from tether._catalogue import CATALOGUE, hint_for
from tether._failure import Failure
from tether._hostport import bracketed, default_port
from tether._kinds import Kind, Layer
from tether._parser_errors import PARSER_ERRORS, parser_error
from tether._redact import redact_text, redact_url

__all__ = ["classify", "classify_status", "parse_retry_after"]

# Evidence strengths.
_CONTEXT = 0  # a bare timeout: its kind depends on where it happened
_WRAPPER = 1  # a generic wrapper class: requests' ReadTimeout, aiohttp's ClientPayloadError
_LIBRARY = 2  # a library's specific class or message: "Server disconnected"
_FACT = 3  # errno, gaierror code, verify_code, SSL reason, HTTP status

_MAX_NODES = 24

_TIMEOUT = "timeout"  # placeholder kind for a timeout whose phase is not known yet
# A TimeoutError nothing says came from a network client (``future.result(timeout=)``,
# ``asyncio.wait_for``): a deadline if a cancellation inside a client's I/O caused it.
_BARE_TIMEOUT = "bare timeout"


class _Evidence:
    """What the walk has learnt so far; a scratch object, never returned."""

    __slots__ = (
        "best",
        "best_rank",
        "body_size",
        "connect",
        "deadline",
        "detail",
        "errno",
        "headers",
        "host",
        "known",
        "port",
        "proxy",
        "read",
        "status",
        "timeouts",
        "tls",
        "tls_wait",
        "url",
        "write",
    )

    def __init__(self, url: str | None) -> None:
        self.best: Kind | str | None = None
        self.best_rank: tuple[int, int] = (-1, -1)
        self.detail: str | None = None
        self.errno: int | None = None
        self.status: int | None = None
        self.headers: Any = None
        self.host: str | None = None
        self.port: int | None = None
        self.url = url
        self.proxy = False
        self.connect = False
        self.read = False
        self.tls = False
        self.tls_wait = False
        self.write = False
        self.body_size: int | None = None
        self.deadline = False
        self.timeouts: list[BaseException] = []
        self.known = False
        """Whether the exception being read came from a client whose messages are known."""

    def offer(
        self,
        kind: Kind | str,
        strength: int,
        depth: int,
        detail: str | None = None,
    ) -> None:
        rank = (strength, depth)
        if rank >= self.best_rank:
            self.best, self.best_rank = kind, rank
            self.detail = detail

    def at(self, host: Any, port: Any, depth: int) -> None:
        """Note the peer; deeper nodes know the real peer (the proxy, not the target)."""
        if isinstance(host, str) and host:
            self.host = host.strip("[]")
            if isinstance(port, int) and not isinstance(port, bool):
                self.port = port


_Rule = Callable[[BaseException, _Evidence, int], None]


# --- rules: one per exception class, keyed "package.ClassName" ----------------


def _os_error(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """An errno is the kernel's word and means the same whoever raised it; the message of
    an ``OSError`` that has none is read only when a known client raised it."""
    code = getattr(exc, "errno", None)
    if not isinstance(code, int) and ev.known:
        text = str(exc)
        if "Tunnel connection failed" in text:  # http.client's refused CONNECT
            _tunnel_status(exc, ev, depth)
            return
        if text.startswith("Multiple exceptions: "):  # asyncio, one error per address
            codes = set(re.findall(r"\[Errno (\d+)\]", text))
            if len(codes) == 1:
                code = int(codes.pop())
    if not isinstance(code, int):
        _errno_less(exc, ev, depth)
        return
    if code in _RESOURCE_ERRNOS:
        _resource_errno(exc, code, ev, depth)
        return
    kind = _ERRNO_KINDS.get(code)
    if (
        kind is None
        and code in _CONNECT_ONLY_ERRNOS
        and (ev.connect or _origin(exc) in _CONNECT_CALLS)
    ):
        kind = Kind.CONNECT_UNREACHABLE
    if kind is None:
        return
    ev.errno = code
    ev.offer(kind, _FACT, depth, getattr(exc, "strerror", None) or None)


_ERRNO_KINDS: dict[int, Kind | str] = {
    _errno.ECONNREFUSED: Kind.CONNECT_REFUSED,
    _errno.ECONNRESET: Kind.CONNECTION_RESET,
    _errno.EPIPE: Kind.CONNECTION_BROKEN_PIPE,
    _errno.ECONNABORTED: Kind.CONNECTION_ABORTED,
    _errno.ENETUNREACH: Kind.CONNECT_UNREACHABLE,
    _errno.EHOSTUNREACH: Kind.CONNECT_UNREACHABLE,
    _errno.ENETDOWN: Kind.CONNECT_UNREACHABLE,
    _errno.EHOSTDOWN: Kind.CONNECT_UNREACHABLE,
    _errno.ETIMEDOUT: _TIMEOUT,
}
# A "prohibit" route gives EACCES and a "blackhole" route EINVAL, but only a
# connect() makes them mean "unreachable": a client's wrapper says so, or the
# traceback, which ends in the standard library's connect.
_CONNECT_ONLY_ERRNOS = frozenset({_errno.EACCES, _errno.EPERM, _errno.EINVAL})
_CONNECT_CALLS = frozenset(
    {
        ("socket", "create_connection"),
        ("asyncio.base_events", "create_connection"),
        ("asyncio.base_events", "_connect_sock"),
        ("asyncio.selector_events", "sock_connect"),
        ("asyncio.selector_events", "_sock_connect"),
        ("asyncio.selector_events", "_sock_connect_cb"),
        ("urllib3.util.connection", "create_connection"),
    }
)


def _errno_less(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """A reset is a reset whether it carries errno 104 or none: asyncio raises a bare
    ``ConnectionResetError()`` when the peer closes during a TLS handshake, and
    ``ConnectionResetError("Connection lost")`` when it writes to a closed stream."""
    kind = next((k for cls, k in _CONNECTION_ERRORS if isinstance(exc, cls)), None)
    if kind is None:
        return
    if kind is Kind.CONNECTION_RESET and (
        ev.connect or any(frame in _TLS_HANDSHAKES for frame in _frames(exc))
    ):
        # A TCP connect's errors all carry an errno: this is asyncio's TLS handshake
        # meeting the end of the stream, what the ssl module calls SSLEOFError.
        _tls_eof(ev, depth)
        return
    ev.offer(kind, _LIBRARY, depth)


_CONNECTION_ERRORS: tuple[tuple[type[BaseException], Kind], ...] = (
    (ConnectionResetError, Kind.CONNECTION_RESET),
    (ConnectionRefusedError, Kind.CONNECT_REFUSED),
    (BrokenPipeError, Kind.CONNECTION_BROKEN_PIPE),
    (ConnectionAbortedError, Kind.CONNECTION_ABORTED),
)
_TLS_HANDSHAKES = frozenset(
    {
        ("asyncio.base_events", "start_tls"),
        ("asyncio.streams", "start_tls"),
        ("asyncio.sslproto", "_on_handshake_complete"),
    }
)


def _tls_eof(ev: _Evidence, depth: int) -> None:
    ev.tls = True
    ev.offer(
        Kind.TLS_PROTOCOL, _FACT, depth, "the server closed the connection during the TLS handshake"
    )


def _end_of_stream(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """anyio's ``EndOfStream`` under httpcore's ``ConnectError``: httpcore maps it so only in
    ``start_tls``, as TCP connects have no stream to end."""
    if ev.connect:
        _tls_eof(ev, depth)


def _gaierror(exc: BaseException, ev: _Evidence, depth: int) -> None:
    code = getattr(exc, "errno", None)
    kind = _EAI_KINDS.get(code) if isinstance(code, int) else None
    if kind is not None:
        ev.errno = code
        ev.offer(kind, _FACT, depth, getattr(exc, "strerror", None))


_EAI_KINDS: dict[int, Kind] = {
    code: kind
    for name, kind in (
        ("EAI_NONAME", Kind.DNS_NOT_FOUND),
        ("EAI_NODATA", Kind.DNS_NO_ADDRESS),
        ("EAI_ADDRFAMILY", Kind.DNS_NO_ADDRESS),
        ("EAI_AGAIN", Kind.DNS_UNAVAILABLE),
        ("EAI_FAIL", Kind.DNS_UNAVAILABLE),
        ("EAI_SERVICE", Kind.URL_INVALID),
    )
    if (code := getattr(socket, name, None)) is not None
}


def _verify_error(exc: BaseException, ev: _Evidence, depth: int) -> None:
    code = getattr(exc, "verify_code", None)
    message = getattr(exc, "verify_message", None) or None
    kind = _VERIFY_KINDS.get(code, Kind.TLS_UNTRUSTED) if isinstance(code, int) else None
    if kind is None:
        # No code (a hand-made CertificateError): go by the words, or call it untrusted.
        text = str(exc).lower()
        kind = (
            Kind.TLS_HOSTNAME_MISMATCH
            if "match" in text
            else Kind.TLS_EXPIRED
            if "expired" in text or "not yet valid" in text
            else Kind.TLS_SELF_SIGNED
            if text.strip() == "self-signed certificate"
            else Kind.TLS_UNTRUSTED
        )
    ev.tls = True
    ev.offer(kind, _FACT, depth, message)


# X509_V_ERR_* codes (OpenSSL's x509_vfy.h).
_VERIFY_KINDS: dict[int, Kind] = {
    9: Kind.TLS_EXPIRED,  # certificate is not yet valid
    10: Kind.TLS_EXPIRED,  # certificate has expired
    18: Kind.TLS_SELF_SIGNED,  # self-signed leaf
    19: Kind.TLS_UNTRUSTED,  # self-signed root in chain: a CA nobody here trusts
    20: Kind.TLS_UNTRUSTED,  # unable to get local issuer: unknown CA or missing intermediate
    21: Kind.TLS_UNTRUSTED,  # unable to verify the first certificate
    2: Kind.TLS_UNTRUSTED,  # unable to get issuer certificate
    62: Kind.TLS_HOSTNAME_MISMATCH,
    64: Kind.TLS_HOSTNAME_MISMATCH,  # IP address mismatch
    63: Kind.TLS_HOSTNAME_MISMATCH,  # email mismatch
    # The certificate is too weak for this client's security level: the chain may be
    # trusted, but the two sides cannot agree on it.
    66: Kind.TLS_PROTOCOL,  # EE certificate key too weak
    67: Kind.TLS_PROTOCOL,  # CA certificate key too weak
    68: Kind.TLS_PROTOCOL,  # CA signature digest algorithm too weak
}


def _ssl_error(exc: BaseException, ev: _Evidence, depth: int) -> None:
    reason = getattr(exc, "reason", None)
    name = type(exc).__name__
    if name == "SSLError" and not _ssl_on_connection(exc, ev):
        return  # a certificate, key or CA file that did not load: this machine's setup
    ev.tls = True
    if name == "SSLZeroReturnError":
        ev.offer(Kind.CONNECTION_CLOSED, _FACT, depth, "the peer closed the TLS session")
    elif name == "SSLEOFError" and ev.read and not ev.connect:
        ev.offer(Kind.CONNECTION_CLOSED, _FACT, depth, "the peer closed the connection mid-stream")
    elif name in ("SSLWantReadError", "SSLWantWriteError"):
        # anyio (httpx async) leaves this under a ConnectTimeout when the
        # server never answers the TLS hello: the handshake was waiting.
        ev.tls_wait = True
    elif name == "SSLSyscallError":
        return
    else:
        detail = _SSL_REASONS.get(reason) if isinstance(reason, str) else None
        if detail is None and name == "SSLEOFError":
            detail = "the server closed the connection during the TLS handshake"
        ev.offer(Kind.TLS_PROTOCOL, _FACT, depth, detail or (reason or str(exc)))


_SSL_REASONS = {
    "WRONG_VERSION_NUMBER": "the server did not answer in TLS (is it a plain-text port?)",
    "RECORD_LAYER_FAILURE": "the server did not answer in TLS (is it a plain-text port?)",
    "PACKET_LENGTH_TOO_LONG": "the server did not answer in TLS (is it a plain-text port?)",
    "HTTP_REQUEST": "the server expected TLS but was sent plain HTTP",
    "TLSV1_ALERT_PROTOCOL_VERSION": "client and server share no TLS version",
    "UNSUPPORTED_PROTOCOL": "client and server share no TLS version",
    "NO_PROTOCOLS_AVAILABLE": "client and server share no TLS version",
    "VERSION_TOO_LOW": "the server offered a TLS version the client refuses",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "client and server share no cipher suite or TLS feature",
    "NO_SHARED_CIPHER": "client and server share no cipher suite",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server rejected the client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust the client certificate's CA",
    "TLSV1_UNRECOGNIZED_NAME": "the server does not serve that name (SNI)",
}


def _ssl_on_connection(exc: BaseException, ev: _Evidence) -> bool:
    """Whether a plain ``ssl.SSLError`` came from a TLS connection, not from loading a file
    (``load_cert_chain``, ``load_verify_locations``: ``[SSL] PEM lib``, ``[X509: ...]``)."""
    origin = _origin(exc)
    if origin is not None and (origin[0] == "asyncio.sslproto" or origin in _TLS_IO):
        return True
    library, reason = getattr(exc, "library", None), getattr(exc, "reason", None)
    if library == "SSL" and isinstance(reason, str):
        return reason not in _LOCAL_SSL_REASONS
    if library is None and reason is None:  # made by hand: the wrapper says where it was
        return ev.tls or ev.connect or ev.read or ev.write
    return False  # the PEM, X509 or ASN1 library, or "[SSL] PEM lib": reading a file


_TLS_IO = frozenset(
    ("ssl", name)
    for name in ("do_handshake", "read", "write", "recv", "recv_into", "send", "sendall", "unwrap")
)
# Reasons of the SSL library that loading a certificate or key gives.
_LOCAL_SSL_REASONS = frozenset(
    {"CA_KEY_TOO_SMALL", "CA_MD_TOO_WEAK", "EE_KEY_TOO_SMALL", "KEY_VALUES_MISMATCH"}
)


def _timeout(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """The socket and ssl modules' timeouts carry their own words; any other bare
    ``TimeoutError`` is a network timeout only when a known client raised it."""
    text = str(exc)
    if _HANDSHAKE_TIMEOUT.fullmatch(text) or (ev.known and "handshake operation timed out" in text):
        ev.tls = True
        ev.offer(Kind.TLS_TIMEOUT, _FACT, depth, "the server did not answer the TLS handshake")
    elif (
        ev.known or isinstance(getattr(exc, "errno", None), int) or _SOCKET_TIMEOUT.fullmatch(text)
    ):
        _os_error(exc, ev, depth)  # ETIMEDOUT carries an errno
        ev.timeouts.append(exc)
        ev.offer(_TIMEOUT, _CONTEXT, depth)
    else:
        ev.offer(_BARE_TIMEOUT, _CONTEXT, depth)


# What socketmodule.c and _ssl.c raise, word for word.
_SOCKET_TIMEOUT = re.compile(r"timed out|The (?:read|write) operation timed out")
_HANDSHAKE_TIMEOUT = re.compile(r"(?:_ssl\.c:\d+: )?The handshake operation timed out")


def _cancelled(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """A ``TimeoutError`` caused by a cancellation is an overall timeout (aiohttp's
    ``total``, ``asyncio.timeout``), if the cancellation stopped a client's I/O."""
    if any(_client_code(frame) for frame in _frames(exc)):
        ev.deadline = True


def _remote_disconnected(exc: BaseException, ev: _Evidence, depth: int) -> None:
    ev.offer(Kind.CONNECTION_CLOSED, _FACT, depth)


def _incomplete_read(exc: BaseException, ev: _Evidence, depth: int) -> None:
    partial, expected = getattr(exc, "partial", None), getattr(exc, "expected", None)
    got = partial if isinstance(partial, int) else len(partial) if partial is not None else None
    detail = None
    if isinstance(got, int) and isinstance(expected, int):
        detail = f"{got} bytes arrived, {expected} more were announced"
    _parser(exc, ev, depth, detail)


def _parser(exc: BaseException, ev: _Evidence, depth: int, detail: str | None = None) -> bool:
    """A parser's error, read through the table the probe reads too (``_parser_errors``)."""
    row = parser_error(_names(type(exc)), str(exc))
    if row is None:
        return False
    ev.offer(row.kind, _EVIDENCE[row.evidence], depth, detail or _first_line(exc))
    return True


def _parser_rule(exc: BaseException, ev: _Evidence, depth: int) -> None:
    _parser(exc, ev, depth)


_EVIDENCE = {"fact": _FACT, "words": _LIBRARY, "wrapper": _WRAPPER}


def _fixed(kind: Kind, strength: int = _FACT, *, context: str | None = None) -> _Rule:
    """A rule that offers ``kind``, and notes a context (proxy, connect, read, tls)."""

    def rule(exc: BaseException, ev: _Evidence, depth: int) -> None:
        if context:
            setattr(ev, context, True)
        ev.offer(kind, strength, depth, _first_line(exc))

    return rule


def _context(*flags: str, kind: Kind | str | None = None, strength: int = _WRAPPER) -> _Rule:
    def rule(exc: BaseException, ev: _Evidence, depth: int) -> None:
        for flag in flags:
            setattr(ev, flag, True)
        if kind is not None:
            ev.offer(kind, strength, depth)

    return rule


def _urllib3_proxy(exc: BaseException, ev: _Evidence, depth: int) -> None:
    ev.proxy = True
    _tunnel_status(exc, ev, depth)


def _tunnel_status(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """urllib3 and httpcore word a refused CONNECT as "... 407 Proxy Authentication Required"."""
    match = re.search(r"(?:Tunnel connection failed|CONNECT)\D*?(\d{3})", str(exc)) or (
        re.search(r"^(\d{3}) ", str(exc))
    )
    if match:
        ev.proxy = True
        _proxy_status(int(match[1]), ev, depth)


def _proxy_status(status: int, ev: _Evidence, depth: int) -> None:
    ev.status = status
    kind = Kind.PROXY_AUTH_REQUIRED if status == 407 else Kind.PROXY_REJECTED
    ev.offer(kind, _FACT, depth)


def _urllib3_aborted(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """urllib3's ``ProtocolError("Connection aborted.", cause)``: what broke while sending
    the request or waiting for the status line.  urllib3 turns the timeouts of connecting
    and of reading into classes of their own, so a bare socket timeout as the cause ran
    out while sending: the server stopped reading the request."""
    if any(isinstance(arg, TimeoutError) for arg in exc.args[1:]):
        ev.write = True
        return
    _parser(exc, ev, depth)


def _response_status(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """requests' and httpx's HTTPError, urllib's HTTPError: the response they carry."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None)
    if status is None:  # urllib.error.HTTPError is the response itself
        status, headers = getattr(exc, "code", None), getattr(exc, "headers", None)
    if isinstance(status, int):
        if status < 400 and "redirect" in str(exc).lower():  # urllib's loop detector
            ev.status = status
            ev.offer(Kind.HTTP_REDIRECT_LOOP, _FACT, depth)
            return
        _offer_status(status, headers, ev, depth, _FACT)
        request = getattr(response, "request", None)
        _note_url(getattr(request, "url", None), ev)


def _offer_status(status: int, headers: Any, ev: _Evidence, depth: int, strength: int) -> None:
    kind = _status_kind(status)
    if kind is not None:
        ev.status, ev.headers = status, headers
        ev.offer(kind, strength, depth)


def _aiohttp_response(exc: BaseException, ev: _Evidence, depth: int) -> None:
    status = getattr(exc, "status", None)
    info = getattr(exc, "request_info", None)
    _note_url(getattr(info, "real_url", None), ev)
    if isinstance(status, int):
        # aiohttp reports an unparsable status line as a 400 "Bad status line":
        # its parser's exception, further down the chain, outranks this guess.
        _offer_status(status, getattr(exc, "headers", None), ev, depth, _LIBRARY)


def _aiohttp_proxy_status(exc: BaseException, ev: _Evidence, depth: int) -> None:
    ev.proxy = True
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        _proxy_status(status, ev, depth)


def _aiohttp_connector(*flags: str) -> _Rule:
    def rule(exc: BaseException, ev: _Evidence, depth: int) -> None:
        for flag in flags:
            setattr(ev, flag, True)
        ev.connect = True
        ev.at(getattr(exc, "host", None), getattr(exc, "port", None), depth)

    return rule


def _url_invalid(exc: BaseException, ev: _Evidence, depth: int) -> None:
    ev.offer(Kind.URL_INVALID, _FACT, depth, _first_line(exc))


def _value_error(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """urllib.request, http.client and the IDNA codec report bad URLs, and http.client a
    chunk-size line that is not hexadecimal, as plain ValueError/UnicodeError: their
    words mean something only when one of those clients raised them."""
    if not ev.known or _parser(exc, ev, depth):
        return
    text = str(exc)
    if (
        "unknown url type" in text
        or "idna" in text
        or "label" in text
        or "Invalid IPv6 URL" in text
        or "Port out of range" in text
        or ("invalid literal for int" in text and depth == 0)
    ):
        ev.offer(Kind.URL_INVALID, _LIBRARY, depth, text)


def _overflow(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """``socket``'s ``connect(): port must be 0-65535.`` (anyio leaves it in an ExceptionGroup)."""
    if ev.known and "port must be 0-65535" in str(exc):
        ev.offer(Kind.URL_INVALID, _LIBRARY, depth, _first_line(exc))


def _url_error(exc: BaseException, ev: _Evidence, depth: int) -> None:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and ("unknown url type" in reason or reason == "no host given"):
        ev.offer(Kind.URL_INVALID, _FACT, depth, reason)


def _max_retry(exc: BaseException, ev: _Evidence, depth: int) -> None:
    pool = getattr(exc, "pool", None)
    reason = getattr(exc, "reason", None)
    proxy = getattr(pool, "proxy", None)
    if proxy is not None and type(reason).__name__ == "ProxyError":
        # A refused tunnel: the pool is the target's, the failing peer is the proxy.
        ev.at(getattr(proxy, "host", None), getattr(proxy, "port", None), depth)
    else:
        ev.at(getattr(pool, "host", None), getattr(pool, "port", None), depth)
    text = str(reason) if reason is not None else ""
    if "too many redirects" in text:
        ev.offer(Kind.HTTP_REDIRECT_LOOP, _FACT, depth)
    elif match := re.search(r"too many (\d{3}) error responses", text):
        _offer_status(int(match[1]), None, ev, depth, _FACT)


def _dnspython(kind: Kind) -> _Rule:
    return _fixed(kind, _FACT)


_RULES: dict[str, _Rule] = {
    # parsers' errors, from the table the probe reads too
    **{name: _parser_rule for row in PARSER_ERRORS for name in row.classes},
    # stdlib
    "socket.gaierror": _gaierror,
    "ssl.SSLCertVerificationError": _verify_error,
    "ssl.CertificateError": _verify_error,
    "ssl.SSLError": _ssl_error,
    "builtins.TimeoutError": _timeout,
    "asyncio.CancelledError": _cancelled,
    "builtins.OSError": _os_error,
    "http.RemoteDisconnected": _remote_disconnected,
    "http.IncompleteRead": _incomplete_read,
    "http.InvalidURL": _url_invalid,
    "urllib.HTTPError": _response_status,
    "urllib.URLError": _url_error,
    "builtins.UnicodeError": _value_error,
    "builtins.ValueError": _value_error,
    "builtins.OverflowError": _overflow,
    # anyio, under httpcore
    "anyio.EndOfStream": _end_of_stream,
    # dnspython
    "dns.NXDOMAIN": _dnspython(Kind.DNS_NOT_FOUND),
    "dns.NoAnswer": _dnspython(Kind.DNS_NO_ADDRESS),
    "dns.NoNameservers": _dnspython(Kind.DNS_UNAVAILABLE),
    "dns.LifetimeTimeout": _dnspython(Kind.DNS_TIMEOUT),
    "dns.Timeout": _dnspython(Kind.DNS_TIMEOUT),
    # urllib3 2.x (most derived first is automatic: the MRO decides)
    "urllib3.MaxRetryError": _max_retry,
    "urllib3.ProxyError": _urllib3_proxy,
    "urllib3.NameResolutionError": _context("connect", kind=Kind.DNS_UNAVAILABLE),
    "urllib3.NewConnectionError": _context("connect"),
    "urllib3.ConnectTimeoutError": _context("connect", kind=_TIMEOUT, strength=_CONTEXT),
    "urllib3.ReadTimeoutError": _context("read", kind=_TIMEOUT, strength=_CONTEXT),
    "urllib3.SSLError": _context("tls", "connect"),
    "urllib3.IncompleteRead": _incomplete_read,
    "urllib3.ProtocolError": _urllib3_aborted,
    "urllib3.LocationValueError": _url_invalid,
    "urllib3.URLSchemeUnknown": _url_invalid,
    # requests
    "requests.ProxyError": _context("proxy"),
    "requests.SSLError": _context("tls", "connect"),
    "requests.ConnectTimeout": _context("connect", kind=_TIMEOUT, strength=_CONTEXT),
    "requests.ReadTimeout": _context("read", kind=_TIMEOUT, strength=_CONTEXT),
    "requests.ChunkedEncodingError": _context("read", kind=Kind.RESPONSE_TRUNCATED),
    "requests.ContentDecodingError": _fixed(Kind.RESPONSE_MALFORMED, _LIBRARY),
    "requests.TooManyRedirects": _fixed(Kind.HTTP_REDIRECT_LOOP),
    "requests.InvalidURL": _url_invalid,
    "requests.InvalidSchema": _url_invalid,
    "requests.MissingSchema": _url_invalid,
    "requests.URLRequired": _url_invalid,
    "requests.HTTPError": _response_status,
    # httpx and httpcore
    "httpx.ConnectTimeout": _context("connect", kind=_TIMEOUT, strength=_CONTEXT),
    "httpcore.ConnectTimeout": _context("connect", kind=_TIMEOUT, strength=_CONTEXT),
    "httpx.ReadTimeout": _context("read", kind=_TIMEOUT, strength=_CONTEXT),
    "httpcore.ReadTimeout": _context("read", kind=_TIMEOUT, strength=_CONTEXT),
    "httpx.WriteTimeout": _context("write", kind=Kind.WRITE_TIMEOUT),
    "httpcore.WriteTimeout": _context("write", kind=Kind.WRITE_TIMEOUT),
    "httpx.ConnectError": _context("connect"),
    "httpcore.ConnectError": _context("connect"),
    "httpx.ReadError": _context("read"),
    "httpcore.ReadError": _context("read"),
    "httpx.ProxyError": _urllib3_proxy,
    "httpcore.ProxyError": _urllib3_proxy,
    "httpx.UnsupportedProtocol": _url_invalid,
    "httpcore.UnsupportedProtocol": _url_invalid,
    "httpx.InvalidURL": _url_invalid,
    "httpx.TooManyRedirects": _fixed(Kind.HTTP_REDIRECT_LOOP),
    "httpx.HTTPStatusError": _response_status,
    "httpx.DecodingError": _fixed(Kind.RESPONSE_MALFORMED, _LIBRARY),
    # aiohttp
    "aiohttp.ClientConnectorCertificateError": _aiohttp_connector("tls"),
    "aiohttp.ClientConnectorSSLError": _aiohttp_connector("tls"),
    "aiohttp.ClientProxyConnectionError": _aiohttp_connector("proxy"),
    "aiohttp.ClientConnectorDNSError": _aiohttp_connector(),
    "aiohttp.ClientConnectorError": _aiohttp_connector(),
    "aiohttp.ClientHttpProxyError": _aiohttp_proxy_status,
    "aiohttp.ServerDisconnectedError": _fixed(Kind.CONNECTION_CLOSED, _LIBRARY),
    "aiohttp.ConnectionTimeoutError": _context(
        "connect", kind=Kind.CONNECT_TIMEOUT, strength=_LIBRARY
    ),
    "aiohttp.SocketTimeoutError": _context("read", kind=Kind.READ_TIMEOUT, strength=_LIBRARY),
    "aiohttp.ServerTimeoutError": _context("read", kind=_TIMEOUT, strength=_CONTEXT),
    "aiohttp.ClientOSError": _os_error,
    "aiohttp.ClientPayloadError": _context("read", kind=Kind.RESPONSE_TRUNCATED),
    "aiohttp.TooManyRedirects": _fixed(Kind.HTTP_REDIRECT_LOOP),
    "aiohttp.InvalidURL": _url_invalid,
    "aiohttp.NonHttpUrlClientError": _url_invalid,
    "aiohttp.ServerFingerprintMismatch": _fixed(Kind.TLS_UNTRUSTED),
    "aiohttp.ClientResponseError": _aiohttp_response,
}


# --- walking the chain ------------------------------------------------------------------

_rule_cache: dict[type, _Rule | None] = {}


def _rule_for(cls: type) -> _Rule | None:
    try:
        return _rule_cache[cls]
    except KeyError:
        pass
    rule = next((r for name in _names(cls) if (r := _RULES.get(name)) is not None), None)
    _rule_cache[cls] = rule
    return rule


def _names(cls: type) -> list[str]:
    """``cls`` and its bases as the rules name them: ``"urllib3.NewConnectionError"``."""
    names = _names_cache.get(cls)
    if names is None:
        names = [f"{k.__module__.partition('.')[0]}.{k.__name__}" for k in cls.__mro__]
        _names_cache[cls] = names
    return names


_names_cache: dict[type, list[str]] = {}


def _children(exc: BaseException) -> list[BaseException]:
    """The exceptions ``exc`` wraps, explicit links first."""
    # Plain loops: this runs for every node of every chain classified.
    found = []
    for attr in _LINKS:
        inner = getattr(exc, attr, None)
        if inner is not None and isinstance(inner, BaseException):
            found.append(inner)
    for arg in exc.args[:3]:  # requests and urllib3 wrap the cause in args
        if isinstance(arg, BaseException):
            found.append(arg)
    if isinstance(exc, BaseExceptionGroup):
        found += exc.exceptions
    if exc.__cause__ is not None:
        found.append(exc.__cause__)
    elif not found and exc.__context__ is not None and not exc.__suppress_context__:
        found.append(exc.__context__)
    return found


_LINKS = ("reason", "original_error", "os_error", "certificate_error")


def _walk(exc: BaseException) -> list[tuple[BaseException, int, bool]]:
    """Every exception in the chain, depth first, outermost first; cycles cut.  With each,
    whether it came from a known client: its class is one of theirs, their code raised
    it, or it is wrapped in an exception that did."""
    seen: set[int] = set()
    order: list[tuple[BaseException, int, bool]] = []
    stack = [(exc, 0, False)]
    while stack and len(order) < _MAX_NODES:
        node, depth, inherited = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        known = inherited or _client_class(type(node)) or _client_code(_origin(node))
        order.append((node, depth, known))
        for child in reversed(_children(node)):
            stack.append((child, depth + 1, known))
    return order


# --- where an exception came from -----------------------------------------------------------
# Message text is matched only on exceptions from the clients whose messages are known.
# A builtin exception (OSError, ValueError, TimeoutError) says nothing of its source but
# by its traceback: the function that raised it.

_CLIENT_PACKAGES = frozenset({"aiohttp", "dns", "h11", "httpcore", "httpx", "requests", "urllib3"})
_CLIENT_MODULES = frozenset(
    {
        "http.client",
        "urllib.error",
        "urllib.request",
        "socket",
        "ssl",
        "asyncio.selector_events",
        "asyncio.proactor_events",
        "asyncio.streams",
        "asyncio.sslproto",
    }
)
# asyncio's event loop runs everything: only these of its functions are a client's.
_ASYNCIO_CLIENT = frozenset(
    ("asyncio.base_events", name)
    for name in (
        "create_connection",
        "_connect_sock",
        "_create_connection_transport",
        "start_tls",
        "getaddrinfo",
        "_ensure_resolved",
        "sock_connect",
        "sock_recv",
        "sock_sendall",
    )
)
# Helpers a client calls, which raise on its behalf: the caller is the source.
_HELPERS = ("urllib.parse", "encodings", "codecs", "idna", "ipaddress")

_Frame = tuple[str, str]


def _client_class(cls: type) -> bool:
    known = _client_class_cache.get(cls)
    if known is None:
        module = cls.__module__
        known = module.partition(".")[0] in _CLIENT_PACKAGES or module in _CLIENT_MODULES
        _client_class_cache[cls] = known
    return known


_client_class_cache: dict[type, bool] = {}


def _client_code(frame: _Frame | None) -> bool:
    if frame is None:
        return False
    module = frame[0]
    return (
        module.partition(".")[0] in _CLIENT_PACKAGES
        or module in _CLIENT_MODULES
        or frame in _ASYNCIO_CLIENT
    )


def _frames(exc: BaseException) -> list[_Frame]:
    """(module, function) of each frame of the traceback, the raising one last."""
    frames: list[_Frame] = []
    tb = exc.__traceback__
    while tb is not None and len(frames) < 200:
        code = tb.tb_frame.f_code
        frames.append((str(tb.tb_frame.f_globals.get("__name__", "")), code.co_name))
        tb = tb.tb_next
    return frames


def _origin(exc: BaseException) -> _Frame | None:
    """The frame that raised ``exc``, past the helpers that raised for their caller."""
    for frame in reversed(_frames(exc)):
        module = frame[0]
        if not any(module == h or module.startswith(h + ".") for h in _HELPERS):
            return frame
    return None


_peer_cache: dict[type, bool] = {}


def _carries_peer(cls: type) -> bool:
    """Only the HTTP libraries' exceptions carry connections, requests or URLs."""
    known = _peer_cache.get(cls)
    if known is None:
        known = cls.__module__.partition(".")[0] in (
            "urllib3",
            "requests",
            "httpx",
            "httpcore",
            "aiohttp",
        )
        _peer_cache[cls] = known
    return known


def _note_url(url: Any, ev: _Evidence) -> None:
    if url is not None and ev.url is None:
        ev.url = str(url)


def _note_peer(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """Pick up where the failure happened, from whatever the library attached."""
    conn = getattr(exc, "conn", None)  # urllib3 NewConnectionError / NameResolutionError
    if conn is None and exc.args and hasattr(exc.args[0], "host"):  # urllib3 ConnectTimeoutError
        conn = exc.args[0]
    if conn is not None:
        ev.at(getattr(conn, "host", None), getattr(conn, "port", None), depth)
    # httpx raises RuntimeError from .request when it is unset: read its slot first.
    request = vars(exc).get("_request") if hasattr(exc, "__dict__") else None
    if request is None:
        try:
            request = getattr(exc, "request", None)
        except Exception:
            request = None
    _note_url(getattr(request, "url", None), ev)
    _note_body_size(request, ev)


def _note_body_size(request: Any, ev: _Evidence) -> None:
    """The size of the request's body, from the Content-Length of the request that requests
    and httpx attach to their errors: what a write that did not finish was sending."""
    headers = getattr(request, "headers", None)
    try:
        length = headers.get("Content-Length") if headers is not None else None
    except Exception:  # not a mapping after all
        return
    if isinstance(length, str) and length.isdigit() and ev.body_size is None:
        ev.body_size = int(length)


# --- the public functions --------------------------------------------------------------


def classify(exc: BaseException, *, url: str | None = None) -> Failure:
    """Turn any exception into a :class:`Failure` with a stable ``kind``.

    Knows the exceptions of the standard library (socket, ssl, http.client,
    urllib), urllib3 2.x, requests, httpx/httpcore, aiohttp and dnspython, and
    walks their wrappers down to the root cause.  An error raised by tether's own
    integrations carries its :class:`Failure` (``exc.failure``), which is returned
    as it is (``circuit.open``, ``deadline.exceeded``, ...).  Never raises: an exception
    it does not recognise gives ``Kind.UNKNOWN``, with ``cause`` kept.  Message text is
    read only on exceptions those clients raised: ``ValueError("... label ...")`` from
    other code is ``unknown``.

    ``url`` is the URL that was requested, when the exception does not carry
    it; it is only used for the failure's ``url``, ``host`` and ``port``.
    """
    # tether's own errors (a Session's, an integration's) carry the verdict already:
    # an open circuit or a spent deadline is not something to guess from a message.
    found = getattr(exc, "failure", None)
    if isinstance(found, Failure):
        return found
    try:
        return _classify(exc, url)
    except Exception:  # classification must never be the thing that fails
        return _build(Kind.UNKNOWN, _Evidence(None), exc, None)


def _classify(exc: BaseException, url: str | None) -> Failure:
    ev = _Evidence(url)
    for node, depth, known in _walk(exc):
        ev.known = known
        if _carries_peer(type(node)):
            _note_peer(node, ev, depth)
        rule = _rule_for(type(node))
        if rule is not None:
            rule(node, ev, depth)
    kind = ev.best
    if kind == _TIMEOUT:
        kind = _timeout_kind(ev)
    elif kind == _BARE_TIMEOUT and ev.deadline:
        kind = Kind.DEADLINE_EXCEEDED
    if not isinstance(kind, Kind):
        return _build(Kind.UNKNOWN, ev, exc, None)
    if ev.proxy and kind in _PROXIED_CONNECT_KINDS:
        kind = Kind.PROXY_UNREACHABLE
    return _build(kind, ev, exc, ev.detail)


_PROXIED_CONNECT_KINDS = frozenset(
    {
        Kind.CONNECT_REFUSED,
        Kind.CONNECT_TIMEOUT,
        Kind.CONNECT_UNREACHABLE,
        Kind.DNS_NOT_FOUND,
        Kind.DNS_NO_ADDRESS,
        Kind.DNS_UNAVAILABLE,
        Kind.DNS_TIMEOUT,
    }
)


def _timeout_kind(ev: _Evidence) -> Kind:
    if ev.tls_wait:
        return Kind.TLS_TIMEOUT
    if ev.write:
        return Kind.WRITE_TIMEOUT
    if ev.read:
        return Kind.READ_TIMEOUT
    if ev.connect:
        return Kind.CONNECT_TIMEOUT
    if ev.deadline:
        return Kind.DEADLINE_EXCEEDED
    # A bare socket timeout (urllib, raw sockets): its traceback says whether it
    # happened inside a connect, or else while sending the request (http.client
    # connects from inside send, so a connect frame decides first).
    frames = set()
    for node in ev.timeouts:
        tb = node.__traceback__
        while tb is not None:
            frames.add(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
    if frames & _CONNECT_FRAMES:
        return Kind.CONNECT_TIMEOUT
    if frames & _SEND_FRAMES:
        return Kind.WRITE_TIMEOUT
    return Kind.READ_TIMEOUT


_CONNECT_FRAMES = frozenset({"create_connection", "connect", "sock_connect", "_connect"})
_SEND_FRAMES = frozenset({"send", "sendall", "_send_output", "_send_request"})


def classify_status(
    status: int,
    headers: Mapping[str, str] | Any = None,
    *,
    url: str | None = None,
    now: float | None = None,
) -> Failure | None:
    """Classify an HTTP response status: None for success and redirects.

    ``headers`` is any mapping with ``.get`` (requests, httpx, aiohttp and
    ``email.message.Message`` headers all are); ``Retry-After`` is read from it.
    ``now`` (seconds since the epoch) is for tests of HTTP-date Retry-After values.
    """
    kind = _status_kind(status)
    if kind is None:
        return None
    ev = _Evidence(url)
    ev.status, ev.headers = status, headers
    return _build(kind, ev, None, None, now=now)


def _status_kind(status: int) -> Kind | None:
    if status < 400:
        return None
    if status == 407:
        return Kind.PROXY_AUTH_REQUIRED
    if status == 429:
        return Kind.HTTP_RATE_LIMITED
    if status < 500:
        return Kind.HTTP_CLIENT_ERROR
    return Kind.HTTP_SERVER_ERROR


# 408 Request Timeout and 425 Too Early invite a retry; of the 5xx, only the
# ones that say "not now" do: a 500 is usually a bug, a 501 never changes.
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    Negative or unparsable values give None; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
        if value is None and isinstance(headers, dict):
            value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    except Exception:
        return None
    return value if isinstance(value, str) else None


# --- building the Failure ---------------------------------------------------------------


def _build(
    kind: Kind,
    ev: _Evidence,
    exc: BaseException | None,
    specific: str | None,
    *,
    now: float | None = None,
) -> Failure:
    entry = CATALOGUE[kind]
    retryable, request_sent = entry.retryable, entry.request_sent
    host, port = ev.host, ev.port
    safe_url = redact_url(ev.url) if ev.url else None
    if ev.url and host is None:
        try:
            parts = urlsplit(ev.url)
            host, port = parts.hostname, parts.port or default_port(parts.scheme)
        except ValueError:
            pass
    retry_after = None
    if ev.status is not None:
        retry_after = parse_retry_after(_header(ev.headers, "Retry-After"), now=now)
        if (
            kind in (Kind.HTTP_CLIENT_ERROR, Kind.HTTP_SERVER_ERROR, Kind.HTTP_RATE_LIMITED)
            or kind is Kind.PROXY_REJECTED
        ):
            retryable = ev.status in _RETRYABLE_STATUSES
    if kind is Kind.CONNECTION_RESET and ev.connect and not ev.read:
        request_sent = False  # reset while connecting: the request never left
    if kind is Kind.CONNECT_RESOURCE_EXHAUSTED and (ev.read or ev.write):
        request_sent = True  # ran out after the exchange had begun (urllib3's FullPoolError)
    detail = _detail(kind, ev, host, port, safe_url, specific, exc, retry_after)
    return Failure(
        kind=kind,
        layer=entry.layer,
        retryable=retryable,
        request_sent=request_sent,
        detail=redact_text(detail) if "@" in detail or "=" in detail else detail,
        hint=hint_for(kind, detail),
        host=host,
        port=port,
        url=safe_url,
        status=ev.status,
        retry_after=retry_after,
        errno=ev.errno,
        cause=exc,
    )


def failure_for(
    kind: Kind,
    detail: str,
    *,
    url: str | None = None,
    host: str | None = None,
    port: int | None = None,
    layer: Layer | None = None,
    cause: BaseException | None = None,
) -> Failure:
    """A ``Failure`` of ``kind`` that tether found itself (a probe, a policy), not by
    classifying an exception: the catalogue supplies the hint and the flags."""
    entry = CATALOGUE[kind]
    return Failure(
        kind=kind,
        layer=layer or entry.layer,
        retryable=entry.retryable,
        request_sent=entry.request_sent,
        detail=redact_text(detail),
        hint=entry.hint,
        host=host,
        port=port,
        url=redact_url(url) if url else None,
        cause=cause,
    )


def _first_line(exc: BaseException) -> str | None:
    try:
        text = str(exc).strip()
    except Exception:  # an exception whose __str__ fails is still classified
        return None
    return text.splitlines()[0][:200] if text else None


def _detail(
    kind: Kind,
    ev: _Evidence,
    host: str | None,
    port: int | None,
    url: str | None,
    specific: str | None,
    exc: BaseException | None,
    retry_after: float | None,
) -> str:
    peer = bracketed(host) if host else None
    where = f"{peer}:{port}" if peer and port else peer or "the server"
    text = _DETAILS.get(kind)
    if kind is Kind.UNKNOWN:
        if exc is None:
            return "The failure could not be classified."
        shown = _first_line(exc)
        return f"Unrecognised failure {type(exc).__qualname__}" + (f": {shown}" if shown else "")
    if (
        kind
        in (
            Kind.HTTP_CLIENT_ERROR,
            Kind.HTTP_SERVER_ERROR,
            Kind.HTTP_RATE_LIMITED,
            Kind.PROXY_AUTH_REQUIRED,
            Kind.PROXY_REJECTED,
        )
        and ev.status is not None
    ):
        who = f"The proxy {(peer and where) or ''}" if kind.value.startswith("proxy") else where
        sentence = f"{who} answered {ev.status} {_reason(ev.status)}"
        if retry_after is not None:
            sentence += f", asking to retry after {retry_after:g} s"
        return _sentence(sentence, keep=peer)
    if kind is Kind.TLS_EXPIRED:
        not_yet = "not yet valid" in (specific or "") or "not yet valid" in str(exc)
        return (
            f"The certificate of {where} is not yet valid: check this machine's clock"
            if not_yet
            else f"The certificate of {where} has expired"
        )
    if kind is Kind.WRITE_TIMEOUT and ev.body_size is not None:
        text = (
            f"{{where}} stopped reading the request before its {ev.body_size}-byte body was "
            "all sent (write timeout)"
        )
    base = (text or "{kind} at {where}").format(
        where=where if peer else ("" if (text or "").startswith("The proxy") else where),
        name=host or "",
        url=url or "",
        kind=kind.value,
    )
    if specific and kind in _WITH_SPECIFIC:
        base += f": {specific}"
    return _sentence(base, keep=peer)


def _sentence(text: str, keep: str | None = None) -> str:
    """Tidy a filled template: no doubled or trailing spaces, a capital first letter
    (unless the sentence starts with ``keep``, a host name, or with a URL: each is shown
    as given, ``http://``, not ``Http://``)."""
    if "  " in text:
        text = _SPACES.sub(" ", text)
    text = text.replace(" :", ":").strip()
    if (keep and text.startswith(keep)) or _URL_FIRST.match(text):
        return text
    return text[:1].upper() + text[1:]


_SPACES = re.compile(r" {2,}")
_URL_FIRST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_WITH_SPECIFIC = frozenset(
    {
        Kind.URL_INVALID,
        Kind.TLS_PROTOCOL,
        Kind.TLS_HOSTNAME_MISMATCH,
        Kind.TLS_UNTRUSTED,
        Kind.RESPONSE_TRUNCATED,
        Kind.RESPONSE_MALFORMED,
        Kind.RESPONSE_TOO_LARGE,
        Kind.CONNECT_UNREACHABLE,
        Kind.PROXY_UNREACHABLE,
    }
)

_DETAILS: dict[Kind, str] = {
    Kind.URL_INVALID: "The URL {url} is not valid",
    Kind.PROXY_UNREACHABLE: "The proxy {where} could not be reached",
    Kind.PROXY_AUTH_REQUIRED: "The proxy {where} requires authentication (407)",
    Kind.PROXY_REJECTED: "The proxy {where} refused to open the connection",
    Kind.DNS_NOT_FOUND: "The name {name} does not exist (NXDOMAIN)",
    Kind.DNS_NO_ADDRESS: "The name {name} exists but has no address of the requested family",
    Kind.DNS_UNAVAILABLE: (
        "The name {name} could not be resolved: the DNS resolver failed or could not be "
        "reached (SERVFAIL, REFUSED or no answer)"
    ),
    Kind.DNS_TIMEOUT: "The DNS resolver did not answer in time for {name}",
    Kind.CONNECT_REFUSED: "{where} refused the connection: nothing is listening on that port",
    Kind.CONNECT_TIMEOUT: (
        "Connecting to {where} timed out: nothing answered the connection request"
    ),
    Kind.CONNECT_UNREACHABLE: "{where} is unreachable from this machine",
    Kind.TLS_HOSTNAME_MISMATCH: "The certificate of {where} is not valid for that name",
    Kind.TLS_SELF_SIGNED: "{where} presented a self-signed certificate, which is not trusted",
    Kind.TLS_UNTRUSTED: "The certificate of {where} is not signed by a trusted CA",
    Kind.TLS_PROTOCOL: "The TLS handshake with {where} failed",
    Kind.TLS_TIMEOUT: (
        "The TLS handshake with {where} timed out: the server accepted the connection but "
        "did not answer the TLS hello"
    ),
    Kind.CONNECTION_RESET: "{where} reset the connection",
    Kind.CONNECTION_CLOSED: "{where} closed the connection without sending a response",
    Kind.CONNECTION_BROKEN_PIPE: (
        "{where} closed the connection while the request was still being sent (broken pipe)"
    ),
    Kind.CONNECTION_ABORTED: "The connection to {where} was aborted on this machine",
    Kind.WRITE_TIMEOUT: (
        "{where} stopped reading the request before it was all sent (write timeout)"
    ),
    Kind.READ_TIMEOUT: "{where} did not send the response in time (read timeout)",
    Kind.DEADLINE_EXCEEDED: "The call to {where} ran out of its total time",
    Kind.RESPONSE_TRUNCATED: "The response from {where} ended before its announced end",
    Kind.RESPONSE_MALFORMED: "{where} answered with something that is not valid HTTP",
    Kind.RESPONSE_TOO_LARGE: "The response from {where} is larger than allowed",
    Kind.HTTP_REDIRECT_LOOP: "{url} redirected too many times (a redirect loop)",
    Kind.CIRCUIT_OPEN: "The circuit breaker for {where} is open: calls fail fast for now",
}


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# --- resource exhaustion: connect.resource_exhausted ---------------------------------------
# This machine or the client ran out of what a new connection needs.  Decided by errno and by
# the pool classes, never by message text.  EMFILE, ENFILE and ENOBUFS mean it wherever they
# come from.  EADDRNOTAVAIL means it only from a connect, where no ephemeral port was free: a
# bind() to an address this machine does not have gives the same errno and stays unknown.  A
# connect is known by a connecting wrapper (urllib3's NewConnectionError, httpx's ConnectError,
# aiohttp's connector errors) or by the frames the error passed through
# (socket.create_connection, asyncio's sock_connect, the probe's own _sock_connect); a bare
# sock.connect() leaves no frame of its own and stays unknown.  Linux also gives
# EADDRNOTAVAIL for a connect to an IPv6 address from a machine with no IPv6 address (IPv6
# disabled): towards an IPv6 literal that is connect.unreachable; towards a name, the detail
# says so.

_RESOURCE_ERRNOS: dict[int, str] = {
    _errno.EMFILE: "this process has as many files open as its limit allows (EMFILE)",
    _errno.ENFILE: "the system-wide file table is full (ENFILE)",
    _errno.ENOBUFS: "the kernel has no buffer space for another socket (ENOBUFS)",
    _errno.EADDRNOTAVAIL: (
        "no local port was free for another connection (EADDRNOTAVAIL; if the name has an "
        "IPv6 address, it can also mean this machine has no IPv6 address to connect from)"
    ),
}
_NO_PORT = "no local port was free for another connection (EADDRNOTAVAIL)"
_CONNECTING_FRAMES = frozenset({"create_connection", "sock_connect", "_sock_connect"})
_POOL_WAIT_FRAMES = frozenset({"_wait_for_available_connection"})  # aiohttp's connector


def _resource_errno(exc: BaseException, code: int, ev: _Evidence, depth: int) -> None:
    kind, detail = Kind.CONNECT_RESOURCE_EXHAUSTED, _RESOURCE_ERRNOS[code]
    if code == _errno.EADDRNOTAVAIL:
        if not (ev.connect or _chain_functions(exc) & _CONNECTING_FRAMES):
            return  # a bind(), or a connect nothing says was one: unknown
        host = ev.host
        if host is None and ev.url:
            with contextlib.suppress(ValueError):
                host = urlsplit(ev.url).hostname
        if host and ":" in host:
            kind, detail = Kind.CONNECT_UNREACHABLE, "no IPv6 address to connect from"
        elif host and host.replace(".", "").isdigit():  # an IPv4 address: only ports it can be
            detail = _NO_PORT
    ev.errno = code
    ev.offer(kind, _FACT, depth, detail)


def _chain_functions(exc: BaseException) -> set[str]:
    """The names of the functions ``exc`` passed through, and those of what caused it."""
    names: set[str] = set()
    node: BaseException | None = exc
    for _ in range(4):
        if node is None:
            break
        names.update(function for _, function in _frames(node))
        node = node.__cause__ or node.__context__
    return names


def _pool(detail: str, *, returned: bool = False) -> _Rule:
    def rule(exc: BaseException, ev: _Evidence, depth: int) -> None:
        if returned:
            ev.read = True  # the connection came back after its response: the request was sent
        ev.offer(Kind.CONNECT_RESOURCE_EXHAUSTED, _FACT, depth, detail)

    return rule


_POOL_TIMEOUT = "no connection in the client's pool came free within the pool timeout"
_aiohttp_connect_timeout = _RULES["aiohttp.ConnectionTimeoutError"]


def _aiohttp_timeout(exc: BaseException, ev: _Evidence, depth: int) -> None:
    """aiohttp counts the wait for a free connection of ``TCPConnector(limit=...)`` in its
    connect timeout: the waiting frame in the chain tells a full pool from a silent server."""
    _aiohttp_connect_timeout(exc, ev, depth)
    if _chain_functions(exc) & _POOL_WAIT_FRAMES:
        ev.offer(Kind.CONNECT_RESOURCE_EXHAUSTED, _FACT, depth, _POOL_TIMEOUT)


_RULES.update(
    {
        "httpx.PoolTimeout": _pool(_POOL_TIMEOUT),
        "httpcore.PoolTimeout": _pool(_POOL_TIMEOUT),
        "urllib3.EmptyPoolError": _pool(_POOL_TIMEOUT),
        "urllib3.FullPoolError": _pool(
            "the connection pool was already full when a connection came back to it",
            returned=True,
        ),
        "aiohttp.ConnectionTimeoutError": _aiohttp_timeout,
    }
)
_DETAILS[Kind.CONNECT_RESOURCE_EXHAUSTED] = (
    "This machine or the client ran out of resources for a connection to {where}"
)
_WITH_SPECIFIC = _WITH_SPECIFIC | {Kind.CONNECT_RESOURCE_EXHAUSTED}
