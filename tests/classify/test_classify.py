"""Pure unit tests of ``tether.classify``: exceptions built by hand, as each library builds them.

The lab's matrix drives every client against real misbehaving servers; this
file is the fast layer underneath it.  Every exception here is constructed the
way its library constructs it (read from urllib3, requests, httpx, httpcore,
aiohttp and dnspython's sources): the same constructor arguments, the same
``raise ... from`` links, the same wrappers.  No socket is opened, nothing
sleeps, and nothing is resolved: constructing a urllib3 connection, a requests
``PreparedRequest`` or an aiohttp ``ConnectionKey`` touches no network.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import http.client
import io
import os
import re
import socket
import ssl
import urllib.error
from collections.abc import Callable
from email.message import Message
from email.utils import formatdate
from typing import Any

import aiohttp
import dns.resolver
import httpcore
import httpx
import pytest
import requests
import urllib3.exceptions as u3
from aiohttp.client_reqrep import ConnectionKey, RequestInfo
from aiohttp.http_exceptions import BadStatusLine, HttpProcessingError
from multidict import CIMultiDict, CIMultiDictProxy
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import parse_url
from yarl import URL

from tether import CATALOGUE, Failure, Kind, classify, classify_status, parse_retry_after
from tether._catalogue import hint_for

Factory = Callable[[], BaseException]

# A fixed clock for HTTP-date Retry-After values: 2023-11-14T22:13:20Z.
NOW = 1_700_000_000.0
SECRET_URL = "http://alice:hunter2@127.0.0.1:9/p?token=abc"


# --- building exceptions the way the libraries do ------------------------------------------


def raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """``exc`` as a library raises it: with a traceback, and ``from cause`` when given."""
    try:
        if cause is None:
            raise exc
        raise exc from cause
    except BaseException as caught:
        return caught


def raised_while_handling(exc: BaseException, handled: BaseException) -> BaseException:
    """``exc`` raised inside ``except`` for ``handled``, so ``handled`` is its ``__context__``."""
    try:
        try:
            raise handled
        except BaseException:
            raise exc  # noqa: B904 - the implicit __context__ link is the point
    except BaseException as caught:
        return caught


def os_error(name: str) -> OSError:
    """An ``OSError`` as the socket layer raises it; Python picks the subclass from the errno."""
    code = getattr(errno, name)
    return OSError(code, os.strerror(code))


def refused() -> OSError:
    return os_error("ECONNREFUSED")


def gaierror(name: str) -> socket.gaierror:
    code = getattr(socket, name, None)
    if code is None:
        pytest.skip(f"socket.{name} does not exist on this platform")
    return socket.gaierror(code, f"getaddrinfo failed ({name})")


def cert_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    """What ``_ssl.c`` raises when verification fails: the code and message set as attributes."""
    exc = ssl.SSLCertVerificationError(
        1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message} (_ssl.c:1006)"
    )
    exc.verify_code = code
    exc.verify_message = message
    exc.reason = "CERTIFICATE_VERIFY_FAILED"
    exc.library = "SSL"
    return exc


def ssl_error(reason: str) -> ssl.SSLError:
    """An ``ssl.SSLError`` as ``_ssl.c`` fills it: OpenSSL's reason code as ``.reason``."""
    exc = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')} (_ssl.c:1006)")
    exc.reason = reason
    exc.library = "SSL"
    return exc


# urllib3 2.x


def u3_name_resolution(eai: str = "EAI_NONAME", host: str = "nope.invalid") -> BaseException:
    """``HTTPConnection._new_conn``: ``raise NameResolutionError(host, self, e) from e``."""
    gai = gaierror(eai)
    return raised(u3.NameResolutionError(host, HTTPConnection(host, 80), gai), gai)


def u3_new_connection(cause: OSError, host: str = "127.0.0.1", port: int = 9999) -> BaseException:
    """``HTTPConnection._new_conn``: ``raise NewConnectionError(self, ...) from e``."""
    conn = HTTPConnection(host, port)
    return raised(
        u3.NewConnectionError(conn, f"Failed to establish a new connection: {cause}"), cause
    )


def u3_connect_timeout(host: str = "127.0.0.1", port: int = 9999) -> BaseException:
    """``HTTPConnection._new_conn`` on a socket timeout."""
    conn = HTTPConnection(host, port)
    message = f"Connection to {host} timed out. (connect timeout=1.0)"
    return raised(u3.ConnectTimeoutError(conn, message), TimeoutError("timed out"))


def u3_max_retry(
    reason: BaseException, pool: HTTPConnectionPool | None = None, url: str = "/"
) -> BaseException:
    """``Retry.increment``: ``raise MaxRetryError(_pool, url, reason) from reason``."""
    pool = pool or HTTPConnectionPool("127.0.0.1", 9999)
    return raised(u3.MaxRetryError(pool, url, reason), reason)  # type: ignore[arg-type]


def u3_proxy_error(error: BaseException) -> u3.ProxyError:
    """``urllib3.connection._wrap_proxy_error``: built, given a ``__cause__``, not raised."""
    wrapped = u3.ProxyError("Unable to connect to proxy", error)  # type: ignore[arg-type]
    wrapped.__cause__ = error
    return wrapped


def tunnel_refused(status: int) -> OSError:
    """``http.client.HTTPConnection._tunnel`` when the proxy answers CONNECT with ``status``."""
    phrase = http.HTTPStatus(status).phrase
    return OSError(f"Tunnel connection failed: {status} {phrase}")


def proxied_pool() -> HTTPSConnectionPool:
    """The pool urllib3's ProxyManager uses for an https URL: the target's, with ``.proxy``."""
    return HTTPSConnectionPool("target.test", 443, _proxy=parse_url("http://127.0.0.1:3128"))


# requests


def prepared(url: str = "http://127.0.0.1:9999/") -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def rq_wrap(
    cls: type[requests.RequestException],
    inner: BaseException,
    url: str = "http://127.0.0.1:9999/",
) -> BaseException:
    """``HTTPAdapter.send``: ``raise cls(e, request=request)`` inside ``except``."""
    return raised_while_handling(cls(inner, request=prepared(url)), inner)


def rq_connection_error(
    reason: BaseException, url: str = "http://127.0.0.1:9999/"
) -> BaseException:
    """``HTTPAdapter.send``: ``ConnectionError(MaxRetryError)`` for a connect-phase failure."""
    return rq_wrap(requests.ConnectionError, u3_max_retry(reason), url)


def rq_read_timeout() -> BaseException:
    """requests' read phase skips ``MaxRetryError``: ``ReadTimeout(ReadTimeoutError)``."""
    pool = HTTPConnectionPool("127.0.0.1", 9999)
    message = "Read timed out. (read timeout=1.0)"
    rte = raised(u3.ReadTimeoutError(pool, "/", message), TimeoutError("timed out"))
    return rq_wrap(requests.ReadTimeout, rte)


def rq_http_error(status: int, **headers: str) -> requests.HTTPError:
    """``Response.raise_for_status`` on a bare ``requests.Response``."""
    response = requests.Response()
    response.status_code = status
    response.url = "http://api.example/things"
    response.headers.update(headers)
    return requests.HTTPError(f"{status} Error for url: {response.url}", response=response)


# httpx and httpcore


def hx_request(url: str = "http://127.0.0.1:9999/x") -> httpx.Request:
    return httpx.Request("GET", url)


def hx_error(
    x_cls: type[httpx.RequestError],
    core_cls: type[Exception],
    root: BaseException | str,
    url: str = "http://127.0.0.1:9999/x",
) -> BaseException:
    """httpcore's ``map_exceptions`` (``raise to_exc(exc) from exc``), then httpx's
    ``map_httpcore_exceptions`` (``raise mapped_exc(str(exc)) from exc``)."""
    core = raised(core_cls(root), None if isinstance(root, str) else root)
    return raised(x_cls(str(core), request=hx_request(url)), core)


# aiohttp


def aio_key(host: str = "127.0.0.1", port: int = 9999, is_ssl: bool = False) -> ConnectionKey:
    return ConnectionKey(host, port, is_ssl, True, None, None, None)


def aio_info(url: str = "http://127.0.0.1:9999/x") -> RequestInfo:
    real = URL(url)
    return RequestInfo(real, "GET", CIMultiDictProxy(CIMultiDict()), real)


def aio_connector(
    cls: type[aiohttp.ClientConnectorError], error: OSError, **key: Any
) -> BaseException:
    """``TCPConnector``: ``raise client_error(req.connection_key, exc) from exc``."""
    return raised(cls(aio_key(**key), error), error)


def aio_cert_error(code: int, message: str) -> BaseException:
    error = cert_error(code, message)
    key = aio_key("secure.example", 443, is_ssl=True)
    return raised(aiohttp.ClientConnectorCertificateError(key, error), error)


def aio_response(
    status: int, message: str = "", headers: dict[str, str] | None = None
) -> aiohttp.ClientResponseError:
    """``ClientResponse.raise_for_status``: the status and headers of a real response."""
    proxy = CIMultiDictProxy(CIMultiDict(headers or {}))
    return aiohttp.ClientResponseError(
        aio_info(), (), status=status, message=message, headers=proxy
    )


def aio_bad_status_line(*, faithful: bool) -> BaseException:
    """A garbage status line reported as a 400.

    ``faithful``: as aiohttp 3.x really chains it: the protocol wraps the
    parser's ``BadStatusLine`` in a fresh ``HttpProcessingError`` (``__cause__``
    set by ``set_exception``), and ``ClientResponse.start`` raises
    ``ClientResponseError(status=exc.code) from exc``.  Otherwise the parser
    error is the direct ``__cause__``.
    """
    parser_error = BadStatusLine("HTTP/1.1 OK-ish")
    cause: BaseException = parser_error
    if faithful:
        cause = HttpProcessingError(code=400, message=parser_error.message)
        cause.__cause__ = parser_error
    error = aiohttp.ClientResponseError(
        aio_info(), (), status=400, message=parser_error.message, headers=None
    )
    return raised(error, cause)


def real_deadline() -> BaseException:
    """``asyncio.timeout`` cutting a read from a loopback server that never answers:
    ``raise TimeoutError from CancelledError``, the cancellation inside asyncio's streams.
    The timeout has already expired when it is entered, so nothing waits on the clock."""

    async def go() -> BaseException:
        accepted: list[asyncio.StreamWriter] = []

        async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)

        server = await asyncio.start_server(hold, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            async with asyncio.timeout(0):
                await reader.read(1)
        except TimeoutError as exc:
            return exc
        finally:
            for w in [writer, *accepted]:
                w.close()
            server.close()
            await server.wait_closed()
        raise AssertionError("the read was not cut")

    return asyncio.run(go())


# --- tables: one row per failure, shared by the kind test and the layer test --------------

GAI_CASES = [
    pytest.param("EAI_NONAME", Kind.DNS_NOT_FOUND, id="EAI_NONAME"),
    pytest.param("EAI_AGAIN", Kind.DNS_UNAVAILABLE, id="EAI_AGAIN"),
    pytest.param("EAI_NODATA", Kind.DNS_NO_ADDRESS, id="EAI_NODATA"),
    pytest.param("EAI_FAIL", Kind.DNS_UNAVAILABLE, id="EAI_FAIL"),
    pytest.param("EAI_SERVICE", Kind.URL_INVALID, id="EAI_SERVICE"),
]

ERRNO_CASES = [
    pytest.param("ECONNREFUSED", ConnectionRefusedError, Kind.CONNECT_REFUSED, id="ECONNREFUSED"),
    pytest.param("ECONNRESET", ConnectionResetError, Kind.CONNECTION_RESET, id="ECONNRESET"),
    pytest.param("EPIPE", BrokenPipeError, Kind.CONNECTION_BROKEN_PIPE, id="EPIPE"),
    pytest.param(
        "ECONNABORTED", ConnectionAbortedError, Kind.CONNECTION_ABORTED, id="ECONNABORTED"
    ),
    pytest.param("ENETUNREACH", OSError, Kind.CONNECT_UNREACHABLE, id="ENETUNREACH"),
    pytest.param("EHOSTUNREACH", OSError, Kind.CONNECT_UNREACHABLE, id="EHOSTUNREACH"),
    # More in test_classify_resources.py: EADDRNOTAVAIL, pools.
    pytest.param("EMFILE", OSError, Kind.CONNECT_RESOURCE_EXHAUSTED, id="EMFILE"),
    pytest.param("ENFILE", OSError, Kind.CONNECT_RESOURCE_EXHAUSTED, id="ENFILE"),
    pytest.param("ENOBUFS", OSError, Kind.CONNECT_RESOURCE_EXHAUSTED, id="ENOBUFS"),
]

VERIFY_CASES = [
    pytest.param(10, "certificate has expired", Kind.TLS_EXPIRED, id="10-expired"),
    pytest.param(9, "certificate is not yet valid", Kind.TLS_EXPIRED, id="9-not-yet-valid"),
    pytest.param(
        62,
        "Hostname mismatch, certificate is not valid for 'wrong.example'.",
        Kind.TLS_HOSTNAME_MISMATCH,
        id="62-hostname",
    ),
    pytest.param(
        64,
        "IP address mismatch, certificate is not valid for '127.0.0.1'.",
        Kind.TLS_HOSTNAME_MISMATCH,
        id="64-ip-address",
    ),
    pytest.param(18, "self-signed certificate", Kind.TLS_SELF_SIGNED, id="18-self-signed"),
    pytest.param(
        19,
        "self-signed certificate in certificate chain",
        Kind.TLS_UNTRUSTED,
        id="19-self-signed-root",
    ),
    pytest.param(
        20, "unable to get local issuer certificate", Kind.TLS_UNTRUSTED, id="20-local-issuer"
    ),
    pytest.param(
        21, "unable to verify the first certificate", Kind.TLS_UNTRUSTED, id="21-first-cert"
    ),
    pytest.param(2, "unable to get issuer certificate", Kind.TLS_UNTRUSTED, id="2-issuer"),
]

SSL_REASON_CASES = [
    pytest.param("WRONG_VERSION_NUMBER", "plain-text port", id="WRONG_VERSION_NUMBER"),
    pytest.param("RECORD_LAYER_FAILURE", "plain-text port", id="RECORD_LAYER_FAILURE"),
    pytest.param(
        "TLSV1_ALERT_PROTOCOL_VERSION", "share no TLS version", id="TLSV1_ALERT_PROTOCOL_VERSION"
    ),
]

DNSPYTHON_CASES = [
    pytest.param(dns.resolver.NXDOMAIN, Kind.DNS_NOT_FOUND, id="NXDOMAIN"),
    pytest.param(dns.resolver.NoAnswer, Kind.DNS_NO_ADDRESS, id="NoAnswer"),
    pytest.param(dns.resolver.NoNameservers, Kind.DNS_UNAVAILABLE, id="NoNameservers"),
    pytest.param(
        lambda: dns.resolver.LifetimeTimeout(timeout=1.0, errors=[]),
        Kind.DNS_TIMEOUT,
        id="LifetimeTimeout",
    ),
]

# Everything else, one row per library failure.  (factory, expected kind)
LIBRARY_CASES = [
    # the traps
    pytest.param(u3_name_resolution, Kind.DNS_NOT_FOUND, id="urllib3-NameResolutionError"),
    pytest.param(
        lambda: http.client.RemoteDisconnected("Remote end closed connection without response"),
        Kind.CONNECTION_CLOSED,
        id="http.client-RemoteDisconnected",
    ),
    pytest.param(
        lambda: aio_bad_status_line(faithful=False),
        Kind.RESPONSE_MALFORMED,
        id="aiohttp-400-from-BadStatusLine",
    ),
    pytest.param(
        lambda: aio_bad_status_line(faithful=True),
        Kind.RESPONSE_MALFORMED,
        id="aiohttp-400-from-HttpProcessingError-from-BadStatusLine",
    ),
    pytest.param(lambda: aio_response(404), Kind.HTTP_CLIENT_ERROR, id="aiohttp-404"),
    pytest.param(
        lambda: aio_response(503, headers={"Retry-After": "7"}),
        Kind.HTTP_SERVER_ERROR,
        id="aiohttp-503",
    ),
    # requests over urllib3
    pytest.param(
        lambda: rq_connection_error(u3_new_connection(refused())),
        Kind.CONNECT_REFUSED,
        id="requests-refused",
    ),
    pytest.param(
        lambda: rq_connection_error(u3_name_resolution()),
        Kind.DNS_NOT_FOUND,
        id="requests-name-resolution",
    ),
    pytest.param(
        lambda: rq_wrap(
            requests.exceptions.ProxyError,
            u3_max_retry(u3_proxy_error(u3_new_connection(refused(), port=3128))),
        ),
        Kind.PROXY_UNREACHABLE,
        id="requests-proxy-refused",
    ),
    pytest.param(
        lambda: u3_proxy_error(tunnel_refused(407)),
        Kind.PROXY_AUTH_REQUIRED,
        id="urllib3-proxy-407",
    ),
    pytest.param(
        lambda: u3_proxy_error(tunnel_refused(403)), Kind.PROXY_REJECTED, id="urllib3-proxy-403"
    ),
    pytest.param(rq_read_timeout, Kind.READ_TIMEOUT, id="requests-ReadTimeout"),
    pytest.param(
        lambda: rq_wrap(requests.ConnectTimeout, u3_max_retry(u3_connect_timeout())),
        Kind.CONNECT_TIMEOUT,
        id="requests-ConnectTimeout",
    ),
    pytest.param(
        lambda: rq_wrap(
            requests.exceptions.SSLError,
            u3_max_retry(raised(u3.SSLError(cert_error(62, "Hostname mismatch")))),
        ),
        Kind.TLS_HOSTNAME_MISMATCH,
        id="requests-SSLError-hostname",
    ),
    pytest.param(
        lambda: rq_wrap(
            requests.ConnectionError,
            u3.ProtocolError(
                "Connection aborted.",
                http.client.RemoteDisconnected("Remote end closed connection without response"),
            ),
        ),
        Kind.CONNECTION_CLOSED,
        id="requests-RemoteDisconnected",
    ),
    pytest.param(
        # urllib3 wraps the socket timeout of a send that could not finish; its read and
        # connect timeouts have classes of their own.
        lambda: rq_wrap(
            requests.ConnectionError,
            u3.ProtocolError("Connection aborted.", raised(TimeoutError("timed out"))),
        ),
        Kind.WRITE_TIMEOUT,
        id="requests-send-timed-out",
    ),
    pytest.param(
        lambda: u3.ProtocolError("Connection aborted.", raised(TimeoutError("timed out"))),
        Kind.WRITE_TIMEOUT,
        id="urllib3-send-timed-out",
    ),
    pytest.param(
        lambda: rq_wrap(
            requests.exceptions.ChunkedEncodingError,
            u3.ProtocolError(
                "Connection broken: IncompleteRead(3 bytes read, 7 more expected)",
                u3.IncompleteRead(3, 7),
            ),
        ),
        Kind.RESPONSE_TRUNCATED,
        id="requests-ChunkedEncodingError",
    ),
    pytest.param(
        lambda: requests.exceptions.TooManyRedirects("Exceeded 30 redirects."),
        Kind.HTTP_REDIRECT_LOOP,
        id="requests-TooManyRedirects",
    ),
    pytest.param(
        lambda: requests.exceptions.InvalidURL("Invalid URL 'http://': No host supplied"),
        Kind.URL_INVALID,
        id="requests-InvalidURL",
    ),
    pytest.param(
        lambda: rq_http_error(429, **{"Retry-After": "3"}),
        Kind.HTTP_RATE_LIMITED,
        id="requests-HTTPError-429",
    ),
    # httpx over httpcore
    pytest.param(
        lambda: hx_error(httpx.ConnectError, httpcore.ConnectError, refused()),
        Kind.CONNECT_REFUSED,
        id="httpx-ConnectError-refused",
    ),
    pytest.param(
        lambda: hx_error(
            httpx.ConnectError,
            httpcore.ConnectError,
            ExceptionGroup("connect failed", [refused(), refused()]),
        ),
        Kind.CONNECT_REFUSED,
        id="httpx-ConnectError-anyio-group",
    ),
    pytest.param(
        lambda: hx_error(httpx.ConnectTimeout, httpcore.ConnectTimeout, TimeoutError("timed out")),
        Kind.CONNECT_TIMEOUT,
        id="httpx-ConnectTimeout",
    ),
    pytest.param(
        lambda: hx_error(httpx.ReadTimeout, httpcore.ReadTimeout, TimeoutError("timed out")),
        Kind.READ_TIMEOUT,
        id="httpx-ReadTimeout",
    ),
    pytest.param(
        lambda: hx_error(httpx.WriteTimeout, httpcore.WriteTimeout, TimeoutError("timed out")),
        Kind.WRITE_TIMEOUT,
        id="httpx-WriteTimeout",
    ),
    pytest.param(
        lambda: hx_error(
            httpx.RemoteProtocolError,
            httpcore.RemoteProtocolError,
            "Server disconnected without sending a response.",
        ),
        Kind.CONNECTION_CLOSED,
        id="httpx-server-disconnected",
    ),
    pytest.param(
        lambda: hx_error(
            httpx.RemoteProtocolError,
            httpcore.RemoteProtocolError,
            "peer closed connection without sending complete message body: incomplete chunked read",
        ),
        Kind.RESPONSE_TRUNCATED,
        id="httpx-incomplete-chunked",
    ),
    pytest.param(
        lambda: hx_error(
            httpx.ProxyError, httpcore.ProxyError, "407 Proxy Authentication Required"
        ),
        Kind.PROXY_AUTH_REQUIRED,
        id="httpx-ProxyError-407",
    ),
    pytest.param(
        lambda: httpx.UnsupportedProtocol(
            "Request URL is missing an 'http://' or 'https://' protocol."
        ),
        Kind.URL_INVALID,
        id="httpx-UnsupportedProtocol",
    ),
    # aiohttp connector errors
    pytest.param(
        lambda: aio_connector(aiohttp.ClientConnectorError, refused()),
        Kind.CONNECT_REFUSED,
        id="aiohttp-refused",
    ),
    pytest.param(
        lambda: aio_connector(aiohttp.ClientConnectorDNSError, gaierror("EAI_NONAME")),
        Kind.DNS_NOT_FOUND,
        id="aiohttp-dns",
    ),
    pytest.param(
        lambda: aio_connector(
            aiohttp.ClientConnectorError, OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
        ),
        Kind.CONNECT_TIMEOUT,
        id="aiohttp-ETIMEDOUT",
    ),
    pytest.param(
        lambda: aio_connector(aiohttp.ClientConnectorError, os_error("EACCES")),
        Kind.CONNECT_UNREACHABLE,
        id="aiohttp-EACCES-prohibit-route",
    ),
    pytest.param(
        lambda: aio_cert_error(10, "certificate has expired"),
        Kind.TLS_EXPIRED,
        id="aiohttp-certificate-expired",
    ),
    # stdlib odds and ends
    pytest.param(
        lambda: TimeoutError("_ssl.c:989: The handshake operation timed out"),
        Kind.TLS_TIMEOUT,
        id="ssl-handshake-timeout",
    ),
    pytest.param(
        lambda: ExceptionGroup("connect failed", [refused(), refused()]),
        Kind.CONNECT_REFUSED,
        id="ExceptionGroup-refused",
    ),
    pytest.param(
        lambda: aio_connector(
            aiohttp.ClientConnectorError,
            OSError(
                "Multiple exceptions: [Errno 111] Connect call failed ('::1', 9999, 0, 0), "
                "[Errno 111] Connect call failed ('127.0.0.1', 9999)"
            ),
        ),
        Kind.CONNECT_REFUSED,
        id="aiohttp-asyncio-multiple-exceptions",
    ),
    pytest.param(
        lambda: http.client.IncompleteRead(b"abc", 10),
        Kind.RESPONSE_TRUNCATED,
        id="http.client-IncompleteRead",
    ),
    pytest.param(
        lambda: http.client.LineTooLong("header line"),
        Kind.RESPONSE_TOO_LARGE,
        id="http.client-LineTooLong",
    ),
    pytest.param(
        lambda: ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed (EOF)"),
        Kind.CONNECTION_CLOSED,
        id="ssl-SSLZeroReturnError",
    ),
    pytest.param(real_deadline, Kind.DEADLINE_EXCEEDED, id="asyncio-timeout-deadline"),
    pytest.param(lambda: KeyError("x"), Kind.UNKNOWN, id="KeyError"),
]


def _flatten() -> list[Any]:
    """Every table above as (factory, kind) rows, for the cross-cutting tests."""
    rows: list[Any] = []
    for param in GAI_CASES:
        name, kind = param.values
        rows.append(pytest.param(lambda name=name: gaierror(name), kind, id=f"gai-{param.id}"))
    for param in ERRNO_CASES:
        name, _cls, kind = param.values
        rows.append(pytest.param(lambda name=name: os_error(name), kind, id=f"errno-{param.id}"))
    for param in VERIFY_CASES:
        code, message, kind = param.values
        rows.append(
            pytest.param(
                lambda code=code, message=message: cert_error(code, message),
                kind,
                id=f"verify-{param.id}",
            )
        )
    for param in SSL_REASON_CASES:
        reason, _words = param.values
        rows.append(
            pytest.param(lambda reason=reason: ssl_error(reason), Kind.TLS_PROTOCOL, id=param.id)
        )
    for param in DNSPYTHON_CASES:
        factory, kind = param.values
        rows.append(pytest.param(factory, kind, id=f"dnspython-{param.id}"))
    rows.extend(LIBRARY_CASES)
    return rows


ALL_CASES = _flatten()


# --- stdlib facts -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), GAI_CASES)
def test_gaierror_by_eai_code(name: str, kind: Kind) -> None:
    """A getaddrinfo error is classified by its EAI code, and the code is kept as errno."""
    exc = gaierror(name)
    failure = classify(exc)
    assert failure.kind is kind
    assert failure.errno == getattr(socket, name)
    assert failure.request_sent is False


@pytest.mark.parametrize(("name", "cls", "kind"), ERRNO_CASES)
def test_oserror_by_errno(name: str, cls: type[OSError], kind: Kind) -> None:
    """An OSError subclass is classified by its errno, and Failure.errno keeps the errno."""
    exc = os_error(name)
    assert type(exc) is cls
    failure = classify(exc)
    assert failure.kind is kind
    assert failure.errno == getattr(errno, name)


def test_connect_only_errno_needs_a_connect() -> None:
    """EACCES alone says nothing about the network; under a connector error it is a route."""
    assert classify(os_error("EACCES")).kind is Kind.UNKNOWN
    wrapped = aio_connector(aiohttp.ClientConnectorError, os_error("EACCES"))
    assert classify(wrapped).kind is Kind.CONNECT_UNREACHABLE
    assert classify(wrapped).errno == errno.EACCES


def test_reset_while_connecting_was_not_sent() -> None:
    """A reset raised by aiohttp's connector means the request never left."""
    failure = classify(aio_connector(aiohttp.ClientConnectorError, os_error("ECONNRESET")))
    assert failure.kind is Kind.CONNECTION_RESET
    assert failure.request_sent is False
    assert classify(os_error("ECONNRESET")).request_sent is True


@pytest.mark.parametrize(("code", "message", "kind"), VERIFY_CASES)
def test_certificate_verify_code(code: int, message: str, kind: Kind) -> None:
    """SSLCertVerificationError is classified by verify_code, not by its words."""
    failure = classify(cert_error(code, message))
    assert failure.kind is kind
    assert failure.request_sent is False
    assert failure.retryable is False


def test_not_yet_valid_certificate_blames_the_clock() -> None:
    """verify_code 9 is tls.expired, and the detail says "not yet valid", not "expired"."""
    failure = classify(cert_error(9, "certificate is not yet valid"))
    assert failure.kind is Kind.TLS_EXPIRED
    assert "not yet valid" in failure.detail
    assert "has expired" not in failure.detail


def test_expired_certificate_says_expired() -> None:
    """verify_code 10 says "has expired"."""
    failure = classify(cert_error(10, "certificate has expired"))
    assert "has expired" in failure.detail
    assert "not yet valid" not in failure.detail


def test_certificate_error_without_a_code_goes_by_its_words() -> None:
    """A hand-made ssl.CertificateError (no verify_code) about names is a hostname mismatch."""
    exc = ssl.CertificateError("hostname 'a.example' doesn't match 'b.example'")
    assert classify(exc).kind is Kind.TLS_HOSTNAME_MISMATCH


@pytest.mark.parametrize(("reason", "words"), SSL_REASON_CASES)
def test_ssl_error_reason_is_a_protocol_failure(reason: str, words: str) -> None:
    """An SSLError's OpenSSL reason gives tls.protocol with a specific explanation."""
    failure = classify(ssl_error(reason))
    assert failure.kind is Kind.TLS_PROTOCOL
    assert words in failure.detail


def test_handshake_timeout_is_tls_timeout() -> None:
    """The ssl module's "handshake operation timed out" TimeoutError is tls.timeout."""
    failure = classify(TimeoutError("_ssl.c:989: The handshake operation timed out"))
    assert failure.kind is Kind.TLS_TIMEOUT
    assert failure.request_sent is False


def test_incomplete_read_counts_bytes() -> None:
    """http.client.IncompleteRead says how many bytes came and how many were missing."""
    failure = classify(http.client.IncompleteRead(b"abc", 10))
    assert failure.kind is Kind.RESPONSE_TRUNCATED
    assert "3 bytes arrived, 10 more" in failure.detail


# --- the traps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("eai", "kind"),
    [
        pytest.param("EAI_NONAME", Kind.DNS_NOT_FOUND, id="EAI_NONAME"),
        pytest.param("EAI_AGAIN", Kind.DNS_UNAVAILABLE, id="EAI_AGAIN"),
        pytest.param("EAI_NODATA", Kind.DNS_NO_ADDRESS, id="EAI_NODATA"),
    ],
)
def test_name_resolution_error_is_dns_not_a_connect_timeout(eai: str, kind: Kind) -> None:
    """urllib3's NameResolutionError subclasses ConnectTimeoutError, yet it is a DNS kind."""
    exc = u3_name_resolution(eai)
    assert isinstance(exc, u3.ConnectTimeoutError)
    assert isinstance(exc, u3.TimeoutError)
    failure = classify(exc)
    assert failure.kind is kind
    assert failure.host == "nope.invalid"


def test_name_resolution_error_alone_is_still_dns() -> None:
    """Without its gaierror cause, the class itself still says DNS, never connect.timeout."""
    exc = u3.NameResolutionError(
        "nope.invalid", HTTPConnection("nope.invalid", 80), socket.gaierror(-1, "?")
    )
    assert classify(exc).kind.value.startswith("dns.")


def test_name_resolution_under_a_connect_timeout_wrapper_is_still_dns() -> None:
    """Even wrapped as requests' ConnectTimeout, the gaierror decides: dns, not connect."""
    exc = rq_wrap(requests.ConnectTimeout, u3_max_retry(u3_name_resolution()))
    assert classify(exc).kind is Kind.DNS_NOT_FOUND


def test_remote_disconnected_is_closed_not_reset_nor_malformed() -> None:
    """http.client.RemoteDisconnected is both a reset and a bad status line: it is closed."""
    exc = http.client.RemoteDisconnected("Remote end closed connection without response")
    assert isinstance(exc, ConnectionResetError)
    assert isinstance(exc, http.client.BadStatusLine)
    failure = classify(exc)
    assert failure.kind is Kind.CONNECTION_CLOSED
    assert failure.errno is None


@pytest.mark.parametrize("faithful", [False, True], ids=["direct-cause", "aiohttp-chain"])
def test_aiohttp_bad_status_line_is_malformed_not_a_400(faithful: bool) -> None:
    """aiohttp's "400" for a garbage status line is response.malformed: the parser error wins."""
    failure = classify(aio_bad_status_line(faithful=faithful))
    assert failure.kind is Kind.RESPONSE_MALFORMED
    assert failure.layer is CATALOGUE[Kind.RESPONSE_MALFORMED].layer


def test_aiohttp_real_400_is_a_client_error() -> None:
    """Without a parser error in the chain, aiohttp's 400 is an ordinary http.client_error."""
    failure = classify(aio_response(400, "Bad Request"))
    assert failure.kind is Kind.HTTP_CLIENT_ERROR
    assert failure.status == 400


def test_aiohttp_404_is_a_client_error() -> None:
    """ClientResponseError(status=404) is http.client_error, not retryable, with the URL."""
    failure = classify(aio_response(404, "Not Found"))
    assert failure.kind is Kind.HTTP_CLIENT_ERROR
    assert failure.status == 404
    assert failure.retryable is False
    assert (failure.host, failure.port) == ("127.0.0.1", 9999)


def test_aiohttp_503_reads_retry_after() -> None:
    """ClientResponseError(status=503) with Retry-After: 7 is a retryable server error, 7 s."""
    failure = classify(aio_response(503, "Service Unavailable", {"Retry-After": "7"}))
    assert failure.kind is Kind.HTTP_SERVER_ERROR
    assert failure.retry_after == 7.0
    assert failure.retryable is True
    assert failure.status == 503


# --- wrappers -----------------------------------------------------------------------------


def test_requests_connection_refused() -> None:
    """requests ConnectionError(MaxRetryError(NewConnectionError from refusal)) is refused."""
    failure = classify(rq_connection_error(u3_new_connection(refused())))
    assert failure.kind is Kind.CONNECT_REFUSED
    assert (failure.host, failure.port) == ("127.0.0.1", 9999)
    assert failure.errno == errno.ECONNREFUSED
    assert failure.request_sent is False
    assert failure.retryable is True


def test_requests_proxy_refused_is_proxy_unreachable() -> None:
    """requests ProxyError around a refusal is proxy.unreachable, naming the proxy."""
    inner = u3_max_retry(u3_proxy_error(u3_new_connection(refused(), port=3128)))
    failure = classify(rq_wrap(requests.exceptions.ProxyError, inner))
    assert failure.kind is Kind.PROXY_UNREACHABLE
    assert (failure.host, failure.port) == ("127.0.0.1", 3128)


TUNNEL_CASES = [
    pytest.param(407, Kind.PROXY_AUTH_REQUIRED, False, id="407"),
    pytest.param(502, Kind.PROXY_REJECTED, True, id="502"),
    pytest.param(403, Kind.PROXY_REJECTED, False, id="403"),
]


@pytest.mark.parametrize(("status", "kind", "retryable"), TUNNEL_CASES)
@pytest.mark.parametrize("via", ["urllib3", "requests"])
def test_proxy_tunnel_refusal_by_status(via: str, status: int, kind: Kind, retryable: bool) -> None:
    """A CONNECT answered with an error status: 407 needs auth, others are rejections."""
    exc: BaseException = u3_proxy_error(tunnel_refused(status))
    if via == "requests":
        exc = rq_wrap(requests.exceptions.ProxyError, u3_max_retry(exc, proxied_pool()))
    failure = classify(exc)
    assert failure.kind is kind
    assert failure.status == status
    assert failure.retryable is retryable
    assert failure.request_sent is False


def test_proxy_tunnel_refusal_names_the_proxy_not_the_target() -> None:
    """A 407 from the proxy must not be reported as "The proxy target.test:443 answered 407"."""
    inner = u3_max_retry(u3_proxy_error(tunnel_refused(407)), proxied_pool())
    failure = classify(rq_wrap(requests.exceptions.ProxyError, inner, "https://target.test/"))
    assert "target.test" not in failure.detail
    assert (failure.host, failure.port) == ("127.0.0.1", 3128)


def test_requests_read_timeout() -> None:
    """requests ReadTimeout is read.timeout: the request may have been acted on."""
    failure = classify(rq_read_timeout())
    assert failure.kind is Kind.READ_TIMEOUT
    assert failure.request_sent is True
    assert (failure.host, failure.port) == ("127.0.0.1", 9999)


def test_a_write_that_cannot_finish_names_the_body_it_was_sending() -> None:
    """A send that timed out is write.timeout, and where the error carries the request
    (requests, httpx) the detail says how large a body the server stopped reading."""
    request = requests.Request("POST", "http://127.0.0.1:9999/up", data=b"x" * 4096).prepare()
    stalled = u3.ProtocolError("Connection aborted.", raised(TimeoutError("timed out")))
    failure = classify(
        raised_while_handling(requests.ConnectionError(stalled, request=request), stalled)
    )
    assert failure.kind is Kind.WRITE_TIMEOUT
    assert failure.layer.value == "request"
    assert failure.request_sent is True
    assert failure.detail == (
        "127.0.0.1:9999 stopped reading the request before its 4096-byte body was all sent "
        "(write timeout)"
    )
    bare = classify(stalled, url="http://127.0.0.1:9999/up")
    assert bare.detail == (
        "127.0.0.1:9999 stopped reading the request before it was all sent (write timeout)"
    )


def test_requests_connect_timeout() -> None:
    """requests ConnectTimeout is connect.timeout: the request never left."""
    exc = rq_wrap(requests.ConnectTimeout, u3_max_retry(u3_connect_timeout()))
    failure = classify(exc)
    assert failure.kind is Kind.CONNECT_TIMEOUT
    assert failure.request_sent is False
    assert (failure.host, failure.port) == ("127.0.0.1", 9999)


def test_httpx_connect_error_refused() -> None:
    """httpx ConnectError from httpcore ConnectError from ConnectionRefusedError is refused."""
    failure = classify(hx_error(httpx.ConnectError, httpcore.ConnectError, refused()))
    assert failure.kind is Kind.CONNECT_REFUSED
    assert failure.errno == errno.ECONNREFUSED
    assert failure.url == "http://127.0.0.1:9999/x"
    assert (failure.host, failure.port) == ("127.0.0.1", 9999)


def test_httpx_error_without_request_does_not_break_classification() -> None:
    """httpx's .request raises RuntimeError when unset; classify still works."""
    core = raised(httpcore.ConnectError(refused()), refused())
    exc = raised(httpx.ConnectError(str(core)), core)
    with pytest.raises(RuntimeError):
        _ = exc.request  # type: ignore[attr-defined]
    assert classify(exc).kind is Kind.CONNECT_REFUSED


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        pytest.param(
            "Server disconnected without sending a response.",
            Kind.CONNECTION_CLOSED,
            id="disconnected",
        ),
        pytest.param(
            "peer closed connection without sending complete message body: incomplete chunked read",
            Kind.RESPONSE_TRUNCATED,
            id="incomplete-chunked",
        ),
    ],
)
def test_httpx_remote_protocol_error_by_words(message: str, kind: Kind) -> None:
    """httpx's RemoteProtocolError says what broke only in words: they decide the kind."""
    exc = hx_error(httpx.RemoteProtocolError, httpcore.RemoteProtocolError, message)
    assert classify(exc).kind is kind


def test_exception_group_of_refusals() -> None:
    """An ExceptionGroup of two refusals (one per address) is connect.refused."""
    group = ExceptionGroup("all attempts failed", [refused(), refused()])
    failure = classify(group)
    assert failure.kind is Kind.CONNECT_REFUSED
    assert failure.errno == errno.ECONNREFUSED


def test_aiohttp_certificate_error_reads_the_certificate_error() -> None:
    """ClientConnectorCertificateError has no verify_code; its certificate_error has."""
    exc = aio_cert_error(62, "Hostname mismatch, certificate is not valid for 'secure.example'.")
    assert not hasattr(exc, "verify_code")
    failure = classify(exc)
    assert failure.kind is Kind.TLS_HOSTNAME_MISMATCH
    assert (failure.host, failure.port) == ("secure.example", 443)


def test_aiohttp_connector_error_names_the_peer() -> None:
    """aiohttp's ClientConnectorError gives host and port from its connection key."""
    failure = classify(aio_connector(aiohttp.ClientConnectorError, refused(), port=8443))
    assert failure.kind is Kind.CONNECT_REFUSED
    assert (failure.host, failure.port) == ("127.0.0.1", 8443)


# --- HTTP status errors -------------------------------------------------------------------


def test_requests_http_error_429() -> None:
    """requests HTTPError carrying a 429 Response is rate_limited with its Retry-After."""
    failure = classify(rq_http_error(429, **{"Retry-After": "3"}))
    assert failure.kind is Kind.HTTP_RATE_LIMITED
    assert failure.retry_after == 3.0
    assert failure.status == 429
    assert failure.retryable is True
    assert "retry after 3 s" in failure.detail


def test_requests_http_error_takes_the_url_from_the_request() -> None:
    """raise_for_status's response carries its request: host and port come from it."""
    exc = rq_http_error(503)
    assert exc.response is not None
    exc.response.request = prepared("http://api.example:8080/things")
    failure = classify(exc)
    assert failure.kind is Kind.HTTP_SERVER_ERROR
    assert (failure.host, failure.port) == ("api.example", 8080)


def test_httpx_status_error() -> None:
    """httpx HTTPStatusError is classified by its response's status and Retry-After."""
    request = hx_request("http://api.example/x")
    response = httpx.Response(503, headers={"Retry-After": "2"}, request=request)
    exc = httpx.HTTPStatusError("503", request=request, response=response)
    failure = classify(exc)
    assert failure.kind is Kind.HTTP_SERVER_ERROR
    assert failure.retry_after == 2.0
    assert (failure.host, failure.port) == ("api.example", 80)


def test_urllib_http_error() -> None:
    """urllib.error.HTTPError is its own response: its code and headers are read."""
    headers = Message()
    headers["Retry-After"] = "11"
    exc = urllib.error.HTTPError("http://h.example/", 429, "Too Many", headers, io.BytesIO())
    try:
        failure = classify(exc)
    finally:
        exc.close()
    assert failure.kind is Kind.HTTP_RATE_LIMITED
    assert failure.retry_after == 11.0


# --- dnspython ------------------------------------------------------------------------------


@pytest.mark.parametrize(("factory", "kind"), DNSPYTHON_CASES)
def test_dnspython_errors(factory: Factory, kind: Kind) -> None:
    """dnspython's resolver exceptions map to the DNS kinds."""
    failure = classify(factory())
    assert failure.kind is kind
    assert failure.request_sent is False


# --- unknown and hostile exceptions -----------------------------------------------------------


class CustomError(Exception):
    """An application's own exception: nothing tether knows."""


class HostileAttributes(Exception):
    """An exception whose attributes raise when read."""

    @property
    def reason(self) -> Any:
        raise RuntimeError("no reason for you")

    @property
    def errno(self) -> Any:
        raise RuntimeError("no errno either")


def self_caused() -> BaseException:
    exc = RuntimeError("I caused myself")
    exc.__cause__ = exc
    return exc


def two_cycle() -> BaseException:
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__cause__, second.__context__ = second, first
    return first


def long_chain() -> BaseException:
    exc: BaseException = refused()
    for n in range(100):
        wrapper = RuntimeError(f"layer {n}")
        wrapper.__cause__ = exc
        exc = wrapper
    return exc


UNKNOWN_CASES = [
    pytest.param(lambda: KeyError("x"), id="KeyError"),
    pytest.param(RuntimeError, id="RuntimeError-no-args"),
    pytest.param(CustomError, id="custom-class"),
    pytest.param(lambda: CustomError("with", "args", 3), id="custom-class-args"),
    pytest.param(HostileAttributes, id="attributes-raise"),
    pytest.param(self_caused, id="self-cause-cycle"),
    pytest.param(two_cycle, id="two-node-cycle"),
    pytest.param(KeyboardInterrupt, id="KeyboardInterrupt"),
]


@pytest.mark.parametrize("factory", UNKNOWN_CASES)
def test_unknown_exceptions(factory: Factory) -> None:
    """Anything unrecognised is Kind.UNKNOWN with the exception kept as cause; no raise."""
    exc = factory()
    failure = classify(exc)
    assert failure.kind is Kind.UNKNOWN
    assert failure.cause is exc
    assert failure.layer is CATALOGUE[Kind.UNKNOWN].layer
    assert failure.detail.startswith(f"Unrecognised failure {type(exc).__qualname__}")


def test_very_long_chain_is_bounded() -> None:
    """A chain far longer than the walk's bound is cut short, not followed forever."""
    exc = long_chain()
    failure = classify(exc)
    assert failure.cause is exc
    assert failure.kind is Kind.UNKNOWN  # the refusal at the bottom is past the bound


class UnprintableError(Exception):
    """An exception whose ``__str__`` raises."""

    def __str__(self) -> str:
        raise ValueError("cannot print me")


def test_exception_whose_str_raises_is_unknown() -> None:
    """classify never raises, even when str(exc) raises."""
    exc = UnprintableError()
    failure = classify(exc)
    assert failure.kind is Kind.UNKNOWN
    assert failure.cause is exc


# --- __context__ ------------------------------------------------------------------------------


def test_implicit_context_is_followed() -> None:
    """A bare exception raised while handling a reset is classified by that reset."""
    exc = raised_while_handling(RuntimeError("wrapped"), os_error("ECONNRESET"))
    assert classify(exc).kind is Kind.CONNECTION_RESET


def test_suppressed_context_is_not_followed() -> None:
    """``raise X from None`` hides the context from classification too."""
    try:
        try:
            raise os_error("ECONNRESET")
        except ConnectionResetError:
            raise RuntimeError("handled elsewhere") from None
    except RuntimeError as caught:
        exc = caught
    assert exc.__suppress_context__
    assert isinstance(exc.__context__, ConnectionResetError)
    assert classify(exc).kind is Kind.UNKNOWN


def test_explicit_cause_beats_an_unrelated_context() -> None:
    """A requests error raised while handling an earlier reset is classified by its own cause."""
    inner = u3_max_retry(u3_name_resolution("EAI_NONAME"))
    try:
        try:
            raise os_error("ECONNRESET")
        except ConnectionResetError:
            raise requests.ConnectionError(inner, request=prepared())  # noqa: B904
    except requests.ConnectionError as caught:
        exc = caught
    assert isinstance(exc.__context__, ConnectionResetError)
    failure = classify(exc)
    assert failure.kind is Kind.DNS_NOT_FOUND
    assert failure.errno == socket.EAI_NONAME


# --- url=, redaction, the Failure object -------------------------------------------------------


def test_url_argument_fills_host_and_port() -> None:
    """``url=`` gives host and port when the exception does not carry them."""
    failure = classify(refused(), url=SECRET_URL)
    assert (failure.host, failure.port) == ("127.0.0.1", 9)
    default = classify(refused(), url="https://h.example/")
    assert (default.host, default.port) == ("h.example", 443)
    v6 = classify(refused(), url="http://[::1]:8080/")
    assert (v6.host, v6.port) == ("::1", 8080)
    assert repr(v6) == "<Failure connect.refused [::1]:8080>"


def test_the_exceptions_own_peer_beats_the_url_argument() -> None:
    """The peer the exception names (a proxy, say) wins over the requested URL's host."""
    failure = classify(rq_connection_error(u3_new_connection(refused())), url="http://h.example/")
    assert (failure.host, failure.port) == ("127.0.0.1", 9999)
    assert failure.url == "http://h.example/"


@pytest.mark.parametrize("url", ["http://[::1", "http://h.example:99999/", "not a url", ""])
def test_malformed_url_argument_does_not_raise(url: str) -> None:
    """A broken ``url=`` never breaks classification."""
    failure = classify(refused(), url=url)
    assert failure.kind is Kind.CONNECT_REFUSED


@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(refused, id="refused"),
        pytest.param(lambda: rq_http_error(429), id="http-429"),
        pytest.param(lambda: requests.exceptions.InvalidURL("bad"), id="url-invalid"),
        pytest.param(lambda: KeyError("x"), id="unknown"),
    ],
)
def test_credentials_never_leave_through_url_argument(factory: Factory) -> None:
    """The url= password and secret query value appear in none of url, detail, repr, str."""
    failure = classify(factory(), url=SECRET_URL)
    assert failure.url == "http://alice:***@127.0.0.1:9/p?token=***"
    for text in (failure.url, failure.detail, repr(failure), str(failure)):
        assert "hunter2" not in text
        assert "abc" not in text


def test_credentials_in_exception_text_are_masked() -> None:
    """A password inside the exception's own message is masked in the detail."""
    exc = requests.exceptions.InvalidURL(f"Invalid URL '{SECRET_URL}': No host supplied")
    failure = classify(exc)
    assert "hunter2" not in failure.detail
    assert "hunter2" not in str(failure)


@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(
            lambda: requests.exceptions.InvalidURL(f"Invalid URL '{SECRET_URL}': No host"),
            id="url-invalid",
        ),
        pytest.param(lambda: RuntimeError(f"GET {SECRET_URL} failed"), id="unknown"),
    ],
)
def test_secret_query_values_in_exception_text_are_masked(factory: Factory) -> None:
    """A secret query value inside the exception's message never reaches detail or str."""
    failure = classify(factory())
    assert "abc" not in failure.detail
    assert "abc" not in str(failure)


def test_repr_and_str() -> None:
    """repr is ``<Failure kind host:port>`` (plus status); str is ``kind: detail``."""
    failure = classify(rq_connection_error(u3_new_connection(refused())))
    assert repr(failure) == "<Failure connect.refused 127.0.0.1:9999>"
    assert str(failure) == f"connect.refused: {failure.detail}"
    assert repr(classify(refused())) == "<Failure connect.refused>"
    status = classify_status(404, url="http://h.example/x")
    assert repr(status) == "<Failure http.client_error h.example:80 404>"
    assert repr(classify_status(503)) == "<Failure http.server_error 503>"


def test_failure_is_frozen_and_slotted() -> None:
    """Failure cannot be modified and has no per-instance __dict__."""
    failure = classify(refused())
    with pytest.raises(dataclasses.FrozenInstanceError):
        failure.kind = Kind.UNKNOWN  # type: ignore[misc]
    assert "__slots__" in vars(Failure)
    assert not hasattr(failure, "__dict__")


def test_failures_compare_without_their_cause() -> None:
    """Two failures from equal facts are equal: ``cause`` takes no part in comparison."""
    first, second = classify(refused()), classify(refused())
    assert first.cause is not second.cause
    assert first == second


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: classify(refused()), id="refused"),
        pytest.param(lambda: classify(dns.resolver.NXDOMAIN()), id="nxdomain"),
        pytest.param(lambda: classify(httpx.UnsupportedProtocol("no scheme")), id="url"),
        pytest.param(lambda: classify_status(404), id="status-404"),
        pytest.param(lambda: classify_status(407), id="status-407"),
    ],
)
def test_detail_reads_as_a_sentence_without_a_peer(make: Callable[[], Failure]) -> None:
    """Without a host the detail is still a capitalised sentence with no doubled placeholder."""
    detail = make().detail
    assert detail[0].isupper(), detail
    assert not re.search(r"\b(name|URL|proxy) the (name|server)\b", detail), detail


# --- cross-cutting: kinds, layers, coverage -----------------------------------------------------


@pytest.mark.parametrize(("factory", "kind"), ALL_CASES)
def test_kind(factory: Factory, kind: Kind) -> None:
    """Each hand-built library failure is classified as its kind, and classify keeps it."""
    exc = factory()
    failure = classify(exc)
    assert failure.kind is kind
    assert failure.cause is exc


@pytest.mark.parametrize(("factory", "kind"), ALL_CASES)
def test_layer_matches_catalogue(factory: Factory, kind: Kind) -> None:
    """The classifier may refine retryable and request_sent, never the layer."""
    failure = classify(factory())
    assert failure.layer is CATALOGUE[failure.kind].layer
    assert failure.hint == hint_for(failure.kind, failure.detail)
    assert isinstance(failure.retryable, bool)
    assert isinstance(failure.request_sent, bool)
    assert failure.detail


def test_cases_cover_every_kind_classify_can_give() -> None:
    """The tables above reach every Kind except circuit.open, which only a breaker gives,
    bulkhead.full and throttle.rejected, which only a policy's own limits give,
    heartbeat.missed, which only a push monitor gives, and the kinds only a check's own
    verdict gives (no exception is one): grpc.not_serving (a grpc:// probe's answer),
    browser.step_failed and browser.page_error (a browser check's),
    the dns.dnssec_* kinds (a dns:// check's validation).  The kinds of the clients a
    service calls besides HTTP (the db.* kinds, auth.failed, server.unavailable, gRPC's)
    are reached by tests/classify/test_clients.py, against the lab's service servers and
    real ones."""
    from tests.helpers.service_clients import REAL_KINDS
    from tether.lab._services import FAULTS

    covered = {param.values[1] for param in ALL_CASES} | {f.kind for f in FAULTS} | REAL_KINDS
    assert set(Kind) - covered == {
        Kind.CIRCUIT_OPEN,
        Kind.BULKHEAD_FULL,
        Kind.THROTTLE_REJECTED,
        Kind.HEARTBEAT_MISSED,
        Kind.GRPC_NOT_SERVING,
        Kind.BROWSER_STEP_FAILED,
        Kind.BROWSER_PAGE_ERROR,
        Kind.DNS_DNSSEC_BOGUS,
        Kind.DNS_DNSSEC_EXPIRED,
        Kind.DNS_DNSSEC_INSECURE,
    }


# --- classify_status ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [100, 200, 204, 301, 302, 304, 308])
def test_classify_status_success_and_redirects(status: int) -> None:
    """Success and redirect statuses are not failures."""
    assert classify_status(status) is None


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, Kind.HTTP_CLIENT_ERROR, False),
        (404, Kind.HTTP_CLIENT_ERROR, False),
        (407, Kind.PROXY_AUTH_REQUIRED, False),
        (408, Kind.HTTP_CLIENT_ERROR, True),
        (425, Kind.HTTP_CLIENT_ERROR, True),
        (429, Kind.HTTP_RATE_LIMITED, True),
        (500, Kind.HTTP_SERVER_ERROR, False),
        (501, Kind.HTTP_SERVER_ERROR, False),
        (502, Kind.HTTP_SERVER_ERROR, True),
        (503, Kind.HTTP_SERVER_ERROR, True),
        (504, Kind.HTTP_SERVER_ERROR, True),
    ],
)
def test_classify_status(status: int, kind: Kind, retryable: bool) -> None:
    """Each error status has its kind; only the "not now" statuses are retryable."""
    failure = classify_status(status)
    assert failure is not None
    assert failure.kind is kind
    assert failure.retryable is retryable
    assert failure.status == status
    assert failure.layer is CATALOGUE[kind].layer
    assert failure.cause is None
    assert failure.retry_after is None


def test_classify_status_url_is_redacted() -> None:
    """classify_status's url= is redacted and gives host and port."""
    failure = classify_status(503, url="https://u:pw@api.example/x?api_key=k")
    assert failure is not None
    assert failure.url == "https://u:***@api.example/x?api_key=***"
    assert (failure.host, failure.port) == ("api.example", 443)


def test_retry_after_seconds() -> None:
    """Retry-After in seconds becomes retry_after, and the detail mentions it."""
    failure = classify_status(503, {"Retry-After": "7"})
    assert failure is not None
    assert failure.retry_after == 7.0
    assert "retry after 7 s" in failure.detail


def test_retry_after_http_date() -> None:
    """Retry-After as an HTTP date 120 s after ``now`` gives 120.0."""
    failure = classify_status(503, {"Retry-After": formatdate(NOW + 120, usegmt=True)}, now=NOW)
    assert failure is not None
    assert failure.retry_after == 120.0


def test_retry_after_past_date_is_zero() -> None:
    """An HTTP date in the past means "now": 0.0."""
    failure = classify_status(429, {"Retry-After": formatdate(NOW - 3600, usegmt=True)}, now=NOW)
    assert failure is not None
    assert failure.retry_after == 0.0


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", ""])
def test_retry_after_invalid_is_none(value: str) -> None:
    """An unparsable Retry-After is ignored, not an error."""
    failure = classify_status(503, {"Retry-After": value})
    assert failure is not None
    assert failure.kind is Kind.HTTP_SERVER_ERROR
    assert failure.retry_after is None


def _message_headers() -> Message:
    message = Message()
    message["Retry-After"] = "5"
    return message


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda: {"Retry-After": "5"}, id="dict"),
        pytest.param(lambda: {"retry-after": "5"}, id="dict-lower-case"),
        pytest.param(lambda: {"RETRY-AFTER": "5"}, id="dict-upper-case"),
        pytest.param(lambda: CaseInsensitiveDict({"retry-after": "5"}), id="requests"),
        pytest.param(lambda: httpx.Headers({"retry-after": "5"}), id="httpx"),
        pytest.param(lambda: CIMultiDictProxy(CIMultiDict({"retry-after": "5"})), id="aiohttp"),
        pytest.param(_message_headers, id="email.message"),
    ],
)
def test_retry_after_from_any_header_container(make_headers: Callable[[], Any]) -> None:
    """Retry-After is found in every library's header mapping, whatever the key's case."""
    failure = classify_status(429, make_headers())
    assert failure is not None
    assert failure.retry_after == 5.0


def test_retry_after_non_string_value_is_ignored() -> None:
    """A header value that is not a string is ignored rather than crashing."""
    failure = classify_status(503, {"Retry-After": 5})
    assert failure is not None
    assert failure.retry_after is None


# --- parse_retry_after ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0.0),
        ("3", 3.0),
        (" 42 ", 42.0),
        ("86400", 86400.0),
        ("-1", None),
        ("+5", None),
        ("1.5", None),
        ("", None),
        ("soon", None),
        (formatdate(NOW + 120, usegmt=True), 120.0),
        (formatdate(NOW + 0.0, usegmt=True), 0.0),
        (formatdate(NOW - 60, usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Tue, 14 Nov 2023 22:15:20 GMT", 120.0),
        ("Tue, 14 Nov 2023 22:15:20", None),  # no zone: not an HTTP date
        ("Tue, 32 Nov 2023 22:15:20 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Delta-seconds or an HTTP date; negative, fractional or unparsable values give None."""
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_odd_digits_give_none() -> None:
    """A Retry-After of Unicode 'digits' float() cannot read gives None, never an error."""
    assert parse_retry_after("²", now=NOW) is None
    assert classify_status(429, {"Retry-After": "²"}) is not None
    assert classify(rq_http_error(429, **{"Retry-After": "²"})).kind is Kind.HTTP_RATE_LIMITED


def test_tethers_own_errors_keep_the_failure_they_carry() -> None:
    """A tether.Session error whose circuit is open classifies as circuit.open (it carries
    its Failure), not as an unknown requests.ConnectionError."""
    import socket

    import requests

    import tether

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        session = tether.Session(policy=tether.RetryPolicy(attempts=1))
        kinds = []
        for _ in range(8):
            try:
                session.get(f"http://127.0.0.1:{port}/")
            except requests.ConnectionError as exc:
                kinds.append(tether.classify(exc).kind)
        session.close()
    assert kinds[0] is Kind.CONNECT_REFUSED
    assert kinds[-1] is Kind.CIRCUIT_OPEN
