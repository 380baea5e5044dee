"""What a request carries, read in one place: the numbers of its query and headers, its
JSON body and the numbers in it (docs/security.md, "Limits on what a request may send").

A peer decides what these are, so each number is held to a documented range and
anything else is one 400 answer that names the field and says what to send.  A query's
or header's number is spelled as a JSON number of the digits 0-9 (``0.5``, ``1e-05``),
a whole one as plain digits: ``float()`` alone reads ``nan``, ``inf`` and ``٣``, and a
NaN timeout handed to the event loop corrupts its timer queue, and with it every check
(``1e309``, which is ``inf``, is past every range).  A body's number is a JSON number of
the range: a 310-digit integer is valid JSON, and one kept once made every later
``/metrics`` scrape fail.

A body is read up to :data:`MAX_BODY` bytes (past it a 413, said from its
``Content-Length`` before it is read), must be UTF-8, and may nest arrays and objects
:data:`MAX_DEPTH` deep: the depth is counted by a linear scan of its bytes before
``json.loads`` runs (100,000 brackets once made the parser's recursion fail with a
500), so nothing about a body's shape can raise past this module.  A form
(:func:`read_form`) is read the same way, once: a multipart form without its boundary,
a field that is not UTF-8 or of an unknown charset, or a body whose chunks or
``Content-Encoding`` do not decode is :class:`BadBody` too, never an exception of
aiohttp's (``request.post()`` raised ``ValueError`` for the first, a 500).  A handler
reads a body only once it has authorised the request (``_access.authorize``).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDict, MultiDictProxy

from tether._text import dotted, text_faults, visible
from tether.monitor.web._access import refusal

__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "BadBody",
    "body_number",
    "json_depth",
    "parse_json",
    "path_id",
    "query_text",
    "read_body",
    "read_form",
    "refuse_text",
    "request_number",
]

MAX_BODY: Final = 1 << 20
"""The largest body a JSON route takes, bytes (1 MiB)."""
MAX_DEPTH: Final = 32
"""The deepest a JSON body may nest arrays and objects (a report nests 3 deep)."""
MAX_FIELDS: Final = 1000
"""The most fields a form may have (aiohttp's own limit for a multipart form)."""
FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")
"""The content types of a form (a page's is the first)."""
_BODY: Final = web.RequestKey("tether.body", bytes)
_FORM: Final = web.RequestKey("tether.form", MultiDictProxy[str])

# A JSON number's spelling (what a client that serialises a number writes: 0.5, 1e-05),
# of the digits 0-9 alone, no longer than a float's; a whole number is plain digits.
_DECIMAL: Final = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,4})?", re.ASCII)
_WHOLE: Final = re.compile(r"-?[0-9]{1,12}", re.ASCII)


class BadBody(ValueError):
    """A body or one of its fields refused: ``status`` is 413 (too large) or 400, the
    message the answer's one line, starting with the field's name when it is a field."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _shown_bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _wanted(name: str, least: float, most: float, whole: bool) -> str:
    kind = "a whole number" if whole else "a number"
    return f"{name}: give {kind} from {_shown_bound(least)} to {_shown_bound(most)}"


def request_number(raw: str, name: str, *, least: float, most: float, whole: bool = False) -> float:
    """``raw`` (a query parameter's or header's text) as a number from ``least`` to
    ``most`` (a whole one with ``whole``); raise :class:`aiohttp.web.HTTPBadRequest` with
    ``name: give ... not 'raw'`` otherwise."""
    pattern = _WHOLE if whole else _DECIMAL
    if pattern.fullmatch(raw):
        value = float(raw)  # 1e999 is inf: out of every range
        if least <= value <= most:
            return value
    shown = raw if len(raw) <= 40 else raw[:39] + "…"
    raise web.HTTPBadRequest(text=f"{_wanted(name, least, most, whole)}, not {shown!r}\n")


def body_number(
    value: object,
    name: str,
    *,
    least: float,
    most: float,
    whole: bool = False,
    want: str | None = None,
) -> float:
    """``value`` (a field of a parsed JSON body) if it is a number from ``least`` to
    ``most`` (an integer with ``whole``); raise :class:`BadBody` naming ``name``
    otherwise, with ``want`` as what to give when the bounds alone would not say it.
    ``true`` is not 1, and an integer of any length is compared exactly, never turned
    into a float that cannot hold it."""
    # A chain of comparisons: exact for ints of any size, false for NaN.  A whole number
    # may be written 6470.0: JSON Schema's integer, as the API's document says it.
    if whole and type(value) is float and value.is_integer() and least <= value <= most:
        return int(value)
    number = type(value) is int or (type(value) is float and not whole)
    if number and least <= value <= most:  # type: ignore[operator]
        return value  # type: ignore[return-value]
    shown = json.dumps(value, ensure_ascii=False, default=lambda v: type(v).__name__)
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    wanted = _wanted(name, least, most, whole) if want is None else f"{name}: {want}"
    raise BadBody(f"{wanted}, not {shown}")


ID_DIGITS: Final = 18
"""The most digits of an id in a path (an incident's, a window's, a silence's): any
number of 18 digits fits the stores' 64-bit integers."""


def path_id(request: web.Request, what: str) -> int:
    """The ``{id}`` of ``request``'s path (``#12`` or ``12``), or a JSON 400 saying that
    ``what``'s id (``an incident's``) is a whole number: a path that is not one is a
    request of the route all the same, not a route that is not there (a 404)."""
    raw = request.match_info["id"].removeprefix("#")
    if not raw.isascii() or not raw.isdigit() or len(raw) > ID_DIGITS:
        shown = json.dumps(raw[:40], ensure_ascii=False)
        raise refusal(400, f"{what} id is a whole number of 1 to {ID_DIGITS} digits, not {shown}")
    return int(raw)


async def read_body(request: web.Request, limit: int = MAX_BODY) -> bytes:
    """The body, up to ``limit`` bytes, read once (a second call answers the same bytes);
    :class:`BadBody` (413) past it, said before reading when ``Content-Length`` gives it
    away, else once the bytes pass it; (400) when its framing or ``Content-Encoding``
    does not decode."""
    if _BODY in request:
        return request[_BODY]
    length = request.content_length
    if length is not None and length > limit:
        raise BadBody(f"the body is {length} bytes; {limit} at most", 413)
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > limit:
                raise BadBody(f"the body is over {limit} bytes; {limit} at most", 413)
            chunks.append(chunk)
    except (HttpProcessingError, RequestPayloadError) as exc:
        raise BadBody(f"the body could not be read: {payload_problem(exc)}") from None
    request[_BODY] = body = b"".join(chunks)
    return body


def payload_problem(exc: BaseException) -> str:
    """What aiohttp's parser said about a request it could not read, in one line: its
    message's first line alone (the lines after it quote the request's bytes, which may
    hold a header's secret, and are no one's to log)."""
    cause = exc.__cause__ if isinstance(exc, RequestPayloadError) else exc
    message = cause.message if isinstance(cause, HttpProcessingError) else str(cause)
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    line = lines[0].removesuffix(":") if lines else type(cause).__name__
    return line if len(line) <= 200 else line[:199] + "…"


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The form ``request`` carries (urlencoded or multipart), read once and kept for a
    second call (the login gate reads a session's ``csrf`` field, then the handler the
    rest).  :class:`BadBody` when it is not a form of text fields that can be read: 413
    past :data:`MAX_BODY` or :data:`MAX_FIELDS`, 400 otherwise."""
    if _FORM in request:
        return request[_FORM]
    fields: MultiDict[str] = MultiDict()
    if request.content_type == FORM_TYPES[1]:
        try:
            posted = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise BadBody(
                f"the form is over {MAX_BODY} bytes or {MAX_FIELDS} fields", 413
            ) from None
        except (HttpProcessingError, RequestPayloadError) as exc:
            raise BadBody(f"the body could not be read: {payload_problem(exc)}") from None
        except (ValueError, LookupError) as exc:  # no boundary, not UTF-8, no such charset
            raise BadBody(f"the body is not a multipart form: {exc}"[:200]) from None
        for key, value in posted.items():
            if not isinstance(value, str):
                raise BadBody(f"the form carries a file ({key[:40]!r}): send its fields as text")
            fields.add(key, value)
    else:
        body = await read_body(request)
        charset = request.charset or "utf-8"
        try:
            text = body.decode(charset).rstrip()
            pairs = parse_qsl(
                text,
                keep_blank_values=True,
                encoding=charset,
                errors="strict",
                max_num_fields=MAX_FIELDS,
            )
        except UnicodeDecodeError:
            raise BadBody(
                f"the form is not {charset}: send its fields percent-encoded UTF-8"
            ) from None
        except LookupError:
            raise BadBody(f"the form's charset {charset[:40]!r} is not one") from None
        except ValueError:
            raise BadBody(f"the form has more than {MAX_FIELDS} fields", 413) from None
        fields.extend(pairs)
    for key, value in fields.items():
        refuse_text(value, visible(key)[:40])
        refuse_text(key, "a field's name")
    request[_FORM] = form = MultiDictProxy(fields)
    return form


@web.middleware
async def query_text(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The one gate for a query's text under ``/api/`` (a push's ``msg``, an agent's
    ``version``): a JSON 400 naming the parameter when one holds a control character or a
    noncharacter (a lone surrogate cannot come: yarl reads its bytes as U+FFFD)."""
    query = request.rel_url.raw_query_string
    if query and request.path.startswith("/api/") and ("%" in query or not query.isascii()):
        for key, value in request.query.items():
            try:
                refuse_text(key, "a parameter's name")
                refuse_text(value, visible(key)[:40])
            except BadBody as exc:
                return web.json_response({"error": str(exc)}, status=400)
    return await handler(request)


def refuse_text(value: Any, where: str = "") -> None:
    """The one gate for text from outside (issue 72 §1): :class:`BadBody` (400) naming the
    field (``reason``, ``results[3].detail``) when any string in ``value``, a field's name
    or its value, holds what no store, page or feed can carry: a lone surrogate, a control
    character other than tab and the line ends, a noncharacter (``tether._text``)."""
    for path, problem in text_faults(value):
        raise BadBody(f"{dotted(path, where) or 'the body'}: {problem}")


# A JSON string, escapes and all: what the depth scan leaves out.  Unrolled (no
# alternation per character), and once begun it always matches (an unterminated
# string runs to the end, the closing quote optional), so the scan never backtracks
# and stays linear for any bytes, valid JSON or not.
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_STEP: Final = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


def _depths(body: bytes) -> Iterator[int]:
    """The depth after each bracket of ``body`` outside its strings, in order."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return itertools.accumulate(map(_STEP.__getitem__, brackets))


def json_depth(body: bytes) -> int:
    """How deep the JSON document ``body`` nests arrays and objects (``1`` for ``[]``,
    ``0`` for a scalar), counted without parsing: brackets outside strings, in one pass.
    For a body that is not JSON, a number that ``json.loads`` would not agree with, but
    that never raises."""
    return max(0, max(_depths(body), default=0))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes, *, depth: int = MAX_DEPTH) -> Any:
    """The JSON document ``body`` holds; :class:`BadBody` (400) when it is not UTF-8, is
    nested deeper than ``depth`` (checked before parsing), is not JSON (``NaN`` and
    ``Infinity``, which Python's ``json`` reads, are not), or holds text no store or page can
    carry (:func:`refuse_text`: a lone surrogate's escape, a control character)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not JSON: not UTF-8 at byte {exc.start}") from None
    # Counting every bracket is cheap: only a body with more of them than the limit
    # could nest past it, and only that one is scanned, up to its first bracket past it.
    if body.count(b"[") + body.count(b"{") > depth and any(d > depth for d in _depths(body)):
        raise BadBody(f"the body nests arrays and objects more than {depth} deep")
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise BadBody(f"the body is not JSON: {exc}") from None
    # Raw control characters are not JSON: one can come only escaped, as can a lone
    # surrogate; DEL and the noncharacters may come as they are.
    if "\\" in text or "\x7f" in text or not text.isascii():
        refuse_text(document)
    return document
