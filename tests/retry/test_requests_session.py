"""``tether.Session`` against real sockets: the fault lab and small servers of our own;
what every integration does alike (success, a refusal, a POST not retried, the deadline)
is test_integrations.py's.

Every test talks to loopback.  Waits between attempts go to an injected
``sleep`` (a :class:`FakeClock` that advances, or a list that records), so no
test sleeps on real time; the only real waiting is where a real timeout is
the thing under test (``total`` against the slow drip).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

import tether
from tests.helpers.fakes import FakeClock
from tether import Kind
from tether.lab import Lab


class Events:
    """Collects what the policy's hooks report, by kind."""

    def __init__(self) -> None:
        self.retries: list[tether.RetryDetails] = []
        self.give_ups: list[tether.GiveUpDetails] = []
        self.breaker: list[tether.BreakerChange] = []
        self.health: list[tether.HealthChange] = []

    def hooks(self) -> dict[str, Callable[[Any], object]]:
        return {
            "on_retry": self.retries.append,
            "on_give_up": self.give_ups.append,
            "on_breaker_change": self.breaker.append,
            "on_unhealthy": self.health.append,
            "on_recovered": self.health.append,
        }

    @property
    def attempts(self) -> int:
        """Attempts made by the last call that gave up."""
        return self.give_ups[-1].attempts


class OwnPort:
    """A loopback port that refuses until :meth:`listen`, then answers HTTP and counts.

    Bound but not listening, the port refuses connections; ``listen()`` turns
    the same port into a tiny server: ``/old`` redirects to ``/new``, anything
    else is ``200 ok``, every response closes its connection.
    """

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self.endpoint = f"127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def listen(self) -> None:
        self._sock.listen(16)
        self._sock.settimeout(0.02)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                self.connections += 1
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head and (data := conn.recv(4096)):
                    head += data
                path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
                if path == b"/old":
                    answer = b"HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n"
                else:
                    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                conn.sendall(answer + b"Connection: close\r\n\r\n" + (b"ok\n" * (path != b"/old")))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture
def own_port() -> Iterator[OwnPort]:
    port = OwnPort()
    yield port
    port.close()


def _policy(events: Events, **changes: Any) -> tether.RetryPolicy:
    clock = changes.pop("clock", None) or FakeClock()
    return tether.RetryPolicy(clock=clock, sleep=clock.sleep, **events.hooks(), **changes)


# -- what may be retried: the request may have reached the server --------------


@pytest.mark.parametrize("scenario", ["reset_on_accept", "close_no_response"])
def test_get_after_the_request_was_sent_is_retried(lab: Lab, scenario: str) -> None:
    """The same failures are retried for a GET, which is idempotent."""
    events = Events()
    with (
        tether.Session(policy=_policy(events)) as session,
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        session.get(lab[scenario].url)
    assert events.attempts == 3
    assert len(events.retries) == 2


def test_post_with_idempotency_key_is_retried(lab: Lab) -> None:
    """An Idempotency-Key header makes a POST safe to repeat."""
    events = Events()
    with (
        tether.Session(policy=_policy(events)) as session,
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        session.post(lab["close_no_response"].url, data=b"x", headers={"Idempotency-Key": "k-1"})
    assert events.attempts == 3


def test_retry_unsafe_retries_a_post(lab: Lab) -> None:
    """retry_unsafe=True retries a POST even after the request was sent."""
    events = Events()
    with (
        tether.Session(policy=_policy(events, retry_unsafe=True)) as session,
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        session.post(lab["reset_on_accept"].url, data=b"x")
    assert events.attempts == 3


def test_refused_post_is_retried(lab: Lab) -> None:
    """A refused POST never left the client, so it is retried like a GET."""
    events = Events()
    with (
        tether.Session(policy=_policy(events)) as session,
        pytest.raises(requests.exceptions.ConnectionError) as caught,
    ):
        session.post(lab["refused"].url, data=b"x")
    assert events.attempts == 3
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]


# -- Retry-After ----------------------------------------------------------------


def test_retry_after_is_honoured_and_the_last_429_returned(lab: Lab) -> None:
    """429 with Retry-After: 3 waits exactly 3 s between attempts; the last 429 comes back."""
    events, clock = Events(), FakeClock()
    with tether.Session(policy=_policy(events, clock=clock, deadline=10)) as session:
        response = session.get(lab["http_429"].url)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert clock.slept == [3.0, 3.0]
    assert events.attempts == 3
    assert events.give_ups[0].failure.kind is Kind.HTTP_RATE_LIMITED


def test_retry_after_over_the_cap_returns_at_once(lab: Lab) -> None:
    """503 with Retry-After: 120 (over the 30 s cap) is returned after one attempt."""
    events, clock = Events(), FakeClock()
    with tether.Session(policy=_policy(events, clock=clock)) as session:
        response = session.get(lab["http_503"].url)
    assert response.status_code == 503
    assert clock.slept == []
    assert events.attempts == 1
    assert events.give_ups[0].reason == (
        "the server asked to wait 120 s, more than the policy's retry_after_cap of 30 s"
    )


def test_retry_after_past_the_deadline_gives_up_at_once(lab: Lab) -> None:
    """Retry-After: 3 with a 2 s deadline ends the call at once instead of waiting in vain."""
    events, clock = Events(), FakeClock()
    with tether.Session(policy=_policy(events, clock=clock, deadline=2)) as session:
        response = session.get(lab["http_429"].url)
    assert response.status_code == 429
    assert clock.slept == []
    assert events.attempts == 1
    reason = events.give_ups[0].reason
    assert reason.startswith("the server asked to wait 3 s, past the deadline")


# -- per-host state: budget, breaker, health -------------------------------------


def test_retry_budget_runs_out_for_real(lab: Lab) -> None:
    """A budget of one retry per 10 s allows one retry, then calls make one attempt."""
    events, clock = Events(), FakeClock()
    budget = tether.Budget(ratio=0, per_second=0.1, window=10)
    policy = _policy(events, clock=clock, budget=budget, breaker=None)
    url = lab["refused"].url
    with tether.Session(policy=policy) as session:
        for _ in range(2):
            with pytest.raises(requests.exceptions.ConnectionError) as caught:
                session.get(url)
        assert [g.attempts for g in events.give_ups] == [2, 1]
        assert session.guard.budget_left(url) == 0
        endpoint = f"127.0.0.1:{lab['refused'].port}"
        assert events.give_ups[-1].reason == f"the retry budget for {endpoint} is spent"
        assert "retry budget" in str(caught.value)
        clock.advance(11)  # the window slides past the spent retry
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(url)
    assert [g.attempts for g in events.give_ups] == [2, 1, 2]


def test_breaker_opens_fails_fast_and_closes_after_a_trial(own_port: OwnPort) -> None:
    """Refusals open the circuit; open, no connection is made; after the cool-down one trial
    closes it."""
    events, clock = Events(), FakeClock()
    breaker = tether.Breaker(failures=3, cooldown=5)
    policy = _policy(events, clock=clock, attempts=5, deadline=2, breaker=breaker, budget=None)
    with tether.Session(policy=policy) as session:
        with pytest.raises(requests.exceptions.ConnectionError) as refused:
            session.get(own_port.url)
        assert refused.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
        assert events.attempts == 3  # the third refusal opened the circuit
        assert events.give_ups[-1].reason == f"the circuit for {own_port.endpoint} is open"
        assert session.guard.breaker_state(own_port.url) is tether.BreakerState.OPEN

        own_port.listen()  # the server is back, but the circuit is still open
        with pytest.raises(requests.exceptions.ConnectionError) as caught:
            session.get(own_port.url)
        assert isinstance(caught.value, tether.CircuitOpenError)
        assert caught.value.failure.kind is Kind.CIRCUIT_OPEN  # type: ignore[attr-defined]
        assert own_port.connections == 0

        clock.advance(5)
        response = session.get(own_port.url)
    assert response.status_code == 200
    assert own_port.connections == 1
    assert session.guard.breaker_state(own_port.url) is tether.BreakerState.CLOSED
    assert [(c.old, c.new) for c in events.breaker] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_health_callbacks_fire_on_failure_and_recovery(own_port: OwnPort) -> None:
    """on_unhealthy fires after three failed attempts, on_recovered when the port answers."""
    events, clock = Events(), FakeClock()
    policy = _policy(events, clock=clock)
    with tether.Session(policy=policy) as session:
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(own_port.url)
        assert [(h.healthy, h.consecutive_failures) for h in events.health] == [(False, 3)]
        assert events.health[0].failure is not None
        assert events.health[0].failure.kind is Kind.CONNECT_REFUSED
        assert not session.guard.health(own_port.url).healthy
        own_port.listen()
        assert session.get(own_port.url).status_code == 200
    assert [h.healthy for h in events.health] == [False, True]
    assert events.health[1].down_for == pytest.approx(sum(clock.slept))
    assert session.guard.health(own_port.endpoint).healthy


def test_sessions_given_one_policy_keep_their_own_breakers(own_port: OwnPort) -> None:
    """A policy is a value: refusals open the circuit of the session that saw them, not of
    another session given the same policy, unless it was given the first one's guard."""
    policy = _policy(Events(), attempts=1, breaker=tether.Breaker(failures=1, cooldown=30))
    with (
        tether.Session(policy=policy) as first,
        tether.Session(policy=policy) as second,
        tether.Session(guard=first.guard) as sharing,
    ):
        with pytest.raises(requests.exceptions.ConnectionError):
            first.get(own_port.url)
        assert first.guard.breaker_state(own_port.url) is tether.BreakerState.OPEN
        assert second.guard.breaker_state(own_port.url) is tether.BreakerState.CLOSED
        assert sharing.policy is policy
        own_port.listen()
        assert second.get(own_port.url).status_code == 200
        with pytest.raises(tether.CircuitOpenError):
            sharing.get(own_port.url)
    assert own_port.connections == 1


def test_a_new_policy_on_a_session_starts_a_new_guard() -> None:
    """Setting ``session.policy`` gives the session fresh records; a guard made from another
    policy is refused beside a policy of its own."""
    with tether.Session() as session:
        old = session.guard
        session.policy = tether.RetryPolicy(attempts=2)
        assert session.guard is not old
        assert session.guard.policy == tether.RetryPolicy(attempts=2)
    with pytest.raises(ValueError, match="not both"):
        tether.Session(policy=tether.RetryPolicy(attempts=5), guard=old)


# -- time: deadline, total, timeout= ---------------------------------------------


def test_demonstration_read_timeout_alone_does_not_stop_a_slow_drip(drip_lab: Lab) -> None:
    """Demonstration of why the cutoff exists: plain requests with timeout=0.3 keeps reading
    a dripping body well past 0.3 s, because every single read arrives in time."""
    started = time.monotonic()
    chunks = 0
    with requests.get(drip_lab["slow_drip"].url, timeout=0.3, stream=True) as response:
        for _ in response.iter_content(1):
            chunks += 1
            if time.monotonic() - started > 1.0:
                break  # it would go on for ever
    assert time.monotonic() - started > 1.0
    assert chunks >= 5


def test_total_bounds_each_attempt_and_retries(drip_lab: Lab) -> None:
    """total=0.25 cuts each attempt at the slow drip as a read timeout, which is retried."""
    events, waits = Events(), list[float]()
    policy = tether.RetryPolicy(
        attempts=2, total=0.25, deadline=5, sleep=waits.append, **events.hooks()
    )
    started = time.monotonic()
    with (
        tether.Session(policy=policy) as session,
        pytest.raises(requests.ReadTimeout) as caught,
    ):
        session.get(drip_lab["slow_drip"].url)
    assert 0.5 <= time.monotonic() - started < 1.5
    assert caught.value.failure.kind is Kind.READ_TIMEOUT  # type: ignore[attr-defined]
    assert not isinstance(caught.value, tether.DeadlineExceededError)
    assert [r.failure.kind for r in events.retries] == [Kind.READ_TIMEOUT]
    assert events.attempts == 2
    assert len(waits) == 1


def test_timeout_kwarg_replaces_the_policy_timeouts(lab: Lab) -> None:
    """timeout= on the request replaces the policy's read timeout, both down and up."""
    policy = tether.RetryPolicy(attempts=1, read=0.05)
    slow = lab["latency"].url + "?ms=200"
    with tether.Session(policy=policy) as session:
        with pytest.raises(requests.ReadTimeout):
            session.get(slow)  # the policy's 0.05 s
        assert session.get(slow, timeout=2).status_code == 200
    started = time.monotonic()
    with (
        tether.Session(policy=policy.replace(read=30)) as session,
        pytest.raises(requests.ReadTimeout),
    ):
        session.get(lab["stall_headers"].url, timeout=(1, 0.2))
    assert time.monotonic() - started < 1.0


# -- redirects and redaction -----------------------------------------------------


def test_redirects_are_followed_inside_one_attempt(own_port: OwnPort) -> None:
    """A redirect hop is part of the attempt, not a new call with its own retries."""
    events = Events()
    own_port.listen()
    with tether.Session(policy=_policy(events)) as session:
        response = session.get(own_port.url + "old")
    assert response.status_code == 200
    assert response.url == own_port.url + "new"
    assert [r.status_code for r in response.history] == [302]
    assert own_port.connections == 2
    assert events.retries == []
    assert events.give_ups == []


def test_a_redirect_loop_is_one_attempt(lab: Lab) -> None:
    """Too many redirects is one failed attempt, raised as requests' TooManyRedirects."""
    events = Events()
    with tether.Session(policy=_policy(events)) as session:
        session.max_redirects = 3
        with pytest.raises(requests.TooManyRedirects) as caught:
            session.get(lab["redirect_loop"].url)
    assert events.attempts == 1
    assert caught.value.failure.kind is Kind.HTTP_REDIRECT_LOOP  # type: ignore[attr-defined]


def test_credentials_in_the_url_are_redacted(lab: Lab) -> None:
    """The password in a URL appears neither in the error message nor in hook details."""
    events = Events()
    url = lab["refused"].url.replace("http://", "http://alice:s3cret@")
    with (
        tether.Session(policy=_policy(events)) as session,
        pytest.raises(requests.ConnectionError) as caught,
    ):
        session.get(url)
    message = str(caught.value)
    assert message.startswith(f"GET http://alice:***@127.0.0.1:{lab['refused'].port}/ failed")
    seen = [d.url for d in (*events.retries, *events.give_ups)]
    assert len(seen) == 3
    assert all(u.startswith("http://alice:***@") for u in seen)
    assert "s3cret" not in message + " ".join(seen)


def test_an_upload_the_server_stops_reading_is_a_write_timeout(lab: Lab) -> None:
    """An 8 MB POST to a server that stops reading it ends as write.timeout, naming the
    body's size (it used to be response.malformed), and is not retried: a POST may have
    been acted on.  requests times each send with the connect timeout, so 0.5 s ends it."""
    events = Events()
    policy = tether.RetryPolicy(connect=0.5, read=5, sleep=[].append, **events.hooks())
    with (
        tether.Session(policy=policy) as session,
        pytest.raises(requests.ConnectionError) as caught,
    ):
        session.post(lab["upload_stall"].url, data=b"x" * (8 * 1024 * 1024))
    failure = caught.value.failure  # type: ignore[attr-defined]
    assert failure.kind is Kind.WRITE_TIMEOUT
    assert failure.detail.endswith(
        "stopped reading the request before its 8388608-byte body was all sent (write timeout)"
    )
    assert events.retries == []
    assert events.attempts == 1
