"""Pure tests of ``connect.resource_exhausted``: out of fds, ports, buffers or pooled connections.

Exceptions are built the way each library builds them (as in ``test_classify.py``); the
real failures, made in child processes and a private namespace, are in
``test_exhaust.py`` and the matrix.  ENFILE and ENOBUFS are only tested here: making them
for real would starve the whole machine.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from pathlib import Path

import aiohttp
import httpcore
import httpx
import pytest
import requests
import urllib3.exceptions as u3
from aiohttp.client_reqrep import ConnectionKey
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from tether import CATALOGUE, Kind, Layer, classify


def raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """``exc`` as a library raises it: with a traceback, and ``from cause`` when given."""
    try:
        if cause is None:
            raise exc
        raise exc from cause
    except BaseException as caught:
        return caught


def os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def create_connection(code: int) -> OSError:
    """The error as it leaves a function named like socket.create_connection (the frame
    the classifier looks for)."""
    try:
        raise os_error(code)
    except OSError as caught:
        return caught


def u3_new_connection(cause: OSError, host: str = "127.0.0.1") -> BaseException:
    """``HTTPConnection._new_conn``: ``raise NewConnectionError(self, ...) from e``."""
    conn = HTTPConnection(host, 8080)
    return raised(
        u3.NewConnectionError(conn, f"Failed to establish a new connection: {cause}"), cause
    )


def rq_connection_error(reason: BaseException) -> BaseException:
    """requests' ``HTTPAdapter.send``: ``ConnectionError(MaxRetryError(reason))``."""
    pool = HTTPConnectionPool("127.0.0.1", 8080)
    retry = raised(u3.MaxRetryError(pool, "/", reason), reason)  # type: ignore[arg-type]
    request = requests.Request("GET", "http://127.0.0.1:8080/").prepare()
    return raised(requests.ConnectionError(retry, request=request), retry)


def hx_error(
    x_cls: type[httpx.RequestError], core_cls: type[Exception], root: BaseException | str
) -> BaseException:
    """httpcore's ``map_exceptions`` then httpx's ``map_httpcore_exceptions``."""
    core = raised(core_cls(root), None if isinstance(root, str) else root)
    return raised(x_cls(str(core), request=httpx.Request("GET", "http://127.0.0.1:8080/")), core)


def aio_connector(error: OSError, host: str = "127.0.0.1") -> BaseException:
    """``TCPConnector``: ``raise ClientConnectorError(req.connection_key, exc) from exc``."""
    key = ConnectionKey(host, 8080, False, True, None, None, None)
    return raised(aiohttp.ClientConnectorError(key, error), error)


@pytest.mark.parametrize("name", ["EMFILE", "ENFILE", "ENOBUFS"])
def test_out_of_fds_or_buffers_anywhere(name: str) -> None:
    """EMFILE, ENFILE and ENOBUFS mean resource exhaustion wherever they come from:
    nothing sent, retryable, the errno kept and named in the detail."""
    code = getattr(errno, name)
    for exc in (os_error(code), u3_new_connection(os_error(code)), aio_connector(os_error(code))):
        failure = classify(exc)
        assert failure.kind is Kind.CONNECT_RESOURCE_EXHAUSTED, exc
        assert failure.layer is Layer.CONNECT
        assert failure.request_sent is False
        assert failure.retryable is True
        assert failure.errno == code
        assert f"({name})" in failure.detail
        assert failure.hint == CATALOGUE[Kind.CONNECT_RESOURCE_EXHAUSTED].hint


def test_too_many_open_files_through_requests() -> None:
    """requests → MaxRetryError → NewConnectionError → OSError(EMFILE): the root is read."""
    failure = classify(rq_connection_error(u3_new_connection(os_error(errno.EMFILE))))
    assert failure.kind is Kind.CONNECT_RESOURCE_EXHAUSTED
    assert (failure.host, failure.port) == ("127.0.0.1", 8080)
    assert failure.detail.startswith("This machine or the client ran out of resources")
    assert "127.0.0.1:8080" in failure.detail


def test_no_free_port_from_a_connect() -> None:
    """EADDRNOTAVAIL under a connecting wrapper, or out of create_connection, is a port
    shortage; the errno is kept."""
    code = errno.EADDRNOTAVAIL
    for exc in (
        rq_connection_error(u3_new_connection(os_error(code))),
        hx_error(httpx.ConnectError, httpcore.ConnectError, os_error(code)),
        aio_connector(os_error(code)),
        create_connection(code),
    ):
        failure = classify(exc)
        assert failure.kind is Kind.CONNECT_RESOURCE_EXHAUSTED, exc
        assert failure.errno == code
        assert failure.request_sent is False


def test_eaddrnotavail_from_bind_stays_unknown() -> None:
    """A real bind() to an address this machine does not have also gives EADDRNOTAVAIL,
    and is no connection problem at all: unknown (no traffic: bind sends nothing)."""
    nonlocal_bind = Path("/proc/sys/net/ipv4/ip_nonlocal_bind")
    if nonlocal_bind.exists() and nonlocal_bind.read_text().strip() != "0":
        pytest.skip("net.ipv4.ip_nonlocal_bind is on: bind() takes any address here")
    with socket.socket() as sock, pytest.raises(OSError, match="assign") as info:
        sock.bind(("192.0.2.1", 0))
    assert info.value.errno == errno.EADDRNOTAVAIL
    assert classify(info.value).kind is Kind.UNKNOWN
    assert classify(os_error(errno.EADDRNOTAVAIL)).kind is Kind.UNKNOWN


def test_eaddrnotavail_towards_ipv6_is_no_ipv6_here() -> None:
    """Linux also says EADDRNOTAVAIL when connecting to an IPv6 address from a machine
    without one (IPv6 disabled): towards an IPv6 literal that is unreachable, not ports."""
    for exc in (
        u3_new_connection(os_error(errno.EADDRNOTAVAIL), host="::1"),
        aio_connector(os_error(errno.EADDRNOTAVAIL), host="::1"),
    ):
        failure = classify(exc)
        assert failure.kind is Kind.CONNECT_UNREACHABLE, exc
        assert "no IPv6 address" in failure.detail


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(
            hx_error(httpx.PoolTimeout, httpcore.PoolTimeout, "timed out"), id="httpx-PoolTimeout"
        ),
        pytest.param(raised(httpcore.PoolTimeout("timed out")), id="httpcore-PoolTimeout"),
        pytest.param(
            raised(
                u3.EmptyPoolError(
                    HTTPConnectionPool("127.0.0.1", 8080, maxsize=1, block=True),
                    "Pool is empty and a new connection can't be opened due to blocking mode.",
                )
            ),
            id="urllib3-EmptyPoolError",
        ),
    ],
)
def test_a_full_pool_that_nothing_freed(exc: BaseException) -> None:
    """A pool timeout is no server's fault and nothing was sent: resource exhaustion, not
    a connect timeout (httpx's PoolTimeout is a TimeoutException) nor unknown."""
    failure = classify(exc)
    assert failure.kind is Kind.CONNECT_RESOURCE_EXHAUSTED
    assert failure.request_sent is False
    assert failure.errno is None
    assert "pool" in failure.detail


def test_full_pool_on_return_was_sent() -> None:
    """urllib3's FullPoolError comes when a connection is put back after its response:
    the request had been sent, so a retry is only safe for idempotent calls."""
    pool = HTTPConnectionPool("127.0.0.1", 8080, maxsize=1, block=True)
    exc = raised(
        u3.FullPoolError(pool, "Pool reached maximum size and no more connections are allowed.")
    )
    failure = classify(exc)
    assert failure.kind is Kind.CONNECT_RESOURCE_EXHAUSTED
    assert failure.request_sent is True


async def _wait_for_available_connection() -> None:
    """Named as aiohttp's connector names its wait for a free connection."""
    raise asyncio.CancelledError


def _aiohttp_timeout(waiting_for_pool: bool) -> BaseException:
    """aiohttp: ``raise ConnectionTimeoutError(...) from TimeoutError``, itself raised from
    the CancelledError of the wait that the connect timeout cut short."""
    try:
        if waiting_for_pool:
            asyncio.run(_wait_for_available_connection())
        raise asyncio.CancelledError
    except asyncio.CancelledError as cancelled:
        timeout = raised(TimeoutError(), cancelled)
    url = "http://127.0.0.1:8080/"
    return raised(aiohttp.ConnectionTimeoutError(f"Connection timeout to host {url}"), timeout)


def test_aiohttp_pool_wait_is_told_from_a_silent_server() -> None:
    """aiohttp counts the wait for a free pooled connection in its connect timeout: the
    waiting frame makes it resource exhaustion; without it, a connect timeout."""
    assert classify(_aiohttp_timeout(True)).kind is Kind.CONNECT_RESOURCE_EXHAUSTED
    assert classify(_aiohttp_timeout(False)).kind is Kind.CONNECT_TIMEOUT


def test_through_a_proxy_it_stays_local() -> None:
    """Running out of fds while reaching the proxy is still this machine's shortage,
    not an unreachable proxy."""
    error = os_error(errno.EMFILE)
    wrapped = raised(requests.exceptions.ProxyError(u3_new_connection(error)), error)
    assert classify(wrapped).kind is Kind.CONNECT_RESOURCE_EXHAUSTED


def test_eaddrnotavail_detail_says_what_it_can_be() -> None:
    """Towards an IPv4 address only ports can be short; towards a name the detail also
    names the other reading (no IPv6 address here), since the address tried is unknown."""
    error = os_error(errno.EADDRNOTAVAIL)
    by_address = classify(u3_new_connection(error)).detail
    assert by_address.endswith("no local port was free for another connection (EADDRNOTAVAIL)")
    by_name = classify(u3_new_connection(os_error(errno.EADDRNOTAVAIL), host="api.example"))
    assert by_name.kind is Kind.CONNECT_RESOURCE_EXHAUSTED
    assert "no IPv6 address to connect from" in by_name.detail
