"""What a walk over an exception's chain learns, and the rules' common vocabulary.

A rule reads one exception and offers a kind with a strength (:data:`FACT` beats
:data:`LIBRARY`, which beats :data:`WRAPPER`, which beats :data:`CONTEXT`; among equals
the deepest wins), or notes a context (proxy, connect, read, write, tls) that decides
what a bare timeout or refusal means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tether._kinds import Kind

# Evidence strengths.
CONTEXT = 0  # a bare timeout: its kind depends on where it happened
WRAPPER = 1  # a generic wrapper class: requests' ReadTimeout, aiohttp's ClientPayloadError
LIBRARY = 2  # a library's specific class or message: "Server disconnected"
FACT = 3  # errno, gaierror code, verify_code, SSL reason, HTTP status

TIMEOUT = "timeout"  # placeholder kind for a timeout whose phase is not known yet
# A TimeoutError nothing says came from a network client (``future.result(timeout=)``,
# ``asyncio.wait_for``): a deadline if a cancellation inside a client's I/O caused it.
BARE_TIMEOUT = "bare timeout"
# A TimeoutError with no words at all, from code that is not a client's: what
# ``asyncio.timeout``, ``asyncio.wait_for`` and ``concurrent.futures`` raise when a caller's
# own time bound cuts a call short.  A timeout of the phase its cancellation shows (a
# driver's connect, an HTTP client's I/O under a deadline), or else a read timeout.
WORDLESS_TIMEOUT = "wordless timeout"


class Evidence:
    """What the walk has learnt so far; a scratch object, never returned."""

    __slots__ = (
        "best",
        "best_rank",
        "body_size",
        "connect",
        "deadline",
        "detail",
        "errno",
        "handshake",
        "headers",
        "host",
        "known",
        "port",
        "proxy",
        "pushback",
        "read",
        "retryable",
        "status",
        "timeouts",
        "tls",
        "tls_wait",
        "undone",
        "url",
        "write",
    )

    def __init__(self, url: str | None) -> None:
        self.best: Kind | str | None = None
        self.best_rank: tuple[int, int] = (-1, -1)
        self.detail: str | None = None
        self.errno: int | None = None
        self.status: int | None = None
        self.headers: Any = None
        self.host: str | None = None
        self.port: int | None = None
        self.url = url
        self.proxy = False
        self.connect = False
        self.read = False
        self.tls = False
        self.tls_wait = False
        self.write = False
        self.body_size: int | None = None
        self.deadline = False
        self.timeouts: list[BaseException] = []
        self.known = False
        """Whether the exception being read came from a client whose messages are known."""
        self.handshake = False
        """The failure happened in a client's own connection handshake (a database's
        startup, an SSH banner, a server's greeting), before the query or call left."""
        self.undone = False
        """The server refused the work or rolled it back (a transaction that lost a
        conflict): nothing of it took effect, though it was sent."""
        self.pushback: float | None = None
        """Seconds a gRPC server asked the client to wait before its next attempt
        (``grpc-retry-pushback-ms``, gRFC A6): the failure's ``retry_after``."""
        self.retryable: bool | None = None
        """What the server said of a retry, where the kind alone does not decide it (a
        gRPC status, a SQLSTATE of a transaction that lost a conflict)."""

    def offer(
        self,
        kind: Kind | str,
        strength: int,
        depth: int,
        detail: str | None = None,
    ) -> None:
        rank = (strength, depth)
        if rank >= self.best_rank:
            self.best, self.best_rank = kind, rank
            self.detail = detail

    def at(self, host: Any, port: Any, depth: int) -> None:
        """Note the peer; deeper nodes know the real peer (the proxy, not the target)."""
        if isinstance(host, str) and host:
            self.host = host.strip("[]")
            if isinstance(port, int) and not isinstance(port, bool):
                self.port = port


Rule = Callable[[BaseException, Evidence, int], None]


def note_url(url: Any, ev: Evidence) -> None:
    if url is not None and ev.url is None:
        ev.url = str(url)


def attribute(exc: BaseException, name: str) -> Any:
    """``exc.name``, or None when it is missing or its property fails (a client's exception
    built by hand: pika's ``reply_code`` reads an ``args`` it may not have)."""
    try:
        return getattr(exc, name, None)
    except Exception:
        return None


def text_of(exc: BaseException) -> str:
    """``str(exc)``, or nothing when its ``__str__`` fails (a client's exception built by
    hand, missing what its own code sets)."""
    try:
        return str(exc)
    except Exception:
        return ""


def first_line(exc: BaseException) -> str | None:
    try:
        text = str(exc).strip()
    except Exception:  # an exception whose __str__ fails is still classified
        return None
    return text.splitlines()[0][:200] if text else None


def fixed(kind: Kind, strength: int = FACT, *, context: str | None = None) -> Rule:
    """A rule that offers ``kind``, and notes a context (proxy, connect, read, tls)."""

    def rule(exc: BaseException, ev: Evidence, depth: int) -> None:
        if context:
            setattr(ev, context, True)
        ev.offer(kind, strength, depth, first_line(exc))

    return rule


def context(*flags: str, kind: Kind | str | None = None, strength: int = WRAPPER) -> Rule:
    def rule(exc: BaseException, ev: Evidence, depth: int) -> None:
        for flag in flags:
            setattr(ev, flag, True)
        if kind is not None:
            ev.offer(kind, strength, depth)

    return rule
