"""What the database clients (:mod:`._postgres`, :mod:`._mysql`, :mod:`._redis`) share:
a failure scrubbed of the URL's password, a first value as ``[RESULT]`` holds it."""

from __future__ import annotations

from tether._classify import failure_for
from tether._failure import Failure
from tether._kinds import Kind
from tether.probe._dboptions import DatabaseUrl
from tether.probe._target import Target


def db_failure(kind: Kind, detail: str, t: Target, url: DatabaseUrl) -> Failure:
    """A failure of a database check, its detail scrubbed of the URL's password."""
    return failure_for(kind, scrub(detail, url), url=t.url, host=t.ascii_host, port=t.port)


def scrub(text: str, url: DatabaseUrl) -> str:
    """``text`` with the URL's password masked, wherever a server or client repeated it,
    on one line, and every character that is not printable written as its escape (a
    hostile server's bytes reach a terminal through this text: ``\x1b`` stays four
    characters)."""
    text = " ".join(text.split())  # one line: libpq's messages span several
    if url.password and len(url.password) >= 3:
        text = text.replace(url.password, "***")
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return text if len(text) <= 300 else text[:299] + "…"


def first_value(value: object) -> str | int | float | bool | None:
    """A first column as ``[RESULT]`` compares it: a number stays one (a ``Decimal`` too),
    bytes are text, anything else its text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def timeout_ms(seconds: float) -> int:
    """A statement timeout in whole milliseconds, one at least."""
    return max(1, int(seconds * 1000))


def statement_limit(timeout: float) -> float:
    """The server's own limit on a check's query, in seconds: the check's ``timeout`` less
    a tenth of it, and less at least a second (half the timeout where it is shorter), so
    that a slow query is named by the server's error (SQLSTATE 57014, MariaDB's 1969)
    rather than cut off by the client's timer, which runs from before the connection and
    the login, on a machine that may be busy."""
    return max(0.001, round(timeout - max(timeout / 10, min(1.0, timeout / 2)), 3))
