"""``tether.integrations.httpx.Transport`` and ``AsyncTransport`` against the fault lab.

Each test runs twice: through ``httpx.Client`` and through ``httpx.AsyncClient``
(driven by ``asyncio.run``).  Waits between attempts go to a fake clock; only
the deadline test waits for real, on the slow drip it is about.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import tether
from tests.helpers.fakes import Recorder
from tether import Kind
from tether.integrations.httpx import AsyncTransport, Transport
from tether.lab import Lab

MODES = ["sync", "async"]


def send(
    mode: str,
    policy: tether.RetryPolicy,
    method: str,
    url: str,
    *,
    guard: tether.Guard | None = None,
    **kw: Any,
) -> httpx.Response:
    """One request through a fresh client of the given mode (sharing ``guard`` if given)."""
    if mode == "sync":
        with httpx.Client(transport=Transport(policy, guard=guard)) as client:
            return client.request(method, url, **kw)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=AsyncTransport(policy, guard=guard)) as client:
            return await client.request(method, url, **kw)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def drip_lab() -> Iterator[Lab]:
    """A lab whose slow drip sends a byte every 0.1 s."""
    with Lab(drip_interval=0.1) as running:
        yield running


@pytest.mark.parametrize("mode", MODES)
def test_success(lab: Lab, mode: str) -> None:
    """A healthy endpoint's response comes back, read, at the first attempt."""
    r = Recorder()
    response = send(mode, r.policy, "GET", lab["healthy"].url)
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert r.retries == []
    assert r.give_ups == []


@pytest.mark.parametrize("mode", MODES)
def test_refused_raises_connect_error_with_failure(lab: Lab, mode: str) -> None:
    """A refusal is retried, then raised as httpx.ConnectError with tether's message."""
    r = Recorder()
    url = lab["refused"].url
    with pytest.raises(httpx.ConnectError) as caught:
        send(mode, r.policy, "GET", url)
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    assert str(caught.value).startswith(f"GET {url} failed after 3 attempts in ")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(r.retries) == 2
    assert r.clock.slept == [d.delay for d in r.retries]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", ["reset_on_accept", "close_no_response"])
def test_post_not_retried_after_the_request_was_sent(lab: Lab, mode: str, scenario: str) -> None:
    """A POST the server may have acted on is given up after one attempt."""
    r = Recorder()
    with pytest.raises(httpx.TransportError) as caught:
        send(mode, r.policy, "POST", lab[scenario].url, content=b"order")
    assert [g.attempts for g in r.give_ups] == [1]
    assert r.retries == []
    assert caught.value.failure.request_sent  # type: ignore[attr-defined]
    assert "not idempotent" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_truncated_body_is_retried_for_get(lab: Lab, mode: str) -> None:
    """A body cut short is read inside the attempt, so a GET retries it."""
    r = Recorder()
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        send(mode, r.policy, "GET", lab["truncated_body"].url)
    assert caught.value.failure.kind is Kind.RESPONSE_TRUNCATED  # type: ignore[attr-defined]
    assert [d.failure.kind for d in r.retries] == [Kind.RESPONSE_TRUNCATED] * 2
    assert r.give_ups[0].attempts == 3


@pytest.mark.parametrize("mode", MODES)
def test_deadline_stops_a_slow_drip(drip_lab: Lab, mode: str) -> None:
    """A 0.6 s deadline ends a never-ending drip in time, as an httpx timeout."""
    policy = tether.RetryPolicy(deadline=0.6)
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException) as caught:
        send(mode, policy, "GET", drip_lab["slow_drip"].url)
    assert 0.55 <= time.monotonic() - started < 1.0
    assert isinstance(caught.value, tether.DeadlineExceededError)
    assert type(caught.value).__name__ == "DeadlineExceededError"  # not a private name
    assert isinstance(caught.value, httpx.TransportError)
    assert caught.value.failure.kind is Kind.DEADLINE_EXCEEDED  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
def test_open_circuit_fails_without_connecting(mode: str) -> None:
    """After refusals open the circuit, a call fails at once and no connection is attempted."""
    r = Recorder(
        attempts=1, deadline=2, breaker=tether.Breaker(failures=2, cooldown=30), budget=None
    )
    with socket.socket() as port:
        port.bind(("127.0.0.1", 0))  # bound, not listening: refuses
        url = f"http://127.0.0.1:{port.getsockname()[1]}/"
        guard = tether.Guard(r.policy)  # one breaker for the fresh client of each call
        for _ in range(2):
            with pytest.raises(httpx.ConnectError):
                send(mode, r.policy, "GET", url, guard=guard)
        assert guard.breaker_state(url) is tether.BreakerState.OPEN
        port.listen(4)  # a connection would now succeed and wait in the backlog
        port.setblocking(False)
        with pytest.raises(httpx.ConnectError) as caught:
            send(mode, r.policy, "GET", url, guard=guard)
        # Both tether's and httpx's: an `except httpx.TransportError` catches it.
        assert isinstance(caught.value, tether.CircuitOpenError)
        assert isinstance(caught.value, httpx.TransportError)
        assert caught.value.failure.kind is Kind.CIRCUIT_OPEN  # type: ignore[attr-defined]
        with pytest.raises(BlockingIOError):
            port.accept()  # nobody connected


@pytest.mark.parametrize("mode", MODES)
def test_503_is_returned_after_giving_up(lab: Lab, mode: str) -> None:
    """A 503 without Retry-After is retried, then the last 503 response is returned."""
    r = Recorder()
    url = lab["http_404"].url.rsplit("/", 1)[0] + "/503"
    response = send(mode, r.policy, "GET", url)
    assert response.status_code == 503
    assert response.content == b"status 503\n"
    assert len(r.retries) == 2
    assert r.give_ups[0].failure.status == 503
