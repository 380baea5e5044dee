"""The gRPC probe's HTTP/2 call (``probe/_h2call.py``) held to h2, whose rules it keeps.

The reader, fed a server's bytes cut at any points, and an h2 client connection that sent
the same call, fed the same bytes a frame at a time, must find the same answer (headers,
trailers, data, the end, a reset, a GOAWAY, the PING and SETTINGS frames counted), or
both refuse the bytes.
The servers are drawn by hypothesis: SETTINGS (valid and not), PING, WINDOW_UPDATE (past
the largest window too), PRIORITY, frames of unknown types, informational header blocks,
the response's headers with and without a ``content-length`` (right, wrong, broken),
DATA with padding, trailers, a reset or a GOAWAY in place of the end, header blocks cut
into CONTINUATION frames, one shared HPACK table, and the faults h2 refuses (DATA before
the headers, trailers that do not end the stream, a frame of another stream, another
frame inside a header block).  Each server stops at the frame that ends the call: what
h2 would make of frames after it depended on where the reads were cut.  The request is
held to h2 as a server reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("h2")

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    PingReceived,
    RemoteSettingsChanged,
    RequestReceived,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
)
from h2.exceptions import H2Error
from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from tether.probe import _h2call

MESSAGE = b"\x00\x00\x00\x00\x07\n\x05shop1"
HEADERS = (
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/grpc.health.v1.Health/Check"),
    (":authority", "127.0.0.1:50051"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
    ("grpc-timeout", "10000m"),
    ("user-agent", "tether-probe"),
)


@dataclass(frozen=True)
class Found:
    headers: dict[str, str] | None
    trailers: dict[str, str]
    data: bytes
    ended: bool
    reset: int | None
    goaway: int | None
    control: int


def ours(chunks: list[bytes]) -> Found | str:
    answer = _h2call.Answer(sent=len(MESSAGE))
    try:
        for chunk in chunks:
            if answer.take(chunk):
                break
    except _h2call.H2Error:
        return "refused"
    return Found(
        answer.headers,
        answer.trailers,
        bytes(answer.data),
        answer.ended,
        answer.reset,
        answer.goaway,
        answer.control,
    )


def h2s(chunks: list[bytes]) -> Found | str:
    """What the probe read through h2 before this module: the events of the call's
    stream, in h2's client connection that sent the same request, up to the first that
    ends the call."""
    conn = H2Connection(
        H2Configuration(
            client_side=True,
            header_encoding="utf-8",
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
        )
    )
    conn.initiate_connection()
    conn.send_headers(1, list(HEADERS))
    conn.send_data(1, MESSAGE, end_stream=True)
    conn.data_to_send()
    got: dict[str, Any] = {"headers": None, "trailers": {}, "data": b"", "ended": False}
    got.update(reset=None, goaway=None, control=0)
    try:
        for chunk in chunks:
            for event in conn.receive_data(chunk):
                if isinstance(event, PingReceived | RemoteSettingsChanged):
                    got["control"] += 1
                if isinstance(event, ResponseReceived):
                    got["headers"] = {str(n).lower(): str(v) for n, v in event.headers}
                elif isinstance(event, TrailersReceived):
                    got["trailers"] = {str(n).lower(): str(v) for n, v in event.headers}
                elif isinstance(event, DataReceived):
                    got["data"] += event.data
                elif isinstance(event, StreamEnded):
                    got["ended"] = True
                elif isinstance(event, StreamReset):
                    got["reset"] = int(event.error_code or 0)
                elif isinstance(event, ConnectionTerminated):
                    got["goaway"] = int(event.error_code or 0)
                if got["ended"] or got["reset"] is not None or got["goaway"] is not None:
                    return Found(**got)  # the probe stopped at the first of these
    except H2Error:
        return "refused"
    return Found(**got)


# -- servers ---------------------------------------------------------------------------


def _block(encoder: Encoder, headers: list[tuple[str, str]], huffman: bool) -> bytes:
    return bytes(encoder.encode(headers, huffman=huffman))


@st.composite
def servers(draw: st.DrawFn) -> bytes:
    """A server's bytes for the call, up to the frame that ends it."""
    encoder = Encoder()
    out: list[bytes] = []

    def noise() -> None:
        for _ in range(draw(st.integers(0, 2))):
            kind = draw(st.sampled_from(["settings", "ack", "ping", "pong", "window", "prio", "x"]))
            if kind == "settings":
                values = draw(
                    st.dictionaries(
                        st.sampled_from([1, 2, 3, 4, 5, 6, 8, 0x99]),
                        st.one_of(
                            st.sampled_from([0, 1, 100, 16384, 65535, 2**24 - 1]),
                            st.integers(0, 2**32 - 1),
                        ),
                        max_size=3,
                    )
                )
                out.append(SettingsFrame(0, settings=values).serialize())
            elif kind == "ack":
                out.append(SettingsFrame(0, flags=["ACK"]).serialize())
            elif kind in ("ping", "pong"):
                flags = ["ACK"] if kind == "pong" else []
                out.append(PingFrame(0, opaque_data=b"12345678", flags=flags).serialize())
            elif kind == "window":
                stream = draw(st.sampled_from([0, 0, 1, 1, 3]))
                size = draw(st.one_of(st.integers(1, 70000), st.just(2**31 - 1)))
                out.append(WindowUpdateFrame(stream, window_increment=size).serialize())
            elif kind == "prio":
                stream = draw(st.sampled_from([1, 3, 5]))
                on = draw(st.sampled_from([0, 1, 3, 5]))
                out.append(PriorityFrame(stream, depends_on=on, stream_weight=15).serialize())
            else:
                body = draw(st.binary(max_size=8))
                out.append(len(body).to_bytes(3, "big") + b"\x42\x00\x00\x00\x00\x00" + body)

    def block(headers: list[tuple[str, str]], end: bool, stream: int = 1) -> None:
        data = _block(encoder, headers, draw(st.booleans()))
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=2))))
        parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        parts = [p for p in parts if p] or [b""]
        head = HeadersFrame(stream, data=parts[0], flags=["END_STREAM"] if end else [])
        frames: list[Any] = [head]
        frames += [ContinuationFrame(stream, data=p) for p in parts[1:]]
        frames[-1].flags.add("END_HEADERS")
        for i, f in enumerate(frames):
            out.append(f.serialize())
            if i < len(frames) - 1 and draw(st.integers(0, 19)) == 0:
                out.append(PingFrame(0, opaque_data=b"87654321").serialize())  # refused

    def ending() -> bool:
        """A reset or GOAWAY in place of what comes next, now and then."""
        which = draw(st.integers(0, 24))
        if which == 0:
            code = draw(st.sampled_from([0, 2, 7, 8]))
            out.append(RstStreamFrame(1, error_code=code).serialize())
            return True
        if which == 1:
            code = draw(st.sampled_from([0, 1, 11]))
            out.append(GoAwayFrame(0, last_stream_id=1, error_code=code).serialize())
            return True
        return False

    noise()
    if draw(st.integers(0, 19)) == 0:
        out.append(DataFrame(1, data=b"early").serialize())  # refused: before the headers
    if draw(st.integers(0, 19)) == 0:
        block([(":status", "200")], False, stream=3)  # refused: not the call's stream
    for _ in range(draw(st.integers(0, 1))):
        block([(":status", draw(st.sampled_from(["100", "103"])))], draw(st.integers(0, 9)) == 0)
        noise()
    if ending():
        return b"".join(out)
    status = draw(st.sampled_from(["200", "200", "200", "503", "404"]))
    response = [(":status", status), ("content-type", "application/grpc")]
    body = [draw(st.binary(max_size=40)) for _ in range(draw(st.integers(0, 3)))]
    length = draw(st.sampled_from(["none", "none", "right", "more", "less", "broken"]))
    if length != "none":
        right = sum(map(len, body))
        value = {"right": right, "more": right + 1, "less": max(0, right - 1), "broken": "1e3"}
        response.append(("content-length", str(value[length])))
    trailers_only = not body and draw(st.booleans())
    if trailers_only:
        response.append(("grpc-status", "14"))
    block(response, trailers_only)
    if trailers_only:
        return b"".join(out)
    noise()
    for i, part in enumerate(body):
        if ending():
            return b"".join(out)
        last = i == len(body) - 1 and draw(st.booleans())
        pad = draw(st.one_of(st.none(), st.integers(0, 20)))
        frame = DataFrame(1, data=part, flags=["END_STREAM"] if last else [])
        if pad is not None:
            frame.flags.add("PADDED")
            frame.pad_length = pad
        out.append(frame.serialize())
        if last:
            return b"".join(out)
        noise()
    if ending():
        return b"".join(out)
    end = draw(st.integers(0, 9)) != 0  # trailers that do not end the stream: refused
    block([("grpc-status", "0"), ("grpc-message", draw(st.sampled_from(["", "ok%20now"])))], end)
    return b"".join(out)


def frames_of(data: bytes) -> list[bytes]:
    """``data`` a whole frame at a time, as h2 is fed here: fed a read of many frames, h2
    raised for a frame it refused and lost the events of the frames before it (the call's
    end, a reset), so that what it made of a server depended on where the reads were
    cut; the reader takes the frames in order, whatever the reads."""
    out, at = [], 0
    while at < len(data):
        end = at + 9 + int.from_bytes(data[at : at + 3], "big")
        out.append(data[at:end])
        at = end
    return out


@st.composite
def cut(draw: st.DrawFn, data: bytes) -> list[bytes]:
    points = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=6))))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_call_reads_a_servers_bytes_as_h2_does(data: st.DataObject) -> None:
    """Any server of the family above, its bytes cut at any points: the reader's answer
    is h2's, or both refuse the bytes."""
    server = data.draw(servers())
    chunks = data.draw(cut(server))
    assert ours(chunks) == h2s(frames_of(server))


def test_the_family_reaches_every_outcome() -> None:
    """The servers drawn above end every way a call can: answered with trailers, in
    headers alone, with a reset, with a GOAWAY, and refused (so the property above is
    not held on one kind of server only)."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(servers())
    def look(server: bytes) -> None:
        found = ours([server])
        if isinstance(found, str):
            seen.add("refused")
        elif found.reset is not None:
            seen.add("reset")
        elif found.goaway is not None:
            seen.add("goaway")
        elif found.trailers:
            seen.add("trailers")
        elif found.ended:
            seen.add("headers" if not found.data else "data")

    look()
    assert {"refused", "reset", "goaway", "trailers", "headers"} <= seen, seen


def test_a_grpcio_answer_is_read_whole_at_every_cut() -> None:
    """The frames a grpcio server sent a real call (captured: its SETTINGS, two
    WINDOW_UPDATEs, the SETTINGS ACK, a PING, the headers, one DATA and the trailers),
    cut at every byte: the same answer every time, h2's, and the ACKs owed once each."""
    encoder = Encoder()
    server = b"".join(
        [
            SettingsFrame(0, settings={4: 4194304, 5: 4194304, 6: 16384, 65027: 1}).serialize(),
            WindowUpdateFrame(0, window_increment=4128769).serialize(),
            SettingsFrame(0, flags=["ACK"]).serialize(),
            WindowUpdateFrame(0, window_increment=5).serialize(),
            PingFrame(0, opaque_data=b"\xaa\xbdI\xfb\x081\x8aL").serialize(),
            HeadersFrame(
                1,
                data=encoder.encode(
                    [
                        (":status", "200"),
                        ("content-type", "application/grpc"),
                        ("grpc-accept-encoding", "identity, deflate, gzip"),
                    ]
                ),
                flags=["END_HEADERS"],
            ).serialize(),
            DataFrame(1, data=b"\x00\x00\x00\x00\x02\x08\x01").serialize(),
            HeadersFrame(
                1,
                data=encoder.encode([("grpc-status", "0"), ("grpc-message", "")]),
                flags=["END_HEADERS", "END_STREAM"],
            ).serialize(),
        ]
    )
    whole = h2s([server])
    assert isinstance(whole, Found)
    assert whole.ended
    assert whole.trailers["grpc-status"] == "0"
    for at in range(len(server) + 1):
        answer = _h2call.Answer(sent=len(MESSAGE))
        replies = b""
        for chunk in (server[:at], server[at:]):
            over = answer.take(chunk)
            replies += answer.replies()
            if over:
                break
        assert ours([server[:at], server[at:]]) == whole == h2s([server[:at], server[at:]])
        ack = SettingsFrame(0, flags=["ACK"]).serialize()
        pong = PingFrame(0, opaque_data=b"\xaa\xbdI\xfb\x081\x8aL", flags=["ACK"]).serialize()
        assert replies == ack + pong


def test_a_header_block_of_more_than_64_frames_is_refused_as_h2_refuses_it() -> None:
    """A header block may span 64 frames, its HEADERS and 63 CONTINUATION: one more
    and both readers refuse the block (a server that never ends it is refused, not read
    for ever)."""
    block = Encoder().encode([(":status", "200"), ("content-type", "application/grpc")])
    parts = [block[:1], *([b""] * 62), block[1:]]  # 64 frames, the HEADERS included
    frames = [HeadersFrame(1, data=parts[0]).serialize()]
    frames += [ContinuationFrame(1, data=p).serialize() for p in parts[1:-1]]
    last = ContinuationFrame(1, data=parts[-1], flags=["END_HEADERS"]).serialize()
    within = b"".join([*frames, last])
    assert ours([within]) == h2s(frames_of(within)) != "refused"
    beyond = b"".join([*frames, ContinuationFrame(1).serialize(), last])
    assert ours([beyond]) == h2s(frames_of(beyond)) == "refused"


def test_a_header_not_in_utf8_is_refused_where_h2_raised_past_the_probe() -> None:
    """A header value that is not UTF-8 is a broken answer (``H2Error``), where h2, told
    to decode headers as UTF-8, raised ``UnicodeDecodeError``, which the probe did not
    catch."""
    block = Encoder().encode([(":status", "200"), (b"content-type", b"application/\xff")])
    server = HeadersFrame(1, data=block, flags=["END_HEADERS"]).serialize()
    assert ours([server]) == "refused"
    with pytest.raises(UnicodeDecodeError):
        h2s([server])


def test_a_content_length_past_pythons_digits_is_refused_as_h2_refuses_it() -> None:
    """A ``content-length`` of 5,000 digits (within the header list's 64 KiB) is past
    what ``int()`` converts: refused by both readers, never a ``ValueError`` out of the
    probe."""
    block = Encoder().encode([(":status", "200"), ("content-length", "9" * 5000)])
    server = HeadersFrame(1, data=block, flags=["END_HEADERS"]).serialize()
    assert ours([server]) == h2s([server]) == "refused"


def test_an_overlong_frame_is_refused_from_its_header() -> None:
    """A frame longer than the client's SETTINGS_MAX_FRAME_SIZE is refused as soon as its
    9-byte header is in (h2 refused it once the whole body had come)."""
    answer = _h2call.Answer()
    with pytest.raises(_h2call.H2Error, match="overlong frame: length 16385"):
        answer.take(b"\x00\x40\x01\x00\x00\x00\x00\x00\x01")


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.:-", min_size=1, max_size=40),
    st.binary(max_size=200),
    st.sampled_from(["http", "https"]),
)
@settings(max_examples=100, deadline=None)
def test_h2_as_a_server_reads_the_request_as_the_call(
    authority: str, message: bytes, scheme: str
) -> None:
    """The bytes of a call, made or remembered, are what an h2 server reads as that
    call: the preface and SETTINGS (push off), the headers as given, the message, and
    the stream ended with it."""
    headers = (
        *HEADERS[:1],
        (":scheme", scheme),
        HEADERS[2],
        (":authority", authority),
        *HEADERS[4:],
    )
    made = _h2call.request(headers, message)
    assert _h2call.request(headers, message) == made  # remembered: the same bytes
    server = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
    server.initiate_connection()
    events = server.receive_data(made)
    settings_changed = next(e for e in events if isinstance(e, RemoteSettingsChanged))
    assert settings_changed.changed_settings[SettingsFrame.ENABLE_PUSH].new_value == 0
    request = next(e for e in events if isinstance(e, RequestReceived))
    assert [(str(n), str(v)) for n, v in request.headers] == list(headers)
    assert b"".join(e.data for e in events if isinstance(e, DataReceived)) == message
    assert any(isinstance(e, StreamEnded) and e.stream_id == 1 for e in events)
