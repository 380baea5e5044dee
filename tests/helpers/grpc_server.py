"""Real gRPC servers on loopback for the ``grpc://`` checks: grpcio with the standard
health servicer (grpcio-health-checking), plaintext or TLS with a trustme certificate,
and the peers grpcio cannot be told to be (an HTTP/1.1 server on the port)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

grpc = pytest.importorskip("grpc")
health = pytest.importorskip("grpc_health.v1.health")
health_pb2 = pytest.importorskip("grpc_health.v1.health_pb2")
health_pb2_grpc = pytest.importorskip("grpc_health.v1.health_pb2_grpc")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class HangingHealth(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    """A health servicer whose Check waits on ``release`` (set by the test, or at the end
    of the block): the call outlives any check's deadline."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def Check(self, request: Any, context: Any) -> Any:
        self.release.wait(30)
        return health_pb2.HealthCheckResponse(status=SERVING)


@dataclass
class GrpcPeer:
    """A running grpcio server: its port, its health servicer (None: not registered)."""

    port: int
    servicer: Any = None
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def grpc_server(
    statuses: dict[str, int] | None = None,
    *,
    health_service: bool = True,
    hanging: bool = False,
    tls: Any = None,
) -> Iterator[GrpcPeer]:
    """A grpcio server on 127.0.0.1 with the health servicer holding ``statuses``
    (service name → status; "" is the server's), none when ``health_service`` is false,
    a hanging one with ``hanging``; over TLS with ``tls`` (a trustme LeafCert)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    peer = GrpcPeer(0)
    if hanging:
        health_pb2_grpc.add_HealthServicer_to_server(HangingHealth(peer.release), server)
    elif health_service:
        peer.servicer = health.HealthServicer()
        for name, status in (statuses or {}).items():
            peer.servicer.set(name, status)
        health_pb2_grpc.add_HealthServicer_to_server(peer.servicer, server)
    if tls is None:
        peer.port = server.add_insecure_port("127.0.0.1:0")
    else:
        key = tls.private_key_pem.bytes()
        chain = b"".join(blob.bytes() for blob in tls.cert_chain_pems)
        peer.port = server.add_secure_port(
            "127.0.0.1:0", grpc.ssl_server_credentials([(key, chain)])
        )
    server.start()
    try:
        yield peer
    finally:
        peer.release.set()
        server.stop(None).wait(5)


@contextmanager
def http11_server() -> Iterator[int]:
    """The port of an aiohttp web server on 127.0.0.1 (HTTP/1.1 only: it answers the
    HTTP/2 preface ``PRI * HTTP/2.0`` with ``400 Bad Request``), until the block ends."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="a web page")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(runner.addresses[0][1])

    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@contextmanager
def silent_server() -> Iterator[int]:
    """The port of a listener that accepts and never says a word (the kernel's backlog
    takes the connection): a port whose service hangs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])
