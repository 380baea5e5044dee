"""Errors tether raises itself, when no attempt left an exception to re-raise."""

from __future__ import annotations

from tether._failure import Failure


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
