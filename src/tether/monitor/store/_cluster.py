"""Several instances on one database: what each one probes, which one leads, and what
the leader reads of the others' findings.

(The leases and the leader come in the next part of this module.)

:class:`LocationFeed` is what the leader keeps of every monitor's state at every
location, brought up to date from the rows the probing instances wrote since its
last read (:meth:`Store.location_states`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from tether.monitor._records import LocationState

__all__ = ["FEED_OVERLAP", "LocationFeed"]

FEED_OVERLAP: Final = 30.0
"""Seconds each read of changed location states goes back before the newest row seen.

A row is stamped with the database's clock when its statement runs, and becomes
visible when its transaction commits, a moment later: rows become visible in another
order than their stamps.  Reading from the newest stamp alone would miss a row stamped
just before it and committed just after the read.  A writer's transaction lasts well
under a second (a batch of results); 30 s leaves room for a slow one."""


@dataclass(slots=True)
class LocationFeed:
    """What the leader knows of each monitor's state at each location, and where its next
    read starts.  The leader owns it; it reads nothing itself.

    Reading again is harmless: every read goes :attr:`overlap` seconds back, so rows come
    more than once, and :meth:`take` reports a row only when it differs from the one it
    holds for that monitor and location (a row is the whole state there, so taking the
    same one twice changes nothing).  A row whose transaction took longer than
    ``overlap`` to commit would still be missed: :meth:`reset` makes the next read a full
    one (do it when leadership is gained, and now and then, every few minutes).

    The cursor is a value of the database's own clock (the rows' ``updated``), never
    tether's: no clock skew between instances and the database moves it.
    """

    overlap: float = FEED_OVERLAP
    states: dict[tuple[str, str], LocationState] = field(default_factory=dict)
    """Each (monitor, location)'s latest state."""
    newest: float | None = None
    """The latest ``updated`` taken, or None: the next read is a full one."""

    def since(self) -> float | None:
        """Where the next read starts (``Store.location_states(since=...)``); None for all."""
        return None if self.newest is None else self.newest - self.overlap

    def take(self, rows: Iterable[LocationState]) -> list[LocationState]:
        """Take the rows of a read; the ones that are news (new, or unlike the one held)."""
        news: list[LocationState] = []
        for row in rows:
            key = (row.monitor, row.location)
            held = self.states.get(key)
            if held is None or _content(held) != _content(row):
                news.append(row)
            self.states[key] = row
            if row.updated is not None and (self.newest is None or row.updated > self.newest):
                self.newest = row.updated
        return news

    def reset(self) -> None:
        """Make the next read a full one (what is held stays, so only news is reported)."""
        self.newest = None


def _content(state: LocationState) -> LocationState:
    """A state without its stamp: written again unchanged, it is no news."""
    return dataclasses.replace(state, updated=None)
