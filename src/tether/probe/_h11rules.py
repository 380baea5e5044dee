"""One HTTP/1.1 exchange read and written by h11's rules, without h11's machinery.

The probe parsed with h11 0.16 (as httpx does, through httpcore), and a monitor's check
paid for all of it: building and validating the request as events, the state machine of
both peers, the receive buffer, the response's events: about 450,000 of the 1,400,000
instructions of a probe of a small local target (callgrind).  A probe makes one request
and reads one response, so this module keeps only what that needs, rule for rule from
h11 (MIT-licensed, as tether is):

- the grammar of ``h11/_abnf.py`` (status line, header field, chunk header), as bytes
  patterns, so ``\\s`` is ASCII whitespace as it is there;
- ``_readers.py``: head lines up to the first blank line (bare LF allowed, obsolete line
  folding joined), the Content-Length, chunked and read-to-close body readers, and what
  each says when the stream ends;
- ``_headers.py``'s checks of Content-Length and Transfer-Encoding (trailers included);
- ``_connection.py``: the body's framing (HEAD, 204, 304 and a CONNECT's 2xx have none),
  informational responses skipped, a 101 without an Upgrade request refused, and the
  limit on an incomplete event (``max_incomplete_event_size``, 16 KiB);
- ``_writers.py``: the request line, ``Host`` first, and a chunked body when the caller
  asks for ``Transfer-Encoding: chunked``.

Errors carry h11's words, so ``_parser_errors.py`` reads them with h11's rows, and a fault
the probe reports and httpx's exception for it cannot be named differently.
``tests/probe/test_h11_rules.py`` feeds both readers the same bytes, cut at every point, and
wants the same events and errors.  (llhttp, through httptools, parses a small response
faster still, but it accepts and refuses other responses than h11 does and cannot be told
where a stream ended: docs/install.md says why it is not used.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from tether._frozen import quick_init

__all__ = [
    "END",
    "MAX_INCOMPLETE",
    "End",
    "Head",
    "ProtocolError",
    "ResponseReader",
    "request_bytes",
    "request_head",
    "request_line",
]

MAX_INCOMPLETE: Final = 16 * 1024
"""h11's default ``max_incomplete_event_size``: the most bytes of a head, a chunk-size
line or a trailer section held while it is not complete."""

# h11/_abnf.py.
_OWS = r"[ \t]*"
_TOKEN = r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
_VCHAR_OR_OBS_TEXT = r"[^\x00\s]"
_FIELD_CONTENT = rf"{_VCHAR_OR_OBS_TEXT}+(?:[ \t]+{_VCHAR_OR_OBS_TEXT}+)*"
_FIELD_VALUE = rf"({_FIELD_CONTENT})?"
_HEADER_FIELD = re.compile(
    rf"(?P<field_name>{_TOKEN}):{_OWS}(?P<field_value>{_FIELD_VALUE}){_OWS}".encode("ascii")
)
_STATUS_LINE = re.compile(
    rf"HTTP/(?P<http_version>[0-9]\.[0-9]) (?P<status_code>[0-9]{{3}})"
    rf"(?: (?P<reason>([ \t]|{_VCHAR_OR_OBS_TEXT})*))?".encode("ascii")
)
_CHUNK_HEADER = re.compile(
    rf"(?P<chunk_size>([0-9A-Fa-f]){{1,20}})(?P<chunk_ext>;.*)?{_OWS}\r\n".encode("ascii")
)
_NAME = re.compile(_TOKEN.encode("ascii"))
_REQUEST_LINE = re.compile(rf"{_TOKEN} [\x21-\x7e]+ HTTP/1\.1\r\n".encode("ascii"))
_FIELD_LINES = re.compile(rf"(?:{_TOKEN}: {_FIELD_VALUE}\r\n)*".encode("ascii"))
_VALUE = re.compile(_FIELD_VALUE.encode("ascii"))
_DIGITS = re.compile(rb"[0-9]+")
_FOLD = b" \t"
_CONTENT_LENGTH_MAX_DIGITS = 20


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 as h11 reads it; the message is h11's."""


@quick_init
@dataclass(frozen=True, slots=True)
class Head:
    """The final response's status line and header fields (names in lower case, values as
    h11 keeps them: Content-Length as one number, Transfer-Encoding in lower case)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    version: str = "1.1"
    """The status line's HTTP version (``1.0``, ``1.1``)."""


class End:
    def __repr__(self) -> str:
        return "END"


END: Final = End()
"""The response is complete (h11's ``EndOfMessage``)."""


def _check(regex: re.Pattern[bytes], data: bytes | bytearray, message: str) -> re.Match[bytes]:
    match = regex.fullmatch(data)
    if match is None:
        raise ProtocolError(message)
    return match


def _normalize(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """h11's ``normalize_and_validate`` of parsed fields: names in lower case, one
    Content-Length (equal repeats dropped), only ``chunked`` as Transfer-Encoding."""
    out = []
    seen_length: bytes | None = None
    saw_encoding = False
    for raw, given in headers:
        name = raw.lower()
        if name == b"content-length":
            lengths = {length.strip() for length in given.split(b",")}
            if len(lengths) != 1:
                raise ProtocolError("conflicting Content-Length headers")
            length = lengths.pop()
            _check(_DIGITS, length, "bad Content-Length")
            if len(length) > _CONTENT_LENGTH_MAX_DIGITS:
                raise ProtocolError("bad Content-Length")
            if seen_length is None:
                seen_length = length
                out.append((name, length))
            elif seen_length != length:
                raise ProtocolError("conflicting Content-Length headers")
        elif name == b"transfer-encoding":
            if saw_encoding:
                raise ProtocolError("multiple Transfer-Encoding headers")
            if given.lower() != b"chunked":
                raise ProtocolError("Only Transfer-Encoding: chunked is supported")
            saw_encoding = True
            out.append((name, b"chunked"))
        else:
            out.append((name, given))
    return out


def _fields(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Header or trailer lines, obsolete folds joined, each checked as h11 does."""
    folded: list[bytes] = []
    for line in lines:
        if line[0] in _FOLD:  # SP or HTAB: a continuation of the line before
            if not folded:
                raise ProtocolError("continuation line at start of headers")
            folded[-1] += b" " + line.lstrip(b" \t")
        else:
            folded.append(line)
    out = []
    for line in folded:
        m = _HEADER_FIELD.fullmatch(line)
        if m is None:  # h11 quotes its lines as the bytearrays it holds
            raise ProtocolError(f"illegal header line: {bytearray(line)!r}")
        out.append((m["field_name"], m["field_value"]))
    return out


class ResponseReader:
    """Reads the response to one request: feed it what arrives (``b""`` for the end of
    the stream) and take its events, as from ``h11.Connection.next_event``: a
    :class:`Head`, then body data (``bytearray``), then :data:`END`; None when it needs
    more.  Raises :class:`ProtocolError` where h11 raises ``RemoteProtocolError``."""

    __slots__ = (
        "_body",
        "_buf",
        "_closed",
        "_expected",
        "_left",
        "_method",
        "_trailer",
        "_upgrade",
    )

    def __init__(self, method: str, *, upgrade: bool = False) -> None:
        self._buf = bytearray()
        self._closed = False
        self._method = method
        self._upgrade = upgrade
        """The request asked to switch protocols (an ``Upgrade`` header): a 101 is then
        the answer, where h11 would stop reading altogether."""
        self._body: str | None = None
        """None while reading the head; then ``length``, ``chunked`` or ``close``."""
        self._left = 0
        """``length``: the body bytes still due; ``chunked``: the bytes still due in the
        current chunk, or -1 while its CRLF is due (``-2``: its LF alone)."""
        self._expected = 0
        """``length``: the body's announced size."""
        self._trailer = False

    def receive(self, data: bytes) -> None:
        if data:
            self._buf += data
        else:
            self._closed = True

    def next_event(self) -> Head | bytearray | End | None:
        event = self._read()
        if event is None and not self._buf and self._closed:
            event = self._read_eof()
        if event is None:
            if len(self._buf) > MAX_INCOMPLETE:
                raise ProtocolError("Receive buffer too long")
            if self._closed:
                raise ProtocolError("peer unexpectedly closed connection")
        return event

    # -- the head ------------------------------------------------------------------------

    def _lines(self) -> list[bytes] | None:
        """Everything up to the first blank line, as lines (h11's ``maybe_extract_lines``:
        split at LF, one CR before it dropped)."""
        buf = self._buf
        if buf[:1] == b"\n":
            del buf[:1]
            return []
        if buf[:2] == b"\r\n":
            del buf[:2]
            return []
        # The first of b"\n\n" and b"\n\r\n" (two finds: a regular expression's search
        # and split cost 18,000 instructions of a probe's 870,000).
        end = buf.find(b"\n\n")
        crlf = buf.find(b"\n\r\n", 0, None if end < 0 else end + 2)  # b"\n\r\n\n" too
        if crlf >= 0:
            end = crlf + 3
        elif end >= 0:
            end += 2
        else:
            return None
        # Split at LF with one CR before it dropped: each b"\r\n" is a distinct LF's.
        lines = bytes(buf[:end]).replace(b"\r\n", b"\n").split(b"\n")
        del buf[:end]
        del lines[-2:]
        return lines

    def _read(self) -> Head | bytearray | End | None:
        while self._body is None:
            lines = self._lines()
            if lines is None:
                if self._buf and self._buf[0] < 0x21:
                    raise ProtocolError("illegal request line")
                return None
            if not lines:
                raise ProtocolError("no response line received")
            m = _STATUS_LINE.fullmatch(lines[0])
            if m is None:
                raise ProtocolError(f"illegal status line: {bytearray(lines[0])!r}")
            status = int(m["status_code"])
            headers = _normalize(_fields(lines[1:]))
            if status < 200:
                if status < 100:
                    raise ProtocolError(
                        f"InformationalResponse status_code should be in range [100, 200), "
                        f"not {status}"
                    )
                if status != 101:
                    continue  # 100 Continue, 103 Early Hints: the answer is still to come
                if not self._upgrade:
                    raise ProtocolError(
                        "Received server _SWITCH_UPGRADE event without a pending proposal"
                    )
                self._body = "length"  # switched: nothing more is read as HTTP
                return Head(status, headers, m["http_version"].decode("ascii"))
            self._body, self._left = self._framing(status, headers)
            self._expected = self._left
            return Head(status, headers, m["http_version"].decode("ascii"))
        if self._body == "length":
            return self._read_length()
        if self._body == "chunked":
            return self._read_chunked()
        if not self._buf:
            return None
        data, self._buf = self._buf, bytearray()
        return data

    def _framing(self, status: int, headers: list[tuple[bytes, bytes]]) -> tuple[str, int]:
        if (
            status in (204, 304)
            or self._method == "HEAD"
            or (self._method == "CONNECT" and 200 <= status < 300)
        ):
            return "length", 0
        if any(name == b"transfer-encoding" for name, _ in headers):
            return "chunked", 0
        for name, value in headers:
            if name == b"content-length":
                return "length", int(value)
        return "close", 0

    # -- the body ------------------------------------------------------------------------

    def _read_length(self) -> bytearray | End | None:
        if self._left == 0:
            return END
        if not self._buf:
            return None
        data = self._buf[: self._left]
        del self._buf[: len(data)]
        self._left -= len(data)
        return data

    def _read_chunked(self) -> bytearray | End | None:
        buf = self._buf
        if self._trailer:
            lines = self._lines()
            if lines is None:
                return None
            _normalize(_fields(lines))
            return END
        if self._left < 0:  # the CRLF after a chunk's data (h11's _bytes_to_discard)
            due = b"\r\n" if self._left == -1 else b"\n"
            data = buf[: len(due)]
            if not data:
                return None
            del buf[: len(data)]
            if data != due[: len(data)]:
                raise ProtocolError(f"malformed chunk footer: {data!r} (expected {due!r})")
            if len(data) < len(due):
                self._left = -2
                return None
            self._left = 0
        if self._left == 0:
            end = buf.find(b"\r\n")
            if end < 0:
                return None
            line = buf[: end + 2]
            del buf[: end + 2]
            m = _CHUNK_HEADER.fullmatch(line)
            if m is None:
                raise ProtocolError(f"illegal chunk header: {line!r}")
            self._left = int(m["chunk_size"], base=16)
            if self._left == 0:
                self._trailer = True
                return self._read_chunked()
        if not buf:
            return None
        data = buf[: self._left]
        del buf[: len(data)]
        self._left -= len(data)
        if self._left == 0:
            self._left = -1
        return data

    def _read_eof(self) -> End:
        if self._body is None:
            # h11's server state machine, handed ConnectionClosed before any response.
            raise ProtocolError(
                "can't handle event type ConnectionClosed when role=SERVER and state=SEND_RESPONSE"
            )
        if self._body == "length":
            raise ProtocolError(
                "peer closed connection without sending complete message body "
                f"(received {self._expected - self._left} bytes, expected {self._expected})"
            )
        if self._body == "chunked":
            raise ProtocolError(
                "peer closed connection without sending complete message body "
                "(incomplete chunked read)"
            )
        return END


def request_bytes(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes | None
) -> bytes:
    """The request as h11 writes it: the request line, ``Host`` first, the other fields in
    order, then the body (chunked when a field asks for it).  Raises ValueError where h11
    raises ``LocalProtocolError`` (callers check what users type, so it means a bug), and
    UnicodeEncodeError for text that is not ASCII, as h11 does: for the fields first
    (:func:`request_head`), then for the request line (:func:`request_line`)."""
    head, chunked = request_head(headers, body)
    out = [request_line(method, target), head, b"\r\n"]
    if chunked:
        if body:
            out.append(b"%x\r\n%s\r\n" % (len(body), body))
        out.append(b"0\r\n\r\n")
    elif body:
        out.append(body)
    return b"".join(out)


def request_head(headers: list[tuple[str, str]], body: bytes | None) -> tuple[bytes, bool]:
    """The request's fields as :func:`request_bytes` writes them (without the blank line
    that ends them), and whether they make the body chunked; raises as it does."""
    chunked = False
    for name, value in headers:
        lower = name.lower()
        if lower == "transfer-encoding":
            if value.lower() != "chunked":
                raise ValueError("Only Transfer-Encoding: chunked is supported")
            chunked = True
        elif lower == "content-length" and value != str(len(body or b"")):
            raise ValueError(f"the body is {len(body or b'')} bytes, not Content-Length {value!r}")
    fields = [f"{n}: {v}\r\n" for n, v in headers if n.lower() == "host"]
    fields += [f"{n}: {v}\r\n" for n, v in headers if n.lower() != "host"]
    head = "".join(fields).encode("ascii")
    # Checked at once, as one text, where h11 checks each name and value: one LF per
    # field, so none holds a line break and runs into a field of its own; and no colon in
    # a name, which would read as a shorter name and a value (``0: `` and ``0``: ``0: : 0``).
    if (
        head.count(b"\n") != len(headers)
        or any(":" in name for name, _ in headers)
        or not _FIELD_LINES.fullmatch(head)
    ):
        for name, value in headers:
            if not _NAME.fullmatch(name.encode("ascii")):
                raise ValueError(f"Illegal header name {name.encode('ascii')!r}")
            if not _VALUE.fullmatch(value.encode("ascii")):
                raise ValueError(f"Illegal header value {value.encode('ascii')!r}")
    return head, chunked


def request_line(method: str, target: str) -> bytes:
    """The request line as :func:`request_bytes` writes it; raises as it does."""
    line = f"{method} {target} HTTP/1.1\r\n".encode("ascii")
    if not _REQUEST_LINE.fullmatch(line):
        raise ValueError(f"illegal request line: {line!r}")
    return line
