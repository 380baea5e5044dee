"""Worker processes: how many monitors ``tether monitor`` keeps on time with ``workers: N``.

Run: python benchmarks/bench_scale.py [--quick] [--write benchmarks/history/bench_scale.md]
     [--sizes 60000,90000,120000] [--workers 1,2,auto] [--window 60] [--profile DIR]

Issue 13 section 2's target: with ``workers`` at the number of cores, 120,000 monitors
at a 60 s interval (2,000 checks/s) on 2 cores, with a p99 start lag under 1 s,
unscaled (every monitor really in memory).  A full run takes about 20 minutes; ``--quick``
(a smoke test, with sizes too small to mean anything) about half a minute.

Method.  Everything runs on loopback.

- **The monitor** is the real one: :func:`tether.monitor.run_monitor` (what ``tether
  monitor`` calls) in a child process of its own (``--monitor SPEC``), with its worker
  processes, its SQLite store in a temporary directory, ``server.listen`` on a free
  loopback port and no alert channel.  By default (``--source file``) it is started as
  its users start it: ``tether monitor --config FILE --log-format json``
  (``_config_file.py``), FILE a YAML file of N HTTP monitors ``m000000``... at the
  interval (in ``defaults``), one line each, each on one of the targets' addresses, the
  condition ``[STATUS] == 200``; ``--source discover`` writes no monitor in the file
  but a ``file_sd`` source naming every target, its template making them;
  ``--source python`` builds the same configuration in Python with
  ``MonitorConfig.model_validate`` (``bench_monitor.monitors_config``) and calls
  ``run_monitor`` (what the CLI calls), reading no file, as earlier runs did.
- **Warm start.**  Each step's store is a copy of one made beforehand in which every
  monitor's detector state is saved as up (one passing check), as a monitor restarted
  with its saved state finds it; the step measures the steady state, not the first
  start (every monitor's first check changing its state from unknown to up, which
  the coordinator pays for at a cost that grows with the number of monitors; see the
  report).
- **The targets** are ``bench_monitor.Targets``: child processes answering ``200`` with
  ``Connection: close`` on many 127.x.y.z addresses.  Where the machine has more than
  two cores, the monitor (its coordinator, and the workers, which inherit its
  affinity) is pinned to two of them with ``taskset`` and the targets and this driver
  to the others; on a 2-core machine everything shares the two cores, and the report
  says how busy they were with what (the monitor, the targets, this driver, and every
  other process on the machine).
- **A step** (N monitors, W workers): start the monitor; wait for its ``started`` line,
  then for a first result from every worker in the store (the driver reads the SQLite
  file as the monitor writes it); let one interval pass (the first runs, spread over
  it: not measured, but their lag is reported); then a measured window (``--window``,
  60 s by default: at least one interval); then SIGTERM, and the monitor's exit.  Then
  the store is read: a check belongs to the window when it started in it (its ``ts``,
  taken when it was judged, less its latency); its start lag is the ``lag_ms`` the
  prober stored in its data (``json_extract(data, '$.lag_ms')``: when it started less
  when the schedule had it due).  Checks due in the window: N x window / interval.
  CPU: utime + stime from ``/proc/PID/stat`` of the coordinator and of each worker
  (every thread included: the store's writer thread is the coordinator's), read at
  the window's start and end; per 1,000 checks started in the window; the share of
  it spent in the kernel (on loopback, part of the targets' side of each connection
  is done in the monitor's system calls, which a real network would not charge it);
  the coordinator's share.  RSS from ``/proc/PID/status`` at the window's end.
  Start-up, from the moment the driver started the process: Python and the imports,
  the configuration built, the store opened (with ``--source python``; through a
  file these three are one, read from the ``started`` line), the ``started`` line (``run_monitor``:
  the runner, the saved states restored, the workers started and sent their
  monitors), and a first result from every worker.  The store backlog: checks judged
  (ended) in the window that were not in the store yet when it ended (a worker sends
  its checks every 10 ms, the store commits every 0.2 s; a coordinator that cannot
  keep up lets it grow without bound, which the workers' start lag alone would not
  show, since a worker does not wait for the coordinator).
- **A step holds** when its p99 start lag in the window is under 1 s, no check failed
  (in the first interval or the window), at least 95% of the checks due in the window
  started, and the store backlog at the window's end is under one second of checks.
- **The ramp**: for each ``workers`` setting (``--workers``; ``auto`` is run once, with
  the number it means, where a number given is the same), the sizes in turn
  (``--sizes``, monitors at a 60 s interval, unscaled), stopping at a setting's first
  step that misses.
- **The assignment frame**: the coordinator pickles each worker's share of ``Monitor``
  models, with what ``/probe`` may reach, into one frame.  Measured in the driver, as
  ``run_monitor`` builds it, at 60,000 monitors per worker (120,000 in all, two
  workers): ``allowed_targets`` over every monitor, pickling, the frame's size,
  unpickling, and the worker's ``Prober.assign`` of its share.
- **Profiles** (``--profile DIR``, needs py-spy): ``py-spy record --nonblocking`` on
  the coordinator and on worker 0 through the window, 100 samples a second, its raw
  (collapsed) stacks kept in DIR for ``flamegraph.pl``; samples of a
  thread waiting (in epoll, a queue, a condition: ``--nonblocking`` does not always
  drop them) are left out.  Each sample is charged to the innermost frame that names
  a component (unpickling frames, ``Runner.take``, the store, metrics, the
  detector...), or, on the coordinator, to the store's writer thread as a whole.
  Shares of the samples, and what that is in CPU ms per 1,000 checks of that process.
  A thread waiting for the GIL is sampled as working where it waits, so the shares
  are a guide; the CPU figures above are the measure.  Sampling costs CPU of its own
  on a shared machine: run it apart from the figures.

``--quick`` runs a few hundred monitors at a 2 s interval with a 2 s window: it shows
that the benchmark works, not how far tether goes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _config_file import SOURCES, describe_source, monitor_command, write_config
from _report import Section, met, table, write_part  # benchmarks/ is the script's own directory
from bench_monitor import Targets, monitors_config, quantile, target_servers, versions

HEADING = "# Benchmark results: worker processes"
MONITORS_TARGET = 120_000
REAL_INTERVAL = 60.0
LAG_TARGET = 1.0
STARTED_SHARE = 0.95
CORES_TARGET = 2
"""The issue's target machine: 2 cores."""
CPU_TARGET = CORES_TARGET / (MONITORS_TARGET / REAL_INTERVAL) * 1000
"""CPU seconds per 1,000 checks that 2 cores can give at 2,000 checks/s: 1.0."""
PER_WORKER = 60_000
"""Monitors per worker in the assignment frame measure (120,000 on two workers)."""
SUBNET = 40
"""The targets listen on 127.0.40.x, 127.0.41.x...: apart from bench_monitor's."""
PROFILE_RATE = 100
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------------------------------------
# The monitor process: python bench_scale.py --monitor SPEC
# ---------------------------------------------------------------------------------------------


def _mark(what: str) -> None:
    """Tell the driver (on stderr, as one JSON line) that this phase of start-up is done."""
    print(json.dumps({"bench": what, "at": time.time()}), file=sys.stderr, flush=True)


def monitor_process(spec_text: str) -> int:
    """``tether monitor`` as the CLI runs it, on a configuration built in Python."""
    from tether.monitor import logging_to, open_store, run_monitor
    from tether.monitor.config import Server, Storage

    _mark("imported")
    spec = json.loads(spec_text)
    base = monitors_config(spec["urls"], spec["monitors"], spec["interval"])
    config = base.model_copy(
        update={
            "workers": spec["workers"],
            "storage": Storage.model_validate({"path": spec["db"]}),
            "server": Server.model_validate({"listen": "127.0.0.1:0"}),
        }
    )
    _mark("config")
    with logging_to(sys.stderr, "json", own_process=True):
        store = open_store(config.storage)
        _mark("store")
        with store:
            # The path is only read again on SIGHUP, which nothing sends here.
            return run_monitor(spec["db"] + ".yaml", config, store)


# ---------------------------------------------------------------------------------------------
# /proc
# ---------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_split(pid: int) -> tuple[float, float]:
    """utime and stime of every thread of ``pid``, in seconds (0 once it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0, 0.0
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` (0 once it is gone)."""
    return sum(cpu_split(pid))


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def workers_of(pid: int) -> list[int]:
    """The coordinator ``pid``'s live worker processes, in the order of their index (from
    the spec each is started with)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is None or int(fields[1]) != pid or fields[0] == "Z":
                continue
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                found.append((int(json.loads(argv[-2])["index"]), int(entry)))
            except (OSError, ValueError, KeyError, IndexError):
                continue
    return [p for _, p in sorted(found)]


def busy_cores_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every core; ``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------------------------------------
# The driver's side
# ---------------------------------------------------------------------------------------------


class MonitorProcess:
    """The monitor child; its stderr lines are read as they come, each with the moment it
    arrived."""

    def __init__(
        self, spec: dict[str, Any], pin: list[int] | None, config: Path | None = None
    ) -> None:
        command = (
            monitor_command(config)
            if config is not None
            else [sys.executable, os.path.abspath(__file__), "--monitor", json.dumps(spec)]
        )
        if pin:
            command = ["taskset", "--cpu-list", ",".join(map(str, pin)), *command]
        self.spawned = time.time()
        # taskset execs python: the pid is the coordinator's.
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            arrived = time.time()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.tail.append(line)
            try:
                found = json.loads(line)
            except ValueError:
                continue
            if isinstance(found, dict):
                with self._changed:
                    self.events.append((arrived, found))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, key: str, value: str, timeout: float) -> float:
        """When the line whose ``key`` is ``value`` arrived; RuntimeError if the process
        exits first or it does not come in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for arrived, found in self.events:
                    if found.get(key) == value:
                        return float(found["at"]) if key == "bench" else arrived
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the monitor did not say {value!r}:\n" + self.why())
                self._changed.wait(0.5)

    def count(self, event: str) -> int:
        with self._changed:
            return sum(1 for _, found in self.events if found.get("event") == event)

    def why(self) -> str:
        return "\n".join(self.tail)

    def stop(self, timeout: float = 90.0) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took (killed past ``timeout``)."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(10)
        return code, time.monotonic() - began


def seed_store(path: Path, count: int) -> tuple[float, float]:
    """A store in which monitors ``m000000``... have their detector state saved as up, as
    the runner saves it (a warm start); the seconds it took, and the milliseconds one
    ``Detector.states()`` then takes (what the runner asks on every state change)."""
    from tether.monitor.engine._detect import Detector, Observation
    from tether.monitor.runtime._saved import STATE_KEY as _STATE_KEY
    from tether.monitor.store import SQLiteStore

    began = time.perf_counter()
    now = time.time()
    detector = Detector()
    with SQLiteStore(path) as store:
        for i in range(count):
            name = f"m{i:06d}"  # monitors_config's names
            detector.observe(Observation(name, True, now, 1.0), now)
            exported = detector.export(name)
            assert exported is not None
            store.save_state(_STATE_KEY + name, exported)
        store.flush()
    seeded = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(5):
        detector.states()
    return seeded, (time.perf_counter() - began) / 5 * 1000


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def wait_first_results(proc: MonitorProcess, db: Path, workers: int, timeout: float) -> float:
    """When a result from every worker was first seen in the store (polled)."""
    from tether.monitor.runtime._workers import worker_of

    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    last = 0
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError("the monitor exited as it started:\n" + proc.why())
        try:
            conn = _connect(db)
            try:
                rows = conn.execute(
                    "SELECT id, monitor FROM results WHERE id > ? ORDER BY id", (last,)
                ).fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError:  # not created yet
            rows = []
        for rowid, name in rows:
            last = max(last, rowid)
            seen.add(worker_of(name, workers) if workers > 1 else 0)
        if len(seen) == workers:
            return time.time()
        time.sleep(0.2)
    raise RuntimeError(f"no result from every worker within {timeout:g} s:\n" + proc.why())


class Sampler:
    """CPU of the monitor's processes, the targets, this driver (with the profilers it
    starts, in ``helpers``) and the whole machine."""

    def __init__(self, pids: list[int], targets: list[Targets]) -> None:
        self.pids, self.targets = pids, targets
        self.helpers: list[int] = []
        self.start = self.sample()

    def sample(self) -> tuple[float, list[tuple[float, float]], float, float, float]:
        return (
            time.perf_counter(),
            [cpu_split(p) for p in self.pids],
            sum(t.cpu() for t in self.targets),
            cpu_seconds(os.getpid()) + sum(cpu_seconds(p) for p in self.helpers),
            busy_cores_seconds(),
        )


@dataclass
class Profile:
    """Where one process's CPU went, from py-spy's samples."""

    process: str
    samples: int
    seconds: float
    cpu_per_1000: float
    """CPU seconds per 1,000 checks of that process."""
    shares: list[tuple[str, float]]


@dataclass
class Step:
    """One step of the ramp: ``monitors`` at ``interval``, ``workers`` processes."""

    monitors: int
    workers: int
    label: str
    interval: float
    window: float
    seeded: float = 0.0
    started_rate: float = 0.0
    p50: float = float("nan")
    p99: float = float("nan")
    worst: float = float("nan")
    first_p99: float = float("nan")
    first_worst: float = float("nan")
    failed: int = 0
    example: str = ""
    checks: int = 0
    cpu: float = 0.0
    """CPU seconds of the coordinator and its workers in the window."""
    system_cpu: float = 0.0
    """Of it, in the kernel (on loopback, partly the targets' side of each connection)."""
    coordinator_cpu: float = 0.0
    worker_cpu: list[float] = field(default_factory=list)
    worker_checks: list[int] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    """Coordinator, then each worker, at the window's end."""
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds from the process's start to each phase of start-up."""
    source: str = ""
    """Where the monitor's configuration came from (``_config_file.describe_source``)."""
    backlog: int = 0
    targets_cores: float = 0.0
    driver_cores: float = 0.0
    others_cores: float = 0.0
    monitor_cores: float = 0.0
    load: str = ""
    exit_code: int | None = None
    stop_seconds: float = 0.0
    restarts: int = 0
    profiles: list[Profile] = field(default_factory=list)

    @property
    def due_rate(self) -> float:
        return self.monitors / self.interval

    @property
    def per_1000(self) -> float:
        return 1000 * self.cpu / self.checks if self.checks else float("nan")

    @property
    def held(self) -> bool:
        return (
            self.p99 < LAG_TARGET
            and self.failed == 0
            and self.started_rate >= STARTED_SHARE * self.due_rate
            and self.backlog < self.due_rate
        )


@dataclass(frozen=True)
class Setting:
    """A ``workers`` setting: what the configuration says, and the processes it means."""

    value: int | str
    count: int

    @property
    def label(self) -> str:
        return f"{self.count} (auto)" if self.value == "auto" else str(self.value)


def settings_for(given: list[str], cores: int) -> list[Setting]:
    """Each setting once by the processes it means (``auto`` where it is one of them)."""
    found: dict[int, Setting] = {}
    for text in given:
        value: int | str = text if text == "auto" else int(text)
        count = cores if value == "auto" else int(value)
        if count not in found or value == "auto":
            found[count] = Setting(value, count)
    return [found[c] for c in sorted(found)]


# -- profiles -------------------------------------------------------------------------------

COORDINATOR_AREAS: tuple[tuple[str, str], ...] = (
    ("_receive (", "frames: reading and unpickling"),
    ("asyncio/streams.py", "frames: reading and unpickling"),
    ("_metrics.py", "metrics"),
    ("prometheus_client", "metrics"),
    ("_detect.py", "detector"),
    ("_baseline.py", "detector"),
    ("_state.py", "detector"),
    ("/store/", "store (event-loop side: queueing rows)"),
    ("queue.py", "store (event-loop side: queueing rows)"),
    ("/incidents/", "incidents"),
    ("_correlate.py", "incidents"),
    ("_runner.py", "Runner.take and the runner's loops (own code)"),
    ("_decided.py", "Runner.take and the runner's loops (own code)"),
    ("_rounds.py", "Runner.take and the runner's loops (own code)"),
    ("/alerts/", "outbox"),
    ("_workers.py", "fleet (own code)"),
    ("aiohttp", "web server"),
    ("_web.py", "web server"),
    ("asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
)
WORKER_AREAS: tuple[tuple[str, str], ...] = (
    ("_frame (", "frames: pickling and sending"),
    ("flush (", "frames: pickling and sending"),
    ("/_conditions/", "judge and conditions"),
    ("_judge.py", "judge and conditions"),
    ("_records.py", "judge and conditions"),
    ("_metrics.py", "phase timings for metrics"),
    ("h11", "probe engine (h11 parser)"),
    ("/probe/", "probe engine (tether)"),
    ("/_classify/", "probe engine (tether)"),
    ("_failure.py", "probe engine (tether)"),
    ("_schedule.py", "schedule"),
    ("_prober.py", "prober (own code)"),
    ("_workers.py", "worker (own code)"),
    ("asyncio/", "asyncio and sockets"),
    ("selectors.py", "asyncio and sockets"),
    ("socket.py", "asyncio and sockets"),
)
WRITER_THREAD = "_write_loop ("
WAITING = (
    "select (selectors.py",
    "Condition.wait (threading.py",
    "_worker (concurrent/futures/thread.py",
)
"""Where a sample's innermost frame shows a thread waiting, not working: py-spy's
``--nonblocking`` mode does not always tell idle threads apart, so they are left out."""


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(PROFILE_RATE),
            "--nonblocking",
            "--threads",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_shares(path: Path, areas: tuple[tuple[str, str], ...]) -> tuple[int, list[Any]]:
    """py-spy's raw samples, each charged to the innermost frame naming a component (a
    thread running the store's writer loop to that thread as a whole); samples of a
    waiting thread are left out."""
    counts: dict[str, int] = {}
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0, []
    for line in lines:
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        frames = stack.split(";")[1:]  # the first is the thread
        if not frames or any(w in frames[-1] for w in WAITING):
            continue
        if any(WRITER_THREAD in f for f in frames):
            area = "store writer thread (SQLite, JSON)"
        else:
            area = next((a for f in reversed(frames) for k, a in areas if k in f), "other")
        counts[area] = counts.get(area, 0) + int(number)
        total += int(number)
    shares = sorted(((a, n / total) for a, n in counts.items()), key=lambda x: -x[1])
    return total, shares


# -- one step -------------------------------------------------------------------------------


def run_step(
    urls: list[str],
    targets: list[Targets],
    setting: Setting,
    monitors: int,
    interval: float,
    window: float,
    template: Path,
    tmp: Path,
    pin: list[int] | None,
    *,
    profile: Path | None = None,
    source: str = "file",
) -> Step:
    from tether.monitor.runtime._workers import worker_of

    step = Step(monitors, setting.count, setting.label, interval, window)
    db = tmp / f"step-{monitors}-{setting.count}.db"
    shutil.copyfile(template, db)
    spec = {
        "urls": urls,
        "monitors": monitors,
        "interval": interval,
        "workers": setting.value,
        "db": str(db),
    }
    config = None
    if source != "python":
        folder = tmp / f"config-{monitors}-{setting.count}"
        top = {
            "workers": setting.value,
            "storage": {"path": str(db)},
            "server": {"listen": "127.0.0.1:0"},
        }
        config = write_config(folder, source, urls, monitors, interval, top=top)
        step.source = describe_source(source, config)
    proc = MonitorProcess(spec, pin, config)
    try:
        for phase in ("imported", "config", "store") if config is None else ():
            step.phases[phase] = proc.wait_for("bench", phase, 900) - proc.spawned
        step.phases["started"] = proc.wait_for("event", "started", 900) - proc.spawned
        first = wait_first_results(proc, db, setting.count, 2 * interval + 300)
        step.phases["first results"] = first - proc.spawned
        window_start = first + interval + min(2.0, interval / 4)
        time.sleep(max(0.0, window_start - time.time()))
        pids = [proc.proc.pid, *workers_of(proc.proc.pid)]
        if len(pids) != 1 + (setting.count if setting.count > 1 else 0):
            raise RuntimeError(f"the monitor runs {len(pids) - 1} workers:\n" + proc.why())
        sampler = Sampler(pids, targets)
        spies: list[tuple[str, int, Path, subprocess.Popen[bytes]]] = []
        if profile is not None:
            for label, pid in zip(("coordinator", "worker-0"), pids[:2], strict=False):
                out = profile / f"{label}-{monitors}-workers-{setting.count}.txt"
                spies.append((label, pid, out, start_profile(pid, window, out)))
                sampler.helpers.append(spies[-1][3].pid)
        time.sleep(max(0.0, window_start + window - time.time()))
        end = sampler.sample()
        window_end = time.time()
        step.rss = [rss_bytes(p) for p in pids]
        step.load = load_average()
        step.backlog = _stored_in(db, window_start, window_end)
        for _, _, _, spy in spies:
            spy.wait(timeout=window + 60)
        step.restarts = proc.count("worker.died")
        step.exit_code, step.stop_seconds = proc.stop()
    except BaseException:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()
        raise

    start = sampler.start
    wall = end[0] - start[0]
    per_pid = [sum(b) - sum(a) for a, b in zip(start[1], end[1], strict=True)]
    step.cpu = sum(per_pid)
    step.system_cpu = sum(b[1] - a[1] for a, b in zip(start[1], end[1], strict=True))
    step.coordinator_cpu = per_pid[0]
    step.worker_cpu = per_pid[1:]
    step.monitor_cores = step.cpu / wall
    step.targets_cores = (end[2] - start[2]) / wall
    step.driver_cores = (end[3] - start[3]) / wall
    busy = (end[4] - start[4]) / wall
    step.others_cores = max(0.0, busy - step.monitor_cores - step.targets_cores - step.driver_cores)

    conn = _connect(db)
    try:
        rows = conn.execute(
            "SELECT monitor, ts, ts - coalesce(latency_ms, 0) / 1000.0, ok, kind, detail, "
            "json_extract(data, '$.lag_ms') FROM results"
        ).fetchall()
    finally:
        conn.close()
    lags, first_lags = [], []
    per_worker = [0] * setting.count
    judged_in_window = 0
    for name, ended, began, ok, kind, detail, lag in rows:
        judged_in_window += window_start <= ended <= window_end
        if not ok and began < window_end:  # not what stopping may leave half done
            step.failed += 1
            step.example = step.example or f"{name}: {kind} {detail}"
        if began < window_start:
            first_lags.append((lag or 0.0) / 1000)
        elif began < window_end:
            lags.append((lag or 0.0) / 1000)
            if setting.count > 1:
                per_worker[worker_of(name, setting.count)] += 1
    step.backlog = judged_in_window - step.backlog  # judged in the window, not yet stored
    step.checks = len(lags)
    step.worker_checks = per_worker if setting.count > 1 else [len(lags)]
    step.started_rate = len(lags) / (window_end - window_start)
    step.p50, step.p99 = quantile(lags, 0.5), quantile(lags, 0.99)
    step.worst = max(lags, default=float("nan"))
    step.first_p99 = quantile(first_lags, 0.99)
    step.first_worst = max(first_lags, default=float("nan"))

    for label, _, out, _ in spies:
        samples, shares = profile_shares(
            out, COORDINATOR_AREAS if label == "coordinator" else WORKER_AREAS
        )
        if label == "coordinator":
            seconds, checks = step.coordinator_cpu, step.checks
        else:
            seconds, checks = step.worker_cpu[0], step.worker_checks[0]
        per = 1000 * seconds / checks if checks else float("nan")
        step.profiles.append(Profile(label.replace("-", " "), samples, seconds, per, shares))
    print(f"  {describe(step)}", flush=True)
    return step


def _stored_in(db: Path, start: float, end: float) -> int:
    """Results in the store now of checks judged (ended) between ``start`` and ``end``."""
    conn = _connect(db)
    try:
        found = conn.execute(
            "SELECT count(*) FROM results WHERE ts BETWEEN ? AND ?",
            (start, end),
        ).fetchone()
    finally:
        conn.close()
    return int(found[0])


def describe(step: Step) -> str:
    return (
        f"{step.monitors:,} monitors at {step.interval:g} s, workers: {step.label}: "
        f"{step.started_rate:,.0f}/s of {step.due_rate:,.0f}/s, lag p50 {1000 * step.p50:.0f} "
        f"ms p99 {1000 * step.p99:.0f} ms max {1000 * step.worst:.0f} ms, {step.failed} failed, "
        f"backlog {step.backlog:,}, {step.per_1000:.2f} CPU s per 1,000 checks "
        f"(coordinator {_share(step)}), others on the machine {step.others_cores:.1f} cores: "
        f"{'held' if step.held else 'MISSED'}"
    )


def _share(step: Step) -> str:
    return f"{100 * step.coordinator_cpu / step.cpu:.0f}%" if step.cpu else "-"


# -- the assignment frame -------------------------------------------------------------------


def assignment_frame(urls: list[str], per_worker: int, workers: int) -> list[tuple[str, ...]]:
    """What sending a worker its share costs, built as ``run_monitor`` builds it."""
    from tether.monitor.checks._prober import Prober
    from tether.monitor.runtime._workers import _Assign, _frame, worker_of
    from tether.monitor.web._web import allowed_targets
    from tether.probe import AllowedTargets

    began = time.perf_counter()
    config = monitors_config(urls, per_worker * workers, REAL_INTERVAL)
    validated = time.perf_counter() - began
    share = tuple(m for m in config.monitors if worker_of(m.name, workers) == 0)
    began = time.perf_counter()
    allowed = allowed_targets(config)
    allowing = time.perf_counter() - began
    began = time.perf_counter()
    data = _frame(_Assign.of(share, allowed, None, {}))
    pickling = time.perf_counter() - began
    bare = len(_frame(_Assign.of(share, AllowedTargets((), ()), None, {})))
    began = time.perf_counter()
    message = pickle.loads(data[4:])
    monitors = asyncio.run(message.monitors())  # its parts, as a worker takes them
    unpickling = time.perf_counter() - began
    began = time.perf_counter()
    Prober().assign(monitors)
    assigning = time.perf_counter() - began
    n = f"{len(share):,}"
    return [
        (
            f"MonitorConfig.model_validate, {per_worker * workers:,} monitors (the driver's, "
            "as the monitor's own start-up does)",
            "",
            f"{validated:.2f}",
        ),
        (
            f"allowed_targets(config): what /probe may reach, {len(allowed.networks):,} networks "
            f"and {len(allowed.hosts):,} host patterns (once per worker started, and per "
            "reload)",
            "",
            f"{allowing:.2f}",
        ),
        (
            f"pickle one worker's frame: {n} monitors and the allowed targets",
            f"{len(data) / 1e6:.1f} MB (monitors alone {bare / 1e6:.1f} MB)",
            f"{pickling:.2f}",
        ),
        ("unpickle it (the worker, its parts one at a time)", "", f"{unpickling:.2f}"),
        (
            f"Prober.assign of the {n} monitors (the worker: probe options, conditions parsed)",
            "",
            f"{assigning:.2f}",
        ),
    ]


# -- the whole run --------------------------------------------------------------------------


def placement() -> tuple[list[int] | None, int, str]:
    """Where the monitor runs (cores to pin it to, or None), the cores ``auto`` means for
    it, and a sentence saying so.  With more than two cores, this driver (and the targets
    it starts after this) moves to the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > CORES_TARGET:
        pin, rest = cpus[:CORES_TARGET], cpus[CORES_TARGET:]
        os.sched_setaffinity(0, rest)
        where = (
            f"{len(cpus)} cores: the monitor (coordinator and workers) pinned to cores "
            f"{','.join(map(str, pin))} with taskset, the targets and this driver on "
            f"{','.join(map(str, rest))}"
        )
        return pin, len(pin), where
    where = (
        f"{len(cpus)} cores, shared by the monitor, the targets, this driver and every other "
        "process on the machine (nothing is pinned: there is nothing to pin to)"
    )
    return None, len(cpus), where


def ramp(
    urls: list[str],
    targets: list[Targets],
    settings: list[Setting],
    sizes: list[int],
    interval: float,
    window: float,
    template: Path,
    tmp: Path,
    pin: list[int] | None,
    profile: Path | None,
    source: str = "file",
) -> list[Step]:
    """Each setting up the sizes, to its first miss."""
    steps: list[Step] = []
    for setting in settings:
        for size in sizes:
            steps.append(
                run_step(
                    urls,
                    targets,
                    setting,
                    size,
                    interval,
                    window,
                    template,
                    tmp,
                    pin,
                    profile=profile,
                    source=source,
                )
            )
            if not steps[-1].held:
                break
    return steps


def scale(
    quick: bool,
    sizes: list[int] | None,
    given: list[str],
    window: float | None,
    profile: Path | None,
    every: float | None = None,
    source: str = "file",
) -> Section:
    section = Section("1. Worker processes: monitors kept on time on every core")
    pin, cores, where = placement()
    settings = settings_for(given, cores)
    if quick:
        sizes, interval, window = sizes or [400], 2.0, window or 2.0
        processes, hosts, per_worker = 1, 8, 200
    else:
        sizes, interval, window = sizes or [60_000, 90_000, 120_000], REAL_INTERVAL, window or 60.0
        interval = every or interval
        processes, hosts, per_worker = 2, 32, PER_WORKER
    print(f"{where}; workers: {', '.join(s.label for s in settings)}", flush=True)
    with (
        target_servers(processes, hosts, SUBNET) as targets,
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
    ):
        urls = [a for t in targets for a in t.addresses]
        frame = assignment_frame(urls, per_worker, 2)
        print("  assignment frame measured", flush=True)
        template = Path(tmp) / "seeded.db"
        seeded, states_ms = seed_store(template, max(sizes))
        print(f"  {max(sizes):,} saved states seeded in {seeded:.1f} s", flush=True)
        steps = ramp(
            urls,
            targets,
            settings,
            sizes,
            interval,
            window,
            template,
            Path(tmp),
            pin,
            profile,
            source,
        )

    section.notes.append(
        f"Machine: {where}.  Targets: {processes} child process(es) on {len(urls)} loopback "
        "addresses, answering 200 with Connection: close.  Monitors: the real tether monitor "
        f"process (run_monitor), N HTTP monitors at {interval:g} s, unscaled, the condition "
        "[STATUS] == 200, no alert channel, a SQLite store in a temporary directory, warm: "
        f"every monitor's detector state saved as up beforehand ({max(sizes):,} states seeded "
        f"in {seeded:.0f} s, copied for each step).  Each step: start, a first result from "
        f"every worker, one interval (the first runs, not measured), then a {window:g} s "
        "window; SIGTERM.  A step holds when its p99 start lag is under 1 s, no check failed, "
        "at least 95% of the checks due started, and fewer than one second of checks waited "
        "for the store at the window's end (backlog).  Each setting's ramp stops at its "
        "first miss."
    )
    section.notes.append(
        "Configuration: "
        + "; ".join(sorted({f"{s.monitors:,} monitors: {s.source}" for s in steps if s.source}))
        if source != "python"
        else "Configuration: " + describe_source("python", None) + "."
    )
    rows: list[tuple[str, ...]] = [
        (
            f"{s.monitors:,}",
            s.label,
            f"{s.due_rate:,.0f}",
            f"{s.started_rate:,.0f}",
            f"{1000 * s.p50:.1f}",
            f"{1000 * s.p99:.1f}",
            f"{1000 * s.worst:.0f}",
            f"{1000 * s.first_p99:.0f} / {1000 * s.first_worst:.0f}",
            str(s.failed),
            f"{s.backlog:,}",
            "held" if s.held else "MISSED",
        )
        for s in steps
    ]
    section.tables.append(
        table(
            f"Ramp (real time, unscaled, {interval:g} s interval, {window:g} s window)",
            (
                "monitors",
                "workers",
                "due/s",
                "started/s",
                "lag p50 ms",
                "lag p99 ms",
                "lag max ms",
                "1st interval lag p99 / max ms",
                "failed",
                "store backlog",
                "",
            ),
            rows,
        )
    )
    mb = 1024 * 1024
    rows = [
        (
            f"{s.monitors:,}",
            s.label,
            f"{s.per_1000:.3f}",
            f"{100 * s.system_cpu / s.cpu:.0f}%" if s.cpu else "-",
            f"{1000 * s.coordinator_cpu / s.checks:.3f} ({_share(s)})" if s.checks else "-",
            f"{s.coordinator_cpu / s.window:.2f}",
            " / ".join(f"{c / s.window:.2f}" for c in s.worker_cpu) or "-",
            f"{s.rss[0] / mb:,.0f}" if s.rss else "-",
            " / ".join(f"{r / mb:,.0f}" for r in s.rss[1:]) or "-",
        )
        for s in steps
    ]
    section.tables.append(
        table(
            "CPU and memory in the window (coordinator: every thread, the store's writer included)",
            (
                "monitors",
                "workers",
                "CPU s per 1,000 checks, coordinator + workers",
                "of it in the kernel",
                "of it the coordinator's (share)",
                "coordinator cores",
                "each worker's cores",
                "coordinator RSS MB",
                "each worker's RSS MB",
            ),
            rows,
        )
    )
    rows = [
        (
            f"{s.monitors:,}",
            s.label,
            *(f"{s.phases.get(p, float('nan')):.1f}" for p in PHASES),
            f"{s.stop_seconds:.1f} (exit {s.exit_code}{_restarts(s)})",
        )
        for s in steps
    ]
    section.tables.append(
        table(
            "Start-up: seconds from the moment the driver started the process to each phase",
            ("monitors", "workers", *PHASE_TITLES, "SIGTERM to exit, s"),
            rows,
        )
    )
    rows = [
        (
            f"{s.monitors:,}",
            s.label,
            s.load,
            f"{s.monitor_cores:.2f}",
            f"{s.targets_cores:.2f}",
            f"{s.driver_cores:.2f}",
            f"{s.others_cores:.2f}",
        )
        for s in steps
    ]
    section.tables.append(
        table(
            "The machine in each window: cores busy (from /proc), by whom",
            (
                "monitors",
                "workers",
                "load average 1/5/15 min at its end",
                "the monitor",
                "the targets",
                "this driver (py-spy included)",
                "every other process",
            ),
            rows,
        )
    )
    section.tables.append(
        table(
            f"Sending a worker its monitors: one frame, at {per_worker:,} monitors per worker "
            f"({2 * per_worker:,} on two workers), measured in the driver",
            ("what", "size", "seconds"),
            frame,
        )
    )
    for s in steps:
        for p in s.profiles:
            section.tables.append(
                table(
                    f"Where the {p.process}'s CPU goes at {s.monitors:,} monitors, workers: "
                    f"{s.label} (py-spy, {p.samples:,} samples; {p.seconds:.1f} CPU s in the "
                    f"window, {p.cpu_per_1000:.3f} s per 1,000 of its checks)",
                    ("component", "share of samples", "CPU ms per 1,000 checks"),
                    [
                        (a, f"{100 * x:.1f}%", f"{1000 * x * p.cpu_per_1000:.0f}")
                        for a, x in p.shares
                    ],
                )
            )
    section.notes.append(
        "What a first start would cost (not run: every step is warm): with no saved state, "
        "each monitor's first check changes its state from unknown to up, and for each change "
        "the coordinator lists every monitor's state (Runner._down, through "
        f"Detector.states()): {states_ms:,.0f} ms at {max(sizes):,} monitors, measured in "
        f"the driver, so about {max(sizes) * states_ms / 2 / 1000 / 60:,.0f} minutes of the "
        "coordinator's CPU before every monitor is up."
    )
    failed = [s.example for s in steps if s.example]
    if failed:
        section.notes.append(f"First failed check seen: {failed[0]}")
    section.verdicts += verdicts(steps, settings, interval)
    return section


PHASES = ("imported", "config", "store", "started", "first results")
PHASE_TITLES = (
    "Python and imports",
    "configuration built",
    "store opened",
    "'started' logged",
    "a first result from every worker",
)


def _restarts(step: Step) -> str:
    return f", {step.restarts} worker restarts" if step.restarts else ""


def verdicts(steps: list[Step], settings: list[Setting], interval: float) -> list[str]:
    """The target's line for the setting with two workers (or the most), and the CPU lines."""
    chosen = next((s for s in settings if s.count == CORES_TARGET), settings[-1])
    mine = [s for s in steps if s.label == chosen.label]
    named = f"{chosen.count}{' (the setting auto)' if chosen.value == 'auto' else ''}"
    held = [s for s in mine if s.held]
    best = held[-1] if held else None
    out = []
    if best is None:
        first = mine[0] if mine else None
        what = describe(first) if first else "not run"
        out.append(
            f"workers: 0 monitors at {interval:g} s with workers: {chosen.count}: no step held "
            f"(the first: {what}) (target >= {MONITORS_TARGET:,}): MISSED"
        )
    else:
        out.append(
            f"workers: {best.monitors:,} monitors at {interval:g} s with workers: "
            f"{chosen.count}: the largest step that held, unscaled ({describe(best)}) "
            f"(target >= {MONITORS_TARGET:,}): "
            f"{met(best.monitors >= MONITORS_TARGET and interval == REAL_INTERVAL)}"
        )
    measured = best or (mine[0] if mine else None)
    if measured is not None and measured.checks:
        which = "the largest step that held" if best else "its first step, which missed"
        coordinator = 1000 * measured.coordinator_cpu / measured.checks
        out.append(
            f"workers: the monitor's own CPU, coordinator and workers together, at "
            f"{measured.monitors:,} monitors with workers: {named} ({which}): "
            f"{measured.per_1000:.3f} s per 1,000 checks, where {CORES_TARGET} cores at "
            f"{MONITORS_TARGET / REAL_INTERVAL:,.0f} checks/s give {CPU_TARGET:.2f} "
            f"(target <= {CPU_TARGET:.2f}): {met(measured.per_1000 <= CPU_TARGET)}"
        )
        limit = CPU_TARGET / CORES_TARGET
        out.append(
            f"workers: the coordinator's share of it, {coordinator:.3f} s per 1,000 checks "
            f"({_share(measured)}), must fit one core at "
            f"{MONITORS_TARGET / REAL_INTERVAL:,.0f} checks/s (target <= {limit:.2f}): "
            f"{met(coordinator <= limit)}"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="half a minute, for a smoke test")
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        help="monitors per step (default 60000,90000,120000)",
    )
    parser.add_argument(
        "--workers", default="1,2,auto", help="the workers settings to ramp (default 1,2,auto)"
    )
    parser.add_argument("--window", type=float, help="seconds measured per step (default 60)")
    parser.add_argument(
        "--interval", type=float, help="the monitors' interval in seconds (default 60)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy the coordinator and worker 0 in each window, keeping the samples in DIR",
    )
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="file",
        help="the monitors written in a YAML file started with tether monitor --config FILE "
        "(default), discovered from a file_sd source named in it, or built in Python",
    )
    parser.add_argument("--monitor", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.monitor is not None:
        return monitor_process(args.monitor)
    if args.profile is not None:
        if shutil.which("py-spy") is None:
            parser.error("--profile needs py-spy (pip install py-spy)")
        args.profile.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    made_by = versions()
    print(f"{os.cpu_count()} cores; {made_by}{'; --quick' if args.quick else ''}", flush=True)
    print(f"load average {load_average()}", flush=True)
    section = scale(
        args.quick,
        args.sizes,
        args.workers.split(","),
        args.window,
        args.profile,
        args.interval,
        args.source,
    )
    section.seconds = time.perf_counter() - started
    section.show()
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.0f} s in all")
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_scale.py", *sys.argv[1:]])
        write_part(args.write, HEADING, command, [section], seconds, made_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
