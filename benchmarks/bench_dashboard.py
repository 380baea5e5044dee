"""The dashboard's overview (``/``) at 10,000 monitors: how long Chromium takes to show
it, and how long the server takes to build it.

Run: python benchmarks/bench_dashboard.py [--quick] [--write benchmarks/history/bench_dashboard.md]
     [--sizes 1000,10000] [--before main] [--rounds 5]

Issue 14's target: the overview renders in under 1 s in Chromium at 10,000 monitors
(navigation start to the load event, median of the rounds).

Method.  Everything runs on loopback; nothing is probed.

- **History.**  For each size, an SQLite store is filled through the store's own API
  (``record``, ``record_state``), with timestamps spread over the 30 days before a fixed
  "now": per monitor one result a minute for the last hour (the sparklines' minute
  roll-ups) and one a day before that (hour and day roll-ups), and its state changes:
  up since 30 days ago, with 0 to 3 outages of 5 minutes to 6 hours (deterministic per
  monitor).  3% of the monitors fail their last hour (connect.refused); 40% are HTTPS,
  with certificates from 5 days expired to 115 days left.  ``before`` gets the same
  history written by its own store (a child process on its tree): an older tree refuses
  a newer schema.
- **The server** is the real one, in a child process of its own: a ``Runner`` over a
  copy of that store with N monitors (``m000000``...) on a wall clock fixed at "now",
  whose every monitor then takes one check as a prober hands it over (``Runner.take``:
  the detector, the incidents and the store as in a real check, without the network),
  served by ``make_app`` on 127.0.0.1.  ``tether`` is this tree; ``before`` is
  ``--before`` (``main`` by default: the page before the overview was paged), from
  ``git archive``, served by the same child script from its own source.
- **Server time**: the wall time of a GET from this driver (urllib, loopback), of the
  page and of its fragment (what the open page asks for every 5 s): the first after the
  start (nothing cached: the uptime table and the sparklines read from the store), then
  the median of ``--rounds`` more.  The uptime table's store read (every monitor's state
  changes, at most once a minute) is also timed alone, in this driver.
- **The event loop's share**: a page's snapshot of the runner's memory is taken on the
  loop (the rest is built on a worker thread); the child times ``Snapshot.of`` (median
  of 20).
- **Chromium**: Debian's ``/usr/bin/chromium`` through Playwright, headless, a fresh
  page per round (``--rounds``), loading ``/``: navigation start to DOMContentLoaded and
  to the load event (``PerformanceNavigationTiming``), and to the first contentful paint
  (``PerformancePaintTiming``); median over the rounds.  The page's own refresh is left
  to run; a round is over before it fires.

``--quick`` runs 300 monitors and two rounds, without ``before``: it shows that the
benchmark works, not how the overview scales.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _report import Section, commit, met, table, write_part  # benchmarks/ is the script's own

HEADING = "# Benchmark results: the dashboard's overview"
NOW = 1_800_000_000.0
DAY = 86400.0
TARGET_S = 1.0
CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
BEFORE_LIMIT = 60.0
"""A page of ``before`` that takes longer than this to answer is not measured further."""


def plan(i: int) -> tuple[bool, float | None, list[tuple[float, str]]]:
    """Monitor ``i``: whether its last hour fails, its certificate's expiry, and its state
    changes (at, state), all deterministic."""
    failing = i % 33 == 7
    expires = NOW + ((i * 7) % 120 - 5) * DAY + 3600 if i % 5 < 2 else None
    changes = [(NOW - 30 * DAY, "up")]
    for k in range(i % 4):
        start = NOW - (27 - 8 * k) * DAY + (i * 613 % 7200)
        changes += [(start, "down"), (start + 300 + (i * 97 + k * 3571) % 21_300, "up")]
    if failing:
        changes.append((NOW - 3600, "down"))
    return failing, expires, changes


def url_of(i: int) -> str:
    scheme, port = ("https", 8443) if i % 5 < 2 else ("http", 8080)
    return f"{scheme}://127.0.{i // 250 % 256}.{i % 250 + 1}:{port}/health"


def seed(path: Path, size: int) -> float:
    """Fill a store at ``path`` with ``size`` monitors' history; seconds it took."""
    from tether._kinds import Kind
    from tether.monitor._state import State
    from tether.monitor.store import ProbeRecord, SQLiteStore

    started = time.perf_counter()
    with SQLiteStore(path) as store:
        for i in range(size):
            name = f"m{i:06d}"
            failing, _, changes = plan(i)
            for at, state in changes:
                store.record_state(name, at, State(state))
            for d in range(29, 0, -1):
                store.record(ProbeRecord(name, NOW - d * DAY, True, None, 20.0 + i % 50))
            for minute in range(60, 0, -1):
                ts = NOW - minute * 60 + (i % 60)
                if failing:
                    detail = f"127.0.0.1:{8000 + i % 1000} refused the connection"
                    store.record(ProbeRecord(name, ts, False, Kind.CONNECT_REFUSED, 1.0, detail))
                else:
                    store.record(ProbeRecord(name, ts, True, None, 15.0 + (i + minute) % 40))
            if i % 500 == 499:
                store.flush()
        store.flush()
    return time.perf_counter() - started


# -- the child: one server ----------------------------------------------------------------


def serve(db: str, size: int) -> None:
    """The child process: a Runner over ``db`` with ``size`` monitors, each taking one
    check, served on loopback; prints ``PORT n`` and ``SNAPSHOT_MS x``, serves until its
    stdin closes."""
    import logging

    from aiohttp import web

    from tether._kinds import Kind
    from tether.monitor import Runner
    from tether.monitor.alerts import Outbox
    from tether.monitor.checks._prober import Check
    from tether.monitor.config import MonitorConfig
    from tether.monitor.store import ProbeRecord, SQLiteStore

    try:  # where this tree keeps it; an older tree had it in _dashboard
        from tether.monitor.web.documents._snapshot import Snapshot
    except ImportError:
        from tether.monitor.web.documents._dashboard import Snapshot  # type: ignore[attr-defined,no-redef]
    from tether.monitor.web._web import make_app

    logging.disable(logging.WARNING)  # thousands of incidents' log lines say nothing here
    locations = list(MonitorConfig.model_fields["locations"].default)
    config = MonitorConfig.model_validate(
        {
            "monitors": [
                {
                    "name": f"m{i:06d}",
                    "url": url_of(i),
                    "interval": "60s",
                    "failure_threshold": 1,
                    "success_threshold": 1,
                    "locations": locations,
                }
                for i in range(size)
            ]
        }
    )
    store = SQLiteStore(db)
    runner = Runner(config, store, Outbox(store, {}), wall=lambda: NOW)

    async def main() -> None:
        for i, m in enumerate(config.monitors):
            failing, expires, _ = plan(i)
            if failing:
                record = ProbeRecord(
                    m.name, NOW, False, Kind.CONNECT_REFUSED, 1.0, "refused the connection"
                )
            else:
                record = ProbeRecord(m.name, NOW, True, None, 15.0 + i % 40)
            days = None if expires is None else int((expires - NOW) // DAY)
            # A tree older than the certificate's expiry on a check takes the days alone.
            extra = {"cert_expires": expires} if "cert_expires" in Check.__slots__ else {}
            runner.take_check(Check(record, "127.0.0.1", {}, days, **extra))
        store.flush()
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            Snapshot.of(runner)
            timings.append(time.perf_counter() - started)
        app_runner = web.AppRunner(make_app(runner), access_log=None)
        await app_runner.setup()
        site = web.TCPSite(app_runner, "127.0.0.1", 0)
        await site.start()
        port = app_runner.addresses[0][1]
        print(f"SNAPSHOT_MS {statistics.median(timings) * 1000:.2f}", flush=True)
        print(f"PORT {port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await app_runner.cleanup()

    asyncio.run(main())
    store.close()


def seed_with(src: Path, db: Path, size: int) -> None:
    """The same history as :func:`seed`, written by the tree at ``src`` (a child process)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, __file__, "--seed", str(db), "--size", str(size)]
    subprocess.run(command, env=env, cwd=str(ROOT / "benchmarks"), check=True)


class Server:
    """A child serving one variant; ``base`` is its address."""

    def __init__(self, src: Path, db: Path, size: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(src)}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(db), "--size", str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT / "benchmarks"),
        )
        assert self.proc.stdout is not None
        self.snapshot_ms = 0.0
        for line in self.proc.stdout:
            if line.startswith("SNAPSHOT_MS "):
                self.snapshot_ms = float(line.split()[1])
            if line.startswith("PORT "):
                self.base = f"http://127.0.0.1:{int(line.split()[1])}"
                return
        raise RuntimeError(f"the server for {src} did not start")

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def timed_get(url: str, timeout: float) -> tuple[float, int]:
    """Seconds a GET took, and the bytes of its body."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body = r.read()
    return time.perf_counter() - started, len(body)


def chromium_rounds(base: str, rounds: int) -> dict[str, float] | None:
    """Median ms from navigation start to DOMContentLoaded, load and first contentful
    paint over ``rounds`` fresh pages; ``None`` without Chromium or Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    args += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    found: dict[str, list[float]] = {"dcl": [], "load": [], "fcp": [], "rows": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            for _ in range(rounds):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(base + "/", wait_until="load", timeout=120_000)
                for _ in range(50):
                    got = page.evaluate(
                        """() => {
                        const n = performance.getEntriesByType("navigation")[0];
                        const f = performance.getEntriesByName("first-contentful-paint")[0];
                        return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                                fcp: f ? f.startTime : 0,
                                rows: document.querySelectorAll("tr[data-monitor]").length};
                        }"""
                    )
                    if got["load"] and got["fcp"]:
                        break
                    page.wait_for_timeout(20)
                for key, values in found.items():
                    values.append(float(got[key]))
                context.close()
        finally:
            browser.close()
    return {key: statistics.median(values) for key, values in found.items()}


def measure(src: Path, db: Path, size: int, rounds: int, limit: float) -> dict[str, Any]:
    """One variant at one size: server times and Chromium's."""
    server = Server(src, db, size)
    out: dict[str, Any] = {"snapshot_ms": server.snapshot_ms}
    try:
        try:
            out["page_first"], out["bytes"] = timed_get(server.base + "/", limit)
        except (TimeoutError, OSError):
            out["too_slow"] = True
            return out
        out["fragment_first"] = timed_get(server.base + "/?fragment=1", limit)[0]
        out["page"] = statistics.median(
            timed_get(server.base + "/", limit)[0] for _ in range(rounds)
        )
        out["fragment"] = statistics.median(
            timed_get(server.base + "/?fragment=1", limit)[0] for _ in range(rounds)
        )
        out["sorted"] = statistics.median(
            timed_get(server.base + "/?sort=uptime_30d&state=up&page=3", limit)[0]
            for _ in range(rounds)
        )
        out["chromium"] = chromium_rounds(server.base, rounds)
    finally:
        server.stop()
    return out


def table_read(db: Path, size: int) -> float:
    """Seconds the uptime table takes to read every monitor's uptime (once a minute)."""
    from tether.monitor.reports._uptime import UptimeTable
    from tether.monitor.store import SQLiteStore

    names = [f"m{i:06d}" for i in range(size)]
    with SQLiteStore(db) as store:
        started = time.perf_counter()
        UptimeTable().read(store, names, NOW)
        return time.perf_counter() - started


def before_tree(rev: str, into: Path) -> Path | None:
    """``rev``'s src/ from git, or ``None`` when git cannot give it."""
    into.mkdir(parents=True, exist_ok=True)
    try:
        archive = subprocess.run(
            ["git", "archive", rev, "src"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return into / "src"


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f}"


def run(sizes: list[int], rounds: int, before: str) -> Section:
    section = Section("1. Overview: time to render at 10,000 monitors")
    started = time.perf_counter()
    rows: list[tuple[str, ...]] = []
    verdicts: list[str] = []
    biggest: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        work = Path(tmp)
        variants = [("tether", ROOT / "src")]
        if before:
            old = before_tree(before, work / "before")
            if old is None:
                section.notes.append(f"`{before}` could not be had from git: not measured.")
            else:
                variants.append((f"before ({before})", old))
        for size in sizes:
            seeded = work / f"seed-{size}.db"
            took = seed(seeded, size)
            uptime_s = table_read(seeded, size)
            section.notes.append(
                f"{size:,} monitors: history written in {took:.0f} s; the uptime table's "
                f"read of every monitor's state changes took {uptime_s * 1000:,.0f} ms."
            )
            for label, src in variants:
                db = work / f"{label.split()[0]}-{size}.db"
                if src == ROOT / "src":
                    shutil.copy(seeded, db)
                else:  # written by its own store: an older tree refuses a newer schema
                    seed_with(src, db, size)
                found = measure(src, db, size, rounds, BEFORE_LIMIT)
                if found.get("too_slow"):
                    rows.append((label, f"{size:,}", f"> {BEFORE_LIMIT:.0f} s", *["—"] * 9))
                    section.notes.append(
                        f"{label} at {size:,}: the page did not answer within "
                        f"{BEFORE_LIMIT:.0f} s; not measured further."
                    )
                    continue
                c = found["chromium"] or {}
                rows.append(
                    (
                        label,
                        f"{size:,}",
                        ms(found["page_first"]),
                        ms(found["page"]),
                        ms(found["fragment"]),
                        ms(found["sorted"]) if label == "tether" else "—",
                        f"{found['bytes'] / 1000:,.0f}",
                        f"{found['snapshot_ms']:.1f}",
                        f"{c['dcl']:,.0f}" if c else "—",
                        f"{c['fcp']:,.0f}" if c else "—",
                        f"{c['load']:,.0f}" if c else "—",
                        f"{c['rows']:,.0f}" if c else "—",
                    )
                )
                if label == "tether" and size == max(sizes):
                    biggest = found
    section.tables.append(
        table(
            f"Server (ms, GET on loopback; median of {rounds} after the first) and Chromium "
            f"(ms from navigation start, median of {rounds} fresh pages)",
            (
                "server",
                "monitors",
                "first page",
                "page",
                "fragment",
                "sorted by uptime, filtered, page 3",
                "page kB",
                "snapshot on the loop",
                "DOMContentLoaded",
                "first contentful paint",
                "load",
                "rows in the page",
            ),
            rows,
        )
    )
    size = max(sizes)
    chromium = None if biggest is None else biggest.get("chromium")
    if chromium is None:
        section.notes.append("Chromium (Debian's /usr/bin/chromium with Playwright) not found.")
        verdicts.append(
            f"overview at {size:,} monitors: not measured in Chromium (target < 1 s): MISSED"
        )
    else:
        load = chromium["load"] / 1000
        verdicts.append(
            f"overview at {size:,} monitors: loaded in {load * 1000:,.0f} ms in Chromium, "
            f"first contentful paint {chromium['fcp']:,.0f} ms (target < 1 s): "
            f"{met(load < TARGET_S)}"
        )
    section.verdicts = verdicts
    section.seconds = time.perf_counter() - started
    return section


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    parser.add_argument("--sizes", default="1000,10000", help="monitors, comma-separated")
    parser.add_argument("--before", default="main", help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed(Path(args.seed), args.size)
        return 0
    if args.serve:
        serve(args.serve, args.size)
        return 0
    sys.path.insert(0, str(ROOT / "src"))
    sizes = [300] if args.quick else [int(s) for s in args.sizes.split(",")]
    rounds = 2 if args.quick else args.rounds
    before = "" if args.quick else args.before
    started = time.perf_counter()
    made_by = f"Python {sys.version.split()[0]}, commit {commit()}"
    print(f"{os.cpu_count()} cores; {made_by}{'; --quick' if args.quick else ''}", flush=True)
    section = run(sizes, rounds, before)
    section.show()
    if args.write:
        command = "python benchmarks/bench_dashboard.py" + (" --quick" if args.quick else "")
        write_part(args.write, HEADING, command, [section], time.perf_counter() - started, made_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
