"""Mass transitions in the real ``tether monitor`` process: a cold start, every target
refusing at once, and every target back, in one process and with ``workers: 2``, and on
two instances sharing one PostgreSQL database (``--runs pg2x20000``).

Run: python benchmarks/bench_mass.py [--quick] [--runs 1x1000,1x20000,2x1000,2x120000@60]
     [--interval 30] [--cap SECONDS] [--label before|after] [--targets python|nginx]
     [--write benchmarks/history/bench_mass.md] [--json FILE] [--from-json FILE]

``--label`` says which section of this benchmark's part of history/bench_mass.md the figures are:
``before`` or ``after`` issue 23's fixes; writing one keeps the other as it was.
``--json`` keeps the raw figures, ``--from-json`` writes them out again without measuring.
A run is ``WORKERSxMONITORS[@INTERVAL]`` (one process on SQLite, ``1x``, or with worker
processes) or ``pgNxMONITORS[@INTERVAL]``: N instances on one PostgreSQL (below).

Issue 23's targets: with every target failing at once, every monitor is marked down within
one interval plus its confirmation re-probes, at 20,000 monitors in one process and at
120,000 with ``workers: 2``, and the same for the recovery; the dashboard, ``/api/status``
and ``/metrics`` answer within 1 s (p99) during the wave; checks of monitors that did not
fail keep their schedule (start lag p99 under 1 s); SIGTERM ends the process within its
documented grace; the CPU per state change the same at 1,000, 20,000 and 120,000
monitors.  ``bench_wave.py`` measures the same wave in-process on simulated time; this one
runs the real process on real time, with its web server and its worker processes.

Method.  Everything runs on loopback.

- **The monitor** is the real one: :func:`tether.monitor.run_monitor` (what ``tether
  monitor`` calls) in a child process (``--monitor SPEC``), started as ``bench_scale.py``
  starts it, logging as ``tether monitor --log-format json`` does, with a SQLite store in
  a temporary directory that is empty at the start (no saved state: a cold start),
  ``server.listen`` on a free loopback port and no users (the dashboard and APIs answer
  loopback requests), and one ``webhook`` channel, ``ops``, to a receiver in this driver
  (a threaded ``http.server`` on 127.0.0.1 answering 204 and noting when each POST came).
  By default (``--source file``) the monitor is started as its users start it, ``tether
  monitor --config FILE --log-format json``, FILE a YAML file written by
  ``_config_file.py`` (one line a monitor; ``--source discover``: the ``m`` monitors
  from a ``file_sd`` source the file names; ``--source python``: the configuration built
  in Python with ``MonitorConfig.model_validate`` and handed to ``run_monitor``, no file
  read, as earlier runs did): N HTTP monitors ``m000000``... at the interval
  (``--interval``, 30 s by default, or a run's
  own: ``2x120000@60`` is 120,000 monitors at 60 s with ``workers: 2``) with
  parse_config's default timeout, the condition ``[STATUS] == 200`` and ``alerts:
  [ops]``, on 32 target addresses (127.0.60.1-16 and 127.0.61.1-16, two target
  processes), round robin; plus ``--steady`` monitors (100) ``s0000``... on one more
  address (127.0.62.1) that never fails, at an interval of min(5 s, the interval): their
  start lag is the "unaffected checks keep their schedule" figure.  The detector's
  defaults: three failures in a row, re-probed 1 s apart, mark a monitor down; two passes
  in a row, 1 s apart, mark it up.
- **The targets** are ``_targets.Targets`` child processes answering ``200`` with
  ``Connection: close``; the outage closes the listening socket of each of the 32
  failing addresses (connections refused), one command after the other (the spread, a
  few ms, is in ``--json``'s figures); the recovery listens on the same ports again.
  With ``--targets nginx`` the 32 failing addresses are one nginx (Debian's
  ``nginx-light``, a master and two workers, ``_targets.NginxTargets``), whose CPU a
  request is about a quarter of the Python targets': the outage and the recovery are
  a reload onto a configuration without the 32 addresses or with them again (its
  master closes or opens their listening sockets at once), the event the first
  address seen refusing or answering.  Each phase's ``targets_cpu`` in ``--json`` is
  what the failing targets spent: the Python ones took a quarter to a third of a
  core of the two in a 120,000 recovery, work a real fleet's targets do elsewhere.
  The failing monitors share the 32 addresses' URLs (``http://ADDRESS/health``), or,
  with ``--url-per-monitor``, each has a URL of its own (``http://ADDRESS/health/NAME``),
  as in a real fleet: no cache keyed by a URL is shared between monitors.
- **Phases.**  *Cold start*: from the 'started' log line (the runner, the workers
  started and sent their monitors) until every monitor is up; the seconds from the
  process's start are shown too.  *Mass outage*: from the moment the first failing
  address refused until every failing monitor is down.  *Mass recovery*: from the
  moment the first address listened again until every failing monitor is up.  The bound
  of each: one interval plus the confirmation re-probes (cold start: the interval, the
  first runs being spread over it; outage: interval + 2 x 1 s; recovery: interval +
  1 s); a phase is judged against its bound plus what measuring adds (one polling period,
  the store's 0.2 s commit and 0.3 s for the probes: 1.5 s, 0.7 s in ``--quick``).  A
  phase's time runs out at its cap (``--cap`` seconds, or 3 x its bound but at least
  its bound + 120 s, so that a cold start a minute or two late still finishes and the
  outage starts from a settled monitor; ``--quick``: 3 x its bound): the
  figures then say how many monitors had changed, and the next phase starts anyway, its
  coordinator perhaps still behind (the table says which phases were cut short).  After
  each phase the driver waits ``--settle`` seconds (5) before the next event, so that
  the phase's alerts are delivered in it.
- **When a monitor changed** is read from the store, as the monitor writes it: the
  ``state_changes`` table (SQLite, read-only, WAL), polled every second (every 0.2 s in
  ``--quick``) with one query for the changes since the phase's event (the cold start's:
  since the launch, as workers check while the coordinator starts); each monitor's
  latest state counts, ``unknown`` rows left out (``StoreWatch.since`` says why).
  So the seconds include the store's commit (every 0.2 s) and up to
  one polling period, and what the monitor's web pages say may come earlier.  The check
  time the monitor stamped on the last change is shown too (the gap between the two is
  how far the coordinator and its store were behind the checks).
- **CPU per change**: utime + stime from ``/proc/PID/stat`` of the coordinator (every
  thread: the store's writer too) and of each worker (``bench_scale.workers_of``), read
  at the phase's event and at its end (every monitor changed, or the cap), divided by the
  state changes seen in the phase (the coordinator's also thread by thread, from
  ``/proc/PID/task``, in the phase's line: its event loop, and the others by native id,
  the store's writer the busiest).  It includes the checks made in the phase (in an
  outage, about three a monitor: the failed check and two re-probes; plus the steady
  monitors'), so it is not zero at any N: what matters is that it stays the same as N
  grows.  So the table also gives it *net of the quiet rate*: after the cold start (and its
  settle), a quiet window (``--quiet``, 10 s) measures the CPU rate of the coordinator and
  workers with nothing changing (the steady checks, one a monitor per interval as in any
  phase, and the API's pollers, which cost more as N grows); each phase is charged that
  rate times its length, and the rest, per change, is what the changes cost.  A cold
  start cut short leaves the coordinator catching up in that window: the table says so.
  Where changes cost less than that rate's noise (the pollers' cost varies with what the
  pages show), the net figure can come out below zero, and is not judged.  The judged
  figure is the net one at the largest size against the smallest of each shape.
- **The API during the wave**: three threads in this driver GET ``/``, ``/api/status`` and
  ``/metrics``, each at the pace a user sets: ``/`` every 5 s (the dashboard's own
  refresh, ``data-refresh-ms``), ``/api/status`` every second (a script watching it),
  ``/metrics`` every 5 s (a tight Prometheus scrape interval: its default is a minute;
  the default scrape, which past 10,000 monitors is the summary since issue 46, each
  monitor's series then being scraped in shards: ``bench_scrape.py`` measures those)
  (``--api-period S`` polls all three every S seconds; the "before" figures were measured
  at 0.5 s each, when renders of every monitor twice a second each took most of the
  process's one core of Python: see history/bench_mass.md); the next request as soon as
  the previous answered, when it took longer than the period; a 30 s timeout: a request
  that timed out or failed counts as 30 s, and is counted.  p50 / p99 / max of the
  requests started in the phase (from its event to its end).
- **Unaffected checks**: the start lag (``lag_ms`` the prober stored: when a check
  started less when its schedule had it due) of the steady monitors' checks that
  started in the phase, p50 / p99 / max.
- **Alerts**: POSTs the receiver got from the phase's event until the next phase's event
  (the last: until SIGTERM), and the outbox rows the monitor queued in the same span
  (``created``); **incidents** opened (and, in the recovery, resolved) in that span.
- **SIGTERM** at the end: seconds until the process exited (killed past 90 s), against
  the grace of ``docs/deployment.md``'s systemd unit (``TimeoutStopSec=30``).
- **Instances on PostgreSQL** (``pg2x20000``, issue 23's "two instances sharing one
  PostgreSQL"): the driver starts a PostgreSQL server of its own for the run
  (``tests/helpers/postgres_server.py``'s: Debian's binaries, a fresh cluster in a temporary
  directory, 127.0.0.1 only, fsync off) and N monitor processes as above (one process
  each, no workers) on the same configuration with ``storage.postgres`` naming its
  database (and a spill file each): the cluster mode of docs/deployment.md, the default
  lease, the monitors shared by shards, the leader running the incidents.  The phases
  read ``state_changes`` there: the cluster's state, which the leader records once it
  has read what each instance published at its location; when every monitor was seen
  at its location (``tether_location_states``, the probers' view) is shown beside it.
  The cold start runs from the last instance's 'started' line (changes counted from the
  first launch).  CPU is each instance's (their sum in the coordinator column, and
  each one's in a table of its own, with the shards it held and whether it led before
  SIGTERM); the PostgreSQL server's (every backend's, this driver's reads included) is
  apart, left out of the processes' figures and of 'other cores busy'.  The API is
  polled on instance 1.  The receiver notes each alert's Idempotency-Key and event:
  alerts received twice (any instance may deliver any alert) are counted, and the
  outage's alerts are judged against the incidents opened (one process sends about one
  a channel for each).  SIGTERM goes to every instance at once; the slowest counts.
- **The machine** has 2 cores, shared by the monitor, its workers, the targets, this
  driver (its pollers, its receiver and its store reads) and whatever else runs there;
  nothing is pinned (``taskset`` has nothing to pin to on 2 cores, as bench_scale.py
  says).  The load average at each run's end and the cores the machine spent busy
  outside the monitor are shown, so that a figure measured beside other work says so.

The default runs took 26 minutes before issue 23's fixes, most phases cut short at their
cap (1,000 monitors: 2.5 minutes a shape; 20,000: 9; 120,000: 12); with every phase
within its bound a run is about three bounds, 25 s of settling and the quiet window, and
the start: some 2.5 minutes each at 1,000 and 20,000, 5 at 120,000.  ``--quick`` runs 40
monitors at a 2 s interval in one process and with ``workers: 2``, in about 30 s: it
shows that the benchmark works, not how far tether goes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _config_file import SOURCES, monitor_command, write_config
from _report import Section, met, table, write_part  # benchmarks/ is the script's own directory
from _targets import NGINX, NginxTargets, Targets, target_servers
from bench_monitor import everywhere, quantile, versions
from bench_scale import busy_cores_seconds, cpu_seconds, load_average, workers_of

HEADING = "# Benchmark results: mass transitions in the real monitor process"
SUBNET = 60
"""The failing targets listen on 127.0.60.x and 127.0.61.x, the steady one on 127.0.62.1:
apart from bench_monitor's and bench_scale's."""
TARGET_PROCESSES, HOSTS_EACH = 2, 16
CONFIRM_DELAY = 1.0
"""The detector's default re-probe delay (docs/detection.md)."""
FAILURE_THRESHOLD, SUCCESS_THRESHOLD = 3, 2
GRACE = 30.0
"""The documented stop grace: docs/deployment.md's unit, ``TimeoutStopSec=30``."""
KILL_AFTER = 90.0
API_TIMEOUT = 30.0
API_PERIODS = {"/": 5.0, "/api/status": 1.0, "/metrics": 5.0}
"""Seconds between GETs of each endpoint (the method says why)."""
API_TARGET = 1.0
LAG_TARGET = 1.0
CPU_RATIO_TARGET = 1.5
"""How much more CPU per change the largest size may take than 1,000 monitors: "the same",
with room for the noise of a shared 2-core machine."""
ENDPOINTS = ("/", "/api/status", "/metrics")
DEFAULT_RUNS = "1x1000,1x20000,2x1000,2x120000@60"
"""120,000 at 60 s: bench_scale.py's steady state (2,000 checks/s, about one core of the
two for the checks alone); at 30 s the checks alone would need more than the machine."""
PHASES = ("cold start", "mass outage", "mass recovery")
NUMBERS = {2: "two", 3: "three", 4: "four"}
SHARDS = 256
"""The shards a location's monitors are split into (docs/deployment.md)."""

# ---------------------------------------------------------------------------------------------
# The monitor process: python bench_mass.py --monitor SPEC
# ---------------------------------------------------------------------------------------------


def monitor_config(spec: dict[str, Any]) -> Any:
    """The configuration ``spec`` describes, as ``tether.yaml`` would give it."""
    from tether.monitor.config import MonitorConfig, Server, Storage, default_timeout

    own_paths = spec.get("own_paths", False)

    def monitor(name: str, url: str, interval: float) -> dict[str, Any]:
        return {
            "name": name,
            "url": f"http://{url}/health" + (f"/{name}" if own_paths and name[0] == "m" else ""),
            "interval": f"{interval * 1000:.0f}ms",
            "timeout": f"{default_timeout(interval) * 1000:.0f}ms",
            "conditions": ["[STATUS] == 200"],
            "locations": everywhere(),
            "alerts": ["ops"],
        }

    urls, interval = spec["urls"], spec["interval"]
    steady_interval = min(5.0, interval)
    monitors = [
        monitor(f"m{i:06d}", urls[i % len(urls)], interval) for i in range(spec["monitors"])
    ]
    monitors += [
        monitor(f"s{i:04d}", spec["steady_url"], steady_interval) for i in range(spec["steady"])
    ]
    data = {
        "alerts": [{"name": "ops", "type": "webhook", "url": spec["hook"]}],
        "monitors": monitors,
    }
    base = MonitorConfig.model_validate(data)
    # Instances on one PostgreSQL database get a spill file each: by default it is named
    # after the database's URL, the same for both.
    storage = (
        {"postgres": spec["postgres"], "spill": spec["db"] + ".spill"}
        if spec.get("postgres")
        else {"path": spec["db"]}
    )
    return base.model_copy(
        update={
            "workers": spec["workers"],
            "storage": Storage.model_validate(storage),
            "server": Server.model_validate(
                {"listen": "127.0.0.1:0", **{k: v for k, v in spec.items() if k in _SERVER}}
            ),
        }
    )


_SERVER = ("metrics_monitor_limit",)
"""What of ``server:`` a spec may set (bench_scrape.py sets the limit of /metrics)."""


def config_file(spec: dict[str, Any]) -> Path | None:
    """The configuration ``spec`` describes written as a YAML file, the monitors in it or
    discovered (``spec["source"]``; ``_config_file.py``), beside the store; None for a
    configuration built in Python (``source`` ``python``)."""
    source = spec.get("source", "python")
    if source == "python":
        return None
    storage = (
        {"postgres": spec["postgres"], "spill": spec["db"] + ".spill"}
        if spec.get("postgres")
        else {"path": spec["db"]}
    )
    server = {"listen": "127.0.0.1:0", **{k: v for k, v in spec.items() if k in _SERVER}}
    top = {
        "workers": spec["workers"],
        "storage": storage,
        "server": server,
        "alerts": [{"name": "ops", "type": "webhook", "url": spec["hook"]}],
    }
    steady = min(5.0, spec["interval"])
    more = [
        {
            "name": f"s{i:04d}",
            "url": f"http://{spec['steady_url']}/health",
            "interval": f"{steady * 1000:.0f}ms",
            "conditions": ["[STATUS] == 200"],
        }
        for i in range(spec["steady"])
    ]
    folder = Path(spec["db"] + "-config")
    return write_config(
        folder,
        source,
        spec["urls"],
        spec["monitors"],
        spec["interval"],
        top=top,
        defaults={"alerts": ["ops"]},
        more=more,
        own_paths=spec.get("own_paths", False),
    )


def monitor_process(spec_text: str) -> int:
    """``tether monitor`` as the CLI runs it, on a configuration built in Python."""
    from tether.monitor import logging_to, open_store, run_monitor

    spec = json.loads(spec_text)
    config = monitor_config(spec)
    with logging_to(sys.stderr, "json", own_process=True):
        store = open_store(config.storage)
        with store:
            # The path is only read again on SIGHUP, which nothing sends here.
            stalls = spec.get("stalls")
            return run_monitor(
                spec["db"] + ".yaml", config, store, stalls=stalls / 1000 if stalls else None
            )


# ---------------------------------------------------------------------------------------------
# The driver's side
# ---------------------------------------------------------------------------------------------


@dataclass
class Stall:
    """One line of the monitor's stall watch (``tether monitor --log-stalls MS``)."""

    at: float
    """When the driver read it (time.time())."""
    kind: str
    """``loop`` (the event loop held) or ``gc`` (one collection)."""
    ms: float
    """How long, wall time: the loop held, or the collection."""
    cpu_ms: float
    """The CPU time the loop's thread had in that time (on a loaded machine, less)."""
    collector_ms: float
    """Of a loop's hold, what the collector took; of a collection, all of it."""
    generation: int
    """A collection's generation (-1 for a loop's hold)."""
    what: str
    """The line's own words: what was on the loop."""

    @classmethod
    def of(cls, line: str) -> Stall | None:
        try:
            record = json.loads(line)
        except ValueError:
            return None
        message = str(record.get("message", ""))
        if record.get("event") == "stall.loop":
            found = re.search(r"held (\d+) ms \((\d+) ms of its thread's CPU\), (\d+) ms", message)
            if found is None:
                return None
            held, cpu, gc_ms = (float(found.group(n)) for n in (1, 2, 3))
            what = message.split("on the loop then: ", 1)[-1]
            return cls(time.time(), "loop", held, cpu, gc_ms, -1, what)
        found = re.search(r"generation (\d) held the process (\d+) ms \((\d+) ms", message)
        if found is None:
            return None
        took, cpu = float(found.group(2)), float(found.group(3))
        return cls(time.time(), "gc", took, cpu, took, int(found.group(1)), message)

    def show(self) -> str:
        if self.kind == "gc":
            return self.what
        return (
            f"stall: the loop held {self.ms:,.0f} ms ({self.cpu_ms:,.0f} of its CPU, "
            f"{self.collector_ms:,.0f} the collector's): {self.what[:300]}"
        )


class MonitorProcess:
    """The monitor child.  Its stderr is read as it comes: the 'started' line (and the
    address it names) is kept, the rest only counted (a wave logs a line per change), the
    last lines kept for an error message."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.config = config_file(spec)
        command = (
            monitor_command(self.config)
            if self.config is not None
            else [sys.executable, os.path.abspath(__file__), "--monitor", json.dumps(spec)]
        )
        if spec.get("stalls") and self.config is not None:
            command += ["--log-stalls", f"{spec['stalls']:g}"]
        self.stalls: list[Stall] = []
        """The stall watch's lines (``--stalls``), as they came."""
        self.spawned = time.time()
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.started: float | None = None
        self.address = ""
        self.lines = 0
        self.died = 0
        self.tail: deque[str] = deque(maxlen=30)
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines += 1
            self.tail.append(line)
            if '"worker.died"' in line:
                self.died += 1
            if '"stall.summary"' in line:
                print(f"      {json.loads(line).get('message', '')}", flush=True)
            elif '"stall.' in line:
                stall = Stall.of(line)
                if stall is not None:
                    self.stalls.append(stall)
                    print(f"      {stall.show()}", flush=True)
            if self.started is None and '"started"' in line:
                found = re.search(r"http://([^/\s]+)/", line)
                with self._changed:
                    self.started = time.time()
                    self.address = found.group(1) if found else ""
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_started(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.started is None:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the monitor did not start:\n" + "\n".join(self.tail))
                self._changed.wait(0.5)
            return self.started

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took (killed past KILL_AFTER)."""
        self.terminate()
        return self.exited()

    def terminate(self) -> None:
        """SIGTERM, without waiting: several instances are sent theirs at once, and a
        thread each notes when its own exited."""
        self._exit: tuple[int, float] = (-1, float("nan"))
        self._waiter = threading.Thread(target=self._wait_exit, args=(time.monotonic(),))
        self.proc.send_signal(signal.SIGTERM)
        self._waiter.start()

    def _wait_exit(self, began: float) -> None:
        try:
            code = self.proc.wait(KILL_AFTER)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._exit = (code, time.monotonic() - began)

    def exited(self) -> tuple[int, float]:
        """The exit code and the seconds from :meth:`terminate` (killed past KILL_AFTER)."""
        self._waiter.join()
        self._reader.join(10)
        return self._exit


class Receiver:
    """The webhook channel's receiver: notes when each POST arrived, answers 204."""

    def __init__(self) -> None:
        posts: list[tuple[float, str, str]] = []
        self.posts = posts
        """When each POST came, its Idempotency-Key and its event (``down``, ``up``...)."""

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    event = str(json.loads(body).get("event", "?"))
                except (ValueError, AttributeError):
                    event = "?"
                posts.append((time.time(), self.headers.get("Idempotency-Key", ""), event))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()

    def between(self, start: float, end: float) -> int:
        return sum(1 for t, _, _ in list(self.posts) if start <= t < end)

    def events(self, start: float, end: float) -> dict[str, int]:
        """How many POSTs between the two carried each event."""
        found: dict[str, int] = {}
        for t, _, event in list(self.posts):
            if start <= t < end:
                found[event] = found.get(event, 0) + 1
        return found

    def twice(self, start: float, end: float) -> int:
        """POSTs between the two whose Idempotency-Key had come before: an alert
        delivered again (by another instance, or after a failure)."""
        seen: set[str] = set()
        again = 0
        for t, key, _ in list(self.posts):
            if start <= t < end and key in seen:
                again += 1
            seen.add(key)
        return again

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ApiPoller:
    """GETs ``path`` every ``period`` seconds until stopped; each request's start and
    seconds (a timeout or a failure: API_TIMEOUT, and counted as failed)."""

    def __init__(self, base: str, path: str, period: float) -> None:
        self.url, self.path, self.period = base + path, path, period
        self.samples: list[tuple[float, float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            began, t0 = time.time(), time.perf_counter()
            ok = True
            try:
                with urllib.request.urlopen(self.url, timeout=API_TIMEOUT) as answer:
                    answer.read()
                took = time.perf_counter() - t0
            except (OSError, urllib.error.URLError):
                ok, took = False, API_TIMEOUT
            self.samples.append((began, took, ok))
            self._stop.wait(max(0.0, self.period - (time.perf_counter() - t0)))

    def between(self, start: float, end: float) -> tuple[list[float], int]:
        found = [(s, ok) for t, s, ok in list(self.samples) if start <= t < end]
        return [s for s, _ in found], sum(1 for _, ok in found if not ok)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(API_TIMEOUT + 5)


def _connect(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)


@dataclass
class ApiFigures:
    p50: float = float("nan")
    p99: float = float("nan")
    worst: float = float("nan")
    count: int = 0
    failed: int = 0


@dataclass
class PhaseResult:
    name: str
    bound: float
    """One interval plus the confirmation re-probes."""
    slack: float
    """What measuring adds: one polling period and the store's commit (0.2 s), with 0.3 s
    for the probes themselves."""
    cap: float
    total: int
    changed: int = 0
    seconds: float = float("nan")
    """From the event until every monitor was seen changed in the store (NaN: cut short)."""
    last_check: float = float("nan")
    """From the event to the check time the monitor stamped on the last change seen."""
    since_spawn: float = float("nan")
    coordinator_cpu: float = 0.0
    workers_cpu: float = 0.0
    lag_p50: float = float("nan")
    lag_p99: float = float("nan")
    lag_max: float = float("nan")
    lag_count: int = 0
    alerts: int = 0
    queued: int = 0
    incidents: int = 0
    resolved: int = 0
    api: dict[str, ApiFigures] = field(default_factory=dict)
    others_cores: float = 0.0
    targets_cpu: float = 0.0
    """CPU seconds of the failing targets' processes in the phase (Python or nginx)."""
    wall: float = 0.0
    """Seconds from the event to the phase's end (every monitor changed, or the cap)."""
    quiet_cores: float = 0.0
    """The run's quiet CPU rate (cores, coordinator and workers), charged to no change."""
    # Instances on PostgreSQL only (left out of --json for the other shapes):
    instances_cpu: list[float] = field(default_factory=list)
    """CPU seconds of each instance (coordinator_cpu is their sum)."""
    postgres_cpu: float = 0.0
    """CPU seconds of the PostgreSQL server (every backend: the driver's reads too)."""
    located: float = float("nan")
    """From the event until every monitor's state at its location (what its prober
    published, before the leader decides for the cluster) was seen (NaN: never)."""
    twice: int = 0
    """Alerts received again (an Idempotency-Key already received)."""
    events: dict[str, int] = field(default_factory=dict)
    """Alerts received, by event (``down``, ``up``, ``incident``...)."""
    # With --stalls only (left out of --json without it):
    stalls: dict[str, Any] = field(default_factory=dict)
    """The stall watch's figures in the phase (:func:`stall_figures`)."""
    threads: dict[str, float] = field(default_factory=dict)
    """CPU seconds of the (first) coordinator's threads in the phase, by thread name
    (:func:`threads_cpu`; left out of --json when empty)."""

    @property
    def done(self) -> bool:
        return not math.isnan(self.seconds)

    @property
    def per_change(self) -> float:
        """CPU µs per change, coordinator and workers."""
        return (
            (self.coordinator_cpu + self.workers_cpu) / self.changed * 1e6
            if self.changed
            else float("nan")
        )

    @property
    def coordinator_per_change(self) -> float:
        return self.coordinator_cpu / self.changed * 1e6 if self.changed else float("nan")

    @property
    def net_per_change(self) -> float:
        """CPU µs per change, coordinator and workers, less what the same span costs
        without changes (the quiet window's rate: the steady checks, the API's pollers)."""
        if not self.changed:
            return float("nan")
        net = self.coordinator_cpu + self.workers_cpu - self.quiet_cores * self.wall
        return net / self.changed * 1e6


@dataclass
class Member:
    """One instance of a run on PostgreSQL."""

    started: float = float("nan")
    """Seconds from its launch to its 'started' line."""
    quiet: float = float("nan")
    """Cores it used in the quiet window."""
    stop_seconds: float = float("nan")
    exit_code: int | None = None
    shards: int = 0
    """Shards it held before SIGTERM (``tether_instances.shards``)."""
    led: bool = False
    """Whether it led the cluster before SIGTERM."""


@dataclass
class Run:
    workers: int
    monitors: int
    interval: float
    steady: int
    phases: list[PhaseResult] = field(default_factory=list)
    started: float = float("nan")
    """Seconds from the process's start to its 'started' line."""
    spread_ms: float = 0.0
    quiet_coordinator: float = float("nan")
    """Cores the coordinator used in the quiet window (after the cold start)."""
    quiet_workers: float = float("nan")
    quiet_after_cut: bool = False
    stop_seconds: float = float("nan")
    exit_code: int | None = None
    restarts: int = 0
    load: str = ""
    error: str = ""
    # Instances on PostgreSQL only (left out of --json for the other shapes):
    instances: int = 1
    members: list[Member] = field(default_factory=list)

    @property
    def shape(self) -> str:
        if self.instances > 1:
            return f"{NUMBERS.get(self.instances, str(self.instances))} instances on PostgreSQL"
        return "one process" if self.workers == 1 else f"workers: {self.workers}"


NEW_FIELDS = {
    "instances_cpu": [],
    "postgres_cpu": 0.0,
    "located": float("nan"),
    "twice": 0,
    "events": {},
    "instances": 1,
    "members": [],
    "stalls": {},
    "threads": {},
}
"""Figures of the runs on PostgreSQL, and their values in any other: left out of
``--json`` there, so that the other shapes' JSON stays as it was."""


def saved_form(run: Run) -> dict[str, Any]:
    """``run`` as ``--json`` keeps it."""

    def trim(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k not in NEW_FIELDS or not _same(v, NEW_FIELDS[k])}

    out = trim(asdict(run))
    out["phases"] = [trim(p) for p in out["phases"]]
    return out


def _same(a: Any, b: Any) -> bool:
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return both_nan or a == b


class StoreWatch:
    """What the monitor wrote to its SQLite store: each monitor's latest state change since
    a moment, counts, the steady monitors' start lags."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def since(self, at: float) -> tuple[dict[str, str], float]:
        """Latest state of every monitor that changed at or after ``at``; the latest
        check time stamped on those changes.  ``unknown`` rows are left out: ``Runner.run``
        records every monitor's state as it begins (``unknown`` on a cold start), stamped
        then, and with worker processes the first checks, made before, are stamped
        earlier, so a monitor already ``up`` would seem ``unknown`` (no monitor here is
        paused and resumed, the other way to ``unknown``)."""
        try:
            conn = _connect(self.db)
        except sqlite3.OperationalError:
            return {}, float("nan")
        try:
            rows = conn.execute(SINCE, (at,)).fetchall()
        except sqlite3.OperationalError:  # not created yet
            rows = []
        finally:
            conn.close()
        return _latest(rows)

    def located(self, at: float, names: set[str], state: str) -> bool | None:
        """Whether every one of ``names`` was ``state`` at its location since ``at``: only
        instances on PostgreSQL publish that apart from the cluster's state."""
        return None

    def count(self, sql: str, params: tuple[Any, ...]) -> int:
        """The one number ``sql`` (with ``?`` placeholders) returns; 0 on no table."""
        conn = _connect(self.db)
        try:
            return int(conn.execute(sql, params).fetchone()[0] or 0)
        except sqlite3.OperationalError:
            return 0
        finally:
            conn.close()

    def lags(self, names: tuple[str, ...], start: float, end: float) -> list[float]:
        """Start lags (s) of the steady monitors' checks that started between the two."""
        if not names:
            return []
        conn = _connect(self.db)
        try:
            rows = conn.execute(
                LAGS.format(lag="json_extract(data, '$.lag_ms')"),
                (names[0], names[-1], start, end),
            ).fetchall()
        finally:
            conn.close()
        return [(lag or 0.0) / 1000 for (lag,) in rows]

    def close(self) -> None:
        pass


SINCE = (
    "SELECT monitor, at, state FROM state_changes WHERE at >= ? AND state != 'unknown' ORDER BY at"
)
LAGS = (
    "SELECT {lag} FROM results WHERE monitor >= ? AND monitor <= ? "
    "AND ts - coalesce(latency_ms, 0) / 1000.0 BETWEEN ? AND ?"
)


def _latest(rows: list[tuple[str, float, str]]) -> tuple[dict[str, str], float]:
    latest = {m: s for m, _, s in rows}
    return latest, max((a for _, a, _ in rows), default=float("nan"))


class PostgresWatch(StoreWatch):
    """The same reads from the PostgreSQL database the instances share (one connection,
    autocommit): ``state_changes`` is the cluster's state, as the leader decides it."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.errors: tuple[type[Exception], ...] = (psycopg.errors.UndefinedTable,)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.backend = self.conn.info.backend_pid
        """The server process that answers these reads: its CPU is the driver's, not
        the monitor's, and is left out of PostgreSQL's figure."""

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return list(self.conn.execute(sql.replace("?", "%s"), params).fetchall())
        except self.errors:  # not migrated yet
            return []

    def since(self, at: float) -> tuple[dict[str, str], float]:
        return _latest(self._rows(SINCE, (at,)))

    def located(self, at: float, names: set[str], state: str) -> bool | None:
        rows = self._rows(
            "SELECT monitor FROM tether_location_states WHERE since >= ? AND state = ?",
            (at, state),
        )
        return len(names.intersection(m for (m,) in rows)) >= len(names)

    def count(self, sql: str, params: tuple[Any, ...]) -> int:
        rows = self._rows(sql, params)
        return int(rows[0][0] or 0) if rows else 0

    def lags(self, names: tuple[str, ...], start: float, end: float) -> list[float]:
        if not names:
            return []
        rows = self._rows(
            LAGS.format(lag="(data->>'lag_ms')::float"), (names[0], names[-1], start, end)
        )
        return [(lag or 0.0) / 1000 for (lag,) in rows]

    def members(self) -> dict[int, tuple[int, bool]]:
        """Each live instance's shards and whether it leads, by its pid."""
        rows = self._rows("SELECT pid, shards, leader FROM tether_instances", ())
        return {int(pid): (int(shards), bool(leader)) for pid, shards, leader in rows}

    def close(self) -> None:
        self.conn.close()


def cpu_of(pids: list[int]) -> tuple[float, float]:
    """CPU seconds of the coordinator (``pids[0]``) and of the rest together."""
    return cpu_seconds(pids[0]), sum(cpu_seconds(p) for p in pids[1:])


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid``, of its children it reaped and of its live ones: a
    PostgreSQL server's, every backend's included."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(entry) == pid:
            total += sum(int(f) for f in fields[11:15]) / CLK_TCK  # its own, its children's
        elif int(fields[1]) == pid:
            total += sum(int(f) for f in fields[11:13]) / CLK_TCK
    return total


CLK_TCK = os.sysconf("SC_CLK_TCK")


def threads_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid`` (``/proc/PID/task``): ``event loop`` (the
    process's first thread) and each other by its name and native id (Python 3.11 names
    no thread for the system, so most read ``python``; the store's writer is the
    busiest of them)."""
    out: dict[str, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        name = "event loop" if tid == str(pid) else f"{name} {tid}"
        fields = text.rsplit(")", 1)[1].split()
        out[name] = sum(int(f) for f in fields[11:13]) / CLK_TCK
    return out


def postgres_server() -> Any:
    """A PostgreSQL server of its own, started in a temporary directory, listening on
    127.0.0.1: ``tests/helpers/postgres_server.py``'s, which the store's tests use."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.helpers.postgres_server import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL binaries (Debian's postgresql package)")
    server = PostgresServer(bindir)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


def postgres_cpu(postmaster: int | None, watch: StoreWatch) -> float:
    """CPU seconds of the PostgreSQL server (0 without one), less the backend that answers
    the driver's own reads (the phases' polls are not the monitor's work)."""
    if postmaster is None:
        return 0.0
    driver = proc_cpu(watch.backend) if isinstance(watch, PostgresWatch) else 0.0
    return tree_cpu(postmaster) - driver


def proc_cpu(pid: int) -> float:
    """utime + stime of ``pid`` (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postmaster_pid(server: Any) -> int:
    """The server's first process (its backends are its children)."""
    return int((server.data / "postmaster.pid").read_text().split()[0])


def wait_phase(
    watch: StoreWatch,
    event: float,
    since: float,
    names: set[str],
    state: str,
    cap: float,
    poll: float,
    procs: list[MonitorProcess],
) -> tuple[int, float, float, float]:
    """Poll until every one of ``names`` is ``state`` by a change since ``since``, or
    ``cap`` s have passed since ``event``: how many were, when all were (NaN: cut short),
    the last change's check time, and when every one was first seen ``state`` at its
    location (NaN: never, or a store that does not say)."""
    located = float("nan")
    while True:
        latest, last = watch.since(since)
        changed = sum(1 for n, s in latest.items() if s == state and n in names)
        if math.isnan(located) and watch.located(since, names, state):
            located = time.time()
        now = time.time()
        if changed >= len(names):
            return changed, now, last, located
        if now - event > cap or any(p.proc.poll() is not None for p in procs):
            return changed, float("nan"), last, located
        time.sleep(poll)


def run_one(
    instances: int,
    workers: int,
    monitors: int,
    interval: float,
    args: argparse.Namespace,
    urls: list[str],
    steady_url: str,
    targets: list[Targets] | list[NginxTargets],
    tmp: Path,
) -> Run:
    """One run: one monitor process on SQLite, or ``instances`` of them on one
    PostgreSQL server started for the run."""
    run = Run(workers, monitors, interval, args.steady, instances=instances)
    receiver = Receiver()
    spec = {
        "urls": urls,
        "steady_url": steady_url,
        "monitors": monitors,
        "steady": args.steady,
        "interval": interval,
        "workers": workers,
        "db": str(tmp / f"mass-{workers}-{monitors}.db"),
        "hook": receiver.url,
        "source": args.source,
        "stalls": args.stalls,
        "own_paths": args.url_per_monitor,
    }
    server = None
    watch: StoreWatch
    if instances > 1:
        print(f"  {run.shape}, {monitors:,} monitors: starting PostgreSQL", flush=True)
        server = postgres_server()
        dsn = server.dsn()
        specs = [
            {**spec, "postgres": dsn, "db": str(tmp / f"mass-pg-{monitors}-{n}")}
            for n in range(1, instances + 1)
        ]
        watch = PostgresWatch(dsn)
    else:
        specs = [spec]
        watch = StoreWatch(Path(spec["db"]))
    try:
        return _measure_run(run, specs, watch, receiver, server, args, targets)
    finally:
        watch.close()
        if server is not None:
            server.stop()


def _measure_run(
    run: Run,
    specs: list[dict[str, Any]],
    watch: StoreWatch,
    receiver: Receiver,
    server: Any,
    args: argparse.Namespace,
    targets: list[Targets] | list[NginxTargets],
) -> Run:
    monitors, interval = run.monitors, run.interval
    wave = {f"m{i:06d}" for i in range(monitors)}
    every = wave | {f"s{i:04d}" for i in range(args.steady)}
    steady_names = tuple(sorted(every - wave))
    procs = [MonitorProcess(s) for s in specs]
    spawned = min(p.spawned for p in procs)
    postgres = postmaster_pid(server) if server is not None else None
    pollers: list[ApiPoller] = []
    print(f"  {run.shape}, {monitors:,} monitors: starting", flush=True)
    try:
        # The cold start's event: the last instance started (the first is alone until then).
        started = max(p.wait_started(900) for p in procs)
        run.members = [Member(p.started - p.spawned) for p in procs] if server else []
        run.started = max(p.started - p.spawned for p in procs)
        groups = [[p.proc.pid, *workers_of(p.proc.pid)] for p in procs]
        base = f"http://{procs[0].address}"
        pollers = [ApiPoller(base, p, args.api_period or API_PERIODS[p]) for p in ENDPOINTS]
        bounds = {
            "cold start": interval,
            "mass outage": interval + (FAILURE_THRESHOLD - 1) * CONFIRM_DELAY,
            "mass recovery": interval + (SUCCESS_THRESHOLD - 1) * CONFIRM_DELAY,
        }
        spans: list[tuple[PhaseResult, float, float]] = []
        for name in PHASES:
            bound = bounds[name]
            cap = args.cap if args.cap else max(3 * bound, bound + args.cap_extra)
            names = every if name == "cold start" else wave
            result = PhaseResult(name, bound, args.poll + 0.5, cap, len(names))
            state = "down" if name == "mass outage" else "up"
            busy0 = busy_cores_seconds()
            targets0 = sum(t.cpu() for t in targets)
            mine0 = cpu_seconds(os.getpid()) + targets0
            if name == "cold start":
                event = started
            else:
                command = "down" if name == "mass outage" else "up"
                t0 = time.time()
                # The first address's switch is the event; the others follow within ms.
                switched = [at for t in targets for at in t.switch_all(command)]
                event = switched[0]
                run.spread_ms = max(run.spread_ms, (switched[-1] - t0) * 1000)
            cpu0 = [cpu_of(g) for g in groups]
            threads0 = threads_cpu(groups[0][0])
            pg0 = postgres_cpu(postgres, watch)
            # The cold start counts changes from the launch: workers check as they start.
            since = spawned if name == "cold start" else event
            changed, done, last, located = wait_phase(
                watch, event, since, names, state, cap, args.poll, procs
            )
            end = time.time() if math.isnan(done) else done
            cpu1 = [cpu_of(g) for g in groups]
            threads1 = threads_cpu(groups[0][0])
            result.threads = {
                k: round(v - threads0.get(k, 0.0), 2)
                for k, v in sorted(threads1.items(), key=lambda kv: -kv[1])
                if v - threads0.get(k, 0.0) > 0
            }
            pg1 = postgres_cpu(postgres, watch)
            busy = busy_cores_seconds() - busy0
            targets1 = sum(t.cpu() for t in targets)
            result.targets_cpu = targets1 - targets0
            mine = cpu_seconds(os.getpid()) + targets1 - mine0
            result.changed = changed
            result.seconds = done - event
            result.last_check = last - event
            result.since_spawn = done - spawned if name == "cold start" else float("nan")
            result.coordinator_cpu = sum(b[0] - a[0] for a, b in zip(cpu0, cpu1, strict=True))
            result.workers_cpu = sum(b[1] - a[1] for a, b in zip(cpu0, cpu1, strict=True))
            if server is not None:
                result.instances_cpu = [sum(b) - sum(a) for a, b in zip(cpu0, cpu1, strict=True)]
                result.postgres_cpu = pg1 - pg0
                result.located = located - event
            monitor_cpu = result.coordinator_cpu + result.workers_cpu + result.postgres_cpu
            result.others_cores = max(0.0, (busy - mine - monitor_cpu) / max(end - event, 1e-6))
            shown = "cut short" if not result.done else f"{result.seconds:.1f} s"
            print(
                f"    {name}: {changed:,} of {len(names):,} {state} ({shown}; bound "
                f"{bound:g} s, cap {cap:g} s), {_s(result.per_change, 0)} CPU µs per change"
                + (
                    f"; at their location in {_s(result.located)} s, PostgreSQL "
                    f"{_s(result.postgres_cpu / max(changed, 1) * 1e6, 0)} µs per change"
                    if server is not None
                    else ""
                )
                + "; coordinator's threads, CPU s: "
                + ", ".join(f"{k} {v:.1f}" for k, v in result.threads.items()),
                flush=True,
            )
            result.wall = end - event
            time.sleep(args.settle)
            spans.append((result, event, end))
            run.phases.append(result)
            if name == "cold start":
                # The quiet rate: what a span costs with no change in it.
                q0, t0 = [cpu_of(g) for g in groups], time.perf_counter()
                time.sleep(args.quiet)
                q1, took = [cpu_of(g) for g in groups], time.perf_counter() - t0
                run.quiet_coordinator = sum(b[0] - a[0] for a, b in zip(q0, q1, strict=True)) / took
                run.quiet_workers = sum(b[1] - a[1] for a, b in zip(q0, q1, strict=True)) / took
                run.quiet_after_cut = not result.done
                for member, a, b in zip(run.members, q0, q1, strict=False):
                    member.quiet = (sum(b) - sum(a)) / took
        for result in run.phases:
            result.quiet_cores = run.quiet_coordinator + run.quiet_workers
        run.load = load_average()
        run.restarts = sum(p.died for p in procs)
        if isinstance(watch, PostgresWatch):
            held = watch.members()
            for member, p in zip(run.members, procs, strict=True):
                member.shards, member.led = held.get(p.proc.pid, (0, False))
        for poller in pollers:
            poller.close()
        stopping = time.time()
        for p in procs:
            p.terminate()
        exits = [p.exited() for p in procs]
        run.exit_code = next((code for code, _ in exits if code != 0), exits[0][0])
        run.stop_seconds = max(took for _, took in exits)
        for member, (code, took) in zip(run.members, exits, strict=False):
            member.exit_code, member.stop_seconds = code, took
        print(
            "    SIGTERM: " + ", ".join(f"exit {code} in {took:.1f} s" for code, took in exits),
            flush=True,
        )
        for n, (p, (_, took)) in enumerate(zip(procs, exits, strict=True), start=1):
            if took > GRACE:  # what it was doing: its last lines
                print(f"    process {n}'s last lines:\n      " + "\n      ".join(p.tail))
    except BaseException:
        for poller in pollers:
            poller._stop.set()
        for p in procs:
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()
        receiver.close()
        raise
    receiver.close()
    # Figures read after the run: each phase's span is its event to the next one's.
    for i, (result, event, end) in enumerate(spans):
        until = spans[i + 1][1] if i + 1 < len(spans) else stopping
        result.alerts = receiver.between(event, until)
        if server is not None:
            result.twice = receiver.twice(event, until)
            result.events = receiver.events(event, until)
        result.queued = watch.count(
            "SELECT count(*) FROM outbox WHERE created >= ? AND created < ?", (event, until)
        )
        result.incidents = watch.count(
            "SELECT count(*) FROM incidents WHERE opened >= ? AND opened < ?", (event, until)
        )
        result.resolved = watch.count(
            "SELECT count(*) FROM incidents WHERE resolved >= ? AND resolved < ?",
            (event, until),
        )
        for poller in pollers:
            seconds, failed = poller.between(event, end)
            result.api[poller.path] = ApiFigures(
                quantile(seconds, 0.5),
                quantile(seconds, 0.99),
                max(seconds, default=float("nan")),
                len(seconds),
                failed,
            )
        if args.stalls:
            result.stalls = stall_figures(procs[0].stalls, event, end)
        lags = watch.lags(steady_names, event, end)
        result.lag_count = len(lags)
        result.lag_p50, result.lag_p99 = quantile(lags, 0.5), quantile(lags, 0.99)
        result.lag_max = max(lags, default=float("nan"))
    return run


def stall_figures(stalls: list[Stall], start: float, end: float) -> dict[str, Any]:
    """What the stall watch said from ``start`` to ``end`` (a line is read up to a second
    after what it tells, so the span reaches a second past the end): the loop's holds
    (how many, the longest, the collector's part of it, what was on the loop), and the
    longest collection of each generation."""
    inside = [s for s in stalls if start <= s.at <= end + 1.0]
    holds = [s for s in inside if s.kind == "loop"]
    longest = max(holds, key=lambda s: s.ms, default=None)
    out: dict[str, Any] = {
        "holds": len(holds),
        "held_ms": sum(s.ms for s in holds),
        "longest_ms": longest.ms if longest else 0.0,
        "longest_collector_ms": longest.collector_ms if longest else 0.0,
        "longest_cpu_ms": longest.cpu_ms if longest else 0.0,
        "longest_what": longest.what[:400] if longest else "",
        "collections": {},
    }
    for s in inside:
        if s.kind == "gc":
            key = str(s.generation)
            was = out["collections"].get(key, (0.0, 0.0))
            out["collections"][key] = max(was, (s.ms, s.cpu_ms))
    return out


def stall_table(runs: list[Run]) -> list[str]:
    """The stall watch's table (``--stalls``), when a phase has its figures."""
    rows = []
    for r in runs:
        for p in r.phases:
            if not p.stalls:
                continue
            f = p.stalls
            gcs = f["collections"]
            rows.append(
                (
                    _label(r),
                    p.name,
                    f"{f['holds']:,}",
                    f"{f['held_ms']:,.0f}",
                    f"{f['longest_ms']:,.0f} ({f.get('longest_cpu_ms', 0):,.0f} / "
                    f"{f['longest_collector_ms']:,.0f})",
                    " / ".join(
                        f"{gcs[g][0]:,.0f} ({gcs[g][1]:,.0f})" if g in gcs else "-"
                        for g in ("0", "1", "2")
                    ),
                    f["longest_what"][:200].replace("|", "/") or "-",
                )
            )
    if not rows:
        return []
    return [
        table(
            "The coordinator's event loop (`--stalls`: tether monitor --log-stalls): its holds "
            "past the threshold, the longest collection of each generation past it (ms), "
            "and what the loop ran in its longest hold",
            (
                "shape, monitors",
                "phase",
                "holds",
                "held in all, ms",
                "longest hold, ms (its thread's CPU / the collector's)",
                "longest collection, generation 0 / 1 / 2, ms (CPU)",
                "on the loop in the longest hold (sampled stack, innermost first)",
            ),
            rows,
        )
    ]


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def _s(x: float, digits: int = 1) -> str:
    return "-" if math.isnan(x) else f"{x:,.{digits}f}"


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{1000 * x:,.0f}"


def _label(run: Run) -> str:
    return f"{run.shape}, {run.monitors:,} at {run.interval:g} s"


def _coordinators(p: PhaseResult) -> str:
    """The coordinator's CPU per change; with instances, each one's, added up."""
    if not p.instances_cpu:
        return _s(p.coordinator_per_change, 0)
    each = [_s(c / p.changed * 1e6 if p.changed else float("nan"), 0) for c in p.instances_cpu]
    return " + ".join(each)


def instance_tables(runs: list[Run]) -> list[str]:
    """The tables of the runs on PostgreSQL: each phase's cluster figures, each instance."""
    clustered = [r for r in runs if r.instances > 1]
    if not clustered:
        return []
    rows = [
        (
            _label(r),
            p.name,
            _s(p.located) if not math.isnan(p.located) else "not all",
            f"{p.seconds:.1f}" if p.done else "cut short",
            _s(p.postgres_cpu / p.changed * 1e6 if p.changed else float("nan"), 0),
            f"{p.alerts:,}"
            + (
                " (" + ", ".join(f"{n:,} {e}" for e, n in sorted(p.events.items())) + ")"
                if p.events
                else ""
            ),
            f"{p.twice:,}",
        )
        for r in clustered
        for p in r.phases
    ]
    phases = table(
        "Instances on PostgreSQL, each phase: seconds from the event until every monitor's "
        "state at its location was seen (what its instance published) and until the leader "
        "had decided every one for the cluster (the table above), PostgreSQL's CPU, alerts",
        (
            "shape, monitors",
            "phase",
            "every monitor at its location s",
            "decided by the leader s",
            "PostgreSQL CPU µs per change",
            "alerts received (by event)",
            "of them received twice",
        ),
        rows,
    )
    rows = []
    for r in clustered:
        for n, m in enumerate(r.members, start=1):
            per_phase = [
                _s(p.instances_cpu[n - 1] / p.changed * 1e6, 0)
                if p.changed and len(p.instances_cpu) >= n
                else "-"
                for p in r.phases
            ]
            rows.append(
                (
                    _label(r),
                    f"{n}" + (" (polled)" if n == 1 else ""),
                    f"{m.shards} of {SHARDS}" + (", leader" if m.led else ""),
                    f"{m.started:.1f}",
                    " / ".join(per_phase),
                    f"{m.quiet:.2f}",
                    f"{m.stop_seconds:.1f} (exit {m.exit_code})",
                )
            )
    members = table(
        "Instances on PostgreSQL, each instance: what it held before SIGTERM, its CPU per "
        "state change of the cluster in each phase (cold start / outage / recovery), SIGTERM",
        (
            "shape, monitors",
            "instance",
            "shards held",
            "launch to 'started' s",
            "CPU µs per change",
            "quiet CPU, cores",
            "SIGTERM to exit s",
        ),
        rows,
    )
    return [phases, members]


def section_for(runs: list[Run], label: str, head: str, args: argparse.Namespace) -> Section:
    number = "1" if label == "before" else "2"
    title = "before issue 23's fixes" if label == "before" else "after issue 23's fixes"
    section = Section(f"{number}. Every monitor changing state at once, {title} (commit {head})")
    rows = []
    for r in runs:
        for p in r.phases:
            seen = (
                f"{p.seconds:.1f}"
                if p.done
                else f"cut short at {p.cap:.0f}: {p.changed:,} of {p.total:,}"
            )
            rows.append(
                (
                    _label(r),
                    p.name,
                    seen
                    + (
                        f" ({p.since_spawn:.0f} from launch)"
                        if not math.isnan(p.since_spawn)
                        else ""
                    ),
                    f"{p.bound:g} + {p.slack:g}",
                    _s(p.last_check),
                    _coordinators(p),
                    _s(p.per_change, 0),
                    _s(p.net_per_change, 0),
                    f"{p.alerts:,} ({p.queued:,})",
                    f"{p.incidents:,}" + (f" ({p.resolved:,} resolved)" if p.resolved else ""),
                    f"{p.others_cores:.2f}",
                )
            )
    section.tables.append(
        table(
            "Each phase: seconds from the event until every monitor was seen changed in the "
            "store, CPU per state change, alerts",
            (
                "shape, monitors",
                "phase",
                "seconds to all changed",
                "bound + measuring s",
                "last change's check at s",
                "coordinator CPU µs per change",
                "all processes' CPU µs per change",
                "of it net of the quiet rate",
                "alerts received (queued)",
                "incidents opened",
                "other cores busy",
            ),
            rows,
        )
    )
    rows = []
    for r in runs:
        for p in r.phases:
            cells = []
            for path in ENDPOINTS:
                a = p.api.get(path, ApiFigures())
                cells.append(
                    f"{_ms(a.p50)} / {_ms(a.p99)} / {_ms(a.worst)}"
                    + (f" ({a.failed} of {a.count} timed out)" if a.failed else "")
                )
            rows.append(
                (
                    _label(r),
                    p.name,
                    *cells,
                    f"{_ms(p.lag_p50)} / {_ms(p.lag_p99)} / {_ms(p.lag_max)} ({p.lag_count:,})",
                )
            )
    section.tables.append(
        table(
            "During each phase: the API's latency (ms, p50 / p99 / max; a request timed out "
            "counts as 30,000) and the unaffected monitors' start lag (ms, p50 / p99 / max, "
            "checks)",
            ("shape, monitors", "phase", "GET /", "GET /api/status", "GET /metrics", "start lag"),
            rows,
        )
    )
    rows = [
        (
            _label(r),
            f"{r.started:.1f}",
            f"{r.stop_seconds:.1f} (exit {r.exit_code})"
            + (" killed" if r.stop_seconds >= KILL_AFTER else ""),
            f"{r.quiet_coordinator:.2f} / {r.quiet_workers:.2f}"
            + (" (after a cold start cut short)" if r.quiet_after_cut else ""),
            str(r.restarts),
            r.load,
        )
        for r in runs
    ]
    section.tables.append(
        table(
            "Each run: start-up, SIGTERM, the machine",
            (
                "shape, monitors",
                "launch to 'started' s",
                "SIGTERM to exit s",
                "quiet CPU, cores: coordinator / workers",
                "worker restarts",
                "load average at the end",
            ),
            rows,
        )
    )
    section.tables += instance_tables(runs)
    section.tables += stall_table(runs)
    how = "with --quick (sizes too small to mean anything)" if args.quick else "real time"
    section.notes.append(
        f"Measured at commit {head}, {how}: "
        f"N monitors at the interval each row says on {TARGET_PROCESSES * HOSTS_EACH} loopback "
        f"target addresses plus {args.steady} steady monitors at min(5 s, the interval) on one "
        f"that never fails, one webhook channel, {_storage(runs)}; the 2-core machine "
        "shared with other "
        "work (the 'other cores busy' column).  Every phase is capped at "
        + (f"{args.cap:g} s" if args.cap else "3 x its bound")
        + (
            f", at least its bound + {args.cap_extra:g} s"
            if args.cap_extra and not args.cap
            else ""
        )
        + "; a phase cut short says how many monitors had changed, and the next phase starts "
        "with the coordinator perhaps still behind.  The configuration: "
        + {
            "file": "a YAML file, every monitor in it, started with tether monitor --config FILE",
            "discover": "a YAML file whose m monitors come from a file_sd source, started "
            "with tether monitor --config FILE",
            "python": "built in Python and handed to run_monitor (no file read)",
        }[args.source]
        + ".  The failing targets: "
        + (
            "one nginx (`--targets nginx`: a master and two workers, down and up by a reload)"
            if args.targets == "nginx"
            else f"{TARGET_PROCESSES} Python asyncio processes"
        )
        + "; their CPU, seconds a phase: "
        + "; ".join(
            f"{_label(r)} " + " / ".join(f"{p.targets_cpu:.1f}" for p in r.phases) for r in runs
        )
        + "."
    )
    if any(r.instances > 1 for r in runs):
        section.notes.append(
            "Instances on PostgreSQL: that many `tether monitor` processes (one process "
            "each, no workers) with the same configuration on one PostgreSQL server this "
            "driver started on 127.0.0.1 (a fresh cluster in a temporary directory, fsync "
            "off, the server of tests/helpers/postgres_server.py), sharing the monitors by shards "
            "with the default lease; the phases read the cluster's state as the leader "
            "records it (`state_changes`); the cold start runs from the last instance's "
            "'started' line; the coordinator column adds up each instance's CPU; the API "
            "is polled on instance 1; PostgreSQL's CPU is not in the processes' figures "
            "(it is in its own table, less the backend that answers the driver's own reads, "
            "and not in 'other cores busy')."
        )
    if any(r.error for r in runs):
        section.notes += [f"{_label(r)}: {r.error}" for r in runs if r.error]
    section.verdicts += verdicts(runs)
    return section


def _storage(runs: list[Run]) -> str:
    if all(r.instances > 1 for r in runs):
        return "PostgreSQL"
    if any(r.instances > 1 for r in runs):
        return "SQLite (PostgreSQL for the instances)"
    return "SQLite"


def verdicts(runs: list[Run]) -> list[str]:
    out = []
    for r in runs:
        for p in r.phases:
            what = (
                f"every monitor {'down' if p.name == 'mass outage' else 'up'} in {p.seconds:.1f} s"
                if p.done
                else f"cut short at {p.cap:.0f} s with {p.changed:,} of {p.total:,} changed"
            )
            out.append(
                f"{_label(r)}, {p.name}: {what} (target <= {p.bound + p.slack:g} s): "
                f"{met(p.done and p.seconds <= p.bound + p.slack)}"
            )
        worst_api = max(
            (a.p99 for p in r.phases for a in p.api.values() if not math.isnan(a.p99)),
            default=float("nan"),
        )
        out.append(
            f"{_label(r)}: the worst p99 of GET /, /api/status and /metrics in any phase, "
            f"{_ms(worst_api)} ms (target <= {1000 * API_TARGET:.0f} ms): "
            f"{met(worst_api <= API_TARGET)}"
        )
        worst_lag = max(
            (p.lag_p99 for p in r.phases if not math.isnan(p.lag_p99)), default=float("nan")
        )
        out.append(
            f"{_label(r)}: the unaffected monitors' start lag p99, worst phase, "
            f"{_ms(worst_lag)} ms (target <= {1000 * LAG_TARGET:.0f} ms): "
            f"{met(worst_lag <= LAG_TARGET)}"
        )
        out.append(
            f"{_label(r)}: SIGTERM to exit {r.stop_seconds:.1f} s (target <= {GRACE:g} s): "
            f"{met(r.stop_seconds <= GRACE and r.exit_code == 0)}"
            + (" (the slower instance)" if r.instances > 1 else "")
        )
        outage = [p for p in r.phases if p.name == "mass outage"]
        if r.instances > 1 and outage:
            o = outage[0]
            by_event = ", ".join(f"{n:,} {e}" for e, n in sorted(o.events.items()))
            out.append(
                f"{_label(r)}, mass outage: {o.alerts:,} alerts received"
                + (f" ({by_event})" if by_event else "")
                + f" for {o.incidents:,} incidents opened (target: at most one a channel "
                f"for each incident opened, as one process sends): {met(o.alerts <= o.incidents)}"
            )
        if r.instances > 1 and r.phases:
            twice = sum(p.twice for p in r.phases)
            received = sum(p.alerts for p in r.phases)
            out.append(
                f"{_label(r)}: alerts received twice, every phase, {twice:,} of "
                f"{received:,} (target 0: each alert once per channel, whichever instance "
                f"delivers it): {met(twice == 0)}"
            )
    for shape in sorted({(r.instances, r.workers) for r in runs}):
        mine = sorted(
            (r for r in runs if (r.instances, r.workers) == shape), key=lambda r: r.monitors
        )
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        for i, name in enumerate(PHASES[: min(len(small.phases), len(large.phases))]):
            a, b = small.phases[i].net_per_change, large.phases[i].net_per_change
            if math.isnan(a) or math.isnan(b) or a <= 0:
                continue  # nothing to compare with: the changes cost less than the noise
            out.append(
                f"{large.shape}, {name}: CPU per change (net) at {large.monitors:,} monitors "
                f"{b:,.0f} µs, at {small.monitors:,} {a:,.0f} µs: {b / a:.2f}x "
                f"(target <= {CPU_RATIO_TARGET:g}): {met(b / a <= CPU_RATIO_TARGET)}"
            )
    return out


def keep_other_label(path: str, label: str) -> list[Section]:
    """The other label's section of this benchmark's part in ``path``, kept verbatim."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    part = re.search(rf"{re.escape(HEADING)}\n(.*?)(?=\n# |\Z)", text, flags=re.S)
    if part is None:
        return []
    other = "1. " if label == "after" else "2. "
    found = re.search(
        rf"^## ({re.escape(other)}[^\n]*)\n\n(.*?)(?=\n## |\Z)", part.group(1), re.S | re.M
    )
    if found is None:
        return []
    # write_part prints a section's notes, then its tables and verdicts: the kept text
    # goes in whole as one note.
    return [Section(found.group(1), notes=[found.group(2).rstrip()])]


def parse_runs(text: str, interval: float) -> list[tuple[int, int, int, float]]:
    """(instances, workers, monitors, interval) of each run: ``1x1000,2x120000@60`` ->
    [(1, 1, 1000, interval), (1, 2, 120000, 60.0)]; ``pg2x20000`` -> [(2, 1, 20000,
    interval)], two instances (one process each) on one PostgreSQL."""
    out = []
    for item in text.split(","):
        size, _, own = item.partition("@")
        count, _, monitors = size.partition("x")
        instances, workers = (int(count[2:]), 1) if count.startswith("pg") else (1, int(count))
        if count.startswith("pg") and instances < 2:
            raise SystemExit(f"--runs {item}: pgNxM needs N >= 2 instances")
        out.append((instances, workers, int(monitors), float(own) if own else interval))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="about a minute, for a smoke test")
    parser.add_argument(
        "--runs",
        help=f"WORKERSxMONITORS[@INTERVAL], comma-separated (default {DEFAULT_RUNS})",
    )
    parser.add_argument("--interval", type=float, help="seconds (default 30; --quick 2)")
    parser.add_argument("--steady", type=int, help="monitors on a target that never fails (100)")
    parser.add_argument(
        "--cap",
        type=float,
        help="seconds each phase may take (3 x its bound, at least bound + 120 s)",
    )
    parser.add_argument("--settle", type=float, help="seconds between phases (5; --quick 0.5)")
    parser.add_argument(
        "--api-period",
        type=float,
        help="seconds between GETs of every endpoint (default: each its own)",
    )
    parser.add_argument(
        "--quiet", type=float, help="seconds of the quiet window after the cold start (10)"
    )
    parser.add_argument("--label", choices=("before", "after"), default="after")
    parser.add_argument("--json", help="also write the raw figures as JSON into this file")
    parser.add_argument(
        "--from-json", help="measure nothing: report the figures --json saved in this file"
    )
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="file",
        help="the monitors written in a YAML file started with tether monitor --config FILE "
        "(default), discovered from a file_sd source named in it, or built in Python",
    )
    parser.add_argument(
        "--stalls",
        type=float,
        metavar="MS",
        help="start the monitor with --log-stalls MS: each hold of its event loop and each "
        "collection longer than MS milliseconds shown as it comes, and the longest of each "
        "phase in the report",
    )
    parser.add_argument(
        "--url-per-monitor",
        action="store_true",
        help="each failing monitor on a URL of its own (http://ADDRESS/health/NAME), as in a "
        "real fleet, rather than on the 32 addresses' URLs shared",
    )
    parser.add_argument(
        "--targets",
        choices=("python", "nginx"),
        default="python",
        help="the failing targets: Python asyncio servers (default) or nginx, a C server "
        "whose CPU a request is a small part of theirs, switched by a reload",
    )
    parser.add_argument("--monitor", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.monitor is not None:
        return monitor_process(args.monitor)
    if args.quick:
        args.interval = args.interval or 2.0
        runs = parse_runs(args.runs or "1x40,2x40", args.interval)
        args.steady = 4 if args.steady is None else args.steady
        args.settle = 0.5 if args.settle is None else args.settle
        args.quiet = 1.0 if args.quiet is None else args.quiet
        args.poll = 0.2
        args.cap_extra = 0.0
    else:
        args.interval = args.interval or 30.0
        runs = parse_runs(args.runs or DEFAULT_RUNS, args.interval)
        args.steady = 100 if args.steady is None else args.steady
        args.settle = 5.0 if args.settle is None else args.settle
        args.quiet = 10.0 if args.quiet is None else args.quiet
        args.poll = 1.0
        args.cap_extra = 120.0

    # SIGTERM unwinds like Ctrl-C: the monitor is killed and the targets closed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    began = time.perf_counter()
    made_by = versions()
    head = commit_of_tree()
    print(f"{os.cpu_count()} cores; {made_by}{'; --quick' if args.quick else ''}", flush=True)
    print(f"load average {load_average()}", flush=True)
    command = "python " + " ".join(["benchmarks/bench_mass.py", *sys.argv[1:]])
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        if isinstance(saved, list):  # the runs alone
            saved = {"runs": saved}
        done = [run_from(r) for r in saved["runs"]]
        head = saved.get("head", head)
        made_by = saved.get("made_by", made_by)
        command = saved.get("command", command)
        seconds = float(saved.get("seconds", 0.0))
    else:
        done = measure(runs, args, head, made_by, command, began)
        seconds = time.perf_counter() - began
    section = section_for(done, args.label, head, args)
    section.notes[0] = f"Run: `{command}`, {seconds:.0f} s in all.  {section.notes[0]}"
    section.seconds = seconds
    section.show()
    print(f"\n{seconds:.0f} s in all")
    if args.write:
        kept = keep_other_label(args.write, args.label)
        sections = sorted([section, *kept], key=lambda s: s.heading)
        write_part(args.write, HEADING, command, sections, seconds, made_by)
    return 0


def run_from(saved: dict[str, Any]) -> Run:
    """A run as ``--json`` saved it."""
    phases = [
        PhaseResult(**{**p, "api": {k: ApiFigures(**a) for k, a in p["api"].items()}})
        for p in saved["phases"]
    ]
    members = [Member(**m) for m in saved.get("members", [])]
    return Run(**{**saved, "phases": phases, "members": members})


def measure(
    runs: list[tuple[int, int, int, float]],
    args: argparse.Namespace,
    head: str,
    made_by: str,
    command: str,
    began: float,
) -> list[Run]:
    """Each run in turn, saved to ``--json`` after each."""
    done: list[Run] = []
    with contextlib.ExitStack() as stack:
        steady = stack.enter_context(target_servers(1, 1, SUBNET + TARGET_PROCESSES))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-mass-"))
        failing: list[Targets] | list[NginxTargets]
        if args.targets == "nginx":
            if not os.access(NGINX, os.X_OK):
                raise SystemExit(f"--targets nginx: {NGINX} not found (Debian's nginx-light)")
            conf = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-mass-nginx-"))
            hosts = [
                f"127.0.{SUBNET + p}.{h + 1}"
                for p in range(TARGET_PROCESSES)
                for h in range(HOSTS_EACH)
            ]
            parking = f"127.0.{SUBNET + TARGET_PROCESSES + 1}.1"
            failing = [NginxTargets(hosts, conf, parking=parking)]
            stack.callback(failing[0].close)
        else:
            failing = stack.enter_context(target_servers(TARGET_PROCESSES, HOSTS_EACH, SUBNET))
        urls = [a for t in failing for a in t.addresses]
        for instances, workers, monitors, interval in runs:
            try:
                done.append(
                    run_one(
                        instances,
                        workers,
                        monitors,
                        interval,
                        args,
                        urls,
                        steady[0].addresses[0],
                        failing,
                        Path(tmp),
                    )
                )
            except RuntimeError as exc:
                print(f"  failed: {exc}", flush=True)
                done.append(
                    Run(
                        workers,
                        monitors,
                        interval,
                        args.steady,
                        error=str(exc)[:300],
                        instances=instances,
                    )
                )
            if args.json:
                saved = {
                    "head": head,
                    "made_by": made_by,
                    "command": command,
                    "seconds": time.perf_counter() - began,
                    "runs": [saved_form(r) for r in done],
                }
                Path(args.json).write_text(json.dumps(saved, indent=1))
            shutil.rmtree(Path(tmp), ignore_errors=True)
            Path(tmp).mkdir(exist_ok=True)
    return done


def commit_of_tree() -> str:
    from _report import commit

    return commit()


if __name__ == "__main__":
    sys.exit(main())
