"""The coordinator's CPU per state change, on its real path, beside a steady check's.

Run: python benchmarks/bench_change.py [--monitors 20000] [--interval 10] [--rounds 3]
     [--profile outage|recovery|steady] [--instructions N] [--order random|names]
     [--write benchmarks/history/bench_change.md]

Issue 46 section 3: a 120,000-monitor outage seen within one interval with ``workers: 2``
needs the coordinator to take a state change in well under 500 µs of its CPU (the real
process spent 712, ``bench_mass.py``'s section 13).  ``bench_mass.py`` measures the whole
monitor in real time, minutes a run and most of the machine; this measures the
coordinator's part of a change alone, on CPU time and on callgrind's instructions, so
that a change to the path can be seen under load:

- **the frames the workers send**: N HTTP monitors (``m000000``..., on 32 loopback
  addresses, ``[STATUS] == 200``, one ``webhook`` channel, ``ops``, in ``defaults``: as
  ``bench_mass.py``'s file), read by ``parse_config`` from YAML.  Each check is a real
  prober's (``Prober.check`` of a live HTTP server for a pass, of a closed port on the
  same address for a refusal, one of each per address) made into each monitor's by its
  name and time; every monitor is checked once an interval, at a point of it drawn at
  random as the scheduler draws a monitor's first run (``--order names``: evenly, in
  the order of the names, as sections 1 to 5 of the history were measured), its
  confirmation re-probes ``confirm_delay`` apart as the detector asks for them (three
  failures in a row to go down, two passes to come up); the checks are put in frames as a
  worker batches them (``_workers._Batch``: per worker, ``worker_of``, 10 ms of checks or
  512, pickled), made before any measure;
- **the coordinator's path**: a real :class:`tether.monitor.Runner` on a real SQLite store
  and outbox, the log set up as ``tether monitor --log-format json`` sets it (its writer
  thread to ``/dev/null``), the interpreter's switch interval as ``run_monitor`` sets
  it.  Each frame is read back (``pickle.loads``) and each check taken
  (``Runner.take_check``: the store, the metrics, the detector; a change through
  ``act_on_detection``, the quorum, the incident engine, ``commit_incidents``, the
  outbox's alerts and the log line); the re-probes asked for in the frame sent as the
  fleet sends them (one ``_Reprobes`` frame a worker, pickled).  The wall clock the
  runner reads is the frames' time;
- **the phases**: the cold start (unknown -> up), a steady interval (every monitor
  checked once, nothing changing: the peer), the mass outage (up -> down) and the mass
  recovery (down -> up), each on a fresh runner over the same store's history (the
  cold start and one steady interval made before each measured phase, unmeasured), the
  store's writer flushed and the log lines written before the phase's clock stops.
  CPU: ``time.process_time`` (every thread of the process: the store's writer and the
  log's thread too), the median over rounds; per change, the phase's CPU over its
  changes (so an outage's change includes its three checks, as ``bench_mass.py``'s
  figure does), and the ratio to a steady check; of it, the calling thread's
  (``time.thread_time``: what the event loop does in the monitor, the rest being the
  store's writer and the log's thread).

``--instructions N``: callgrind's instructions per change and per steady check, each the
difference of a run with the phase and one without, over N monitors, in fresh
interpreters (PYTHONHASHSEED=0).  The store's writer batches by real time, so a run that
callgrind slows (and a loaded machine slows further) commits smaller batches: compare
counts taken at the same load only.  ``--profile PHASE``: cProfile of one round's phase.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import heapq
import http.server
import io
import os
import pickle
import pstats
import random
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _callgrind import collected  # benchmarks/ is the script's own directory
from _report import Section, met, table, write_part  # benchmarks/ is the script's own directory

HEADING = "# Benchmark results: the coordinator's CPU per state change"
TARGET_US = 350.0
"""Coordinator CPU µs per change in the outage: under 500 for a 120,000-monitor wave in
one interval of one core, 350 to leave room for the API and the scrape (issue 46 §3)."""
HOSTS = 32
SUBNET = 72
FRAME_SECONDS = 0.01
FRAME_MAX = 512
WORKERS = 2
PHASES = ("cold start", "steady", "outage", "recovery")


# -- the checks the workers would send ----------------------------------------------------


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _servers() -> Iterator[tuple[list[str], int]]:
    """An HTTP server on each of the 32 addresses (one port), and a port none listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    servers = []
    port = 0
    for h in range(HOSTS):
        server = http.server.ThreadingHTTPServer((f"127.0.{SUBNET}.{h + 1}", port), _Ok)
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield [f"127.0.{SUBNET}.{h + 1}:{port}" for h in range(HOSTS)], closed
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def config_text(n: int, interval: float, addresses: list[str]) -> str:
    lines = [
        'alerts: [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/hook"}]',
        f'defaults: {{"interval": "{interval * 1000:.0f}ms", "alerts": ["ops"]}}',
        "monitors:",
    ]
    lines += [
        f"  - {{name: m{i:06d}, url: 'http://{addresses[i % HOSTS]}/health', "
        "conditions: ['[STATUS] == 200']}"
        for i in range(n)
    ]
    return "\n".join(lines) + "\n"


def templates(addresses: list[str], closed: int) -> tuple[list[Any], list[Any]]:
    """A real prober's pass and refusal at each address."""
    from tether.monitor.checks._prober import Prober
    from tether.monitor.config import parse_config

    up = parse_config(config_text(HOSTS, 60, addresses))
    down_addresses = [a.rsplit(":", 1)[0] + f":{closed}" for a in addresses]
    down = parse_config(config_text(HOSTS, 60, down_addresses))

    async def made(config: Any) -> list[Any]:
        prober = Prober()
        prober.assign(config.monitors)
        return [await prober.check(m.name, prober.mono()) for m in config.monitors]

    passes, refusals = asyncio.run(made(up)), asyncio.run(made(down))
    if not all(c.record.ok for c in passes) or any(c.record.ok for c in refusals):
        raise SystemExit("the template checks did not pass and fail as they should")
    return passes, refusals


@dataclass(frozen=True)
class Plan:
    """Each phase's frames, and what it should end in."""

    frames: dict[str, list[bytes]]
    checks: dict[str, int]
    start: dict[str, float]
    names: list[str]


def plan(
    n: int, interval: float, passes: list[Any], refusals: list[Any], order: str = "random"
) -> Plan:
    """Every phase's frames: each monitor checked once in its interval (evenly spread),
    then re-probed ``confirm_delay`` apart until its threshold is met."""
    from tether.monitor.checks._prober import Check
    from tether.monitor.runtime._workers import _Checks, _frame, worker_of

    names = [f"m{i:06d}" for i in range(n)]
    owner = [worker_of(name, WORKERS) for name in names]
    # Where each monitor falls in its interval: at random, as the scheduler places a
    # monitor's first run (Schedule.add), so that the checks reach the store in no order
    # of its keys (every table the store writes per monitor is keyed by its name); in
    # the names' order (``order="names"``, the first five sections of the history) the
    # monitors of one batch shared their pages, and a change cost the store's writer a
    # third of what it costs the real monitor.
    slot = list(range(n))
    if order == "random":
        random.Random(46).shuffle(slot)
    frames: dict[str, list[bytes]] = {}
    counts: dict[str, int] = {}
    starts: dict[str, float] = {}
    t0 = 1_800_000_000.0
    # (phase, template checks, checks a monitor): the detector's defaults, three failures
    # in a row down, two passes up (the cold start's first pass makes a monitor up).
    for phase, made, each in (
        ("cold start", passes, 1),
        ("steady", passes, 1),
        ("outage", refusals, 3),
        ("recovery", passes, 2),
    ):
        starts[phase] = t0
        due: list[tuple[float, int, int]] = []
        for i in range(n):
            at = t0 + interval * slot[i] / n
            for k in range(each):
                due.append((at + k * 1.0, i, k))
        heapq.heapify(due)
        out: list[bytes] = []
        open_: list[list[Any]] = [[] for _ in range(WORKERS)]
        ends = [0.0] * WORKERS
        while due:
            at, i, _ = heapq.heappop(due)
            w = owner[i]
            batch = open_[w]
            if batch and (at >= ends[w] or len(batch) >= FRAME_MAX):
                out.append(_frame(_Checks(batch)))
                batch = open_[w] = []
            if not batch:
                ends[w] = at + FRAME_SECONDS
            template = made[i % HOSTS]
            record = replace(template.record, monitor=names[i], ts=at)
            batch.append(Check(record, template.host, template.timings))
        out += [_frame(_Checks(b)) for b in open_ if b]
        frames[phase] = out
        counts[phase] = n * each
        t0 += interval + 5.0
    return Plan(frames, counts, starts, names)


# -- the coordinator's side ---------------------------------------------------------------


class _Fleet:
    """The worker fleet as the runner sees it: the re-probes asked for in a turn sent
    in one pickled frame a worker (``WorkerFleet._send_reprobes``), to nowhere."""

    def __init__(self) -> None:
        from tether.monitor.runtime._workers import worker_of

        self._of = worker_of
        self.asked: list[list[tuple[str, float]]] = [[] for _ in range(WORKERS)]
        self.count = 0

    def assign(self, monitors: Any) -> None:
        pass

    def update(self, monitors: Any, removed: Any = ()) -> None:
        pass

    def reprobe(self, name: str, delay: float) -> None:
        self.asked[self._of(name, WORKERS)].append((name, delay))
        self.count += 1

    def send(self) -> None:
        from tether.monitor.runtime._workers import _frame, _Reprobes

        for index, asked in enumerate(self.asked):
            if asked:
                _frame(_Reprobes(tuple(asked)))
                self.asked[index] = []

    async def run(self, stop: Any, sink: Any) -> None:
        pass


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def take(runner: Any, fleet: _Fleet, clock: Clock, frames: list[bytes]) -> None:
    """Every check of ``frames`` through the runner, as ``WorkerFleet._read`` hands them."""
    take_check = runner.take_check
    loads = pickle.loads
    for frame in frames:
        message = loads(memoryview(frame)[4:])
        checks = message.checks
        clock.now = checks[-1].record.ts
        for check in checks:
            take_check(check)
        fleet.send()


@dataclass
class Seen:
    """One phase as measured."""

    cpu: float
    changes: int
    asked: int
    opened: int
    main: float = 0.0
    """Of ``cpu``, the calling thread's: what the event loop does in the real process
    (the rest is the store's writer and the log's thread)."""


def phases(
    text: str,
    p: Plan,
    *,
    upto: str = PHASES[-1],
    profile: tuple[str, cProfile.Profile] | None = None,
) -> dict[str, Seen]:
    """Every phase up to ``upto`` in turn on one runner, each measured: its CPU seconds
    (the collector frozen before it, as a running monitor's is once every monitor ran:
    ``_rounds.py``), the state changes it made, re-probes asked for, incidents opened."""
    from tether.monitor import Runner
    from tether.monitor._state import State
    from tether.monitor.alerts import Outbox
    from tether.monitor.config import parse_config
    from tether.monitor.runtime._app import SWITCH_INTERVAL, channels_for
    from tether.monitor.runtime._log import logging_to
    from tether.monitor.runtime._loop import freeze
    from tether.monitor.store import SQLiteStore

    config = parse_config(text)
    want = {"cold start": State.UP, "steady": State.UP, "outage": State.DOWN}
    want["recovery"] = State.UP
    switch = sys.getswitchinterval()
    thresholds = gc.get_threshold()
    sys.setswitchinterval(SWITCH_INTERVAL)
    out: dict[str, Seen] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-change-") as tmp,
        SQLiteStore(Path(tmp) / "t.db") as store,
        open(os.devnull, "w") as sink,
        logging_to(sink, "json", own_process=True) as lines,
    ):
        clock = Clock(p.start["cold start"] - 1)
        fleet = _Fleet()
        outbox = Outbox(store, channels_for(config))
        runner = Runner(config, store, outbox, wall=clock, fleet=fleet)
        for phase in PHASES[: PHASES.index(upto) + 1]:
            freeze()
            opened = len(store.incidents(limit=1_000_000))
            asked = fleet.count
            prof = profile[1] if profile is not None and profile[0] == phase else None
            begun, begun_main = time.process_time(), time.thread_time()
            if prof is not None:
                prof.enable()
            take(runner, fleet, clock, p.frames[phase])
            store.flush()
            lines.flush()
            if prof is not None:
                prof.disable()
            cpu = time.process_time() - begun
            main = time.thread_time() - begun_main
            wrong = [n for n in p.names if runner.detector.state(n) is not want[phase]]
            if wrong:
                raise SystemExit(f"{phase}: {len(wrong)} not {want[phase]}, e.g. {wrong[:3]}")
            out[phase] = Seen(
                cpu,
                sum(1 for name in p.names if runner.since.get(name, 0) >= p.start[phase]),
                fleet.count - asked,
                len(store.incidents(limit=1_000_000)) - opened,
                main,
            )
        outbox.close()
    sys.setswitchinterval(switch)
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    return out


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def measure(args: argparse.Namespace, text: str, p: Plan) -> Section:
    section = Section("1. Coordinator CPU per state change, beside a steady check's")
    cpu: dict[str, list[float]] = {phase: [] for phase in PHASES}
    main: dict[str, list[float]] = {phase: [] for phase in PHASES}
    seen: dict[str, tuple[int, int, int]] = {}
    for r in range(args.rounds):
        profile = (args.profile, cProfile.Profile()) if args.profile and r == 0 else None
        for phase, got in phases(text, p, profile=profile).items():
            cpu[phase].append(got.cpu)
            main[phase].append(got.main)
            seen[phase] = (got.changes, got.asked, got.opened)
        if profile is not None:
            out = io.StringIO()
            stats = pstats.Stats(profile[1], stream=out)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
            if os.environ.get("BENCH_PROFILE_DUMP"):
                stats.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
            print(out.getvalue())
        print(
            f"  round {r + 1}: "
            + ", ".join(f"{ph} {cpu[ph][-1]:.2f} s" for ph in PHASES)
            + f"; load average {load_average()}",
            flush=True,
        )
    n = args.monitors
    steady = median(cpu["steady"]) / n * 1e6
    rows = []
    for phase in PHASES:
        changes, asked, opened = seen[phase]
        each = median(cpu[phase]) / (changes or n) * 1e6
        rows.append(
            (
                phase,
                f"{p.checks[phase]:,}",
                f"{changes:,}",
                f"{asked:,}",
                str(opened),
                f"{median(cpu[phase]):.2f}",
                f"{each:,.0f}" + ("" if changes else " (per check)"),
                f"{median(main[phase]) / (changes or n) * 1e6:,.0f}",
                f"{each / steady:.1f} x",
            )
        )
    outage = median(cpu["outage"]) / seen["outage"][0] * 1e6
    section.notes.append(
        f"{n:,} monitors at {args.interval:g} s, {HOSTS} addresses, {WORKERS} workers' frames; "
        f"{args.rounds} rounds, medians; load average at the end {load_average()}."
    )
    section.tables.append(
        table(
            "CPU of the coordinator's path (process time, every thread)",
            (
                "phase",
                "checks",
                "state changes",
                "re-probes asked",
                "incidents opened",
                "CPU s",
                "µs per change",
                "of it, the calling thread's (the loop's, in the monitor)",
                "of a steady check",
            ),
            rows,
        )
    )
    section.verdicts.append(
        f"change: coordinator CPU per change in the outage {outage:,.0f} µs, "
        f"{outage / steady:.1f} x a steady check's {steady:.0f} µs "
        f"(target <= {TARGET_US:.0f} µs): {met(outage <= TARGET_US)}"
    )
    return section


# -- instructions -------------------------------------------------------------------------


def part(text_file: str, phase: str, upto: bool) -> None:
    """Under callgrind: the phases up to ``phase``, or up to the one before it."""
    text, p = pickle.loads(Path(text_file).read_bytes())
    phases(text, p, upto=phase if upto else PHASES[PHASES.index(phase) - 1])


def counted(n: int, text: str, p: Plan) -> Section:
    section = Section("2. Instructions per change and per steady check (callgrind)")
    rows = []
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        given = Path(tmp) / "plan.pickle"
        given.write_bytes(pickle.dumps((text, p)))
        for phase in ("steady", "outage", "recovery"):
            big = collected(__file__, ["--part", str(given), phase, "1"])
            little = collected(__file__, ["--part", str(given), phase, "0"])
            found[phase] = (big - little) / n
            print(f"  {phase}: {found[phase]:,.0f} instructions per monitor", flush=True)
    steady = found["steady"]
    for phase in ("steady", "outage", "recovery"):
        rows.append((phase, f"{found[phase]:,.0f}", f"{found[phase] / steady:.1f} x"))
    section.notes.append(
        f"callgrind, {n:,} monitors, the phase's run less the same run without it "
        "(start-up and the phases before cancel out), over its monitors (a change, or a "
        "steady check); PYTHONHASHSEED=0."
    )
    section.tables.append(
        table(
            "Instructions per change (steady: per check)",
            ("phase", "instructions", "of a steady check"),
            rows,
        )
    )
    return section


def versions() -> str:
    import sqlite3

    return f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--monitors", type=int, default=20_000)
    parser.add_argument(
        "--interval",
        type=float,
        default=10.0,
        help="seconds; 20,000 monitors at 10 s send checks as densely as 120,000 at 60 s",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=PHASES)
    parser.add_argument("--instructions", type=int, metavar="N")
    parser.add_argument(
        "--order",
        choices=("random", "names"),
        default="random",
        help="where each monitor falls in its interval: at random, as the scheduler "
        "places it (default), or in the order of the names (sections 1-5)",
    )
    parser.add_argument("--part", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    args = parser.parse_args()
    if args.part:
        part(args.part[0], args.part[1], args.part[2] == "1")
        return 0
    started = time.perf_counter()
    made_by = versions()
    print(f"{os.cpu_count()} cores; {made_by}; load average {load_average()}", flush=True)
    with _servers() as (addresses, closed):
        passes, refusals = templates(addresses, closed)
    sections = []
    text = config_text(args.monitors, args.interval, addresses)
    sections.append(
        measure(args, text, plan(args.monitors, args.interval, passes, refusals, args.order))
    )
    if args.instructions:
        small = config_text(args.instructions, args.interval, addresses)
        counted_plan = plan(args.instructions, args.interval, passes, refusals, args.order)
        sections.append(counted(args.instructions, small, counted_plan))
    for section in sections:
        section.seconds = time.perf_counter() - started
        section.show()
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_change.py", *sys.argv[1:]])
        write_part(args.write, HEADING, command, sections, time.perf_counter() - started, made_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
