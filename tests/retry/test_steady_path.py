"""The steady path (issue 71 §5): once an endpoint answers healthily, ``tether.Session``
and the httpx ``Transport`` count its calls into the guard's ``Steady`` record without
calling the guard, and whatever takes the endpoint out of the healthy steady state takes
the record away, so that every call is recorded as the guard's own methods record it.

Real calls to a small loopback server that answers from a script of statuses.  One test
wraps httpx's real transport to record a failure on the guard while an attempt is under
way: the moment another thread would do so cannot be brought about by a server.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests

import tether
from tether._retry._state import Guard, Steady, endpoint_of
from tether.integrations import httpx as tether_httpx


class Scripted:
    """A loopback HTTP server answering each request with the next status of ``script``
    (200 once it is spent); a redirect points at ``/next``, and 0 closes the connection
    without an answer."""

    def __init__(self) -> None:
        self.script: list[int] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status = outer.script.pop(0) if outer.script else 200
                if status == 0:
                    self.close_connection = True
                    return
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/next")
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


def _policy(**changes: Any) -> tether.RetryPolicy:
    return tether.RetryPolicy(sleep=lambda _s: None, **changes)


def _requests(guard: Guard) -> tuple[Callable[[str], int], Callable[[], None]]:
    session = tether.Session(guard=guard)
    return (lambda url: session.get(url).status_code), session.close


def _httpx(guard: Guard) -> tuple[Callable[[str], int], Callable[[], None]]:
    client = httpx.Client(transport=tether_httpx.Transport(guard=guard))
    return (lambda url: client.get(url).status_code), client.close


CLIENTS = {"requests": _requests, "httpx": _httpx}


def _in_one_second(scenario: Callable[[], None]) -> None:
    """Run ``scenario`` until a run of it begins and ends in one second of the clock: a
    ``Steady`` record lasts until its second ends, by design, so a run that crosses into
    the next one takes the general path there and says nothing of the steady path."""
    for _ in range(5):
        second = int(time.monotonic())
        try:
            scenario()
        except AssertionError:
            if int(time.monotonic()) == second:
                raise
            continue
        if int(time.monotonic()) == second:
            return
    pytest.fail("five runs in a row crossed into another second")


@pytest.fixture
def guard_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the guard's fast-path methods called (none on the steady path)."""
    called: list[str] = []
    for name in ("fast_first", "first_succeeded"):
        real = getattr(Guard, name)

        def spy(self: Guard, *args: Any, _real: Any = real, _name: str = name) -> Any:
            called.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(Guard, name, spy)
    return called


@pytest.mark.parametrize("client", CLIENTS)
def test_a_healthy_call_settles_its_endpoint_and_a_failure_unsettles_it(
    client: str, scripted: Scripted, guard_calls: list[str]
) -> None:
    """The first healthy call goes through the guard's methods and settles the endpoint;
    the next ones call none of them.  A 503 takes the record away (its ``end`` passed),
    the health record counts the failure, and the next healthy call clears it and
    settles the endpoint again."""
    key = endpoint_of(scripted.url)

    def scenario() -> None:
        guard_calls.clear()
        guard = Guard(_policy(attempts=1))
        get, close = CLIENTS[client](guard)
        try:
            assert get(scripted.url) == 200
            assert guard_calls == ["fast_first", "first_succeeded"]
            record = guard.steady[key]
            assert isinstance(record, Steady)
            guard_calls.clear()
            assert [get(scripted.url) for _ in range(3)] == [200] * 3
            assert guard_calls == []
            assert guard.health(key).last_success_at == record.health.last_success_at

            scripted.script = [503]
            assert get(scripted.url) == 503
            assert key not in guard.steady
            assert record.end == float("-inf")
            assert guard.health(key).consecutive_failures == 1

            assert get(scripted.url) == 200
            assert guard.health(key).consecutive_failures == 0
            assert guard.steady[key] is not record
        finally:
            close()

    _in_one_second(scenario)


@pytest.mark.parametrize("client", CLIENTS)
def test_steady_calls_count_for_the_budget_and_the_breaker(client: str, scripted: Scripted) -> None:
    """Calls on the steady path earn the budget its share of a retry each and count in
    the breaker's ratio, as the guard's methods count them: after 10 healthy calls,
    9 answered 503 leave the breaker closed (9 of 19), the 10th opens it."""
    budget = tether.Budget(ratio=0.5, per_second=0, window=1000)
    breaker = tether.Breaker(failures=100, ratio=0.5, min_calls=10, window=1000)
    guard = Guard(_policy(attempts=1, budget=budget, breaker=breaker))
    get, close = CLIENTS[client](guard)
    try:
        assert [get(scripted.url) for _ in range(10)] == [200] * 10
        assert guard.budget_left(scripted.url) == 5.0
        scripted.script = [503] * 10
        for _ in range(9):
            assert get(scripted.url) == 503
        assert guard.breaker_state(scripted.url) == "closed"
        assert get(scripted.url) == 503
        assert guard.breaker_state(scripted.url) == "open"
    finally:
        close()


def _raised(client: str, guard: Guard, url: str) -> BaseException:
    """What a call through ``client`` on ``guard`` raised (it must raise)."""
    get, close = CLIENTS[client](guard)
    try:
        for _ in range(2):
            assert get(url) == 200
        record = guard.steady[endpoint_of(url)]
        try:
            get(url + "?fail")
        except Exception as exc:
            assert record.end == float("-inf")  # it was on the steady path, then ended
            return exc
        raise AssertionError("the call did not raise")
    finally:
        close()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_steady_attempt_that_fails_raises_as_the_full_loop_does(
    client: str, scripted: Scripted
) -> None:
    """An attempt on the steady path that raises goes on in the full loop, outside the
    handler of its exception: the error raised is the library's, with ``.failure`` and
    its cause, and no ``__context__`` of the first attempt's exception."""

    def scenario() -> None:
        scripted.script = [200, 200, 0]
        error = _raised(client, Guard(_policy(attempts=1)), scripted.url)
        assert isinstance(error, (httpx.RemoteProtocolError, requests.ConnectionError))
        assert error.failure.kind is tether.Kind.CONNECTION_CLOSED  # type: ignore[union-attr]
        assert error.__cause__ is not None
        assert error.__context__ is None

    _in_one_second(scenario)


class _FailingMeanwhile(httpx.BaseTransport):
    """httpx's own transport, which records a failure of the endpoint on ``guard`` while
    the attempt is under way (as another thread's call would), when asked to."""

    def __init__(self, guard: Guard) -> None:
        self.inner = httpx.HTTPTransport()
        self.guard = guard
        self.fail_next = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.fail_next:
            self.fail_next = False
            failure = tether.classify(ConnectionRefusedError(111, "Connection refused"))
            key = endpoint_of(str(request.url))
            self.guard.record(key, failure, self.guard.policy.clock())
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_steady_success_after_a_failure_recorded_meanwhile_follows_it(
    scripted: Scripted,
) -> None:
    """A failure recorded while a steady call was under way ends the record; the call's
    success is then recorded by the guard, after the failure, so the health record shows
    no failure in a row (the success is the later of the two).  (A failure recorded
    between the success's count and its check is the same race one step later: no
    server can time it, so test_lock_free_guard.py's racing threads hold the guard's
    side of it.)"""
    key = endpoint_of(scripted.url)

    def scenario() -> None:
        guard = Guard(_policy(attempts=1))
        inner = _FailingMeanwhile(guard)
        transport = tether_httpx.Transport(guard=guard, transport=inner)
        with httpx.Client(transport=transport) as client:
            for _ in range(2):
                assert client.get(scripted.url).status_code == 200
            record = guard.steady[key]
            inner.fail_next = True
            assert client.get(scripted.url).status_code == 200
        assert record.end == float("-inf")
        health = guard.health(key)
        assert health.consecutive_failures == 0
        assert health.last_failure is not None
        assert health.last_success_at is not None
        assert health.last_failure_at is not None
        assert health.last_success_at >= health.last_failure_at

    _in_one_second(scenario)


class _Seen(httpx.BaseTransport):
    """httpx's own transport, keeping the extensions of each request it was given."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.extensions: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.extensions.append(request.extensions)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_steady_httpx_calls_get_the_least_of_both_timeouts(scripted: Scripted) -> None:
    """On the steady path an attempt's timeouts are still the least of the client's and
    the policy's: a client's looser read timeout is cut to the policy's, and a client's
    tighter ones are passed as they are."""
    seen = _Seen()
    transport = tether_httpx.Transport(_policy(connect=2.0, read=3.0), transport=seen)
    with httpx.Client(transport=transport, timeout=httpx.Timeout(1.0, read=60.0)) as client:
        for _ in range(3):
            assert client.get(scripted.url).status_code == 200
    assert endpoint_of(scripted.url) in transport.guard.steady
    assert seen.extensions[-1]["timeout"] == {
        "connect": 1.0,
        "read": 3.0,
        "write": 1.0,
        "pool": 1.0,
    }
    with httpx.Client(transport=transport, timeout=1.0) as client:
        for _ in range(2):
            assert client.get(scripted.url).status_code == 200
    assert seen.extensions[-1]["timeout"] == {
        "connect": 1.0,
        "read": 1.0,
        "write": 1.0,
        "pool": 1.0,
    }


def test_a_steady_redirect_leaves_the_callers_extensions_alone(scripted: Scripted) -> None:
    """A redirect answered on the steady path (the caller's timeouts tighter than the
    policy's, so the request's extensions are not copied for the attempt) is followed,
    and the chain it starts is never written into a dict the caller passed."""
    transport = tether_httpx.Transport(_policy())
    with httpx.Client(transport=transport, follow_redirects=True) as client:
        for _ in range(2):
            assert client.get(scripted.url).status_code == 200
        mine: dict[str, Any] = {"timeout": {"connect": 1.0, "read": 1.0, "write": 1.0, "pool": 1.0}}
        scripted.script = [302]
        response = client.get(scripted.url, extensions=mine)
    assert response.status_code == 200
    assert response.url.path == "/next"
    assert list(mine) == ["timeout"]
