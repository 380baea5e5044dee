"""What a Prometheus scrape of ``tether monitor`` costs as the fleet grows (issue 46 §4):
bytes and seconds per scrape at 1,000, 30,000 and 240,000 monitors, steady and during a
wave of state changes, beside blackbox_exporter's ``/probe`` of one target.

Run: python benchmarks/bench_scrape.py [--quick] [--sizes 1000,30000,240000] [--rounds 6]
     [--runs 1000@60,30000@60,240000@300] [--period 15] [--steady-seconds 60]
     [--no-http] [--write benchmarks/history/bench_scrape.md]

Issue 46's target: at 240,000 monitors ``/metrics`` answers within 1 s (p99), steady and
during a wave, either with CPU per scrape proportional to what changed since the last one
or with each monitor's series moved to scoped scrapes while the default scrape stays a
summary.  tether does the second (docs/monitor.md, "What Prometheus scrapes as the fleet
grows"): up to ``server.metrics_monitor_limit`` monitors (10,000) the default scrape
carries every series; past it, the summary, and each monitor's series are scraped in
``N = ceil(monitors / 10,000)`` shards, ``/metrics?shard=I&shards=N``.

Method.  Everything on loopback.

1. **CPU per scrape** (in this process: CPU time, the evidence on a shared machine).
   :class:`MonitorMetrics` (what ``/metrics`` renders from) is fed as the running monitor
   feeds it: the configuration's monitors (``labels``), one check each (an HTTP check's
   four phases, 1.6 ms) and a state each; then the collector is frozen and its thresholds
   raised as the monitor's are (``runtime/_loop.freeze``).  Then ``--rounds`` steady
   rounds, each a quarter of the monitors checked again (a 15 s scrape of monitors
   checked every 60 s), and two wave rounds (every monitor failing with
   ``connect.refused`` and marked down, then every one passing and up), each followed by
   the scrapes Prometheus makes: the default one, then each of the N shards.  Beside
   them, a twin fed the same checks renders every monitor's series in one scrape each
   round: what ``/metrics`` served before issue 46 (and still serves up to the limit).
   ``time.process_time`` around each render and its gzip (what ``/metrics`` sends
   Prometheus, which accepts gzip; the twin's is not gzipped): p50 and p99 of the
   shards' (over shards and rounds), and the bytes of each scrape, as text and sent.
   Each monitor's lines are written at its check once a scrape asked for them: the
   collector's CPU per check (``observe`` of a failed one) before and after that.
2. **Over HTTP, the real process** (``--runs SIZE@INTERVAL``; skipped with
   ``--no-http``): ``tether monitor`` as ``bench_mass.py`` starts it: ``tether monitor
   --config FILE`` with every monitor in the file (``--source file``, the default, the
   user's path of issue 46 §1), discovered from a ``file_sd`` source the file names
   (``--source discover``), or ``run_monitor`` on a configuration built in Python
   (``--source python``, as before the file's size guard held 240,000), with ``workers:
   2`` (so a scrape is forwarded by the worker that took the connection to the
   coordinator, where the series live), N HTTP monitors on 32 loopback targets, SQLite.
   Once every monitor has been checked (``tether_checks_total`` of the default scrape),
   a scraper GETs the default scrape and each shard one after the other, accepting gzip
   as Prometheus does, every ``--period`` seconds (harsher than Prometheus, which
   spreads its targets over the interval), for ``--steady-seconds``;
   then every target refuses until the default scrape says every monitor is down, and
   listens again until it says every one is up (the wave), the scraper going on.  Wall
   seconds of each GET (to the last byte), p50 / p99 / max, and its bytes.  240,000
   monitors run at a 300 s interval: at 60 s their checks alone are more than these two
   cores give today (issue 46 §2, ``bench_scale.py``); what a scrape costs depends on the
   monitors changed since the last, a quarter at 60 s, a twentieth at 300 s, which the
   first part measures at a quarter.
3. **blackbox_exporter, in the same run**: Debian's ``prometheus-blackbox-exporter``
   (``bench_probe.py`` installs it where missing) with one ``http_2xx`` module, its
   ``/probe`` of one loopback target that never fails GET by the same scraper in each
   round: its bytes, wall seconds, and CPU per scrape (its process's, over the run).  Its
   model is one scrape per target per interval, each scrape a probe: 240,000 monitors are
   240,000 scrapes a minute; tether's is one scrape per 10,000 monitors, each from memory.

The machine has 2 cores shared with other work: the load average is printed, and the
CPU figures are the evidence where the wall-clock ones were taken under load.
``--quick`` measures 1,000 and 12,000 monitors in process and 300 over HTTP at 2 s with
a limit of 100 (3 shards), in about a minute: it shows the benchmark works.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _report import Section, commit, met, table, write_part
from _targets import target_servers
from bench_mass import (
    HOSTS_EACH,
    SOURCES,
    TARGET_PROCESSES,
    MonitorProcess,
    Receiver,
    Stall,
    tree_cpu,
)
from bench_monitor import quantile
from bench_probe import EXPORTER, SetupError, ensure_exporter, prober_cores, start_exporter
from bench_scale import load_average

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.cluster._view import ClusterView
from tether.monitor.config import Server
from tether.monitor.metrics._metrics import MonitorMetrics, Scope
from tether.monitor.runtime._loop import GC_THRESHOLDS
from tether.monitor.web.scrape._scrape import GZIP_LEVEL

HEADING = "# Benchmark results: what a scrape of /metrics costs as the fleet grows"
LIMIT: int = Server.model_fields["metrics_monitor_limit"].default
TARGET_MS = 1000.0
SUBNET = 70
"""The targets listen on 127.0.70.x and 127.0.71.x, blackbox_exporter's on 127.0.72.1."""
TIMINGS = {"resolve": 0.0001, "connect": 0.0003, "processing": 0.0011, "transfer": 0.0001}
"""An HTTP check's phases, seconds (a loopback GET's, 1.6 ms in all)."""
FAILED = {"resolve": 0.0001, "connect": 0.0002}
HERE = ClusterView("bench", "local", True, ("local",))
TIMEOUT = 60.0


def shards_for(monitors: int, limit: int = LIMIT) -> int:
    """The shards docs/monitor.md advises: none up to the limit, else one per ``limit``."""
    return 0 if monitors <= limit else math.ceil(monitors / limit)


# -- 1. CPU per scrape, in process ----------------------------------------------------------


@dataclass
class Scrapes:
    """The scrapes of one kind in one phase: CPU seconds and bytes of each, gzipped as
    ``/metrics`` sends them to Prometheus (which accepts gzip) unless ``plain``."""

    cpu: list[float] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    wire: list[int] = field(default_factory=list)
    """Bytes sent: gzipped."""

    def add(self, render: Callable[[], bytes], plain: bool = False) -> None:
        t0 = time.process_time()
        body = render()
        sent = body if plain else zlib.compress(body, GZIP_LEVEL, wbits=31)
        self.cpu.append(time.process_time() - t0)
        self.size.append(len(body))
        self.wire.append(len(sent))


@dataclass
class InProcess:
    monitors: int
    shards: int
    seconds: float = 0.0
    figures: dict[tuple[str, str], Scrapes] = field(default_factory=dict)
    """(phase, scrape) -> its scrapes: phase ``steady`` or ``wave``; scrape ``default``,
    ``shard`` or ``whole`` (every monitor in one scrape, the twin's)."""
    check_us: tuple[float, float] = (float("nan"), float("nan"))
    """CPU µs of ``observe`` per check: before any scrape asked for the monitors' lines,
    and once one did (each check then writes its monitor's lines)."""

    def of(self, phase: str, scrape: str) -> Scrapes:
        return self.figures.setdefault((phase, scrape), Scrapes())


def _fed(names: list[str]) -> MonitorMetrics:
    metrics = MonitorMetrics(wall=lambda: 1_800_000_000.0)
    metrics.labels({name: {} for name in names})
    for name in names:
        metrics.observe(ProbeRecord(name, 1.0, True, None, 1.6), TIMINGS, None)
        metrics.state(name, True)
    return metrics


def in_process(monitors: int, rounds: int, limit: int = LIMIT) -> InProcess:
    """Part 1 at one size (the method)."""
    began = time.perf_counter()
    names = [f"m{i:06d}" for i in range(monitors)]
    ours, twin = _fed(names), _fed(names)
    shards = shards_for(monitors, limit)
    scopes = [Scope(i, shards) for i in range(shards)]
    for metrics in (ours, twin):  # the first scrape writes every line: not measured
        metrics.render(HERE)
    for scope in scopes:
        ours.render(HERE, scoped=ours.scope(scope))
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    result = InProcess(monitors, shards, check_us=check_cost(names))

    def scrape(phase: str) -> None:
        result.of(phase, "default").add(lambda: ours.render(HERE, limit=limit))
        for scope in scopes:
            # scope() runs on the event loop in the monitor, render() on a thread: both
            # are the scrape's CPU.
            result.of(phase, "shard").add(lambda s=scope: ours.render(HERE, scoped=ours.scope(s)))
        result.of(phase, "whole").add(lambda: twin.render(HERE), plain=True)

    quarter = max(1, monitors // 4)
    for r in range(rounds):
        for name in names[(r % 4) * quarter : (r % 4 + 1) * quarter]:
            for metrics in (ours, twin):
                metrics.observe(ProbeRecord(name, 2.0 + r, True, None, 1.7), TIMINGS, None)
        scrape("steady")
    for ok in (False, True):
        for name in names:
            for metrics in (ours, twin):
                kind = None if ok else Kind.CONNECT_REFUSED
                metrics.observe(
                    ProbeRecord(name, 99.0, ok, kind, 0.3), TIMINGS if ok else FAILED, None
                )
                metrics.state(name, ok)
        scrape("wave")
    gc.unfreeze()
    result.seconds = time.perf_counter() - began
    return result


def check_cost(names: list[str]) -> tuple[float, float]:
    """CPU µs per ``observe`` of a failed check (the wave's), each monitor once, while no
    scrape asked for the monitors' lines and once one did (a shard's)."""
    out = []
    for writing in (False, True):
        metrics = _fed(names)
        if writing:
            metrics.render(HERE, scoped=metrics.scope(Scope(0, max(1, len(names) // LIMIT))))
        records = [ProbeRecord(n, 99.0, False, Kind.CONNECT_REFUSED, 0.3) for n in names]
        t0 = time.process_time()
        for record in records:
            metrics.observe(record, FAILED, None)
        out.append((time.process_time() - t0) / len(names) * 1e6)
    return out[0], out[1]


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{x * 1000:,.1f}"


def _bytes(n: float) -> str:
    if math.isnan(n):
        return "-"
    if n >= 1e6:
        return f"{n / 1e6:,.1f} MB"
    if n >= 1e3:
        return f"{n / 1e3:,.1f} kB"
    return f"{n:,.0f} B"


def in_process_table(results: list[InProcess]) -> str:
    rows = []
    for r in results:
        for phase in ("steady", "wave"):
            for scrape, shown in (
                ("default", "the default scrape" + (" (the summary)" if r.shards else "")),
                ("shard", f"one shard of {r.shards}"),
                ("whole", "every monitor in one scrape (the default up to the limit)"),
            ):
                s = r.figures.get((phase, scrape))
                if s is None or not s.cpu:
                    continue
                rows.append(
                    (
                        f"{r.monitors:,}",
                        phase,
                        shown,
                        _bytes(quantile([float(b) for b in s.size], 0.5)),
                        _bytes(quantile([float(b) for b in s.wire], 0.5)),
                        _ms(quantile(s.cpu, 0.5)),
                        _ms(quantile(s.cpu, 0.99)),
                    )
                )
    return table(
        "CPU per scrape, in process, gzip included (ms; a shard's over every shard and "
        "round); every monitor in one scrape is not gzipped",
        ("monitors", "phase", "scrape", "bytes", "sent", "CPU p50", "CPU p99"),
        rows,
    )


def check_table(results: list[InProcess]) -> str:
    rows = [
        (f"{r.monitors:,}", f"{r.check_us[0]:.1f}", f"{r.check_us[1]:.1f}")
        for r in results
        if not math.isnan(r.check_us[0])
    ]
    return table(
        "CPU per check of the collector (µs, `observe` of a failed check): its lines are "
        "written as it arrives once a scrape asked for the monitors' series",
        ("monitors", "no scrape of the series", "the series scraped"),
        rows,
    )


# -- 2. and 3. Over HTTP: the real process, and blackbox_exporter -------------------------


@dataclass
class Gets:
    seconds: list[float] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    """Bytes of each answer, decoded."""
    wire: list[int] = field(default_factory=list)
    """Bytes of each answer as sent (gzipped when the server gzips)."""
    failed: int = 0


@dataclass
class OverHttp:
    monitors: int
    interval: float
    shards: int
    error: str = ""
    gets: dict[tuple[str, str], Gets] = field(default_factory=dict)
    """(phase, what) -> GETs: what is ``default``, ``shard`` or ``blackbox``."""
    load: dict[str, str] = field(default_factory=dict)
    """The load average at the end of each phase."""
    exporter_cpu: float = float("nan")
    """blackbox_exporter's CPU seconds per /probe over the run."""
    wave_seconds: float = float("nan")
    stalls: list[Stall] = field(default_factory=list)
    """The stall watch's lines (``--stalls``), as they came."""
    wave_began: float = float("nan")
    """When the wave began (``time.time()``, as a :class:`Stall`'s ``at``)."""
    wave_ended: float = float("inf")
    """When the wave's last scrape was made (the stop's holds after it are not the wave's)."""

    def of(self, phase: str, what: str) -> Gets:
        return self.gets.setdefault((phase, what), Gets())


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""urllib without the environment's proxies: everything is on loopback."""


def _get(url: str, into: Gets) -> bytes:
    """GET ``url`` accepting gzip, as Prometheus does (and decoding it, as it does): the
    wall seconds to the last byte and the bytes sent go ``into``; the decoded body."""
    t0 = time.perf_counter()
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    try:
        with _DIRECT.open(request, timeout=TIMEOUT) as answer:
            sent: bytes = answer.read()
            packed = answer.headers.get("Content-Encoding") == "gzip"
        body = zlib.decompress(sent, wbits=31) if packed else sent
    except (OSError, urllib.error.URLError, zlib.error):
        into.failed += 1
        into.seconds.append(TIMEOUT)
        return b""
    into.seconds.append(time.perf_counter() - t0)
    into.size.append(len(body))
    into.wire.append(len(sent))
    return body


def _sample(body: bytes, name: str) -> float:
    found = re.search(rb"^" + name.encode() + rb"(?:\{[^}]*\})? (\S+)$", body, re.M)
    return float(found.group(1)) if found else float("nan")


class Scraper:
    """GETs the default scrape, each shard and blackbox_exporter's /probe, one after the
    other, every ``period`` seconds, filing each under the phase now in force."""

    def __init__(self, base: str, shards: int, probe: str, run: OverHttp, period: float) -> None:
        self.base, self.shards, self.probe, self.run = base, shards, probe, run
        self.period = period
        self.phase = "steady"
        self.default = b""
        """The last default scrape (the driver reads the fleet's counts in it)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            phase = self.phase
            self.default = _get(f"{self.base}/metrics", self.run.of(phase, "default"))
            for i in range(self.shards):
                _get(
                    f"{self.base}/metrics?shard={i}&shards={self.shards}",
                    self.run.of(phase, "shard"),
                )
            _get(self.probe, self.run.of(phase, "blackbox"))
            self._stop.wait(max(0.0, self.period - (time.perf_counter() - t0)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT * (self.shards + 2))


def _until(what: Callable[[], bool], limit: float, proc: MonitorProcess) -> bool:
    deadline = time.monotonic() + limit
    while not what():
        if time.monotonic() > deadline or proc.proc.poll() is not None:
            return False
        time.sleep(0.5)  # polling a real process on real time
    return True


def over_http(
    monitors: int, interval: float, args: argparse.Namespace, env: dict[str, Any]
) -> OverHttp:
    """Parts 2 and 3 at one size (the method)."""
    shards = shards_for(monitors, args.limit)
    run = OverHttp(monitors, interval, shards)
    receiver = Receiver()
    spec = {
        "urls": env["urls"],
        "steady_url": env["urls"][0],
        "monitors": monitors,
        "steady": 0,
        "interval": interval,
        "workers": 2,
        "db": str(Path(env["tmp"]) / f"scrape-{monitors}.db"),
        "hook": receiver.url,
        "metrics_monitor_limit": args.limit,
        "source": args.source,
        "stalls": args.stalls,
    }
    proc = MonitorProcess(spec)
    run.stalls = proc.stalls
    scraper = None
    try:
        proc.wait_started(1800)
        base = f"http://{proc.address}"
        checked = Gets()

        def all_checked() -> bool:
            return _sample(_get(f"{base}/metrics", checked), "tether_checks_total") >= monitors

        if not _until(all_checked, 2 * interval + 600, proc):
            raise RuntimeError(f"not every monitor was checked in {2 * interval + 600:g} s")
        exporter0 = tree_cpu(env["exporter"].proc.pid)
        scraper = Scraper(base, shards, env["probe"], run, args.period)
        time.sleep(args.steady_seconds)  # the steady scrapes, on real time
        run.load["steady"] = load_average()
        scraper.phase = "wave"
        began = time.monotonic()
        run.wave_began = time.time()
        targets = env["targets"]

        def down(count: float) -> Callable[[], bool]:
            return lambda: _sample(scraper.default, "tether_monitors_down") == count

        for command, count in (("down", monitors), ("up", 0)):
            for t in targets:
                for address in t.addresses:
                    t.switch(command, address)
            if not _until(down(count), interval * 3 + 120, proc):
                run.error = f"the wave's {command} phase was cut short"
        run.wave_seconds = time.monotonic() - began
        run.wave_ended = time.time()
        run.load["wave"] = load_average()
        scraper.close()
        probes = len(run.of("steady", "blackbox").seconds) + len(run.of("wave", "blackbox").seconds)
        run.exporter_cpu = (tree_cpu(env["exporter"].proc.pid) - exporter0) / max(probes, 1)
    except RuntimeError as exc:
        run.error = str(exc)[:300]
    finally:
        if scraper is not None:
            scraper.close()
        proc.stop()
        receiver.close()
    return run


def stall_table(runs: list[OverHttp]) -> str:
    """The monitor's stall watch (``--stalls``) in each phase: its holds of the event loop
    past the threshold, the longest, and what was on the loop then."""
    rows = []
    for r in runs:
        for phase, inside in (
            ("steady", [s for s in r.stalls if s.at < r.wave_began]),
            # A line is read up to a second after its hold ended.
            ("wave", [s for s in r.stalls if r.wave_began <= s.at <= r.wave_ended + 1.0]),
        ):
            holds = [s for s in inside if s.kind == "loop"]
            collections = [s for s in inside if s.kind == "gc"]
            longest = max(holds, key=lambda s: s.ms, default=None)
            longest_gc = max(collections, key=lambda s: s.ms, default=None)
            rows.append(
                (
                    f"{r.monitors:,} at {r.interval:g} s",
                    phase,
                    str(len(holds)),
                    "-"
                    if longest is None
                    else f"{longest.ms:,.0f} ({longest.cpu_ms:,.0f} / {longest.collector_ms:,.0f})",
                    "-"
                    if longest_gc is None
                    else f"{longest_gc.ms:,.0f} (generation {longest_gc.generation}, "
                    f"{longest_gc.cpu_ms:,.0f} of CPU)",
                    "-" if longest is None else longest.what[:200],
                )
            )
    return table(
        "The coordinator's event loop (`--stalls`: tether monitor --log-stalls): its holds "
        "past the threshold in each phase",
        (
            "monitors",
            "phase",
            "holds",
            "longest hold, ms (its thread's CPU / the collector's)",
            "longest collection, ms",
            "on the loop in the longest hold (sampled stack, innermost first)",
        ),
        rows,
    )


def http_table(runs: list[OverHttp]) -> str:
    rows = []
    for r in runs:
        for phase in ("steady", "wave"):
            for what, shown in (
                ("default", "the default scrape" + (" (the summary)" if r.shards else "")),
                ("shard", f"one shard of {r.shards}"),
                ("blackbox", "blackbox_exporter /probe, one target"),
            ):
                g = r.gets.get((phase, what))
                if g is None or not g.seconds:
                    continue
                rows.append(
                    (
                        f"{r.monitors:,} at {r.interval:g} s",
                        phase,
                        shown,
                        str(len(g.seconds)),
                        _bytes(quantile([float(b) for b in g.size], 0.5)),
                        _bytes(quantile([float(b) for b in g.wire], 0.5)),
                        _ms(quantile(g.seconds, 0.5)),
                        _ms(quantile(g.seconds, 0.99)),
                        _ms(max(g.seconds)),
                        str(g.failed),
                    )
                )
    return table(
        "Over HTTP, the real process with `workers: 2` (wall ms, to the last byte)",
        ("monitors", "phase", "scrape", "GETs", "bytes", "sent", "p50", "p99", "max", "failed"),
        rows,
    )


# -- the report ------------------------------------------------------------------------------


def verdicts(cpu: list[InProcess], http: list[OverHttp]) -> list[str]:
    out = []
    for r in http:
        if r.error:
            out.append(f"{r.monitors:,} monitors over HTTP: {r.error}")
        for phase in ("steady", "wave"):
            worst = max(
                (
                    quantile(g.seconds, 0.99)
                    for (p, w), g in r.gets.items()
                    if p == phase and w != "blackbox" and g.seconds
                ),
                default=float("nan"),
            )
            out.append(
                f"{r.monitors:,} monitors, {phase}: the worst p99 of the default scrape and "
                f"a shard, {_ms(worst)} ms, load average {r.load.get(phase, '-')} at its end "
                f"(target < {TARGET_MS:.0f} ms): {met(worst < TARGET_MS / 1000)}"
            )
    for r in cpu:
        shard = r.figures.get(("wave", "shard"))
        whole = r.figures.get(("wave", "whole"))
        default = r.figures.get(("wave", "default"))
        if shard and whole and default and r.shards:
            largest = max(shard.size)
            out.append(
                f"{r.monitors:,} monitors in a wave: the largest scrape is a shard's, "
                f"{_bytes(largest)} ({_bytes(max(shard.wire))} gzipped) and "
                f"{_ms(quantile(shard.cpu, 0.99))} ms of CPU (p99), the "
                f"default {_bytes(max(default.size))}, against {_bytes(max(whole.size))} and "
                f"{_ms(quantile(whole.cpu, 0.99))} ms for every monitor in one scrape: "
                f"{largest / max(whole.size):.3f} x its bytes"
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="about a minute, for a smoke test")
    parser.add_argument("--sizes", help="monitors in process, comma-separated (1000,30000,240000)")
    parser.add_argument("--rounds", type=int, help="steady rounds in process (6)")
    parser.add_argument("--runs", help="SIZE@INTERVAL over HTTP (1000@60,30000@60,240000@300)")
    parser.add_argument("--period", type=float, help="seconds between rounds of GETs (15)")
    parser.add_argument("--steady-seconds", type=float, help="seconds of steady GETs (60)")
    parser.add_argument("--no-http", action="store_true", help="only the in-process part")
    parser.add_argument("--no-install", action="store_true", help="never apt-get the exporter")
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="file",
        help="the monitors over HTTP in a YAML file started with tether monitor --config FILE "
        "(default), discovered from a file_sd source named in it, or built in Python",
    )
    parser.add_argument(
        "--stalls",
        type=float,
        metavar="MS",
        help="start the monitor with --log-stalls MS: its event loop's holds and collections "
        "longer than MS milliseconds shown as they come, the longest of each phase reported",
    )
    args = parser.parse_args()
    quick = args.quick
    sizes = [
        int(s) for s in (args.sizes or ("1000,12000" if quick else "1000,30000,240000")).split(",")
    ]
    runs = [
        (int(size), float(interval))
        for size, interval in (
            part.split("@")
            for part in (args.runs or ("300@2" if quick else "1000@60,30000@60,240000@300")).split(
                ","
            )
        )
    ]
    args.rounds = args.rounds or (2 if quick else 6)
    args.period = args.period or (1.0 if quick else 15.0)
    args.steady_seconds = (
        args.steady_seconds if args.steady_seconds is not None else (3.0 if quick else 60.0)
    )
    args.limit = 100 if quick else LIMIT
    began = time.perf_counter()
    print(f"{os.cpu_count()} cores; load average {load_average()}", flush=True)
    cpu = []
    for size in sizes:
        print(f"  in process: {size:,} monitors", flush=True)
        cpu.append(in_process(size, args.rounds, args.limit if quick else LIMIT))
    http: list[OverHttp] = []
    exporter_version = "blackbox_exporter not run"
    if not args.no_http:
        http, exporter_version = _http_part(runs, args)
    section = Section("1. /metrics at 1,000 to 240,000 monitors, beside blackbox_exporter's /probe")
    section.notes = [
        f"Measured at commit {commit()}, load average {load_average()} at the end; "
        f"{exporter_version}.  `server.metrics_monitor_limit` {args.limit:,}: past it the "
        "default scrape is the summary and each monitor's series are in "
        "`ceil(monitors / limit)` shards (`/metrics?shard=I&shards=N`)."
    ]
    section.tables = [in_process_table(cpu), check_table(cpu)]
    if http:
        section.tables.append(http_table(http))
        if args.stalls:
            section.tables.append(stall_table(http))
        section.notes.append(
            "blackbox_exporter's CPU per /probe: "
            + ", ".join(f"{_ms(r.exporter_cpu)} ms ({r.monitors:,} run)" for r in http)
        )
    section.verdicts = verdicts(cpu, http)
    section.seconds = time.perf_counter() - began
    section.show()
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_scrape.py", *sys.argv[1:]])
        write_part(args.write, HEADING, command, [section], section.seconds, exporter_version)
    return 0


def _http_part(
    runs: list[tuple[int, float]], args: argparse.Namespace
) -> tuple[list[OverHttp], str]:
    try:
        ensure_exporter(not args.no_install)
    except SetupError as exc:
        print(f"  blackbox_exporter: {exc}; over HTTP skipped", flush=True)
        return [], "blackbox_exporter missing"
    done = []
    with (
        target_servers(TARGET_PROCESSES, HOSTS_EACH, SUBNET) as failing,
        target_servers(1, 1, SUBNET + TARGET_PROCESSES) as steady,
        tempfile.TemporaryDirectory(prefix="bench-scrape-") as tmp,
    ):
        exporter = start_exporter(Path(tmp), prober_cores(), steady[0].addresses)
        try:
            exporter.wait_ready()
            env = {
                "urls": [a for t in failing for a in t.addresses],
                "targets": failing,
                "tmp": tmp,
                "exporter": exporter,
                "probe": exporter.urls[0],
            }
            for size, interval in runs:
                print(f"  over HTTP: {size:,} monitors at {interval:g} s", flush=True)
                done.append(over_http(size, interval, args, env))
        finally:
            exporter.stop()
    return done, _exporter_version()


def _exporter_version() -> str:
    import subprocess

    try:
        out = subprocess.run([EXPORTER, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return "blackbox_exporter unknown"
    words = (out.stdout + out.stderr).split()
    return (
        f"blackbox_exporter {words[words.index('version') + 1]}"
        if "version" in words
        else "blackbox_exporter unknown"
    )


if __name__ == "__main__":
    raise SystemExit(main())
