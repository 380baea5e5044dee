"""Restarts: what keeping every state through a restart costs (issue 44 §1).

Run: python benchmarks/bench_restart.py [--quick] [--write benchmarks/history/bench_restart.md]

1. A state change.  What the runner saves at each state change of a monitor now holds
   what its location published (its state, since when, the kind, detail and host of its
   failure) beside the detector's state, so that a restart keeps the cause.  Measured:
   ``SavedStates.save`` (export, the published facts, queued) against the detector's
   export queued alone (what was saved before), in microseconds of this process per
   change; and the SQLite writer's commit of 20,000 of each, per change.  No write is
   added: the same row carries more.
2. A check.  ``Detector.observe`` now notes when the newest check it took was made (one
   comparison and one assignment).  Measured: microseconds per check over 10,000
   monitors checked six times each, passing and failing; the peer is the same loop over
   a ``Detector`` whose ``observe`` undoes that note (a subclass here: it pays a little
   more than the code before did), rounds interleaved in the same run.
3. A restart.  Every monitor's state is taken back at start with the checks stored
   since it was saved, given to its detector again (``SavedStates.read`` and
   ``restore_all``): 10,000 and 60,000 monitors at a 60 s interval, their states saved
   by a checkpoint five minutes before the stop (five checks each since, in the store).
   The peer is what a start did before: the saved states read and restored alone.
   Seconds of this process, SQLite store.

The targets: a state change's save costs at most 50 µs more (5% of the ~1 ms of CPU a
state change costs at scale, which issue 46 wants halved, not grown); a check no more than
measurement noise (within 5%); a restart of 60,000 monitors after a SIGTERM (one more
read, which finds nothing) no slower than before, after a ``kill -9`` (five checks of
each to read and count again) at most 5 times the states alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _report import Section, commit, met, table, write_part

from tether._kinds import Kind
from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.engine._detect import Detector, Observation
from tether.monitor.runtime._loop import paused_collector
from tether.monitor.runtime._saved import SavedStates, state_prefix
from tether.monitor.store import SQLiteStore

EPOCH = 1_800_000_000.0
INTERVAL = 60.0


class Holder:
    """What the saved states ask of the runner, and nothing else."""

    def __init__(self, store: SQLiteStore, monitors: int) -> None:
        lines = [f"  - {{name: m{i:06d}, url: 'http://127.0.0.1:9/'}}" for i in range(monitors)]
        self.store = store
        self.config = parse_config(
            "defaults: {interval: 60s}\nmonitors:\n" + "\n".join(lines) + "\n"
        )
        self.by_name = {m.name: m for m in self.config.monitors}
        self.wall: Callable[[], float] = lambda: EPOCH + 600
        self.engine: Any = None

    def saved_states(self, detector: Detector) -> SavedStates:
        here = self.config.locations[0]
        return SavedStates(self, detector, here, state_prefix(self.config, here), shared=True)


def published(name: str) -> LocationState:
    return LocationState(
        name, "local", State.DOWN, EPOCH, "2 consecutive checks failed",
        Kind.CONNECT_REFUSED, "127.0.0.1:9 refused the connection", "127.0.0.1:9", 1.2,
    )  # fmt: skip


def best(runs: list[float]) -> float:
    return min(runs)


def state_change(changes: int, rounds: int) -> Section:
    """Microseconds per saved change, with and without the published facts."""
    section = Section("A state change: what is saved with it")
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "t.db", batch_seconds=3600)
        holder = Holder(store, 1)
        detector = Detector()
        saved = holder.saved_states(detector)
        names = [f"m{i:06d}" for i in range(changes)]
        for name in names:
            detector.observe(Observation(name, False, EPOCH, None, Kind.CONNECT_REFUSED), EPOCH)
        facts = {name: published(name) for name in names}
        timings: dict[str, list[float]] = {"now": [], "before": []}
        commits: dict[str, list[float]] = {"now": [], "before": []}
        for _ in range(rounds):
            for which in ("before", "now"):
                began = time.perf_counter()
                if which == "now":
                    for name in names:
                        saved.save(name, facts[name])
                else:
                    for name in names:
                        exported = detector.export(name)
                        assert exported is not None
                        store.save_state(saved.key(name), exported)
                timings[which].append((time.perf_counter() - began) / changes * 1e6)
                began = time.perf_counter()
                store.flush()
                commits[which].append((time.perf_counter() - began) / changes * 1e6)
        store.close()
    now, before = best(timings["now"]), best(timings["before"])
    now_c, before_c = best(commits["now"]), best(commits["before"])
    rows = [
        ("the detector's state alone (before)", before, before_c),
        ("with what the location published (now)", now, now_c),
    ]
    section.tables.append(
        table(
            f"{changes:,} changes, best of {rounds} rounds, microseconds per change",
            ("saved", "queued (event loop)", "committed (writer thread)", "together"),
            [(what, f"{q:.1f}", f"{c:.1f}", f"{q + c:.1f}") for what, q, c in rows],
        )
    )
    added = now + now_c - before - before_c
    section.verdicts.append(
        f"a state change's save: {now + now_c:.1f} µs against {before + before_c:.1f} µs, "
        f"{added:+.1f} µs (target <= 50 µs, 5% of the ~1 ms a change costs): {met(added <= 50)}"
    )
    return section


class _Unnoted(Detector):
    """The peer: ``observe`` without noting the newest check's time."""

    def observe(self, result: Observation, now: float) -> list[Any]:
        entry = self._entry(result.monitor)
        through = entry.through
        events = super().observe(result, now)
        entry.through = through
        return events


def per_check(monitors: int, rounds: int) -> Section:
    """Microseconds per check of ``monitors`` monitors checked six times each, with and
    without the note, the two interleaved round by round."""
    section = Section("A check: the time of the newest one noted")
    rows, verdicts = [], []
    for ok in (True, False):
        seen = [
            Observation(f"m{i:06d}", ok, EPOCH + k * INTERVAL, 12.0 + k if ok else None,
                        None if ok else Kind.CONNECT_REFUSED)
            for k in range(6)
            for i in range(monitors)
        ]  # fmt: skip
        found: dict[str, list[float]] = {"now": [], "peer": []}
        for _ in range(rounds):
            for which, cls in (("peer", _Unnoted), ("now", Detector)):
                detector = cls()
                began = time.perf_counter()
                for o in seen:
                    detector.observe(o, o.timestamp)
                found[which].append((time.perf_counter() - began) / len(seen) * 1e6)
        now, peer = statistics.median(found["now"]), statistics.median(found["peer"])
        what = "passing" if ok else "failing"
        rows.append((what, f"{peer:.2f}", f"{now:.2f}", f"{now / peer:.3f}"))
        verdicts.append(
            f"a {what} check: {now:.2f} µs against {peer:.2f} µs without the note, "
            f"{now / peer:.3f} x (target <= 1.05 x): {met(now / peer <= 1.05)}"
        )
    section.tables.append(
        table(
            f"Detector.observe over {monitors:,} monitors, 6 checks each, median of "
            f"{rounds} rounds, µs per check",
            ("check", "without the note (peer)", "with it (now)", "ratio"),
            rows,
        )
    )
    section.verdicts += verdicts
    return section


def seed(path: Path, monitors: int, *, clean: bool) -> tuple[Holder, SQLiteStore]:
    """Five checks of each monitor stored after its state was saved by a checkpoint (a
    ``kill -9`` five minutes later); ``clean``: saved again at exit, after them."""
    store = SQLiteStore(path)
    holder = Holder(store, monitors)
    detector = Detector()
    saved = holder.saved_states(detector)
    for i in range(monitors):
        name = f"m{i:06d}"
        for k in range(11):
            at = EPOCH + k * INTERVAL
            detector.observe(Observation(name, True, at, 10.0 + k), at)
            if k == 5 or (clean and k == 10):
                saved.save(name, None)
            if k > 5:
                store.record(ProbeRecord(name, at, True, None, 10.0 + k))
    store.flush()
    return holder, store


def restart(sizes: tuple[int, ...], rounds: int) -> Section:
    section = Section("A restart: every state taken back with the checks stored since")
    rows, verdicts = [], []
    for size in sizes:
        for clean in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                holder, store = seed(Path(tmp) / "t.db", size, clean=clean)
                found: dict[str, list[float]] = {"now": [], "before": [], "collected": []}
                for _ in range(rounds):
                    began = time.perf_counter()
                    detector = Detector()
                    for name, data in store.load_state().items():
                        detector.restore(name.removeprefix("detector:"), data)
                    found["collected"].append(time.perf_counter() - began)
                    began = time.perf_counter()
                    with paused_collector():  # as the runner restores
                        detector = Detector()
                        for name, data in store.load_state().items():
                            detector.restore(name.removeprefix("detector:"), data)
                    found["before"].append(time.perf_counter() - began)
                    began = time.perf_counter()
                    with paused_collector():
                        saved = holder.saved_states(Detector())
                        restored = saved.restore_all(saved.read())
                    found["now"].append(time.perf_counter() - began)
                    assert len(restored) == size
                    assert saved.detector.through("m000000") == EPOCH + 10 * INTERVAL
                store.close()
            now, before = best(found["now"]), best(found["before"])
            collected = best(found["collected"])
            stop = "SIGTERM (saved at exit)" if clean else "kill -9 (5 checks since)"
            figures = (collected, before, now)
            rows.append((f"{size:,}", stop, *(f"{f:.2f}" for f in figures), f"{now / before:.2f}"))
            if size == max(sizes) and clean:
                verdicts.append(
                    f"{size:,} monitors after a {stop}: {now:.2f} s against {collected:.2f} s "
                    f"before, {now / collected:.2f} x (target <= 1.0 x): {met(now <= collected)}"
                )
            elif size == max(sizes):
                verdicts.append(
                    f"{size:,} monitors after a {stop}: {now:.2f} s, {now / before:.2f} x the "
                    f"states alone (target <= 5.0 x): {met(now / before <= 5.0)}"
                )
    header = (
        "monitors",
        "stopped by",
        "states alone, collector running (before)",
        "states alone, collector paused",
        "with the checks since (now)",
    )
    section.tables.append(table(f"seconds, best of {rounds} rounds", (*header, "ratio"), rows))
    section.verdicts += verdicts
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the smoke test)")
    parser.add_argument("--write", metavar="PATH", help="write the results into PATH")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    quick = args.quick
    sections = [
        state_change(2_000 if quick else 20_000, 2 if quick else 5),
        per_check(500 if quick else 10_000, 3 if quick else 9),
        restart((500,) if quick else (10_000, 60_000), 1 if quick else 3),
    ]
    for s in sections:
        s.show()
    if args.write:
        command = "python benchmarks/bench_restart.py" + (" --quick" if quick else "")
        write_part(
            args.write,
            "# Benchmark results: restarts (issue 44 §1)",
            command,
            sections,
            time.perf_counter() - began,
            f"Python {sys.version.split()[0]}, commit {commit()}; load average "
            f"{load_before:.1f} at the start and {os.getloadavg()[0]:.1f} at the end (the "
            "machine's other work: the ratios are taken within each round)",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
