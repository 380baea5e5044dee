"""The SQLite store's CPU per result at fleet size, and the roll-ups' part of it.

Run: python benchmarks/bench_store_writes.py [--monitors 120000] [--rounds 3]

Issue 46 §3: py-spy on the real coordinator at 120,000 monitors (history/bench_mass.md,
section 21) put 46% of its samples in the store's writer thread, the roll-up statements
the largest part.  This measures that path alone, in one process: a real
:class:`~tether.monitor.store.SQLiteStore` on a fresh file (WAL, as the monitor opens
it), one steady round of a passing result per monitor written first (history), then
``--rounds`` rounds as a wave writes them, failing and passing in turn: a result per
monitor, and for every third monitor a state change and a detector state of about the
size the detector saves.  CPU is the process's (``getrusage``: the queueing thread and
the store's writer), from the first queued result to the last commit (``flush``), per
result.

The peers, each a fresh file in the same run, so that the ratios hold on a loaded
machine:

- **results alone**: the same writes with no roll-up statement (``PERIODS`` emptied),
  the least a stored check can cost with this schema;
- **the minute's roll-up**: the minute's statement alone;
- **every roll-up**: minute, hour and day, what the monitor does.

The difference between the last two is what the hour and day rows cost, updated in place
a batch at a time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.store import SQLiteStore
from tether.monitor.store.sqlite import _store as sqlite_store

T0 = 1_800_000_000.0
MINUTE = "the minute's roll-up"
VARIANTS = {
    "results alone": {},
    MINUTE: {"minute": 60},
    "every roll-up": dict(sqlite_store.PERIODS),
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(folder: Path, monitors: int, rounds: int, periods: dict[str, int]) -> float:
    """CPU seconds per result written, with the roll-ups of ``periods``."""
    kept = sqlite_store.PERIODS
    sqlite_store.PERIODS = periods  # type: ignore[misc]
    try:
        store = SQLiteStore(folder / "t.db")
        names = [f"m{i:06d}" for i in range(monitors)]
        for i, name in enumerate(names):
            store.record(ProbeRecord(name, T0 + i * 60 / monitors, True, latency_ms=1.0))
        store.flush()
        began = _cpu()
        at = T0 + 60
        baseline = [1.0] * 40
        for r in range(rounds):
            ok = r % 2 == 1
            for i, name in enumerate(names):
                ts = at + i * 60 / monitors
                kind = None if ok else Kind.CONNECT_REFUSED
                store.record(
                    ProbeRecord(name, ts, ok, kind, 1.0 if ok else None, "" if ok else "refused")
                )
                if i % 3 == 0:
                    store.record_state(name, ts, State.UP if ok else State.DOWN)
                    store.save_state(name, {"failures": i % 3, "baseline": baseline})
            at += 60
        store.flush()
        spent = _cpu() - began
        store.close()
        return spent / (monitors * rounds)
    finally:
        sqlite_store.PERIODS = kept  # type: ignore[misc]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--monitors", type=int, default=120_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores; load average {load}")
    print(f"{args.monitors:,} monitors, {args.rounds} rounds of a result each")
    got: dict[str, float] = {}
    for label, periods in VARIANTS.items():
        folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
        try:
            got[label] = run(folder, args.monitors, args.rounds, periods)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"  {label:22} {got[label] * 1e6:6.1f} µs of CPU a result", flush=True)
    alone = got["results alone"]
    every = got["every roll-up"]
    print(
        f"every roll-up / results alone: {every / alone:.2f} x; the roll-ups "
        f"{(every - alone) / every:.0%} of a result's cost, the hour's and the day's "
        f"{(every - got[MINUTE]) / every:.0%}"
    )
    print(f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
