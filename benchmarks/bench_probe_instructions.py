"""Instructions one ``/probe`` costs the real ``tether monitor``, counted by callgrind
(which a loaded machine does not disturb), for each source tree given: the evidence for
bench_probe.py's and bench_grpc.py's CPU per probe when the machine is too busy for rates.

Run: python benchmarks/bench_probe_instructions.py [--module http|grpc] [--probes 1000]
     [--workers N] [--mypyc] [SRC ...]

Each SRC (default: this checkout's ``src``; give ``/path/to/main/src`` beside it for a
before and after; ``--mypyc`` adds a copy of the first with the probe's path compiled by
mypyc, ``benchmarks/_mypyc.py``) is put first on ``PYTHONPATH`` of a ``tether monitor``
(``workers: 1`` by default, so that the process measured answers, on uvloop as always;
``--workers 2`` is bench_probe.py's ``--tether-workers 2``, where the worker processes
answer) started under ``valgrind --tool=callgrind --trace-children=yes`` with
``PYTHONHASHSEED=0``; every process of the monitor is counted. The targets are
bench_probe.py's: for ``http``, the loopback servers of ``benchmarks/_targets.py`` (one
child process, 4 addresses, ``200 OK`` with ``Connection: close``), asked
``/probe?target=URL&module=http``; for ``grpc``, bench_grpc.py's grpcio server with its
module, asked ``/probe?target=127.0.0.1:PORT&module=grpc_bench``. Both carry the
``X-Prometheus-Scrape-Timeout-Seconds: 10`` header. A client in this process (not under
callgrind) sends 200 probes to warm up, each process's counters are zeroed
(``callgrind_control -z``), ``--probes`` probes follow from 16 loops on keep-alive
connections, and the counts are dumped (``callgrind_control -d``); instructions per probe
are the dumps' total over the probes. Every probe must answer ``probe_success 1``.
Start-up, imports and the warm-up are left out; the processes' user space only (no kernel
time: a rate's CPU includes the system calls, these counts do not).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_grpc  # benchmarks/ is the script's own directory
import bench_probe as bp
from _mypyc import PROBE_PATH, compiled_copy
from _targets import end_child, target_servers

WARMUP = 200
LOOPS = 16
READY_LIMIT = 600.0
"""Seconds the monitor may take to answer its first probe under callgrind (50 x slower)."""


async def _drive(urls: list[str], n: int) -> int:
    """``n`` probes over ``urls`` in turn from :data:`LOOPS` loops; how many failed."""
    import aiohttp

    headers = {"X-Prometheus-Scrape-Timeout-Seconds": bp.SCRAPE_TIMEOUT}
    failed = 0
    async with aiohttp.ClientSession(
        headers=headers, skip_auto_headers=("Accept-Encoding",), auto_decompress=False
    ) as session:
        order = iter(range(n))

        async def loop() -> None:
            nonlocal failed
            for i in order:
                async with session.get(urls[i % len(urls)]) as r:
                    body = await r.read()
                    failed += r.status != 200 or bp.SUCCESS.search(body) is None

        await asyncio.gather(*(loop() for _ in range(LOOPS)))
    return failed


def _tree(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    found = [pid]
    for p in found:
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def count(src: str, module: str, probes: int, targets: list[str], workers: int = 1) -> int:
    """Instructions per probe of a monitor running ``src``'s tether (with ``workers``
    worker processes: every process's count together)."""
    home = Path(tempfile.mkdtemp(prefix="tether-cg-"))
    port = bp.free_port()
    if module == "grpc":
        extra = bench_grpc.MODULE_TEXT
        idle = f"grpc://{targets[0]}/"
        urls = bench_grpc._urls(f"http://127.0.0.1:{port}", int(targets[0].rsplit(":", 1)[1]))
    else:
        extra = ""
        idle = f"http://{targets[0]}/"
        urls = bp._probe_urls(f"http://127.0.0.1:{port}", targets, "http")
    (home / "tether.yaml").write_text(
        f"storage:\n  path: {home / 'tether.db'}\n"
        f"server:\n  listen: 127.0.0.1:{port}\n"
        "probe:\n  allowed_targets: [127.0.0.0/8]\n"
        f"workers: {workers}\n"
        + extra
        + f"monitors:\n  - {{name: idle, url: '{idle}', interval: 1h, paused: true}}\n"
    )
    out = home / "callgrind.out"
    env = {**bp._clean_env(), "PYTHONPATH": os.path.abspath(src), "PYTHONHASHSEED": "0"}
    log = (home / "monitor.log").open("wb")
    proc = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}.%p",
            "--trace-children=yes",
            sys.executable,
            "-m",
            "tether.cli",
            "monitor",
            "--config",
            str(home / "tether.yaml"),
        ],
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + READY_LIMIT
        while True:
            try:
                with bp._DIRECT.open(urls[0], timeout=60) as r:
                    r.read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_path = home / "monitor.log"
                    raise RuntimeError(f"the monitor did not start: {log_path}") from None
                time.sleep(1)
        asyncio.run(_drive(urls, WARMUP))
        pids = [str(p) for p in _tree(proc.pid)]
        for pid in pids:
            subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        failed = asyncio.run(_drive(urls, probes))
        for pid in pids:
            subprocess.run(
                ["callgrind_control", "-d", "probes", pid], check=True, capture_output=True
            )
        if failed:
            raise RuntimeError(f"{failed} of {probes} probes failed")
    finally:
        proc.terminate()  # the dump is written: what the stop costs is not counted
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    total = 0
    for pid in pids:
        dumps = sorted(home.glob(f"callgrind.out.{pid}.*"))
        if not dumps:
            raise RuntimeError(f"callgrind wrote no dump for process {pid}")
        found = re.search(r"^summary: (\d+)$", dumps[0].read_text(errors="replace"), re.M)
        if found is None:
            raise RuntimeError(f"no total in {dumps[0]}")
        total += int(found.group(1))
    return total // probes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", nargs="*", default=[str(Path(__file__).parent.parent / "src")])
    ap.add_argument("--module", choices=("http", "grpc"), default="http")
    ap.add_argument("--probes", type=int, default=1000)
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="the monitor's workers (2: /probe answered by the worker processes, as "
        "bench_probe.py's --tether-workers 2; every process counted)",
    )
    ap.add_argument(
        "--mypyc",
        action="store_true",
        help="also count a copy of the first SRC with the probe's path compiled by mypyc "
        "(benchmarks/_mypyc.py; tether installs as pure Python)",
    )
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        if args.mypyc:  # the copy is removed when the counts are done
            copy = stack.enter_context(compiled_copy(Path(args.src[0]), PROBE_PATH))
            args.src.append(str(copy))
        return _counts(args)


def _counts(args: argparse.Namespace) -> int:
    """Count each of ``args.src`` in turn, printing each count."""
    print(f"load average: {os.getloadavg()[0]:.2f} (callgrind counts are not disturbed by it)")
    if args.module == "grpc":
        server = subprocess.Popen(
            [sys.executable, "-c", bench_grpc.SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            targets = [f"127.0.0.1:{server.stdout.readline().strip()}"]
            for src in args.src:
                n = count(src, "grpc", args.probes, targets, args.workers)
                print(f"{src}: {n:,} instructions a /probe (grpc)", flush=True)
        finally:
            end_child(server)
        return 0
    with target_servers(1, 4, bp.SUBNET + 2) as servers:
        targets = [a for s in servers for a in s.addresses]
        for src in args.src:
            n = count(src, "http", args.probes, targets, args.workers)
            print(f"{src}: {n:,} instructions a /probe (http)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
