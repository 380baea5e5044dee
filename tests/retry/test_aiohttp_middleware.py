"""``tether.integrations.aiohttp``: ``session()`` and ``middleware()`` against the fault lab.

Each behaviour runs through the ``session()`` factory and through a
``ClientSession`` of the user's own with ``middleware()`` added, inside
``asyncio.run``.  Waits between attempts go to a fake clock; only the deadline
test waits for real, on the slow drip it is about.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

import tether
from tests.helpers.fakes import Recorder
from tether import Kind
from tether.integrations import aiohttp as tether_aiohttp
from tether.lab import Lab

MODES = ["session", "middleware"]


def make_session(
    mode: str, policy: tether.RetryPolicy, guard: tether.Guard | None = None
) -> aiohttp.ClientSession:
    if mode == "session":
        return tether_aiohttp.session(policy, guard=guard)
    return aiohttp.ClientSession(middlewares=[tether_aiohttp.middleware(policy, guard=guard)])


def fetch(
    mode: str,
    policy: tether.RetryPolicy,
    method: str,
    url: str,
    *,
    guard: tether.Guard | None = None,
    **kw: Any,
) -> Any:
    """``(status, body)`` of one request through a fresh session of the given mode (sharing
    ``guard`` if given)."""

    async def go() -> tuple[int, bytes]:
        async with (
            make_session(mode, policy, guard) as session,
            session.request(method, url, **kw) as response,
        ):
            return response.status, await response.read()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def drip_lab() -> Iterator[Lab]:
    """A lab whose slow drip sends a byte every 0.1 s."""
    with Lab(drip_interval=0.1) as running:
        yield running


@pytest.mark.parametrize("mode", MODES)
def test_success(lab: Lab, mode: str) -> None:
    """A healthy endpoint answers at the first attempt."""
    r = Recorder()
    assert fetch(mode, r.policy, "GET", lab["healthy"].url) == (200, b"ok\n")
    assert r.retries == []
    assert r.give_ups == []


@pytest.mark.parametrize("mode", MODES)
def test_refused_reraises_aiohttp_error_with_failure_and_note(lab: Lab, mode: str) -> None:
    """A refusal is retried, then aiohttp's own exception comes back with .failure and a note."""
    r = Recorder()
    url = lab["refused"].url
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        fetch(mode, r.policy, "GET", url)
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    notes = [n for n in caught.value.__notes__ if n.startswith("tether: GET")]
    assert notes == [notes[0]]
    assert notes[0].startswith(f"tether: GET {url} failed after 3 attempts in ")
    assert len(r.retries) == 2
    assert r.clock.slept == [d.delay for d in r.retries]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", ["reset_on_accept", "close_no_response"])
def test_post_not_retried_after_the_request_was_sent(lab: Lab, mode: str, scenario: str) -> None:
    """A POST the server may have acted on is given up after one attempt."""
    r = Recorder()
    with pytest.raises(aiohttp.ClientConnectionError) as caught:
        fetch(mode, r.policy, "POST", lab[scenario].url, data=b"order")
    assert [g.attempts for g in r.give_ups] == [1]
    assert r.retries == []
    assert caught.value.failure.request_sent  # type: ignore[attr-defined]
    assert "not idempotent" in caught.value.__notes__[-1]


@pytest.mark.parametrize("mode", MODES)
def test_deadline_stops_a_slow_drip(drip_lab: Lab, mode: str) -> None:
    """A 0.6 s deadline ends a never-ending drip in time, as aiohttp's ServerTimeoutError."""
    policy = tether.RetryPolicy(deadline=0.6)
    started = time.monotonic()
    with pytest.raises(aiohttp.ServerTimeoutError) as caught:
        fetch(mode, policy, "GET", drip_lab["slow_drip"].url)
    assert 0.55 <= time.monotonic() - started < 1.0
    assert isinstance(caught.value, tether.DeadlineExceededError)
    assert type(caught.value).__name__ == "DeadlineExceededError"  # not a private name
    assert isinstance(caught.value, aiohttp.ClientError)
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
        guard = tether.Guard(r.policy)  # one breaker for the fresh session of each call
        for _ in range(2):
            with pytest.raises(aiohttp.ClientConnectorError):
                fetch(mode, r.policy, "GET", url, guard=guard)
        assert guard.breaker_state(url) is tether.BreakerState.OPEN
        port.listen(4)  # a connection would now succeed and wait in the backlog
        port.setblocking(False)
        with pytest.raises(aiohttp.ClientConnectionError) as caught:
            fetch(mode, r.policy, "GET", url, guard=guard)
        # Both tether's and aiohttp's: an `except aiohttp.ClientError` catches it.
        assert isinstance(caught.value, tether.CircuitOpenError)
        assert isinstance(caught.value, aiohttp.ClientError)
        assert caught.value.failure.kind is Kind.CIRCUIT_OPEN  # type: ignore[attr-defined]
        with pytest.raises(BlockingIOError):
            port.accept()  # nobody connected


def test_session_factory_switches_off_aiohttp_resend(lab: Lab) -> None:
    """session() runs tether's loop once; a plain session with the middleware resends around
    it, so the whole loop runs twice."""
    url = lab["close_no_response"].url
    ours, theirs = (Recorder(breaker=None, budget=None) for _ in range(2))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        fetch("session", ours.policy, "GET", url)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        fetch("middleware", theirs.policy, "GET", url)
    assert [g.attempts for g in ours.give_ups] == [3]
    assert len(ours.retries) == 2
    assert [g.attempts for g in theirs.give_ups] == [3, 3]
    assert len(theirs.retries) == 4
