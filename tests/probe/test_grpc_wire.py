"""The hand-written health messages against grpcio-health-checking's generated ones."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.probe import _grpcwire as wire

health_pb2 = pytest.importorskip("grpc_health.v1.health_pb2")

services = st.text(max_size=300)
statuses = st.integers(min_value=0, max_value=3)


@given(services)
def test_request_is_what_protobuf_writes(service: str) -> None:
    """The request's bytes are protobuf's own, and each side reads the other's."""
    ours = wire.encode_request(service)
    assert ours == health_pb2.HealthCheckRequest(service=service).SerializeToString()
    assert health_pb2.HealthCheckRequest.FromString(ours).service == service
    assert wire.decode_request(ours) == service


@given(statuses)
def test_response_is_what_protobuf_writes(status: int) -> None:
    """The response's bytes are protobuf's own, and each side reads the other's."""
    theirs = health_pb2.HealthCheckResponse(status=status).SerializeToString()
    assert wire.encode_response(status) == theirs
    assert wire.decode_response(theirs) == status
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
    assert wire.SERVING_STATUSES[status] == name


@given(statuses, st.binary(max_size=40))
def test_unknown_fields_are_skipped(status: int, blob: bytes) -> None:
    """A newer server's extra fields (here field 7, bytes, and field 9, a fixed64) are
    skipped as protobuf skips them."""
    extra = b"\x3a" + bytes([len(blob)]) + blob + b"\x49" + b"\x01" * 8
    data = extra + wire.encode_response(status)
    assert wire.decode_response(data) == status
    assert health_pb2.HealthCheckResponse.FromString(data).status == status


@given(st.binary(max_size=64))
def test_garbage_raises_wire_error_or_decodes(data: bytes) -> None:
    """Any bytes either decode or raise WireError: never another exception."""
    with contextlib.suppress(wire.WireError):
        wire.decode_response(data)


@given(st.binary(max_size=200))
def test_frame_round_trip(message: bytes) -> None:
    """gRPC's length prefix: one uncompressed message in, the same message out."""
    assert wire.unframe(wire.frame(message)) == message


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x00\x00\x00", "less than"),
        (b"\x01\x00\x00\x00\x00", "compressed"),
        (b"\x00\x00\x00\x00\x05\x08", "says 5 bytes and 1 came"),
    ],
)
def test_bad_frames_say_why(data: bytes, says: str) -> None:
    """A short, compressed or mis-sized frame is refused with the reason."""
    with pytest.raises(wire.WireError, match=says):
        wire.unframe(data)


def test_code_names() -> None:
    """gRPC's codes by number, and an undefined one shown as a number."""
    assert wire.code_name(12) == "UNIMPLEMENTED"
    assert wire.code_name(4) == "DEADLINE_EXCEEDED"
    assert wire.code_name(42) == "code 42"
