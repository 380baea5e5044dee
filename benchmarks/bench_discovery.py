"""Discovery: what a change of k targets costs in a fleet of N discovered monitors.

Run: python benchmarks/bench_discovery.py [--quick] [--sizes 1000,10000,50000]
     [--changes 1,10,100] [--repeat 3]

Issue 44 section 4's target: a discovery change is applied as a change of the monitor
set, its cost proportional to the change, not a reload of every monitor.

Method.  In this process, on this machine's cores as they are (the script prints the
load it saw).  One ``file_sd`` source (a JSON file of N targets ``10.x.y.z:80`` in one
group, a template making a ``tcp://`` monitor of each) feeds a real
:class:`~tether.monitor.Runner` on a SQLite store in a temporary folder, through
:class:`~tether.monitor.runtime._discovery.Discovery`, as ``tether monitor`` runs it
(the prober is not started: what is measured is the bookkeeping, not probing).  After
the first read of the N targets, each round rewrites the file with k targets replaced
by k new ones and measures, on ``time.perf_counter``:

- **read**: ``Discovery.step()``: the file seen changed, read, parsed and made into
  monitors (a monitor already made of the same target and labels is kept, not made
  again);
- **apply**: ``Discovery.apply(runner)``: the change handed to the runner, and the
  discovered set written to the store;
- **peer, reload**: the same change of k given to ``Runner.reload`` as a whole
  configuration (the file's configuration with every discovered monitor), which is what
  every discovery change cost before issue 44: the runner's reload of every monitor.

Each figure is the median of ``--repeat`` rounds.  The verdicts: a change of k is
applied at least 100 x faster than the peer's reload at every N of 10,000 and more; and
its apply grows by at most 10 x from the smallest fleet to the largest for the same k
(what still grows with N is the configuration's tuple of references to its monitors,
made again in C at each change, a few nanoseconds a monitor).  The read grows with N,
as Prometheus's does: the whole file is read and parsed at each change of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _report import commit, table

from tether.monitor import Runner
from tether.monitor.alerts import Outbox
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.runtime._discovery import Discovery
from tether.monitor.store import SQLiteStore

CONFIG = """\
discover:
  - name: fleet
    file_sd: {files: [targets.json]}
    template: {url: "tcp://{{address}}", interval: 60s, labels: {team: "{{labels.team}}"}}
"""


def _address(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}:80"


class Fleet:
    """A runner fed by one ``file_sd`` source of ``n`` targets, the first ``lo`` left out."""

    def __init__(self, n: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tether-bench-discovery-"))
        self.n, self.lo, self.tick = n, 0, 1
        self.write()
        self.config = parse_config(CONFIG)
        self.store = SQLiteStore(self.folder / "t.db")
        self.runner = Runner(self.config, self.store, Outbox(self.store, {}))
        self.discovery = Discovery(self.config, str(self.folder))
        self.runner.discovery = self.discovery
        asyncio.run(self.discovery.step())
        self.discovery.apply(self.runner)
        assert len(self.runner.config.monitors) == n

    def write(self) -> None:
        targets = [_address(i) for i in range(self.lo, self.lo + self.n)]
        path = self.folder / "targets.json"
        path.write_text(json.dumps([{"targets": targets, "labels": {"team": "pay"}}]))
        self.tick += 1
        os.utime(path, ns=(self.tick * 10**9, self.tick * 10**9))

    def change(self, k: int) -> tuple[float, float]:
        """Replace k targets by k new ones: seconds of the read, and of the apply."""
        self.lo += k
        self.write()
        began = time.perf_counter()
        changed = asyncio.run(self.discovery.step())
        read = time.perf_counter()
        self.discovery.apply(self.runner)
        applied = time.perf_counter()
        assert changed
        return read - began, applied - read

    def reload(self, k: int) -> float:
        """The peer: the same change of k as a whole configuration given to the runner's
        reload (built beforehand, not timed)."""
        config = self.runner.config
        file_names = {m.name for m in self.config.monitors}
        kept = [m for m in config.monitors if m.name not in file_names][k:]
        made = parse_config(
            "monitors:\n"
            + "".join(
                f"  - {{name: 'peer/{_address(10_000_000 + self.lo + i)}', "
                f"url: 'tcp://{_address(10_000_000 + self.lo + i)}', interval: 60s}}\n"
                for i in range(k)
            )
        ).monitors
        self.lo += k
        whole: MonitorConfig = config.model_copy(update={"monitors": (*kept, *made)})
        began = time.perf_counter()
        self.runner.reload(whole)
        return time.perf_counter() - began

    def close(self) -> None:
        self.store.close()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--changes", default="1,10,100")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [500, 2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    changes = [1, 10] if args.quick else [int(k) for k in args.changes.split(",")]
    print(f"commit {commit()}, Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}")
    rows: list[tuple[str, ...]] = []
    applied: dict[tuple[int, int], float] = {}
    peers: dict[tuple[int, int], float] = {}
    for n in sizes:
        began = time.perf_counter()
        fleet = Fleet(n)
        print(f"N = {n:,}: first read and apply {time.perf_counter() - began:.1f} s", flush=True)
        for k in changes:
            rounds = [fleet.change(k) for _ in range(args.repeat)]
            read = statistics.median(r for r, _ in rounds)
            apply = statistics.median(a for _, a in rounds)
            peer = statistics.median(fleet.reload(k) for _ in range(args.repeat))
            applied[(n, k)], peers[(n, k)] = apply, peer
            rows.append(
                (f"{n:,}", f"{k:,}", _ms(read), _ms(apply), _ms(peer), f"{peer / apply:,.0f} x")
            )
            print(rows[-1], flush=True)
        fleet.close()
    print()
    print(
        table(
            "Change of k targets in a fleet of N (ms, median)",
            ("N", "k", "read", "apply", "peer: reload", "reload / apply"),
            rows,
        )
    )
    flat = all(applied[(sizes[-1], k)] <= 10 * applied[(sizes[0], k)] for k in changes)
    cheaper = all(
        100 * applied[(n, k)] <= peers[(n, k)] for n in sizes if n >= 10_000 for k in changes
    )
    print(f"\napply 100 x below the reload at N >= 10,000: {'met' if cheaper else 'MISSED'}")
    span = f"N = {sizes[0]:,} to {sizes[-1]:,}"
    print(f"apply within 10 x from {span}: {'met' if flat else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
