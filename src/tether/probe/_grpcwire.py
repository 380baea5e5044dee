"""The two messages of gRPC's health checking protocol, by hand, and gRPC's framing.

``grpc.health.v1.HealthCheckRequest`` has one field (``string service = 1``) and
``HealthCheckResponse`` one (``ServingStatus status = 1``, an enum).  A protobuf runtime
(and generated code) for two one-field messages would be most of what a ``grpc://``
check loads: the wire form of each is a tag byte, a varint and, for the string, its
bytes (protobuf's encoding guide, "Message Structure").  The decoder skips fields it
does not know, as protobuf does, so a newer server's extra fields do no harm.

Each message travels in gRPC's length-prefixed frame: a compressed flag byte, a 4-byte
big-endian length, the message (gRPC over HTTP/2, "Length-Prefixed-Message").
tests/probe/test_grpc_wire.py holds the codec to grpcio-health-checking's ``health_pb2``.
"""

from __future__ import annotations

import struct
from typing import Final

SERVING_STATUSES: Final = ("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")
"""``HealthCheckResponse.ServingStatus`` by number."""

CODES: Final = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)
"""gRPC's status codes by number (grpc/doc/statuscodes.md)."""

MAX_VARINT: Final = 10


class WireError(ValueError):
    """The bytes are not the message they should be; the text says how."""


def code_name(code: int) -> str:
    """``UNIMPLEMENTED`` for 12; ``code 42`` for a number gRPC does not define."""
    return CODES[code] if 0 <= code < len(CODES) else f"code {code}"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    """The varint at ``at`` and where the next field begins."""
    value = shift = 0
    for i in range(at, min(len(data), at + MAX_VARINT)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    raise WireError("a varint runs past the end of the message")


def encode_request(service: str) -> bytes:
    """``HealthCheckRequest{service}``: nothing at all for the empty name (proto3 leaves
    out a field at its default)."""
    raw = service.encode()
    return b"\x0a" + _varint(len(raw)) + raw if raw else b""


def decode_request(data: bytes) -> str:
    """The service of a ``HealthCheckRequest`` (for the tests and the lab)."""
    fields = _fields(data)
    value = fields.get(1, b"")
    if not isinstance(value, bytes):
        raise WireError("the service field is not a string")
    return value.decode()


def encode_response(status: int) -> bytes:
    """``HealthCheckResponse{status}`` (for the tests and the lab)."""
    return b"\x08" + _varint(status) if status else b""


def decode_response(data: bytes) -> int:
    """The serving status number of a ``HealthCheckResponse`` (0, UNKNOWN, when absent)."""
    value = _fields(data).get(1, 0)
    if not isinstance(value, int):
        raise WireError("the status field is not a number")
    return value


def _fields(data: bytes) -> dict[int, int | bytes]:
    """Each field's last value, by number: varints as int, length-delimited as bytes;
    64- and 32-bit fields skipped."""
    out: dict[int, int | bytes] = {}
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("a field numbered 0")
        if wire == 0:
            out[number], at = _read_varint(data, at)
        elif wire == 2:
            size, at = _read_varint(data, at)
            if at + size > len(data):
                raise WireError("a field runs past the end of the message")
            out[number], at = data[at : at + size], at + size
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
            if at > len(data):
                raise WireError("a field runs past the end of the message")
        else:
            raise WireError(f"wire type {wire} is not one this message can hold")
    return out


def frame(message: bytes) -> bytes:
    """One uncompressed length-prefixed message."""
    return struct.pack(">?I", False, len(message)) + message


def unframe(data: bytes) -> bytes:
    """The one message of a response's DATA: WireError unless it is exactly one
    uncompressed message (the check offers no compression)."""
    if len(data) < 5:
        raise WireError(f"{len(data)} bytes of DATA, less than a message's 5-byte prefix")
    compressed, size = struct.unpack(">BI", data[:5])
    if compressed:
        raise WireError("the message is compressed, though the check offered no compression")
    if len(data) != 5 + size:
        raise WireError(f"the message says {size} bytes and {len(data) - 5} came")
    return data[5:]
