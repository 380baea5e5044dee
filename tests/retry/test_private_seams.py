"""The private attributes of other libraries that the integrations rely on, by name.

Where a library offers a public seam the integrations use it (requests'
``HTTPAdapter.init_poolmanager`` and ``proxy_manager_for``, httpcore's
``NetworkBackend``, aiohttp's middlewares and ``ClientTimeout``).  Where none
exists they reach in, and guard the reach (``hasattr``, ``getattr``) so that an
upgrade degrades rather than crashes: these tests make that upgrade fail here,
loudly, instead.  Each entry says what tether loses if it goes.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpcore
import httpx
import pytest
import requests
import urllib3
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from tether.integrations import httpx as tether_httpx
from tether.integrations import requests as tether_requests
from tether.integrations.aiohttp import session
from tether.lab import Lab


def test_httpx_transport_pool_and_its_network_backend() -> None:
    """httpx ``HTTPTransport._pool`` and httpcore ``ConnectionPool._network_backend``: without
    them each read is not cut to the attempt's time left, and a slow drip outlasts ``total``."""
    inner = httpx.HTTPTransport()
    assert isinstance(inner._pool, httpcore.ConnectionPool)
    assert isinstance(inner._pool._network_backend, httpcore.NetworkBackend)
    transport = tether_httpx.Transport()
    backend = transport._inner._pool._network_backend  # type: ignore[attr-defined]
    assert isinstance(backend, tether_httpx._Backend)
    transport.close()


def test_httpx_async_transport_pool_and_its_network_backend() -> None:
    """The same two attributes on ``AsyncHTTPTransport``, wrapped for the async transport."""
    inner = httpx.AsyncHTTPTransport()
    assert isinstance(inner._pool, httpcore.AsyncConnectionPool)
    assert isinstance(inner._pool._network_backend, httpcore.AsyncNetworkBackend)
    transport = tether_httpx.AsyncTransport()
    backend = transport._inner._pool._network_backend  # type: ignore[attr-defined]
    assert isinstance(backend, tether_httpx._AsyncBackend)


def test_aiohttp_client_session_retry_connection() -> None:
    """aiohttp ``ClientSession._retry_connection``: without it aiohttp resends an idempotent
    request once after a dropped connection, running tether's whole loop twice."""

    async def main() -> tuple[bool, bool]:
        async with aiohttp.ClientSession() as plain, session() as ours:
            return plain._retry_connection, ours.raw._retry_connection

    assert asyncio.run(main()) == (True, False)


def test_aiohttp_hops_of_one_request_share_its_timer(lab: Lab) -> None:
    """aiohttp ``ClientRequest._timer``, made once per ``ClientSession.request`` and given to
    each of its redirect hops: without it tether cannot tell a redirect from a new call,
    and credential headers follow a redirect to another origin."""
    marks: list[object] = []

    async def record(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        marks.append(request._timer)  # type: ignore[attr-defined]
        return await handler(request)

    async def main() -> None:
        async with aiohttp.ClientSession(middlewares=[record]) as s:
            for _ in range(2):
                with pytest.raises(aiohttp.TooManyRedirects):
                    await s.get(lab["redirect_loop"].url, max_redirects=3)

    asyncio.run(main())
    first, second = marks[:3], marks[3:]
    assert len(first) == len(second) == 3
    assert all(m is first[0] for m in first)
    assert all(m is second[0] for m in second)
    assert first[0] is not second[0]


def test_httpx_redirects_carry_the_request_extensions(lab: Lab) -> None:
    """httpx copies a request's ``extensions`` onto the request that follows its redirect
    (``Client._build_redirect_request``, undocumented): without it the transports cannot
    tell a redirect's hop from a new call, and credential headers follow a redirect to
    another origin."""
    mark = object()
    seen: list[object] = []

    class Marking(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.extensions.get("mark"))
            request.extensions = {**request.extensions, "mark": mark}
            return super().handle_request(request)

    with (
        httpx.Client(transport=Marking(), max_redirects=2) as c,
        pytest.raises(httpx.TooManyRedirects),
    ):
        c.get(lab["redirect_loop"].url, follow_redirects=True)
    assert seen == [None, mark, mark]


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (urllib3.PoolManager(), "pool_classes_by_scheme"),
        (HTTPConnectionPool, "ConnectionCls"),
        (HTTPConnection, "getresponse"),
    ],
    ids=["PoolManager", "HTTPConnectionPool", "HTTPConnection"],
)
def test_urllib3_attributes_without_documentation(owner: object, name: str) -> None:
    """urllib3 ``PoolManager.pool_classes_by_scheme`` and ``HTTPConnectionPool.ConnectionCls``
    (public names, undocumented) and ``HTTPConnection.getresponse``: the seam by which every
    connection registers its socket with the attempt's cutoff."""
    assert hasattr(owner, name)


def test_urllib3_seams_take_effect() -> None:
    """tether's adapter puts its pools into the pool manager: the cutoff sees every socket."""
    adapter = tether_requests._Adapter()
    pools = adapter.poolmanager.pool_classes_by_scheme
    assert pools is tether_requests._POOLS
    assert issubclass(pools["http"].ConnectionCls, tether_requests._Watched)
    with requests.Session() as plain:
        assert plain.get_adapter("http://x/").poolmanager.pool_classes_by_scheme is not pools


def test_opentelemetry_proxy_instruments_name_their_real_one() -> None:
    """opentelemetry-api's ``_ProxyHistogram._real_instrument`` (None until a MeterProvider
    is set): without it tether builds the attributes of every call for a meter that drops
    them, about 0.3 µs a call, instead of skipping them."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.metrics._internal import _ProxyMeter

    meter = _ProxyMeter("tether")
    histogram = meter.create_histogram("h")
    assert histogram._real_instrument is None  # type: ignore[attr-defined]
    meter.on_set_meter_provider(NoOpMeterProvider())
    assert histogram._real_instrument is not None  # type: ignore[attr-defined]


def test_opentelemetry_proxy_meters_tell_the_instruments_they_keep() -> None:
    """opentelemetry-api's ``_ProxyMeter._instruments`` and ``_lock``: each instrument in
    the list is told ``on_meter_set`` when a MeterProvider is set.  tether's duration sink
    stays out of the sinks until then (no record built for a meter that drops it); without
    them it is always in, and each call builds a record the sink drops."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.metrics._internal import _ProxyMeter

    from tether._retry import _instrument

    meter = _ProxyMeter("tether")
    woken: list[bool] = []
    made = _instrument.call_duration(meter, woken=lambda: woken.append(True))
    assert made is not None
    assert made.asleep()
    assert isinstance(meter._instruments, list)
    assert meter._lock is not None
    meter.on_set_meter_provider(NoOpMeterProvider())
    assert woken == [True]
    assert not made.asleep()


def test_httpx_urls_keep_their_parsed_reference() -> None:
    """httpx ``URL._uri_reference``, whose ``str()`` is the URL's: the transport keys each
    call's endpoint by it (a tuple hashed in C) instead of formatting the URL anew."""
    url = httpx.URL("http://user:pw@127.0.0.1:8080/a?b=c")
    assert str(url._uri_reference) == str(url)
    assert tether_httpx._REFERENCED
    assert tether_httpx._endpoint(url) == "127.0.0.1:8080"
