"""``1 redirect``, ``2 redirects``: the one home of a count written with its noun, and of
a list written as a sentence (``a, b and c``, or ``a, b, c and 309 more``)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["and_more", "count", "joined"]


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1 (``noun + "s"`` unless
    ``plural`` is given): ``count(1, "redirect")`` is ``1 redirect``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def joined(items: Sequence[str], last: str = "and") -> str:
    """Items as a sentence lists them: ``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def and_more(names: Sequence[str], n: int) -> str:
    """``a, b, c and 309 more`` of ``n`` names whose first ``names`` are known (all of
    them: ``a, b and c``)."""
    if n <= len(names):
        return joined(list(names))
    return f"{', '.join(names)} and {n - len(names):,} more"
