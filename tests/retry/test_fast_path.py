"""A healthy call's fast path (issue 46 §5): each integration and ``@tether.retry`` make
a call's first attempt without a ``Call``, and that attempt counts in the budget, the
breaker and the health records exactly as the full loop's would.

Real calls to a small loopback server that answers from a script of statuses; a spy on
``Call.__init__`` counts the calls that left the fast path.  The speed itself is
benchmarks/bench_retry.py's (added µs per call beside the named peers).
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import httpx
import pytest

import tether
from tether._retry import _loop
from tether.integrations import aiohttp as tether_aiohttp
from tether.integrations import httpx as tether_httpx


class Scripted:
    """A loopback HTTP server answering each request with the next status of ``script``
    (200 once the script is spent)."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.seen = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.seen += 1
                status = outer.script.pop(0) if outer.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def calls_made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many ``Call`` objects were made (each one a call off the fast path)."""
    made = [0]
    real = _loop.Call.__init__

    def spy(self: _loop.Call, *args: Any, **kwargs: Any) -> None:
        made[0] += 1
        real(self, *args, **kwargs)

    monkeypatch.setattr(_loop.Call, "__init__", spy)
    return made


def _policy(**changes: Any) -> tether.RetryPolicy:
    async def no_wait(_s: float) -> None:
        return None

    return tether.RetryPolicy(sleep=lambda _s: None, async_sleep=no_wait, **changes)


class Client:
    """One client of one integration, called as ``get(url) -> status``; ``close()`` ends it
    (and, for an async one, its event loop)."""

    def __init__(
        self,
        get: Callable[[str], int],
        close: Callable[[], object],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.get, self._close, self._loop = get, close, loop

    def __call__(self, url: str) -> int:
        return self.get(url)

    def close(self) -> None:
        self._close()
        if self._loop is not None:
            self._loop.run_until_complete(asyncio.sleep(0.01))  # transports finish closing
            self._loop.close()


def _requests(policy: tether.RetryPolicy) -> Client:
    session = tether.Session(policy)
    return Client(lambda url: session.get(url).status_code, session.close)


def _httpx(policy: tether.RetryPolicy) -> Client:
    client = httpx.Client(transport=tether_httpx.Transport(policy))
    return Client(lambda url: client.get(url).status_code, client.close)


def _in_loop(
    make: Callable[[], Any],
    get: Callable[[Any, str], Awaitable[int]],
    close: Callable[[Any], Awaitable[object]],
) -> Client:
    """A sync face on an async client: one event loop for all its calls."""
    loop = asyncio.new_event_loop()

    async def made() -> Any:
        return make()

    client = loop.run_until_complete(made())
    return Client(
        lambda url: loop.run_until_complete(get(client, url)),
        lambda: loop.run_until_complete(close(client)),
        loop,
    )


def _httpx_async(policy: tether.RetryPolicy) -> Client:
    async def get(client: httpx.AsyncClient, url: str) -> int:
        return (await client.get(url)).status_code

    async def close(client: httpx.AsyncClient) -> None:
        await client.aclose()

    return _in_loop(
        lambda: httpx.AsyncClient(transport=tether_httpx.AsyncTransport(policy)), get, close
    )


async def _aiohttp_get(session: Any, url: str) -> int:
    async with session.get(url) as r:
        return int(r.status)


async def _aiohttp_close(session: Any) -> None:
    await session.close()


def _aiohttp_session(policy: tether.RetryPolicy) -> Client:
    return _in_loop(lambda: tether_aiohttp.session(policy), _aiohttp_get, _aiohttp_close)


def _aiohttp_middleware(policy: tether.RetryPolicy) -> Client:
    return _in_loop(
        lambda: aiohttp.ClientSession(middlewares=[tether_aiohttp.middleware(policy)]),
        _aiohttp_get,
        _aiohttp_close,
    )


CLIENTS = {
    "requests": _requests,
    "httpx": _httpx,
    "httpx-async": _httpx_async,
    "aiohttp-session": _aiohttp_session,
    "aiohttp-middleware": _aiohttp_middleware,
}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_healthy_call_makes_no_call_and_a_retried_one_goes_on(
    client: str, scripted: Scripted, calls_made: list[int]
) -> None:
    """A call answered 200 makes no Call; a 503 then a 200 makes one, which goes on from
    the fast path's first attempt (two requests, not three) and returns the 200."""
    get = CLIENTS[client](_policy())
    try:
        assert [get(scripted.url) for _ in range(3)] == [200, 200, 200]
        assert calls_made[0] == 0
        scripted.script, scripted.seen = [503], 0
        assert get(scripted.url) == 200
        assert (calls_made[0], scripted.seen) == (1, 2)
    finally:
        get.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_fast_successes_count_in_the_breakers_ratio(client: str, scripted: Scripted) -> None:
    """The breaker's ratio rule sees the fast path's successes: after 6 healthy calls, 5
    answered 503 leave it closed (5 of 11 failed, under half), the 6th opens it (6 of 12),
    and the next call is refused unsent."""
    breaker = tether.Breaker(failures=100, ratio=0.5, min_calls=10, window=1000)
    get = CLIENTS[client](_policy(attempts=1, breaker=breaker))
    try:
        for _ in range(6):
            assert get(scripted.url) == 200
        scripted.script = [503] * 6
        for _ in range(5):
            assert get(scripted.url) == 503
        seen = scripted.seen
        assert get(scripted.url) == 503
        with pytest.raises(tether.CircuitOpenError):
            get(scripted.url)
        assert scripted.seen == seen + 1
    finally:
        get.close()


def test_fast_first_attempts_count_for_the_budget(scripted: Scripted) -> None:
    """Each fast first attempt earns the budget its share of a retry, as admit() does."""
    budget = tether.Budget(ratio=0.5, per_second=0, window=1000)
    session = tether.Session(_policy(budget=budget))
    for _ in range(4):
        assert session.get(scripted.url).status_code == 200
    assert session.guard.budget_left(scripted.url) == 2.0


def test_fast_successes_reset_the_health_record(scripted: Scripted) -> None:
    """Two failed attempts, then a healthy call: the record shows the run of failures
    over and the success's time, as record() would leave it."""
    clock = [100.0]
    session = tether.Session(_policy(attempts=1, clock=lambda: clock[0]))
    scripted.script = [503, 503]
    assert [session.get(scripted.url).status_code for _ in range(2)] == [503, 503]
    assert session.guard.health(scripted.url).consecutive_failures == 2
    clock[0] = 105.0
    assert session.get(scripted.url).status_code == 200
    health = session.guard.health(scripted.url)
    assert (health.consecutive_failures, health.last_success_at) == (0, 105.0)


def test_a_decorated_function_takes_the_fast_path(calls_made: list[int]) -> None:
    """@tether.retry: a call that returns makes no Call; one that fails once makes one,
    retried from the fast path's attempt (two attempts in all)."""
    tries = [0]

    @tether.retry(policy=_policy())
    def work(fail: bool) -> str:
        tries[0] += 1
        if fail and tries[0] == 1:
            raise ConnectionRefusedError(111, "refused")
        return "done"

    assert [work(False) for _ in range(3)] == ["done"] * 3
    assert calls_made[0] == 0
    tries[0] = 0
    assert work(True) == "done"
    assert (calls_made[0], tries[0]) == (1, 2)


def test_a_decorated_coroutine_function_takes_the_fast_path(calls_made: list[int]) -> None:
    """The same for a coroutine function with no per-attempt ``total``."""
    tries = [0]

    @tether.retry(policy=_policy())
    async def work(fail: bool) -> str:
        tries[0] += 1
        if fail and tries[0] == 1:
            raise ConnectionRefusedError(111, "refused")
        return "done"

    async def main() -> list[str]:
        return [await work(False) for _ in range(3)]

    assert asyncio.run(main()) == ["done"] * 3
    assert calls_made[0] == 0
    tries[0] = 0
    assert asyncio.run(work(True)) == "done"
    assert (calls_made[0], tries[0]) == (1, 2)


def test_a_decorated_function_keyed_by_endpoint_is_refused_by_an_open_breaker() -> None:
    """With ``endpoint=``, the fast path asks the breaker before the first attempt: once
    open, the next call is refused without running the function."""
    tries = [0]
    breaker = tether.Breaker(failures=2, min_calls=100)

    @tether.retry(policy=_policy(attempts=1, breaker=breaker), endpoint="db:5432")
    def work() -> None:
        tries[0] += 1
        raise ConnectionRefusedError(111, "refused")

    for _ in range(2):
        with pytest.raises(ConnectionRefusedError):
            work()
    with pytest.raises(tether.CircuitOpenError):
        work()
    assert tries[0] == 2
