"""The retry loop: ``Call`` with ``run_sync`` / ``run_async``, and the ``@tether.retry`` decorator.

The ``send`` callables here are test doubles for the *transport*, and the
only ones in the suite's retry tests: plain Python functions that raise real
exception objects (``ConnectionRefusedError(111, ...)``, ``TimeoutError``,
``ConnectionResetError``) or return fake ``(status, headers)`` results.  The
loop is pure but for these calls, so a double is the right peer for it; the
real-socket behaviour of every integration is tested against the fault lab
elsewhere.  Clock, sleep, async sleep and rand are all injected: nothing
waits on real time and no socket is opened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest

import tether
import tether.testing
from tether import (
    Breaker,
    BreakerState,
    Budget,
    GiveUpDetails,
    Guard,
    Kind,
    RetryDetails,
    RetryPolicy,
    Timeouts,
)
from tether._retry._loop import Call, Outcome, run_async, run_sync

T0 = 1000.0
URL = "http://user:password@127.0.0.1:9/items?token=s3cret&page=2"
SHOWN = "http://user:***@127.0.0.1:9/items?token=***&page=2"
ENDPOINT = "127.0.0.1:9"
EXHAUSTED = "every attempt it could make failed"

Response = tuple[int, dict[str, str]]
OK: Response = (200, {})


def refused() -> BaseException:
    return ConnectionRefusedError(111, "Connection refused")


def reset() -> BaseException:
    return ConnectionResetError(104, "Connection reset by peer")


def timed_out() -> BaseException:
    return TimeoutError("timed out")


def not_network() -> BaseException:
    return ValueError("a bug, not a network failure")


class Clock:
    """A fake monotonic clock whose sleeps advance it and are recorded."""

    def __init__(self, now: float = T0, oversleep: float = 0.0) -> None:
        self.now = now
        self.oversleep = oversleep
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


Step = Callable[[], BaseException] | Response


class Transport:
    """The fake transport: plays a script of outcomes, one per attempt; the last one repeats.

    A step is an exception factory (raised) or a ``(status, headers)`` result.
    Each attempt may take ``takes`` seconds of fake time.
    """

    def __init__(self, *script: Step, clock: Clock | None = None, takes: float = 0.0) -> None:
        self.script = list(script)
        self.clock = clock
        self.takes = takes
        self.timeouts: list[Timeouts] = []
        self.raised: list[BaseException] = []
        self.discarded: list[Response] = []

    @property
    def sends(self) -> int:
        return len(self.timeouts)

    def __call__(self, timeouts: Timeouts) -> Response:
        self.timeouts.append(timeouts)
        if self.clock is not None:
            self.clock.now += self.takes
        step = self.script[min(len(self.timeouts), len(self.script)) - 1]
        if callable(step):
            error = step()
            self.raised.append(error)
            raise error
        return step

    async def async_send(self, timeouts: Timeouts) -> Response:
        await asyncio.sleep(0)  # a real suspension point, as a transport has
        return self(timeouts)

    def discard(self, response: Response) -> None:
        self.discarded.append(response)

    async def async_discard(self, response: Response) -> None:
        self.discarded.append(response)


def status_of(response: Response) -> tuple[int, Any]:
    return response


def make(**kw: Any) -> tuple[RetryPolicy, Clock]:
    """A policy on a fake clock with exact delays (no jitter: 0.1, 0.2, 0.4, ...)."""
    clock = kw.pop("clock", None) or Clock()
    kw.setdefault("jitter", "none")
    kw.setdefault("budget", None)
    kw.setdefault("breaker", None)
    kw.setdefault("rand", lambda: 0.5)
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, **kw)
    return policy, clock


def run(
    policy: RetryPolicy,
    transport: Transport,
    method: str = "GET",
    url: str = URL,
    **call_kw: Any,
) -> tuple[Outcome[Response], Call]:
    call = Call(policy, method, url, **call_kw)
    return run_sync(call, transport, status_of, transport.discard), call


def never_sleep(seconds: float) -> None:
    raise AssertionError(f"a real sleep of {seconds} s was attempted")


# --- what is retried --------------------------------------------------------------------------


def test_refusal_is_retried_until_success() -> None:
    """Two refusals then a 200: three attempts, the exact backoff waits between them."""
    policy, clock = make()
    transport = Transport(refused, refused, OK)
    outcome, call = run(policy, transport)
    assert (outcome.response, outcome.error, outcome.failure, outcome.reason) == (
        OK,
        None,
        None,
        "",
    )
    assert transport.sends == call.made == 3
    assert clock.sleeps == pytest.approx([0.1, 0.2])


def test_non_retryable_kind_is_not_retried() -> None:
    """An exception tether cannot call a network failure ends the call after one attempt."""
    policy, clock = make(attempts=5)
    transport = Transport(not_network, OK)
    outcome, _ = run(policy, transport)
    assert transport.sends == 1
    assert clock.sleeps == []
    assert outcome.error is transport.raised[0]
    assert outcome.failure is not None
    assert outcome.failure.kind is Kind.UNKNOWN
    assert outcome.reason == "unknown is not worth a retry"


def test_kinds_limits_what_is_retried() -> None:
    """``kinds={connect.refused}``: a reset on a GET is no longer retried, a refusal still is."""
    policy, _ = make(kinds={Kind.CONNECT_REFUSED})
    transport = Transport(reset, OK)
    outcome, _ = run(policy, transport)
    assert transport.sends == 1
    assert outcome.reason == "connection.reset is not worth a retry"
    transport = Transport(refused, OK)
    outcome, _ = run(policy, transport)
    assert (transport.sends, outcome.response) == (2, OK)


def test_kinds_can_retry_a_kind_that_is_not_retryable_by_default() -> None:
    """``kinds`` replaces ``Failure.retryable``: listing ``unknown`` makes it retry."""
    policy, _ = make(kinds={Kind.UNKNOWN})
    transport = Transport(not_network, OK)
    outcome, _ = run(policy, transport)
    assert (transport.sends, outcome.response) == (2, OK)


def test_the_policys_rand_draws_the_waits() -> None:
    """Full jitter with rand 0.25: waits are a quarter of 0.1, 0.2, 0.4."""
    policy, clock = make(jitter="full", rand=lambda: 0.25, attempts=4)
    run(policy, Transport(refused))
    assert clock.sleeps == pytest.approx([0.025, 0.05, 0.1])


def test_decorrelated_waits_grow_from_the_previous_wait() -> None:
    """The loop hands each wait to the next draw: 0.2, then 0.1 + 0.5 * (0.6 - 0.1), ..."""
    policy, clock = make(jitter="decorrelated", attempts=4)
    run(policy, Transport(refused))
    assert clock.sleeps == pytest.approx([0.2, 0.35, 0.575])


# --- after the request may have reached the server --------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "get"])
def test_reset_is_retried_for_idempotent_methods(method: str) -> None:
    """A reset (the server may have seen the request) is retried for an idempotent method."""
    policy, _ = make()
    transport = Transport(reset, OK)
    outcome, _ = run(policy, transport, method)
    assert (transport.sends, outcome.response) == (2, OK)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("error", [reset, timed_out], ids=["reset", "read-timeout"])
def test_request_sent_failure_is_not_retried_for_unsafe_methods(
    method: str, error: Callable[[], BaseException]
) -> None:
    """A reset or read timeout on a POST/PATCH is not retried; the reason says how to allow it."""
    policy, clock = make()
    transport = Transport(error, OK)
    outcome, _ = run(policy, transport, method)
    assert transport.sends == 1
    assert clock.sleeps == []
    assert outcome.error is transport.raised[0]
    assert outcome.reason.startswith(f"the server may have acted on the {method} already")
    assert "Idempotency-Key" in outcome.reason
    assert "retry_unsafe=True" in outcome.reason


@pytest.mark.parametrize("header", ["Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY"])
def test_idempotency_key_makes_a_post_retryable(header: str) -> None:
    """A POST carrying an Idempotency-Key header (any case) is retried after a reset."""
    policy, _ = make()
    transport = Transport(reset, OK)
    outcome, _ = run(policy, transport, "POST", headers={header: "order-42"})
    assert (transport.sends, outcome.response) == (2, OK)


def test_retry_unsafe_retries_a_post() -> None:
    """``retry_unsafe=True`` retries a POST after a reset, without a key."""
    policy, _ = make(retry_unsafe=True)
    transport = Transport(reset, OK)
    outcome, _ = run(policy, transport, "POST")
    assert (transport.sends, outcome.response) == (2, OK)


def test_refusal_is_retried_for_a_post() -> None:
    """A refusal happens before the request left: safe to retry for any method."""
    policy, _ = make()
    transport = Transport(refused, OK)
    outcome, _ = run(policy, transport, "POST")
    assert (transport.sends, outcome.response) == (2, OK)


@pytest.mark.parametrize(
    ("method", "idempotent", "sends"),
    [("GET", False, 1), ("POST", True, 2)],
)
def test_explicit_idempotent_overrides_the_method(
    method: str, idempotent: bool, sends: int
) -> None:
    """``idempotent=`` on the call wins over what the method suggests."""
    policy, _ = make()
    transport = Transport(reset, OK)
    run(policy, transport, method, idempotent=idempotent)
    assert transport.sends == sends


def test_non_replayable_body_is_not_resent_after_the_request_left() -> None:
    """A streamed body that cannot be replayed is not retried after a reset, even for PUT."""
    policy, _ = make()
    transport = Transport(reset, OK)
    outcome, _ = run(policy, transport, "PUT", replayable=False)
    assert transport.sends == 1
    assert outcome.reason == "the request body cannot be sent again"


def test_non_replayable_body_is_retried_when_nothing_was_sent() -> None:
    """A refusal sent nothing, so even a non-replayable body is retried."""
    policy, _ = make()
    transport = Transport(refused, OK)
    outcome, _ = run(policy, transport, "PUT", replayable=False)
    assert (transport.sends, outcome.response) == (2, OK)


# --- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [429, 502, 503, 504])
def test_not_now_statuses_are_retried_and_discarded(code: int) -> None:
    """429/502/503/504 are retried; the response retried past is handed to ``discard``."""
    policy, clock = make()
    transport = Transport((code, {}), OK)
    outcome, _ = run(policy, transport)
    assert (transport.sends, outcome.response, outcome.failure) == (2, OK, None)
    assert transport.discarded == [(code, {})]
    assert clock.sleeps == pytest.approx([0.1])


@pytest.mark.parametrize("code", [500, 501, 404, 408])
def test_other_error_statuses_are_returned_at_once(code: int) -> None:
    """A 500 (a bug, usually), 501, 404 or 408 goes back to the caller as is, not retried."""
    policy, clock = make()
    transport = Transport((code, {}), OK)
    outcome, _ = run(policy, transport)
    assert transport.sends == 1
    assert (outcome.response, outcome.failure, outcome.error) == ((code, {}), None, None)
    assert transport.discarded == []
    assert clock.sleeps == []


def test_a_returned_500_still_counts_against_health() -> None:
    """Not retrying a 500 does not hide it: the endpoint's health records it."""
    policy, _ = make()
    guard = Guard(policy)
    run(policy, Transport((500, {})), guard=guard)
    health = guard.health(ENDPOINT)
    assert health.consecutive_failures == 1
    assert health.last_failure is not None
    assert health.last_failure.status == 500


def test_statuses_can_add_500() -> None:
    """``statuses`` is the allow-list: adding 500 makes it retried."""
    policy, _ = make(statuses={500, 503})
    transport = Transport((500, {}), OK)
    outcome, _ = run(policy, transport)
    assert (transport.sends, outcome.response) == (2, OK)


def test_last_retryable_response_is_returned_with_its_failure() -> None:
    """Every attempt a 503: the last response is returned (not discarded) with the failure."""
    policy, _ = make(attempts=3)
    transport = Transport((503, {"X": "1"}), (503, {"X": "2"}), (503, {"X": "3"}))
    outcome, _ = run(policy, transport)
    assert outcome.response == (503, {"X": "3"})
    assert outcome.failure is not None
    assert (outcome.failure.kind, outcome.failure.status) == (Kind.HTTP_SERVER_ERROR, 503)
    assert outcome.reason == EXHAUSTED
    assert transport.discarded == [(503, {"X": "1"}), (503, {"X": "2"})]


def test_success_is_recorded_as_health() -> None:
    """A 200 after failures resets the endpoint's failure count and records the success time."""
    policy, clock = make()
    guard = Guard(policy)
    run(policy, Transport(refused, OK), guard=guard)
    health = guard.health(ENDPOINT)
    assert health.consecutive_failures == 0
    assert health.last_success_at == clock.now


# --- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "after"), [(503, "2"), (429, "7"), (503, "30"), (429, "0")])
def test_retry_after_is_honoured_exactly(code: int, after: str) -> None:
    """The wait is the server's Retry-After (up to the cap included), not the backoff."""
    policy, clock = make()
    transport = Transport((code, {"Retry-After": after}), OK)
    outcome, _ = run(policy, transport)
    assert outcome.response == OK
    assert clock.sleeps == [float(after)]


def test_retry_after_over_the_cap_gives_up_at_once() -> None:
    """Retry-After 120 with retry_after_cap=30: no wait, no retry, and the reason says why."""
    policy, clock = make(attempts=5, retry_after_cap=30.0)
    transport = Transport((503, {"Retry-After": "120"}), OK)
    outcome, _ = run(policy, transport)
    assert transport.sends == 1
    assert clock.sleeps == []
    assert outcome.response == (503, {"Retry-After": "120"})
    assert outcome.reason == (
        "the server asked to wait 120 s, more than the policy's retry_after_cap of 30 s"
    )


def test_retry_after_past_the_deadline_gives_up_at_once() -> None:
    """Retry-After 10 with 5 s of deadline left: give up now rather than wait in vain."""
    policy, clock = make(deadline=5.0)
    transport = Transport((429, {"Retry-After": "10"}), OK)
    outcome, _ = run(policy, transport)
    assert transport.sends == 1
    assert clock.sleeps == []
    assert outcome.reason == "the server asked to wait 10 s, past the deadline (5.0 s of 5 s left)"


# --- the deadline -----------------------------------------------------------------------------


def test_no_wait_that_would_end_past_the_deadline() -> None:
    """deadline 1 s, waits 0.4 then 0.8: the 0.8 s wait would end past it, so the call stops."""
    policy, clock = make(deadline=1.0, base=0.4, attempts=10)
    transport = Transport(refused)
    outcome, _ = run(policy, transport)
    assert transport.sends == 2
    assert clock.sleeps == pytest.approx([0.4])
    assert outcome.reason == "waiting 0.80 s would pass the deadline (0.60 s left)"
    assert clock.now - T0 <= 1.0


def test_no_attempt_after_the_deadline() -> None:
    """A sleep that overran the deadline: the next attempt is not made, the last error stands."""
    clock = Clock(oversleep=5.0)
    policy, _ = make(deadline=1.0, attempts=10, clock=clock)
    transport = Transport(refused)
    outcome, call = run(policy, transport)
    assert transport.sends == call.made == 1
    assert outcome.error is transport.raised[0]
    assert outcome.failure is not None
    assert outcome.failure.kind is Kind.CONNECT_REFUSED
    assert outcome.reason == "the call's 1 s deadline passed before attempt 2"


def test_slow_attempts_stop_at_the_deadline() -> None:
    """Attempts of 0.7 s each under a 1 s deadline: two attempts, then no wait that cannot fit."""
    clock = Clock()
    policy, _ = make(deadline=1.0, attempts=10, clock=clock)
    transport = Transport(refused, clock=clock, takes=0.7)
    outcome, _ = run(policy, transport)
    assert transport.sends == 2
    assert clock.sleeps == pytest.approx([0.1])
    assert outcome.reason.startswith("waiting 0.20 s would pass the deadline")


def test_timeouts_are_clipped_to_what_the_deadline_leaves() -> None:
    """The first attempt gets min(connect, deadline); after 1.6 s the second gets the 0.4 s left."""
    clock = Clock()
    policy, _ = make(deadline=2.0, connect=5.0, read=30.0, clock=clock)
    transport = Transport(refused, OK, clock=clock, takes=1.5)
    run(policy, transport)
    first, second = transport.timeouts
    assert first == Timeouts(connect=2.0, read=2.0, total=2.0)
    assert (second.connect, second.read, second.total) == pytest.approx((0.4, 0.4, 0.4))


def test_every_first_attempt_shares_its_guards_timeouts() -> None:
    """First attempts get one Timeouts object per guard (integrations build theirs once);
    a later attempt gets a new one, cut to what is left."""
    clock = Clock()
    policy, _ = make(deadline=2.0, connect=5.0, read=30.0, clock=clock)
    guard = tether.Guard(policy)
    calls = [Call(policy, "GET", "http://127.0.0.1:1/", guard=guard) for _ in range(2)]
    firsts = []
    for call in calls:
        assert call.begin() is None
        firsts.append(call.timeouts())
    assert firsts[0] is firsts[1] is guard.first_timeouts
    assert guard.first_timeouts == Timeouts(connect=2.0, read=2.0, total=2.0)
    clock.now += 0.5
    assert calls[0].begin() is None
    later = calls[0].timeouts()
    assert later is not guard.first_timeouts
    assert later.total == pytest.approx(1.5)


def test_timeouts_keep_shorter_policy_values() -> None:
    """connect and total shorter than the time left are kept as they are."""
    policy, _ = make(deadline=2.0, connect=0.25, read=30.0, total=0.3)
    transport = Transport(OK)
    run(policy, transport)
    assert transport.timeouts == [Timeouts(connect=0.25, read=0.3, total=0.3)]


def test_no_deadline_leaves_timeouts_alone() -> None:
    """deadline=None: connect and read as set, and no total unless one is given."""
    policy, _ = make(deadline=None, connect=3.0, read=7.0)
    transport = Transport(OK)
    run(policy, transport)
    assert transport.timeouts == [Timeouts(connect=3.0, read=7.0, total=math.inf)]


def test_a_timeout_at_the_deadline_is_reported_as_the_deadline() -> None:
    """A read timeout that used up the deadline is deadline.exceeded, naming what timed out."""
    clock = Clock()
    policy, _ = make(deadline=1.0, clock=clock)
    transport = Transport(timed_out, clock=clock, takes=1.0)
    outcome, _ = run(policy, transport)
    assert transport.sends == 1
    assert outcome.failure is not None
    assert outcome.failure.kind is Kind.DEADLINE_EXCEEDED
    assert outcome.failure.detail == (
        "no complete answer within the call's 1 s deadline (attempt 1: read.timeout)"
    )
    assert outcome.failure.cause is transport.raised[0]


# --- attempts and budget ---------------------------------------------------------------------


@pytest.mark.parametrize("attempts", [1, 2, 4])
def test_attempts_caps_the_number_of_sends(attempts: int) -> None:
    """Always refused: exactly ``attempts`` sends and one wait fewer."""
    policy, clock = make(attempts=attempts)
    transport = Transport(refused)
    outcome, call = run(policy, transport)
    assert transport.sends == call.made == attempts
    assert clock.sleeps == pytest.approx([0.1 * 2**i for i in range(attempts - 1)])
    assert outcome.reason == EXHAUSTED


def test_spent_budget_stops_retrying_at_once() -> None:
    """A budget of 2 retries: one call gets two, the next none; the reason names the budget."""
    policy, _ = make(attempts=5, budget=Budget(ratio=0.0, per_second=0.2, window=10.0))
    guard = Guard(policy)
    first = Transport(refused)
    outcome, _ = run(policy, first, guard=guard)
    assert first.sends == 3
    assert outcome.reason == f"the retry budget for {ENDPOINT} is spent"
    second = Transport(refused)
    outcome, _ = run(policy, second, guard=guard)
    assert second.sends == 1
    assert outcome.reason == f"the retry budget for {ENDPOINT} is spent"


def test_first_attempts_are_never_refused_by_the_budget() -> None:
    """An empty budget still lets every call make its first attempt."""
    policy, _ = make(budget=Budget(ratio=0.0, per_second=0.0, window=1.0))
    guard = Guard(policy)
    transport = Transport(OK)
    for _ in range(3):
        outcome, _ = run(policy, transport, guard=guard)
        assert outcome.response == OK
    assert transport.sends == 3


# --- the circuit breaker ----------------------------------------------------------------------


def test_open_circuit_stops_the_call_before_the_first_attempt() -> None:
    """After the breaker opens, a call sends nothing and ends in a circuit.open failure."""
    give_ups: list[GiveUpDetails] = []
    policy, _ = make(attempts=1, breaker=Breaker(failures=2), on_give_up=give_ups.append)
    guard = Guard(policy)
    for _ in range(2):
        run(policy, Transport(refused), guard=guard)
    assert guard.breaker_state(ENDPOINT) is BreakerState.OPEN
    transport = Transport(OK)
    outcome, call = run(policy, transport, guard=guard)
    assert transport.sends == call.made == 0
    assert (outcome.response, outcome.error) == (None, None)
    assert outcome.failure is not None
    assert outcome.failure.kind is Kind.CIRCUIT_OPEN
    assert outcome.failure.detail == (
        f"the circuit for {ENDPOINT} is open after repeated failures "
        "(last failure: connect.refused); no request was sent"
    )
    assert give_ups[-1].attempts == 0
    assert give_ups[-1].failure is outcome.failure


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        (URL, "127.0.0.1", 9),
        ("http://[::1]:9/items", "::1", 9),
        ("https://example.test/x", "example.test", 443),
        ("ftp://example.test/x", None, None),  # no port: the key is the host alone
    ],
)
def test_a_circuit_open_failure_names_the_endpoints_host_and_port(
    url: str, host: str | None, port: int | None
) -> None:
    """The failure of a refused call carries the breaker key's host (IPv6 without its
    brackets) and port, as any classified failure does."""
    policy, _ = make(attempts=1, breaker=Breaker(failures=1))
    guard = Guard(policy)
    run(policy, Transport(refused), url=url, guard=guard)
    outcome, _ = run(policy, Transport(OK), url=url, guard=guard)
    assert outcome.failure is not None
    assert outcome.failure.kind is Kind.CIRCUIT_OPEN
    assert (outcome.failure.host, outcome.failure.port) == (host, port)


def test_circuit_opening_mid_call_stops_the_retries() -> None:
    """The breaker opens on attempt 2 with a cool-down longer than the wait: no attempt 3."""
    policy, clock = make(attempts=5, breaker=Breaker(failures=2, cooldown=1.0))
    transport = Transport(refused)
    outcome, _ = run(policy, transport)
    assert transport.sends == 2
    assert clock.sleeps == pytest.approx([0.1])
    assert outcome.reason == f"the circuit for {ENDPOINT} is open"


def test_circuit_that_will_be_half_open_after_the_wait_lets_the_trial_run() -> None:
    """A cool-down shorter than the next wait: the loop waits, and the next attempt is the trial."""
    changes: list[tuple[str, str]] = []
    policy, _ = make(
        attempts=3,
        breaker=Breaker(failures=2, cooldown=0.15),
        on_breaker_change=lambda c: changes.append((c.old, c.new)),
    )
    transport = Transport(refused, refused, OK)
    outcome, _ = run(policy, transport)
    assert (transport.sends, outcome.response) == (3, OK)
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_cancelled_trial_frees_the_half_open_slot() -> None:
    """An attempt interrupted by a BaseException propagates it and releases the breaker's trial."""
    policy, clock = make(attempts=1, breaker=Breaker(failures=1, cooldown=1.0))
    guard = Guard(policy)
    run(policy, Transport(refused), guard=guard)
    clock.now += 1.0

    def interrupted(_: Timeouts) -> Response:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sync(Call(policy, "GET", URL, guard=guard), interrupted)
    assert guard.breaker_state(ENDPOINT) is BreakerState.HALF_OPEN
    transport = Transport(OK)
    outcome, _ = run(policy, transport, guard=guard)
    assert (transport.sends, outcome.response) == (1, OK)
    assert guard.breaker_state(ENDPOINT) is BreakerState.CLOSED


# --- hooks and logging ------------------------------------------------------------------------


def test_on_retry_reports_each_retry_with_a_redacted_url() -> None:
    """One RetryDetails per retry: the failed attempt, the wait, time so far, and no secrets."""
    retries: list[RetryDetails] = []
    policy, _ = make(on_retry=retries.append)
    run(policy, Transport(refused, reset, OK))
    assert [(d.method, d.url, d.endpoint, d.attempt) for d in retries] == [
        ("GET", SHOWN, ENDPOINT, 1),
        ("GET", SHOWN, ENDPOINT, 2),
    ]
    assert [d.delay for d in retries] == pytest.approx([0.1, 0.2])
    assert [d.elapsed for d in retries] == pytest.approx([0.0, 0.1])
    assert [d.failure.kind for d in retries] == [Kind.CONNECT_REFUSED, Kind.CONNECTION_RESET]
    for details in retries:
        assert details.failure.url == SHOWN
        assert "password" not in repr(details)
        assert "s3cret" not in repr(details)
    with pytest.raises(dataclasses.FrozenInstanceError):
        retries[0].delay = 0.0  # type: ignore[misc]


def test_on_give_up_reports_attempts_reason_and_redacted_url() -> None:
    """One GiveUpDetails when the call ends in failure, with attempts, elapsed and the reason."""
    give_ups: list[GiveUpDetails] = []
    policy, _ = make(attempts=3, on_give_up=give_ups.append)
    outcome, _ = run(policy, Transport(refused))
    [details] = give_ups
    assert (details.method, details.url, details.endpoint) == ("GET", SHOWN, ENDPOINT)
    assert details.attempts == 3
    assert details.elapsed == pytest.approx(0.3)
    assert details.reason == EXHAUSTED
    assert details.failure is outcome.failure
    assert "password" not in repr(details)
    assert "s3cret" not in repr(details)


def test_no_events_for_a_first_time_success() -> None:
    """A call that works at once reports neither a retry nor a give-up."""
    events: list[object] = []
    policy, _ = make(on_retry=events.append, on_give_up=events.append)
    run(policy, Transport(OK))
    assert events == []


def test_a_raising_hook_does_not_change_the_outcome(caplog: pytest.LogCaptureFixture) -> None:
    """on_retry raising is logged and ignored: the call still retries and succeeds."""

    def broken(_: RetryDetails) -> None:
        raise RuntimeError("hook bug")

    policy, _ = make(on_retry=broken)
    transport = Transport(refused, OK)
    with caplog.at_level(logging.ERROR, logger="tether"):
        outcome, _ = run(policy, transport)
    assert (transport.sends, outcome.response) == (2, OK)
    assert "tether: the retry hook raised; ignored" in [r.getMessage() for r in caplog.records]


def test_retries_and_give_up_are_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """An info line per retry and a warning on giving up, on logger "tether", URL redacted."""
    policy, _ = make(attempts=2)
    with caplog.at_level(logging.INFO, logger="tether"):
        outcome, _ = run(policy, Transport(refused))
    failure = outcome.failure
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "tether"]
    assert lines == [
        (logging.INFO, f"retrying GET {SHOWN} in 0.10 s after attempt 1: {failure}"),
        (
            logging.WARNING,
            f"giving up on GET {SHOWN} after 2 attempts in 0.1 s ({EXHAUSTED}): {failure}",
        ),
    ]
    assert "password" not in caplog.text
    assert "s3cret" not in caplog.text


def test_summary_names_method_url_attempts_and_why_it_stopped() -> None:
    """``Call.summary`` is the one-line message integrations raise with."""
    policy, _ = make(attempts=5)
    outcome, call = run(policy, Transport(reset), "POST")
    assert outcome.failure is not None
    assert call.summary(outcome) == (
        f"POST {SHOWN} failed after 1 attempt in 0.0 s: connection reset: "
        f"{outcome.failure.detail}; tether stopped because the server may have acted "
        "on the POST already, and it is not idempotent (send an Idempotency-Key header, or "
        "set retry_unsafe=True)"
    )


# --- tether.testing.fast_retries -------------------------------------------------------------


def test_fast_retries_caps_attempts_without_sleeping() -> None:
    """``fast_retries(attempts=1)``: one attempt whatever the policy says, and no sleep."""
    policy = RetryPolicy(attempts=5, sleep=never_sleep, budget=None, breaker=None)
    transport = Transport(refused)
    with tether.testing.fast_retries(attempts=1) as fast:
        outcome, _ = run(policy, transport)
    assert transport.sends == 1
    assert fast.waits == []
    assert outcome.reason == EXHAUSTED


def test_fast_retries_records_the_waits_it_skips() -> None:
    """``fast_retries(attempts=3)``: the two waits are recorded, never slept."""
    policy = RetryPolicy(
        attempts=5, jitter="none", sleep=never_sleep, clock=Clock(), budget=None, breaker=None
    )
    transport = Transport(refused)
    with tether.testing.fast_retries(attempts=3) as fast:
        run(policy, transport)
    assert transport.sends == 3
    assert fast.waits == pytest.approx([0.1, 0.2])


def test_fast_retries_without_a_cap_keeps_the_policys_attempts() -> None:
    """``fast_retries()`` leaves attempts alone and still skips every wait."""
    policy = RetryPolicy(attempts=4, jitter="none", sleep=never_sleep, budget=None, breaker=None)
    transport = Transport(refused)
    with tether.testing.fast_retries() as fast:
        run(policy, transport)
    assert transport.sends == 4
    assert len(fast.waits) == 3


def test_fast_retries_ends_with_its_block() -> None:
    """After the block the policy's own sleep is used again."""
    policy, clock = make()
    with tether.testing.fast_retries():
        pass
    run(policy, Transport(refused, OK))
    assert clock.sleeps == pytest.approx([0.1])


def test_fast_retries_rejects_zero_attempts() -> None:
    """``attempts=0`` would make no call at all: rejected."""
    with pytest.raises(ValueError, match="attempts=0"), tether.testing.fast_retries(attempts=0):
        pass


def test_fast_retries_is_not_seen_by_another_thread() -> None:
    """An override made in one thread (one test's) is not another thread's: a call there
    makes its policy's attempts and waits, while the first thread's block is open."""
    inside = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with tether.testing.fast_retries(attempts=1):
            inside.set()
            done.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert inside.wait(10)
        policy, clock = make(attempts=3)
        transport = Transport(refused)
        run(policy, transport)
    finally:
        done.set()
        thread.join(10)
    assert transport.sends == 3
    assert clock.sleeps == pytest.approx([0.1, 0.2])


def test_fast_retries_is_seen_by_the_tasks_its_block_starts_and_no_other() -> None:
    """A task started inside the block copies its context and sees the override; a task
    started before it, running while the block is open, does not."""

    async def attempts(policy: RetryPolicy) -> int:
        transport = Transport(refused)
        await run_async(Call(policy, "GET", URL), transport.async_send, status_of)
        return transport.sends

    async def main() -> tuple[int, int]:
        opened = asyncio.Event()

        async def outside() -> int:
            await opened.wait()
            return await attempts(make(attempts=3)[0])

        other = asyncio.ensure_future(outside())
        with tether.testing.fast_retries(attempts=1):
            opened.set()
            inner = await asyncio.ensure_future(attempts(make(attempts=3)[0]))
            seen_outside = await other
        return inner, seen_outside

    inner, seen_outside = asyncio.run(main())
    assert inner == 1
    assert seen_outside == 3


# --- the async loop ---------------------------------------------------------------------------


def test_async_loop_retries_with_the_injected_async_sleep() -> None:
    """run_async awaits send, discard and the injected async sleep, with the same decisions."""
    policy, clock = make()
    transport = Transport(refused, (503, {}), OK)

    async def main() -> Outcome[Response]:
        call = Call(policy, "GET", URL)
        return await run_async(call, transport.async_send, status_of, transport.async_discard)

    outcome = asyncio.run(main())
    assert (transport.sends, outcome.response) == (3, OK)
    assert clock.sleeps == pytest.approx([0.1, 0.2])
    assert transport.discarded == [(503, {})]


def test_async_loop_gives_up_like_the_sync_one() -> None:
    """A POST reset is not retried by the async loop either, for the same reason."""
    policy, clock = make()
    transport = Transport(reset, OK)

    async def main() -> Outcome[Response]:
        return await run_async(Call(policy, "POST", URL), transport.async_send, status_of)

    outcome = asyncio.run(main())
    assert transport.sends == 1
    assert clock.sleeps == []
    assert outcome.reason.startswith("the server may have acted on the POST already")


def test_async_fast_retries_records_waits_without_awaiting_sleep() -> None:
    """Under fast_retries the async loop records the waits and never calls async_sleep."""

    async def forbidden(seconds: float) -> None:
        raise AssertionError(f"async sleep of {seconds} s")

    policy = RetryPolicy(jitter="none", async_sleep=forbidden, budget=None, breaker=None)
    transport = Transport(refused)
    with tether.testing.fast_retries() as fast:
        asyncio.run(run_async(Call(policy, "GET", URL), transport.async_send, status_of))
    assert transport.sends == 3
    assert fast.waits == pytest.approx([0.1, 0.2])


def test_async_cancellation_propagates_and_frees_the_trial() -> None:
    """A cancelled half-open trial re-raises CancelledError and lets the next call try."""
    policy, clock = make(attempts=1, breaker=Breaker(failures=1, cooldown=1.0))
    guard = Guard(policy)
    run(policy, Transport(refused), guard=guard)
    clock.now += 1.0

    async def cancelled(_: Timeouts) -> Response:
        raise asyncio.CancelledError

    async def main() -> None:
        await run_async(Call(policy, "GET", URL, guard=guard), cancelled)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    assert guard.breaker_allows(ENDPOINT, clock.now)


# --- @tether.retry ----------------------------------------------------------------------------


def test_decorator_returns_the_value_after_retries() -> None:
    """A decorated function that fails twice then works returns its value; metadata is kept."""
    policy, clock = make()
    transport = Transport(refused, timed_out, OK)

    @tether.retry(policy=policy)
    def fetch(n: int) -> tuple[int, Response]:
        """Fetch n."""
        return n, transport(Timeouts(1, 1, 1))

    assert fetch(7) == (7, OK)
    assert transport.sends == 3
    assert clock.sleeps == pytest.approx([0.1, 0.2])
    assert (fetch.__name__, fetch.__doc__) == ("fetch", "Fetch n.")


def test_decorator_reraises_the_original_exception_with_failure_and_note() -> None:
    """Giving up re-raises the last exception itself, with ``.failure`` and a "tether: " note."""
    policy, _ = make(attempts=3)
    transport = Transport(refused)

    @tether.retry(policy=policy, endpoint="inventory")
    def fetch() -> Response:
        return transport(Timeouts(1, 1, 1))

    with pytest.raises(ConnectionRefusedError) as caught:
        fetch()
    assert caught.value is transport.raised[-1]
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    notes = caught.value.__notes__
    assert len(notes) == 1
    assert notes[0].startswith("tether: ")
    assert notes[0] == (
        "tether: fetch() failed after 3 attempts in 0.3 s: connection refused: "
        "The server refused the connection: nothing is listening on that port"
    )


def test_decorator_does_not_retry_what_is_not_retryable() -> None:
    """A bug in the decorated function is raised at once, annotated, not retried."""
    policy, clock = make(attempts=5)
    calls: list[int] = []

    @tether.retry(policy=policy)
    def buggy() -> None:
        calls.append(1)
        raise KeyError("missing")

    with pytest.raises(KeyError) as caught:
        buggy()
    assert calls == [1]
    assert clock.sleeps == []
    assert "unknown is not worth a retry" in caught.value.__notes__[0]


def test_decorator_idempotent_false_does_not_retry_after_a_reset() -> None:
    """``idempotent=False``: a failure after the request may have arrived is not repeated."""
    policy, _ = make()
    transport = Transport(reset, OK)

    @tether.retry(policy=policy, idempotent=False)
    def submit() -> Response:
        return transport(Timeouts(1, 1, 1))

    with pytest.raises(ConnectionResetError):
        submit()
    assert transport.sends == 1


def test_decorator_raises_circuit_open_error_when_no_attempt_ran() -> None:
    """An open breaker raises tether.CircuitOpenError (a ConnectionError) without calling."""
    policy, _ = make(attempts=1, breaker=Breaker(failures=2))
    transport = Transport(refused)

    @tether.retry(policy=policy, endpoint="billing")
    def charge() -> Response:
        return transport(Timeouts(1, 1, 1))

    for _ in range(2):
        with pytest.raises(ConnectionRefusedError):
            charge()
    with pytest.raises(tether.CircuitOpenError) as caught:
        charge()
    assert transport.sends == 2
    assert isinstance(caught.value, ConnectionError)
    assert caught.value.failure is not None
    assert caught.value.failure.kind is Kind.CIRCUIT_OPEN
    assert str(caught.value).startswith(
        "charge() was not sent: circuit open: the circuit for billing"
    )


def test_decorator_successes_close_a_half_open_breaker() -> None:
    """A decorated success is recorded: the half-open trial closes the circuit, health recovers."""
    policy, clock = make(attempts=1, breaker=Breaker(failures=1, cooldown=1.0))
    transport = Transport(refused, OK)

    @tether.retry(policy=policy, endpoint="svc")
    def call() -> Response:
        return transport(Timeouts(1, 1, 1))

    with pytest.raises(ConnectionRefusedError):
        call()
    clock.now += 1.0
    assert call() == OK
    guard: Guard = call.guard  # type: ignore[attr-defined]
    assert guard.breaker_state("svc") is BreakerState.CLOSED
    assert call() == OK
    health = guard.health("svc")
    assert (health.consecutive_failures, health.last_success_at) == (0, clock.now)


def test_decorated_functions_keep_their_own_guards() -> None:
    """Two functions decorated with one policy and one endpoint name share no breaker, unless
    given the same guard."""
    policy, _ = make(attempts=1, breaker=Breaker(failures=1, cooldown=30))
    transport = Transport(refused, OK)
    shared = Guard(policy)

    @tether.retry(policy=policy, endpoint="svc", guard=shared)
    def down() -> Response:
        return transport(Timeouts(1, 1, 1))

    @tether.retry(policy=policy, endpoint="svc")
    def up() -> Response:
        return transport(Timeouts(1, 1, 1))

    @tether.retry(guard=shared, endpoint="svc")
    def sharing() -> Response:
        return transport(Timeouts(1, 1, 1))

    with pytest.raises(ConnectionRefusedError):
        down()
    assert up() == OK
    assert up.guard.breaker_state("svc") is BreakerState.CLOSED  # type: ignore[attr-defined]
    with pytest.raises(tether.CircuitOpenError):
        sharing()
    assert transport.sends == 2


def test_bare_decorator_under_fast_retries() -> None:
    """``@tether.retry`` without arguments uses the default policy; fast_retries skips its waits."""
    calls: list[int] = []

    @tether.retry
    def flaky_in_test_bare_decorator() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise refused()
        return "done"

    with tether.testing.fast_retries() as fast:
        assert flaky_in_test_bare_decorator() == "done"
    assert len(calls) == 3
    assert len(fast.waits) == 2
    assert all(0.0 <= w <= 0.2 for w in fast.waits)


def test_async_decorator_retries_and_reraises_with_a_note() -> None:
    """An async function is retried with the async sleep; giving up re-raises with the note."""
    policy, clock = make(attempts=2)
    transport = Transport(refused, OK)
    always = Transport(timed_out)

    @tether.retry(policy=policy, endpoint="async-ok")
    async def works_second_time() -> Response:
        return await transport.async_send(Timeouts(1, 1, 1))

    @tether.retry(policy=policy, endpoint="async-down")
    async def never_works() -> Response:
        return await always.async_send(Timeouts(1, 1, 1))

    assert asyncio.run(works_second_time()) == OK
    with pytest.raises(TimeoutError) as caught:
        asyncio.run(never_works())
    assert caught.value is always.raised[-1]
    assert caught.value.failure.kind is Kind.READ_TIMEOUT  # type: ignore[attr-defined]
    assert caught.value.__notes__[0].startswith("tether: never_works() failed after 2 attempts")
    assert clock.sleeps == pytest.approx([0.1, 0.1])
