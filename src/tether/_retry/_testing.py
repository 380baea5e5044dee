"""The switch behind :mod:`tether.testing`: no real waits, fewer attempts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Override:
    attempts: int | None
    waits: list[float] = field(default_factory=list)
    """Every wait the loop skipped, in order."""


active: list[Override] = []
"""A stack: the innermost ``tether.testing.fast_retries()`` wins."""


def current() -> Override | None:
    return active[-1] if active else None
