"""One table of what an HTTP parser's error means, read by ``classify`` and by the probe.

The probe reads responses by h11's rules, as httpx does through httpcore (its reader,
``tether/probe/_h11rules.py``, keeps h11's rules and words without h11's machinery), so
a fault that ``tether diagnose`` reports and the exception a client raised for it go
through the same rows here and cannot be named differently.  The rows were audited against the
parsers' own sources: h11 0.16 (``_readers.py``, ``_headers.py``, ``_connection.py``,
``_state.py``), httpcore 1.0 (``_sync/http11.py``), httpx 0.28 (``_client.py``),
``http.client`` (3.11 to 3.13), urllib3 2.x (``response.py``, ``util/retry.py``) and
aiohttp 3.x (``http_parser.py``, ``_http_parser.pyx``).  Every limit a parser
enforces is ``response.too_large``; every framing or syntax error is
``response.malformed``, even where the class inherits from a truncation error
(urllib3's ``InvalidChunkLength`` is an ``IncompleteRead``); an end before the
announced end is ``response.truncated``; an end before any response is
``connection.closed``.

Classes are named as ``_classify`` names them: package and class name,
``"h11.RemoteProtocolError"``; a lookup walks the exception's MRO, so a subclass
without rows of its own reads through its parent's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tether._kinds import Kind

__all__ = ["PARSER_ERRORS", "ParserError", "parser_error", "parser_kind"]

Evidence = Literal["fact", "words", "wrapper"]


@dataclass(frozen=True, slots=True)
class ParserError:
    """One row: an exception class (and a message it carries) and the kind it means."""

    classes: tuple[str, ...]
    pattern: str
    """A regular expression searched for in the message; empty: any message."""
    kind: Kind
    evidence: Evidence = "fact"
    """How much the row alone says: a parser's specific error (``fact``), a library's
    words for it (``words``), or a generic wrapper's (``wrapper``)."""
    before_head: Kind | None = None
    """The kind instead, when the response's head had not all arrived."""


# h11 raises every receive error as RemoteProtocolError; httpcore and httpx raise their
# own RemoteProtocolError with h11's message (``raise to_exc(exc) from exc``), and the
# probe's reader its ProtocolError with h11's words (only the probe reads it).
_H11 = (
    "h11.RemoteProtocolError",
    "httpcore.RemoteProtocolError",
    "httpx.RemoteProtocolError",
    "tether.ProtocolError",
)

PARSER_ERRORS: tuple[ParserError, ...] = (
    # h11: max_incomplete_event_size bounds a head, a chunk-size line and a trailer.
    ParserError(_H11, r"^Receive buffer too long", Kind.RESPONSE_TOO_LARGE, "words"),
    ParserError(
        _H11,
        r"^peer closed connection without sending complete message body",
        Kind.RESPONSE_TRUNCATED,
        "words",
    ),
    # A close in the middle of a head or of a chunk-size line.
    ParserError(
        _H11,
        r"^peer unexpectedly closed connection",
        Kind.RESPONSE_TRUNCATED,
        "words",
        before_head=Kind.CONNECTION_CLOSED,
    ),
    # h11's state machine, when the server closes before a response starts.
    ParserError(
        _H11,
        r"^can't handle event type ConnectionClosed",
        Kind.RESPONSE_TRUNCATED,
        "words",
        before_head=Kind.CONNECTION_CLOSED,
    ),
    # httpcore words the same close its own way.
    ParserError(
        _H11,
        r"^Server disconnected without sending a response",
        Kind.CONNECTION_CLOSED,
        "words",
    ),
    # Everything else h11 can say on receiving is a syntax or framing error: illegal
    # status, header or chunk-size line, malformed chunk footer, bad or conflicting
    # Content-Length, an unsupported or repeated Transfer-Encoding, a continuation line
    # first, no status line, data after the end, a 101 nobody asked for; and httpx's
    # "Invalid URL in location header".
    ParserError(_H11, r"", Kind.RESPONSE_MALFORMED, "words"),
    # http.client (urllib; urllib3 and requests parse the head with it): _MAXLINE
    # (65536) bounds the status line, header lines, chunk-size lines and trailer lines,
    # _MAXHEADERS (100) the number of header fields.
    ParserError(("http.LineTooLong",), r"", Kind.RESPONSE_TOO_LARGE),
    ParserError(("http.HTTPException",), r"^got more than \d+ headers", Kind.RESPONSE_TOO_LARGE),
    ParserError(("http.BadStatusLine",), r"", Kind.RESPONSE_MALFORMED),
    ParserError(("http.UnknownProtocol",), r"", Kind.RESPONSE_MALFORMED),
    ParserError(("http.IncompleteRead",), r"", Kind.RESPONSE_TRUNCATED),
    # http.client's chunk-size line that is not hexadecimal: int() raises, with the line;
    # an empty line (b'') is the body cut before its next chunk, which IncompleteRead says.
    ParserError(
        ("builtins.ValueError",),
        r"^invalid literal for int\(\) with base 16: b(['\"])(?!\1)",
        Kind.RESPONSE_MALFORMED,
    ),
    # urllib3's own reader: InvalidChunkLength only for a line that is there but is
    # not hexadecimal (an empty one is "Response ended prematurely").
    ParserError(("urllib3.InvalidChunkLength",), r"", Kind.RESPONSE_MALFORMED),
    ParserError(("urllib3.IncompleteRead",), r"", Kind.RESPONSE_TRUNCATED),
    ParserError(
        ("urllib3.InvalidHeader",),
        r"^Content-Length contained multiple unmatching values|^Invalid Retry-After header",
        Kind.RESPONSE_MALFORMED,
    ),
    ParserError(("urllib3.HeaderParsingError",), r"", Kind.RESPONSE_MALFORMED, "words"),
    ParserError(("urllib3.DecodeError",), r"", Kind.RESPONSE_MALFORMED, "words"),
    ParserError(
        ("urllib3.ProtocolError",),
        r"^Response ended prematurely",
        Kind.RESPONSE_TRUNCATED,
        "words",
    ),
    # "Connection aborted." or "Connection broken: ...": the error it wraps says more.
    ParserError(("urllib3.ProtocolError",), r"", Kind.RESPONSE_MALFORMED, "wrapper"),
    # aiohttp's parsers (llhttp in C, or the Python one): max_line_size and
    # max_field_size, a count of header and trailer fields, a decompressed-size cap.
    ParserError(("aiohttp.LineTooLong",), r"", Kind.RESPONSE_TOO_LARGE),
    ParserError(("aiohttp.DecompressSizeError",), r"", Kind.RESPONSE_TOO_LARGE),
    ParserError(
        ("aiohttp.ContentLengthError", "aiohttp.TransferEncodingError"),
        r"Not enough data to satisfy",
        Kind.RESPONSE_TRUNCATED,
        "words",
    ),
    ParserError(
        ("aiohttp.BadHttpMessage",),
        r"Too many (?:headers|trailers) received",
        Kind.RESPONSE_TOO_LARGE,
    ),
    # Every other parser error: bad status line, invalid header, chunk size or
    # chunk-extension, CRLF missing after chunk data or a trailer, bad Content-Length,
    # data after Connection: close, undecodable Content-Encoding.
    ParserError(("aiohttp.BadHttpMessage",), r"", Kind.RESPONSE_MALFORMED),
)

_BY_CLASS: dict[str, list[ParserError]] = {}
for _row in PARSER_ERRORS:
    for _name in _row.classes:
        _BY_CLASS.setdefault(_name, []).append(_row)
_PATTERNS = {row.pattern: re.compile(row.pattern) for row in PARSER_ERRORS}


def parser_error(names: list[str], message: str) -> ParserError | None:
    """The first row for ``names`` (an exception's MRO, most derived first) whose
    pattern is found in ``message``."""
    for name in names:
        for row in _BY_CLASS.get(name, ()):
            if _PATTERNS[row.pattern].search(message):
                return row
    return None


def parser_kind(names: list[str], message: str, *, before_head: bool = False) -> Kind | None:
    """The kind a parser's error means: ``names`` as for :func:`parser_error`;
    ``before_head`` when the response's head had not all arrived."""
    row = parser_error(names, message)
    if row is None:
        return None
    return row.before_head if before_head and row.before_head else row.kind
