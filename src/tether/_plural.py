"""``1 redirect``, ``2 redirects``: the one home of a count written with its noun."""

from __future__ import annotations

__all__ = ["count"]


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1 (``noun + "s"`` unless
    ``plural`` is given): ``count(1, "redirect")`` is ``1 redirect``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
