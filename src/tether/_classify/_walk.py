"""The walk over an exception's chain: every exception it wraps, and the peer and URL
the HTTP libraries attach.

requests wraps urllib3's ``MaxRetryError``, whose ``reason`` is the real error; httpx
chains httpcore's error, which chains the ``OSError``; aiohttp keeps it in ``os_error``
or ``certificate_error``.  The walk follows every such link.
"""

from __future__ import annotations

from typing import Any

from tether._classify._evidence import Evidence, note_url
from tether._classify._origin import client_class, client_code, raised_at

_MAX_NODES = 24


def _children(exc: BaseException) -> list[BaseException]:
    """The exceptions ``exc`` wraps, explicit links first."""
    # Plain loops: this runs for every node of every chain classified.
    found = []
    # The links are read from the instance's own attributes, not through the class: a
    # property of another library may warn (websockets' deprecated ConnectionClosed.reason)
    # or raise.  aiohttp's os_error and certificate_error alone are properties.
    own: dict[str, Any] = getattr(exc, "__dict__", None) or {}
    for attr in _LINKS:
        inner = own.get(attr)
        if inner is None and attr in _PROPERTY_LINKS:
            try:
                inner = getattr(exc, attr, None)
            except Exception:
                inner = None
        if inner is not None and isinstance(inner, BaseException):
            found.append(inner)
    for arg in exc.args[:3]:  # requests and urllib3 wrap the cause in args
        if isinstance(arg, BaseException):
            found.append(arg)
    errors = own.get("errors")  # paramiko: one socket error per address
    if isinstance(errors, dict):
        found += [e for e in list(errors.values())[:4] if isinstance(e, BaseException)]
    if isinstance(exc, BaseExceptionGroup):
        found += exc.exceptions
    if exc.__cause__ is not None:
        found.append(exc.__cause__)
    elif not found and exc.__context__ is not None and not exc.__suppress_context__:
        found.append(exc.__context__)
    return found


# urllib3's reason, botocore's original_error, aiohttp's os_error and certificate_error,
# SQLAlchemy's orig (the driver's exception), pika's exception (a phase's error).
_LINKS = ("reason", "original_error", "os_error", "certificate_error", "orig", "exception")
_PROPERTY_LINKS = frozenset({"os_error", "certificate_error"})


def walk(exc: BaseException) -> list[tuple[BaseException, int, bool]]:
    """Every exception in the chain, depth first, outermost first; cycles cut.  With each,
    whether it came from a known client: its class is one of theirs, their code raised
    it, or it is wrapped in an exception that did."""
    seen: set[int] = set()
    order: list[tuple[BaseException, int, bool]] = []
    stack = [(exc, 0, False)]
    while stack and len(order) < _MAX_NODES:
        node, depth, inherited = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        known = inherited or client_class(type(node)) or client_code(raised_at(node))
        order.append((node, depth, known))
        for child in reversed(_children(node)):
            stack.append((child, depth + 1, known))
    return order


_peer_cache: dict[type, bool] = {}


def carries_peer(cls: type) -> bool:
    """Only the HTTP libraries' exceptions carry connections, requests or URLs."""
    known = _peer_cache.get(cls)
    if known is None:
        known = cls.__module__.partition(".")[0] in (
            "urllib3",
            "requests",
            "httpx",
            "httpcore",
            "aiohttp",
        )
        _peer_cache[cls] = known
    return known


def note_peer(exc: BaseException, ev: Evidence, depth: int) -> None:
    """Pick up where the failure happened, from whatever the library attached."""
    conn = getattr(exc, "conn", None)  # urllib3 NewConnectionError / NameResolutionError
    if conn is None and exc.args and hasattr(exc.args[0], "host"):  # urllib3 ConnectTimeoutError
        conn = exc.args[0]
    if conn is not None:
        ev.at(getattr(conn, "host", None), getattr(conn, "port", None), depth)
    # httpx raises RuntimeError from .request when it is unset: read its slot first.
    request = vars(exc).get("_request") if hasattr(exc, "__dict__") else None
    if request is None:
        try:
            request = getattr(exc, "request", None)
        except Exception:
            request = None
    note_url(getattr(request, "url", None), ev)
    _note_body_size(request, ev)


def _note_body_size(request: Any, ev: Evidence) -> None:
    """The size of the request's body, from the Content-Length of the request that requests
    and httpx attach to their errors: what a write that did not finish was sending."""
    headers = getattr(request, "headers", None)
    try:
        length = headers.get("Content-Length") if headers is not None else None
    except Exception:  # not a mapping after all
        return
    if isinstance(length, str) and length.isdigit() and ev.body_size is None:
        ev.body_size = int(length)
