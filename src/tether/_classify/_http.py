"""What HTTP says in an exception: a status and its ``Retry-After``, a proxy's refusal,
a parser's error, a URL that is not one.

The status mapping (:func:`status_kind`) and :func:`parse_retry_after` serve
``classify_status`` and the retry loop too; the rules read the standard library's HTTP
exceptions (http.client, urllib) and the parts of the HTTP libraries' that carry a
response or a proxy's answer.  Parsers' errors go through the table in
``_parser_errors``, which the probe reads too.
"""

from __future__ import annotations

import re
import time
from typing import Any

from tether._classify._evidence import FACT, LIBRARY, WRAPPER, Evidence, first_line, note_url
from tether._classify._origin import class_names
from tether._kinds import Kind
from tether._parser_errors import parser_error


def status_kind(status: int) -> Kind | None:
    if status < 400:
        return None
    if status == 407:
        return Kind.PROXY_AUTH_REQUIRED
    if status == 429:
        return Kind.HTTP_RATE_LIMITED
    if status < 500:
        return Kind.HTTP_CLIENT_ERROR
    return Kind.HTTP_SERVER_ERROR


# 408 Request Timeout and 425 Too Early invite a retry; of the 5xx, only the
# ones that say "not now" do: a 500 is usually a bug, a 501 never changes.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    Negative or unparsable values give None; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    # An HTTP-date is rare beside delta-seconds, and email.utils costs `import tether`
    # some 6 ms (a fifth of it): loaded by the first date that needs it.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def header_value(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
        if value is None and isinstance(headers, dict):
            value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def tunnel_status(exc: BaseException, ev: Evidence, depth: int) -> None:
    """urllib3 and httpcore word a refused CONNECT as "... 407 Proxy Authentication Required"."""
    match = re.search(r"(?:Tunnel connection failed|CONNECT)\D*?(\d{3})", str(exc)) or (
        re.search(r"^(\d{3}) ", str(exc))
    )
    if match:
        ev.proxy = True
        proxy_status(int(match[1]), ev, depth)


def proxy_status(status: int, ev: Evidence, depth: int) -> None:
    ev.status = status
    kind = Kind.PROXY_AUTH_REQUIRED if status == 407 else Kind.PROXY_REJECTED
    ev.offer(kind, FACT, depth)


def response_status(exc: BaseException, ev: Evidence, depth: int) -> None:
    """requests' and httpx's HTTPError, urllib's HTTPError: the response they carry."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None)
    if status is None:  # urllib.error.HTTPError is the response itself
        status, headers = getattr(exc, "code", None), getattr(exc, "headers", None)
    if isinstance(status, int):
        if status < 400 and "redirect" in str(exc).lower():  # urllib's loop detector
            ev.status = status
            ev.offer(Kind.HTTP_REDIRECT_LOOP, FACT, depth)
            return
        offer_status(status, headers, ev, depth, FACT)
        request = getattr(response, "request", None)
        note_url(getattr(request, "url", None), ev)


def offer_status(status: int, headers: Any, ev: Evidence, depth: int, strength: int) -> None:
    kind = status_kind(status)
    if kind is not None:
        ev.status, ev.headers = status, headers
        ev.offer(kind, strength, depth)


def remote_disconnected(exc: BaseException, ev: Evidence, depth: int) -> None:
    ev.offer(Kind.CONNECTION_CLOSED, FACT, depth)


def incomplete_read(exc: BaseException, ev: Evidence, depth: int) -> None:
    partial, expected = getattr(exc, "partial", None), getattr(exc, "expected", None)
    got = partial if isinstance(partial, int) else len(partial) if partial is not None else None
    detail = None
    if isinstance(got, int) and isinstance(expected, int):
        detail = f"{got} bytes arrived, {expected} more were announced"
    read_parser_error(exc, ev, depth, detail)


def read_parser_error(
    exc: BaseException, ev: Evidence, depth: int, detail: str | None = None
) -> bool:
    """A parser's error, read through the table the probe reads too (``_parser_errors``)."""
    row = parser_error(class_names(type(exc)), str(exc))
    if row is None:
        return False
    ev.offer(row.kind, _EVIDENCE[row.evidence], depth, detail or first_line(exc))
    return True


def parser_rule(exc: BaseException, ev: Evidence, depth: int) -> None:
    read_parser_error(exc, ev, depth)


_EVIDENCE = {"fact": FACT, "words": LIBRARY, "wrapper": WRAPPER}


def url_invalid(exc: BaseException, ev: Evidence, depth: int) -> None:
    ev.offer(Kind.URL_INVALID, FACT, depth, first_line(exc))


def value_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    """urllib.request, http.client and the IDNA codec report bad URLs, and http.client a
    chunk-size line that is not hexadecimal, as plain ValueError/UnicodeError: their
    words mean something only when one of those clients raised them."""
    if not ev.known or read_parser_error(exc, ev, depth):
        return
    text = str(exc)
    if (
        "unknown url type" in text
        or "idna" in text
        or "label" in text
        or "Invalid IPv6 URL" in text
        or "Port out of range" in text
        or ("invalid literal for int" in text and depth == 0)
    ):
        ev.offer(Kind.URL_INVALID, LIBRARY, depth, text)


def url_error(exc: BaseException, ev: Evidence, depth: int) -> None:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and ("unknown url type" in reason or reason == "no host given"):
        ev.offer(Kind.URL_INVALID, FACT, depth, reason)
