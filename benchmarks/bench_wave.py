"""Mass transitions: what a state change costs when every monitor changes state at once.

Run: python benchmarks/bench_wave.py [--sizes 100,1000,2000] [--profile]
     [--write benchmarks/history/bench_wave.md]

The steady-state benchmarks (bench_scale.py) start warm and nothing changes state; this one
measures the changes (issue 23): a cold start (every monitor unknown -> up), a mass outage
(every target refusing at once: up -> down, with the detector's confirmation re-probe) and
the mass recovery (down -> up).

Method.  In one process, on simulated time: the real :class:`tether.monitor.Runner` with a
real SQLite store and outbox, driven by ``tests/helpers/monitor_harness.py`` (the runner's tests'
harness: time moves only while the runner sleeps and no real I/O is in flight, so a wave
of thousands of changes is seen at the pace the runner can take it, not the pace of a
wall clock).  N ``tcp://`` monitors at a 10 s interval on 32 loopback hosts (127.0.1.1 to
127.0.1.32), each with the one alert channel (a collecting channel: the outbox's
deliveries are real, the webhook is not); every probe really connects on loopback, to
one listening socket while the targets are up, to a closed port once they refuse.  For
each phase: the simulated seconds from its start until every monitor is in the new state,
the CPU of this process (``time.process_time``: every thread, so the store's writer
thread is included) over the phase, per state change, and the alerts sent and incidents
opened (alerts: delivered by the phase's end; the outbox delivers on its own schedule,
so an outage's alerts can land during the recovery).  CPU per change includes the checks
made during the phase (three per monitor in an outage: the failed check and two
confirmations), so it is not zero at any N; what
matters is that it stays the same as N grows.  ``--profile`` prints the mass outage's
top functions under cProfile (the event loop's thread only).

Not measured here: the API's latency during the wave and ``workers: 2`` (both need the
real ``tether monitor`` process; to do), and sizes above 2,000 (the machine was shared).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import Section, table, write_part

from tests.helpers.monitor_harness import Harness
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.probe import ProbeOptions

HEADING = "# Benchmark results: mass transitions"
HOSTS = 32


@dataclass(frozen=True)
class Phase:
    seconds: float
    """Simulated seconds until every monitor was in the new state."""
    cpu: float
    """CPU seconds of this process over the phase."""
    alerts: int
    incidents: int


def _listen() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return sock


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wave(n: int, profile: bool) -> dict[str, Phase]:
    """Cold start, mass outage and mass recovery of ``n`` monitors."""
    listener = _listen()
    up_port, down_port = listener.getsockname()[1], _closed_port()
    lines = "\n".join(
        f"  - {{name: m{i}, url: 'tcp://127.0.1.{i % HOSTS + 1}:7000', interval: 10s, "
        "alerts: [ops]}"
        for i in range(n)
    )
    config = parse_config(
        f"alerts:\n  - {{name: ops, type: webhook, url: http://127.0.0.1:9/}}\nmonitors:\n{lines}\n"
    )
    refusing = False

    def route(target: str, options: ProbeOptions) -> str:
        return f"tcp://127.0.0.1:{down_port if refusing else up_port}"

    home = Path(tempfile.mkdtemp(prefix="bench-wave-"))
    h = Harness(home, config, probe=route)
    names = [f"m{i}" for i in range(n)]
    prof = cProfile.Profile()
    marks: dict[str, tuple[float, float, int, int]] = {}

    def mark(label: str) -> None:
        incidents = len(h.store.incidents(limit=1_000_000))
        marks[label] = (h.sim.now, time.process_time(), len(h.ops.got), incidents)

    def every(state: State) -> bool:
        return all(h.state(name) is state for name in names)

    def fail() -> None:
        nonlocal refusing
        refusing = True
        mark("down0")
        if profile:
            prof.enable()

    def down() -> None:
        prof.disable()
        mark("down1")

    def recover() -> None:
        nonlocal refusing
        refusing = False
        mark("up0")

    mark("cold0")
    h.drive(
        (lambda: every(State.UP), lambda: mark("cold1")),
        (lambda: True, fail),
        (lambda: every(State.DOWN), down),
        (lambda: True, recover),
        (lambda: every(State.UP), lambda: mark("up1")),
        limit=3600,
    )
    h.close()
    listener.close()
    if profile:
        print(f"\n-- mass outage of {n:,} monitors under cProfile (event loop's thread)")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)

    def phase(name: str) -> Phase:
        (t0, c0, a0, i0), (t1, c1, a1, i1) = marks[f"{name}0"], marks[f"{name}1"]
        return Phase(t1 - t0, c1 - c0, a1 - a0, i1 - i0)

    return {"cold start": phase("cold"), "mass outage": phase("down"), "recovery": phase("up")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="100,1000,2000")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    began = time.monotonic()
    rows: list[tuple[str, ...]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        for name, p in wave(n, args.profile).items():
            rows.append(
                (
                    f"{n:,}",
                    name,
                    f"{p.seconds:.1f}",
                    f"{p.cpu:.2f}",
                    f"{p.cpu / n * 1e6:,.0f}",
                    f"{p.alerts:,}",
                    f"{p.incidents:,}",
                )
            )
            print(" | ".join(rows[-1]), flush=True)
    section = Section(
        "1. Every monitor changing state at once (in-process, simulated time)",
        tables=[
            table(
                "Per phase: simulated seconds until every monitor changed, CPU of the process",
                (
                    "monitors",
                    "phase",
                    "seconds (simulated)",
                    "CPU s",
                    "CPU µs per change",
                    "alerts sent",
                    "incidents opened",
                ),
                rows,
            )
        ],
        notes=[
            f"{HOSTS} hosts, 10 s interval, one alert channel; CPU per change includes the "
            "checks of the phase (see the method)."
        ],
    )
    section.seconds = time.monotonic() - began
    section.show()
    if args.write:
        command = f"python benchmarks/bench_wave.py --sizes {args.sizes} --write {args.write}"
        made_by = f"Python {sys.version.split()[0]}"
        write_part(args.write, HEADING, command, [section], time.monotonic() - began, made_by)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
