"""Every integration, one behaviour at a time, against the fault lab: ``tether.Session``
(requests), httpx's ``Transport`` and ``AsyncTransport``, aiohttp's ``session()`` and a
``ClientSession`` of the user's own with ``middleware()`` (tests/helpers/clients.py).

Each test runs once per client, named in its id (``[requests]``, ``[httpx]``,
``[httpx-async]``, ``[aiohttp-session]``, ``[aiohttp-middleware]``); what only one
library does is tested in its own module beside this one.  Waits between attempts go to
a fake clock; only the deadline test waits for real, on the slow drip it is about.
"""

from __future__ import annotations

import socket
import time

import pytest

import tether
from tests.helpers.clients import CLIENTS, Client
from tests.helpers.fakes import Recorder
from tether import Kind
from tether.lab import Lab

each_client = pytest.mark.parametrize("client", CLIENTS, ids=repr)


@each_client
def test_a_healthy_endpoint_answers_at_the_first_attempt(lab: Lab, client: Client) -> None:
    """A healthy endpoint's response comes back, read, at the first attempt."""
    r = Recorder()
    assert client.send(r.policy, "GET", lab["healthy"].url) == (200, b"ok\n")
    assert r.retries == []
    assert r.give_ups == []


@each_client
def test_a_refusal_is_retried_then_raised_as_the_librarys_error(lab: Lab, client: Client) -> None:
    """A refusal is retried twice, then raised as the library's own connection error with
    .failure and tether's words: its message (requests, httpx: chained from the library's
    error) or one note (aiohttp: the library's own exception)."""
    r = Recorder()
    url = lab["refused"].url
    with pytest.raises(client.connection_error) as caught:
        client.send(r.policy, "GET", url)
    error = caught.value
    assert error.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    (said,) = client.said(error)
    assert said.startswith(f"GET {url} failed after 3 attempts in ")
    if client.chains:
        assert isinstance(error.__cause__, client.connection_error)
        assert error.__cause__ is not error
    assert [d.attempt for d in r.retries] == [1, 2]
    assert r.clock.slept == [d.delay for d in r.retries]
    assert [g.attempts for g in r.give_ups] == [3]


@each_client
@pytest.mark.parametrize("scenario", ["reset_on_accept", "close_no_response"])
def test_a_post_the_server_may_have_acted_on_is_not_retried(
    lab: Lab, client: Client, scenario: str
) -> None:
    """A POST the server may have acted on is given up after one attempt, saying why."""
    r = Recorder()
    with pytest.raises(client.sent_error) as caught:
        client.send(r.policy, "POST", lab[scenario].url, body=b"order")
    assert [g.attempts for g in r.give_ups] == [1]
    assert r.retries == []
    assert "not idempotent" in r.give_ups[0].reason
    assert caught.value.failure.request_sent  # type: ignore[attr-defined]
    (said,) = client.said(caught.value)
    assert "not idempotent" in said
    assert "tether stopped because the server may have acted on the POST" in said


@each_client
def test_deadline_stops_a_slow_drip(drip_lab: Lab, client: Client) -> None:
    """A 0.6 s deadline ends a never-ending drip in time, as the library's timeout that is
    also tether's DeadlineExceededError."""
    policy = tether.RetryPolicy(deadline=0.6)
    started = time.monotonic()
    with pytest.raises(client.timeout_error) as caught:
        client.send(policy, "GET", drip_lab["slow_drip"].url)
    assert 0.6 <= time.monotonic() - started < 1.0
    assert isinstance(caught.value, tether.DeadlineExceededError)
    assert type(caught.value).__name__ == "DeadlineExceededError"  # not a private name
    assert isinstance(caught.value, client.base_error)
    assert caught.value.failure.kind is Kind.DEADLINE_EXCEEDED  # type: ignore[attr-defined]


@pytest.mark.parametrize("client", [c for c in CLIENTS if c.name != "requests"], ids=repr)
def test_open_circuit_fails_without_connecting(client: Client) -> None:
    """After refusals open the circuit, a call fails at once and no connection is attempted
    (requests' circuit, with its cool-down and trial, is test_requests_session.py's)."""
    r = Recorder(
        attempts=1, deadline=2, breaker=tether.Breaker(failures=2, cooldown=30), budget=None
    )
    with socket.socket() as port:
        port.bind(("127.0.0.1", 0))  # bound, not listening: refuses
        url = f"http://127.0.0.1:{port.getsockname()[1]}/"
        guard = tether.Guard(r.policy)  # one breaker for the fresh client of each call
        for _ in range(2):
            with pytest.raises(client.connection_error):
                client.send(r.policy, "GET", url, guard=guard)
        assert guard.breaker_state(url) is tether.BreakerState.OPEN
        port.listen(4)  # a connection would now succeed and wait in the backlog
        port.setblocking(False)
        with pytest.raises(client.circuit_error) as caught:
            client.send(r.policy, "GET", url, guard=guard)
        # Both tether's and the library's: an `except` for the library's errors catches it.
        assert isinstance(caught.value, tether.CircuitOpenError)
        assert isinstance(caught.value, client.base_error)
        assert caught.value.failure.kind is Kind.CIRCUIT_OPEN  # type: ignore[attr-defined]
        with pytest.raises(BlockingIOError):
            port.accept()  # nobody connected
