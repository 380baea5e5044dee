"""How many ``/probe`` requests ``tether monitor`` answers a second, beside blackbox_exporter.

Run: python benchmarks/bench_probe.py [--quick] [--write benchmarks/history/bench_probe.md]
     [--rounds 8] [--seconds 4] [--concurrency 64] [--tether-workers N] [--no-install]
     [--no-profile] [--driver aiohttp|wrk] [--targets python|nginx]

The full run takes about 1.5 minutes on this project's 2-core machine (2 with
``--tether-workers``); ``--quick`` (a smoke test, too short to mean anything) about 15 s.

Everything runs on loopback.  The peers, measured side by side in one run:

- ``tether monitor``: the real process (``python -m tether.cli monitor``), from a
  ``tether.yaml`` written to a temporary directory: its SQLite store there, one paused
  monitor (the file needs one; a paused one is never probed), and
  ``probe.allowed_targets`` set to the targets' network.  Asked
  ``/probe?target=URL&module=http``.  With ``--tether-workers N`` the file also says
  ``workers: N``, and tether is measured twice, with ``workers: 1`` and ``workers: N``,
  so that what the workers buy shows in the same run; a tether without that key refuses
  the file, and the benchmark stops saying so.
- blackbox_exporter: Debian's ``prometheus-blackbox-exporter``
  (``/usr/bin/prometheus-blackbox-exporter``, installed with apt-get when it is missing,
  unless ``--no-install``; the system service the package may start is stopped, and any
  exporter process the install started is ended), with ``GOMAXPROCS`` set to the
  probers' core count and a ``blackbox.yml`` of its own: one ``http_2xx`` module
  (``prober: http``, ``preferred_ip_protocol: ip4``, ``ip_protocol_fallback: false``,
  ``timeout: 10s``, tether's default).  Asked ``/probe?target=URL&module=http_2xx``.

Where ``taskset`` exists, both probers are pinned to the same cores (the first two the
benchmark may use: both cores of this machine, ``taskset -c 0,1``).  The targets and the
load generator are not pinned: they share the machine with the prober being measured,
the same for both.  Their CPU is reported beside the figures.

Targets: the benchmarks' loopback servers (``benchmarks/_targets.py``), 2 child
processes on 8 addresses each (``127.0.20.x``, ``127.0.21.x``), answering ``200 OK``
with ``Connection: close``; every probe opens a fresh connection to its target, as both
probers do anyway.  ``--targets nginx`` serves the same answer on the same 16 addresses
from Debian's nginx (``nginx-light``: C, one master and 2 worker processes, no access
log), which takes a small part of the CPU the Python targets take for the same rate:
like the load generator, the targets share the two cores with the prober measured and
take more of them the faster it probes, which pulls every ratio towards 1.

The load generator is one child process (``--drive``): an aiohttp client with C
concurrent loops (``--concurrency``, 64 by default) on one keep-alive connection pool to
the prober; each GET names the next target in turn, carries the
``X-Prometheus-Scrape-Timeout-Seconds: 10`` header Prometheus sends, and waits for the
whole answer.  ``--driver wrk`` drives with wrk instead (Debian's ``wrk``, C: one
thread, ``--concurrency`` connections, a Lua script naming the targets in turn and
counting an answer good as above; one wrk run a block, in whole seconds, after a
warm-up run of its own, its CPU from ``wait4``): a tenth of a core where the aiohttp
client takes near half of one at the rates measured, so less of the two cores goes to
the apparatus, whose share grows with the rate measured and so pulls every ratio
towards 1.  Neither sends ``Accept-Encoding``: asked for gzip, as Prometheus asks,
blackbox_exporter compresses its answer and tether does not, which is not what is
compared here.  A probe counts when it is answered ``200`` with ``probe_success 1`` in
the body and completes inside the measured window.  Each block runs a short warm-up (the
loops start and the connections open; not counted), then ``--seconds`` of measure.

The rounds interleave the peers (A B, B A, A B, ...; with three peers A B C, C B A, ...),
after one untimed warm-up block each, so that a change in the machine's load during the
run reaches every peer alike.  Each peer's rate is the median over rounds, with the range;
the ratio is the median over rounds of tether's rate over blackbox_exporter's in the same
round.  CPU per 1,000 probes: the prober's CPU over the window (``utime + stime`` of its
process and of every descendant, from ``/proc/PID/stat``, read by the load generator at
the window's edges) over the probes answered in it, a figure that carries across
machines, and through other work on this one, better than a rate does.  Target: tether
at least 2.0 x blackbox_exporter (issue 46 §7; with ``--tether-workers``, tether with
``workers: N``).

Where tether's time goes: one more tether, started under cProfile (``python -m cProfile
-m tether.cli monitor``; ``workers: 1`` with ``--tether-workers``, so that this one
process answers), takes one block (skipped with ``--no-profile``).  The time its event
loop works (``asyncio.run`` whole, less the wait in epoll: start-up and imports are left
out) is split with whole times (a function with its callees, every resumption of a
coroutine included): the ``/probe`` handler, and in it the probe (``probe_async``), the
answer's text (``blackbox_probe``) and the allow-list (``allowed_targets``); aiohttp's
request handling around the handler; and the rest (the loop itself, the probe's socket
callbacks, the idle monitor).  The shares become microseconds per probe with the
unprofiled CPU per probe, since cProfile itself slows every call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from _report import (  # benchmarks/ is the script's own directory
    Section,
    commit,
    met,
    table,
    write_part,
)
from _targets import NGINX, NginxTargets, end_child, target_servers

RATIO_TARGET = 2.0
"""Issue 46 §7: twice blackbox_exporter's probes a second on the same two cores."""
EXPORTER = "/usr/bin/prometheus-blackbox-exporter"
PACKAGE = "prometheus-blackbox-exporter"
SUBNET = 20
"""The targets listen on 127.0.SUBNET.x and 127.0.SUBNET+1.x."""
TARGET_PROCESSES, HOSTS_EACH = 2, 8
SCRAPE_TIMEOUT = "10"
"""Seconds, in the header Prometheus sends; tether's default when there is none."""
READY_LIMIT = 30.0
"""Seconds a prober may take to answer its first probe."""
SUCCESS = re.compile(rb"^probe_success 1(?:\.0)?$", re.M)
"""blackbox_exporter writes ``1``, prometheus_client ``1.0``."""
_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""urllib without the environment's proxies: every prober is on loopback."""


# ---------------------------------------------------------------------------------------------
# The load generator, in a child process: python bench_probe.py --drive
# ---------------------------------------------------------------------------------------------


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and of every process under it (utime + stime, and what each
    has collected from children it reaped), from ``/proc``; 0 where there is none."""
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return 0.0
    for name in entries:
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone since the listing
            continue
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        used[pid] = sum(int(x) for x in fields[11:15]) / _CLK
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += used.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


async def _block(
    urls: list[str], seconds: float, warmup: float, concurrency: int, pid: int
) -> dict[str, Any]:
    """``concurrency`` loops GET ``urls`` in turn for ``warmup + seconds``; what completed
    in the last ``seconds`` is counted."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": SCRAPE_TIMEOUT}
    window = [float("inf"), float("inf")]
    ok: list[float] = []
    failed = 0
    stopping = False

    # No Accept-Encoding: both probers answer plain text (asked for gzip, as Prometheus
    # asks, blackbox_exporter would compress and tether would not).
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        headers=headers,
        skip_auto_headers=("Accept-Encoding",),
        auto_decompress=False,
    ) as session:

        async def loop(k: int) -> None:
            nonlocal failed
            i = k
            while not stopping:
                url = urls[i % len(urls)]
                i += concurrency
                start = time.perf_counter()
                try:
                    async with session.get(url) as r:
                        body = await r.read()
                        good = r.status == 200 and SUCCESS.search(body) is not None
                except (TimeoutError, aiohttp.ClientError):
                    good = False
                end = time.perf_counter()
                if window[0] <= end <= window[1]:
                    if good:
                        ok.append(end - start)
                    else:
                        failed += 1

        tasks = [asyncio.create_task(loop(k)) for k in range(concurrency)]
        await asyncio.sleep(warmup)
        cpu0, own0, window[0] = tree_cpu(pid), time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        window[1] = time.perf_counter()
        cpu1, own1 = tree_cpu(pid), time.process_time()
        stopping = True
        await asyncio.gather(*tasks)
    wall = window[1] - window[0]
    ok.sort()
    return {
        "ok": len(ok),
        "failed": failed,
        "wall": wall,
        "cpu": cpu1 - cpu0,
        "driver_cpu": own1 - own0,
        "p50": ok[len(ok) // 2] if ok else float("nan"),
        "p99": ok[min(len(ok) - 1, int(len(ok) * 0.99))] if ok else float("nan"),
    }


def _drive() -> None:
    """One block per line of JSON on stdin, its result as one line of JSON on stdout."""
    for line in sys.stdin:
        ask = json.loads(line)
        result = asyncio.run(
            _block(ask["urls"], ask["seconds"], ask["warmup"], ask["concurrency"], ask["pid"])
        )
        print(json.dumps(result), flush=True)


class Driver:
    """The load generator's child process, seen from the benchmark."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--drive"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def block(
        self, prober: Prober, seconds: float, warmup: float, concurrency: int
    ) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        ask = {
            "urls": prober.urls,
            "seconds": seconds,
            "warmup": warmup,
            "concurrency": concurrency,
            "pid": prober.proc.pid,
        }
        self.proc.stdin.write(json.dumps(ask) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the load generator died; its error is above")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        end_child(self.proc, 30)


_WRK_SCRIPT = r"""
local urls, n, i = {}, 0, 0
ok, bad = 0, 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  for _, u in ipairs(args) do n = n + 1; urls[n] = u end
  i = math.random(n) - 1
end
function request()
  i = i %% n + 1
  return wrk.format("GET", urls[i], {["X-Prometheus-Scrape-Timeout-Seconds"] = "%s"})
end
function response(status, headers, body)
  if status == 200 and (string.find(body, "\nprobe_success 1\n", 1, true)
      or string.find(body, "\nprobe_success 1.0\n", 1, true)) then
    ok = ok + 1
  else
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local good, failed = 0, 0
  for _, t in ipairs(threads) do good = good + t:get("ok"); failed = failed + t:get("bad") end
  io.write(string.format("TETHER %%d %%d %%d %%d\n", good, failed,
    latency:percentile(50), latency:percentile(99)))
end
"""


class WrkDriver:
    """The load generator as wrk (C, its Lua reading each answer), in place of the aiohttp
    client: ``--driver wrk``.  One wrk run a block (``-t 1 -c CONCURRENCY``), after a
    warm-up run of its own; its CPU from ``wait4``."""

    def __init__(self, tmp: Path) -> None:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise SetupError("--driver wrk needs wrk (Debian: apt-get install wrk)")
        self.wrk = wrk
        self.script = tmp / "probe.lua"
        self.script.write_text(_WRK_SCRIPT % SCRAPE_TIMEOUT)
        self.used = 0.0
        """CPU seconds of every wrk run so far."""

    def _run(
        self, prober: Prober, seconds: float, concurrency: int, cpu: bool
    ) -> tuple[str, float, float, float]:
        base = prober.urls[0].split("/probe?")[0]
        paths = ["/probe?" + u.split("/probe?", 1)[1] for u in prober.urls]
        args = [
            self.wrk, "-t", "1", "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
            "--timeout", "60s", "-s", str(self.script), base, "--", *paths,
        ]  # fmt: skip
        cpu0 = tree_cpu(prober.proc.pid) if cpu else 0.0
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        text = proc.stdout.read()
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        wall = time.perf_counter() - start
        cpu1 = tree_cpu(prober.proc.pid) if cpu else 0.0
        self.used += usage.ru_utime + usage.ru_stime
        return text, wall, cpu1 - cpu0, usage.ru_utime + usage.ru_stime

    def block(
        self, prober: Prober, seconds: float, warmup: float, concurrency: int
    ) -> dict[str, Any]:
        self._run(prober, warmup, concurrency, cpu=False)
        text, wall, cpu, own = self._run(prober, seconds, concurrency, cpu=True)
        line = next((x for x in text.splitlines() if x.startswith("TETHER ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no tally: {text[-2000:]}")
        good, failed, p50, p99 = (int(x) for x in line.split()[1:])
        return {
            "ok": good,
            "failed": failed,
            "wall": wall,
            "cpu": cpu,
            "driver_cpu": own,
            "p50": p50 / 1e6,
            "p99": p99 / 1e6,
        }

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# The probers
# ---------------------------------------------------------------------------------------------


class SetupError(Exception):
    """A prober could not be installed or started; the message says what to do."""


def prober_cores() -> list[int]:
    """The cores both probers are pinned to: the first two this process may use."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return cores[:2] or list(range(min(2, os.cpu_count() or 1)))


def pin_prefix(cores: list[int]) -> list[str]:
    """``taskset -c CORES`` where taskset exists, else nothing."""
    if shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity"):
        return []
    return ["taskset", "-c", ",".join(map(str, cores))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exporter_pids() -> set[int]:
    """Running processes of Debian's blackbox_exporter binary."""
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/exe") == EXPORTER:
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def ensure_exporter(install: bool) -> None:
    """Install Debian's package where the binary is missing, and leave no service of it
    running: the benchmark starts its own exporter."""
    if os.access(EXPORTER, os.X_OK):
        return
    if not install:
        raise SetupError(
            f"{EXPORTER} is missing: apt-get install {PACKAGE}, or run without --no-install"
        )
    if shutil.which("apt-get") is None:
        raise SetupError(f"{EXPORTER} is missing and there is no apt-get to install {PACKAGE}")
    print(f"bench_probe: {EXPORTER} is missing: installing {PACKAGE} with apt-get", file=sys.stderr)
    before = _exporter_pids()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install_cmd = ["apt-get", "install", "-y", "-qq", PACKAGE]
    done = subprocess.run(install_cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # the package lists may be missing or stale
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        done = subprocess.run(install_cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not os.access(EXPORTER, os.X_OK):
        raise SetupError(f"apt-get install {PACKAGE} failed:\n{done.stdout}{done.stderr}")
    # The package starts its service where it can (systemd, or its init script).
    if shutil.which("systemctl"):
        subprocess.run(["systemctl", "stop", PACKAGE], capture_output=True, check=False)
    for pid in _exporter_pids() - before:
        print(
            f"bench_probe: stopping the exporter the install started (pid {pid})", file=sys.stderr
        )
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without proxies (every target is on loopback), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


@dataclass
class Prober:
    name: str
    proc: subprocess.Popen[bytes]
    urls: list[str]
    log: Path
    rates: list[float] = field(default_factory=list)
    cpu_per_1000: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    failed: int = 0
    driver_cpu: list[float] = field(default_factory=list)
    refused: str = ""
    """Said after the log's tail if the process exits, blaming the ``workers`` key."""

    def add(self, result: dict[str, Any]) -> None:
        self.rates.append(result["ok"] / result["wall"])
        if result["ok"]:
            self.cpu_per_1000.append(1000 * result["cpu"] / result["ok"])
        self.p50.append(result["p50"])
        self.p99.append(result["p99"])
        self.failed += result["failed"]
        self.driver_cpu.append(result["driver_cpu"] / result["wall"])

    def wait_ready(self) -> None:
        """Until the first probe succeeds; SetupError with the log's tail if the process
        exits or never answers."""
        deadline = time.monotonic() + READY_LIMIT
        while True:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                hint = self.refused if "workers" in tail else ""
                raise SetupError(f"{self.name} exited ({self.proc.returncode}):\n{tail}{hint}")
            try:
                with _DIRECT.open(self.urls[0], timeout=5) as r:
                    if SUCCESS.search(r.read()):
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SetupError(f"{self.name} did not answer a probe in {READY_LIMIT:g} s")
            time.sleep(0.1)  # polling a process that is starting, on real time

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def machine_cpu() -> float:
    """CPU seconds the whole machine has worked since boot (``/proc/stat``: every state but
    idle and iowait); 0 where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return 0.0
    ticks = [int(x) for x in fields[:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _CLK


def _probe_urls(base: str, targets: list[str], module: str) -> list[str]:
    return [
        f"{base}/probe?{urllib.parse.urlencode({'target': f'http://{t}/', 'module': module})}"
        for t in targets
    ]


def start_exporter(tmp: Path, cores: list[int], targets: list[str]) -> Prober:
    """Debian's blackbox_exporter on a loopback port, with a ``blackbox.yml`` of its own
    (the caller waits until it is ready)."""
    config = tmp / "blackbox.yml"
    config.write_text(
        "modules:\n"
        "  http_2xx:\n"
        "    prober: http\n"
        "    timeout: 10s\n"
        "    http:\n"
        "      preferred_ip_protocol: ip4\n"
        "      ip_protocol_fallback: false\n"
    )
    port = free_port()
    log = tmp / "blackbox.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                *pin_prefix(cores),
                EXPORTER,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=_clean_env(GOMAXPROCS=str(len(cores))),
        )
    name = f"blackbox_exporter (GOMAXPROCS={len(cores)})"
    return Prober(name, proc, _probe_urls(f"http://127.0.0.1:{port}", targets, "http_2xx"), log)


def start_tether(
    tmp: Path,
    cores: list[int],
    targets: list[str],
    *,
    workers: int | None,
    profile: Path | None = None,
) -> Prober:
    """The real ``tether monitor``, started (the caller waits until it is ready);
    ``workers`` goes into its file when given."""
    label = "tether" if workers is None else f"tether (workers: {workers})"
    home = Path(tempfile.mkdtemp(prefix="tether-", dir=tmp))
    port = free_port()
    networks = sorted(
        {f"{t.rsplit('.', 1)[0]}.0/24" for t in (a.rsplit(":", 1)[0] for a in targets)}
    )
    text = [
        f"storage:\n  path: {home / 'tether.db'}",
        f"server:\n  listen: 127.0.0.1:{port}",
        "probe:\n  allowed_targets: [" + ", ".join(networks) + "]",
    ]
    if workers is not None:
        text.append(f"workers: {workers}")
    text.append(
        f"monitors:\n  - {{name: idle, url: 'http://{targets[0]}/', interval: 1h, paused: true}}"
    )
    config = home / "tether.yaml"
    config.write_text("\n".join(text) + "\n")
    profiling = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    log = home / "monitor.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                *pin_prefix(cores),
                sys.executable,
                *profiling,
                "-m",
                "tether.cli",
                "monitor",
                "--config",
                str(config),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=home,
            env=_clean_env(),
        )
    prober = Prober(label, proc, _probe_urls(f"http://127.0.0.1:{port}", targets, "http"), log)
    prober.refused = (
        f"\nbench_probe: this tether refused `workers: {workers}`; --tether-workers needs a "
        "tether whose configuration has the top-level workers key"
        if workers is not None
        else ""
    )
    return prober


# ---------------------------------------------------------------------------------------------
# Where tether's time goes
# ---------------------------------------------------------------------------------------------

PARTS = (
    ("web_protocol.py", "_handle_request", ""),
    ("web_protocol.py", "start", ""),
    ("web_protocol.py", "data_received", ""),
    ("_web.py", "probe", "the /probe handler, in all"),
    ("_engine.py", "probe_async", "of which the probe (tether.probe.probe_async)"),
    ("_probe_metrics.py", "blackbox_probe", "of which blackbox_probe(): the answer's text"),
    ("_web.py", "allowed_targets", "of which allowed_targets(): the allow-list"),
)
"""Functions timed whole, their callees and every resumption of a coroutine included."""


def where_time_goes(path: Path) -> list[tuple[str, float]] | None:
    """Shares of the monitor's working time on its event loop (``asyncio.run`` whole, less
    the wait in epoll; start-up and the imports before it left out): the ``/probe`` handler
    and its parts, aiohttp's request handling around it, and what remains (the loop, the
    probe's socket callbacks, the idle monitor's own work)."""
    stats = pstats.Stats(str(path))
    # (file, line, function) -> (primitive calls, calls, own time, whole time, callers)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    raw = stats.stats  # type: ignore[attr-defined]

    def whole(file: str, function: str) -> float:
        return sum(v[3] for k, v in raw.items() if k[0].endswith(file) and k[2] == function)

    waiting = sum(
        v[2] for k, v in raw.items() if k[2] == "<method 'poll' of 'select.epoll' objects>"
    )
    running = max(
        (v[3] for k, v in raw.items() if k[0].endswith("asyncio/runners.py") and k[2] == "run"),
        default=0.0,
    )
    loop = max(running - waiting, 1e-9)
    times = {(f, fn): whole(f, fn) for f, fn, _ in PARTS}
    handler = times["_web.py", "probe"]
    if not handler:  # this process answered no /probe: its workers did
        return None
    server = sum(
        times["web_protocol.py", fn] for fn in ("_handle_request", "start", "data_received")
    )
    shares = [(label, times[f, fn] / loop) for f, fn, label in PARTS if label]
    shares.append(("aiohttp's request handling around the handler", (server - handler) / loop))
    shares.append(
        (
            "the rest: the event loop, the probe's socket callbacks, the idle monitor",
            1 - server / loop,
        )
    )
    return shares


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def _range(values: Sequence[float], fmt: str) -> str:
    if not values:
        return "-"
    return f"{format(min(values), fmt)}-{format(max(values), fmt)}"


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


@dataclass
class Settings:
    rounds: int
    seconds: float
    warmup: float
    concurrency: int
    workers: int | None
    profile: bool
    install: bool
    driver: str = "aiohttp"
    targets: str = "python"


@dataclass
class Measured:
    cores: list[int]
    tethers: list[Prober]
    exporter: Prober
    ratios: dict[str, list[float]]
    """Each tether's rate over the exporter's, round by round."""
    targets_share: float
    """The target servers' CPU over the rounds, as a share of one core."""
    loads: tuple[float, float]
    """The machine's load average at the start and the end of the rounds."""
    others_share: float
    """CPU the rest of the machine used over the rounds, as a share of all its cores."""
    profiled: list[tuple[str, float]] | None


@contextlib.contextmanager
def _targets(kind: str, tmp: str) -> Iterator[list[Any]]:
    """The targets (each with ``addresses``, ``cpu()``): the Python servers, or nginx on
    the same addresses (``--targets nginx``)."""
    if kind == "python":
        with target_servers(TARGET_PROCESSES, HOSTS_EACH, SUBNET) as servers:
            yield servers
        return
    if not os.access(NGINX, os.X_OK):
        raise SetupError("--targets nginx needs nginx (Debian: apt-get install nginx-light)")
    hosts = [
        f"127.0.{SUBNET + p}.{h + 1}" for p in range(TARGET_PROCESSES) for h in range(HOSTS_EACH)
    ]
    home = Path(tmp) / "nginx"
    home.mkdir()
    served = NginxTargets(hosts, str(home), workers=TARGET_PROCESSES)
    try:
        yield [served]
    finally:
        served.close()


def measure(settings: Settings, out: TextIO) -> Measured:
    """Start the targets, the probers and the load generator; run the rounds, then the
    profiled block; stop everything."""
    cores = prober_cores()
    ensure_exporter(settings.install)
    started: list[Prober] = []
    driver: Driver | WrkDriver | None = None
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        _targets(settings.targets, tmp_name) as servers,
    ):
        tmp = Path(tmp_name)
        addresses = [a for s in servers for a in s.addresses]

        def block(p: Prober, seconds: float) -> dict[str, Any]:
            assert driver is not None
            return driver.block(p, seconds, settings.warmup, settings.concurrency)

        try:
            rows = [None] if settings.workers is None else [1, settings.workers]
            for workers in rows:
                started.append(start_tether(tmp, cores, addresses, workers=workers))
            tethers = list(started)
            exporter = start_exporter(tmp, cores, addresses)
            started.append(exporter)
            for p in started:
                p.wait_ready()
            driver = Driver() if settings.driver == "aiohttp" else WrkDriver(tmp)
            peers = [*tethers, exporter]
            for p in peers:  # untimed: imports, first connections, caches
                block(p, 2 * settings.warmup)
            ratios: dict[str, list[float]] = {p.name: [] for p in tethers}
            loads = os.getloadavg()[0]

            def ours() -> float:
                assert driver is not None
                mine = time.process_time()
                if isinstance(driver, Driver):
                    mine += tree_cpu(driver.proc.pid)
                else:
                    mine += driver.used
                return mine + sum(tree_cpu(p.proc.pid) for p in peers)

            targets_cpu, wall = sum(s.cpu() for s in servers), time.perf_counter()
            busy, mine = machine_cpu(), ours()
            for r in range(settings.rounds):
                for p in peers if r % 2 == 0 else peers[::-1]:
                    p.add(block(p, settings.seconds))
                rates = ", ".join(f"{p.name} {p.rates[-1]:,.0f}/s" for p in peers)
                print(f"round {r + 1}: {rates}", file=out, flush=True)
                for p in tethers:
                    if exporter.rates[-1]:
                        ratios[p.name].append(p.rates[-1] / exporter.rates[-1])
            wall = time.perf_counter() - wall
            targets_share = (sum(s.cpu() for s in servers) - targets_cpu) / wall
            others = machine_cpu() - busy - (ours() - mine) - targets_share * wall
            measured = Measured(
                cores,
                tethers,
                exporter,
                ratios,
                targets_share,
                (loads, os.getloadavg()[0]),
                max(0.0, others / wall / (os.cpu_count() or 1)),
                None,
            )
            for p in peers:
                p.stop()
            if settings.profile:
                # One process answering every /probe: with workers, the one that has them.
                path = tmp / "tether.prof"
                workers = None if settings.workers is None else 1
                profiling = start_tether(tmp, cores, addresses, workers=workers, profile=path)
                started.append(profiling)
                profiling.wait_ready()
                block(profiling, settings.seconds)
                profiling.stop()
                measured.profiled = where_time_goes(path)
        finally:
            if driver is not None:
                driver.close()
            for p in started:
                p.stop()
    return measured


def report(m: Measured, settings: Settings) -> Section:
    section = Section("1. /probe throughput: tether monitor beside blackbox_exporter")
    peers = [*m.tethers, m.exporter]
    body: list[tuple[str, ...]] = []
    for p in peers:
        ratio = m.ratios.get(p.name)
        body.append(
            (
                p.name,
                f"{_median(p.rates):,.0f}",
                _range(p.rates, ",.0f"),
                f"{_median(ratio):.2f} ({_range(ratio, '.2f')})" if ratio else "1",
                f"{_median(p.cpu_per_1000):.2f} ({_range(p.cpu_per_1000, '.2f')})",
                f"{1000 * _median(p.p50):.0f} / {1000 * _median(p.p99):.0f}",
                str(p.failed),
            )
        )
    section.tables.append(
        table(
            f"/probe answered per second, {settings.rounds} rounds of {settings.seconds:g} s, "
            f"{settings.concurrency} requests in flight",
            (
                "prober",
                "probes/s (median)",
                "range over rounds",
                "x blackbox_exporter (median, range)",
                "CPU s per 1,000 probes (median, range)",
                "latency p50 / p99 ms",
                "failed",
            ),
            body,
        )
    )
    pin = pin_prefix(m.cores)
    pinned = (
        f"both probers pinned to cores {','.join(map(str, m.cores))} (`{' '.join(pin)}`)"
        if pin
        else "the probers are not pinned (no taskset here)"
    )
    driver_share = _median([c for p in peers for c in p.driver_cpu])
    load = (
        f"one aiohttp client process, {settings.concurrency} loops"
        if settings.driver == "aiohttp"
        else f"wrk (`--driver wrk`: one thread, {settings.concurrency} connections, its Lua "
        "reading each answer)"
    )
    numbers = [str(i + 1) for i in range(len(peers))]
    servers = (
        f"{TARGET_PROCESSES} child processes"
        if settings.targets == "python"
        else f"nginx (`--targets nginx`: a master and {TARGET_PROCESSES} workers)"
    )
    section.notes.append(
        f"Targets: {servers} on {HOSTS_EACH * TARGET_PROCESSES} "
        "loopback addresses, answering 200 with Connection: close.  "
        f"Load: {load} on keep-alive connections to the prober, no Accept-Encoding.  "
        f"Pinning: {pinned}; the targets ({100 * m.targets_share:.0f}% of a "
        f"core over the rounds) and the load generator ({100 * driver_share:.0f}% of a core "
        "while it drives) are not pinned and share the machine with the prober measured, "
        "alike for every peer.  Rounds in the order "
        f"{' '.join(numbers)}, {' '.join(reversed(numbers))}, ... (the rows in the table's "
        "order).  Machine noise: other work shares this machine; over the rounds it used "
        f"{100 * m.others_share:.0f}% of the machine's {os.cpu_count()} cores (`/proc/stat` "
        "less this benchmark's processes), and the load average went from "
        f"{m.loads[0]:.1f} to {m.loads[1]:.1f}; the range over rounds shows what it did to "
        "each rate.  The ratio is taken within each round, and the CPU per probe moves less "
        "than the rates."
    )
    if settings.profile and m.profiled is None:
        section.notes.append(
            "No profile: the tether started under cProfile answered no /probe in its own "
            "process (its workers did), and cProfile sees only that process."
        )
    if m.profiled is not None:
        per_probe = _median(m.tethers[0].cpu_per_1000)  # ms per probe = s per 1,000
        section.tables.append(
            table(
                f"Where {m.tethers[0].name}'s event loop spends its time per /probe (one "
                f"block of {settings.seconds:g} s under cProfile; µs scaled to the unprofiled "
                "CPU per probe, since cProfile slows every call)",
                ("part", "share", "µs per probe"),
                [(a, f"{100 * s:.1f}%", f"{1000 * per_probe * s:.0f}") for a, s in m.profiled],
            )
        )
    best = m.tethers[-1]
    times = _median(m.ratios[best.name])
    section.verdicts.append(
        f"/probe: {best.name} {_median(best.rates):,.0f} probes/s, {times:.2f} x "
        f"blackbox_exporter's {_median(m.exporter.rates):,.0f} (target >= {RATIO_TARGET:.1f}): "
        f"{met(times >= RATIO_TARGET)}"
    )
    return section


def versions() -> str:
    import tether

    found = ", ".join(f"{n} {importlib.metadata.version(n)}" for n in ("aiohttp", "h11"))
    exporter = "blackbox_exporter unknown"
    try:
        first = subprocess.run([EXPORTER, "--version"], capture_output=True, text=True, check=False)
        words = (first.stdout + first.stderr).split()
        if "version" in words:
            exporter = f"blackbox_exporter {words[words.index('version') + 1]}"
    except OSError:
        pass
    head = commit()
    return (
        f"Python {sys.version.split()[0]}, tether {tether.__version__} (commit {head}), "
        f"{found}, {exporter} (Debian)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--write", metavar="FILE", help="also write the results into FILE")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 8; 2 quick)")
    parser.add_argument(
        "--seconds", type=float, help="measured seconds per block (default 4; 0.5 quick)"
    )
    parser.add_argument("--concurrency", type=int, help="requests in flight (default 64; 16 quick)")
    parser.add_argument(
        "--tether-workers",
        type=int,
        metavar="N",
        help="write `workers: N` into tether's file and measure it beside `workers: 1`",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help=f"fail instead of installing {PACKAGE} with apt-get where it is missing",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="skip the profiled block of tether"
    )
    parser.add_argument(
        "--driver",
        choices=("aiohttp", "wrk"),
        default="aiohttp",
        help="the load generator: an aiohttp client (default) or wrk (C)",
    )
    parser.add_argument(
        "--targets",
        choices=("python", "nginx"),
        default="python",
        help="the probed servers: Python's (default) or nginx (C)",
    )
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        _drive()
        return 0
    if args.tether_workers is not None and args.tether_workers < 1:
        parser.error("--tether-workers: give a whole number of at least 1")

    settings = Settings(
        rounds=args.rounds or (2 if args.quick else 8),
        seconds=args.seconds or (0.5 if args.quick else 4.0),
        warmup=0.2 if args.quick else 0.5,
        concurrency=args.concurrency or (16 if args.quick else 64),
        workers=args.tether_workers,
        profile=not args.no_profile,
        install=not args.no_install,
        driver=args.driver,
        targets=args.targets,
    )
    started = time.perf_counter()
    made_by = versions()  # now: the source may change while this runs
    try:
        measured = measure(settings, sys.stdout)
    except SetupError as exc:
        print(f"bench_probe: {exc}", file=sys.stderr)
        return 2
    if "blackbox_exporter unknown" in made_by:  # installed since
        made_by = versions()
    print(f"{os.cpu_count()} cores; {made_by}{'; --quick' if args.quick else ''}", flush=True)
    section = report(measured, settings)
    section.seconds = time.perf_counter() - started
    section.show()
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_probe.py", *sys.argv[1:]])
        write_part(
            args.write,
            "# Benchmark results: /probe",
            command,
            [section],
            section.seconds,
            made_by,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
