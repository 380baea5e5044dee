"""The switch behind :mod:`tether.testing`: no real waits, fewer attempts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(slots=True)
class Override:
    attempts: int | None
    waits: list[float] = field(default_factory=list)
    """Every wait the loop skipped, in order."""


ACTIVE: ContextVar[tuple[Override, ...]] = ContextVar("tether_fast_retries", default=())
"""A stack: the innermost ``tether.testing.fast_retries()`` wins.  A context variable,
so that an override is seen by the code it wraps (and by the tasks it starts, which copy
their context) and by nothing else: not by another test's thread, nor another task."""


def current() -> Override | None:
    stack = ACTIVE.get()
    return stack[-1] if stack else None


@contextmanager
def overriding(override: Override) -> Iterator[Override]:
    """``override`` in force in this context until the block ends."""
    token = ACTIVE.set((*ACTIVE.get(), override))
    try:
        yield override
    finally:
        ACTIVE.reset(token)
