"""The outbox's gate for silences: an alert due while a silence selects it is kept from its
channel, recorded as suppressed with the silence named (``silenced by #4 (deploy, by
ana)``).

The decision is made at delivery, on the instance that delivers, from the silences in the
store (read at most once a second, so one made on any instance of a cluster is honoured by
every one within a second).  Alertmanager decides again at each notification; tether
decides once, when the alert is due, and records the answer: an alert kept stays kept, so
an expired silence replays nothing, and nothing kept is lost (the outbox's row stays, with
why).  An alert is matched on its routing labels (``routing_labels``): the monitor's own,
with ``monitor``, ``event``, ``kind`` and ``incident`` beside them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Final

from tether.monitor._records import AlertPayload, QueuedAlert
from tether.monitor.alerts._routes import routing_labels
from tether.monitor.engine._silences import Silence, silencing

__all__ = ["REFRESH", "SilenceGate", "silence_labels"]

REFRESH: Final = 1.0
"""Seconds the gate keeps the silences it read before reading them again."""


def silence_labels(payload: AlertPayload) -> dict[str, str]:
    """The labels a silence matches an alert on (those a route matches it on)."""
    return routing_labels(
        payload.labels,
        monitor=payload.monitor,
        event=payload.event,
        kind=None if payload.kind is None else payload.kind.value,
        incident=payload.incident,
    )


class SilenceGate:
    """An outbox gate (``Outbox(gates=[...])``): why a silence keeps ``alert`` at ``now``,
    or None.  ``read(now)`` gives the silences not over (``Store.silences_in_force``); its
    answer is kept for :data:`REFRESH` seconds of the outbox's clock.  A read that fails
    raises, and the outbox lets the alert go: a broken silence never loses a page."""

    def __init__(
        self, read: Callable[[float], Sequence[Silence]], *, refresh: float = REFRESH
    ) -> None:
        self._read = read
        self._refresh = refresh
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._silences: tuple[Silence, ...] = ()

    def __repr__(self) -> str:
        return "<SilenceGate>"

    def silences(self, now: float) -> tuple[Silence, ...]:
        """The silences not over, as last read (again when older than the refresh, or
        read at a later time than ``now``: a clock set back)."""
        with self._lock:
            at = self._read_at
            if at is None or not (at <= now < at + self._refresh):
                self._silences = tuple(self._read(now))
                self._read_at = now
            return self._silences

    def forget(self) -> None:
        """Read the store again at the next alert (this instance made or expired one)."""
        with self._lock:
            self._read_at = None

    def __call__(self, alert: QueuedAlert, now: float) -> str | None:
        found = silencing(self.silences(now), silence_labels(alert.payload), now)
        return None if found is None else found.why()
