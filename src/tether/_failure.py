"""``Failure``: one precise, stable answer about what went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

from tether._hostport import join_hostport
from tether._kinds import Kind, Layer


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified network failure.

    Built by :func:`tether.classify` and :func:`tether.classify_status`; never
    raised.  ``kind`` is the stable code to branch on; ``detail`` and ``hint``
    are for people.
    """

    kind: Kind
    layer: Layer
    retryable: bool
    """Could a later retry of the same request succeed?"""
    request_sent: bool
    """May the server have received, and acted on, the request?  If so, only
    idempotent requests may be retried."""
    detail: str
    """One sentence, specific to this failure."""
    hint: str
    """What to do about it."""
    host: str | None = None
    port: int | None = None
    url: str | None = None
    """The URL, with credentials redacted."""
    status: int | None = None
    retry_after: float | None = None
    """Seconds to wait, from a ``Retry-After`` header (seconds or HTTP date)."""
    errno: int | None = None
    cause: BaseException | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        where = _hostport(self.host, self.port) or self.url
        if self.status is not None:
            where = f"{where} {self.status}" if where else str(self.status)
        return f"<Failure {self.kind.value} {where}>" if where else f"<Failure {self.kind.value}>"

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"


def _hostport(host: str | None, port: int | None) -> str:
    if host is None:
        return ""
    return join_hostport(host, port)
