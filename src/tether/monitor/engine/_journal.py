"""The order in which monitors' states changed, for readers that keep a view of every
monitor between reads (the overview's and ``/api/status``' states: :class:`~tether.
monitor.web.documents._board.StateBoard`) and bring it up to date by difference.

A reader remembers the position it read up to; :meth:`Journal.between` gives the names
marked since, or None when the journal dropped part of them (the reader builds its view
whole, as it does the first time).  Written on the event loop and read on worker threads:
the marks and their base position are replaced together, in one attribute, so a reader
always sees a list and a base that belong together.
"""

from __future__ import annotations

from typing import Final

__all__ = ["Journal"]

KEPT: Final = 1 << 18
"""Marks kept at most (about 2 MB of references); past it, the older half is dropped. A
reader that falls that far behind (in a wave, over 260,000 changes between two of its
reads) builds its view whole once."""


class Journal:
    """Monitors' names, marked in the order their states changed (a name once per change)."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = max(2, kept)
        self._log: tuple[int, list[str]] = (0, [])
        """The position of the first mark kept, and the marks from it on."""

    def mark(self, name: str) -> None:
        """``name``'s state changed (or it was added or removed)."""
        base, names = self._log
        names.append(name)
        if len(names) > self._kept:
            cut = len(names) // 2
            self._log = (base + cut, names[cut:])

    @property
    def end(self) -> int:
        """The position after the last mark: what a reader has read up to once it read all."""
        base, names = self._log
        return base + len(names)

    def between(self, start: int, end: int) -> list[str] | None:
        """The names marked from position ``start`` up to ``end`` (a reader's last position
        and the :attr:`end` it read with its states), or None when some of them were
        dropped; none when ``end`` is not past ``start``."""
        base, names = self._log
        if end <= start:
            return []
        if start < base:
            return None
        return names[start - base : end - base]
