"""The CPU cost of one check with ``workers: N``, split as the processes split it.

Run: python benchmarks/bench_checkcost.py [--checks 20000] [--monitors 20000] [--rounds 3]
     [--profile worker|coordinator] [--write benchmarks/history/bench_checkcost.md]
     [--instructions N [--instruction-monitors M] [--refused] [--parts worker,...]]

Issue 46 section 2: at most 0.35 CPU s per 1,000 checks, the coordinator and the workers
together.  ``bench_scale.py`` measures the whole monitor in real time, which on a shared
machine is noise (a monitor that falls behind batches more and pays less a check); this
measures the same two halves in one process, on CPU time, beside a named peer measured
in the same run, so the figure holds under load (and under ``valgrind --tool=callgrind``,
whose instruction counts are repeatable):

- **the worker's half**: a real :class:`~tether.monitor.checks._prober.Prober` with the
  monitors assigned (as the coordinator assigns them), ``Prober.check`` of each in turn
  from 256 loops (the prober's bound on checks in flight) on ``tether monitor``'s event
  loop (uvloop's where installed), each check put in a frame of up to 512 as the worker
  sends them (``runtime._workers._Batch``);
- **the coordinator's half**: those frames read back (``pickle.loads``), every check
  through ``Runner.take_check`` (the intake's stages: the store, the detector, metrics,
  objectives), the monitors warm (each one's state up already), then the SQLite store
  flushed (its writer thread is this process's, so its CPU is counted);
- **the peer**: bare aiohttp (``TCPConnector(force_close=True)``: a new connection per
  GET, as a check makes) from the same 256 loops on the same event loop, to the same
  targets: what a GET costs with nothing around it.

The targets are ``_targets.py``'s child processes (200 with ``Connection: close``), whose
CPU is not counted.  Monitors: N HTTP monitors at 60 s, each on its own URL (a path of
its own on one of the targets' addresses, as a real fleet's URLs differ), the condition
``[STATUS] == 200``.  CPU: ``time.process_time`` (every thread of this process), the
median over rounds, peers interleaved in each round.

The collector: once the monitors are built, the process does what ``tether monitor``
and each of its workers do once they hold their monitors (``runtime._loop.freeze``: one
collection, every object alive moved out of the collector's reach, its thresholds
raised), so that each half runs with the collector its process has.  The peer runs in
the same process, so with the same collector.  ``--python-gc`` leaves Python's
thresholds and freezes nothing, as this benchmark did before (at 70,000 monitors that
cost tether and the peer alike about a third more CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import os
import pickle
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _callgrind import collected  # benchmarks/ is the script's own directory
from _report import Section, met, table, write_part  # benchmarks/ is the script's own directory
from _targets import target_servers
from bench_monitor import CONCURRENCY, MONITOR_LOOP, everywhere, run_on, versions

HEADING = "# Benchmark results: the CPU cost of a check"
TARGET = 0.35
"""CPU seconds per 1,000 checks, coordinator and workers together (issue 46 section 2)."""
FRAME_MAX = 512
SUBNET = 70


def config_for(urls: list[str], count: int, interval: float = 60.0) -> Any:
    from tether.monitor.config import MonitorConfig

    return MonitorConfig.model_validate(
        {
            "monitors": [
                {
                    "name": f"m{i:06d}",
                    "url": f"http://{urls[i % len(urls)]}/health/{i}",
                    "interval": f"{interval * 1000:.0f}ms",
                    "conditions": ["[STATUS] == 200"],
                    "locations": everywhere(),
                }
                for i in range(count)
            ]
        }
    )


async def _loops(call: Any, items: list[str], total: int) -> int:
    """``CONCURRENCY`` loops calling ``call(item)`` until ``total`` calls are made."""
    cycle = itertools.cycle(items)
    left = total

    async def one() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call(next(cycle))

    await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
    return total


def worker_half(
    config: Any, total: int, profile: cProfile.Profile | None
) -> tuple[float, list[bytes]]:
    """CPU seconds of ``total`` checks by a real prober, and the frames it would send."""
    from tether.monitor.checks._prober import Prober
    from tether.monitor.runtime._workers import _Checks, _frame

    prober = Prober()
    prober.assign(config.monitors)
    names = [m.name for m in config.monitors]
    frames: list[bytes] = []
    batch: list[Any] = []
    failed = 0

    async def call(name: str) -> None:
        nonlocal batch, failed
        check = await prober.check(name, prober.mono())
        failed += not check.record.ok
        batch.append(check)
        if len(batch) >= FRAME_MAX:
            frames.append(_frame(_Checks(batch)))
            batch = []

    async def main() -> float:
        # Warm: the imports, and each monitor checked once, as in a fleet that has run
        # (its first check pays for what is worked out once a monitor).
        await _loops(call, names, len(names))
        frames.clear()
        began = time.process_time()
        t0 = os.times()
        if profile:
            profile.enable()
        await _loops(call, names, total)
        t1 = os.times()
        KERNEL.append(
            (t1.system - t0.system) / max(1e-9, t1.user + t1.system - t0.user - t0.system)
        )
        if batch:
            frames.append(_frame(_Checks(list(batch))))
        if profile:
            profile.disable()
        return time.process_time() - began

    cpu = run_on(MONITOR_LOOP, main())
    # --refused: every check of the worker's part fails (refused), and none other may.
    refused = os.environ.get("BENCH_REFUSED") == "1" and failed == len(names) + total
    if failed and not refused:
        raise SystemExit(f"{failed} checks failed: the targets are not answering")
    return cpu, frames


def coordinator_half(config: Any, frames: list[bytes], profile: cProfile.Profile | None) -> float:
    """CPU seconds of taking every check in ``frames`` (the store's writer thread's too)."""
    from tether.monitor import Runner
    from tether.monitor.alerts import Outbox
    from tether.monitor.engine._detect import Observation
    from tether.monitor.store import SQLiteStore

    with (
        tempfile.TemporaryDirectory(prefix="bench-checkcost-") as tmp,
        SQLiteStore(Path(tmp) / "t.db") as store,
    ):
        runner = Runner(config, store, Outbox(store, {}))
        now = time.time()
        for m in config.monitors:
            runner.detector.observe(Observation(m.name, True, now, 1.0), now)
        store.flush()
        take = runner.take_check
        begun = time.process_time()
        if profile:
            profile.enable()
        for frame in frames:
            message = pickle.loads(memoryview(frame)[4:])
            for check in message.checks:
                take(check)
        store.flush()
        if profile:
            profile.disable()
        return time.process_time() - begun


def worker_on_schedule(config: Any, seconds: float) -> tuple[float, int, float]:
    """A real prober running its monitors on their schedule (``Prober.run``, as a worker
    runs it) for ``seconds`` after one interval's warm-up, each check into a frame as a
    worker batches them (``_Batch``, to a socket pair's other end, read and dropped): CPU
    seconds, checks made, and their start lag p99 in seconds."""
    import socket

    from tether.monitor.checks._prober import Prober
    from tether.monitor.runtime._workers import _Batch

    prober = Prober()
    prober.assign(config.monitors)
    interval = config.monitors[0].interval
    made: list[float] = []

    async def main() -> tuple[float, int, float]:
        ours, theirs = socket.socketpair()
        _, writer = await asyncio.open_unix_connection(sock=ours)
        reader, _w = await asyncio.open_unix_connection(sock=theirs)

        async def drain() -> None:
            while await reader.read(1 << 16):
                pass

        drained = asyncio.ensure_future(drain())
        batch = _Batch(writer)

        def sink(check: Any) -> None:
            made.append(check.record.lag_ms or 0.0)
            batch.add(check)

        stop = asyncio.Event()
        run = asyncio.ensure_future(prober.run(stop, sink))
        await asyncio.sleep(interval)
        made.clear()
        began = time.process_time()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - began
        count = len(made)
        lags = sorted(made)
        stop.set()
        await run
        writer.close()
        drained.cancel()
        return cpu, count, lags[int(0.99 * (len(lags) - 1))] / 1000 if lags else float("nan")

    return run_on(MONITOR_LOOP, main())


def bare_aiohttp(urls: list[str], total: int) -> float:
    import aiohttp

    async def main() -> float:
        connector = aiohttp.TCPConnector(force_close=True, limit=CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def get(url: str) -> None:
                async with session.get(url) as r:
                    await r.read()
                    if r.status != 200:
                        raise SystemExit(f"bare aiohttp: {r.status}")

            items = [f"http://{u}/health/{i}" for i, u in enumerate(urls)]
            await _loops(get, items, 512)
            began = time.process_time()
            t0 = os.times()
            await _loops(get, items, total)
            t1 = os.times()
            KERNEL.append(
                (t1.system - t0.system) / max(1e-9, t1.user + t1.system - t0.user - t0.system)
            )
            return time.process_time() - began

    return run_on(MONITOR_LOOP, main())


KERNEL: list[float] = []


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def show_profile(profile: cProfile.Profile, checks: int, lines: int = 35) -> None:
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines)
    print(f"({checks:,} checks)")


def measure(args: argparse.Namespace) -> Section:
    section = Section("1. CPU per 1,000 checks, the worker's and the coordinator's halves")
    rows: list[tuple[str, ...]] = []
    workers: list[float] = []
    coordinators: list[float] = []
    peers: list[float] = []
    with target_servers(2, 16, SUBNET) as targets:
        urls = [a for t in targets for a in t.addresses]
        config = config_for(urls, args.monitors)
        if not args.python_gc:
            from tether.monitor.runtime._loop import freeze

            freeze(quiet=True)
        per = 1000 / args.checks
        for r in range(args.rounds):
            profile = cProfile.Profile() if args.profile else None
            w_prof = profile if args.profile == "worker" else None
            c_prof = profile if args.profile == "coordinator" else None
            w, frames = worker_half(config, args.checks, w_prof)
            c = coordinator_half(config, frames, c_prof)
            p = bare_aiohttp(urls, args.checks)
            workers.append(w * per)
            coordinators.append(c * per)
            peers.append(p * per)
            print(
                f"  round {r + 1}: worker {w * per:.3f}, coordinator {c * per:.3f}, together "
                f"{(w + c) * per:.3f} CPU s per 1,000 checks; bare aiohttp {p * per:.3f} "
                f"per 1,000 GETs; in the kernel {KERNEL[-2]:.0%} / {KERNEL[-1]:.0%}; "
                f"load average {load_average()}",
                flush=True,
            )
            if profile is not None:
                show_profile(profile, args.checks)
    w, c, p = median(workers), median(coordinators), median(peers)
    rows.append(("the worker: probe, judge, frame", f"{w:.3f}", f"{w / p:.2f} x"))
    rows.append(("the coordinator: unpickle, take_check, store", f"{c:.3f}", f"{c / p:.2f} x"))
    rows.append(("together", f"{w + c:.3f}", f"{(w + c) / p:.2f} x"))
    rows.append(("bare aiohttp, a fresh connection per GET (the peer)", f"{p:.3f}", "1.00 x"))
    section.notes.append(
        f"{args.monitors:,} HTTP monitors, each on a URL of its own on {len(urls)} loopback "
        f"addresses (2 target processes); {args.checks:,} checks a round, {args.rounds} "
        f"rounds, medians; event loop: {MONITOR_LOOP}; the collector: "
        + ("Python's thresholds, nothing frozen" if args.python_gc else "the monitor's")
        + "; load average at the end "
        f"{load_average()}."
    )
    section.tables.append(
        table(
            "CPU s per 1,000 checks (process time, every thread)",
            ("part", "CPU s per 1,000", "of bare aiohttp's per 1,000 GETs"),
            rows,
        )
    )
    section.verdicts.append(
        f"checkcost: CPU per 1,000 checks, coordinator and workers together: {w + c:.3f} s "
        f"({(w + c) / p:.2f} x bare aiohttp's {p:.3f}) (target <= {TARGET}): {met(w + c <= TARGET)}"
    )
    return section


def part(which: str, n: int, given: str) -> None:
    """One part for ``n`` checks, in a fresh interpreter under callgrind: ``given`` is the
    targets' addresses (worker, aiohttp), or the file of frames (coordinator).  The
    collector is the monitor's (``freeze`` once the monitors are built)."""
    from tether.monitor.runtime._loop import freeze

    if which == "coordinator":
        monitors, frames = pickle.loads(Path(given).read_bytes())
        urls = ["127.0.0.1"]
        kept, count = [], 0
        for frame in frames:
            if count >= n:
                break
            kept.append(frame)
            count += len(pickle.loads(memoryview(frame)[4:]).checks)
        config = config_for(urls, monitors)
        freeze(quiet=True)
        coordinator_half(config, kept, None)
    elif which == "worker":
        urls = given.split(",")
        if os.environ.get("BENCH_REFUSED") == "1":  # the same addresses, a port nobody has
            urls = [f"{u.rsplit(':', 1)[0]}:1" for u in urls]
        config = config_for(urls, instruction_monitors())
        freeze(quiet=True)
        worker_half(config, n, None)
    else:
        freeze(quiet=True)
        bare_aiohttp(given.split(","), n)


INSTRUCTION_MONITORS = 1024


def instruction_monitors() -> int:
    """The monitors the worker's part checks in turn under callgrind: 1,024, or
    ``--instruction-monitors``' (passed on in the environment).  Past 4,096 URLs (a
    worker's share of some 8,000 monitors) a cache keyed by URL holds fewer than it
    checks, as a real fleet's worker does."""
    return int(os.environ.get("BENCH_INSTRUCTION_MONITORS", INSTRUCTION_MONITORS))


def instructions(which: str, n: int, given: str) -> int:
    """Instructions callgrind collected for a fresh interpreter running ``which``."""
    return collected(__file__, ["--part", which, str(n), given])


def counted(n: int, parts: tuple[str, ...] = ("worker", "coordinator", "aiohttp")) -> Section:
    """Instructions per check of each part: runs of ``n`` and ``n / 4`` checks, the
    difference over the difference (start-up, imports and warm-up cancel out)."""
    section = Section(
        "2. Instructions per check (callgrind), the worker's and the coordinator's halves"
    )
    small = n // 4
    with target_servers(2, 16, SUBNET) as targets, tempfile.TemporaryDirectory() as tmp:
        urls = [a for t in targets for a in t.addresses]
        config = config_for(urls, instruction_monitors())
        _, frames = worker_half(config, n, None)
        framed = Path(tmp) / "frames.pickle"
        framed.write_bytes(pickle.dumps((instruction_monitors(), frames)))
        found: dict[str, float] = {}
        for which in parts:
            given = str(framed) if which == "coordinator" else ",".join(urls)
            big, little = instructions(which, n, given), instructions(which, small, given)
            found[which] = (big - little) / (n - small)
            print(f"  {which}: {found[which]:,.0f} instructions per check", flush=True)
    nan = float("nan")
    w, c, p = (found.get(k, nan) for k in ("worker", "coordinator", "aiohttp"))
    rows = [
        ("the worker: probe, judge, frame", f"{w:,.0f}", f"{w / p:.2f} x"),
        ("the coordinator: unpickle, take_check, store", f"{c:,.0f}", f"{c / p:.2f} x"),
        ("together", f"{w + c:,.0f}", f"{(w + c) / p:.2f} x"),
        ("bare aiohttp, a fresh connection per GET (the peer)", f"{p:,.0f}", "1.00 x"),
    ]
    section.notes.append(
        f"callgrind (user-space instructions of this process only: the kernel's work in "
        f"connect and send is not counted), runs of {n:,} and {small:,} checks, "
        f"{instruction_monitors():,} monitors; PYTHONHASHSEED=0."
        + (
            " The worker's checks: to a port nothing listens on, each refused (--refused)."
            if os.environ.get("BENCH_REFUSED") == "1"
            else ""
        )
    )
    section.tables.append(
        table("Instructions per check", ("part", "instructions", "of bare aiohttp's a GET"), rows)
    )
    return section


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=20_000, help="checks a round")
    parser.add_argument("--monitors", type=int, default=20_000, help="monitors assigned")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--python-gc",
        action="store_true",
        help="Python's collector thresholds, nothing frozen (not the monitor's)",
    )
    parser.add_argument("--profile", choices=("worker", "coordinator"))
    parser.add_argument(
        "--schedule",
        type=float,
        metavar="RATE",
        help="instead: one worker on its real schedule at RATE checks a second",
    )
    parser.add_argument("--window", type=float, default=20.0, help="--schedule's seconds")
    parser.add_argument(
        "--instructions",
        type=int,
        metavar="N",
        help="also count instructions per check under callgrind, runs of N and N/4 checks",
    )
    parser.add_argument(
        "--instruction-monitors",
        type=int,
        metavar="M",
        help="the monitors --instructions' worker part checks in turn (1,024)",
    )
    parser.add_argument(
        "--refused",
        action="store_true",
        help="--instructions' worker part checks a port nothing listens on (a mass outage)",
    )
    parser.add_argument(
        "--parts",
        default="worker,coordinator,aiohttp",
        help="the parts --instructions counts (default worker,coordinator,aiohttp)",
    )
    parser.add_argument("--part", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    args = parser.parse_args()
    if args.part:
        part(args.part[0], int(args.part[1]), args.part[2])
        return 0
    started = time.perf_counter()
    made_by = versions()
    print(f"{os.cpu_count()} cores; {made_by}; load average {load_average()}", flush=True)
    if args.schedule:
        with target_servers(2, 16, SUBNET) as targets:
            urls = [a for t in targets for a in t.addresses]
            config = config_for(urls, args.monitors, args.monitors / args.schedule)
            if not args.python_gc:
                from tether.monitor.runtime._loop import freeze

                freeze(quiet=True)
            for _ in range(args.rounds):
                cpu, count, lag = worker_on_schedule(config, args.window)
                print(
                    f"  one worker on its schedule, {args.schedule:g} checks/s due: {count:,} "
                    f"checks, {cpu / count * 1000:.3f} CPU s per 1,000, lag p99 {lag * 1000:.0f} "
                    f"ms; load average {load_average()}",
                    flush=True,
                )
        return 0
    sections = [measure(args)]
    if args.instruction_monitors:
        os.environ["BENCH_INSTRUCTION_MONITORS"] = str(args.instruction_monitors)
    if args.refused:
        os.environ["BENCH_REFUSED"] = "1"
    if args.instructions:
        sections.append(counted(args.instructions, tuple(args.parts.split(","))))
    for section in sections:
        section.seconds = time.perf_counter() - started
        section.show()
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_checkcost.py", *sys.argv[1:]])
        seconds = time.perf_counter() - started
        write_part(args.write, HEADING, command, sections, seconds, made_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
