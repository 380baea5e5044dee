"""The lab's gRPC servers: HTTP/2 (python-hyper's sans-IO h2) answering gRPC's health
checking protocol, for the ``grpc://`` scenarios.

A real gRPC runtime (grpcio, its C core and threads) would be the heaviest thing the lab
starts, for four answers; the protocol's part a health check sees is small: one
``POST /grpc.health.v1.Health/Check``, one length-prefixed ``HealthCheckRequest``, and an
answer (headers, one ``HealthCheckResponse``, trailers) or a Trailers-Only answer with a
``grpc-status``.  The messages are :mod:`tether.probe._grpcwire`'s.  tether's own tests
hold the probe to a real grpcio server too (tests/probe/test_probe_grpc.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from tether.probe import _grpcwire as wire

if TYPE_CHECKING:
    from h2.connection import H2Connection

    from tether.lab._servers import Handler

CHECK_PATH: Final = "/grpc.health.v1.Health/Check"
HANGING: Final = "lab.Hanging"
"""The service whose health check is never answered."""
STATUSES: Final[Mapping[str, int]] = {"": 1, "lab.Serving": 1, "lab.Draining": 2}
"""What the lab's health service says, by service: SERVING, NOT_SERVING; any other
service is unknown to it (``NOT_FOUND``)."""


def health_server(statuses: Mapping[str, int] | None) -> Handler:
    """A connection's handler: a gRPC server whose health service holds ``statuses``
    (None: it has no health service, every call is ``UNIMPLEMENTED``)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from h2.config import H2Configuration
        from h2.connection import H2Connection
        from h2.events import DataReceived, RequestReceived, StreamEnded
        from h2.exceptions import H2Error

        conn = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        paths: dict[int, str] = {}
        bodies: dict[int, bytearray] = {}
        while data := await reader.read(65536):
            try:
                events = conn.receive_data(data)
            except H2Error:
                return
            for event in events:
                if isinstance(event, RequestReceived):
                    paths[event.stream_id] = next(
                        (str(v) for k, v in event.headers or () if k in (":path", b":path")), ""
                    )
                    bodies[event.stream_id] = bytearray()
                elif isinstance(event, DataReceived):
                    bodies.setdefault(event.stream_id, bytearray()).extend(event.data)
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, StreamEnded):
                    stream = event.stream_id
                    _answer(conn, stream, paths.get(stream, ""), bytes(bodies[stream]), statuses)
            writer.write(conn.data_to_send())
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    return handle


def _answer(
    conn: H2Connection, stream: int, path: str, body: bytes, statuses: Mapping[str, int] | None
) -> None:
    def only_status(code: int, message: str) -> None:
        conn.send_headers(
            stream,
            [
                (":status", "200"),
                ("content-type", "application/grpc"),
                ("grpc-status", str(code)),
                ("grpc-message", message),
            ],
            end_stream=True,
        )

    if statuses is None or path != CHECK_PATH:
        only_status(12, "Method not found!")
        return
    try:
        service = wire.decode_request(wire.unframe(body))
    except (wire.WireError, UnicodeDecodeError):
        only_status(13, "the request is not a HealthCheckRequest")
        return
    if service == HANGING:
        return  # never answered: the client's deadline ends it
    status = statuses.get(service)
    if status is None:
        only_status(5, "unknown service")
        return
    conn.send_headers(stream, [(":status", "200"), ("content-type", "application/grpc")])
    conn.send_data(stream, wire.frame(wire.encode_response(status)))
    conn.send_headers(stream, [("grpc-status", "0")], end_stream=True)
