"""The monitor's schedule: spread first runs, no drift, no bursts, quick re-probes.

Pure: times are numbers.  The async runner is driven by a fake clock whose
sleep advances it, so nothing waits for real.
"""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor import parse_config
from tether.monitor.checks._prober import Prober
from tether.monitor.checks._schedule import Schedule, run_schedule
from tether.probe import ProbeOptions, ProbeResult


def test_first_runs_are_spread_over_the_interval() -> None:
    """1,000 monitors added at once get first runs spread across their interval."""
    values = itertools.cycle(i / 1000 for i in range(1000))
    s = Schedule(rand=lambda: next(values))
    firsts = [s.add(f"m{i}", 60.0, now=0.0) for i in range(1000)]
    assert min(firsts) == 0.0
    assert max(firsts) == pytest.approx(59.94)
    per_second = [sum(1 for f in firsts if k <= f < k + 1) for k in range(60)]
    assert max(per_second) - min(per_second) <= 1


def test_runs_follow_the_due_time_not_the_finish_time() -> None:
    """Each run is planned one interval after the previous due time, so lag never drifts."""
    s = Schedule(rand=lambda: 0.5)
    s.add("api", 10.0, now=0.0)
    assert s.due(4.9) == []
    assert s.due(5.3) == [("api", 5.0)]  # started 0.3 s late
    assert s.next_due() == 15.0
    assert s.due(15.0) == [("api", 15.0)]


def test_a_monitor_that_fell_behind_does_not_burst() -> None:
    """After a stall of several intervals a monitor runs once, then resumes its rhythm."""
    s = Schedule(rand=lambda: 0.0)
    s.add("api", 10.0, now=0.0)
    assert s.due(0.0) == [("api", 0.0)]
    assert s.due(35.0) == [("api", 10.0)]
    assert s.next_due() == 40.0


def test_a_reprobe_comes_early_then_the_interval_resumes() -> None:
    """A confirmation re-probe runs at the time asked, then the monitor is back on interval."""
    s = Schedule(rand=lambda: 0.0)
    s.add("api", 30.0, now=0.0)
    assert s.due(0.0) == [("api", 0.0)]
    s.reprobe("api", at=2.0)
    assert s.next_due() == 2.0
    assert s.due(2.0) == [("api", 2.0)]
    assert s.next_due() == 32.0


def test_a_reprobe_later_than_the_next_run_is_ignored() -> None:
    """Asking for a re-probe after the next planned run changes nothing."""
    s = Schedule(rand=lambda: 0.0)
    s.add("api", 5.0, now=0.0)
    s.due(0.0)
    s.reprobe("api", at=9.0)
    assert s.next_due() == 5.0


def test_removed_monitors_never_run_again() -> None:
    """remove() drops a monitor and its pending runs."""
    s = Schedule(rand=lambda: 0.0)
    s.add("api", 5.0, now=0.0)
    s.add("db", 5.0, now=0.0)
    s.remove("api")
    assert s.due(100.0) == [("db", 0.0)]
    assert len(s) == 1


def test_a_monitor_planned_again_runs_once_per_interval() -> None:
    """Adding a monitor again (a reload), or removing and re-adding it, replaces its plan:
    the old plan's runs never fire beside the new one."""
    s = Schedule(rand=lambda: 0.0)
    s.add("api", 10.0, now=0.0)
    s.add("api", 20.0, now=1.0)
    s.remove("db")
    s.add("db", 10.0, now=0.0)
    s.remove("db")
    s.add("db", 10.0, now=3.0)
    assert s.due(3.0) == [("api", 1.0), ("db", 3.0)]
    assert s.due(20.9) == [("db", 13.0)]
    assert s.interval("api") == 20.0
    assert s.interval("gone") is None


def test_a_bad_interval_is_refused() -> None:
    """An interval of zero or less is an error naming the monitor."""
    with pytest.raises(ValueError, match="api: interval"):
        Schedule().add("api", 0.0, now=0.0)


class FakeLoopClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)  # probes just started run first, at the current time
        self.now += max(seconds, 0.001)


def test_the_runner_starts_every_due_probe_under_the_concurrency_bound() -> None:
    """Over 100 simulated seconds each 10 s monitor runs 10 times, at most 2 at once."""
    clock = FakeLoopClock()
    s = Schedule(rand=lambda: 0.0)
    for name in ("a", "b", "c"):
        s.add(name, 10.0, now=0.0)
    starts: list[tuple[str, float]] = []
    active = 0
    peak = 0
    stop = asyncio.Event()

    async def probe(name: str, due: float) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        starts.append((name, clock.now - due))
        await asyncio.sleep(0)
        active -= 1
        if clock.now >= 99.0:
            stop.set()

    asyncio.run(run_schedule(s, probe, clock=clock, sleep=clock.sleep, concurrency=2, stop=stop))
    for name in ("a", "b", "c"):
        assert 9 <= sum(1 for n, _ in starts if n == name) <= 11
    assert peak <= 2
    assert max(lag for _, lag in starts) < 1.0, starts


def test_a_run_moved_earlier_wakes_the_runner_from_its_wait() -> None:
    """A monitor due in an hour is moved to now (a resume, "check now") while the runner
    waits: it starts at once, though the wait here never ends by itself; then setting
    stop and wake ends the runner."""
    s = Schedule(rand=lambda: 0.999)
    s.add("a", 3600.0, now=0.0)
    waits: list[float] = []
    started: list[tuple[str, float]] = []

    async def never_ends(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.Event().wait()

    async def main() -> None:
        stop, wake = asyncio.Event(), asyncio.Event()

        async def probe(name: str, due: float) -> None:
            started.append((name, due))
            stop.set()
            wake.set()

        runner = asyncio.ensure_future(
            run_schedule(s, probe, clock=lambda: 0.0, sleep=never_ends, stop=stop, wake=wake)
        )
        while not waits:
            await asyncio.sleep(0)
        assert (waits, started) == ([1.0], [])  # waiting for the idle second
        assert s.reprobe("a", 0.0)
        assert not s.reprobe("a", 5.0)  # not earlier than the run now planned
        wake.set()
        async with asyncio.timeout(5):  # only a failure ever waits this long
            await runner

    asyncio.run(main())
    assert started == [("a", 0.0)]
    assert waits == [1.0, 1.0]  # the second wait, after the start, ended by stop's wake


def test_a_runner_with_nothing_planned_waits_for_its_wake_alone() -> None:
    """With nothing planned the runner asks for no timed wait at all (on main it woke
    every idle second for nothing, and each wake moved a simulated clock on); a monitor
    planned and the wake set start it at once, and stop ends the wait."""
    s = Schedule(rand=lambda: 0.0)
    waits: list[float] = []
    started: list[str] = []

    async def never_ends(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.Event().wait()

    async def main() -> None:
        stop, wake = asyncio.Event(), asyncio.Event()

        async def probe(name: str, due: float) -> None:
            started.append(name)

        runner = asyncio.ensure_future(
            run_schedule(s, probe, clock=lambda: 0.0, sleep=never_ends, stop=stop, wake=wake)
        )
        for _ in range(50):
            await asyncio.sleep(0)
        assert (waits, started) == ([], [])
        s.add("a", 3600.0, now=0.0)
        wake.set()
        while not started:
            await asyncio.sleep(0)
        s.remove("a")
        wake.set()  # the runner waits on its idle second for "a": end it, as assign does
        for _ in range(50):
            await asyncio.sleep(0)
        stop.set()
        async with asyncio.timeout(5):  # only a failure ever waits this long
            await runner

    asyncio.run(main())
    assert started == ["a"]
    assert waits == [1.0]  # "a" planned an hour on: the idle second, ended by the wake


def test_a_prober_with_no_monitors_starts_one_given_to_it_at_once() -> None:
    """A prober run with no monitors (an agent before its first assignment) sleeps on
    nothing; a monitor given by update (or assign) wakes it, and its first run falls as
    planned."""
    clock = FakeLoopClock()
    probed: list[tuple[str, float]] = []

    async def probe(target: str, options: ProbeOptions) -> ProbeResult:
        probed.append((target, clock.now))
        return ProbeResult(target, ())

    prober = Prober(wall=clock, mono=clock, sleep=clock.sleep, rand=lambda: 0.0, probe=probe)
    config = parse_config("monitors:\n  - {name: a, url: 'http://127.0.0.1:9/', interval: 30s}\n")

    async def main() -> None:
        stop = asyncio.Event()
        runner = asyncio.ensure_future(prober.run(stop, lambda check: stop.set(), quantum=0.0))
        for _ in range(50):
            await asyncio.sleep(0)
        assert clock.now == 0.0  # no timed wait asked for, so the fake clock never moved
        prober.update(config.monitors)
        async with asyncio.timeout(5):  # only a failure ever waits this long
            await runner

    asyncio.run(main())
    assert probed == [("http://127.0.0.1:9/", 0.0)]


@settings(max_examples=60, deadline=None)
@given(
    intervals=st.lists(st.floats(0.5, 30.0), min_size=1, max_size=40),
    quantum=st.sampled_from([0.0, 0.05, 0.1, 0.25]),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_quantum_spaces_the_wakes_and_delays_no_run_by_more(
    intervals: list[float], quantum: float, seed: int
) -> None:
    """With a quantum, the runner wakes at most once per quantum, yet every monitor still
    runs once per interval and no run starts more than a quantum after it was due."""
    clock = FakeLoopClock()
    rng = random.Random(seed)
    s = Schedule(rand=rng.random)
    for i, interval in enumerate(intervals):
        s.add(f"m{i}", interval, now=0.0)
    wakes: list[float] = []
    lags: list[float] = []
    runs: dict[str, int] = {}
    stop = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        wakes.append(clock.now)

    async def probe(name: str, due: float) -> None:
        lags.append(clock.now - due)
        runs[name] = runs.get(name, 0) + 1
        if clock.now >= 60.0:
            stop.set()

    asyncio.run(run_schedule(s, probe, clock=clock, sleep=sleep, stop=stop, quantum=quantum))
    gaps = [b - a for a, b in itertools.pairwise(wakes)]
    assert min(gaps) >= min(quantum, 1.0) - 1e-9
    assert max(lags) <= max(quantum, 0.001) + 1e-9
    for i, interval in enumerate(intervals):
        assert abs(runs.get(f"m{i}", 0) - 60.0 / interval) <= 2
