"""Errors tether raises itself, when no attempt left an exception to re-raise."""

from __future__ import annotations

from tether._failure import Failure
from tether._kinds import Kind


class TetherError(Exception):
    """A call tether ended before any attempt raised; ``failure`` says why."""

    failure: Failure | None

    def __init__(self, message: str, failure: Failure | None = None) -> None:
        super().__init__(message)
        self.failure = failure


class CircuitOpenError(TetherError, ConnectionError):
    """The endpoint's circuit breaker is open: no request was sent."""


class DeadlineExceededError(TetherError, TimeoutError):
    """The call's deadline passed before an attempt could start."""


class BulkheadFullError(TetherError, ConnectionError):
    """The endpoint's concurrency limit was reached and no slot came free in time: no
    request was sent (``bulkhead.full``)."""


class ThrottledError(TetherError, ConnectionError):
    """Client-side throttling dropped the call: no request was sent (``throttle.rejected``)."""


OWN_ERRORS: dict[Kind, type[TetherError]] = {
    Kind.CIRCUIT_OPEN: CircuitOpenError,
    Kind.DEADLINE_EXCEEDED: DeadlineExceededError,
    Kind.BULKHEAD_FULL: BulkheadFullError,
    Kind.THROTTLE_REJECTED: ThrottledError,
}
"""The error tether raises for a call it ended before any attempt raised, by kind."""
