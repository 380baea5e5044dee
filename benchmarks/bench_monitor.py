"""How many monitors tether keeps on time, how fast it sees an outage, and how big its history is.

Run: python benchmarks/bench_monitor.py [--quick] [--write benchmarks/history/bench_monitor.md]
     [--only scale|detection|storage] [--interval 6] [--sizes 10000,20000,...] [--rounds 5]
     [--no-confirm] [--storage-monitors 50]

The full run takes about 9 minutes on this project's 2-core machine; ``--quick``
(a smoke test of every section, with sizes too small to mean anything) about 20 s.

Everything runs on loopback.  The HTTP targets are small asyncio servers in
child processes (``benchmarks/_targets.py``), so the monitor's event loop measures only
itself; each answers ``200 OK`` with ``Connection: close`` on many 127.x.y.z
addresses, and a line on its stdin takes one address down (refusing) or brings
it back.  Monitor configurations are built in Python with
``MonitorConfig.model_validate`` (the schema ``tether.yaml`` goes through;
loading 60,000 monitors from YAML takes about 15 s, which is start-up, not
what is measured here).

1. Scale.  The real :class:`~tether.monitor.runtime._runner.Runner` (probe, the
   condition ``[STATUS] == 200``, detection, the SQLite store; no alert
   channel), on real time, on the event loop ``tether monitor`` runs on
   (uvloop's where it is installed, else asyncio's).  Its ``check`` is
   wrapped to note when each check starts: the *start lag* is that moment
   minus the moment the schedule had it due.  Time is scaled: N monitors at
   60 s run as N x s / 60 monitors at an interval of s seconds
   (``--interval``, 6 s by default), the same probes per second, so that a
   step takes one interval (the first runs, spread over it) plus a measured
   window instead of minutes.  Scaling runs fewer
   monitors, so costs that grow with the number of monitors are paid less;
   the last step runs the largest size that held at 60 s, unscaled.  The ramp
   goes up until a step misses (p99 start lag of 1 s or more, a failed check,
   or fewer than 95% of the checks due started), then halves the gap twice.
   Steps are *warm*: each monitor's detector state is up already, as after a
   restart with saved state.  One *cold* step shows a first start, where every
   monitor's first check changes its state (unknown to up), and the runner
   saves the whole detector each time; what one such save costs at 6,000 and
   60,000 monitors is measured in-process.
   Throughput, in interleaved rounds (each round's peers in a fresh random
   order; a ratio is the median over rounds of that round's ratio to the bare
   loop's rate on the same event loop): a bare aiohttp loop
   (``TCPConnector(force_close=True)``: a new connection per GET), tether's
   probe engine alone (``probe_async``) and ``Runner.check`` (the whole
   pipeline, without the schedule), all driven by the same 256 loops (256: the
   runner's bound on probes in flight), each on asyncio's event loop and on
   uvloop's when installed; ``Runner.check`` again with a store that keeps
   nothing (the difference is what SQLite costs); and ``Runner.run`` with its
   schedule oversubscribed, these two on tether monitor's loop.  Targets (issue
   13), on tether monitor's loop, per process: the probe engine alone at least
   0.85 of bare aiohttp's rate, the whole pipeline at least 0.65.  Then where
   the time goes: one block of ``Runner.check`` on asyncio's loop under
   cProfile, split by component; the event-loop work (tasks, timers,
   callbacks) per GET of each client on asyncio's loop; the CPU of the store's
   writer thread (``/proc``); and the garbage collector's pauses in each step
   of the ramp.
2. Detection.  The defaults (3 failures to go down, 2 passes to come back, a
   confirmation re-probe 1 s after a failure, the outbox delivering every
   second), a 30 s interval, real time, a webhook channel to a receiver in
   this process.  Eight targets, each on its own address among healthy decoys
   (so that no correlation across hosts is set off), start refusing at random
   moments of their monitors' intervals, and come back once their alert has
   arrived.  Measured: from the moment the address refuses, and from the first
   failed check, to the incident in the store and to the webhook.  The
   tutorials' loop (3 consecutive failures at the same interval, no re-probe)
   is computed from the same down moments: its first failed check is
   tether's, then two more intervals.  The wait for the first failed check (0
   to 30 s) is every poller's; the 5 s target is judged on what follows it,
   from the first failed check to the webhook.
3. Storage.  The :class:`~tether.monitor.store.SQLiteStore` driven directly on
   a simulated clock: M monitors (``--storage-monitors``, 50 by default), one
   result a minute each, for 7 days, shaped as the runner writes them, pruned
   every simulated hour with the default retention (raw 7 days, roll-ups a
   year), then checkpointed and VACUUMed; the tables that grow are multiplied
   by 1,000 / M (they grow per monitor).  Peers, from the same results in the
   same run: the same results table without roll-ups, and Uptime Kuma's
   one-row-per-heartbeat table with its four indexes (``db/knex_init_db.js``).
   Target: no more bytes per probe than Uptime Kuma's table.  A year at the
   same load is projected from the measured bytes per row.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import http.server
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import math
import os
import pstats
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from _report import (  # benchmarks/ is the script's own directory
    Section,
    commit,
    met,
    table,
    write_part,
)
from _targets import Targets, proc_cpu, target_servers

LAG_TARGET = 1.0
MONITORS_TARGET = 60_000
ENGINE_TARGET = 0.85
"""The probe engine alone, as a share of bare aiohttp's fresh-connection GETs (issue 13)."""
PIPELINE_TARGET = 0.65
"""The whole pipeline (Runner.check), as a share of the same."""
DETECT_TARGET = 5.0
CONCURRENCY = 256
"""The runner's bound on probes in flight (``run_schedule``'s default)."""
REAL_INTERVAL = 60.0
SATURATED_INTERVAL = 2.0
DETECT_INTERVAL = 30.0
NAIVE_THRESHOLD = 3

# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

T = TypeVar("T")


def event_loops() -> dict[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """The event loops measured, by name: asyncio's, and uvloop's where it is installed,
    which is then the one ``tether monitor`` runs on (``tether.monitor.runtime._loop``)."""
    from tether.monitor.runtime._loop import loop_factory

    factory = loop_factory()
    return {"asyncio": None} if factory is None else {"asyncio": None, "uvloop": factory}


LOOPS = event_loops()
MONITOR_LOOP = list(LOOPS)[-1]
"""The loop ``tether monitor`` runs on here: uvloop's when installed."""


def run_on(loop: str, main: Awaitable[T]) -> T:
    """``asyncio.run(main)`` on the event loop called ``loop``."""

    async def wrapped() -> T:
        return await main

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        return runner.run(wrapped())


def _times(ratio: float, places: int = 2) -> str:
    """A ratio to ``places`` places, or why there is none (the peer it divides by completed
    nothing in its window)."""
    return "n/a (bare aiohttp completed no GET)" if math.isnan(ratio) else f"{ratio:.{places}f}"


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def monitors_config(urls: list[str], count: int, interval: float) -> Any:
    """``count`` HTTP monitors on ``urls`` (round robin), built as ``tether.yaml`` would be,
    with parse_config's default timeout (10 s, or 80% of a shorter interval)."""
    from tether.monitor.config import MonitorConfig, default_timeout

    timeout = default_timeout(interval)
    data: dict[str, Any] = {
        "monitors": [
            {
                "name": f"m{i:06d}",
                "url": f"http://{urls[i % len(urls)]}/health",
                "interval": f"{interval * 1000:.0f}ms",
                "timeout": f"{timeout * 1000:.0f}ms",
                "conditions": ["[STATUS] == 200"],
                "locations": everywhere(),
            }
            for i in range(count)
        ],
    }
    return MonitorConfig.model_validate(data)


def everywhere() -> list[str]:
    """The file's locations, each monitor's once loaded (parse_config fills them in; these
    configurations skip it): the one default location, as a file without any has."""
    from tether.monitor.config import MonitorConfig

    return list(MonitorConfig.model_fields["locations"].default)


def make_runner(config: Any, store: Any, *, warm: bool) -> Any:
    """The real runner, its ``check`` wrapped to note when each check started, its start
    lag and its outcome.  ``warm``: every monitor's detector state is already up (one
    passing check), as a runner restarted with its saved state finds it."""
    from tether.monitor import Runner
    from tether.monitor.alerts import Outbox
    from tether.monitor.checks._prober import Check
    from tether.monitor.engine._detect import Observation

    class TimedRunner(Runner):
        """Notes when each check starts and ends: its prober's ``check`` is wrapped, since
        ``Runner.run`` takes its checks from the prober, not from ``Runner.check``."""

        starts: list[tuple[float, float]]
        ends: list[tuple[float, bool]]
        failed: list[str]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            inner = self.prober.check

            async def timed(name: str, due: float) -> Check:
                start = self.mono()
                self.starts.append((start, start - due))
                found = await inner(name, due)
                record = found.record
                self.ends.append((self.mono(), record.ok))
                if not record.ok:
                    self.failed.append(f"{name}: {record.kind} {record.detail}")
                return found

            self.prober.check = timed  # type: ignore[method-assign]

    runner = TimedRunner(config, store, Outbox(store, {}))
    runner.starts, runner.ends, runner.failed = [], [], []
    if warm:
        now = time.time()
        for m in config.monitors:
            runner.detector.observe(Observation(m.name, True, now, 1.0), now)
    return runner


def _writer_cpu(store: Any) -> float:
    """CPU seconds of the store's writer thread (Linux ``/proc``; 0 elsewhere)."""
    thread = getattr(store, "_thread", None)
    if thread is None or thread.native_id is None:
        return 0.0
    return proc_cpu(f"/proc/self/task/{thread.native_id}/stat")


class Usage:
    """CPU used from now on by this process, by its store's writer thread and by the
    target servers, as shares of one core."""

    def __init__(self, store: Any, targets: list[Targets]) -> None:
        self.store, self.targets = store, targets
        self.start = self.sample()

    def sample(self) -> tuple[float, float, float, float]:
        targets = sum(t.cpu() for t in self.targets)
        return time.perf_counter(), time.process_time(), _writer_cpu(self.store), targets

    def shares(self) -> tuple[float, float, float]:
        """(process, writer thread, targets) since this was made."""
        now = self.sample()
        wall = now[0] - self.start[0]
        process, writer, targets = ((now[i] - self.start[i]) / wall for i in (1, 2, 3))
        return process, writer, targets


async def _cancel(run: asyncio.Future[None]) -> None:
    """End a ``Runner.run`` once its measure is taken.  Cancelled, not stopped: a stopped
    run first starts every check already due (thousands when saturated) and waits out its
    outbox round (up to 1 s).  ``asyncio.run`` then cancels the checks in flight."""
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run


@contextlib.contextmanager
def gc_pauses() -> Iterator[list[float]]:
    """The duration of every garbage collection in the block, in seconds."""
    pauses: list[float] = []
    started = [0.0]

    def note(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started[0])

    gc.callbacks.append(note)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(note)


def _backlog(store: Any) -> int:
    """Results queued for the store's writer and not yet committed."""
    pending = getattr(store, "_queue", None)
    return pending.qsize() if pending is not None else 0


# ---------------------------------------------------------------------------------------------
# 1. Scale
# ---------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One step of the ramp."""

    equivalent: int
    monitors: int
    interval: float
    offered: float
    warm: bool
    rate: float = 0.0
    p50: float = float("nan")
    p99: float = float("nan")
    worst: float = float("nan")
    first_p99: float = float("nan")
    failed: int = 0
    example: str = ""
    cpu: float = 0.0
    writer_cpu: float = 0.0
    targets_cpu: float = 0.0
    backlog: int = 0
    gc_share: float = 0.0
    gc_longest: float = 0.0

    @property
    def held(self) -> bool:
        return self.p99 < LAG_TARGET and self.failed == 0 and self.rate >= 0.95 * self.offered


def run_step(
    urls: list[str],
    targets: list[Targets],
    equivalent: int,
    interval: float,
    window: float,
    *,
    warm: bool = True,
) -> Step:
    """The runner with ``equivalent`` monitors' worth of probes per second, on real time."""
    from tether.monitor.store import SQLiteStore

    count = max(1, round(equivalent * interval / REAL_INTERVAL))
    step = Step(equivalent, count, interval, count / interval, warm)
    config = monitors_config(urls, count, interval)
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "scale.db") as store:
        runner = make_runner(config, store, warm=warm)
        gc.collect()

        async def main() -> float:
            began = runner.mono()
            usage = Usage(store, targets)
            task = asyncio.ensure_future(runner.run(asyncio.Event(), freeze_gc=True))
            await asyncio.sleep(interval + window)
            step.cpu, step.writer_cpu, step.targets_cpu = usage.shares()
            step.backlog = _backlog(store)
            await _cancel(task)
            return began

        with gc_pauses() as pauses:
            began = run_on(MONITOR_LOOP, main())
        step.gc_share = sum(pauses) / (interval + window)
        step.gc_longest = max(pauses, default=0.0)
    lo, hi = began + interval, began + interval + window
    lags = [lag for start, lag in runner.starts if lo <= start < hi]
    first = [lag for start, lag in runner.starts if start < lo]
    step.rate = len(lags) / window
    step.p50, step.p99 = quantile(lags, 0.5), quantile(lags, 0.99)
    step.worst = max(lags, default=float("nan"))
    step.first_p99 = quantile(first, 0.99)
    step.failed = len(runner.failed)
    step.example = runner.failed[0] if runner.failed else ""
    print(f"  scale: {describe(step)}", flush=True)
    return step


def describe(step: Step) -> str:
    return (
        f"{step.equivalent:,} monitors at 60 s ({step.monitors:,} at {step.interval:g} s, "
        f"{'warm' if step.warm else 'cold'}): {step.rate:,.0f}/s of {step.offered:,.0f}/s, "
        f"lag p50 {1000 * step.p50:.0f} ms p99 {1000 * step.p99:.0f} ms, {step.failed} failed"
    )


def ramp(
    urls: list[str], targets: list[Targets], sizes: list[int], interval: float, window: float
) -> tuple[list[Step], int]:
    """Up the sizes until one misses, then halve the gap (twice); the largest that held."""
    steps: list[Step] = []
    best, worst = 0, 0
    for size in sizes:
        steps.append(run_step(urls, targets, size, interval, window))
        if not steps[-1].held:
            worst = size
            break
        best = size
    for _ in range(2 if worst else 0):
        size = (best + worst) // 2
        if worst - best < max(2000, best // 10):
            break
        steps.append(run_step(urls, targets, size, interval, window))
        best, worst = (size, worst) if steps[-1].held else (best, size)
    return steps, best


# -- throughput peers ---------------------------------------------------------------------------


@dataclass
class Peer:
    name: str
    loop: str
    """The event loop it runs on (bare aiohttp runs on each, so ratios compare like with like)."""
    run: Callable[[float], tuple[float, int]]
    """Run for about this many seconds; return the GETs or checks per second that
    succeeded, and how many failed."""
    rates: list[float] = field(default_factory=list)
    failed: int = 0
    closing: Callable[[], object] = lambda: None


def _per_second(ends: list[tuple[float, bool]], start: float, stop: float) -> tuple[float, int]:
    """Successes per second between ``start`` and ``stop``, and failures at any time."""
    ok = sum(start <= t < stop and good for t, good in ends)
    return ok / (stop - start), sum(not good for _, good in ends)


async def _workers(
    call: Callable[[str], Awaitable[bool]], items: list[str], seconds: float
) -> tuple[float, int]:
    """``CONCURRENCY`` loops calling ``call(item)`` over ``items`` for ``seconds``; the rate
    of calls that succeeded after a short warm-up, and how many failed."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    end = begin + seconds
    ends: list[tuple[float, bool]] = []
    cycle = itertools.cycle(items)

    async def worker() -> None:
        while loop.time() < end:
            try:
                ok = await call(next(cycle))
            except Exception:  # a failed GET is counted, as the monitor counts a failed check
                ok = False
            ends.append((loop.time(), ok))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    COMPLETED.append(len(ends))
    return _per_second(ends, begin + min(0.5, seconds / 4), end)


COMPLETED: list[int] = []
"""Calls completed by each run of :func:`_workers` (for per-call counts)."""


def loop_work(run: Callable[[float], tuple[float, int]], seconds: float) -> tuple[float, ...]:
    """Event-loop work per completed call of a peer run by :func:`_workers`, counted under
    cProfile: tasks created (besides the 256 loops), timers scheduled, callbacks run."""
    profile = cProfile.Profile()
    profile.enable()
    run(seconds)
    profile.disable()
    calls = COMPLETED[-1] or 1
    raw: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]

    def count(file: str, function: str) -> int:
        return sum(v[1] for k, v in raw.items() if k[0].endswith(file) and k[2] == function)

    tasks = count("base_events.py", "create_task") - CONCURRENCY
    return (
        max(0, tasks) / calls,
        count("base_events.py", "call_at") / calls,
        count("events.py", "_run") / calls,
    )


def bare_aiohttp(urls: list[str], loop: str) -> Callable[[float], tuple[float, int]]:
    import aiohttp

    async def block(seconds: float) -> tuple[float, int]:
        connector = aiohttp.TCPConnector(force_close=True, limit=CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def get(url: str) -> bool:
                async with session.get(url) as r:
                    await r.read()
                    return r.status == 200

            return await _workers(get, [f"http://{u}/health" for u in urls], seconds)

    return lambda seconds: run_on(loop, block(seconds))


def probe_only(urls: list[str], loop: str) -> Callable[[float], tuple[float, int]]:
    from tether.monitor.checks._judge import probe_options
    from tether.probe import probe_async

    options = probe_options(monitors_config(urls, 1, 6.0).monitors[0])  # what the runner passes

    async def get(url: str) -> bool:
        return (await probe_async(url, options)).failure is None

    async def block(seconds: float) -> tuple[float, int]:
        return await _workers(get, [f"http://{u}/health" for u in urls], seconds)

    return lambda seconds: run_on(loop, block(seconds))


class NullStore:
    """Keeps nothing: beside the real store, it shows what storing costs a check."""

    def record(self, record: Any) -> None:
        pass

    def save_state(self, monitor: str, data: dict[str, Any]) -> None:
        pass

    def record_state(self, monitor: str, at: float, state: Any) -> None:
        pass

    def new_incident_id(self) -> int:
        return 0

    def load_state(self, keys: Any = None) -> dict[str, Any]:
        return {}

    def incidents(self, **_: Any) -> list[Any]:
        return []

    def incident_tellings(self, since: float) -> dict[tuple[int, str], float]:
        return {}

    def controls(self, now: float) -> Any:
        from tether.monitor._records import Controls

        return Controls()  # nothing paused, asked for or held: the write API is not used

    def silences_in_force(self, now: float) -> tuple[()]:
        return ()  # alert delivery's silence stage reads them; none made

    def flush(self) -> None:
        pass

    def health(self) -> Any:
        from tether.monitor.store._base import StoreHealth

        return StoreHealth(True, 0.0, None, 0, 0, 0, 0, 0, 0)

    def close(self) -> None:
        pass


class Checks:
    """The whole pipeline of one check (probe, conditions, detection, store, metrics),
    ``Runner.check`` called by the same 256 loops as the bare aiohttp peer, over the
    monitors in turn: the runner without its schedule.  ``store=False``: with
    :class:`NullStore` instead of SQLite."""

    def __init__(
        self, urls: list[str], monitors: int, tmp: Path, loop: str, *, store: bool = True
    ) -> None:
        from tether.monitor.store import SQLiteStore

        self.loop = loop
        self.config = monitors_config(urls, monitors, REAL_INTERVAL)
        self.store: Any = SQLiteStore(tmp / f"checks-{loop}.db") if store else NullStore()
        self.runner = make_runner(self.config, self.store, warm=True)
        self.names = [m.name for m in self.config.monitors]
        self.writer_cpu: list[float] = []
        self.profile: cProfile.Profile | None = None

    def block(self, seconds: float) -> tuple[float, int]:
        runner = self.runner

        async def check(name: str) -> bool:
            return bool((await runner.check(name, runner.mono())).ok)

        async def main() -> tuple[float, int]:
            usage = Usage(self.store, [])
            out = await _workers(check, self.names, seconds)
            self.writer_cpu.append(usage.shares()[1])
            return out

        if self.profile is not None:
            self.profile.enable()
        out = run_on(self.loop, main())
        if self.profile is not None:
            self.profile.disable()
        self.store.flush()
        return out

    def close(self) -> None:
        self.store.close()


class SaturatedRunner:
    """The whole runner with more checks due each second than it can start.

    One warm runner for every block, as a long-running monitor is; each block
    gets a fresh schedule (first runs spread over one interval, already more than
    it can start) and a fresh :meth:`Runner.run`.
    """

    def __init__(self, urls: list[str], monitors: int, tmp: Path) -> None:
        from tether.monitor.store import SQLiteStore

        # Due every 2 s, so each probe's timeout (80% of the interval) stays well above
        # the time a probe waits its turn in a saturated loop.
        self.config = monitors_config(urls, monitors, SATURATED_INTERVAL)
        self.store = SQLiteStore(tmp / "saturated.db")
        self.runner = make_runner(self.config, self.store, warm=True)

    def block(self, seconds: float) -> tuple[float, int]:
        from tether.monitor.checks._schedule import Schedule

        runner = self.runner
        runner.prober.schedule = Schedule()
        runner.ends.clear()
        runner.failed.clear()

        async def main() -> tuple[float, float]:
            begin = runner.mono()
            task = asyncio.ensure_future(runner.run(asyncio.Event(), freeze_gc=True))
            await asyncio.sleep(seconds)
            end = runner.mono()
            await _cancel(task)
            return begin, end

        begin, end = run_on(MONITOR_LOOP, main())
        self.store.flush()
        return _per_second(runner.ends, begin + min(1.0, seconds / 4), end)

    def close(self) -> None:
        self.store.close()


def throughput(
    urls: list[str], rounds: int, seconds: float, monitors: int, tmp: Path
) -> tuple[list[Peer], dict[str, Checks]]:
    """Every peer, on each event loop for the three compared (bare aiohttp, the probe
    engine, the pipeline), and on the monitor's for the null store and the schedule."""
    checks = {loop: Checks(urls, 2000, tmp, loop) for loop in LOOPS}
    unstored = Checks(urls, 2000, tmp, MONITOR_LOOP, store=False)
    peers = []
    for loop in LOOPS:
        peers += [
            Peer(BARE, loop, bare_aiohttp(urls, loop)),
            Peer(ENGINE, loop, probe_only(urls, loop)),
            Peer(PIPELINE, loop, checks[loop].block),
        ]
    peers.append(
        Peer(
            "the same, storing nothing (a null store: what SQLite costs)",
            MONITOR_LOOP,
            unstored.block,
        )
    )
    if monitors:
        saturated = SaturatedRunner(urls, monitors, tmp)
        peers.append(
            Peer(
                f"tether Runner.run, its schedule oversubscribed ({monitors:,} monitors at "
                f"{SATURATED_INTERVAL:g} s)",
                MONITOR_LOOP,
                saturated.block,
                closing=saturated.close,
            )
        )
    rng = random.Random(5)
    for p in peers:  # warm up: imports, first connections, caches
        p.run(min(seconds / 2, 1.5))
    for _ in range(rounds):
        order = list(peers)
        rng.shuffle(order)
        for p in order:
            gc.collect()
            rate, failed = p.run(seconds)
            p.rates.append(rate)
            p.failed += failed
    for p in peers:
        p.closing()
    for c in [*checks.values(), unstored]:
        if c is not checks["asyncio"]:  # profiled after this
            c.close()
    return peers, checks


BARE = "bare aiohttp, force_close=True, 256 in flight"
ENGINE = "tether probe_async alone, 256 in flight"
PIPELINE = "tether Runner.check, the whole pipeline, 256 in flight"


def peer(peers: list[Peer], name: str, loop: str) -> Peer:
    return next(p for p in peers if p.name == name and p.loop == loop)


AREAS: tuple[tuple[str, str], ...] = (
    ("tether/probe/", "probe engine (tether)"),
    ("tether/_classify/", "probe engine (tether)"),
    ("tether/_failure.py", "probe engine (tether)"),
    ("<frozen os>", "probe engine: proxy lookup in os.environ"),
    ("/_conditions/", "conditions"),
    ("_detect.py", "detector"),
    ("_baseline.py", "detector"),
    ("_state.py", "detector"),
    ("_correlate.py", "incidents"),
    ("tether/monitor/config/", "config lookups"),
    ("_cron.py", "config lookups"),
    ("tether/monitor/store/", "store (event-loop side)"),
    ("queue.py", "store (event-loop side)"),
    ("_thread.lock", "store (event-loop side)"),
    ("prometheus_client", "metrics"),
    ("_metrics.py", "metrics"),
    ("_runner.py", "runner"),
    ("_schedule.py", "schedule"),
    ("json/", "json"),
    ("asyncio/", "asyncio and sockets"),
    ("selectors.py", "asyncio and sockets"),
    ("socket.py", "asyncio and sockets"),
    ("_socket.socket", "asyncio and sockets"),
    ("select.epoll", "asyncio and sockets"),
    ("_contextvars", "asyncio and sockets"),
    ("_asyncio", "asyncio and sockets"),
)


def where_time_goes(profile: cProfile.Profile) -> tuple[list[tuple[str, float]], float, list[str]]:
    """Own time of the event-loop thread by component (a builtin counts for its caller's
    component), the share spent waiting in epoll (idle, or the kernel's socket work), and
    the busiest functions.  Shares are of the time not spent waiting."""
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]

    def area(key: tuple[str, int, str]) -> str:
        where = f"{key[0]}:{key[2]}"
        return next((a for k, a in AREAS if k in where), "")

    areas: dict[str, float] = {}
    waiting = total = 0.0
    for key, (_cc, _nc, tottime, _ct, callers) in raw.items():
        total += tottime
        if "select.epoll" in key[2]:
            waiting += tottime
            continue
        name = area(key)
        if not name and key[0] == "~" and callers:
            # A builtin (len, isinstance, a dataclass's __init__...): charge its callers,
            # in proportion to the time each spent in it.
            spent = sum(c[2] for c in callers.values()) or 1.0
            for caller, c in callers.items():
                owner = area(caller) or "other"
                areas[owner] = areas.get(owner, 0.0) + tottime * c[2] / spent
            continue
        areas[name or "other"] = areas.get(name or "other", 0.0) + tottime
    working = total - waiting
    shares = sorted(((a, t / working) for a, t in areas.items()), key=lambda x: -x[1])
    top = sorted(
        (kv for kv in raw.items() if "select.epoll" not in kv[0][2]), key=lambda kv: -kv[1][2]
    )[:15]
    lines = [f"{100 * v[2] / working:5.1f}%  {Path(k[0]).name}:{k[1]} {k[2]}" for k, v in top]
    return shares, waiting / total, lines


def state_change_costs(sizes: list[int]) -> list[tuple[str, ...]]:
    """What one state change costs the runner as the monitors grow: it saves the whole
    detector (``to_dict`` on the event loop, ``json.dumps`` on the store's writer thread,
    which holds the GIL too), each monitor with a fresh baseline (one sample)."""
    from tether.monitor.engine._detect import Detector, Observation

    rows = []
    for n in sizes:
        detector = Detector()
        now = time.time()
        for i in range(n):
            detector.observe(Observation(f"m{i:06d}", True, now, 1.0), now)
        start = time.perf_counter()
        state = detector.to_dict()
        to_dict = time.perf_counter() - start
        start = time.perf_counter()
        text = json.dumps(state, sort_keys=True)
        dumps = time.perf_counter() - start
        rows.append(
            (
                f"{n:,}",
                f"{1000 * to_dict:,.1f}",
                f"{1000 * dumps:,.1f}",
                f"{len(text) / 1e6:.1f}",
                # The k-th first check saves k monitors: N^2 / 2 in all.
                f"{n * (to_dict + dumps) / 2 / 60:,.1f}",
            )
        )
    return rows


def scale(
    quick: bool, interval: float, confirm: bool, sizes: list[int] | None, rounds: int | None
) -> Section:
    section = Section("1. Scale: monitors kept on time, and probes per second")
    if quick:
        ramp_sizes, interval, window = [3000], 1.0, 1.5
        default_rounds, block, saturating = 1, 0.5, 0
        processes, hosts, cold, cost_sizes = 1, 8, 0, [100, 2000]
    else:
        ramp_sizes, window = [10000, 20000, 40000, 60000, 80000, 120000], 12.0
        default_rounds, block, saturating = 5, 3.0, 10000
        processes, hosts, cold = 2, 16, 10000
        cost_sizes = [round(MONITORS_TARGET * interval / REAL_INTERVAL), MONITORS_TARGET]
    sizes = sizes or ramp_sizes
    rounds = rounds or default_rounds
    with target_servers(processes, hosts, 10) as targets, tempfile.TemporaryDirectory() as tmp:
        urls = [a for t in targets for a in t.addresses]
        peers, by_loop = throughput(urls, rounds, block, saturating, Path(tmp))
        # Profiled on asyncio's loop, whose own work the profiler sees (uvloop's is C).
        checks = by_loop["asyncio"]
        checks.profile = cProfile.Profile()
        profiled_rate, _ = checks.block(block)
        shares, waiting, top = where_time_goes(checks.profile)
        writer_cpu = statistics.median(checks.writer_cpu)
        checks.profile = None
        work = [(p.name, loop_work(p.run, block)) for p in peers if p.loop == "asyncio"]
        checks.close()
        steps, best = ramp(urls, targets, sizes, interval, window)
        if cold:
            steps.append(run_step(urls, targets, cold, interval, window, warm=False))
        confirmed: Step | None = None
        if confirm and best and not quick:
            confirmed = run_step(urls, targets, best, REAL_INTERVAL, 20.0)
            steps.append(confirmed)
    costs = state_change_costs(cost_sizes)

    section.notes.append(
        f"Targets: {processes} child process(es) on {len(urls)} loopback addresses, answering "
        "200 with Connection: close.  Monitors: one condition, [STATUS] == 200, no alert "
        "channel, a fresh SQLite store per step.  Time is scaled: N monitors at 60 s run as "
        f"N x {interval:g} / 60 monitors at {interval:g} s, the same probes per second.  Each "
        f"step runs one interval (the first runs, spread over it; not measured) then a "
        f"{window:g} s window in which every check's start lag is measured.  A step holds when "
        "its p99 start lag is under 1 s, no check failed and at least 95% of the checks due "
        "started.  'warm': each monitor's detector state is already up, as after a restart "
        "with saved state; 'cold': a first start, where every monitor's first check changes "
        "its state from unknown to up.  The last row, when there is one, runs the largest "
        "size that held at 60 s, unscaled, with a 20 s window.  CPU: shares of one core; the "
        "monitor process's includes its store writer thread's.  Store backlog: results queued "
        "for the writer, not yet committed, at the end of the window.  GC: the share of the "
        "step spent in the garbage collector, and its longest pause.  The runner runs as "
        "tether monitor runs it, with freeze_gc: what is alive at start (configuration, "
        "states, baselines) is out of the collector's reach."
    )
    section.notes.append(
        "Throughput: every client is driven by the same 256 loops, each starting its next "
        "GET (or check) when the last one ends, over the target addresses (or the monitors) "
        "in turn.  Bare aiohttp, the probe engine and Runner.check run on each event loop "
        "(asyncio's, and uvloop's when installed), and each ratio is to bare aiohttp on the "
        "same loop; the targets are judged on the loop tether monitor runs on, per process.  "
        "Runner.check is the whole pipeline without the schedule; the null-store "
        "row replaces SQLite with a store that keeps nothing, so the difference is the "
        "store's cost (the writer thread competes for the GIL).  Runner.run is fed by its own "
        "schedule, with more checks due than it can start.  The profile splits the event-loop "
        "thread's own time on asyncio's loop; cProfile slows small functions most, so the "
        "shares are a guide and the rates above are the measure."
    )
    rows = [
        (
            f"{s.equivalent:,}",
            f"{s.monitors:,} at {s.interval:g} s, {'warm' if s.warm else 'cold'}",
            f"{s.offered:,.0f}",
            f"{s.rate:,.0f}",
            f"{1000 * s.p50:.1f}",
            f"{1000 * s.p99:.1f}",
            f"{1000 * s.worst:.0f}",
            f"{1000 * s.first_p99:.0f}",
            str(s.failed),
            f"{100 * s.cpu:.0f}% / {100 * s.writer_cpu:.0f}% / {100 * s.targets_cpu:.0f}%",
            f"{s.backlog:,}",
            f"{100 * s.gc_share:.1f}% / {1000 * s.gc_longest:.0f} ms",
            "held" if s.held else "MISSED",
        )
        for s in steps
    ]
    section.tables.append(
        table(
            "Ramp (real time)",
            (
                "monitors at 60 s",
                "run as",
                "due/s",
                "started/s",
                "lag p50 ms",
                "lag p99 ms",
                "lag max ms",
                "1st interval lag p99 ms",
                "failed",
                "CPU: monitor process / its store writer / targets",
                "store backlog",
                "GC: time / longest pause",
                "",
            ),
            rows,
        )
    )
    failed = [s.example for s in steps if s.example]
    if failed:
        section.notes.append(f"First failed check seen: {failed[0]}")
    prows = []
    ratios: dict[tuple[str, str], float] = {}
    for p in peers:
        bare = peer(peers, BARE, p.loop)
        # a round in which bare aiohttp completed nothing in its window (a loaded machine,
        # a --quick block) has no ratio, and is left out rather than divided by
        per_round = [a / b for a, b in zip(p.rates, bare.rates, strict=True) if b > 0]
        ratios[p.name, p.loop] = statistics.median(per_round) if per_round else math.nan
        prows.append(
            (
                p.name,
                p.loop + (" (tether monitor's)" if p.loop == MONITOR_LOOP else ""),
                f"{statistics.median(p.rates):,.0f}",
                "1 (base)" if p is bare else _times(ratios[p.name, p.loop]),
                "" if p is bare or not per_round else f"{min(per_round):.2f}-{max(per_round):.2f}",
                f"{p.failed:,}",
            )
        )
    section.tables.append(
        table(
            f"Fresh-connection GETs per second, saturated ({rounds} interleaved rounds of "
            f"{block:g} s, warm); each ratio is to bare aiohttp on the same event loop",
            (
                "client",
                "event loop",
                "successes per second (median)",
                "ratio to bare aiohttp",
                "range over rounds",
                "failed",
            ),
            prows,
        )
    )
    section.tables.append(
        table(
            f"Where the time of Runner.check goes: one block under cProfile "
            f"({profiled_rate:,.0f} checks/s while profiled), own time of the event-loop "
            f"thread by component, besides the {100 * waiting:.0f}% it spent waiting in epoll; "
            f"the store's writer thread used {100 * writer_cpu:.0f}% of a core besides",
            ("component", "share"),
            [(a, f"{100 * s:.1f}%") for a, s in shares],
        )
    )
    section.tables.append(
        table(
            "Event-loop work per completed GET or check on asyncio's loop (counted under "
            "cProfile, one block each)",
            ("client", "tasks created", "timers scheduled", "callbacks run"),
            [(name, *(f"{x:.1f}" for x in counts)) for name, counts in work],
        )
    )
    section.notes.append(
        "Busiest functions under the profiler (own time):\n\n"
        + "\n".join(f"    {line}" for line in top)
    )
    section.tables.append(
        table(
            "What one state change costs: the runner saves the whole detector on each (measured "
            "in-process, fresh baselines; a full baseline holds 240 latencies, several times "
            "more)",
            (
                "monitors",
                "to_dict ms (event loop)",
                "json.dumps ms (writer thread)",
                "saved state MB",
                "first start, every monitor unknown -> up: minutes of CPU",
            ),
            costs,
        )
    )
    bare = peer(peers, BARE, MONITOR_LOOP)
    for name, what, unit, target in (
        (ENGINE, "the probe engine alone", "probes", ENGINE_TARGET),
        (PIPELINE, "the whole pipeline", "checks", PIPELINE_TARGET),
    ):
        ratio = ratios[name, MONITOR_LOOP]
        others = "; ".join(
            f"{_times(ratios[name, loop], 3)} on {loop}'s loop"
            for loop in LOOPS
            if loop != MONITOR_LOOP
        )
        rate = statistics.median(peer(peers, name, MONITOR_LOOP).rates)
        section.verdicts.append(
            f"scale: {what} sustains {rate:,.0f} "
            f"{unit}/s on {MONITOR_LOOP}'s event loop (tether monitor's), "
            f"{_times(ratio, 3)} of bare aiohttp's fresh-connection GETs on the same loop"
            f"{f' ({others})' if others else ''} "
            f"(target >= {target}): {met(ratio >= target)}"
        )
    bare_rate = statistics.median(bare.rates)
    if confirmed is None:
        unscaled, held = "not run unscaled", best >= MONITORS_TARGET
    else:
        unscaled = "held" if confirmed.held else "MISSED"
        unscaled = f"{unscaled} when run unscaled ({describe(confirmed)})"
        held = best >= MONITORS_TARGET and confirmed.held
    section.verdicts.append(
        f"scale: the largest step that held, warm: {best:,} monitors at 60 s "
        f"({best / REAL_INTERVAL:,.0f} probes/s on time, "
        f"{_times(best / REAL_INTERVAL / bare_rate if bare_rate else math.nan)} of bare "
        f"aiohttp's rate; "
        f"p99 start lag < {LAG_TARGET:g} s), "
        f"{unscaled} (target >= {MONITORS_TARGET:,}): {met(held)}"
    )
    return section


# ---------------------------------------------------------------------------------------------
# 2. Detection
# ---------------------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on loopback that notes when each alert arrived."""

    def __init__(self) -> None:
        got = self.got = []  # type: list[tuple[float, dict[str, Any]]]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((time.time(), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def opened(self, monitor: str) -> float | None:
        """When the first ``incident.opened`` alert naming ``monitor`` arrived."""
        for at, alert in self.got:
            if alert["event"] == "incident.opened" and monitor in alert["monitors"]:
                return at
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Outage:
    monitor: str
    address: str
    down_at: float = 0.0
    first_failure: float = float("nan")
    incident: float = float("nan")
    webhook: float = float("nan")
    kind: str = ""


def detection(quick: bool) -> Section:
    from tether.monitor import Runner, channels_for
    from tether.monitor.alerts import Outbox
    from tether.monitor.config import MonitorConfig, default_timeout
    from tether.monitor.store import SQLiteStore

    interval, outages_n, decoys_n = (1.0, 2, 3) if quick else (DETECT_INTERVAL, 8, 12)
    rng = random.Random(11)
    section = Section(f"2. Detection: from a target going down to the alert ({interval:g} s)")
    receiver = Receiver()
    hosts = [f"127.0.9.{i + 1}" for i in range(outages_n)]
    hosts += [f"127.0.8.{i + 1}" for i in range(decoys_n)]
    targets = Targets(hosts)
    try:
        outages = [Outage(f"target{i}", a) for i, a in enumerate(targets.addresses[:outages_n])]
        decoys = targets.addresses[outages_n:]
        monitors = [(o.monitor, o.address) for o in outages]
        monitors += [(f"decoy{i}", a) for i, a in enumerate(decoys)]
        config = MonitorConfig.model_validate(
            {
                "alerts": [{"name": "hook", "type": "webhook", "url": receiver.url}],
                "monitors": [
                    {
                        "name": name,
                        "url": f"http://{address}/health",
                        "interval": f"{interval:g}s",
                        "timeout": f"{default_timeout(interval) * 1000:.0f}ms",
                        "conditions": ["[STATUS] == 200"],
                        "alerts": ["hook"],
                        "locations": everywhere(),
                    }
                    for name, address in monitors
                ],
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteStore(Path(tmp) / "detect.db")
            channels = channels_for(config)
            runner = Runner(config, store, Outbox(store, channels))

            async def outage(o: Outage, at: float) -> None:
                await asyncio.sleep(at)
                o.down_at = await asyncio.to_thread(targets.switch, "down", o.address)
                limit = time.time() + interval + 20.0
                while receiver.opened(o.monitor) is None and time.time() < limit:
                    await asyncio.sleep(0.02)
                await asyncio.to_thread(targets.switch, "up", o.address)

            async def main() -> None:
                stop = asyncio.Event()
                task = asyncio.ensure_future(runner.run(stop, freeze_gc=True))
                # After every monitor's first check (within the first interval): each
                # target goes down at a random moment of its monitor's interval.
                await asyncio.gather(
                    *(outage(o, interval + 0.2 + rng.random() * interval) for o in outages)
                )
                await _cancel(task)

            asyncio.run(main())
            store.flush()
            for o in outages:
                failures = [
                    r.ts for r in store.results(o.monitor) if not r.ok and r.ts >= o.down_at
                ]
                kinds = {r.kind for r in store.results(o.monitor) if not r.ok}
                o.kind = ", ".join(sorted(k or "condition" for k in kinds))
                o.first_failure = min(failures, default=float("nan"))
                opened = [i.opened for i in store.incidents() if o.monitor in i.monitors]
                o.incident = min(opened, default=float("nan"))
                o.webhook = receiver.opened(o.monitor) or float("nan")
            store.close()
            for channel in channels.values():
                channel.close()
    finally:
        targets.close()
        receiver.close()

    naive_extra = (NAIVE_THRESHOLD - 1) * interval
    rows = []
    for o in outages:
        rows.append(
            (
                o.monitor,
                o.kind,
                f"{o.first_failure - o.down_at:.2f}",
                f"{o.incident - o.down_at:.2f}",
                f"{o.webhook - o.down_at:.2f}",
                f"{o.incident - o.first_failure:.2f}",
                f"{o.webhook - o.first_failure:.2f}",
                f"{o.first_failure - o.down_at + naive_extra:.2f}",
            )
        )

    def stat(values: list[float]) -> tuple[str, str]:
        return f"{statistics.median(values):.2f}", f"{max(values):.2f}"

    columns = {
        "wait": [o.first_failure - o.down_at for o in outages],
        "down_incident": [o.incident - o.down_at for o in outages],
        "down_webhook": [o.webhook - o.down_at for o in outages],
        "first_incident": [o.incident - o.first_failure for o in outages],
        "first_webhook": [o.webhook - o.first_failure for o in outages],
        "naive": [o.first_failure - o.down_at + naive_extra for o in outages],
    }
    for label, pick in (("median", 0), ("max", 1)):
        rows.append(("**" + label + "**", "", *(stat(v)[pick] for v in columns.values())))
    section.notes.append(
        f"{outages_n} targets, each on its own loopback address, among {decoys_n} healthy "
        f"decoys on others (so that no correlation across hosts is triggered); interval "
        f"{interval:g} s, thresholds 3 and 2, confirmation re-probes 1 s apart, the outbox "
        "delivering every 1 s, all defaults.  Each target's address starts refusing at a "
        "random moment of its monitor's interval (seeded), and is brought back once its alert "
        "has arrived.  Seconds, wall clock.  The wait for the next scheduled check "
        f"(0 to {interval:g} s) is common to every poller; the confirmation is what tether "
        "shortens.  The tutorials' loop, computed from the same down moments: its first "
        f"failed check is tether's, then {NAIVE_THRESHOLD - 1} more intervals to reach "
        f"{NAIVE_THRESHOLD} consecutive failures (expected {interval / 2 + naive_extra:g} s "
        f"from the down moment, {naive_extra:g} s from the first failure)."
    )
    section.tables.append(
        table(
            "Seconds from the target going down / from the first failed check",
            (
                "monitor",
                "failure kind",
                "down -> 1st failed check",
                "down -> incident",
                "down -> webhook",
                "1st failure -> incident",
                "1st failure -> webhook",
                "tutorials' loop: down -> alert",
            ),
            rows,
        )
    )
    worst = max(columns["first_webhook"])
    bad = [o.monitor for o in outages if o.webhook != o.webhook]  # NaN: never alerted
    section.verdicts.append(
        f"detection: from the first failed check to the webhook, worst {worst:.2f} s over "
        f"{outages_n} outages, {len(bad)} never alerted (target < {DETECT_TARGET:g} s): "
        f"{met(worst < DETECT_TARGET and not bad)}"
    )
    down, naive = columns["down_webhook"], columns["naive"]
    section.verdicts.append(
        f"detection: from the target going down to the webhook, median "
        f"{statistics.median(down):.1f} s and worst {max(down):.1f} s, of which the wait for "
        f"the next check is median {statistics.median(columns['wait']):.1f} s; the tutorials' "
        f"loop, median {statistics.median(naive):.1f} s and worst {max(naive):.1f} s"
    )
    return section


# ---------------------------------------------------------------------------------------------
# 3. Storage
# ---------------------------------------------------------------------------------------------

DAY = 86400
EPOCH = 1_800_000_000.0 - 1_800_000_000.0 % DAY
"""A simulated week starting at midnight UTC."""

# Uptime Kuma's heartbeat table and its indexes, as db/knex_init_db.js creates them.
KUMA_SCHEMA = """
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    important BOOLEAN NOT NULL DEFAULT 0,
    monitor_id INTEGER NOT NULL,
    status SMALLINT NOT NULL,
    msg TEXT,
    time DATETIME NOT NULL,
    ping INTEGER,
    duration INTEGER NOT NULL DEFAULT 0,
    down_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX heartbeat_important_index ON heartbeat (important);
CREATE INDEX monitor_time_index ON heartbeat (monitor_id, time);
CREATE INDEX heartbeat_monitor_id_index ON heartbeat (monitor_id);
CREATE INDEX monitor_important_time_index ON heartbeat (monitor_id, important, time)
"""

GROWING = frozenset({"results", "rollups", "heartbeat"})
"""The tables that grow with monitors and time; the rest is the schema's fixed pages."""

RAW_SCHEMA = """
CREATE TABLE results (
    id INTEGER PRIMARY KEY, monitor TEXT NOT NULL, ts REAL NOT NULL, ok INTEGER NOT NULL,
    kind TEXT, latency_ms REAL, detail TEXT, data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX results_by_monitor ON results (monitor, ts)
"""


def week_of_results(monitors: int, days: int, seed: int = 3) -> Iterator[list[Any]]:
    """One list of results per simulated minute, shaped as the runner stores an HTTPS check
    with one condition: phase timings, the resolved condition, the start lag."""
    from tether._kinds import Kind
    from tether.monitor.store import ProbeRecord

    rng = random.Random(seed)
    names = [f"service-{i:04d}" for i in range(monitors)]
    base = [rng.uniform(20, 120) for _ in range(monitors)]  # each service's usual latency
    for minute in range(days * DAY // 60):
        batch = []
        for i, name in enumerate(names):
            ts = EPOCH + minute * 60 + i * 60 / monitors
            if rng.random() < 0.002:
                batch.append(
                    ProbeRecord(
                        name,
                        ts,
                        False,
                        Kind.CONNECT_TIMEOUT,
                        10000.0,
                        "203.0.113.7:443 did not answer the connection within 10 s",
                        {"dns": 1.204, "connect": 10000.0},
                        (),
                        rng.uniform(0, 2),
                    )
                )
                continue
            total = base[i] * rng.lognormvariate(0, 0.25)
            phases = {
                "dns": rng.uniform(0.5, 3),
                "connect": total * 0.15,
                "tls": total * 0.3,
                "http": total * 0.5,
            }
            batch.append(
                ProbeRecord(
                    name,
                    ts,
                    True,
                    None,
                    sum(phases.values()),
                    None,
                    phases,
                    ("[STATUS] (200) == 200",),
                    rng.uniform(0, 2),
                )
            )
        yield batch


def db_size(path: Path) -> tuple[int, dict[str, int]]:
    """Bytes of the file after a checkpoint and VACUUM, and bytes by table (indexes in)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        owners = dict(conn.execute("SELECT name, tbl_name FROM sqlite_schema"))
        by_table: dict[str, int] = {}
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            owner = owners.get(name, name)
            by_table[owner] = by_table.get(owner, 0) + size
    finally:
        conn.close()
    return path.stat().st_size, by_table


def rows_by(path: Path, tables: list[str]) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()


RAW_INSERT = (
    "INSERT INTO results (monitor, ts, ok, kind, latency_ms, detail, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
KUMA_INSERT = (
    "INSERT INTO heartbeat (important, monitor_id, status, msg, time, ping, duration, "
    "down_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def raw_row(r: Any) -> tuple[Any, ...]:
    """A result as tether's results table holds it."""
    data = json.dumps(r.data(), sort_keys=True)
    kind = None if r.kind is None else r.kind.value
    return (r.monitor, r.ts, int(r.ok), kind, r.latency_ms, r.detail, data)


def kuma_row(r: Any, previous: bool | None) -> tuple[Any, ...]:
    """A heartbeat as Uptime Kuma writes one: status 1/0, "200 - OK" or the error, the
    time as text, ping in whole ms, the seconds since the last beat."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.ts)) + f".{int(r.ts % 1 * 1000):03d}"
    important = previous is None or previous != r.ok
    msg = "200 - OK" if r.ok else f"connect ETIMEDOUT {r.detail.split()[0]}"
    monitor_id = int(r.monitor.rsplit("-", 1)[1]) + 1
    return (int(important), monitor_id, int(r.ok), msg, when, round(r.latency_ms), 60, 0)


class PeerDB:
    """A peer's SQLite file, written in transactions of about 500 rows, as tether's
    writer batches (so neither side pays a commit per row)."""

    def __init__(self, path: Path, schema: str, insert: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.executescript(schema)
        self.insert = insert
        self.pending: list[tuple[Any, ...]] = []

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        self.pending += rows
        if len(self.pending) >= 500:
            self.commit()

    def commit(self) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(self.insert, self.pending)
        self.conn.execute("COMMIT")
        self.pending.clear()

    def close(self) -> None:
        if self.pending:
            self.commit()
        self.conn.close()


def storage(quick: bool, monitors: int) -> Section:
    from tether.monitor.store import SQLiteStore

    days = 7
    monitors = 2 if quick else monitors
    scale_to = 1000
    factor = scale_to / monitors
    section = Section(f"3. Storage: a simulated week, scaled to {scale_to:,} monitors")
    with tempfile.TemporaryDirectory() as tmp:
        ours, raw, kuma = Path(tmp) / "tether.db", Path(tmp) / "raw.db", Path(tmp) / "kuma.db"
        raw_db = PeerDB(raw, RAW_SCHEMA, RAW_INSERT)
        kuma_db = PeerDB(kuma, KUMA_SCHEMA, KUMA_INSERT)
        last: dict[str, bool] = {}
        probes = 0
        started = time.perf_counter()
        with SQLiteStore(ours) as store:
            for minute, batch in enumerate(week_of_results(monitors, days)):
                for r in batch:
                    store.record(r)
                probes += len(batch)
                raw_db.add([raw_row(r) for r in batch])
                kuma_db.add([kuma_row(r, last.get(r.monitor)) for r in batch])
                last.update((r.monitor, r.ok) for r in batch)
                if minute % 60 == 59:  # the default retention, applied every simulated hour
                    store.prune(batch[-1].ts)
            pruned = store.prune(EPOCH + days * DAY)
            store.flush()
        raw_db.close()
        kuma_db.close()
        fed = time.perf_counter() - started
        sizes = {name: db_size(p) for name, p in (("tether", ours), ("raw", raw), ("kuma", kuma))}
        tether_rows = rows_by(ours, ["results", "rollups"])
        conn = sqlite3.connect(ours)
        by_period = dict(conn.execute("SELECT period, count(*) FROM rollups GROUP BY period"))
        data_bytes = conn.execute("SELECT avg(length(data)) FROM results").fetchone()[0]
        conn.close()
        raw_rows = rows_by(raw, ["results"])["results"]
        kuma_rows = rows_by(kuma, ["heartbeat"])["heartbeat"]

    section.notes.append(
        f"{monitors} monitors (named service-0000...), one result a minute each for "
        f"{days} simulated days: {probes:,} results, fed in {fed:.0f} s; sizes are then "
        f"multiplied by {factor:g} for {scale_to:,} monitors (every table grows per monitor; "
        f"the real run would feed {probes * factor:,.0f} results).  Results are shaped as the "
        "runner stores an HTTPS check with one condition (phase timings, the resolved "
        "condition, the start lag); 0.2% fail (connect.timeout).  tether: the SQLiteStore with "
        "its defaults (raw results and minute roll-ups 7 days, hour and day roll-ups 1 year), "
        f"pruned every simulated hour and at the end (the end's prune removed {pruned.results} "
        f"results and {pruned.rollups} roll-ups: a week is exactly the raw retention).  Sizes "
        "after a WAL checkpoint and VACUUM."
    )
    rows = []
    per_probe: dict[str, float] = {}
    scaled: dict[str, float] = {}
    for name, label, row_text in (
        (
            "tether",
            "tether SQLiteStore (results + roll-ups)",
            f"results {tether_rows['results']:,}, roll-ups {tether_rows['rollups']:,} ("
            + ", ".join(f"{p} {n:,}" for p, n in sorted(by_period.items()))
            + ")",
        ),
        ("raw", "same results table, no roll-ups", f"results {raw_rows:,}"),
        ("kuma", "Uptime Kuma heartbeat table (1 row per beat)", f"heartbeat {kuma_rows:,}"),
    ):
        size, by_table = sizes[name]
        # Tables of results grow with the monitors; the schema's other pages do not.
        growing = {t: b for t, b in by_table.items() if t in GROWING}
        scaled[name] = size + (factor - 1) * sum(growing.values())
        per_probe[name] = scaled[name] / (probes * factor)
        rows.append(
            (
                label,
                f"{scaled[name] / 1e6:,.0f}",
                f"{per_probe[name]:.0f}",
                ", ".join(f"{t} {b * factor / 1e6:,.0f}" for t, b in sorted(growing.items())),
                row_text,
            )
        )
    section.tables.append(
        table(
            f"After 7 days at {scale_to:,} monitors (scaled from {monitors})",
            ("store", "MB", "bytes per probe", "MB by table, indexes included", "rows"),
            rows,
        )
    )
    # A year at the same rate, from each table's measured bytes per row.
    t_tables = sizes["tether"][1]
    minute_rows = by_period.get("minute", 0)
    results_bpr = t_tables.get("results", 0) / max(1, tether_rows["results"])
    rollup_bpr = t_tables.get("rollups", 0) / max(1, tether_rows["rollups"])
    per_day = probes / days
    year_rollups = (
        minute_rows  # kept as long as the raw results: a week
        + by_period.get("hour", 0) / days * 365
        + by_period.get("day", 0) / days * 365
    )
    tether_year = (results_bpr * per_day * 7 + rollup_bpr * year_rollups) * factor
    kuma_bpr = sizes["kuma"][0] / kuma_rows
    section.tables.append(
        table(
            "Projected from the measured bytes per row (not measured): a year of the same load",
            ("store", "kept", "GB"),
            [
                (
                    "tether, default retention",
                    "7 days of results and minute roll-ups, 365 days of hour and day roll-ups",
                    f"{tether_year / 1e9:,.1f}",
                ),
                (
                    "same results table, no roll-ups, never pruned",
                    "365 days of results",
                    f"{per_probe['raw'] * per_day * 365 * factor / 1e9:,.1f}",
                ),
                (
                    "Uptime Kuma, its default 180-day history",
                    "180 days of heartbeats",
                    f"{kuma_bpr * per_day * 180 * factor / 1e9:,.1f}",
                ),
            ],
        )
    )
    section.notes.append(
        f"Of a result's bytes, its data column (phase timings, resolved conditions and start "
        f"lag, as JSON) takes {data_bytes:.0f} on average.  "
        f"Per-minute roll-ups at a 60 s interval are one row per result ({minute_rows:,} "
        f"minute rows for {probes:,} results); they go with the raw results after a week, so "
        "a week is the database's steady size, plus the hour and day roll-ups."
    )
    kuma_year = kuma_bpr * per_day * 180 * factor
    section.verdicts.append(
        f"storage: tether {per_probe['tether']:.0f} bytes per probe after a week "
        f"({scaled['tether'] / 1e6:,.0f} MB at {scale_to:,} monitors), beside "
        f"{per_probe['raw']:.0f} for the same results without roll-ups and "
        f"{per_probe['kuma']:.0f} for Uptime Kuma's heartbeat row (which keeps no phase "
        f"timings or resolved conditions); a year in, tether stays near "
        f"{tether_year / 1e9:,.1f} GB where Kuma's default 180 days hold "
        f"{kuma_year / 1e9:,.1f} GB (target <= Kuma's a year in): "
        f"{met(tether_year <= kuma_year)}"
    )
    return section


# ---------------------------------------------------------------------------------------------


def versions() -> str:
    import tether

    found = ", ".join(
        f"{n} {importlib.metadata.version(n)}"
        for n in ("aiohttp", "uvloop")
        if importlib.util.find_spec(n) is not None
    )
    head = commit()
    return (
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, tether "
        f"{tether.__version__} (commit {head}), {found}"
    )


def write(path: str, sections: list[Section], command: str, seconds: float, made_by: str) -> None:
    """Replace (or add) this benchmark's part of ``path``, keeping every other part."""
    write_part(path, "# Benchmark results: the monitor", command, sections, seconds, made_by)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    parser.add_argument(
        "--interval",
        type=float,
        default=6.0,
        help="the scale test's interval in seconds: N monitors at 60 s run as N x I / 60 at I",
    )
    parser.add_argument(
        "--storage-monitors", type=int, default=50, help="monitors simulated for a week"
    )
    parser.add_argument("--only", choices=("scale", "detection", "storage"), help="run one section")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        help="the ramp's sizes, as monitors at 60 s (default 10000,20000,40000,60000,...)",
    )
    parser.add_argument("--rounds", type=int, help="throughput rounds (default 5)")
    parser.add_argument(
        "--no-confirm",
        action="store_true",
        help="skip the scale test's last step: the largest size that held, at 60 s unscaled",
    )
    args = parser.parse_args()

    # Each failed check is logged; the tables say what failed.
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    made_by = versions()  # now: the source may change while this runs
    print(f"{os.cpu_count()} cores; {made_by}{'; --quick' if args.quick else ''}", flush=True)
    runs: dict[str, Callable[[], Section]] = {
        "scale": lambda: scale(
            args.quick, args.interval, not args.no_confirm, args.sizes, args.rounds
        ),
        "detection": lambda: detection(args.quick),
        "storage": lambda: storage(args.quick, args.storage_monitors),
    }
    sections = []
    for name, run in runs.items():
        if args.only and name != args.only:
            continue
        start = time.perf_counter()
        sections.append(run())
        sections[-1].seconds = time.perf_counter() - start
        sections[-1].show()
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.0f} s in all")
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_monitor.py", *sys.argv[1:]])
        write(args.write, sections, command, seconds, made_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
