"""How many gRPC health checks ``/probe?module=grpc`` answers a second, tether beside
blackbox_exporter, against the same grpcio server.

Run: python benchmarks/bench_grpc.py [--quick] [--write benchmarks/history/bench_grpc.md]
     [--rounds 6] [--seconds 3] [--concurrency 32]

Everything runs on loopback.  The peers, measured side by side in one run, each asked
``/probe?target=127.0.0.1:PORT&module=grpc_bench`` with the same module text (``prober:
grpc``, plaintext, the server's overall health, ``preferred_ip_protocol: ip4``,
``ip_protocol_fallback: false``, ``timeout: 10s``):

- ``tether monitor``: the real process, from a ``tether.yaml`` in a temporary directory
  (its SQLite store there, one paused monitor, ``probe.allowed_targets: [127.0.0.0/8]``,
  the module under ``modules:``);
- blackbox_exporter: Debian's ``prometheus-blackbox-exporter`` with ``GOMAXPROCS`` set
  to the probers' core count and a ``blackbox.yml`` holding the module.

The target is one grpcio server (grpcio-health-checking's health servicer, status
``SERVING`` for ``""``, a thread pool of 8) in a child process.  Where ``taskset``
exists both probers are pinned to the same cores (``benchmarks/bench_probe.py``'s
``prober_cores``); the grpcio server and the load generator are not pinned and share the
machine alike for both.  The load generator, the rounds (interleaved, A B, B A, ...),
the CPU per probe and the readiness wait are ``bench_probe.py``'s, reused as they are: a
probe counts when it is answered 200 with ``probe_success 1``.  Each peer's rate is the
median over rounds; the ratio is tether's over the exporter's within each round.
Target: tether at least 1.0 x blackbox_exporter.  ``--quick`` (a smoke test, too short
to mean anything) takes about 15 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import bench_probe as bp  # benchmarks/ is the script's own directory
from _report import Section, met, table, write_part
from _targets import end_child

RATIO_TARGET = 1.0
MODULE = "grpc_bench"
MODULE_TEXT = (
    "modules:\n"
    f"  {MODULE}:\n"
    "    prober: grpc\n"
    "    timeout: 10s\n"
    "    grpc:\n"
    "      preferred_ip_protocol: ip4\n"
    "      ip_protocol_fallback: false\n"
)
SERVER = """
import sys
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
servicer = health.HealthServicer()
servicer.set("", health_pb2.HealthCheckResponse.SERVING)
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
sys.stdin.read()
server.stop(None).wait(5)
"""
"""The grpcio server's child process: prints its port, serves until stdin closes."""


def _urls(base: str, port: int) -> list[str]:
    query = urllib.parse.urlencode({"target": f"127.0.0.1:{port}", "module": MODULE})
    return [f"{base}/probe?{query}"]


def start_exporter(tmp: Path, cores: list[int], port: int) -> bp.Prober:
    config = tmp / "blackbox.yml"
    config.write_text(MODULE_TEXT)
    listen = bp.free_port()
    log = tmp / "blackbox.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                *bp.pin_prefix(cores),
                bp.EXPORTER,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{listen}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=bp._clean_env(GOMAXPROCS=str(len(cores))),
        )
    name = f"blackbox_exporter (GOMAXPROCS={len(cores)})"
    return bp.Prober(name, proc, _urls(f"http://127.0.0.1:{listen}", port), log)


def start_tether(tmp: Path, cores: list[int], port: int) -> bp.Prober:
    home = Path(tempfile.mkdtemp(prefix="tether-", dir=tmp))
    listen = bp.free_port()
    (home / "tether.yaml").write_text(
        f"storage:\n  path: {home / 'tether.db'}\n"
        f"server:\n  listen: 127.0.0.1:{listen}\n"
        "probe:\n  allowed_targets: [127.0.0.0/8]\n"
        + MODULE_TEXT
        + f"monitors:\n  - {{name: idle, url: 'grpc://127.0.0.1:{port}/', paused: true}}\n"
    )
    log = home / "monitor.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                *bp.pin_prefix(cores),
                sys.executable,
                "-m",
                "tether.cli",
                "monitor",
                "--config",
                str(home / "tether.yaml"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=home,
            env=bp._clean_env(),
        )
    return bp.Prober("tether", proc, _urls(f"http://127.0.0.1:{listen}", port), log)


def measure(rounds: int, seconds: float, warmup: float, concurrency: int) -> Section:
    cores = bp.prober_cores()
    bp.ensure_exporter(install=False)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=bp._clean_env(),
    )
    started: list[bp.Prober] = []
    driver: bp.Driver | None = None
    ratios: list[float] = []
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.strip().isdigit():
            raise bp.SetupError("the grpcio server did not start (is grpcio installed?)")
        port = int(line)
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            tether = start_tether(tmp, cores, port)
            started.append(tether)
            exporter = start_exporter(tmp, cores, port)
            started.append(exporter)
            for p in started:
                p.wait_ready()
            driver = bp.Driver()
            peers = [tether, exporter]
            for p in peers:  # untimed: imports, first connections
                driver.block(p, 2 * warmup, warmup, concurrency)
            cpu0, wall = bp.tree_cpu(server.pid), time.perf_counter()
            loads = os.getloadavg()[0]
            for r in range(rounds):
                for p in peers if r % 2 == 0 else peers[::-1]:
                    p.add(driver.block(p, seconds, warmup, concurrency))
                print(
                    f"round {r + 1}: " + ", ".join(f"{p.name} {p.rates[-1]:,.0f}/s" for p in peers),
                    flush=True,
                )
                if exporter.rates[-1]:
                    ratios.append(tether.rates[-1] / exporter.rates[-1])
            server_share = (bp.tree_cpu(server.pid) - cpu0) / (time.perf_counter() - wall)
            loads_after = os.getloadavg()[0]
    finally:
        if driver is not None:
            driver.close()
        for p in started:
            p.stop()
        if server.stdin is not None:
            server.stdin.close()
        end_child(server, 10)
    section = Section("1. gRPC health checks through /probe: tether beside blackbox_exporter")
    rows = []
    for p in peers:
        rows.append(
            (
                p.name,
                f"{bp._median(p.rates):,.0f}",
                bp._range(p.rates, ",.0f"),
                f"{bp._median(p.cpu_per_1000):.2f}",
                f"{1000 * bp._median(p.p50):.1f} / {1000 * bp._median(p.p99):.1f}",
                str(p.failed),
            )
        )
    section.tables.append(
        table(
            f"/probe?module={MODULE} answered per second, {rounds} rounds of {seconds:g} s, "
            f"{concurrency} requests in flight",
            (
                "prober",
                "probes/s (median)",
                "range",
                "CPU s per 1,000",
                "latency p50 / p99 ms",
                "failed",
            ),
            rows,
        )
    )
    pin = bp.pin_prefix(cores)
    section.notes.append(
        f"One grpcio server (thread pool of 8; {100 * server_share:.0f}% of a core over the "
        "rounds) and the load generator unpinned; the probers "
        + (f"pinned with `{' '.join(pin)}`" if pin else "not pinned (no taskset here)")
        + f".  Load average {loads:.1f} at the start, {loads_after:.1f} at the end, on "
        f"{os.cpu_count()} cores (a load above the probers' own is other work on the "
        "machine); the ratio is taken within each round.  The CPU per probe is the steadier "
        "figure: where tether's goes beyond its HTTP /probe's is the HTTP/2 call in pure "
        "Python (`probe/_h2call.py` on hyperframe and hpack), which the exporter's Go "
        "HTTP/2 does not pay."
    )
    times = bp._median(ratios)
    section.verdicts.append(
        f"grpc /probe: tether {bp._median(tether.rates):,.0f} checks/s, {times:.2f} x "
        f"blackbox_exporter's {bp._median(exporter.rates):,.0f} (target >= "
        f"{RATIO_TARGET:.1f}): {met(times >= RATIO_TARGET)}"
    )
    return section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--write", metavar="FILE", help="also write the results into FILE")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 6; 2 quick)")
    parser.add_argument("--seconds", type=float, help="seconds per block (default 3; 0.5 quick)")
    parser.add_argument("--concurrency", type=int, help="requests in flight (default 32; 8 quick)")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 6)
    seconds = args.seconds or (0.5 if args.quick else 3.0)
    started = time.perf_counter()
    made_by = bp.versions()
    try:
        section = measure(
            rounds,
            seconds,
            0.2 if args.quick else 0.5,
            args.concurrency or (8 if args.quick else 32),
        )
    except bp.SetupError as exc:
        print(f"bench_grpc: {exc}", file=sys.stderr)
        return 2
    section.seconds = time.perf_counter() - started
    section.show()
    if args.write:
        command = "python " + " ".join(["benchmarks/bench_grpc.py", *sys.argv[1:]])
        write_part(
            args.write,
            "# Benchmark results: gRPC health checks",
            command,
            [section],
            section.seconds,
            made_by + ("; --quick" if args.quick else ""),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
