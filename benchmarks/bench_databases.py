"""Database checks a second: tether's ``postgresql://``, ``mysql://`` and ``redis://``
probes beside the bare client library doing the same connect, query and close.

Run: python benchmarks/bench_databases.py [--quick] [--rounds 5] [--seconds 2]
     [--concurrency 16]

Everything runs on loopback.  The servers are the tests' (tests/helpers/): PostgreSQL
(Debian's binaries, password auth over TCP), MariaDB (mariadbd, a user with a password)
and redis-server (``requirepass``), each started once with a data directory of its own.
A server that is not installed is left out and said.

The peers, for each server, measured side by side in one run:

- tether: ``probe_async(URL)`` with the default query (``SELECT 1`` in a read-only
  transaction under a statement timeout, or ``PING``), a fresh connection per check, as
  the monitor makes it (url, dns, connect, auth and query phases recorded);
- the bare client on the same event loop doing what a hand-written health check does:
  psycopg's ``AsyncConnection.connect`` + ``SELECT 1`` + close; redis-py's asyncio
  client (a new connection) ``PING`` + close; PyMySQL ``connect`` + ``SELECT 1`` + close
  in the same pool of 16 threads tether uses for it.

Each block runs C concurrent loops (``--concurrency``) for ``--seconds``; a check counts
when it succeeded.  The rounds interleave the peers (A B, B A, ...), and each rate is the
median over rounds, with the range; the ratio is the median of tether over the bare
client within a round.  Where ``taskset``'s affinity call exists the measuring process is
pinned to core 0 after the servers start (they run on any core).  Target: tether at
least 0.5 x the bare client (it records every phase, checks the role when asked and runs
the query read-only: more round trips than the bare ``SELECT 1``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import db_servers, postgres_server
from tether.probe import probe_async

Check = Callable[[], Awaitable[bool]]


async def _rate(check: Check, seconds: float, concurrency: int) -> float:
    done = 0
    end = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < end:
            if await check():
                done += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done / seconds


def _tether(url: str) -> Check:
    async def check() -> bool:
        return (await probe_async(url)).ok

    return check


def _psycopg(url: str) -> Check:
    import psycopg

    async def check() -> bool:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            await (await conn.execute("SELECT 1")).fetchone()
        finally:
            await conn.close()
        return True

    return check


def _redis(port: int) -> Check:
    import redis.asyncio

    async def check() -> bool:
        client = redis.asyncio.Redis(
            host="127.0.0.1", port=port, password=db_servers.REDIS_PASSWORD
        )
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    return check


_POOL = ThreadPoolExecutor(16)


def _pymysql(port: int) -> Check:
    import pymysql

    def once() -> bool:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=port,
            user=db_servers.MARIADB_USER,
            password=db_servers.MARIADB_PASSWORD,
            database="app",
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
        finally:
            conn.close()
        return True

    async def check() -> bool:
        return await asyncio.get_running_loop().run_in_executor(_POOL, once)

    return check


def _servers(stack: list[Callable[[], None]]) -> dict[str, tuple[Check, Check]]:
    """Each installed server, started, with its (tether, bare client) checks."""
    pairs: dict[str, tuple[Check, Check]] = {}
    bindir = postgres_server.find_bindir()
    if bindir is not None:
        pg = postgres_server.PostgresServer(bindir)
        pg.start()
        stack.append(pg.stop)
        url = pg.dsn()
        pairs["PostgreSQL (psycopg)"] = (_tether(url), _psycopg(url))
    else:
        print("PostgreSQL is not installed: left out")
    try:
        maria = db_servers.MariaDB(max_connections=200)
        maria.start()
        stack.append(maria.stop)
        pairs["MariaDB (PyMySQL)"] = (_tether(maria.url()), _pymysql(maria.port))
    except BaseException as exc:  # pytest.skip's exception when mariadbd is missing
        print(f"MariaDB left out: {exc}")
    try:
        red = db_servers.Redis()
        red.start()
        stack.append(red.stop)
        pairs["Redis (redis-py)"] = (_tether(red.url()), _redis(red.port))
    except BaseException as exc:
        print(f"Redis left out: {exc}")
    return pairs


async def _measure(
    pairs: dict[str, tuple[Check, Check]], rounds: int, seconds: float, concurrency: int
) -> dict[str, tuple[list[float], list[float]]]:
    found: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in pairs}
    for name, (ours, theirs) in pairs.items():
        await _rate(ours, 0.2, concurrency)  # warm-up, not counted
        await _rate(theirs, 0.2, concurrency)
        for r in range(rounds):
            order = [(0, ours), (1, theirs)] if r % 2 == 0 else [(1, theirs), (0, ours)]
            for side, check in order:
                found[name][side].append(await _rate(check, seconds, concurrency))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; 2 quick)")
    parser.add_argument("--seconds", type=float, help="per block (default 2; 0.5 quick)")
    parser.add_argument("--concurrency", type=int, default=16, help="checks in flight")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    seconds = args.seconds or (0.5 if args.quick else 2.0)
    stack: list[Callable[[], None]] = []
    try:
        pairs = _servers(stack)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {0})
            pinned = "measuring process pinned to core 0"
        else:
            pinned = "not pinned"
        print(
            f"{os.cpu_count()} cores; {pinned}; {rounds} rounds of {seconds:g} s, "
            f"{args.concurrency} in flight{'; --quick' if args.quick else ''}"
        )
        found = asyncio.run(_measure(pairs, rounds, seconds, args.concurrency))
    finally:
        for stop in reversed(stack):
            stop()
    print(
        "| server (bare client) | tether checks/s | bare client checks/s | ratio | target >= 0.5 |"
    )
    print("|---|---|---|---|---|")
    for name, (ours, theirs) in found.items():
        ratio = statistics.median(o / t for o, t in zip(ours, theirs, strict=True))
        met = "met" if ratio >= 0.5 else "missed"
        print(
            f"| {name} | {statistics.median(ours):,.0f} ({min(ours):,.0f}-{max(ours):,.0f}) "
            f"| {statistics.median(theirs):,.0f} ({min(theirs):,.0f}-{max(theirs):,.0f}) "
            f"| {ratio:.2f} | {met} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
