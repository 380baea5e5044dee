"""What tether's retries cost when nothing fails, and what they buy when things do.

Run: python benchmarks/bench_retry.py [--quick] [--write benchmarks/history/bench_retry.md]
     [--profile]

Everything runs on loopback against servers this script starts: a small
asyncio HTTP server in a child process (so that it does not share the
client's GIL), whose behaviour a control port switches between answering
200, answering 503, faulting a share of requests, and not listening at all;
and, for the deadline, the lab's slow-drip scenario.  Each measure names its
peers, measured in the same run:

1. Overhead with no faults: requests per second through ``tether.Session``,
   the httpx ``Transport`` and the aiohttp ``session()``, beside each bare
   client and beside the retry wrappers people use on requests (urllib3
   ``Retry`` on an ``HTTPAdapter``, tenacity, stamina).  Peers take turns in
   interleaved rounds, each round in a fresh random order; a ratio is the
   median over rounds of that round's ratio to the bare client, and added µs
   the median of that round's time per request minus the bare client's.  Each
   tether client's added µs is held to twice that of the cheapest peer in its
   group that enforces a timeout (:data:`TIMEOUT_PEERS`).
2. Amplification in a full outage (every connection refused; every request
   answered 503): attempts per logical call, counted at the socket
   (``connect()`` calls, for refusals) and by the server (requests, for 503s).
3. Availability while the server faults 10% of requests (a reset before any
   answer, a close without one, or a 503, drawn by a seeded generator in the
   server): the share of logical calls that succeed.
4. Recovery from a 10 s outage, for a client calling every 50 ms: from the
   outage's end to the first successful call, over several seeds.
5. Deadline against a server that sends one body byte every 0.5 s: when
   tether's deadline ends the call, and how long the bare client keeps going.

In 2 to 4 no client waits for real.  Each retrying client sleeps on a
simulated clock (:class:`SimClock`), which its waits advance and which also
moves 10 ms between calls (50 ms in 4); tether's budget window and breaker
cool-down read the same clock.  In 4 the server comes back when the simulated
clock reaches 10 s.  urllib3 and stamina cannot be given a clock: urllib3 runs
with ``backoff_factor=0`` and stamina in its testing mode, which changes no
attempt count here.  Only 5 runs on real time, because a real timeout is what
it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import http.client
import importlib.metadata
import json
import logging
import os
import pstats
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from _report import (  # benchmarks/ is the script's own directory
    Section,
    commit,
    met,
    table,
    write_part,
)
from _targets import end_child

OVERHEAD_TARGET = 0.97
# aiohttp's bare client does far less per request than requests or httpx, so the same
# few microseconds of policy weigh more there (issue 12 §4 sets these two).
OVERHEAD_TARGET_AIOHTTP = 0.95
OVERHEAD_TARGET_AIOHTTP_CONCURRENT = 0.90
AMPLIFICATION_TARGET = 1.2
AVAILABILITY_TARGET = 0.995
RECOVERY_TARGET = 1.5
DEADLINE_SLACK = 0.2
STATUSES = (429, 502, 503, 504)
# Issue 27 §2: tether's added time per call at most twice that of the cheapest peer in
# the same run that enforces a timeout, one per client.
ADDED_FACTOR = 2.0
CONFIGURED = "(configured: "
"""Marks a row of tether with a strategy switched on: what it costs when configured
(issue 27), beside the default policy's row, which alone is held to the targets."""

SHED = [0]
"""Calls an adaptive bulkhead shed during the overhead's measure (a loaded machine)."""

TIMEOUT_PEERS = {
    "requests": "requests + urllib3 Retry(total=3) adapter",
    "httpx": "httpx.Client + a pass-through transport setting the timeout extension",
    "aiohttp, sequential": "aiohttp + a middleware: asyncio.timeout, read()",
    "aiohttp, 16 concurrent": "aiohttp + a middleware: asyncio.timeout, read()",
}
OUTAGE = 10.0

# ---------------------------------------------------------------------------------------------
# The server, in a child process: python bench_retry.py --serve
# ---------------------------------------------------------------------------------------------

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 5\r\n\r\ndown\n"
)


class _Backend:
    """What the data port does now (``ok``, ``503``, ``faults``, ``down``) and what it saw."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.rate = 0.0
        self.rng = random.Random(0)
        self.counts: Counter[str] = Counter()
        self.open: set[asyncio.Transport] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    def fault(self) -> str | None:
        """The fault for this request, if the dice say so."""
        if self.mode == "503":
            return "503"
        if self.mode == "faults" and self.rng.random() < self.rate:
            return self.rng.choice(("reset", "close", "503"))
        return None

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _Data(self), "127.0.0.1", self.port, reuse_address=True, backlog=512
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def set_mode(self, mode: str, rate: float, seed: int) -> dict[str, int]:
        seen = dict(self.counts)
        self.counts.clear()
        self.rate, self.rng = rate, random.Random(seed)
        if mode == "down" and self.server is not None:
            self.server.close()
            self.server = None
            for transport in list(self.open):
                transport.abort()
        elif mode != "down" and self.server is None:
            await self.listen()
        self.mode = mode
        return seen


def _reset(transport: asyncio.Transport) -> None:
    """Close with a TCP RST: SO_LINGER on, timeout zero."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _Data(asyncio.Protocol):
    """Keep-alive HTTP/1.1 for body-less requests, as fast as asyncio allows."""

    def __init__(self, backend: _Backend) -> None:
        self.b = backend
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.b.open.add(transport)
        self.b.counts["connections"] += 1

    def data_received(self, data: bytes) -> None:
        t, b = self.transport, self.b
        assert t is not None
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            del self.buf[: end + 4]
            b.counts["requests"] += 1
            fault = b.fault()
            if fault is None:
                t.write(_OK)
                continue
            b.counts["faults"] += 1
            b.counts[f"fault_{fault}"] += 1
            if fault == "503":
                t.write(_503)
            elif fault == "reset":
                # Once the request has arrived, as the lab's reset_on_accept does: a
                # reset racing the client's send would be a reset or a broken pipe by chance.
                _reset(t)
                return
            else:
                t.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.b.open.discard(self.transport)


async def _control(b: _Backend, reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """``GET /mode?m=faults&rate=0.1&seed=1`` (answers the counts since the last mode)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    target = head.split(" ", 2)[1]
    query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
    seen = await b.set_mode(
        query.get("m", b.mode), float(query.get("rate", 0)), int(query.get("seed", 0))
    )
    body = json.dumps({"port": b.port, "seen": seen}).encode()
    w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    w.write(body)
    await w.drain()
    w.close()


async def _serve() -> None:
    backend = _Backend()
    await backend.listen()
    control = await asyncio.start_server(
        lambda r, w: _control(backend, r, w), "127.0.0.1", 0, reuse_address=True
    )
    print(backend.port, control.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    # The parent closes our stdin to stop us.
    threading.Thread(
        target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(done.set_result, None)),
        daemon=True,
    ).start()
    await done


def _pins() -> tuple[list[str], set[int] | None]:
    """``taskset`` for the server (every core but the first) and the client's core (the
    first), so that neither takes the other's; nothing where taskset or a 2nd core is missing."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2 or shutil.which("taskset") is None:
        return [], None
    return ["taskset", "-c", ",".join(map(str, cores[1:]))], {cores[0]}


SERVER_PIN, CLIENT_CORES = _pins()


class Server:
    """The child process, seen from the benchmark."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [*SERVER_PIN, sys.executable, os.path.abspath(__file__), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server did not start")
        data, control = line.split()
        self.port, self.control = int(data), int(control)
        self.url = f"http://127.0.0.1:{self.port}/"

    def mode(self, mode: str, rate: float = 0.0, seed: int = 0) -> Counter[str]:
        """Switch the data port's behaviour; the counts seen since the last switch."""
        conn = http.client.HTTPConnection("127.0.0.1", self.control, timeout=10)
        try:
            conn.request("GET", f"/mode?m={mode}&rate={rate}&seed={seed}")
            answer = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        assert answer["port"] == self.port, "the data port moved"
        return Counter(answer["seen"])

    def close(self) -> None:
        end_child(self.proc)


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


class SimClock:
    """Simulated seconds: moved only by the clients' sleeps and the benchmark's steps.

    ``then`` is called once, when the clock first reaches ``at``.
    """

    def __init__(self, at: float = float("inf"), then: Callable[[], object] | None = None) -> None:
        self.now = 0.0
        self.slept = 0.0
        self._at, self._then = at, then

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += max(seconds, 0.0)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        if self._then is not None and self.now >= self._at:
            then, self._then = self._then, None
            then()


@contextlib.contextmanager
def counting_connects(port: int) -> Iterator[list[int]]:
    """Count this process's ``connect()`` calls to ``port``: refused ones never reach a server."""
    count = [0]
    real, real_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[1] == port:
            count[0] += 1
        return real(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if isinstance(address, tuple) and address[1] == port:
            count[0] += 1
        return real_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield count
    finally:
        socket.socket.connect, socket.socket.connect_ex = real, real_ex  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# 1. Overhead
# ---------------------------------------------------------------------------------------------


@dataclass
class Peer:
    name: str
    group: str
    sync: Callable[[], object] | None = None
    coro: Callable[[], Awaitable[object]] | None = None
    batch: int = 1
    rps: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    """CPU seconds of this process per request, one per round."""


def sync_peers(url: str) -> tuple[list[Peer], list[Any]]:
    import requests
    import stamina
    import tenacity
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    import tether

    timeout = (5.0, 30.0)  # tether's default connect and read timeouts
    bare, timed, u3, ten, sta = (requests.Session() for _ in range(5))
    u3.mount(
        "http://",
        HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.1, status_forcelist=STATUSES)),
    )
    th = tether.Session()
    limited = tether.Session(
        policy=tether.RetryPolicy(bulkhead=tether.Bulkhead(), throttle=tether.Throttle())
    )

    @tenacity.retry(
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_random_exponential(multiplier=0.1, max=5),
        retry=tenacity.retry_if_exception_type(requests.RequestException),
        reraise=True,
    )
    def ten_get() -> object:
        r = ten.get(url, timeout=timeout)
        r.raise_for_status()
        return r

    @stamina.retry(on=requests.RequestException, attempts=3)
    def sta_get() -> object:
        r = sta.get(url, timeout=timeout)
        r.raise_for_status()
        return r

    g = "requests"
    peers = [
        Peer("requests.Session (bare)", g, lambda: bare.get(url)),
        Peer("requests.Session, timeout=(5, 30)", g, lambda: timed.get(url, timeout=timeout)),
        Peer("requests + urllib3 Retry(total=3) adapter", g, lambda: u3.get(url, timeout=timeout)),
        Peer("requests + tenacity (3 attempts)", g, ten_get),
        Peer("requests + stamina (3 attempts)", g, sta_get),
        Peer("tether.Session", g, lambda: th.get(url)),
        Peer(f"tether.Session {CONFIGURED}Bulkhead(), Throttle())", g, lambda: limited.get(url)),
    ]
    return peers, [bare, timed, u3, ten, sta, th, limited]


def httpx_peers(url: str) -> tuple[list[Peer], list[Any]]:
    import httpx

    from tether.integrations.httpx import Transport

    class PassThrough(httpx.BaseTransport):
        """Only forwards: the cost of a transport of one's own, before any retrying."""

        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return self.inner.handle_request(request)

        def close(self) -> None:
            self.inner.close()

    timeout = {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 5.0}

    class Timed(PassThrough):
        """Forwards with the request's timeouts set to tether's defaults (connect 5 s,
        read 30 s): the least a transport of one's own does to enforce a timeout."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.extensions = {**request.extensions, "timeout": timeout}
            return self.inner.handle_request(request)

    bare = httpx.Client()
    passing = httpx.Client(transport=PassThrough())
    timed = httpx.Client(transport=Timed())
    th = httpx.Client(transport=Transport())
    g = "httpx"
    peers = [
        Peer("httpx.Client (bare)", g, lambda: bare.get(url)),
        Peer("httpx.Client + a pass-through transport", g, lambda: passing.get(url)),
        Peer(TIMEOUT_PEERS[g], g, lambda: timed.get(url)),
        Peer("httpx.Client(transport=tether Transport())", g, lambda: th.get(url)),
    ]
    return peers, [bare, passing, timed, th]


async def aiohttp_peers(url: str, concurrency: int) -> tuple[list[Peer], list[Any]]:
    import aiohttp

    import tether
    from tether.integrations.aiohttp import session

    async def no_op(request: Any, handler: Any) -> Any:
        return await handler(request)

    async def bounded(request: Any, handler: Any) -> Any:
        # What any middleware bounding an attempt's total time must do at least.
        async with asyncio.timeout(60.0):
            response = await handler(request)
            await response.read()
            return response

    sessions = {
        "aiohttp.ClientSession (bare)": aiohttp.ClientSession(),
        "aiohttp + a no-op middleware": aiohttp.ClientSession(middlewares=[no_op]),
        "aiohttp + a middleware: asyncio.timeout, read()": aiohttp.ClientSession(
            middlewares=[bounded]
        ),
        # tether's default timeouts in aiohttp's words: what its per-read timer costs alone.
        "aiohttp, timeout=ClientTimeout(60, sock_connect=5, sock_read=30)": aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60, sock_connect=5, sock_read=30)
        ),
        "tether.integrations.aiohttp.session()": session(),
        # A hedge that never fires on a healthy loopback server: the race's own cost.
        f"tether session() {CONFIGURED}Hedge(delay=1.0))": session(
            tether.RetryPolicy(hedge=tether.Hedge(delay=1.0))
        ),
        f"tether session() {CONFIGURED}Bulkhead(adaptive=Adaptive()))": session(
            tether.RetryPolicy(bulkhead=tether.Bulkhead(adaptive=tether.Adaptive()))
        ),
    }

    def one(s: aiohttp.ClientSession) -> Callable[[], Awaitable[object]]:
        async def get() -> object:
            try:
                async with s.get(url) as r:
                    return await r.read()
            except tether.BulkheadFullError:
                # An adaptive bulkhead on a loaded machine may shrink and shed a call: what
                # it is for.  Counted, so a run says so, rather than ending the benchmark.
                SHED[0] += 1
                return None

        return get

    def many(s: aiohttp.ClientSession) -> Callable[[], Awaitable[object]]:
        get = one(s)

        async def gather() -> object:
            return await asyncio.gather(*(get() for _ in range(concurrency)))

        return gather

    seq, conc = "aiohttp, sequential", f"aiohttp, {concurrency} concurrent"
    peers = [Peer(name, seq, coro=one(s)) for name, s in sessions.items()]
    peers += [Peer(name, conc, coro=many(s), batch=concurrency) for name, s in sessions.items()]
    return peers, list(sessions.values())


def measure(peer: Peer, n: int, loop: asyncio.AbstractEventLoop) -> float:
    """Requests per second over ``n`` requests; the CPU seconds this process spent per
    request (every thread: the cutoff's watchdog included) go to ``peer.cpu``."""
    gc.collect()
    if peer.sync is not None:
        fn = peer.sync
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(n):
            fn()
        wall = time.perf_counter() - start
        peer.cpu.append((time.process_time() - cpu) / n)
        return n / wall
    assert peer.coro is not None
    coro, rounds = peer.coro, max(1, n // peer.batch)

    async def run() -> float:
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await coro()
        wall = time.perf_counter() - start
        peer.cpu.append((time.process_time() - cpu) / (rounds * peer.batch))
        return rounds * peer.batch / wall

    return loop.run_until_complete(run())


def overhead(server: Server, quick: bool) -> Section:
    rounds, block_s, warm, concurrency = (3, 0.02, 30, 16) if quick else (40, 0.12, 300, 16)
    loop = asyncio.new_event_loop()
    sync, sync_closers = sync_peers(server.url)
    hx, hx_closers = httpx_peers(server.url)
    aio, aio_closers = loop.run_until_complete(aiohttp_peers(server.url, concurrency))
    groups: dict[str, list[Peer]] = {}
    for p in sync + hx + aio:
        groups.setdefault(p.group, []).append(p)
    sizes: dict[str, int] = {}
    rng = random.Random(1)
    try:
        for g, members in groups.items():
            for p in members:  # warm up: connections open, caches full
                measure(p, warm, loop)
            # Blocks of about block_s seconds, the same number of requests for each peer.
            base_rate = measure(members[0], warm, loop)
            batch = members[0].batch
            sizes[g] = max(batch, round(base_rate * block_s / batch) * batch)
        for members in groups.values():
            for p in members:
                p.cpu.clear()  # the warm-up's
        for _ in range(rounds):
            names = list(groups)
            rng.shuffle(names)
            for g in names:
                members = list(groups[g])
                rng.shuffle(members)
                for p in members:
                    p.rps.append(measure(p, sizes[g], loop))
    finally:
        for c in sync_closers + hx_closers:
            c.close()
        for s in aio_closers:
            loop.run_until_complete(s.close())
        loop.run_until_complete(asyncio.sleep(0.05))  # let aiohttp's transports finish closing
        loop.close()

    section = Section("1. Overhead with no faults (loopback keep-alive server, child process)")
    section.notes.append(
        f"{rounds} rounds; in each, every client of a group runs one block of the same number "
        f"of requests (about {block_s:g} s of the bare client's time: "
        + "; ".join(f"{g}: {n}" for g, n in sizes.items())
        + "), groups and clients in a fresh random order.  Rate: median over rounds.  "
        "Ratio: median over rounds of the round's rate over the bare client's in the same "
        "round; the middle half of those ratios beside it.  Added µs: the same, as time per "
        "request.  The retrying peers on requests pass timeout=(5, 30), tether's defaults."
    )
    if SHED[0]:
        section.notes.append(
            f"The adaptive bulkhead shed {SHED[0]} calls (BulkheadFullError), counted as done."
        )
    section.notes.append(
        "Added CPU µs: the same over this process's CPU time (time.process_time, every "
        "thread), which a loaded machine disturbs far less than the wall clock."
    )
    rows = []
    ratios: dict[str, tuple[float, float]] = {}
    ours_added: dict[str, tuple[str, float]] = {}
    peer_added: dict[str, float] = {}
    ours_cpu: dict[str, tuple[str, float]] = {}
    peer_cpu: dict[str, float] = {}
    for g, members in groups.items():
        base = members[0]
        for p in members:
            per_round = [a / b for a, b in zip(p.rps, base.rps, strict=True)]
            added = [1e6 / a - 1e6 / b for a, b in zip(p.rps, base.rps, strict=True)]
            cpu = statistics.median(1e6 * (a - b) for a, b in zip(p.cpu, base.cpu, strict=True))
            q1, ratio, q3 = statistics.quantiles(per_round, n=4, method="inclusive")
            rows.append(
                (
                    g,
                    p.name,
                    f"{statistics.median(p.rps):,.0f}",
                    "1 (base)" if p is base else f"{ratio:.3f}",
                    "" if p is base else f"{q1:.3f}-{q3:.3f}",
                    "" if p is base else f"{statistics.median(added):+.1f}",
                    f"{1e6 * statistics.median(p.cpu):.1f}" if p is base else f"{cpu:+.1f}",
                )
            )
            if "tether" in p.name and p is not base and CONFIGURED not in p.name:
                ratios[f"{g}: {p.name}"] = (ratio, overhead_target(g))
                ours_added[g] = (p.name, statistics.median(added))
                ours_cpu[g] = (p.name, cpu)
            if p.name == TIMEOUT_PEERS.get(g):
                peer_added[g] = statistics.median(added)
                peer_cpu[g] = cpu
    section.tables.append(
        table(
            "Requests per second",
            (
                "client",
                "peer",
                "req/s",
                "ratio to bare",
                "middle half",
                "added µs/req",
                "CPU µs/req (added)",
            ),
            rows,
        )
    )
    for name, (ratio, target) in ratios.items():
        section.verdicts.append(
            f"overhead, {name}: {ratio:.3f} of bare (target >= {target}): {met(ratio >= target)}"
        )
    section.verdicts += added_verdicts(ours_added, peer_added, TIMEOUT_PEERS)
    section.verdicts += added_verdicts(ours_cpu, peer_cpu, TIMEOUT_PEERS, "added CPU µs")
    return section


def added_verdicts(
    ours: dict[str, tuple[str, float]],
    peers: dict[str, float],
    names: dict[str, str],
    what: str = "added µs",
) -> list[str]:
    """``added X µs vs 2 × Y µs of <peer>``, per group: the target of issue 27 §2 and
    issue 46 §5.  A peer measured below its bare client (noise) counts as adding nothing."""
    lines = []
    for g, (name, added) in ours.items():
        if g not in peers:
            continue
        peer = max(peers[g], 0.0)
        limit = ADDED_FACTOR * peer
        lines.append(
            f"{what}, {g}: {name} added {added:.1f} µs vs {ADDED_FACTOR:g} × {peer:.1f} µs "
            f"of {names[g]} (target <= {limit:.1f} µs): {met(added <= limit)}"
        )
    return lines


def decorator_peers() -> list[Peer]:
    """A function that returns at once, bare and under each retry decorator's defaults
    (3 attempts where a library has no default): what each costs a call that works."""
    import stamina
    import tenacity

    import tether

    def work() -> int:
        return 1

    async def awork() -> int:
        return 1

    def ten(f: Any) -> Any:
        return tenacity.retry(
            stop=tenacity.stop_after_attempt(3),
            wait=tenacity.wait_random_exponential(multiplier=0.1, max=5),
            retry=tenacity.retry_if_exception_type(OSError),
            reraise=True,
        )(f)

    peers = []
    for g, f in (("@retry, a function", work), ("@retry, a coroutine function", awork)):
        kind = "coro" if f is awork else "sync"
        for name, wrapped in (
            ("the function (bare)", f),
            ("tenacity.retry (3 attempts)", ten(f)),
            ("stamina.retry(on=OSError, attempts=3)", stamina.retry(on=OSError, attempts=3)(f)),
            ("@tether.retry", tether.retry(f)),
        ):
            peers.append(Peer(name, g, **{kind: wrapped}))
    return peers


def decorators(quick: bool) -> Section:
    """Section 6: ``@tether.retry``'s own cost per call beside tenacity's and stamina's."""
    rounds, block = (3, 2_000) if quick else (30, 20_000)
    loop = asyncio.new_event_loop()
    groups: dict[str, list[Peer]] = {}
    for p in decorator_peers():
        groups.setdefault(p.group, []).append(p)
    rng = random.Random(2)
    try:
        for members in groups.values():
            for p in members:
                measure(p, block, loop)
                p.cpu.clear()
        for _ in range(rounds):
            for g in rng.sample(list(groups), len(groups)):
                for p in rng.sample(groups[g], len(groups[g])):
                    p.rps.append(measure(p, block, loop))
    finally:
        loop.close()
    section = Section("6. @tether.retry beside tenacity and stamina (a call that works)")
    section.notes.append(
        f"{rounds} rounds of {block:,} calls of each decorated function, in a fresh random "
        "order each round; added µs: the median over rounds of the round's time per call "
        "minus the bare function's, on the wall clock and in this process's CPU time.  "
        "Issue 46 §5: tether's added time at most twice the cheaper peer's."
    )
    rows = []
    for g, members in groups.items():
        base = members[0]
        added: dict[str, tuple[float, float]] = {}
        for p in members:
            wall = statistics.median(
                1e6 / a - 1e6 / b for a, b in zip(p.rps, base.rps, strict=True)
            )
            cpu = statistics.median(1e6 * (a - b) for a, b in zip(p.cpu, base.cpu, strict=True))
            added[p.name] = (wall, cpu)
            rows.append(
                (
                    g,
                    p.name,
                    f"{1e6 / statistics.median(p.rps):.2f}",
                    "" if p is base else f"{wall:+.2f}",
                    "" if p is base else f"{cpu:+.2f}",
                )
            )
        ours = added.pop("@tether.retry")
        added.pop(base.name)
        for i, what in enumerate(("added µs", "added CPU µs")):
            cheapest = min(added, key=lambda n: added[n][i])
            peer = max(added[cheapest][i], 0.0)
            limit = ADDED_FACTOR * peer
            section.verdicts.append(
                f"{what}, {g}: @tether.retry added {ours[i]:.2f} µs vs {ADDED_FACTOR:g} × "
                f"{peer:.2f} µs of {cheapest} (target <= {limit:.2f} µs): {met(ours[i] <= limit)}"
            )
    section.tables.append(
        table(
            "Time per call",
            ("decorated", "peer", "µs/call", "added µs", "added CPU µs"),
            rows,
        )
    )
    return section


def overhead_target(group: str) -> float:
    if not group.startswith("aiohttp"):
        return OVERHEAD_TARGET
    if "concurrent" in group:
        return OVERHEAD_TARGET_AIOHTTP_CONCURRENT
    return OVERHEAD_TARGET_AIOHTTP


def profile(server: Server, seconds: float) -> None:
    """Where the time of each tether client goes, beside its bare client's, under cProfile."""
    loop = asyncio.new_event_loop()
    sync, sync_closers = sync_peers(server.url)
    hx, hx_closers = httpx_peers(server.url)
    aio, aio_closers = loop.run_until_complete(aiohttp_peers(server.url, 16))
    groups: dict[str, list[Peer]] = {}
    for p in sync + hx + aio:
        groups.setdefault(p.group, []).append(p)
    try:
        for g, members in groups.items():
            bare, ours = members[0], next(p for p in members if "tether" in p.name)
            n = max(bare.batch, round(measure(bare, 300, loop) * seconds / bare.batch) * bare.batch)
            for p in (bare, ours):
                measure(p, 300, loop)
                prof = cProfile.Profile()
                prof.enable()
                measure(p, n, loop)
                prof.disable()
                stats = pstats.Stats(prof)
                own = sum(t for _, _, t, _, _ in stats.stats.values())  # type: ignore[attr-defined]
                print(f"\n### {g}: {p.name}, {n} requests, {1e6 * own / n:.1f} µs each profiled")
                if p is ours:
                    # tether's own frames by cumulative time: what it wraps around the client.
                    stats.sort_stats("cumulative").print_stats(r"src/tether/", 25)
    finally:
        for c in sync_closers + hx_closers:
            c.close()
        for s in aio_closers:
            loop.run_until_complete(s.close())
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.close()


# ---------------------------------------------------------------------------------------------
# Retrying clients on a simulated clock (2, 3, 4)
# ---------------------------------------------------------------------------------------------


@dataclass
class Client:
    """One logical call: ``call()`` returns True when it got a 200."""

    name: str
    call: Callable[[], bool]
    close: Callable[[], object]
    gave_up: Counter[str] | None = None
    """For tether: why it gave up on calls, and how often."""

    def why(self) -> str:
        if self.gave_up is None:
            return "-"
        return ", ".join(f"{why} {n}" for why, n in self.gave_up.most_common()) or "never"


def _why(reason: str) -> str:
    for words, short in (
        ("retry budget", "budget spent"),
        ("circuit", "circuit open"),
        ("every attempt", "attempts used up"),
        ("deadline", "deadline"),
    ):
        if words in reason:
            return short
    return reason


def make_client(kind: str, url: str, clock: SimClock, **policy: Any) -> Client:
    """A fresh client (new connections, new policy state) of one of the kinds below."""
    import requests
    import tenacity
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    import tether

    s = requests.Session()
    if kind == "bare":

        def bare() -> bool:
            try:
                return s.get(url, timeout=5).status_code == 200
            except requests.RequestException:
                return False

        return Client("requests.Session (no retries)", bare, s.close)

    if kind == "urllib3":
        retry = Retry(total=3, backoff_factor=0, status_forcelist=STATUSES)
        s.mount("http://", HTTPAdapter(max_retries=retry))

        def u3() -> bool:
            try:
                return s.get(url, timeout=5).status_code == 200
            except requests.RequestException:
                return False

        return Client("requests + urllib3 Retry(total=3)", u3, s.close)

    def checked() -> requests.Response:
        r = s.get(url, timeout=5)
        r.raise_for_status()
        return r

    if kind.startswith("tenacity"):
        if kind == "tenacity":
            label = "requests + tenacity stop_after_attempt(4)"
            stop: Any = tenacity.stop_after_attempt(4)
            wait: Any = tenacity.wait_random_exponential(multiplier=0.1, max=5)
        elif kind == "tenacity-exp":
            label, stop = "tenacity wait_exponential(0.1, max=30)", tenacity.stop_never
            wait = tenacity.wait_exponential(multiplier=0.1, max=30)
        else:
            label, stop = "tenacity wait_random_exponential(0.1, max=30)", tenacity.stop_never
            wait = tenacity.wait_random_exponential(multiplier=0.1, max=30)
        retrying = tenacity.Retrying(
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception_type(requests.RequestException),
            sleep=clock.sleep,
            reraise=True,
        )

        def ten() -> bool:
            try:
                retrying(checked)
            except requests.RequestException:
                return False
            return True

        return Client(label, ten, s.close)

    if kind == "stamina":
        import stamina

        wrapped = stamina.retry(on=requests.RequestException, attempts=3)(checked)

        def sta() -> bool:
            with stamina.set_testing(True, attempts=3, cap=True):
                try:
                    wrapped()
                except requests.RequestException:
                    return False
            return True

        return Client("requests + stamina (attempts=3)", sta, s.close)

    assert kind == "tether", kind
    s.close()
    label = policy.pop("label", "tether.Session, default RetryPolicy()")
    gave_up: Counter[str] = Counter()
    th = tether.Session(
        policy=tether.RetryPolicy(
            clock=clock,
            sleep=clock.sleep,
            on_give_up=lambda d: gave_up.update([_why(d.reason)]),
            **policy,
        )
    )

    def teth() -> bool:
        try:
            return th.get(url).status_code == 200
        except requests.RequestException:
            return False

    return Client(label, teth, th.close, gave_up)


TETHER_VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "budget only": {"breaker": None, "label": "tether, RetryPolicy(breaker=None)"},
    "neither": {
        "breaker": None,
        "budget": None,
        "label": "tether, RetryPolicy(breaker=None, budget=None)",
    },
}


def clients(url: str, clock: SimClock) -> list[Client]:
    made = [make_client(k, url, clock) for k in ("bare", "urllib3", "tenacity", "stamina")]
    made += [make_client("tether", url, clock, **dict(v)) for v in TETHER_VARIANTS.values()]
    return made


# ---------------------------------------------------------------------------------------------
# 2. Amplification
# ---------------------------------------------------------------------------------------------


def amplification(server: Server, quick: bool) -> Section:
    calls = 60 if quick else 200
    section = Section("2. Amplification in a full outage")
    section.notes.append(
        f"{calls} logical GETs per client, one shared client (and policy) each, on a simulated "
        "clock that moves 10 ms between calls and by every backoff wait.  Attempts are "
        "counted at the socket (refused: connect() calls) and by the server (503: requests)."
    )
    tether_default: dict[str, float] = {}
    for outage in ("refused", "503"):
        rows = []
        clock = SimClock()
        for client in clients(server.url, clock):
            server.mode("down" if outage == "refused" else "503")
            with counting_connects(server.port) as connects:
                ok = 0
                for _ in range(calls):
                    ok += client.call()
                    clock.advance(0.01)
            client.close()
            seen = server.mode("ok")
            attempts = connects[0] if outage == "refused" else seen["requests"]
            per_call = attempts / calls
            rows.append(
                (
                    client.name,
                    str(attempts),
                    f"{per_call:.2f}",
                    str(ok),
                    client.why(),
                )
            )
            if client.name == "tether.Session, default RetryPolicy()":
                tether_default[outage] = per_call
        title = (
            "Every connection refused (nothing listens)"
            if outage == "refused"
            else "Every request answered 503 (no Retry-After)"
        )
        section.tables.append(
            table(
                title,
                ("client", "attempts", "attempts per call", "calls ok", "tether gave up: why"),
                rows,
            )
        )
    for outage, value in tether_default.items():
        section.verdicts.append(
            f"amplification, {outage}: tether default {value:.2f} attempts per call "
            f"(target <= {AMPLIFICATION_TARGET}): {met(value <= AMPLIFICATION_TARGET)}"
        )
    return section


# ---------------------------------------------------------------------------------------------
# 3. Availability
# ---------------------------------------------------------------------------------------------


def availability(server: Server, quick: bool) -> Section:
    calls, rate, seed = (300 if quick else 3000), 0.10, 7
    section = Section("3. Availability under 10% random transient faults")
    section.notes.append(
        f"{calls} logical GETs per client; the server faults each request with probability "
        f"{rate:g}, drawn from random.Random({seed}) reseeded for each client: a TCP reset "
        "before any answer (refused-like: nothing processed), a close without an answer, or "
        "a 503, equally likely.  Backoff waits are simulated."
    )
    rows = []
    tether_ok = 0.0
    clock = SimClock()
    for client in clients(server.url, clock):
        server.mode("faults", rate, seed)
        ok = 0
        for _ in range(calls):
            ok += client.call()
            clock.advance(0.01)
        client.close()
        seen = server.mode("ok")
        share = ok / calls
        injected = seen["faults"] / max(1, seen["requests"])
        rows.append(
            (
                client.name,
                f"{100 * share:.2f}%",
                f"{seen['requests'] / calls:.3f}",
                f"{100 * injected:.1f}%",
                client.why(),
            )
        )
        if client.name == "tether.Session, default RetryPolicy()":
            tether_ok = share
    section.tables.append(
        table(
            "Share of logical calls that succeed",
            ("client", "calls ok", "attempts per call", "requests faulted", "tether gave up: why"),
            rows,
        )
    )
    section.verdicts.append(
        f"availability: tether default {100 * tether_ok:.2f}% (target >= "
        f"{100 * AVAILABILITY_TARGET:g}%): {met(tether_ok >= AVAILABILITY_TARGET)}"
    )
    return section


# ---------------------------------------------------------------------------------------------
# 4. Recovery
# ---------------------------------------------------------------------------------------------

RECOVERY_CLIENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "tether.Session, default RetryPolicy() (breaker)": ("tether", {}),
    "tether, breaker=None, budget=None, attempts=10**6, cap=30, no deadline": (
        "tether",
        {"breaker": None, "budget": None, "attempts": 10**6, "cap": 30.0, "deadline": None},
    ),
    "tenacity wait_random_exponential(0.1, max=30)": ("tenacity-random", {}),
    "tenacity wait_exponential(0.1, max=30)": ("tenacity-exp", {}),
    "requests.Session (no retries)": ("bare", {}),
}


def recovery(server: Server, quick: bool) -> Section:
    seeds = range(3) if quick else range(25)
    period = 0.05
    section = Section("4. Recovery after a 10 s outage")
    section.notes.append(
        f"Simulated time: the server is down (refusing, or answering 503) from 0 s to {OUTAGE:g} s "
        "of a simulated clock and up from then on; the client calls every "
        f"{1000 * period:g} ms of the same clock, each retry's wait advancing it too.  Recovery is "
        f"the simulated time from {OUTAGE:g} s to the first successful call; seeds "
        f"0-{seeds[-1]} drive the jitter (random.seed for tenacity, rand= for tether).  "
        "'attempts in outage' is the load the client put on the down server.  tether without "
        "breaker and tenacity's wait_random_exponential draw the same full-jitter delays from "
        "the same random stream, so their rows agree."
    )
    tether_worst: dict[str, float] = {}
    for outage in ("refused", "503"):
        rows = []
        for name, (kind, policy) in RECOVERY_CLIENTS.items():
            times, loads = [], []
            for seed in seeds:
                random.seed(seed)
                server.mode("down" if outage == "refused" else "503")
                load: list[int] = []
                with counting_connects(server.port) as connects:

                    def up(
                        load: list[int] = load, connects: list[int] = connects, down: str = outage
                    ) -> None:
                        seen = server.mode("ok")
                        load.append(connects[0] if down == "refused" else seen["requests"])

                    clock = SimClock(at=OUTAGE, then=up)
                    extra = dict(policy, rand=random.Random(seed).random, label=name)
                    client = make_client(kind, server.url, clock, **extra)
                    while not client.call() or clock.now < OUTAGE:
                        if clock.now > OUTAGE + 600:
                            raise RuntimeError(f"{name} never recovered")
                        clock.advance(period)
                client.close()
                server.mode("ok")
                times.append(clock.now - OUTAGE)
                loads.append(load[0])
            rows.append(
                (
                    name,
                    f"{statistics.median(times):.2f}",
                    f"{max(times):.2f}",
                    f"{statistics.median(loads):.0f}",
                )
            )
            if name.startswith("tether.Session, default"):
                tether_worst[outage] = max(times)
        section.tables.append(
            table(
                "Down: every connection refused"
                if outage == "refused"
                else "Down: every request answered 503",
                ("client", "recovery s (median)", "worst", "attempts in outage (median)"),
                rows,
            )
        )
    for outage, worst in tether_worst.items():
        section.verdicts.append(
            f"recovery, {outage}: tether default worst {worst:.2f} s over {len(seeds)} seeds "
            f"(target < {RECOVERY_TARGET} s): {met(worst < RECOVERY_TARGET)}"
        )
    return section


# ---------------------------------------------------------------------------------------------
# 5. Deadline
# ---------------------------------------------------------------------------------------------


def deadline(quick: bool) -> Section:
    import aiohttp
    import httpx
    import requests

    import tether
    from tether.integrations import aiohttp as tether_aiohttp
    from tether.integrations.httpx import Transport
    from tether.lab import Lab

    drip, limit, bound = (0.1, 0.4, 0.8) if quick else (0.5, 2.0, 6.0)
    section = Section("5. Deadline against a slow drip")
    section.notes.append(
        f"The lab's slow_drip scenario sends the head, then one body byte every {drip:g} s for "
        f"ever.  tether runs with RetryPolicy(deadline={limit:g}); the bare clients with a "
        f"{limit:g} s timeout, which no single read ever reaches, so they are read with "
        f"streaming and stopped by this benchmark after {bound:g} s.  Real time."
    )
    rows = []
    verdicts = []

    def bare_requests(url: str) -> tuple[float, str]:
        start = time.perf_counter()
        got = 0
        with requests.get(url, timeout=limit, stream=True) as r:
            for chunk in r.iter_content(chunk_size=1):
                got += len(chunk)
                if time.perf_counter() - start >= bound:
                    break
        return time.perf_counter() - start, f"still reading ({got} bytes); stopped by us"

    def bare_httpx(url: str) -> tuple[float, str]:
        start = time.perf_counter()
        got = 0
        with httpx.Client(timeout=limit) as c, c.stream("GET", url) as r:
            for chunk in r.iter_raw():
                got += len(chunk)
                if time.perf_counter() - start >= bound:
                    break
        return time.perf_counter() - start, f"still reading ({got} bytes); stopped by us"

    async def bare_aiohttp(url: str) -> tuple[float, str]:
        start = time.perf_counter()
        got = 0
        timeout = aiohttp.ClientTimeout(sock_read=limit)
        async with aiohttp.ClientSession(timeout=timeout) as s, s.get(url) as r:
            while chunk := await r.content.read(1):
                got += len(chunk)
                if time.perf_counter() - start >= bound:
                    break
        return time.perf_counter() - start, f"still reading ({got} bytes); stopped by us"

    def timed(fn: Callable[[], object]) -> tuple[float, str]:
        start = time.perf_counter()
        try:
            fn()
        except Exception as exc:
            name = f"{type(exc).__module__}.{type(exc).__name__}"
            return time.perf_counter() - start, f"raised {name}"
        return time.perf_counter() - start, "returned"

    def tether_requests(url: str) -> tuple[float, str]:
        with tether.Session(policy=tether.RetryPolicy(deadline=limit)) as s:
            return timed(lambda: s.get(url))

    def tether_httpx(url: str) -> tuple[float, str]:
        policy = tether.RetryPolicy(deadline=limit)
        with httpx.Client(transport=Transport(policy=policy)) as c:
            return timed(lambda: c.get(url))

    async def tether_aio(url: str) -> tuple[float, str]:
        async with tether_aiohttp.session(tether.RetryPolicy(deadline=limit)) as s:

            async def get() -> None:
                async with s.get(url) as r:
                    await r.read()

            start = time.perf_counter()
            try:
                await get()
            except Exception as exc:
                name = f"{type(exc).__module__}.{type(exc).__name__}"
                return time.perf_counter() - start, f"raised {name}"
            return time.perf_counter() - start, "returned"

    pairs: list[tuple[str, Callable[[str], tuple[float, str]], str, Any]] = [
        ("requests", tether_requests, f"requests.get(url, timeout={limit:g})", bare_requests),
    ]
    if not quick:
        pairs += [
            ("httpx", tether_httpx, f"httpx.Client(timeout={limit:g})", bare_httpx),
            (
                "aiohttp",
                lambda u: asyncio.run(tether_aio(u)),
                f"aiohttp ClientTimeout(sock_read={limit:g})",
                lambda u: asyncio.run(bare_aiohttp(u)),
            ),
        ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with Lab(drip_interval=drip) as lab:
            url = lab["slow_drip"].url
            for lib, ours, bare_name, bare in pairs:
                took, what = ours(url)
                rows.append((f"tether ({lib}), deadline={limit:g}", f"{took:.2f}", what))
                verdicts.append(
                    f"deadline, {lib}: tether returned in {took:.2f} s (target <= "
                    f"{limit + DEADLINE_SLACK:g} s): {met(took <= limit + DEADLINE_SLACK)}"
                )
                took, what = bare(url)
                rows.append((bare_name, f"{took:.2f}", what))
    section.tables.append(table("Time to return", ("client", "seconds", "how it ended"), rows))
    section.verdicts += verdicts
    return section


# ---------------------------------------------------------------------------------------------


def versions() -> str:
    names = ("requests", "urllib3", "httpx", "aiohttp", "tenacity", "stamina")
    import tether

    found = ", ".join(f"{n} {importlib.metadata.version(n)}" for n in names)
    head = commit()
    return f"Python {sys.version.split()[0]}, tether {tether.__version__} (commit {head}), {found}"


def write(path: str, sections: list[Section], quick: bool, seconds: float, made_by: str) -> None:
    """Replace (or add) this benchmark's part of ``path``, keeping every other part."""
    write_part(
        path,
        "# Benchmark results: retries",
        f"python benchmarks/bench_retry.py{' --quick' if quick else ''} --write {path}",
        sections,
        seconds,
        made_by,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    parser.add_argument("--write", help="also write the results as Markdown into this file")
    parser.add_argument("--profile", action="store_true", help="cProfile tether.Session, then stop")
    parser.add_argument(
        "--only",
        help="run these sections alone, comma-separated numbers (1 overhead ... 6 decorators)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return 0

    if CLIENT_CORES is not None:
        os.sched_setaffinity(0, CLIENT_CORES)
    # Give-up warnings from every library would drown the tables.
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    server = Server()
    try:
        if args.profile:
            profile(server, 2.0)
            return 0
        pinned = (
            f"client pinned to core {min(CLIENT_CORES)} and server to core {SERVER_PIN[-1]} "
            "with taskset"
            if CLIENT_CORES is not None
            else "client and server not pinned (no taskset, or one core)"
        )
        made_by = f"{versions()}; {pinned}"  # now: the source may change while this runs
        print(f"{os.cpu_count()} cores; {made_by}{'; --quick' if args.quick else ''}")
        print(f"load average at the start: {os.getloadavg()[0]:.2f}")
        sections = []
        runs = (
            lambda: overhead(server, args.quick),
            lambda: amplification(server, args.quick),
            lambda: availability(server, args.quick),
            lambda: recovery(server, args.quick),
            lambda: deadline(args.quick),
            lambda: decorators(args.quick),
        )
        chosen = {int(n) for n in args.only.split(",")} if args.only else None
        for number, run in enumerate(runs, 1):
            if chosen is not None and number not in chosen:
                continue
            start = time.perf_counter()
            sections.append(run())
            sections[-1].seconds = time.perf_counter() - start
            sections[-1].show()
    finally:
        server.close()
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.0f} s in all; load average at the end: {os.getloadavg()[0]:.2f}")
    if args.write:
        write(args.write, sections, args.quick, seconds, made_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
