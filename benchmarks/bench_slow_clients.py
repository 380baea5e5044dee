"""Whether ``tether monitor`` keeps serving while slow clients hold connections to it.

Run: python benchmarks/bench_slow_clients.py [--quick]
     [--write benchmarks/history/bench_slow_clients.md] [--slow 2000] [--samples 3000] [--workers N]

The full run takes about a minute on this project's 2-core machine (two with
``--workers``); ``--quick`` (a smoke test, too small to mean anything) about 5 s.

Everything runs on loopback.  ``tether monitor`` is the real process (``python -m
tether.cli monitor``, this checkout's ``src`` first on its path) from a ``tether.yaml``
in a temporary directory: its SQLite store there, one paused monitor, a public status
page listing it (``/status/public``) and ``probe.allowed_targets: 127.0.0.0/8``;
``server:`` keeps its defaults (header timeout 10 s, body 30 s, idle 75 s, 4,096
connections).  With ``--workers N`` the file also says ``workers: N`` and the monitor
is measured twice, with 1 and with N.

Three endpoints are asked, one request at a time on one keep-alive connection each, in
turn: ``/status/public``, ``/metrics`` and ``/probe?target=URL`` (URL: one of the
benchmarks' loopback targets, ``benchmarks/_targets.py``, answering ``200`` and closing).
Each request's latency is from its send to its whole answer; p50 and p99 over
``--samples`` requests an endpoint, first alone, then while a child process (``--drip``)
holds ``--slow`` connections to the monitor, each sending ``GET /status/public
HTTP/1.1`` and then one header byte a second, never ending its headers, and opening a
new connection whenever the monitor closes one (its header timeout does, answering 408),
so that as many are held all along.  The measure starts once all are open, and with the
default samples lasts longer than the header timeout, so the monitor cuts off and takes
again thousands of them meanwhile.

Where ``taskset`` exists and the machine has 2 cores or more, the monitor runs on core 0
and the clients (this process, the dripper and the targets) on the others.  The process
raises its own open-file limit to its hard limit (the dripper's sockets).  Target: with
the slow connections held, each endpoint's p50 at most 2 x its p50 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Section, commit, met, table, write_part
from _targets import Targets

HEADING = "# Benchmark results: slow clients"
SRC = str(Path(__file__).resolve().parent.parent / "src")
"""The tether measured: this checkout's, whatever is installed."""
TARGET = 2.0


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the dripper (a child process) --------------------------------------------------------


def _drip(port: int, count: int) -> None:
    """Hold ``count`` slow connections to ``port``; print a line once all are open, and
    on stdin's end the 408s seen and the connections opened, then exit."""
    raise_fd_limit()

    async def one(stats: dict[str, int], opened: asyncio.Event) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            stats["opened"] += 1
            if stats["opened"] >= count:
                opened.set()
            # The request line, then one header byte a second until the server cuts it off.
            writer.write(b"GET /status/public HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            try:
                while True:
                    try:
                        got = await asyncio.wait_for(reader.read(4096), 1.0)
                    except TimeoutError:
                        writer.write(b"a")
                        continue
                    for status in ("408", "503"):
                        stats[status] += got.startswith(f"HTTP/1.1 {status}".encode())
                    break
            except OSError:
                pass
            writer.close()

    async def main() -> None:
        stats = {"opened": 0, "408": 0, "503": 0}
        opened = asyncio.Event()
        tasks = [asyncio.ensure_future(one(stats, opened)) for _ in range(count)]
        await opened.wait()
        print("open", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        print(f"{stats['408']} {stats['503']} {stats['opened']}", flush=True)
        for t in tasks:
            t.cancel()

    asyncio.run(main())


# -- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    p50: float
    p99: float


def sample(port: int, paths: list[str], samples: int) -> dict[str, Figures]:
    """Each of ``paths`` asked ``samples`` times in turn, each on its own keep-alive
    connection; p50 and p99 of each in milliseconds."""
    conns = {p: http.client.HTTPConnection("127.0.0.1", port, timeout=30) for p in paths}
    took: dict[str, list[float]] = {p: [] for p in paths}
    try:
        for _ in range(samples):
            for path, conn in conns.items():
                start = time.perf_counter()
                conn.request("GET", path)
                answer = conn.getresponse()
                answer.read()
                took[path].append((time.perf_counter() - start) * 1000)
                if answer.status != 200:
                    raise RuntimeError(f"{path}: answered {answer.status}")
    finally:
        for conn in conns.values():
            conn.close()
    out = {}
    for path, values in took.items():
        values.sort()
        out[path] = Figures(statistics.median(values), values[int(len(values) * 0.99) - 1])
    return out


def pinned(cores: str | None, args: list[str]) -> list[str]:
    return ["taskset", "-c", cores, *args] if cores is not None else args


def run(
    workers: int, slow: int, samples: int, target_url: str, server_cores: str | None
) -> tuple[dict[str, Figures], dict[str, Figures], str]:
    directory = tempfile.mkdtemp(prefix="bench-slow-")
    port = free_port()
    config = Path(directory) / "tether.yaml"
    config.write_text(
        f"storage: {{path: {directory}/t.db}}\n"
        f'server: {{listen: "127.0.0.1:{port}"}}\n'
        f"workers: {workers}\n"
        "probe: {allowed_targets: 127.0.0.0/8}\n"
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/', paused: true}\n"
        "status_pages: [{slug: public, title: Status, groups: [{name: Core, monitors: [api]}]}]\n"
    )
    log = open(Path(directory) / "monitor.log", "wb")  # noqa: SIM115
    monitor = subprocess.Popen(
        pinned(
            server_cores, [sys.executable, "-m", "tether.cli", "monitor", "--config", str(config)]
        ),
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")},
    )
    paths = ["/status/public", "/metrics", f"/probe?target={target_url}"]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sample(port, paths[:1], 1)
                break
            except (OSError, RuntimeError, http.client.HTTPException):
                if time.monotonic() > deadline or monitor.poll() is not None:
                    raise RuntimeError(
                        "tether monitor did not start: "
                        + (Path(directory) / "monitor.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.2)
        sample(port, paths, max(5, samples // 10))  # warm-up
        alone = sample(port, paths, samples)
        dripper = subprocess.Popen(
            [sys.executable, __file__, "--drip", str(port), str(slow)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert dripper.stdout is not None
            assert dripper.stdin is not None
            if dripper.stdout.readline().strip() != "open":
                raise RuntimeError("the dripper did not open its connections")
            held = sample(port, paths, samples)
            dripper.stdin.close()
            late, full, opened = dripper.stdout.readline().split()
        finally:
            dripper.kill()
            dripper.wait()
        note = (
            f"workers: {workers}: {slow:,} slow connections held ({int(opened):,} opened in "
            f"all; {int(late):,} cut off with 408 by the header timeout, {int(full):,} "
            "refused 503 at the cap)"
        )
        return alone, held, note
    finally:
        monitor.terminate()
        try:
            monitor.wait(30)
        except subprocess.TimeoutExpired:
            monitor.kill()
            monitor.wait()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--write", metavar="FILE", help="also write the results into FILE")
    parser.add_argument("--slow", type=int, help="slow connections held (default 2000; 100 quick)")
    parser.add_argument("--samples", type=int, help="requests an endpoint (default 3000; 20 quick)")
    parser.add_argument("--workers", type=int, metavar="N", help="also measure `workers: N`")
    parser.add_argument("--drip", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drip:
        _drip(*args.drip)
        return 0
    raise_fd_limit()
    slow = args.slow or (100 if args.quick else 2000)
    samples = args.samples or (20 if args.quick else 3000)
    started = time.perf_counter()
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    server_cores = None
    if shutil.which("taskset") and len(cores) >= 2:
        first, *rest = sorted(cores)
        server_cores = str(first)
        os.sched_setaffinity(0, rest)  # this process and its children: the clients
    targets = Targets(["127.0.0.1"])
    try:
        target_url = f"http://{targets.addresses[0]}/"
        rows, verdicts, notes = [], [], []
        shapes = [1] + ([args.workers] if args.workers and args.workers > 1 else [])
        for workers in shapes:
            alone, held, note = run(workers, slow, samples, target_url, server_cores)
            notes.append(f"- {note}.")
            for path in alone:
                name = path.split("?")[0]
                ratio50 = held[path].p50 / alone[path].p50
                ratio99 = held[path].p99 / alone[path].p99
                rows.append(
                    (
                        f"workers: {workers}",
                        name,
                        f"{alone[path].p50:.2f}",
                        f"{alone[path].p99:.2f}",
                        f"{held[path].p50:.2f}",
                        f"{held[path].p99:.2f}",
                        f"{ratio50:.2f}",
                        f"{ratio99:.2f}",
                    )
                )
                verdicts.append(
                    f"workers: {workers}, {name}: p50 {held[path].p50:.2f} ms with "
                    f"{slow:,} slow connections, {ratio50:.2f} x alone "
                    f"(target <= {TARGET:g}): {met(ratio50 <= TARGET)}"
                )
    finally:
        targets.close()
    made_by = f"tether at {commit()}"
    pinning = (
        f"the monitor pinned to core {server_cores}, the clients to the others"
        if server_cores is not None
        else "no pinning (taskset missing or one core)"
    )
    section = Section(
        "1. Serving beside slow clients: latency alone and with slow connections held",
        notes=[
            f"{samples} requests an endpoint and phase, one at a time; {pinning}; "
            f"{'--quick; ' if args.quick else ''}{made_by}.",
            "",
            *notes,
        ],
        tables=[
            table(
                "Latency (ms) alone and with the slow connections held",
                (
                    "shape",
                    "endpoint",
                    "p50 alone",
                    "p99 alone",
                    "p50 held",
                    "p99 held",
                    "p50 ratio",
                    "p99 ratio",
                ),
                rows,
            )
        ],
        verdicts=verdicts,
    )
    section.seconds = time.perf_counter() - started
    section.show()
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_slow_clients.py", *sys.argv[1:]])
        write_part(args.write, HEADING, command, [section], section.seconds, made_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
