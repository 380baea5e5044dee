"""How many 4-step API checks a second tether's multi-step monitor makes, beside the same
four requests as four single-step tether probes and as a plain aiohttp client.

Run: python benchmarks/bench_steps.py [--quick] [--rounds 5] [--seconds 3] [--concurrency 8]
     [--write benchmarks/history/bench_steps.md]

Everything runs on loopback.  The API is a real aiohttp application (the tests' own,
``tests/helpers/steps_api.py``: log in for a token, create an item answered with an
ETag and an id, read it with the token and ``If-Match``, delete it) in a child process of
its own, on one core.  The measured peers run in this process, pinned to the other core
with ``taskset`` where it exists (the script runs itself again under it), one at a time:

- steps: the monitor's own :class:`Prober` checking a 4-step monitor (the flow of
  ``tests/helpers/steps_api.py``: a JSON path, a header and a regex extracted, values
  filled into a URL, headers and a JSON body, conditions judged on each step, values
  masked in the record);
- probes: the same four requests as four ``probe_async`` calls in a row, the values
  filled in by hand, no conditions, no extraction, no masking (what steps add over the
  engine);
- aiohttp: the same four requests with an aiohttp client session whose connector closes
  each connection after its request (``force_close``), as every tether probe opens a
  fresh connection; the values taken with ``json``/``re`` by hand.

C concurrent loops (``--concurrency``) each run one flow after another for ``--seconds``;
a flow counts when it completes inside the window.  Rounds interleave the peers (A B C,
C B A, ...) after one untimed warm-up each; each rate is the median over rounds, with
its range, and the CPU this process spent per flow (less swayed by the machine's other
load than a rate).  The ratio is the median over rounds of each round's steps over
probes.  Target: steps at least 0.8 x the four single-step probes (the overhead of
steps under 25%).  ``--quick``: 1 round of 1 s, a smoke test too short to mean much.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from _report import Section, commit, met, write_part  # noqa: E402 (benchmarks/ is the script's directory)

TARGET = 0.8


def serve() -> None:
    """The API in this (child) process: print its port, serve until stdin closes."""
    from tests.helpers.steps_api import Api, serving

    async def main() -> None:
        async with serving(Api()) as port:
            print(port, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def flows(
    port: int,
) -> tuple[dict[str, Callable[[], Awaitable[bool]]], Callable[[], Awaitable[None]]]:
    import aiohttp

    from tests.helpers.steps_api import flow
    from tether.monitor.checks._prober import Prober
    from tether.monitor.config import parse_config
    from tether.probe import ProbeOptions, probe_async

    base = f"http://127.0.0.1:{port}"
    m = parse_config("monitors:\n" + flow(port)).monitors[0]
    prober = Prober()
    prober.assign([m])

    async def steps() -> bool:
        return (await prober.check(m.name, prober.mono())).record.ok

    accept = ("Accept", "application/json")

    async def probes() -> bool:
        login = await probe_async(
            f"{base}/login",
            ProbeOptions(
                method="POST", headers=(accept,), body=b'{"user": "probe"}', keep_body=65536
            ),
        )
        token = json.loads(login.body or b"{}")["data"]["token"]
        auth = ("Authorization", f"Bearer {token}")
        body = json.dumps({"name": "probe item", "owner": token}).encode()
        typed = ("Content-Type", "application/json")
        create = await probe_async(
            f"{base}/items",
            ProbeOptions(method="POST", headers=(accept, auth, typed), body=body, keep_body=65536),
        )
        key = re.search(r"id=([0-9]+)", (create.body or b"").decode())
        etag = create.headers["etag"]
        assert key is not None
        read = await probe_async(
            f"{base}/items/{key.group(1)}",
            ProbeOptions(headers=(accept, auth, ("If-Match", etag)), keep_body=65536),
        )
        delete = await probe_async(
            f"{base}/items/{key.group(1)}", ProbeOptions(method="DELETE", headers=(accept, auth))
        )
        return all(r.ok for r in (login, create, read, delete))

    session: list[aiohttp.ClientSession] = []

    async def plain() -> bool:
        if not session:
            session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)))
        s = session[0]
        headers = {"Accept": "application/json"}
        async with s.post(f"{base}/login", data=b'{"user": "probe"}', headers=headers) as r:
            token = (await r.json())["data"]["token"]
        headers["Authorization"] = f"Bearer {token}"
        async with s.post(
            f"{base}/items", json={"name": "probe item", "owner": token}, headers=headers
        ) as r:
            key = re.search(r"id=([0-9]+)", await r.text())
            etag = r.headers["ETag"]
        assert key is not None
        async with s.get(
            f"{base}/items/{key.group(1)}", headers={**headers, "If-Match": etag}
        ) as r:
            await r.read()
            read = r.status == 200
        async with s.delete(f"{base}/items/{key.group(1)}", headers=headers) as r:
            return read and r.status == 204

    async def close() -> None:
        for s in session:
            await s.close()

    return {"steps": steps, "probes": probes, "aiohttp": plain}, close


async def measure(
    run: Callable[[], Awaitable[bool]], seconds: float, concurrency: int
) -> tuple[float, float]:
    """Flows completed per second over ``seconds``, ``concurrency`` loops at once, and
    this process's CPU milliseconds per flow."""
    done = 0
    cpu = time.process_time()
    end = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < end:
            ok = await run()
            if ok and time.perf_counter() <= end:
                done += 1
            elif not ok:
                raise AssertionError(f"a flow failed: {run.__name__}")

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    used = (time.process_time() - cpu) * 1000 / max(done, 1)
    return done / max(time.perf_counter() - started, seconds), used


async def bench(
    port: int, rounds: int, seconds: float, concurrency: int
) -> dict[str, list[tuple[float, float]]]:
    peers, close = flows(port)
    names = list(peers)
    for name in names:  # warm-up, not counted
        await measure(peers[name], min(seconds, 0.5), concurrency)
    rates: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    try:
        for i in range(rounds):
            for name in names if i % 2 == 0 else names[::-1]:
                rates[name].append(await measure(peers[name], seconds, concurrency))
    finally:
        await close()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--write", metavar="FILE", help="also write the results into FILE")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pinned", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    cores = sorted(os.sched_getaffinity(0))
    if args.pinned is None and shutil.which("taskset") is not None and len(cores) >= 2:
        me = [sys.executable, __file__, *sys.argv[1:], f"--pinned={cores[-1]}"]
        raise SystemExit(subprocess.call(["taskset", "-c", str(cores[0]), *me]))
    pin = args.pinned is not None
    if args.quick:
        args.rounds, args.seconds = 1, 1.0
    started = time.perf_counter()
    server_cmd = [sys.executable, __file__, "--serve"]
    if pin:
        server_cmd = ["taskset", "-c", str(args.pinned), *server_cmd]
    server = subprocess.Popen(server_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        rates = asyncio.run(bench(port, args.rounds, args.seconds, args.concurrency))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    where = f"yes (peers on core {cores[0]}, the API on core {args.pinned})" if pin else "no"
    loads = os.getloadavg()
    rate = {n: statistics.median(r for r, _ in v) for n, v in rates.items()}
    cpu = {n: statistics.median(c for _, c in v) for n, v in rates.items()}
    rows = [
        "| peer | 4-step flows/s (median) | range | CPU ms per flow (median) |",
        "|---|---|---|---|",
    ]
    for name, values in rates.items():
        low, high = min(r for r, _ in values), max(r for r, _ in values)
        rows.append(f"| {name} | {rate[name]:.0f} | {low:.0f}-{high:.0f} | {cpu[name]:.2f} |")
    ratios = [a[0] / b[0] for a, b in zip(rates["steps"], rates["probes"], strict=True)]
    ratio = statistics.median(ratios)
    verdicts = [
        f"steps / four probes (median of each round's ratio): {ratio:.2f} "
        f"(target >= {TARGET}): {met(ratio >= TARGET)}; "
        f"CPU per flow, four probes / steps: {cpu['probes'] / cpu['steps']:.2f} "
        f"(steps / four probes {cpu['steps'] / cpu['probes']:.2f}); "
        f"steps / aiohttp: {rate['steps'] / rate['aiohttp']:.2f}"
    ]
    section = Section(
        f"1. 4-step API checks beside four single probes, concurrency {args.concurrency}",
        tables=["\n".join([f"{args.rounds} rounds x {args.seconds:g} s", "", *rows])],
        verdicts=verdicts,
        notes=[
            f"Pinned: {where}.  Load average {loads[0]:.1f} at the end (1 min; "
            f"{loads[1]:.1f} over 5 min): above 1.5 the rates carry the machine's other "
            "work, and the CPU per flow (this process's own) is the steadier figure."
        ],
    )
    section.seconds = time.perf_counter() - started
    section.show()
    if args.write:
        given = [a for a in sys.argv[1:] if not a.startswith("--pinned")]
        command = "python " + " ".join(["benchmarks/bench_steps.py", *given])
        made_by = f"Python {sys.version.split()[0]} (commit {commit()})"
        write_part(
            args.write,
            "# Benchmark results: multi-step API checks",
            command,
            [section],
            section.seconds,
            made_by,
        )


if __name__ == "__main__":
    main()
