"""One call on a fresh HTTP/2 connection, read by h2's rules without h2's machinery.

The ``grpc`` phase spoke HTTP/2 through python-hyper's h2, and a check paid for all of
it: a connection's state machines, settings objects, window managers and events, built
for any number of streams in either role, about 200 µs of CPU of the 850 µs of a gRPC
check on this project's machine (``benchmarks/history/bench_grpc.md``).  A health check
opens a connection, sends one request on stream 1 and reads its one answer, so this
module keeps only what that needs, rule for rule from h2 4 (MIT-licensed, as tether is),
on the two libraries h2 is built on: hyperframe for the frames, hpack for the header
blocks.

- **The request**: the client preface, a SETTINGS frame (h2's client settings, push
  off), the HEADERS frame and one DATA frame with END_STREAM.  The same call is the same
  bytes, so they are made once and kept (:func:`request`).
- **Frames read as h2's ``FrameBuffer`` reads them**: the 9-byte header and the body
  through hyperframe, whose refusals are h2's protocol errors; a header block and its
  CONTINUATION frames joined, at most 64 of them and nothing else between.  The length
  is held to the SETTINGS_MAX_FRAME_SIZE this client sent (16,384) as soon as the header
  is in, where h2 waited for the whole body first.
- **The connection**: SETTINGS answered with an ACK, their values checked as h2 checks
  a server's; PING answered; WINDOW_UPDATE and a new SETTINGS_INITIAL_WINDOW_SIZE held
  below 2^31 - 1 in the connection's and the stream's send windows; GOAWAY ends the
  call; PRIORITY (never on itself), ALTSVC and frames of unknown types pass;
  PUSH_PROMISE is refused (push is off).
- **Stream 1**: informational (1xx) header blocks skipped until the response's, never
  with END_STREAM and never after it; DATA only after the response's headers, held to a
  ``content-length`` when there is one; a second header block is the trailers, which
  must end the stream; RST_STREAM ends the call.  A frame of any other stream is
  refused, but PRIORITY.
- **Flow control**: the caller bounds the answer (DATA with its padding) below
  HTTP/2's initial window (65,535), so this client never sends a WINDOW_UPDATE.

``tests/probe/test_h2_call.py`` feeds this reader and h2 the same server bytes, cut at
every point, and wants the same answer, or both refusing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from hpack import Decoder, Encoder
from hpack.exceptions import HPACKError, OversizedHeaderListError
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

__all__ = ["STREAM", "Answer", "H2Error", "error_name", "request"]

STREAM: Final = 1
"""The call's stream: a client's first."""
PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_FRAME: Final = 16384
"""The largest frame this client takes (SETTINGS_MAX_FRAME_SIZE, HTTP/2's initial)."""
CONTINUATION_BACKLOG: Final = 64
"""Frames a header block may span (h2's ``CONTINUATION_BACKLOG``)."""
MAX_WINDOW: Final = 2**31 - 1
INITIAL_WINDOW: Final = 65535
SETTINGS: Final = {
    SettingsFrame.HEADER_TABLE_SIZE: 4096,
    SettingsFrame.ENABLE_PUSH: 0,
    SettingsFrame.INITIAL_WINDOW_SIZE: INITIAL_WINDOW,
    SettingsFrame.MAX_FRAME_SIZE: MAX_FRAME,
    SettingsFrame.MAX_CONCURRENT_STREAMS: 100,
    SettingsFrame.MAX_HEADER_LIST_SIZE: 65536,
}
"""What this client says in its preface: h2's client settings, with push off."""
_SETTINGS_ACK: Final = SettingsFrame(0, flags=["ACK"]).serialize()
_ENABLE_CONNECT_PROTOCOL: Final = 8
_FLOW_CONTROL_ERROR: Final = 3
_ERROR_NAMES: Final = (
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
)
"""RFC 9113's error codes by number (section 7), as h2's ``ErrorCodes`` names them."""


class H2Error(Exception):
    """The server broke HTTP/2 (where h2 raised one of its ``H2Error``)."""


def error_name(code: int) -> str:
    """An HTTP/2 error code's name (``CANCEL``), or its number when it has none."""
    return _ERROR_NAMES[code] if 0 <= code < len(_ERROR_NAMES) else str(code)


_REQUESTS: dict[tuple[tuple[tuple[str, str], ...], bytes], bytes] = {}
"""The bytes of each call made so far, by its headers and message (a call's differ only
by target, service and timeout)."""
_REQUESTS_MAX: Final = 1024


def request(headers: tuple[tuple[str, str], ...], message: bytes) -> bytes:
    """Everything the client sends for one call on a new connection: the preface, its
    SETTINGS, ``headers`` (lower-case, valid: not checked) encoded from an empty table
    without Huffman coding (optional in RFC 7541, and dearer than the rest of the
    request), and ``message`` in one DATA frame that ends the stream."""
    key = (headers, message)
    made = _REQUESTS.get(key)
    if made is None:
        block = Encoder().encode(headers, huffman=False)
        frames: list[Frame] = [SettingsFrame(0, settings=SETTINGS)]
        # A block past one frame goes on in CONTINUATION frames, as h2 splits it.
        first, rest = block[:MAX_FRAME], block[MAX_FRAME:]
        head = HeadersFrame(STREAM, data=first)
        frames.append(head)
        while rest:
            frames.append(ContinuationFrame(STREAM, data=rest[:MAX_FRAME]))
            rest = rest[MAX_FRAME:]
        frames[-1].flags.add("END_HEADERS")
        frames.append(DataFrame(STREAM, data=message, flags=["END_STREAM"]))
        made = PREFACE + b"".join(f.serialize() for f in frames)
        if len(_REQUESTS) >= _REQUESTS_MAX:
            _REQUESTS.clear()
        _REQUESTS[key] = made
    return made


@dataclass(slots=True)
class Answer:
    """The call's answer as the server's frames bring it, and what the client owes in
    reply (:meth:`take`, :meth:`replies`).  ``sent``: the DATA the request carried,
    taken from both send windows."""

    sent: int = 0
    headers: dict[str, str] | None = None
    """The response's header block (names lower-case), once it came."""
    trailers: dict[str, str] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)
    answer_bytes: int = 0
    """DATA received on the stream, padding included: what the caller bounds."""
    ended: bool = False
    reset: int | None = None
    """RST_STREAM's error code, if the server reset the call."""
    goaway: int | None = None
    """GOAWAY's error code, if the server ended the connection."""
    control: int = 0
    """PING and SETTINGS frames taken (not their acknowledgements)."""
    _buffer: bytearray = field(default_factory=bytearray)
    _block: list[HeadersFrame | ContinuationFrame] = field(default_factory=list)
    _out: list[bytes] = field(default_factory=list)
    _decoder: Decoder = field(default_factory=Decoder)
    _conn_window: int = INITIAL_WINDOW
    _stream_window: int = INITIAL_WINDOW
    _stream_initial: int = INITIAL_WINDOW
    _expected_length: int | None = None
    _body_length: int = 0

    def __post_init__(self) -> None:
        self._conn_window -= self.sent
        self._stream_window -= self.sent

    def replies(self) -> bytes:
        """What the client owes the server so far (ACKs of its SETTINGS and PINGs),
        once."""
        out, self._out = self._out, []
        return b"".join(out)

    def take(
        self,
        data: bytes | bytearray | memoryview,
        *,
        stop: int | None = None,
        max_control: int | None = None,
    ) -> bool:
        """Read ``data``'s frames; whether the call is over (ended, reset or the
        connection gone away).  With ``stop``, also once ``answer_bytes`` passes it, and
        with ``max_control`` once ``control`` does (the caller's bounds: the frames after
        are not read).  Raises :class:`H2Error` where h2 raised."""
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if length > MAX_FRAME:  # h2 waited for the body; nothing is gained by it
                raise H2Error(f"Received overlong frame: length {length}, max {MAX_FRAME}")
            if len(buffer) < length + 9:
                break
            try:
                frame, _ = Frame.parse_frame_header(memoryview(buffer)[:9])
                frame.parse_body(memoryview(buffer)[9 : 9 + length])
            except HyperframeError as exc:
                raise H2Error(f"Received frame with non-compliant data: {exc}") from exc
            del buffer[: 9 + length]
            if (
                self._frame(frame)
                or (stop is not None and self.answer_bytes > stop)
                or (max_control is not None and self.control > max_control)
            ):
                return True
        return False

    # -- one frame ---------------------------------------------------------------------

    def _frame(self, frame: Frame) -> bool:
        block = self._block
        if block:
            if not isinstance(frame, ContinuationFrame) or frame.stream_id != STREAM:
                raise H2Error("Invalid frame during header block.")
            block.append(frame)
            if len(block) > CONTINUATION_BACKLOG:
                raise H2Error("Too many continuation frames received.")
            if "END_HEADERS" not in frame.flags:
                return False
            head = block[0]
            assert isinstance(head, HeadersFrame)
            self._block = []
            return self._headers(head, b"".join(f.data for f in block))
        kind = type(frame)
        if kind is HeadersFrame:
            assert isinstance(frame, HeadersFrame)
            if frame.stream_id != STREAM:
                raise H2Error(f"Received HEADERS on stream {frame.stream_id}, not open")
            if "PRIORITY" in frame.flags and frame.depends_on == frame.stream_id:
                raise H2Error(f"Stream {frame.stream_id} may not depend on itself")
            if "END_HEADERS" not in frame.flags:
                block.append(frame)
                return False
            return self._headers(frame, frame.data)
        if kind is DataFrame:
            assert isinstance(frame, DataFrame)
            return self._data(frame)
        if kind is SettingsFrame:
            assert isinstance(frame, SettingsFrame)
            if "ACK" not in frame.flags:
                self._settings(frame.settings)
                self.control += 1
                self._out.append(_SETTINGS_ACK)
            return False
        if kind is PingFrame:
            assert isinstance(frame, PingFrame)
            if "ACK" not in frame.flags:
                self.control += 1
                self._out.append(
                    PingFrame(0, opaque_data=frame.opaque_data, flags=["ACK"]).serialize()
                )
            return False
        if kind is WindowUpdateFrame:
            assert isinstance(frame, WindowUpdateFrame)
            if frame.stream_id == 0:
                self._conn_window = _grown(self._conn_window, frame.window_increment)
            elif frame.stream_id == STREAM:
                window = self._stream_window + frame.window_increment
                if window > MAX_WINDOW:  # a stream's error: h2 resets the stream itself
                    self.reset = _FLOW_CONTROL_ERROR
                    return True
                self._stream_window = window
            else:
                raise H2Error(f"Received WINDOW_UPDATE on stream {frame.stream_id}, not open")
            return False
        if kind is RstStreamFrame:
            assert isinstance(frame, RstStreamFrame)
            if frame.stream_id != STREAM:
                raise H2Error(f"Received RST_STREAM on stream {frame.stream_id}, not open")
            self.reset = frame.error_code
            return True
        if kind is GoAwayFrame:
            assert isinstance(frame, GoAwayFrame)
            self.goaway = frame.error_code
            return True
        if kind is PriorityFrame:
            assert isinstance(frame, PriorityFrame)
            if frame.depends_on == frame.stream_id:
                raise H2Error(f"Stream {frame.stream_id} may not depend on itself")
            return False
        if kind is PushPromiseFrame:
            raise H2Error("Received pushed stream")
        if kind is ContinuationFrame:
            raise H2Error("Received unexpected CONTINUATION frame")
        return False  # ALTSVC and the frame types this client does not know

    def _headers(self, frame: HeadersFrame, block: bytes) -> bool:
        try:
            raw = self._decoder.decode(block, raw=True)
            pairs = [(bytes(n), bytes(v)) for n, v in raw]
        except OversizedHeaderListError as exc:
            raise H2Error(f"Oversized header block: {exc}") from exc
        except (HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:
            raise H2Error(f"Error decoding header block: {exc}") from exc
        end = "END_STREAM" in frame.flags
        informational = _informational(pairs)
        if informational and end:
            raise H2Error("Cannot set END_STREAM on informational responses")
        if informational and self.headers is not None:
            raise H2Error("Informational response after final response")
        # Every block sets the length the DATA after it is held to, as in h2.
        length = next((v for n, v in pairs if n == b"content-length"), None)
        self._expected_length = None if length is None else _content_length(length)
        if informational:
            return False
        named = _as_dict(pairs)
        if self.headers is None:
            self.headers = named
        else:
            if not end:
                raise H2Error("Trailers must have END_STREAM set")
            self.trailers = named
        if end:
            self.ended = True
        return end

    def _data(self, frame: DataFrame) -> bool:
        if frame.stream_id != STREAM:
            raise H2Error(f"Received DATA on stream {frame.stream_id}, not open")
        if self.headers is None:
            raise H2Error("cannot receive data before headers")
        self.data += frame.data
        self.answer_bytes += frame.flow_controlled_length
        end = "END_STREAM" in frame.flags
        self._body_length += len(frame.data)
        expected = self._expected_length
        if expected is not None and (
            expected < self._body_length or (end and expected != self._body_length)
        ):
            raise H2Error(
                f"InvalidBodyLengthError: Expected {expected} bytes, received {self._body_length}"
            )
        if end:
            self.ended = True
        return end

    def _settings(self, settings: dict[int, int]) -> None:
        for code, value in settings.items():
            if code == SettingsFrame.ENABLE_PUSH and value != 0:
                # RFC 9113, 6.5.2: a server never sends 1.
                raise H2Error(f"Invalid SETTINGS_ENABLE_PUSH {value}")
            if code == SettingsFrame.INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise H2Error(f"Invalid SETTINGS_INITIAL_WINDOW_SIZE {value}")
                # The change applies to the open stream's send window (RFC 9113, 6.9.2).
                window = self._stream_window + value - self._stream_initial
                if window > MAX_WINDOW:
                    raise H2Error(f"Flow control increment must not exceed {MAX_WINDOW}")
                self._stream_window, self._stream_initial = window, value
            elif code == SettingsFrame.MAX_FRAME_SIZE and not 16384 <= value <= 16777215:
                raise H2Error(f"Invalid SETTINGS_MAX_FRAME_SIZE {value}")
            elif code == _ENABLE_CONNECT_PROTOCOL and value not in (0, 1):
                raise H2Error(f"Invalid SETTINGS_ENABLE_CONNECT_PROTOCOL {value}")


def _content_length(value: bytes) -> int:
    """A ``content-length``'s value, as h2 reads it: digits only, and no more than
    ``int()`` converts (4,300 digits; past them h2 refuses it, as this does)."""
    try:
        if value.isdigit():
            return int(value, 10)
    except ValueError:
        pass
    raise H2Error(f"Invalid content-length header: {value[:40]!r}")


def _grown(window: int, increment: int) -> int:
    window += increment
    if window > MAX_WINDOW:
        raise H2Error(f"Flow control increment must not exceed {MAX_WINDOW}")
    return window


def _informational(pairs: list[tuple[bytes, bytes]]) -> bool:
    """h2's ``is_informational_response``: a 1xx ``:status`` among the pseudo-headers
    that open the block."""
    for name, value in pairs:
        if not name.startswith(b":"):
            return False
        if name == b":status":
            return value.startswith(b"1")
    return False


def _as_dict(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """A header block by name (lower-case), in UTF-8 as h2 was told to decode it."""
    try:
        return {n.decode("utf-8").lower(): v.decode("utf-8") for n, v in pairs}
    except UnicodeDecodeError as exc:
        raise H2Error(f"Error decoding header block: {exc}") from exc
