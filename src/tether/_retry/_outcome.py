"""What one call under the retry loop ended with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from tether._failure import Failure

R = TypeVar("R")

EXHAUSTED = "every attempt it could make failed"
"""The reason a call gives up when nothing but its attempts ran out."""


@dataclass(slots=True)
class Outcome(Generic[R]):
    """What the call ended with: a response, an error, or neither (stopped before sending)."""

    response: R | None
    error: BaseException | None
    failure: Failure | None
    reason: str = ""
