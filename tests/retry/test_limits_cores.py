"""The pure cores of _retry/_limits.py: the throttle's probability against the SRE book's
formula, and the adaptive limits driven by a simulated server on simulated time."""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether._retry._limits import AimdLimit, Gradient2Limit, SlidingWindow, ThrottleWindow

# -- the sliding window ----------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    seconds=st.integers(1, 12),
    steps=st.lists(
        st.tuples(
            st.floats(-3, 4, allow_nan=False),
            st.integers(0, 3),
            st.integers(0, 3),
            st.booleans(),
        ),
        max_size=80,
    ),
    start=st.floats(-5, 5, allow_nan=False),
)
def test_the_sliding_window_sums_what_one_second_buckets_of_a_raw_list_hold(
    seconds: int, steps: list[tuple[float, int, int, bool]], start: float
) -> None:
    """Whatever the moments (forwards, backwards, below zero, on a second's edge), the
    window's sums are those of the same additions kept in a list of [second, a, b]
    buckets, a new bucket whenever int(now) differs from the newest one's, the oldest
    dropped while their second is at most int(now) - seconds: the cheap newest-bucket
    test of issue 46 §5 changes no count."""
    window, model = SlidingWindow(seconds), []
    now = start
    for step, a, b, read in steps:
        now += step
        if read:
            oldest = int(now) - seconds
            while model and model[0][0] <= oldest:
                model.pop(0)
            assert window.sums(now) == (sum(m[1] for m in model), sum(m[2] for m in model))
        else:
            window.add(now, a, b)
            if model and model[-1][0] == int(now):
                model[-1][1] += a
                model[-1][2] += b
            else:
                model.append([int(now), a, b])


# -- client-side throttling -------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    k=st.floats(1, 4),
    window=st.integers(1, 30),
    events=st.lists(st.tuples(st.floats(0, 5), st.booleans()), max_size=60),
)
def test_the_throttle_is_the_sre_books_formula_over_its_window(
    k: float, window: int, events: list[tuple[float, bool]]
) -> None:
    """After any schedule of requests, accepted or not, the probability is
    max(0, (requests - k * accepts) / (requests + 1)) over the requests of the last
    ``window`` whole seconds, computed here from the raw list."""
    throttle = ThrottleWindow(k, window)
    now, seen = 0.0, []
    for step, accepted in events:
        now += step
        throttle.record(now, accepted=accepted)
        seen.append((now, accepted))
        recent = [ok for t, ok in seen if int(t) > int(now) - window]
        requests, accepts = len(recent), sum(recent)
        assert throttle.counts(now) == (requests, accepts)
        expected = max(0.0, (requests - k * accepts) / (requests + 1))
        assert throttle.probability(now) == expected
        assert 0 <= expected < 1


def test_the_throttle_is_off_while_the_backend_accepts_one_in_k() -> None:
    """k=2: a backend that accepts half the requests sees every one; below half, the
    client starts to drop its own, and after the window it forgets."""
    throttle = ThrottleWindow(2, 10)
    for n in range(10):
        throttle.record(0.5, accepted=n % 2 == 0)
    assert throttle.probability(0.5) == 0
    for _ in range(10):
        throttle.record(1.5, accepted=False)
    assert throttle.probability(1.5) == (20 - 2 * 5) / 21
    assert throttle.probability(12.0) == 0


# -- a simulated server -------------------------------------------------------------------


@dataclass
class Phase:
    workers: int
    service: float
    seconds: float


def simulate(
    limit: AimdLimit | Gradient2Limit,
    phases: Sequence[Phase],
    *,
    clients: int = 64,
    timeout: float | None = None,
    seed: int = 7,
) -> list[tuple[float, int, float]]:
    """``clients`` callers, each sending its next request as soon as the last returns,
    through ``limit`` (a caller waits while the limit is reached) to a server of
    ``workers`` workers taking ``service`` seconds (within 20%) each, behind an unbounded
    first-come queue.  A request answered after ``timeout`` counts as dropped.  Returns
    (time, limit, latency) per answer, on simulated time."""
    rng = random.Random(seed)
    now, order, events = 0.0, 0, []
    busy, in_flight, idle_clients = 0, 0, clients
    queue: list[float] = []
    phase, phase_ends = 0, phases[0].seconds
    trace: list[tuple[float, int, float]] = []

    def serve(sent: float) -> None:
        nonlocal order
        order += 1
        service = phases[phase].service * rng.uniform(0.8, 1.2)
        heapq.heappush(events, (now + service, order, sent))

    def send_more() -> None:
        nonlocal idle_clients, in_flight, busy
        while idle_clients and in_flight < limit.limit:
            idle_clients -= 1
            in_flight += 1
            if busy < phases[phase].workers:
                busy += 1
                serve(now)
            else:
                queue.append(now)

    send_more()
    end = sum(p.seconds for p in phases)
    while events:
        now, _, sent = heapq.heappop(events)
        if now > end:
            break
        if now > phase_ends:
            phase += 1
            phase_ends += phases[phase].seconds
        busy -= 1
        while queue and busy < phases[phase].workers:
            busy += 1
            serve(queue.pop(0))
        latency = now - sent
        dropped = timeout is not None and latency > timeout
        limit.update(latency, in_flight, dropped=dropped)
        in_flight -= 1
        idle_clients += 1
        trace.append((now, limit.limit, latency))
        send_more()
    return trace


def mean_over(
    trace: list[tuple[float, int, float]], start: float, end: float
) -> tuple[float, float]:
    """Mean limit and mean latency of the answers between ``start`` and ``end``."""
    window = [(lim, lat) for t, lim, lat in trace if start <= t < end]
    return (
        sum(lim for lim, _ in window) / len(window),
        sum(lat for _, lat in window) / len(window),
    )


def test_gradient2_settles_where_latency_stays_low_and_falls_when_the_server_slows() -> None:
    """64 eager callers, a server of 8 workers of 10 ms (capacity 8 in flight): the limit
    settles between 8 and 16, where latency stays within 1.6 times the no-load latency
    (with no limit it would be 8 times); when half the workers go, it falls to between 4
    and 8 and latency returns under 1.6 times."""
    for seed in (1, 2, 3):
        trace = simulate(
            Gradient2Limit(20),
            [Phase(8, 0.010, 20.0), Phase(4, 0.010, 20.0)],
            seed=seed,
        )
        limit, latency = mean_over(trace, 10.0, 20.0)
        assert 8 <= limit <= 16, (seed, limit)
        assert latency < 0.016, (seed, latency)
        slowed, slow_latency = mean_over(trace, 30.0, 40.0)
        assert 4 <= slowed <= 8, (seed, slowed)
        assert slowed < limit - 2
        assert slow_latency < 0.016, (seed, slow_latency)


def test_gradient2_starting_high_comes_down_to_the_same_place() -> None:
    """Started at 64 (all callers in flight, latency 8 times its no-load value), the limit
    comes down to the same range within a few seconds of simulated time."""
    trace = simulate(Gradient2Limit(64), [Phase(8, 0.010, 10.0)])
    limit, latency = mean_over(trace, 5.0, 10.0)
    assert 8 <= limit <= 16
    assert latency < 0.016


def test_gradient2_halves_on_drops_and_holds_while_the_client_is_the_bottleneck() -> None:
    """A drop counts as a gradient of 0.5 (smoothed: the limit falls by a tenth); with
    fewer than half the limit in flight nothing changes; at a gradient of 1 it grows by
    the smoothed headroom."""
    g = Gradient2Limit(20)
    assert g.update(0.010, 20) == 20  # the first sample is its own no-load latency: grows
    assert g._limit == 20.8
    before = g._limit
    g.update(0.010, 20, dropped=True)
    assert g._limit == pytest.approx(before * 0.9)
    held = g._limit
    g.update(0.100, 5)  # 5 < limit / 2: the client is the bottleneck
    assert g._limit == held
    assert g.no_load == 0.010


def test_gradient2_forgets_a_no_load_latency_older_than_its_window() -> None:
    """An endpoint that has really become slower: once ``long_window`` samples have passed,
    its old minimum is gone and the limit grows back."""
    g = Gradient2Limit(20, long_window=50)
    g.update(0.010, 20)
    for _ in range(49):
        g.update(0.040, 20)
    low = g.limit
    assert low < 20
    for _ in range(200):
        g.update(0.040, 20)
    assert g.no_load == 0.040
    assert g.limit > low


def test_aimd_cuts_on_timeouts_and_keeps_latency_near_them() -> None:
    """AIMD against the same server with a 40 ms timeout (reached with 32 in flight): the
    limit saw-tooths below that, and mean latency stays near the timeout, half of what
    64 callers with no limit get.  (Netflix's AIMD cuts once per dropped sample, so a
    backlog of late answers cuts it deep before it climbs again by one per answer.)"""
    trace = simulate(AimdLimit(20), [Phase(8, 0.010, 20.0)], timeout=0.040)
    limit, latency = mean_over(trace, 10.0, 20.0)
    assert limit < 32
    assert latency < 0.045
    unlimited = simulate(AimdLimit(64, max_limit=64, min_limit=64), [Phase(8, 0.010, 20.0)])
    assert mean_over(unlimited, 10.0, 20.0)[1] > 1.7 * latency


def test_aimd_steps() -> None:
    """Netflix's AIMD: one more while at least half the limit is in use, none while the
    client is the bottleneck, ``backoff`` of itself on a drop, within min and max."""
    a = AimdLimit(10, min_limit=2, max_limit=12, backoff=0.5)
    assert a.update(0.01, 5, dropped=False) == 11
    assert a.update(0.01, 4, dropped=False) == 11
    assert a.update(0.01, 11, dropped=False) == 12
    assert a.update(0.01, 12, dropped=False) == 12
    assert a.update(0.01, 12, dropped=True) == 6
    assert a.update(0.01, 12, dropped=True) == 3
    assert a.update(0.01, 12, dropped=True) == 2
