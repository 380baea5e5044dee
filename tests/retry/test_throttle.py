"""Client-side throttling in the loop, on an injected clock and random source: what counts
as accepted, the drop itself counted as a request, never retried, forgotten after the
window."""

from __future__ import annotations

import dataclasses

import pytest

import tether
from tether._classify import failure_for
from tether._kinds import Kind
from tether._retry._admission import overloaded


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttled(
    clock: Clock, rand: float, attempts: int = 1
) -> tuple[tether.Guard, list[BaseException | None]]:
    """A guard with a throttle, and the list of what each call of the function to decorate
    raises (None: it returns)."""
    policy = tether.RetryPolicy(
        attempts=attempts,
        throttle=tether.Throttle(k=2, window=10),
        clock=clock,
        rand=lambda: rand,
        sleep=lambda _s: None,
        breaker=None,
        budget=None,
    )
    return tether.Guard(policy), []


def test_a_refusing_endpoint_gets_throttled_and_the_drop_counts_as_a_request() -> None:
    """Refusals are not accepted: after two, the probability is 2/3 and a draw of 0.6
    drops the third call here (the function is not called), which counts as a request:
    (3 - 0) / 4 next."""
    clock = Clock()
    guard, _ = _throttled(clock, rand=0.6)
    calls: list[int] = []

    @tether.retry(guard=guard, endpoint="svc")
    def refused() -> None:
        calls.append(1)
        raise ConnectionRefusedError(111, "Connection refused")

    for _ in range(2):
        with pytest.raises(ConnectionRefusedError):
            refused()
    state = guard.throttling("svc")
    assert state == tether.ThrottleState("svc", requests=2, accepts=0, probability=2 / 3)
    with pytest.raises(tether.ThrottledError) as caught:
        refused()
    assert len(calls) == 2
    assert guard.throttling("svc") == tether.ThrottleState("svc", 3, 0, 3 / 4)
    failure = caught.value.failure
    assert failure is not None
    assert failure.kind == Kind.THROTTLE_REJECTED
    assert failure.detail == (
        "client-side throttling dropped the request to svc: it accepted 0 of the last 3 "
        "requests in 10 s (K=2), so requests are dropped with probability 0.67; "
        "no request was sent"
    )
    assert isinstance(caught.value, ConnectionError)


def test_under_the_probability_the_call_goes_through() -> None:
    """A draw at or above the probability sends the call: the SRE book's rule is a
    probability, not a cut-off."""
    clock = Clock()
    guard, _ = _throttled(clock, rand=0.99)

    @tether.retry(guard=guard, endpoint="svc")
    def refused() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    for _ in range(5):
        with pytest.raises(ConnectionRefusedError):
            refused()
    assert guard.throttling("svc") == tether.ThrottleState("svc", 5, 0, 5 / 6)


def test_answers_are_accepts_and_the_window_forgets() -> None:
    """A function that returns is accepted: with one accept in two requests nothing is
    dropped (k=2); refusals older than the window no longer count."""
    clock = Clock()
    guard, _ = _throttled(clock, rand=0.0)  # drops whenever the probability is above 0
    outcomes = iter([ConnectionRefusedError(111, "refused"), None, None])

    @tether.retry(guard=guard, endpoint="svc")
    def call() -> str:
        error = next(outcomes)
        if error is not None:
            raise error
        return "ok"

    with pytest.raises(ConnectionRefusedError):
        call()
    with pytest.raises(tether.ThrottledError):  # 1 request, 0 accepts: p = 1/2
        call()
    clock.now += 11  # the window is 10 s
    assert guard.throttling("svc") == tether.ThrottleState("svc", 0, 0, 0.0)
    assert call() == "ok"
    assert call() == "ok"
    assert guard.throttling("svc") == tether.ThrottleState("svc", 2, 2, 0.0)


def test_a_drop_is_never_retried() -> None:
    """A drop on a retry ends the call with the last attempt's error, saying why it
    stopped; the function is not called again."""
    clock = Clock()
    guard, _ = _throttled(clock, rand=0.4, attempts=5)
    calls: list[int] = []

    @tether.retry(guard=guard, endpoint="svc")
    def refused() -> None:
        calls.append(1)
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(ConnectionRefusedError) as caught:
        refused()
    # 1 refusal: p = 1/2 > 0.4, so the first retry is dropped
    assert len(calls) == 1
    assert "tether stopped because client-side throttling dropped" in caught.value.__notes__[0]


@pytest.mark.parametrize(
    ("kind", "status", "turned_away"),
    [
        (Kind.HTTP_RATE_LIMITED, 429, True),
        (Kind.HTTP_SERVER_ERROR, 503, True),
        (Kind.HTTP_SERVER_ERROR, 500, False),
        (Kind.HTTP_SERVER_ERROR, 502, False),
        (Kind.HTTP_CLIENT_ERROR, 404, False),
        (Kind.CONNECT_REFUSED, None, True),
        (Kind.CONNECT_TIMEOUT, None, True),
        (Kind.READ_TIMEOUT, None, True),
        (Kind.DEADLINE_EXCEEDED, None, True),
        (Kind.CONNECTION_RESET, None, False),
        (Kind.DNS_NOT_FOUND, None, False),
    ],
)
def test_what_counts_as_turned_away(kind: Kind, status: int | None, turned_away: bool) -> None:
    """The documented table: 429, 503, refusals and timeouts are not accepted (and are
    the adaptive limit's drops); any other answer or failure was accepted."""
    failure = dataclasses.replace(failure_for(kind, "x"), status=status)
    assert overloaded(failure) is turned_away
    assert overloaded(None) is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("k", float("nan")), ("k", 0.5), ("window", 0.5), ("window", float("inf"))],
)
def test_a_bad_throttle_is_refused_naming_its_field(field: str, value: float) -> None:
    """NaN, a K under 1, a window under a second or without end (its counts, kept a
    second at a time, would never be dropped) are each refused in one ValueError."""
    with pytest.raises(ValueError, match=rf"throttle\.{field}="):
        tether.Throttle(**{field: value})
