"""What one request of ``/api/status``, ``/`` and ``/metrics`` costs in CPU during a mass
outage, in one process, without HTTP (issue 23: the dashboard and the scrape must stay
cheap while every target refuses at once).

Run: python benchmarks/bench_render.py [--sizes 1000,20000] [--rounds 10] [--changed 0.1]
     (``PYTHONPATH=OTHER_TREE/src`` measures another tree the same way: before/after)

Method.  A real :class:`~tether.monitor.Runner` over a temporary SQLite store with N
``http://`` monitors on loopback addresses (nothing is probed: each check is handed to
``Runner.take`` as a prober would), every one checked once and up.  Then ``--rounds``
rounds: a share ``--changed`` of the monitors (the next ones in turn) take a refused
check, as in a wave of failures, and each endpoint is built once, as its route builds it:

- ``snapshot``: ``Snapshot.of(runner)``, the part a dashboard request runs on the event
  loop (the rest runs on a worker thread);
- ``/api/status``: the snapshot, ``build_status`` with the default view, JSON-encoded as
  the route encodes it;
- ``/``: the snapshot, ``build_status`` and the page's HTML;
- ``/metrics``: ``MonitorMetrics.render`` as ``scrape`` calls it.

Each figure is this thread's CPU (``time.thread_time``) per request, median over the
rounds (the first request, which fills whatever is cached, is left out).  The open
incidents (every one is in ``/api/status``, and read from the store) grow with the
rounds: they are printed, as part of the cost follows them, not the monitors.  The store's
writer thread is not counted; the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tether._kinds import Kind
from tether.monitor import Runner
from tether.monitor.alerts import Outbox
from tether.monitor.checks._prober import Check
from tether.monitor.config import MonitorConfig
from tether.monitor.reports._uptime import UptimeTable
from tether.monitor.store import ProbeRecord, SQLiteStore
from tether.monitor.web.documents._dashboard import _dumps

try:  # where this tree keeps them; an older tree measured with PYTHONPATH had them here
    from tether.monitor.web.documents._recent import Recent
    from tether.monitor.web.documents._snapshot import Snapshot
    from tether.monitor.web.documents._status import build_status
except ImportError:
    from tether.monitor.web.documents._dashboard import (  # type: ignore[attr-defined,no-redef]
        Recent,
        Snapshot,
        build_status,
    )
from tether.monitor.web.documents._overview import View
from tether.monitor.web.pages._pages import dashboard_page

NOW = 1_800_000_000.0


Build = Callable[[Snapshot, Recent, UptimeTable], dict[str, Any]]


def status_builders() -> tuple[Build, Callable[[dict[str, Any]], str]]:
    """How the tree measured builds and writes ``/api/status`` (and builds ``/``'s
    document): every monitor's state kept by a board read from the quorum's journal (this
    tree), the ``monitors`` map written by difference (a tree before it), or whole (one
    before that); an older tree is measured with ``PYTHONPATH``."""
    try:
        from tether.monitor.web.documents._board import StateBoard
        from tether.monitor.web.documents._status import status_json
    except ImportError:
        try:
            from tether.monitor.web.documents._board import StateBoard
            from tether.monitor.web.documents._dashboard import status_json  # type: ignore[attr-defined,no-redef]
        except ImportError:
            pass
        else:
            board = StateBoard()
            return (
                lambda snap, recent, table: build_status(snap, recent, View(), table, board),
                status_json,
            )
    else:
        board = StateBoard()
        return (
            lambda snap, recent, table: build_status(snap, recent, View(), table, board),
            status_json,
        )
    build: Build = lambda snap, recent, table: build_status(snap, recent, View(), table)  # noqa: E731
    dashboard: Any = importlib.import_module("tether.monitor.web.documents._dashboard")
    if not hasattr(dashboard, "MonitorsText"):
        return build, _dumps
    kept = dashboard.MonitorsText()
    names: list[tuple[str, ...]] = []

    def encode(doc: dict[str, Any]) -> str:
        return str(dashboard.status_json(doc, kept, names[0]))

    def built(snap: Snapshot, recent: Recent, table: UptimeTable) -> dict[str, Any]:
        names[:] = [dashboard.order_of(snap.monitors).sorted]
        return build(snap, recent, table)

    return built, encode


def measure(size: int, rounds: int, changed: float) -> dict[str, float]:
    """Median CPU ms per request of each endpoint at ``size`` monitors."""
    config = MonitorConfig.model_validate(
        {
            "monitors": [
                {
                    "name": f"m{i:06d}",
                    "url": f"http://127.0.{i // 250 % 256}.{i % 250 + 1}:8080/health",
                    "interval": "30s",
                    "failure_threshold": 1,
                    "success_threshold": 1,
                }
                for i in range(size)
            ]
        }
    )
    clock = [NOW]
    with tempfile.TemporaryDirectory(prefix="bench-render-") as home:
        store = SQLiteStore(Path(home) / "tether.db")
        runner = Runner(config, store, Outbox(store, {}), wall=lambda: clock[0])
        times: dict[str, list[float]] = {"snapshot": [], "/api/status": [], "/": [], "/metrics": []}

        async def main() -> None:
            names = [m.name for m in config.monitors]
            for i, name in enumerate(names):
                runner.take_check(
                    Check(ProbeRecord(name, clock[0], True, None, 15.0 + i % 40), "h")
                )
            store.flush()
            recent, table = Recent(), UptimeTable()
            build, encode = status_builders()
            turn = 0
            step = max(1, int(size * changed))
            for r in range(rounds + 1):
                clock[0] += 1.0
                for k in range(step):
                    name = names[(turn + k) % size]
                    failed = ProbeRecord(
                        name, clock[0], False, Kind.CONNECT_REFUSED, 1.0, "refused"
                    )
                    runner.take_check(Check(failed, "h"))
                turn += step
                t = time.thread_time()
                Snapshot.of(runner)
                t_snap = time.thread_time() - t
                t = time.thread_time()
                encode(build(Snapshot.of(runner), recent, table))
                t_status = time.thread_time() - t
                t = time.thread_time()
                dashboard_page(build(Snapshot.of(runner), recent, table)).document(5000, None)
                t_page = time.thread_time() - t
                t = time.thread_time()
                cluster = runner.cluster_view()
                runner.metrics.render(cluster, runner.locations(), runner.latest)
                t_metrics = time.thread_time() - t
                if r:
                    times["snapshot"].append(t_snap)
                    times["/api/status"].append(t_status)
                    times["/"].append(t_page)
                    times["/metrics"].append(t_metrics)

        asyncio.run(main())
        store.flush()
        opened = len(store.incident_list(open_only=True, limit=1000))
        store.close()
    return {k: statistics.median(v) * 1000 for k, v in times.items()} | {"incidents": opened}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--changed", type=float, default=0.1)
    args = parser.parse_args()
    print(f"CPU ms per request (median of {args.rounds}; {args.changed:.0%} changed a round)")
    print(
        f"{'monitors':>9} {'snapshot':>9} {'/api/status':>12} {'/':>9} {'/metrics':>9}"
        f" {'open incidents at the end':>26}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        got: Any = measure(size, args.rounds, args.changed)
        print(
            f"{size:>9,} {got['snapshot']:>9.1f} {got['/api/status']:>12.1f} "
            f"{got['/']:>9.1f} {got['/metrics']:>9.1f} {got['incidents']:>26}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
