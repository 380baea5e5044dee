"""The probe's reader reads a response as h11 does: the same events, errors and words.

``tether.probe._h11rules`` keeps h11's rules for one response without h11's machinery (the
probe parsed with h11 before, and ``_parser_errors.py`` reads h11's words for both).
Each test feeds h11 and the reader the same bytes, cut the same way, and compares what
each makes of them, event by event.
"""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.lab import _servers
from tether.probe._h11rules import END, Head, ProtocolError, ResponseReader, request_bytes

Event = tuple[object, ...]


def _h11(chunks: list[bytes], method: str, upgrade: bool) -> list[Event]:
    """What h11 made of ``chunks`` then the end of the stream, as the probe used it."""
    conn = h11.Connection(h11.CLIENT)
    headers = [("Host", "lab.test")] + ([("Upgrade", "websocket")] if upgrade else [])
    conn.send(h11.Request(method=method, target="/", headers=headers))
    if method != "CONNECT":
        conn.send(h11.EndOfMessage())
    out: list[Event] = []
    for chunk in [*chunks, b""]:
        conn.receive_data(chunk)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                return [*out, ("error", str(exc))]
            if event is h11.NEED_DATA:
                break
            if event is h11.PAUSED:  # a 101 to an Upgrade request: h11 reads no further
                return out
            if isinstance(event, h11.Response):
                out.append(("head", event.status_code, list(event.headers)))
            elif isinstance(event, h11.Data):
                out.append(("data", bytes(event.data)))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return [*out, ("end",)]
    raise AssertionError("h11 wanted data after the end of the stream")


def _ours(chunks: list[bytes], method: str, upgrade: bool) -> list[Event]:
    reader = ResponseReader(method, upgrade=upgrade)
    out: list[Event] = []
    for chunk in [*chunks, b""]:
        reader.receive(chunk)
        while True:
            try:
                event = reader.next_event()
            except ProtocolError as exc:
                return [*out, ("error", str(exc))]
            if event is None:
                break
            if isinstance(event, Head):
                out.append(("head", event.status, event.headers))
                if event.status == 101 or (method == "CONNECT" and 200 <= event.status < 300):
                    return out  # switched: as h11, nothing more is read as HTTP
            elif event is END:
                return [*out, ("end",)]
            else:
                assert isinstance(event, bytearray)
                out.append(("data", bytes(event)))
    raise AssertionError("the reader wanted data after the end of the stream")


def _same(data: bytes, cuts: list[int], method: str = "GET", upgrade: bool = False) -> None:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert _ours(chunks, method, upgrade) == _h11(chunks, method, upgrade), (data, chunks)


OK = b"HTTP/1.1 200 OK\r\n"
CHUNKED = OK + b"Transfer-Encoding: chunked\r\n\r\n"
CASES = {
    "healthy": OK + b"Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n",
    "no reason": b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
    "bare LF": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "to the close": OK + b"X: y\r\n\r\nall of it",
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\n\r\nold",
    "HTTP/2.0": b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.10": b"HTTP/1.10 200 OK\r\n\r\n",
    "status 99": b"HTTP/1.1 099 Low\r\n\r\n",
    "status 1000": b"HTTP/1.1 1000 High\r\n\r\n",
    "100 then 200": b"HTTP/1.1 100 Continue\r\n\r\n" + OK + b"Content-Length: 2\r\n\r\nok",
    "103 with fields": b"HTTP/1.1 103 Early\r\nLink: </a>\r\n\r\n" + OK + b"\r\nbody",
    "101 unasked": b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\nframes",
    "204 with a length": b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nabcde",
    "304": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
    "folded": OK + b"X-A: a\r\n \t b\r\nContent-Length: 2\r\n\r\nok",
    "fold first": OK + b" X-A: a\r\n\r\n",
    "control in value": OK + b"X-A: a\x01b\x7f\r\nContent-Length: 2\r\n\r\nok",
    "NUL in value": OK + b"X-A: a\x00b\r\n\r\n",
    "vertical tab": OK + b"X-A: a\x0bb\r\n\r\n",
    "space before colon": OK + b"X-A : a\r\n\r\n",
    "trailing spaces": OK + b"X-A:   a b  \r\nContent-Length: 2\r\n\r\nok",
    "empty value": OK + b"X-A:\r\nContent-Length: 0\r\n\r\n",
    "equal lengths": OK + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    "length list": OK + b"Content-Length: 2, 2\r\n\r\nok",
    "conflicting lengths": _servers.CONFLICTING_LENGTH,
    "negative length": OK + b"Content-Length: -3\r\n\r\n",
    "21-digit length": OK + b"Content-Length: " + b"1" * 21 + b"\r\n\r\n",
    "gzip encoding": OK + b"Transfer-Encoding: gzip\r\n\r\nabc",
    "two encodings": OK + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    "CHUNKED": OK + b"Transfer-Encoding: CHUNKED\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "length and chunked": _servers.LENGTH_AND_CHUNKED,
    "chunked": CHUNKED + b"3\r\nok\n\r\n10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n",
    "chunk extension": CHUNKED + b"3;name=value\r\nok\n\r\n0 \t\r\n\r\n",
    "chunk size with LF": CHUNKED + b"3\nok\n\r\n0\r\n\r\n",
    "trailers": CHUNKED + b"2\r\nok\r\n0\r\nX-T: a\r\nX-U: b\r\n\r\n",
    "bad trailer": CHUNKED + b"2\r\nok\r\n0\r\nno colon\r\n\r\n",
    "length in trailer": CHUNKED + b"2\r\nok\r\n0\r\nContent-Length: x\r\n\r\n",
    "bad chunk size": _servers.BAD_CHUNK_SIZE,
    "bad chunk footer": _servers.BAD_CHUNK_FOOTER,
    "cut chunked": CHUNKED + b"3\r\nabc\r\n",
    "cut in chunk": CHUNKED + b"3\r\nab",
    "cut footer": CHUNKED + b"2\r\nok\r",
    "cut body": OK + b"Content-Length: 10\r\n\r\nabc",
    "cut head": b"HTTP/1.1 2",
    "nothing": b"",
    "blank first": b"\r\nHTTP/1.1 200 OK\r\n\r\n",
    "LF first": b"\nHTTP/1.1 200 OK\r\n\r\n",
    "binary": b"\x16\x03\x01\x02\x00",
    "garbage": b"GARBAGE 123 definitely not http\r\n\r\n",
    "bad header": _servers.BAD_HEADER,
    "bad length": _servers.BAD_LENGTH,
    "bad version": _servers.BAD_VERSION,
    "too many headers": _servers.TOO_MANY_HEADERS,
    "long header": _servers.LONG_HEADER,
    "long status line": _servers.LONG_STATUS_LINE,
    "long chunk line": _servers.LONG_CHUNK_LINE,
    "long trailer": _servers.LONG_TRAILER,
    "head of 16 KiB": OK + b"X: " + b"a" * (16 * 1024) + b"\r\n\r\n",
    "surplus": OK + b"Content-Length: 2\r\n\r\nokEXTRA",
    "LF CR LF LF": OK + b"X-A: a\n\r\n\nContent-Length: 1\r\n\r\nx",
    "LF LF before LF CR LF": OK + b"Content-Length: 1\n\nx\n\r\n",
    "CR CR LF": OK + b"X-A: a\r\r\nContent-Length: 0\r\n\r\n",
}


@pytest.mark.parametrize("name", CASES)
def test_whole_and_cut_at_every_64_kib(name: str) -> None:
    """Each response, in one piece and in the pieces the probe reads (64 KiB)."""
    data = CASES[name]
    _same(data, [])
    _same(data, list(range(65536, len(data), 65536)))


@pytest.mark.parametrize("name", [n for n in CASES if len(CASES[n]) < 400])
def test_cut_at_every_byte(name: str) -> None:
    """Each small response cut at every byte, one cut at a time, and into single bytes."""
    data = CASES[name]
    for cut in range(1, len(data)):
        _same(data, [cut])
    _same(data, list(range(len(data))))


@pytest.mark.parametrize(
    ("method", "data"),
    [
        ("HEAD", OK + b"Content-Length: 5\r\n\r\n"),
        ("HEAD", OK + b"Transfer-Encoding: chunked\r\n\r\n"),
        ("CONNECT", b"HTTP/1.1 200 Connection established\r\n\r\n"),
        ("CONNECT", b"HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\nno"),
        ("POST", OK + b"Content-Length: 2\r\n\r\nok"),
    ],
)
def test_methods(method: str, data: bytes) -> None:
    """HEAD and a CONNECT's 2xx have no body, whatever the fields say."""
    _same(data, [], method)
    _same(data, [len(data) // 2], method)


def test_101_to_an_upgrade_request_is_the_answer() -> None:
    """Asked to switch (a user's Upgrade field), a 101 is the answer's head.  h11 paused
    there for good, and the probe's loop asked it again and again without awaiting: the
    one place where the reader does not do what h11 did."""
    data = b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\r\nframes"
    assert _h11([data], "GET", upgrade=True) == []
    assert _ours([data], "GET", upgrade=True) == [("head", 101, [(b"upgrade", b"websocket")])]


_PIECES = st.sampled_from(
    [
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.0 404 \r\n",
        b"HTTP/1.1 100 Continue\r\n",
        b"HTTP/1.1 204 X\r\n",
        b"Content-Length: 3\r\n",
        b"Content-Length: 1, 1\r\n",
        b"Content-Length: 2\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"X-A: b \r\n",
        b" folded\r\n",
        b"Bad Line\r\n",
        b"\r\n",
        b"\n",
        b"3\r\nabc\r\n",
        b"0\r\n\r\n",
        b"2;x=y\r\nhi\r\n",
        b"zz\r\n",
        b"X-T: t\r\n",
        b"abc",
        b"\r",
        b"\x00",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_PIECES, max_size=12),
    st.lists(st.integers(min_value=1, max_value=200), max_size=4),
    st.sampled_from(["GET", "HEAD"]),
)
def test_h11_and_the_reader_agree_on_pieces(
    pieces: list[bytes], cuts: list[int], method: str
) -> None:
    """Responses put together from valid and broken pieces, cut anywhere."""
    _same(b"".join(pieces), cuts, method)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.lists(st.integers(min_value=1, max_value=80), max_size=3))
def test_h11_and_the_reader_agree_after_a_valid_head(tail: bytes, cuts: list[int]) -> None:
    """Any bytes after a chunked head, or as the head's last field."""
    _same(CHUNKED + tail, [len(CHUNKED) + c for c in cuts])
    _same(OK + tail, cuts)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([("Host", "a.test"), ("Accept", "*/*")], None),
        ([("Accept", "*/*"), ("Host", "a.test:8080"), ("X-Empty", "")], None),
        ([("Host", "a.test"), ("Content-Length", "4")], b"data"),
        ([("Host", "a.test"), ("Transfer-Encoding", "chunked")], b"data"),
        ([("Host", "a.test"), ("Transfer-Encoding", "chunked")], None),
    ],
)
def test_request_bytes_are_h11s(headers: list[tuple[str, str]], body: bytes | None) -> None:
    """The request goes out byte for byte as h11 wrote it: Host first, chunked if asked."""
    conn = h11.Connection(h11.CLIENT)
    sent = conn.send(h11.Request(method="POST", target="/p?q=1", headers=headers))
    if body:
        sent += conn.send(h11.Data(data=body))
    sent += conn.send(h11.EndOfMessage())
    assert request_bytes("POST", "/p?q=1", headers, body) == sent


@pytest.mark.parametrize(
    "headers",
    [
        [("Bad Name", "x")],
        [("X", "a\r\nInjected: 1")],
        [("X", " leading")],
        [("X", "a\x00")],
        [("0: ", "0")],  # read as one text, ``0: : 0`` is the name 0 with the value ``: 0``
    ],
)
def test_request_bytes_refuse_what_h11_refused(headers: list[tuple[str, str]]) -> None:
    """A field h11 would not send is not sent (callers check what users type)."""
    with pytest.raises(h11.LocalProtocolError):
        h11.Connection(h11.CLIENT).send(h11.Request(method="GET", target="/", headers=headers))
    with pytest.raises(ValueError, match="Illegal header"):
        request_bytes("GET", "/", headers, None)


_TEXT = st.text(alphabet="aZ09-_:; \t\r\n\x00\x7f/é", max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=3))
def test_request_bytes_send_or_refuse_as_h11_does(fields: list[tuple[str, str]]) -> None:
    """Any names and values: the same bytes as h11's, or refused where h11 refuses."""
    headers = [("Host", "a.test"), *fields]
    try:
        conn = h11.Connection(h11.CLIENT)
        sent = conn.send(h11.Request(method="GET", target="/", headers=headers))
        sent += conn.send(h11.EndOfMessage())
    except (h11.LocalProtocolError, UnicodeError) as exc:
        refused = (
            (ValueError, UnicodeError)
            if isinstance(exc, h11.LocalProtocolError)
            else (UnicodeError)
        )
        with pytest.raises(refused):
            request_bytes("GET", "/", headers, None)
        return
    assert request_bytes("GET", "/", headers, None) == sent
