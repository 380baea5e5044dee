"""One table for parsers' errors: the probe and ``classify`` cannot name a fault differently.

The probe (``tether diagnose``, the monitor) reads responses by h11's rules, and httpx
parses with h11 through httpcore: every response-layer lab scenario goes through both,
and the kinds must agree.  The table's rows are checked against real parsers fed real bytes.
"""

from __future__ import annotations

import http.client
import importlib
import socket
import warnings
from collections.abc import Iterator

import h11
import httpx
import pytest

from tether import Kind, classify, classify_status
from tether._parser_errors import PARSER_ERRORS, parser_kind
from tether.lab import SPECS, Lab
from tether.probe import ProbeOptions, probe
from tether.probe._h11rules import ProtocolError, ResponseReader

# Scenarios where the two differ by what they do, not by how they read an error.
NOT_COMPARABLE = {
    "reset_on_reuse": "httpx reuses the redirect's connection; the probe opens a new one",
    "close_on_reuse": "httpx reuses the redirect's connection; the probe opens a new one",
    "surplus_body": "httpx reuses the redirect's connection; the probe opens a new one",
    "bad_gzip": "httpx decodes Content-Encoding; the probe reads the body as sent",
    "upload_early_close": "the lab expects a large upload; the probe sends no body",
    "grpc_http1": "a grpc:// probe's verdict on an HTTP/1.1 port; httpx asks it over HTTP/1.1",
}
RESPONSE_LAYER = [
    name
    for name, kind, _ in SPECS
    if kind is not None
    and kind.value.split(".")[0] in ("response", "connection")
    and name not in NOT_COMPARABLE
]


def _httpx_kind(url: str) -> Kind | None:
    with (
        warnings.catch_warnings(),
        httpx.Client(timeout=1.5, trust_env=False, follow_redirects=True) as client,
    ):
        warnings.simplefilter("ignore", ResourceWarning)  # httpx's socket on a failure
        try:
            response = client.get(url)
            response.read()
        except httpx.HTTPError as exc:
            return classify(exc, url=url).kind
    failure = classify_status(response.status_code, response.headers, url=url)
    return failure.kind if failure else None


@pytest.mark.parametrize("name", RESPONSE_LAYER)
def test_probe_and_classify_agree(name: str, lab: Lab) -> None:
    """What diagnose reports for a response-layer fault is what classify makes of httpx's
    exception for it: both read by h11's rules, and both read h11's words through the table."""
    url = lab[name].url
    result = probe(url, ProbeOptions(timeout=1.5, env={}))
    probed = result.failure.kind if result.failure else None
    assert probed == _httpx_kind(url)


def test_the_comparison_covers_the_response_layer() -> None:
    """Every response.* and connection.* scenario is compared, or says why not."""
    layer = {n for n, k, _ in SPECS if k and k.value.split(".")[0] in ("response", "connection")}
    assert layer == set(RESPONSE_LAYER) | set(NOT_COMPARABLE)
    assert len(RESPONSE_LAYER) >= 20


# --- the table's rows -----------------------------------------------------------------------

_HOMES = {
    "aiohttp": ("aiohttp.http_exceptions", "aiohttp"),
    "builtins": ("builtins",),
    "h11": ("h11",),
    "http": ("http.client",),
    "httpcore": ("httpcore",),
    "httpx": ("httpx",),
    "tether": ("tether.probe._h11rules",),
    "urllib3": ("urllib3.exceptions",),
}


def _resolve(name: str) -> type:
    package, _, cls = name.partition(".")
    for module in _HOMES[package]:
        found = getattr(importlib.import_module(module), cls, None)
        if isinstance(found, type):
            return found
    raise AssertionError(f"{name} names no class")


@pytest.mark.parametrize("row", PARSER_ERRORS, ids=lambda r: f"{r.classes[0]}:{r.pattern}")
def test_every_row_names_real_classes(row: object) -> None:
    """A row's classes exist in the library it names (a typo would match nothing)."""
    for name in row.classes:  # type: ignore[attr-defined]
        cls = _resolve(name)
        assert issubclass(cls, BaseException)
        assert f"{cls.__module__.partition('.')[0]}.{cls.__name__}" == name


def _h11_error(data: bytes, *, eof: bool = True, limit: int = 16384) -> tuple[Exception, bool]:
    """h11 as a client, fed ``data`` (and the end of the stream): its error, and whether the
    response head had all arrived."""
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=limit)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "lab.test")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    if eof:
        conn.receive_data(b"")
    head_done = False
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            return exc, head_done
        if isinstance(event, h11.Response):
            head_done = True
        assert event is not h11.NEED_DATA, "h11 wanted more"
        assert not isinstance(event, h11.EndOfMessage), "h11 read a whole response"


OK = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize(
    ("data", "eof", "kind"),
    [
        (b"", True, Kind.CONNECTION_CLOSED),
        (b"HTTP/1.1 2", True, Kind.CONNECTION_CLOSED),
        (b"GARBAGE\r\n\r\n", True, Kind.RESPONSE_MALFORMED),
        (OK + b"no colon here\r\n\r\n", True, Kind.RESPONSE_MALFORMED),
        (OK + b"Content-Length: 3\r\nContent-Length: 12\r\n\r\n", True, Kind.RESPONSE_MALFORMED),
        (OK + b"Content-Length: -3\r\n\r\n", True, Kind.RESPONSE_MALFORMED),
        (OK + b"Transfer-Encoding: gzip\r\n\r\n", True, Kind.RESPONSE_MALFORMED),
        (OK + b"X: " + b"a" * 20000, False, Kind.RESPONSE_TOO_LARGE),
        (OK + b"Content-Length: 10\r\n\r\nabc", True, Kind.RESPONSE_TRUNCATED),
        (OK + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", True, Kind.RESPONSE_TRUNCATED),
        (OK + b"Transfer-Encoding: chunked\r\n\r\n3\r\nab", True, Kind.RESPONSE_TRUNCATED),
        (OK + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", True, Kind.RESPONSE_MALFORMED),
        (OK + b"Transfer-Encoding: chunked\r\n\r\n2\r\nokXX", True, Kind.RESPONSE_MALFORMED),
        (OK + b"Transfer-Encoding: chunked\r\n\r\n" + b"1" * 20000, False, Kind.RESPONSE_TOO_LARGE),
    ],
    ids=[
        "closed-at-once",
        "closed-mid-head",
        "garbage",
        "header-without-colon",
        "conflicting-length",
        "negative-length",
        "unsupported-transfer-encoding",
        "long-head",
        "cut-body",
        "cut-chunked",
        "cut-in-chunk",
        "bad-chunk-size",
        "bad-chunk-footer",
        "long-chunk-line",
    ],
)
def test_h11_errors(data: bytes, eof: bool, kind: Kind) -> None:
    """h11's real errors mean the kind the probe reports for them, and the probe's reader
    raises the same words for the same bytes."""
    exc, head_done = _h11_error(data, eof=eof)
    assert parser_kind(["h11.RemoteProtocolError"], str(exc), before_head=not head_done) is kind
    reader = ResponseReader("GET")
    reader.receive(data)
    if eof:
        reader.receive(b"")
    with pytest.raises(ProtocolError) as raised:
        _read_all(reader)
    assert str(raised.value) == str(exc)
    assert parser_kind(["tether.ProtocolError"], str(exc), before_head=not head_done) is kind


def _read_all(reader: ResponseReader) -> None:
    while reader.next_event() is not None:
        pass


@pytest.fixture
def peer() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair of real sockets: the test writes a response into one end."""
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def _http_client_error(peer: tuple[socket.socket, socket.socket], data: bytes) -> Exception:
    server, client = peer
    server.sendall(data)
    server.shutdown(socket.SHUT_WR)
    response = http.client.HTTPResponse(client, method="GET")
    try:
        response.begin()
        response.read()
    except Exception as exc:
        return exc
    finally:
        response.close()
    raise AssertionError("http.client read a whole response")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (OK + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n", Kind.RESPONSE_TOO_LARGE),
        (b"HTTP/1.1 200 " + b"x" * 70000 + b"\r\n\r\n", Kind.RESPONSE_TOO_LARGE),
        (OK + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", Kind.RESPONSE_MALFORMED),
        (OK + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", Kind.RESPONSE_TRUNCATED),
        (OK + b"Content-Length: 10\r\n\r\nabc", Kind.RESPONSE_TRUNCATED),
        (b"GARBAGE\r\n\r\n", Kind.RESPONSE_MALFORMED),
        (b"", Kind.CONNECTION_CLOSED),
    ],
    ids=[
        "too-many-headers",
        "long-status-line",
        "bad-chunk-size",
        "cut-chunked",
        "cut-body",
        "garbage",
        "closed",
    ],
)
def test_http_client_errors(
    data: bytes, kind: Kind, peer: tuple[socket.socket, socket.socket]
) -> None:
    """http.client's real errors, raised over a real socket, are classified by the table:
    a header count over 100 is a limit, a chunk-size line of 'zz' broken framing even
    though http.client raises IncompleteRead for it."""
    assert classify(_http_client_error(peer, data)).kind is kind


def test_builtin_rows_need_a_client() -> None:
    """The table's one builtin row (http.client's chunk-size ValueError) is read only when
    http.client raised it: the same ValueError from anywhere else is unknown."""
    assert [r.classes for r in PARSER_ERRORS if r.classes[0].startswith("builtins.")] == [
        ("builtins.ValueError",)
    ]
    assert classify(ValueError("invalid literal for int() with base 16: b'zz'")).kind is (
        Kind.UNKNOWN
    )
