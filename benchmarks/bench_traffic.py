"""How many reported calls a second one ``tether monitor`` ingests (``POST /api/report``),
beside a bare aiohttp handler that only parses the same JSON.

Run: python benchmarks/bench_traffic.py [--quick] [--write benchmarks/history/bench_traffic.md]
     [--rounds 5] [--seconds 4] [--senders 4] [--batch 1000 --batch 5000]

Everything runs on loopback.  The peers, measured side by side in one run:

- ``tether monitor``: the real process (``python -m tether.cli monitor --config F``) from
  a ``tether.yaml`` in a temporary directory: its SQLite store there, four traffic
  monitors of the app ``checkout`` (one endpoint, a glob, every call with the ratio
  rule, and one of another endpoint), no probe.  Each batch is checked whole, counted in
  the ``tether_traffic_*`` metrics and fed to the traffic monitors it matches, which are
  judged at once (a stored check when a verdict changes, or every 10 s).
- the ceiling: a bare aiohttp server in a child process of this script (``--ceiling
  PORT``) whose one handler reads the body, ``json.loads`` it and answers ``202
  {"ok": true, "accepted": N}``: what any Python server of this kind pays before doing
  anything with a report.

Where ``taskset`` exists, the server measured is pinned to the second core and the load
generator to the first, so the two do not share one.  The load generator is one child
process (``--drive``): an aiohttp client with S concurrent senders (``--senders``) on one
keep-alive pool, each posting the next of 8 prepared bodies of B calls (``--batch``,
1,000 and 5,000 by default) in a loop; a batch counts when it is answered ``202`` within
the measured window.  The bodies are what ``tether.report_to`` sends: calls stamped
within the last minute, to 10 endpoints, 10% of them failing with one of four kinds.

The rounds interleave the peers (A B, B A, ...) after one untimed warm-up block each;
each peer's rate is the median over rounds (calls a second), the ratio the median over
rounds of tether's rate over the ceiling's in the same round.  Target: tether at least
0.5 x the ceiling (it validates every call, routes it and counts it in metrics and
windows; the ceiling does nothing past the parse).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import table, write_part

KINDS = ("tls.expired", "connect.refused", "read.timeout", "http.server_error")
ENDPOINTS = [f"svc{i}.internal:443" for i in range(9)] + ["payments.internal:443"]
HEADING = "# Benchmark results: traffic monitors (reported calls ingested)"
TARGET = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(core: int) -> list[str]:
    if shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity"):
        return []
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return []
    return ["taskset", "-c", str(cores[core])]


def bodies(batch: int, now: float) -> list[bytes]:
    rng = random.Random(batch)
    out = []
    for _ in range(8):
        calls = []
        for _ in range(batch):
            failed = rng.random() < 0.1
            calls.append(
                [
                    round(now - rng.random() * 60, 3),
                    rng.choice(ENDPOINTS),
                    "GET",
                    rng.choice(KINDS) if failed else None,
                    None if failed else 200,
                    round(rng.uniform(1, 200), 2),
                    1,
                ]
            )
        out.append(json.dumps({"v": 1, "app": "checkout", "dropped": 0, "calls": calls}).encode())
    return out


CONFIG = """\
storage: {{path: {db}}}
server: {{listen: "127.0.0.1:{port}"}}
monitors:
  - {{name: payments, type: traffic, app: checkout, endpoint: "payments.internal:443"}}
  - {{name: services, type: traffic, app: checkout, endpoint: "svc*.internal:443"}}
  - {{name: all, type: traffic, app: checkout, consecutive: 0, failure_ratio: 0.25}}
  - {{name: ledger, type: traffic, app: checkout, endpoint: "ledger.internal:5432"}}
"""


def ceiling(port: int) -> None:
    """The bare handler: read, parse, answer."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        return web.json_response({"ok": True, "accepted": len(data["calls"])}, status=202)

    app = web.Application(client_max_size=1 << 21)
    app.router.add_post("/api/report", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _drive(url: str, batch: int, senders: int, seconds: float, warm: float) -> dict[str, Any]:
    import aiohttp

    prepared = bodies(batch, time.time())
    done = 0
    bad = 0
    start = end = 0.0

    async def sender(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal done, bad
        k = i
        while True:
            now = time.monotonic()
            if now >= end:
                return
            async with session.post(
                url, data=prepared[k % 8], headers={"Content-Type": "application/json"}
            ) as r:
                await r.read()
                finished = time.monotonic()
                if r.status != 202:
                    bad += 1
                elif start <= finished < end:
                    done += batch
            k += senders

    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.monotonic() + warm
        end = start + seconds
        await asyncio.gather(*(sender(session, i) for i in range(senders)))
    return {"calls": done, "wall": seconds, "bad": bad}


def drive(args: argparse.Namespace) -> None:
    result = asyncio.run(_drive(args.url, args.batch[0], args.senders, args.seconds, args.warm))
    print(json.dumps(result))


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench_traffic: the server exited ({proc.returncode})")
        try:
            body = b'{"v": 1, "app": "warm", "calls": []}'
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=5) as r:
                if r.status == 202:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling a process that is starting, on real time
    raise SystemExit("bench_traffic: the server did not answer in 30 s")


def block(url: str, batch: int, args: argparse.Namespace, warm: float) -> dict[str, Any]:
    cmd = [
        *pin(0),
        sys.executable,
        __file__,
        "--drive",
        "--url",
        url,
        "--batch",
        str(batch),
        "--senders",
        str(args.senders),
        "--seconds",
        str(args.seconds),
        "--warm",
        str(warm),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", metavar="FILE")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warm", type=float, default=1.0)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--drive", action="store_true")
    parser.add_argument("--ceiling", type=int, metavar="PORT")
    parser.add_argument("--url")
    args = parser.parse_args()
    args.batch = args.batch or [1000, 5000]
    if args.ceiling:
        ceiling(args.ceiling)
        return 0
    if args.drive:
        drive(args)
        return 0
    if args.quick:
        args.rounds, args.seconds, args.warm, args.batch = 1, 1.0, 0.3, [1000]
    began = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="bench-traffic-"))
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    tether_port, bare_port = free_port(), free_port()
    (home / "tether.yaml").write_text(CONFIG.format(db=home / "tether.db", port=tether_port))
    log = (home / "tether.log").open("wb")
    procs = {
        "tether monitor": subprocess.Popen(
            [*pin(1), sys.executable, "-m", "tether.cli", "monitor", "--config", "tether.yaml"],
            cwd=home,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        ),
        "bare aiohttp (json.loads only)": subprocess.Popen(
            [*pin(1), sys.executable, __file__, "--ceiling", str(bare_port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    }
    urls = {
        "tether monitor": f"http://127.0.0.1:{tether_port}/api/report",
        "bare aiohttp (json.loads only)": f"http://127.0.0.1:{bare_port}/api/report",
    }
    rows = []
    verdicts = []
    try:
        for name, proc in procs.items():
            wait_ready(urls[name], proc)
        for batch in args.batch:
            rates: dict[str, list[float]] = {name: [] for name in procs}
            ratios = []
            bad = 0
            for name in procs:  # untimed warm-up block each
                block(urls[name], batch, args, args.warm)
            for r in range(args.rounds):
                order = list(procs) if r % 2 == 0 else list(reversed(procs))
                got = {}
                for name in order:
                    result = block(urls[name], batch, args, args.warm)
                    got[name] = result["calls"] / result["wall"]
                    bad += result["bad"]
                    rates[name].append(got[name])
                ratios.append(got["tether monitor"] / got["bare aiohttp (json.loads only)"])
            for name in procs:
                values = rates[name]
                rows.append(
                    (
                        name,
                        f"{batch:,}",
                        f"{statistics.median(values):,.0f}",
                        f"{min(values):,.0f}-{max(values):,.0f}",
                        "1 (ceiling)"
                        if name.startswith("bare")
                        else f"{statistics.median(ratios):.2f}",
                    )
                )
            ratio = statistics.median(ratios)
            rate = statistics.median(rates["tether monitor"])
            verdicts.append(
                f"batches of {batch:,}: tether ingests {rate:,.0f} "
                f"calls/s, {ratio:.2f} x the bare parse ({bad} batches not answered 202) "
                f"(target >= {TARGET}): {'met' if ratio >= TARGET and not bad else 'MISSED'}"
            )
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)
    pinned = "server on one core, driver on another (taskset)" if pin(0) else "not pinned"
    notes = [
        f"{args.rounds} interleaved rounds of {args.seconds:g} s, {args.senders} concurrent "
        f"senders, {pinned}; calls a second, median and range over rounds.",
    ]
    tables = [
        table(
            "Calls ingested a second",
            ("server", "calls a batch", "calls/s", "range", "ratio to the ceiling"),
            rows,
        )
    ]

    class S:
        heading = "1. Ingest throughput"

    S.notes = notes  # type: ignore[attr-defined]
    S.tables = tables  # type: ignore[attr-defined]
    S.verdicts = verdicts  # type: ignore[attr-defined]
    print(f"## {S.heading}\n")
    print("\n".join(notes))
    for t in tables:
        print(f"\n### {t}")
    print()
    for v in verdicts:
        print(f"- {v}")
    if args.write:
        command = "python benchmarks/bench_traffic.py --write " + args.write
        made_by = f"Python {sys.version.split()[0]}"
        write_part(args.write, HEADING, command, [S], time.monotonic() - began, made_by)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
