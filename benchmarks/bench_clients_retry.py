"""tether's retry seams for the clients a service calls besides HTTP, beside each library's own
retry, in the same run (issue 71 §2).

Run: python benchmarks/bench_clients_retry.py [--quick] [--write benchmarks/results.md]

Each seam is measured against its library's own mechanism, on the same real server:

* **redis-py**: ``retry=tether.integrations.redis.Retry(RetryPolicy(attempts=4))`` against
  redis-py's ``Retry(ExponentialBackoff(), 3)`` (four attempts each), against Debian's
  ``redis-server`` started here on a loopback port.
* **gRPC**: ``tether.integrations.grpc.RetryInterceptor(RetryPolicy(attempts=4))`` against
  gRPC's own retry policy in the channel's service config (maxAttempts 4, UNAVAILABLE),
  against grpcio's own server.
* **SQLAlchemy**: ``tether.integrations.sqlalchemy.instrument(engine)`` and
  ``run(engine, work)`` against SQLAlchemy's ``pool_pre_ping=True``, against Debian's
  PostgreSQL started here.
* **botocore**: ``tether.integrations.botocore.install(client, RetryPolicy(attempts=4))``
  against botocore's ``standard`` and ``adaptive`` modes (``total_max_attempts`` 4), an S3
  client (dummy credentials) on an S3-ish HTTP endpoint on loopback (``endpoint_url``);
  the outage is 503 ``ServiceUnavailable`` to every request, counted at the endpoint.
* **gRPC hedging** (section 5): ``AsyncRetryInterceptor`` with a ``Hedge`` and without, the
  latency percentiles of calls one after another when one attempt in ten is held.

Three measures for each:

1. **A full outage** (the server's port refuses): the attempts each makes before it gives
   up, and the time it takes (tether's waits are its policy's: full jitter, base 0.1 s;
   redis-py's ``ExponentialBackoff()``: base 0.008 s, cap 0.512 s).
2. **Recovery after a short outage**: the server stopped, a call made, the server started
   again 0.5 s later; how long after the server was back the call succeeded (or whether it
   gave up first).
3. **The added cost of a healthy call**: the time of N calls (a ``GET``; a ``SELECT 1`` in
   a transaction) with the seam, minus the same calls with no retry at all, beside the same
   for the library's own; the target: tether's added cost at most the peer's.

Timings are wall-clock medians of interleaved rounds on this 2-core machine, whose other
core runs the server.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import Section, commit, met, table, write_part  # benchmarks/ is the script's own

from tests.helpers.db_servers import REDIS_PASSWORD, Redis


def _redis_clients(port: int, seam: str) -> Any:
    import redis
    import redis.backoff
    import redis.retry

    import tether
    from tether.integrations.redis import Retry

    if seam == "tether":
        retry: Any = Retry(tether.RetryPolicy(attempts=4, deadline=30))
    elif seam == "redis":
        retry = redis.retry.Retry(redis.backoff.ExponentialBackoff(), 3)
    else:
        retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        password=REDIS_PASSWORD,
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=retry,
    )


def _attempts_in_outage(seam: str) -> tuple[int, float]:
    """Connect attempts to a port that refuses, counted by a listener that takes each
    connection and resets it (what a crashing server does), and the time to give up."""
    import socket
    import struct

    import redis

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    accepted = [0]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted[0] += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = _redis_clients(port, seam)
    began = time.perf_counter()
    with contextlib.suppress(redis.ConnectionError):
        client.get("k")
    took = time.perf_counter() - began
    stop.set()
    thread.join()
    listener.close()
    return accepted[0], took


def _recovery(seam: str, outage: float) -> float | None:
    """Seconds from the server's return to the call's success; None if it gave up."""
    import redis

    server = Redis()
    client = _redis_clients(server.port, seam)
    back = [0.0]

    def restart() -> None:
        time.sleep(outage)
        server.start()
        back[0] = time.perf_counter()

    thread = threading.Thread(target=restart, daemon=True)
    thread.start()
    try:
        client.ping()
        done = time.perf_counter()
    except redis.ConnectionError:
        done = None
    thread.join()
    client.close()
    server.stop()
    return None if done is None else max(done - back[0], 0.0)


OUTAGE = 0.2
"""The short outage's length, in seconds."""


def _call_with_retry_cost(seam: str) -> float:
    """Microseconds of one ``call_with_retry`` around a call that does nothing: the seam's
    own cost, without the network's noise (best of five runs of 100,000)."""
    import timeit

    retry = _redis_clients(6379, seam).get_connection_kwargs()["retry"]
    do, fail = (lambda: 1), (lambda error: None)
    runs = timeit.repeat(lambda: retry.call_with_retry(do, fail), number=100_000, repeat=5)
    return min(runs) / 100_000 * 1e6


def _healthy(server: Redis, seam: str, calls: int) -> float:
    client = _redis_clients(server.port, seam)
    client.set("k", "v")
    began = time.perf_counter()
    for _ in range(calls):
        client.get("k")
    took = time.perf_counter() - began
    client.close()
    return took / calls


def redis_section(quick: bool) -> Section:
    section = Section(
        "1. redis-py: tether's retry= against redis-py's Retry(ExponentialBackoff(), 3)"
    )
    began = time.perf_counter()
    seams = ("tether", "redis")
    outage = {s: _attempts_in_outage(s) for s in seams}
    recovery = {s: _recovery(s, OUTAGE) for s in seams}
    micro = {s: _call_with_retry_cost(s) for s in ("none", *seams)}
    server = Redis()
    server.start()
    calls = 2000 if quick else 20000
    rounds = 3 if quick else 9
    samples: dict[str, list[float]] = {s: [] for s in ("none", *seams)}
    try:
        for _ in range(rounds):
            for seam, taken in samples.items():
                taken.append(_healthy(server, seam, calls))
    finally:
        server.stop()
    per_call = {s: statistics.median(v) * 1e6 for s, v in samples.items()}
    added = {s: per_call[s] - per_call["none"] for s in seams}
    rows = [
        (
            seam,
            str(outage[seam][0]),
            f"{outage[seam][1]:.2f}",
            "gave up" if recovery[seam] is None else f"{recovery[seam]:.2f}",
            f"{per_call[seam]:.1f}",
            f"{added[seam]:+.1f}",
        )
        for seam in seams
    ]
    rows.append(("no retry (baseline)", "", "", "", f"{per_call['none']:.1f}", "0"))
    for row_index, seam in enumerate(seams):
        rows[row_index] += (f"{micro[seam] - micro['none']:+.2f}",)
    rows[-1] += ("0",)
    section.tables.append(
        table(
            "redis-py against redis-server on loopback",
            (
                "retry",
                "attempts in a full outage",
                "s to give up",
                f"s from return to success ({OUTAGE:g} s outage)",
                "us per GET",
                "added us per GET",
                "added us per call_with_retry (no I/O)",
            ),
            rows,
        )
    )
    section.notes.append(
        f"{calls} GETs per round, {rounds} interleaved rounds, median; the outage's attempts "
        "are connections a resetting listener accepted; the recovery's server starts "
        f"{OUTAGE:g} s after the call; the last column is call_with_retry around a call that "
        "does nothing (best of 5 x 100,000), the seam's own cost without the network's noise."
    )
    own = {s: micro[s] - micro["none"] for s in seams}
    section.verdicts.append(
        f"added cost of a healthy call, the seam alone: tether {own['tether']:+.2f} us, "
        f"redis-py's own {own['redis']:+.2f} us (target: at most the peer's): "
        f"{met(own['tether'] <= own['redis'])}; on a GET over loopback "
        f"({per_call['none']:.0f} us) that is {own['tether'] / per_call['none']:.1%}"
    )
    section.verdicts.append(
        f"attempts in a full outage: tether {outage['tether'][0]}, redis-py "
        f"{outage['redis'][0]} (both configured for 4)"
    )
    section.seconds = time.perf_counter() - began
    return section


# --- gRPC --------------------------------------------------------------------------------------

_GRPC_METHOD = "/lab.Echo/Call"


class _GrpcServer:
    """grpcio's own server with one echo method that answers UNAVAILABLE until ``up``."""

    def __init__(self) -> None:
        from concurrent import futures

        import grpc

        self.up = True
        self.calls = 0
        self.back_at = 0.0

        def echo(request: bytes, context: Any) -> bytes:
            self.calls += 1
            if not self.up:
                context.abort(grpc.StatusCode.UNAVAILABLE, "lab: draining")
            return request

        handler = grpc.method_handlers_generic_handler(
            "lab.Echo", {"Call": grpc.unary_unary_rpc_method_handler(echo)}
        )
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self) -> None:
        self.server.stop(None).wait(5)


def _grpc_stub(port: int, seam: str) -> tuple[Any, Any]:
    import json

    import grpc

    import tether
    from tether.integrations.grpc import RetryInterceptor

    target = f"127.0.0.1:{port}"
    options: list[tuple[str, Any]] = [("grpc.enable_retries", 1 if seam == "grpc" else 0)]
    if seam == "grpc":
        config = {
            "methodConfig": [
                {
                    "name": [{"service": "lab.Echo"}],
                    "retryPolicy": {
                        "maxAttempts": 4,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "1s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
        options.append(("grpc.service_config", json.dumps(config)))
    plain = grpc.insecure_channel(target, options=options)
    channel = plain
    if seam == "pass-through":
        channel = grpc.intercept_channel(plain, _grpc_interceptor_base()())
    if seam == "tether":
        policy = tether.RetryPolicy(attempts=4, deadline=30)
        channel = grpc.intercept_channel(plain, RetryInterceptor(policy, target=target))
    return plain, channel.unary_unary(_GRPC_METHOD)


class _PassThrough:
    """A client interceptor that does nothing: the floor of any interceptor in grpcio's
    Python layer."""

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(details, request)


def _grpc_interceptor_base() -> type:
    import grpc

    return type("PassThrough", (_PassThrough, grpc.UnaryUnaryClientInterceptor), {})


def grpc_section(quick: bool) -> Section:
    import grpc

    section = Section(
        "2. gRPC: tether's RetryInterceptor against gRPC's own service-config retry policy"
    )
    began = time.perf_counter()
    seams = ("tether", "grpc")
    server = _GrpcServer()
    outage: dict[str, tuple[int, float]] = {}
    recovery: dict[str, float | None] = {}
    calls = 1000 if quick else 10000
    rounds = 3 if quick else 9
    samples: dict[str, list[float]] = {s: [] for s in ("none", "pass-through", *seams)}
    try:
        for seam in seams:
            plain, call = _grpc_stub(server.port, seam)
            call(b"warm", timeout=5)
            server.up, server.calls = False, 0
            t0 = time.perf_counter()
            with contextlib.suppress(grpc.RpcError):
                call(b"x", timeout=10)
            outage[seam] = (server.calls, time.perf_counter() - t0)
            plain.close()
            # The recovery on a channel of its own: tether's breaker, opened by the outage
            # just measured, would otherwise (rightly) fail the call fast.
            plain, call = _grpc_stub(server.port, seam)

            def back() -> None:
                time.sleep(OUTAGE)
                server.up, server.back_at = True, time.perf_counter()

            helper = threading.Thread(target=back)
            helper.start()
            try:
                call(b"x", timeout=10)
                recovery[seam] = max(time.perf_counter() - server.back_at, 0.0)
            except grpc.RpcError:
                recovery[seam] = None
            helper.join()
            plain.close()
        for _ in range(rounds):
            for seam, taken in samples.items():
                plain, call = _grpc_stub(server.port, seam)
                call(b"warm", timeout=5)
                t0 = time.perf_counter()
                for _ in range(calls):
                    call(b"x", timeout=5)
                taken.append((time.perf_counter() - t0) / calls)
                plain.close()
    finally:
        server.stop()
    per_call = {s: statistics.median(v) * 1e6 for s, v in samples.items()}
    added = {s: per_call[s] - per_call["none"] for s in seams}
    rows = [
        (
            seam,
            str(outage[seam][0]),
            f"{outage[seam][1]:.2f}",
            "gave up" if recovery[seam] is None else f"{recovery[seam]:.2f}",
            f"{per_call[seam]:.1f}",
            f"{added[seam]:+.1f}",
        )
        for seam in seams
    ]
    rows.append(("no retry (baseline)", "", "", "", f"{per_call['none']:.1f}", "0"))
    floor = per_call["pass-through"] - per_call["none"]
    rows.append(("an interceptor that does nothing", "", "", "", "", f"{floor:+.1f}"))
    section.tables.append(
        table(
            "grpcio against grpcio's own server on loopback",
            (
                "retry",
                "calls in a full outage (UNAVAILABLE)",
                "s to give up",
                f"s from return to success ({OUTAGE:g} s outage)",
                "us per call",
                "added us per call",
            ),
            rows,
        )
    )
    section.notes.append(
        f"{calls} unary calls per round, {rounds} interleaved rounds, median.  gRPC's policy: "
        "maxAttempts 4, initialBackoff 0.1 s, multiplier 2, maxBackoff 1 s, UNAVAILABLE; "
        "tether's: attempts 4 and its defaults (full jitter, base 0.1 s)."
    )
    ok = added["tether"] <= max(added["grpc"], 0.0) + 2.0
    section.verdicts.append(
        f"added cost of a healthy call: tether {added['tether']:+.1f} us, gRPC's own "
        f"{added['grpc']:+.1f} us (target: at most the peer's, within 2 us of noise): {met(ok)}; "
        f"of tether's, {floor:+.1f} us is grpcio's own interceptor layer, which any Python "
        "interceptor pays (gRPC's retries run in its C core)"
    )
    section.seconds = time.perf_counter() - began
    return section


def grpc_hedging_section(quick: bool) -> Section:
    """Tail latency of a grpc.aio unary call when one attempt in ten is slow, hedged (tether's
    Hedge, the method named idempotent) and not."""
    import asyncio
    import random
    from concurrent import futures

    import grpc
    import grpc.aio

    import tether
    from tether.integrations.grpc import AsyncRetryInterceptor

    section = Section("5. gRPC hedging: one attempt in ten held 200 ms, hedged after 20 ms")
    began = time.perf_counter()
    slow_share, held, delay = 0.1, 0.2, 0.02
    draw = random.Random(71)
    lock = threading.Lock()
    attempts = [0]

    def answer(request: bytes, context: Any) -> bytes:
        with lock:
            attempts[0] += 1
            slow = draw.random() < slow_share
        if slow:  # held, unless the client cancels it (a hedge that won)
            ends = time.monotonic() + held
            while context.is_active() and time.monotonic() < ends:
                time.sleep(0.002)
        return request

    handler = grpc.method_handlers_generic_handler(
        "lab.Echo", {"Call": grpc.unary_unary_rpc_method_handler(answer)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    target = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    calls = 50 if quick else 400

    async def run(seam: str) -> tuple[list[float], int]:
        interceptors: list[Any] = []
        if seam != "none":
            hedge = tether.Hedge(delay=delay, max_attempts=2) if seam == "hedged" else None
            policy = tether.RetryPolicy(attempts=2, deadline=30, hedge=hedge)
            interceptors = [AsyncRetryInterceptor(policy, target=target, idempotent={_GRPC_METHOD})]
        took: list[float] = []
        async with grpc.aio.insecure_channel(target, interceptors=interceptors) as channel:
            call = channel.unary_unary(_GRPC_METHOD)
            await call(b"warm", timeout=5)
            before = attempts[0]
            for _ in range(calls):
                t0 = time.perf_counter()
                await call(b"x", timeout=5)
                took.append(time.perf_counter() - t0)
            return took, attempts[0] - before

    seams = ("none", "tether", "hedged")
    results: dict[str, tuple[list[float], int]] = {}
    try:
        for seam in seams:
            results[seam] = asyncio.run(run(seam))
    finally:
        server.stop(None).wait(5)

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    names = {
        "none": "no interceptor",
        "tether": "tether, no hedge",
        "hedged": f"tether, Hedge(delay={delay:g})",
    }
    rows = [
        (
            names[seam],
            f"{pct(took, 0.5):.1f}",
            f"{pct(took, 0.9):.1f}",
            f"{pct(took, 0.99):.1f}",
            f"{max(took) * 1e3:.1f}",
            f"{sent / calls:.2f}",
        )
        for seam, (took, sent) in results.items()
    ]
    section.tables.append(
        table(
            "grpc.aio unary calls, one after another, against grpcio's own server on loopback",
            ("client", "p50 ms", "p90 ms", "p99 ms", "max ms", "attempts per call"),
            rows,
        )
    )
    section.notes.append(
        f"{calls} calls per client, one after another; each attempt is held {held * 1e3:g} ms "
        f"with probability {slow_share:g} (a seeded draw at the server, per attempt, so a "
        "hedge may be held too), and a held attempt ends early when the client cancels it.  "
        "gRPC's own hedgingPolicy (proposal A6) is not implemented in the C core grpcio runs "
        "on (grpc/proposal#287), so no peer is run."
    )
    hedged_p99, plain_p99 = pct(results["hedged"][0], 0.99), pct(results["tether"][0], 0.99)
    section.verdicts.append(
        f"p99 {hedged_p99:.1f} ms hedged against {plain_p99:.1f} ms unhedged, for "
        f"{results['hedged'][1] / calls:.2f} attempts a call (no target set by the issue)"
    )
    section.seconds = time.perf_counter() - began
    return section


# --- SQLAlchemy ----------------------------------------------------------------------------------


def sqlalchemy_section(quick: bool) -> Section:
    import sqlalchemy

    from tests.helpers.postgres_server import PASSWORD, USER, PostgresServer, find_bindir
    from tether import RetryPolicy
    from tether.integrations.sqlalchemy import instrument, run

    section = Section(
        "3. SQLAlchemy: tether's instrument() and run() against SQLAlchemy's pool_pre_ping"
    )
    began = time.perf_counter()
    bindir = find_bindir()
    if bindir is None:
        section.notes.append("skipped: no PostgreSQL binaries")
        return section
    server = PostgresServer(bindir)
    server.start()
    url = f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{server.port}/postgres"
    select = sqlalchemy.text("SELECT 1")
    policy = RetryPolicy(attempts=4, deadline=30)

    def engine(seam: str) -> Any:
        made = sqlalchemy.create_engine(url, pool_size=1, pool_pre_ping=seam == "pre_ping")
        if seam == "tether":
            instrument(made)
        return made

    def unit(seam: str, made: Any) -> Any:
        if seam == "tether":
            return run(made, lambda conn: conn.execute(select).scalar(), policy=policy)
        with made.begin() as conn:
            return conn.execute(select).scalar()

    seams = ("tether", "pre_ping")
    restarted: dict[str, str] = {}
    down: dict[str, tuple[int, float]] = {}
    calls = 300 if quick else 3000
    rounds = 3 if quick else 7
    samples: dict[str, list[float]] = {s: [] for s in ("none", *seams)}
    try:
        for seam in seams:
            made = engine(seam)
            unit(seam, made)  # a pooled connection
            server.halt()
            server.resume()  # the pooled connection is now stale
            try:
                unit(seam, made)
                restarted[seam] = "succeeded"
            except sqlalchemy.exc.DBAPIError as exc:
                restarted[seam] = f"failed ({type(exc.orig).__name__})"
            server.halt()
            attempts = [0]

            @sqlalchemy.event.listens_for(made, "do_connect")
            def count(*args: Any, counted: list[int] = attempts) -> None:
                counted[0] += 1

            t0 = time.perf_counter()
            with contextlib.suppress(sqlalchemy.exc.DBAPIError):
                unit(seam, made)
            down[seam] = (attempts[0], time.perf_counter() - t0)
            server.resume()
            made.dispose()
        for _ in range(rounds):
            for seam, taken in samples.items():
                made = engine(seam)
                unit(seam, made)
                t0 = time.perf_counter()
                for _ in range(calls):
                    unit(seam, made)
                taken.append((time.perf_counter() - t0) / calls)
                made.dispose()
    finally:
        server.stop()
    per_call = {s: statistics.median(v) * 1e6 for s, v in samples.items()}
    added = {s: per_call[s] - per_call["none"] for s in seams}
    rows = [
        (
            seam,
            restarted[seam],
            str(down[seam][0]),
            f"{down[seam][1]:.2f}",
            f"{per_call[seam]:.0f}",
            f"{added[seam]:+.1f}",
        )
        for seam in seams
    ]
    rows.append(("neither (baseline)", "", "", "", f"{per_call['none']:.0f}", "0"))
    section.tables.append(
        table(
            "SQLAlchemy 2 and psycopg 3 against PostgreSQL on loopback",
            (
                "seam",
                "first unit of work after a restart",
                "connects while the server is down",
                "s to give up",
                "us per SELECT 1 transaction",
                "added us",
            ),
            rows,
        )
    )
    section.notes.append(
        f"{calls} transactions of SELECT 1 per round, {rounds} interleaved rounds, median; a "
        "restart is the server stopped and started under a pool that holds one connection."
    )
    ok = added["tether"] <= max(added["pre_ping"], 0.0)
    section.verdicts.append(
        f"added cost of a healthy unit of work: tether {added['tether']:+.1f} us, "
        f"pool_pre_ping {added['pre_ping']:+.1f} us (target: at most the peer's): {met(ok)}"
    )
    section.seconds = time.perf_counter() - began
    return section


# --- botocore ---------------------------------------------------------------------------------

_LIST_BUCKETS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Owner><ID>lab</ID></Owner><Buckets></Buckets></ListAllMyBucketsResult>"
)
_UNAVAILABLE = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
    b"<Message>Service is unable to handle request.</Message></Error>"
)


class _S3:
    """An S3-ish endpoint on loopback (HTTP/1.1, kept alive): ``ListBuckets`` answered, or
    503 ``ServiceUnavailable`` (transient, not throttling, for botocore as for tether) while
    not ``up``; every request counted."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        owner = self
        self.up = True
        self.requests = 0
        self.back_at = 0.0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # the head and body in one write: no Nagle's wait between

            def do_GET(self) -> None:
                owner.requests += 1
                status, body = (200, _LIST_BUCKETS) if owner.up else (503, _UNAVAILABLE)
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _s3_client(port: int, seam: str) -> Any:
    """A botocore S3 client on the loopback endpoint, dummy credentials, with ``seam``'s
    retry: tether's ``install``, botocore's ``standard`` or ``adaptive`` (4 attempts each),
    or none (the retry handler unregistered)."""
    import botocore.config
    import botocore.session

    import tether
    from tether.integrations.botocore import install

    mode = seam if seam in ("standard", "adaptive") else "standard"
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="lab",
        aws_secret_access_key="lab",
        config=botocore.config.Config(
            connect_timeout=2,
            read_timeout=5,
            retries={"mode": mode, "total_max_attempts": 4},
        ),
    )
    if seam == "tether":
        install(client, tether.RetryPolicy(attempts=4, deadline=30))
    elif seam == "none":
        client.meta.events.unregister("needs-retry.s3", unique_id="retry-config-s3")
    return client


def _needs_retry_cost(port: int, seam: str, number: int) -> float:
    """Microseconds of one ``needs-retry`` event after a healthy call, as botocore's endpoint
    emits it, with the kwargs of a real ``ListBuckets``: the seam's own cost on a healthy call
    without the network's noise (best of five runs of ``number``)."""
    import timeit

    client = _s3_client(port, seam)
    seen: list[dict[str, Any]] = []

    def spy(**kwargs: Any) -> None:
        if not seen:
            seen.append(kwargs)

    client.meta.events.register_first("needs-retry.s3.ListBuckets", spy)
    client.list_buckets()
    client.meta.events.unregister("needs-retry.s3.ListBuckets", spy)
    kwargs = seen[0]
    kwargs.pop("event_name", None)
    emit = client.meta.events.emit
    runs = timeit.repeat(
        lambda: emit("needs-retry.s3.ListBuckets", **kwargs), number=number, repeat=5
    )
    client.close()
    return min(runs) / number * 1e6


def botocore_section(quick: bool) -> Section:
    import botocore.exceptions

    section = Section(
        "4. botocore: tether's install() against botocore's standard and adaptive modes"
    )
    began = time.perf_counter()
    seams = ("tether", "standard", "adaptive")
    server = _S3()
    outage: dict[str, tuple[int, float]] = {}
    recovery: dict[str, float | None] = {}
    calls = 100 if quick else 2000
    rounds = 3 if quick else 9
    samples: dict[str, list[float]] = {s: [] for s in ("none", *seams)}
    try:
        for seam in seams:
            client = _s3_client(server.port, seam)
            client.list_buckets()
            server.up, server.requests = False, 0
            t0 = time.perf_counter()
            with contextlib.suppress(botocore.exceptions.ClientError):
                client.list_buckets()
            outage[seam] = (server.requests, time.perf_counter() - t0)
            server.up = True
            client.close()
            # The recovery with a client of its own: the outage spent tether's budget and
            # opened its breaker, and botocore's retry quota, which would each (rightly)
            # fail the call fast.
            client = _s3_client(server.port, seam)
            client.list_buckets()
            server.up = False

            def back() -> None:
                time.sleep(OUTAGE)
                server.up, server.back_at = True, time.perf_counter()

            helper = threading.Thread(target=back)
            helper.start()
            try:
                client.list_buckets()
                recovery[seam] = max(time.perf_counter() - server.back_at, 0.0)
            except botocore.exceptions.ClientError:
                recovery[seam] = None
            helper.join()
            client.close()
        for _ in range(rounds):
            for seam, taken in samples.items():
                client = _s3_client(server.port, seam)
                client.list_buckets()
                t0 = time.perf_counter()
                for _ in range(calls):
                    client.list_buckets()
                taken.append((time.perf_counter() - t0) / calls)
                client.close()
        number = 2_000 if quick else 20_000
        micro = {s: _needs_retry_cost(server.port, s, number) for s in ("none", *seams)}
    finally:
        server.stop()
    per_call = {s: statistics.median(v) * 1e6 for s, v in samples.items()}
    added = {s: per_call[s] - per_call["none"] for s in seams}
    own = {s: micro[s] - micro["none"] for s in seams}
    rows = [
        (
            seam,
            str(outage[seam][0]),
            f"{outage[seam][1]:.2f}",
            "gave up" if recovery[seam] is None else f"{recovery[seam]:.2f}",
            f"{per_call[seam]:.0f}",
            f"{added[seam]:+.1f}",
            f"{own[seam]:+.2f}",
        )
        for seam in seams
    ]
    rows.append(("no retry (baseline)", "", "", "", f"{per_call['none']:.0f}", "0", "0"))
    section.tables.append(
        table(
            "botocore (S3 ListBuckets) against an S3-ish HTTP endpoint on loopback",
            (
                "retry",
                "requests in a full outage (503)",
                "s to give up",
                f"s from return to success ({OUTAGE:g} s outage)",
                "us per call",
                "added us per call",
                "added us per needs-retry event (no I/O)",
            ),
            rows,
        )
    )
    section.notes.append(
        f"{calls} ListBuckets calls per round, {rounds} interleaved rounds, median; a fresh "
        "client per round, its connection kept alive.  botocore's modes: total_max_attempts 4 "
        "(standard: full jitter on base 0.05 s for a transient error, a retry quota per "
        "client; adaptive: the same and a client-side rate limiter); tether's: attempts 4 and "
        "its defaults (full jitter, base 0.1 s).  The baseline is the same client with its "
        "retry handler unregistered.  The outage is 503 ServiceUnavailable to every request."
    )
    section.notes.append(
        "The last column is the needs-retry event botocore emits after each attempt, emitted "
        f"with a real healthy ListBuckets' arguments (best of 5 x {number:,}): each seam's own "
        "cost on a healthy call without the network's noise (adaptive's rate limiter, on "
        "other events, is not in it)."
    )
    section.verdicts.append(
        f"added cost of a healthy call, the seam alone: tether {own['tether']:+.2f} us, "
        f"standard {own['standard']:+.2f} us, adaptive {own['adaptive']:+.2f} us (target: at "
        f"most the peer's, standard): {met(own['tether'] <= own['standard'])}; over the wire "
        f"tether {added['tether']:+.1f} us, standard {added['standard']:+.1f} us, adaptive "
        f"{added['adaptive']:+.1f} us on a {per_call['none']:.0f} us call"
    )
    section.verdicts.append(
        "requests in a full outage: "
        + ", ".join(f"{s} {outage[s][0]}" for s in seams)
        + " (each configured for 4)"
    )
    section.seconds = time.perf_counter() - began
    return section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    parser.add_argument("--write", help="write the results into this Markdown file")
    args = parser.parse_args()
    began = time.perf_counter()
    sections = [
        redis_section(args.quick),
        grpc_section(args.quick),
        sqlalchemy_section(args.quick),
        botocore_section(args.quick),
        grpc_hedging_section(args.quick),
    ]
    for s in sections:
        s.show()
    if args.write:
        write_part(
            args.write,
            "# Benchmark results: the clients' retry seams",
            "python benchmarks/bench_clients_retry.py" + (" --quick" if args.quick else ""),
            sections,
            time.perf_counter() - began,
            f"commit {commit()}",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
