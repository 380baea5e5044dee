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
- **every roll-up, batch by batch**: minute, hour and day rows updated with each batch,
  what the monitor did before the folds (``FOLDED`` emptied);
- **every roll-up, folded**: what the monitor does now: the minute's rows with each
  batch, the hour's and the day's folded every ``FOLD_EVERY`` seconds of the fleet's
  time (the bench folds after each ``FOLD_EVERY / 60`` rounds, the rounds being a 60 s
  interval's, and once at the end, as a stop does).

The difference between the batch-by-batch variant and the minute's is what the hour and
day rows cost updated in place a batch at a time; the folded variant's, what they cost now.
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
from tether.monitor.store import SQLiteStore, _results
from tether.monitor.store.sqlite import _store as sqlite_store

T0 = 1_800_000_000.0
MINUTE = "the minute's roll-up"
BATCHED = "every roll-up, batch by batch"
FOLDED = "every roll-up, folded"
VARIANTS: dict[str, tuple[dict[str, int], bool]] = {
    "results alone": ({}, False),
    MINUTE: ({"minute": 60}, False),
    BATCHED: (dict(sqlite_store.PERIODS), False),
    FOLDED: (dict(sqlite_store.PERIODS), True),
}
"""Each variant's roll-up periods, and whether the hour's and the day's are folded."""
FOLD_ROUNDS = round(vars(_results)["FOLD_EVERY"] / 60)


def _fold_every(seconds: float) -> float:
    """The stores' fold period (``_results.FOLD_EVERY``) set to ``seconds``; what it was."""
    names = vars(_results)
    was, names["FOLD_EVERY"] = names["FOLD_EVERY"], seconds
    return float(was)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(folder: Path, monitors: int, rounds: int, periods: dict[str, int], fold: bool) -> float:
    """CPU seconds per result written, with the roll-ups of ``periods``; with ``fold``,
    the hour's and the day's folded each :data:`FOLD_ROUNDS` rounds, else batch by batch."""
    kept = sqlite_store.PERIODS, sqlite_store.FOLDED, _fold_every(float("inf"))
    sqlite_store.PERIODS = periods  # type: ignore[misc]
    sqlite_store.FOLDED = kept[1] if fold else ()  # type: ignore[misc]
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
            if (r + 1) % FOLD_ROUNDS == 0:
                store.flush()  # a fold, as FOLD_EVERY of the fleet's time makes one
        store.flush()
        spent = _cpu() - began
        store.close()
        return spent / (monitors * rounds)
    finally:
        sqlite_store.PERIODS, sqlite_store.FOLDED = kept[:2]  # type: ignore[misc]
        _fold_every(kept[2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--monitors", type=int, default=120_000)
    parser.add_argument("--rounds", type=int, default=FOLD_ROUNDS)
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores; load average {load}")
    print(f"{args.monitors:,} monitors, {args.rounds} rounds of a result each")
    got: dict[str, float] = {}
    for label, (periods, fold) in VARIANTS.items():
        folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
        try:
            got[label] = run(folder, args.monitors, args.rounds, periods, fold)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"  {label:30} {got[label] * 1e6:6.1f} µs of CPU a result", flush=True)
    alone, minute = got["results alone"], got[MINUTE]
    batched, folded = got[BATCHED], got[FOLDED]
    print(
        f"batch by batch / results alone: {batched / alone:.2f} x, the hour's and the day's "
        f"{(batched - minute) / batched:.0%} of a result's cost"
    )
    print(
        f"folded / results alone: {folded / alone:.2f} x, the hour's and the day's "
        f"{(folded - minute) / folded:.0%} of a result's cost"
    )
    print(f"folded / batch by batch: {folded / batched:.2f} x")
    print(f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
