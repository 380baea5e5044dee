"""How many agent results a second one ``tether monitor`` takes (``POST /api/agent/results``),
from many agents at once.

Run: python benchmarks/bench_agents.py [--quick] [--write benchmarks/history/bench_agents.md]
     [--agents 50] [--monitors 1000] [--paced 20] [--seconds 10]

Everything runs on loopback.  The server is the real process (``python -m tether.cli
monitor``), ``workers: 1``, its SQLite store in a temporary directory, at location ``hq``
with N agent locations (``--agents``, 50) of M monitors each (``--monitors``, 1,000)
at a 60 s interval, placed only there: the server probes nothing itself, it takes what
the agents send.  Each agent location has its own ``agent`` token.

The agents are one child process (``--drive``), an aiohttp client, each agent asking
its assignment once (the count checked) and then posting batches of real wire JSON
(``Batch.to_json()``: the checks an agent makes, 2% of them failing, with phases,
conditions and timings, each batch a fresh id):

1. **paced**, as agents run: every ``batch_every`` (5 s) each agent sends what its M
   monitors made in that time (M x 5 / 60 checks), the agents spread over the 5 s;
   offered: N x M / 60 results a second, the target (833/s for 50 x 1,000);
2. **flat out**: each agent sends batches of 1,000 checks back to back, one in flight
   per agent: what the server takes at most.

A result counts when its batch is answered with a receipt (the answer waits for the
commit).  Measured: results taken a second, the answer time's p50 and p99, and the
CPU the server's process used (``/proc/PID/stat``) over the phase, as a share of one
core.  Where ``taskset`` exists the server is pinned to one core and the agents to
another.  Target: the paced phase taken in full (at least 99% of what was offered) and
the flat-out rate at least the target rate.
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
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _report import table, write_part

HEADING = "# Benchmark results: agents (results a server takes from its agents)"
BATCH_EVERY = 5.0
INTERVAL = 60.0
FLAT_BATCH = 1000


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


def token(i: int) -> str:
    return f"bench-agent-token-{i:03d}-0123456789abcdef"


def location(i: int) -> str:
    return f"a{i}"


def config_text(home: Path, port: int, agents: int, monitors: int) -> str:
    from tether.monitor.config._passwords import hash_token

    locations = ", ".join(["hq", *(location(i) for i in range(agents))])
    lines = [
        f"storage: {{path: {home / 'tether.db'}}}",
        f'server: {{listen: "127.0.0.1:{port}"}}',
        "workers: 1",
        "defaults: {interval: 60s}",
        f"locations: [{locations}]",
        "tokens:",
    ]
    lines += [
        f'  - {{name: a{i}, hash: "{hash_token(token(i))}", scope: agent, location: {location(i)}}}'
        for i in range(agents)
    ]
    lines.append("monitors:")
    lines += [
        # Short lines: 50,000 of them must stay under the file's 4,000,000 characters.
        f'  - {{name: m{i}-{j}, url: "http://127.0.0.1:9/", locations: [{location(i)}]}}'
        for i in range(agents)
        for j in range(monitors)
    ]
    return "\n".join(lines) + "\n"


def checks_json(agent: int, names: list[str], n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` checks of ``names`` as the agent's wire writes them."""
    from tether._kinds import Kind
    from tether.monitor._agent_wire import AgentCheck
    from tether.monitor._records import ProbeRecord

    now = time.time()
    out = []
    for _ in range(n):
        name = rng.choice(names)
        ok = rng.random() >= 0.02
        record = ProbeRecord(
            name,
            now - rng.random() * BATCH_EVERY,
            ok,
            None if ok else Kind.CONNECT_REFUSED,
            round(rng.uniform(2, 80), 2),
            None if ok else "connection refused",
            {"dns": 0.4, "connect": 1.1, "ttfb": 12.5},
            ("[STATUS] (200) == 200",) if ok else (),
        )
        timings = {"resolve": 0.0004, "connect": 0.0011, "processing": 0.0125}
        out.append(AgentCheck(record, "127.0.0.1:9", timings).to_json())
    return out


async def _drive(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    from tether.monitor._agent_wire import PROTOCOL, new_batch_id

    base = args.url
    rng = random.Random(7)
    latencies: dict[str, list[float]] = {"paced": [], "flat": []}
    taken: dict[str, int] = {"paced": 0, "flat": 0}
    offered = {"paced": 0, "flat": 0}
    bad = 0
    names: dict[int, list[str]] = {}
    connector = aiohttp.TCPConnector(limit=args.agents + 5)
    async with aiohttp.ClientSession(connector=connector) as session:
        for i in range(args.agents):
            headers = {"Authorization": f"Bearer {token(i)}"}
            async with session.get(
                f"{base}/api/agent/assignment?location={location(i)}", headers=headers
            ) as r:
                doc = await r.json()
            names[i] = [m["name"] for m in doc["monitors"]]
            if len(names[i]) != args.monitors:
                raise SystemExit(f"agent {i}: {len(names[i])} monitors assigned")

        # Each agent's checks are written once per size, and each batch spliced around
        # them (a fresh id, sent_at now): the agents' side must not be what is measured.
        written: dict[tuple[int, int], str] = {}

        async def post(i: int, n: int, phase: str, end: float) -> None:
            nonlocal bad
            results = written.get((i, n))
            if results is None:
                results = written[(i, n)] = json.dumps(checks_json(i, names[i], n, rng))
            head = {
                "protocol": PROTOCOL,
                "id": new_batch_id(),
                "location": location(i),
                "sent_at": time.time(),
                "dropped": 0,
                "agent": f"bench-{i}",
                "version": "bench",
            }
            data = (json.dumps(head)[:-1] + ', "results": ' + results + "}").encode()
            headers = {"Authorization": f"Bearer {token(i)}", "Content-Type": "application/json"}
            offered[phase] += n
            began = time.monotonic()
            async with session.post(f"{base}/api/agent/results", data=data, headers=headers) as r:
                answer = await r.json()
            done = time.monotonic()
            if r.status != 200:
                bad += 1
            elif done <= end:
                taken[phase] += int(answer["taken"])
                latencies[phase].append(done - began)

        per_batch = max(1, round(args.monitors * BATCH_EVERY / INTERVAL))

        async def paced(i: int, start: float, end: float) -> None:
            at = start + i * BATCH_EVERY / args.agents
            while at < end:
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                await post(i, per_batch, "paced", end + BATCH_EVERY)
                at += BATCH_EVERY

        async def flat(i: int, end: float) -> None:
            while time.monotonic() < end:
                await post(i, FLAT_BATCH, "flat", end)

        for i in range(args.agents):  # written before the clock starts
            for n in (per_batch, FLAT_BATCH):
                written[(i, n)] = json.dumps(checks_json(i, names[i], n, rng))
        cpu0 = cpu(args.server_pid)
        start = time.monotonic()
        end = start + args.paced
        await asyncio.gather(*(paced(i, start, end) for i in range(args.agents)))
        paced_wall = time.monotonic() - start
        cpu1 = cpu(args.server_pid)
        start = time.monotonic()
        end = start + args.seconds
        await asyncio.gather(*(flat(i, end) for i in range(args.agents)))
        flat_wall = args.seconds
        cpu2 = cpu(args.server_pid)
    return {
        "paced": {
            "offered": offered["paced"],
            "taken": taken["paced"],
            "wall": paced_wall,
            "rate_offered": offered["paced"] / args.paced,
            "cpu": (cpu1 - cpu0) / paced_wall,
            "latencies": latencies["paced"],
        },
        "flat": {
            "offered": offered["flat"],
            "taken": taken["flat"],
            "wall": flat_wall,
            "cpu": (cpu2 - cpu1) / (time.monotonic() - start),
            "latencies": latencies["flat"],
        },
        "bad": bad,
    }


def cpu(pid: int) -> float:
    """CPU seconds (user and system) process ``pid`` used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, proc: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    request = urllib.request.Request(url + f"/api/agent/assignment?location={location(0)}")
    request.add_header("Authorization", f"Bearer {token(0)}")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench_agents: the server exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)  # polling a process that is starting, on real time
    raise SystemExit(f"bench_agents: the server did not answer in {limit:g} s")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", metavar="FILE")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--paced", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--drive", action="store_true")
    parser.add_argument("--url")
    parser.add_argument("--server-pid", type=int)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(asyncio.run(_drive(args))))
        return 0
    if args.quick:
        args.agents, args.monitors, args.paced, args.seconds = 4, 120, 5.0, 2.0
    began = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="bench-agents-"))
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["TETHER_LOCATION"] = "hq"
    port = free_port()
    (home / "tether.yaml").write_text(config_text(home, port, args.agents, args.monitors))
    log = (home / "tether.log").open("wb")
    server = subprocess.Popen(
        [*pin(1), sys.executable, "-m", "tether.cli", "monitor", "--config", "tether.yaml"],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server, 300)
        cmd = [
            *pin(0),
            sys.executable,
            __file__,
            "--drive",
            "--url",
            url,
            "--server-pid",
            str(server.pid),
            "--agents",
            str(args.agents),
            "--monitors",
            str(args.monitors),
            "--paced",
            str(args.paced),
            "--seconds",
            str(args.seconds),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if out.returncode != 0:
            raise SystemExit(f"bench_agents: the agents failed: {out.stderr[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)
    target = args.agents * args.monitors / INTERVAL
    rows = []
    for phase, title in (("paced", "paced (every 5 s)"), ("flat", "flat out")):
        r = result[phase]
        lat = r["latencies"]
        rows.append(
            (
                title,
                f"{r['offered'] / r['wall']:,.0f}",
                f"{r['taken'] / r['wall']:,.0f}",
                f"{percentile(lat, 50) * 1000:,.1f}",
                f"{percentile(lat, 99) * 1000:,.1f}",
                f"{r['cpu'] * 100:,.0f}%",
            )
        )
    paced, flat = result["paced"], result["flat"]
    kept = paced["taken"] / paced["offered"] if paced["offered"] else 0.0
    flat_rate = flat["taken"] / flat["wall"]
    ok = kept >= 0.99 and flat_rate >= target and not result["bad"]
    verdicts = [
        f"{args.agents} agents x {args.monitors:,} monitors at 60 s: {kept:.1%} of the paced "
        f"results taken, {flat_rate:,.0f} results/s flat out, {result['bad']} batches not "
        f"answered 200 (target >= {target:,.0f} results/s): {'met' if ok else 'MISSED'}"
    ]
    pinned = "server on one core, agents on another (taskset)" if pin(0) else "not pinned"
    notes = [
        f"`tether monitor` (SQLite, workers: 1) with {args.agents} agent locations of "
        f"{args.monitors:,} monitors each; {args.agents} agents posting real wire JSON, "
        f"{args.paced:g} s paced then {args.seconds:g} s flat out; {pinned}.  CPU: the "
        "server's process, as a share of one core.",
    ]
    tables = [
        table(
            "Results taken from agents",
            ("phase", "offered/s", "taken/s", "p50 ms", "p99 ms", "server CPU"),
            rows,
        )
    ]

    class S:
        heading = "1. Agents"

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
        command = "python benchmarks/bench_agents.py --write " + args.write
        made_by = f"Python {sys.version.split()[0]}"
        write_part(args.write, HEADING, command, [S], time.monotonic() - began, made_by)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
