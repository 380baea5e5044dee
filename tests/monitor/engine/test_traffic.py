"""Traffic monitors' pure core (``tether.monitor.engine._traffic``): the window, the two rules,
the verdict's words and the latency buckets, with the time given by the test."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor.engine._traffic import (
    LATENCY_BOUNDS_MS,
    Thresholds,
    Traffic,
    TrafficCall,
    latency_bucket,
    percentile,
)

T0 = 1_800_000_000.0
EP = "payments.internal:443"


def ok(at: float, ms: float = 10.0) -> TrafficCall:
    return TrafficCall(at, EP, None, ms)


def bad(at: float, kind: str = "tls.expired", ms: float = 10.0) -> TrafficCall:
    return TrafficCall(at, EP, kind, ms)


def test_retried_calls_are_counted_in_the_window_and_leave_it_with_their_second() -> None:
    """Calls that took more than one attempt are counted (calls and retries), said in the
    verdict's words, and leave the window with the second they came in."""
    t = Traffic("checkout", EP, Thresholds(consecutive=3, window=60))
    t.add([TrafficCall(T0, EP, None, 5.0, 3), TrafficCall(T0 + 30, EP, None, 5.0, 1)], T0 + 30)
    t.add(
        [TrafficCall(T0 + 31, EP, "read.timeout", 5.0, 2), TrafficCall(T0 + 31, EP, None, 5.0, 0)],
        T0 + 31,
    )
    view = t.view(T0 + 31)
    assert (view.calls, view.retried, view.retries, view.retried_share) == (4, 2, 3, 0.5)
    v = t.verdict(T0 + 31)
    assert v.ok is True
    assert v.detail.endswith("(read.timeout 1); 50% needed a retry")
    assert view.per_minute == 4.0  # the first call 31 s ago: over a minute at least
    later = t.view(T0 + 61)  # the first second has left the window
    assert later.per_minute == 3.0  # covered: the whole window now
    assert (later.calls, later.retried, later.retries) == (3, 1, 1)
    assert (
        t.verdict(T0 + 92).detail == "no calls of checkout to payments.internal:443 in the last 1m"
    )
    assert (t.view(T0 + 92).retried, t.view(T0 + 92).retries) == (0, 0)


def test_three_failures_in_a_row_are_down_and_one_success_brings_it_back() -> None:
    """The tutorials' rule: down after 3 consecutive failures, up at the next success."""
    t = Traffic("checkout", EP, Thresholds(consecutive=3))
    t.add([ok(T0), bad(T0 + 1), bad(T0 + 2)], T0 + 2)
    assert t.verdict(T0 + 2).ok is None  # two in a row: no news, the state stays
    t.add([bad(T0 + 3, "connect.refused")], T0 + 3)
    v = t.verdict(T0 + 3)
    assert (v.ok, v.kind) == (False, "connect.refused")
    assert v.detail.startswith(
        "the last 3 of checkout's calls to payments.internal:443 failed in a row (connect.refused)"
    )
    t.add([ok(T0 + 4)], T0 + 4)
    assert t.verdict(T0 + 4).ok is True


def test_the_applications_own_breaker_is_never_the_kind_while_a_network_failure_is() -> None:
    """Issue 24: the window held connect.refused 146 and circuit.open 142, and the
    monitor went down as circuit.open, in an incident of its own.  The kind is the
    commonest failure that reached the network; the breaker's refusals are counted beside
    it, in the window's kinds and in the words an incident joins on."""
    t = Traffic("checkout", EP, Thresholds(consecutive=0, failure_ratio=0.5, min_calls=10))
    calls = [bad(T0 + i % 50, "connect.refused") for i in range(146)]
    calls += [bad(T0 + 50 + i % 50, "circuit.open") for i in range(142)]
    calls += [ok(T0 + 100)]
    t.add(calls, T0 + 101)
    v = t.verdict(T0 + 101)
    assert (v.ok, v.kind) == (False, "connect.refused")
    assert "connect.refused 146, circuit.open 142" in v.detail
    assert v.words is not None
    assert v.words.endswith(
        "fail with connect.refused (142 more refused by its own circuit breaker)"
    )
    # By the run too: breaker refusals after the real failures do not change its kind.
    run = Traffic("checkout", EP, Thresholds(consecutive=3))
    run.add([bad(T0, "connect.refused"), bad(T0 + 1, "circuit.open")], T0 + 1)
    run.add([bad(T0 + 2, "circuit.open")], T0 + 2)
    assert (run.verdict(T0 + 2).ok, run.verdict(T0 + 2).kind) == (False, "connect.refused")
    # Only the breaker in the window: then it is the kind (nothing else was seen).
    alone = Traffic("checkout", EP, Thresholds(consecutive=3))
    alone.add([bad(T0 + i, "circuit.open") for i in range(3)], T0 + 3)
    assert alone.verdict(T0 + 3).kind == "circuit.open"


def test_a_batch_counts_in_the_order_of_its_calls_times() -> None:
    """A batch's calls count in ``at`` order: a success stamped last ends the run."""
    t = Traffic("checkout", EP, Thresholds(consecutive=3))
    t.add([ok(T0 + 5), bad(T0 + 1), bad(T0 + 2), bad(T0 + 3)], T0 + 6)
    assert t.verdict(T0 + 6).ok is True
    assert t.run == 0


def test_failure_ratio_over_the_window_in_plain_words() -> None:
    """37% of 412 calls failing, with min_calls met, is down, worded as the issue words it."""
    t = Traffic("checkout", "*", Thresholds(consecutive=0, failure_ratio=0.25, min_calls=10))
    calls = [bad(T0 + i % 200, "tls.expired") for i in range(150)]
    calls += [bad(T0 + i, "connect.refused") for i in range(2)]
    calls += [ok(T0 + i % 250) for i in range(260)]
    t.add(calls, T0 + 260)
    v = t.verdict(T0 + 260)
    assert v.ok is False
    assert v.kind == "tls.expired"
    assert v.detail == (
        "37% of checkout's 412 calls in the last 5m failed (tls.expired 150, connect.refused 2)"
    )
    assert v.words == "37% of checkout's calls fail with tls.expired"


def test_too_few_calls_for_the_ratio_decide_nothing_by_it() -> None:
    """Under min_calls the ratio rule does not hold, however many of them failed."""
    t = Traffic("checkout", EP, Thresholds(consecutive=0, failure_ratio=0.25, min_calls=10))
    t.add([bad(T0 + i) for i in range(9)], T0 + 9)
    assert t.verdict(T0 + 9).ok is True  # consecutive off: neither rule holds
    t.add([bad(T0 + 10)], T0 + 10)
    assert t.verdict(T0 + 10).ok is False


def test_failures_age_out_of_the_window() -> None:
    """Failed calls leave the window after it: the ratio falls and the monitor is up again."""
    t = Traffic("checkout", EP, Thresholds(consecutive=0, failure_ratio=0.5, window=60))
    t.add([bad(T0 + i) for i in range(20)], T0 + 20)
    assert t.verdict(T0 + 20).ok is False
    t.add([ok(T0 + 70 + i) for i in range(10)], T0 + 80)
    v = t.verdict(T0 + 80)  # the failures of T0..T0+19 are past the 60 s window
    assert (v.ok, t.view(T0 + 80).calls) == (True, 10)


def test_no_calls_is_no_verdict() -> None:
    """An empty window says nothing: a monitor down by its run of failures stays down."""
    t = Traffic("checkout", EP, Thresholds(consecutive=3, window=60))
    t.add([bad(T0 + i) for i in range(3)], T0 + 3)
    assert t.verdict(T0 + 3).ok is False
    later = t.verdict(T0 + 3600)
    assert later.ok is False
    assert "failed in a row" in later.detail
    fresh = Traffic("checkout", EP, Thresholds())
    v = fresh.verdict(T0)
    assert (v.ok, v.detail) == (
        None,
        "no calls of checkout to payments.internal:443 in the last 5m",
    )


def test_old_calls_are_left_out_and_future_ones_count_now() -> None:
    """A call older than the window when it arrives is left out; one stamped ahead counts now."""
    t = Traffic("checkout", EP, Thresholds(window=60))
    assert t.add([bad(T0 - 120), bad(T0 - 61)], T0) == 0
    assert t.run == 0
    assert not t.seen
    assert t.add([ok(T0 + 3600)], T0) == 1
    assert t.view(T0 + 59).calls == 1
    assert t.view(T0 + 61).calls == 0


def test_latency_percentiles_from_log_buckets() -> None:
    """p50/p90/p99 come within one bucket (19%) above the true value."""
    t = Traffic("checkout", EP, Thresholds())
    t.add([ok(T0, ms=float(ms)) for ms in range(1, 1001)], T0)
    view = t.view(T0)
    for q, true in ((0.5, 500), (0.9, 900), (0.99, 990)):
        got = view.p(q)
        assert got is not None
        assert true <= got < true * 2 ** (1 / 4) * 1.0001, (q, got)


@given(st.floats(min_value=0.0, max_value=1e7, allow_nan=False))
def test_a_latency_falls_under_its_buckets_bound(ms: float) -> None:
    """Every latency is at most its bucket's bound, and above the one below (or past the last)."""
    i = latency_bucket(ms)
    if i < len(LATENCY_BOUNDS_MS):
        assert ms <= LATENCY_BOUNDS_MS[i] * (1 + 1e-9)
    if i > 0:
        assert ms > LATENCY_BOUNDS_MS[i - 1] * (1 - 1e-9)


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=900),
            st.booleans(),
            st.floats(min_value=0, max_value=1e5),
        ),
        max_size=200,
    ),
    st.floats(min_value=0, max_value=1200),
)
def test_the_window_matches_a_recount(calls: list[tuple[float, bool, float]], late: float) -> None:
    """The running totals after any feed and expiry equal a recount of the calls in the window."""
    t = Traffic("a", EP, Thresholds(window=300))
    now = T0 + 900
    fed = [
        TrafficCall(T0 + at, EP, "connect.refused" if failed else None, ms)
        for at, failed, ms in calls
    ]
    t.add(fed, now)
    at = now + late
    view = t.view(at)
    inside = [
        c
        for c in fed
        if math.floor(c.at) > math.floor(now - 300) and math.floor(c.at) > math.floor(at - 300)
    ]
    assert view.calls == len(inside)
    assert view.failed == sum(c.kind is not None for c in inside)
    assert sum(view.latency.values()) == len(inside)
    assert percentile({}, 0.5) is None
