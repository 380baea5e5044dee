"""Per-endpoint health records and the on_unhealthy / on_recovered hooks.

Driven through ``Guard.record`` with explicit times; failures are
real ``Failure`` objects from ``tether.classify`` of in-process exception
objects and ``tether.classify_status``.  No socket, no sleep.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest

import tether
from tether import Failure, Guard, HealthChange, RetryPolicy

A = "127.0.0.1:9"
B = "127.0.0.1:10"
T0 = 1000.0

REFUSED = tether.classify(ConnectionRefusedError(111, "Connection refused"))
RESET = tether.classify(ConnectionResetError(104, "Connection reset by peer"))
TIMED_OUT = tether.classify(TimeoutError("timed out"))


def status(code: int) -> Failure:
    failure = tether.classify_status(code)
    assert failure is not None
    return failure


class Events:
    """Collects both hooks' calls in one ordered list."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, HealthChange]] = []

    def unhealthy(self, change: HealthChange) -> None:
        self.seen.append(("unhealthy", change))

    def recovered(self, change: HealthChange) -> None:
        self.seen.append(("recovered", change))


def make(**kw: object) -> tuple[Guard, Events]:
    events = Events()
    policy = RetryPolicy(
        on_unhealthy=events.unhealthy,
        on_recovered=events.recovered,
        breaker=None,
        budget=None,
        clock=lambda: T0,
        **kw,  # type: ignore[arg-type]
    )
    return Guard(policy), events


def record(guard: Guard, failure: Failure | None, at: float) -> None:
    guard.record(A, failure, at)


# --- the record -------------------------------------------------------------------------------


def test_unknown_endpoint_is_healthy_with_an_empty_record() -> None:
    """An endpoint never seen is healthy, with nothing recorded."""
    guard, _ = make()
    h = guard.health(A)
    assert (h.endpoint, h.healthy, h.consecutive_failures) == (A, True, 0)
    assert (h.last_failure, h.last_failure_at, h.last_success_at) == (None, None, None)


def test_failures_are_counted_with_the_last_one_and_its_time() -> None:
    """Consecutive failures are counted; the record keeps the latest failure and its time."""
    guard, _ = make()
    record(guard, REFUSED, T0)
    record(guard, RESET, T0 + 1.5)
    h = guard.health(A)
    assert h.consecutive_failures == 2
    assert h.last_failure == RESET
    assert h.last_failure_at == T0 + 1.5
    assert h.last_success_at is None
    assert h.healthy


def test_success_resets_the_count_and_keeps_the_last_failure() -> None:
    """A success sets last_success_at and zeroes the count; the last failure stays for diagnosis."""
    guard, _ = make()
    record(guard, REFUSED, T0)
    record(guard, None, T0 + 2.0)
    h = guard.health(A)
    assert h.consecutive_failures == 0
    assert h.last_success_at == T0 + 2.0
    assert (h.last_failure, h.last_failure_at) == (REFUSED, T0)


def test_health_accepts_a_url_and_endpoints_are_separate() -> None:
    """``health`` takes a URL for its host:port; another endpoint's record is untouched."""
    guard, _ = make()
    record(guard, REFUSED, T0)
    assert guard.health("http://127.0.0.1:9/a/b?c=d").consecutive_failures == 1
    assert guard.health(B).consecutive_failures == 0


def test_health_is_a_frozen_snapshot() -> None:
    """``health()`` returns a frozen copy: later records do not change it, and it cannot be set."""
    guard, _ = make()
    record(guard, REFUSED, T0)
    snapshot = guard.health(A)
    record(guard, REFUSED, T0 + 1)
    assert snapshot.consecutive_failures == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.healthy = False  # type: ignore[misc]


# --- which failures count ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [400, 401, 403, 404, 407, 409, 429])
def test_4xx_does_not_count(code: int) -> None:
    """A 4xx (429 and 407 too) is the client's business: no count, no last failure, no event."""
    guard, events = make(unhealthy_after=1)
    for i in range(5):
        record(guard, status(code), T0 + i)
    h = guard.health(A)
    assert (h.consecutive_failures, h.last_failure, h.healthy) == (0, None, True)
    assert events.seen == []


def test_an_answered_4xx_ends_a_run_of_failures() -> None:
    """A 4xx shows the server answering, so it resets the count like a success."""
    guard, events = make()
    record(guard, REFUSED, T0)
    record(guard, REFUSED, T0 + 1)
    record(guard, status(404), T0 + 2)
    record(guard, REFUSED, T0 + 3)
    record(guard, REFUSED, T0 + 4)
    assert guard.health(A).consecutive_failures == 2
    assert events.seen == []


@pytest.mark.parametrize("code", [500, 501, 502, 503, 504])
def test_5xx_counts(code: int) -> None:
    """Every 5xx counts, retried or not: the server did something wrong."""
    guard, _ = make()
    record(guard, status(code), T0)
    assert guard.health(A).consecutive_failures == 1
    assert guard.health(A).last_failure == status(code)


# --- on_unhealthy and on_recovered -----------------------------------------------------------


def test_on_unhealthy_fires_once_at_the_default_threshold_of_three() -> None:
    """Two failures: healthy, no event.  The third: one event.  Further failures: no more."""
    guard, events = make()
    record(guard, REFUSED, T0)
    record(guard, RESET, T0 + 1)
    assert guard.health(A).healthy
    assert events.seen == []
    record(guard, TIMED_OUT, T0 + 2)
    assert not guard.health(A).healthy
    assert events.seen == [("unhealthy", HealthChange(A, False, 3, TIMED_OUT, None))]
    for i in range(5):
        record(guard, REFUSED, T0 + 3 + i)
    assert len(events.seen) == 1
    assert guard.health(A).consecutive_failures == 8


@pytest.mark.parametrize("threshold", [1, 2, 5])
def test_on_unhealthy_follows_unhealthy_after(threshold: int) -> None:
    """``unhealthy_after=N`` fires on the N-th consecutive failure, not before."""
    guard, events = make(unhealthy_after=threshold)
    for i in range(threshold - 1):
        record(guard, REFUSED, T0 + i)
    assert events.seen == []
    record(guard, REFUSED, T0 + threshold)
    assert [(name, change.consecutive_failures) for name, change in events.seen] == [
        ("unhealthy", threshold)
    ]


def test_on_recovered_fires_once_with_down_for() -> None:
    """A success after an outage fires on_recovered once; down_for runs from its first failure."""
    guard, events = make()
    record(guard, REFUSED, T0)
    record(guard, REFUSED, T0 + 1)
    record(guard, RESET, T0 + 2)
    record(guard, None, T0 + 7.5)
    record(guard, None, T0 + 8)
    assert [name for name, _ in events.seen] == ["unhealthy", "recovered"]
    recovered = events.seen[1][1]
    assert recovered == HealthChange(A, True, 0, RESET, 7.5)
    assert guard.health(A).healthy


def test_success_without_being_unhealthy_sends_nothing() -> None:
    """Failures under the threshold followed by a success fire neither hook."""
    guard, events = make()
    record(guard, REFUSED, T0)
    record(guard, REFUSED, T0 + 1)
    record(guard, None, T0 + 2)
    assert events.seen == []


def test_a_second_outage_fires_again_with_its_own_down_for() -> None:
    """After a recovery the next run of failures is a new outage, measured from its own start."""
    guard, events = make(unhealthy_after=2)
    record(guard, REFUSED, T0)
    record(guard, REFUSED, T0 + 1)
    record(guard, None, T0 + 4)
    record(guard, RESET, T0 + 10)
    record(guard, RESET, T0 + 11)
    record(guard, None, T0 + 12.25)
    names = [name for name, _ in events.seen]
    assert names == ["unhealthy", "recovered", "unhealthy", "recovered"]
    assert [c.down_for for _, c in events.seen] == [None, 4.0, None, 2.25]


def test_hook_that_raises_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    """A broken on_unhealthy or on_recovered is logged with its traceback; recording carries on."""

    def broken(change: HealthChange) -> None:
        raise RuntimeError(f"hook bug for {change.endpoint}")

    guard = Guard(
        RetryPolicy(on_unhealthy=broken, on_recovered=broken, breaker=None, unhealthy_after=1)
    )
    with caplog.at_level(logging.INFO, logger="tether"):
        record(guard, REFUSED, T0)
        record(guard, None, T0 + 1)
    assert guard.health(A).healthy
    assert guard.health(A).last_success_at == T0 + 1
    raised = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in raised] == [
        "tether: the unhealthy hook raised; ignored",
        "tether: the recovered hook raised; ignored",
    ]
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in raised)
    assert all(r.levelno == logging.ERROR for r in raised)


def test_health_changes_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Going unhealthy is a warning naming the count and failure; recovering is an info line."""
    guard, _ = make()
    with caplog.at_level(logging.INFO, logger="tether"):
        for i in range(3):
            record(guard, REFUSED, T0 + i)
        record(guard, None, T0 + 3)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "tether"]
    assert lines == [
        (logging.WARNING, f"{A} is unhealthy after 3 consecutive failures: {REFUSED}"),
        (logging.INFO, f"{A} recovered"),
    ]


def test_this_machines_shortage_leaves_health_alone() -> None:
    """connect.resource_exhausted (here EMFILE) is no news about the endpoint: it neither
    counts towards unhealthy nor ends a run of failures with a recovery."""
    out_of_fds = tether.classify(OSError(24, "Too many open files"))
    assert out_of_fds.kind is tether.Kind.CONNECT_RESOURCE_EXHAUSTED
    guard, events = make(unhealthy_after=3)
    for i in range(5):
        record(guard, out_of_fds, T0 + i)
    assert guard.health(A).consecutive_failures == 0
    record(guard, REFUSED, T0 + 5)
    record(guard, REFUSED, T0 + 6)
    record(guard, out_of_fds, T0 + 7)
    assert (guard.health(A).consecutive_failures, events.seen) == (2, [])
    record(guard, REFUSED, T0 + 8)
    assert [event for event, _ in events.seen] == ["unhealthy"]
    record(guard, out_of_fds, T0 + 9)
    assert not guard.health(A).healthy
    assert [event for event, _ in events.seen] == ["unhealthy"]
