"""The socket layer's exceptions: errnos, ``getaddrinfo`` codes, timeouts, cancellations.

An errno is the kernel's word and means the same whoever raised it; the builtin
connection errors (a bare ``ConnectionResetError()``) count whoever raised them too.
A message is read only when a known client raised the exception (:mod:`._origin`).
"""

from __future__ import annotations

import contextlib
import errno as _errno
import re
import socket
from urllib.parse import urlsplit

from tether._classify._evidence import (
    BARE_TIMEOUT,
    CONTEXT,
    FACT,
    LIBRARY,
    TIMEOUT,
    WORDLESS_TIMEOUT,
    Evidence,
    first_line,
)
from tether._classify._http import tunnel_status
from tether._classify._origin import (
    chain_functions,
    client_code,
    opening,
    raised_at,
    traceback_frames,
)
from tether._classify._tls import tls_eof
from tether._kinds import Kind


def os_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    """An errno is the kernel's word and means the same whoever raised it; the message of
    an ``OSError`` that has none is read only when a known client raised it."""
    code = getattr(exc, "errno", None)
    if not isinstance(code, int) and ev.known:
        text = str(exc)
        if "Tunnel connection failed" in text:  # http.client's refused CONNECT
            tunnel_status(exc, ev, depth)
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
    kind = ERRNO_KINDS.get(code)
    if (
        kind is None
        and code in _CONNECT_ONLY_ERRNOS
        and (ev.connect or raised_at(exc) in _CONNECT_CALLS)
    ):
        kind = Kind.CONNECT_UNREACHABLE
    if kind is None:
        return
    ev.errno = code
    ev.offer(kind, FACT, depth, getattr(exc, "strerror", None) or None)


ERRNO_KINDS: dict[int, Kind | str] = {
    _errno.ECONNREFUSED: Kind.CONNECT_REFUSED,
    _errno.ECONNRESET: Kind.CONNECTION_RESET,
    _errno.EPIPE: Kind.CONNECTION_BROKEN_PIPE,
    _errno.ECONNABORTED: Kind.CONNECTION_ABORTED,
    _errno.ENETUNREACH: Kind.CONNECT_UNREACHABLE,
    _errno.EHOSTUNREACH: Kind.CONNECT_UNREACHABLE,
    _errno.ENETDOWN: Kind.CONNECT_UNREACHABLE,
    _errno.EHOSTDOWN: Kind.CONNECT_UNREACHABLE,
    _errno.ETIMEDOUT: TIMEOUT,
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


def _errno_less(exc: BaseException, ev: Evidence, depth: int) -> None:
    """A reset is a reset whether it carries errno 104 or none: asyncio raises a bare
    ``ConnectionResetError()`` when the peer closes during a TLS handshake, and
    ``ConnectionResetError("Connection lost")`` when it writes to a closed stream."""
    kind = next((k for cls, k in _CONNECTION_ERRORS if isinstance(exc, cls)), None)
    if kind is None:
        return
    if kind is Kind.CONNECTION_RESET and (
        ev.connect or any(frame in _TLS_HANDSHAKES for frame in traceback_frames(exc))
    ):
        # A TCP connect's errors all carry an errno: this is asyncio's TLS handshake
        # meeting the end of the stream, what the ssl module calls SSLEOFError.
        tls_eof(ev, depth)
        return
    ev.offer(kind, LIBRARY, depth)


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


def gaierror(exc: BaseException, ev: Evidence, depth: int) -> None:
    code = getattr(exc, "errno", None)
    kind = _EAI_KINDS.get(code) if isinstance(code, int) else None
    if kind is not None:
        ev.errno = code
        ev.offer(kind, FACT, depth, getattr(exc, "strerror", None))


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


def timeout_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    """The socket and ssl modules' timeouts carry their own words; any other bare
    ``TimeoutError`` is a network timeout only when a known client raised it."""
    text = str(exc)
    if _HANDSHAKE_TIMEOUT.fullmatch(text) or (ev.known and "handshake operation timed out" in text):
        ev.tls = True
        ev.offer(Kind.TLS_TIMEOUT, FACT, depth, "the server did not answer the TLS handshake")
    elif (
        ev.known or isinstance(getattr(exc, "errno", None), int) or _SOCKET_TIMEOUT.fullmatch(text)
    ):
        os_error(exc, ev, depth)  # ETIMEDOUT carries an errno
        ev.timeouts.append(exc)
        ev.offer(TIMEOUT, CONTEXT, depth)
    else:
        ev.offer(BARE_TIMEOUT if text else WORDLESS_TIMEOUT, CONTEXT, depth)


# What socketmodule.c and _ssl.c raise, word for word.
_SOCKET_TIMEOUT = re.compile(r"timed out|The (?:read|write) operation timed out")
_HANDSHAKE_TIMEOUT = re.compile(r"(?:_ssl\.c:\d+: )?The handshake operation timed out")


def cancelled(exc: BaseException, ev: Evidence, depth: int) -> None:
    """A ``TimeoutError`` caused by a cancellation is an overall timeout (aiohttp's
    ``total``, ``asyncio.timeout``), if the cancellation stopped a client's I/O."""
    if any(client_code(frame) for frame in traceback_frames(exc)):
        ev.deadline = True
    if opening(exc):  # cut short in a driver's connect: nothing was sent
        ev.connect = ev.handshake = True


def overflow(exc: BaseException, ev: Evidence, depth: int) -> None:
    """``socket``'s ``connect(): port must be 0-65535.`` (anyio leaves it in an ExceptionGroup)."""
    if ev.known and "port must be 0-65535" in str(exc):
        ev.offer(Kind.URL_INVALID, LIBRARY, depth, first_line(exc))


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


def _resource_errno(exc: BaseException, code: int, ev: Evidence, depth: int) -> None:
    kind, detail = Kind.CONNECT_RESOURCE_EXHAUSTED, _RESOURCE_ERRNOS[code]
    if code == _errno.EADDRNOTAVAIL:
        if not (ev.connect or chain_functions(exc) & _CONNECTING_FRAMES):
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
    ev.offer(kind, FACT, depth, detail)
