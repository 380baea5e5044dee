"""Silences, as Alertmanager has them: matchers, a start and an end, a comment and who made
it; an alert whose labels the matchers select is kept from its channels while the silence
is active.

A silence is **pending** before its start, **active** from its start until its end (or
until someone expires it earlier), and **expired** from then on.  The decision is made at
delivery (``alerts/_silences.py``, the outbox's gate): an alert due while a silence is
active is recorded as suppressed for good, so an expired silence replays nothing.  Pure:
``at`` is always given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from tether.monitor.config.labels._labels import Matchers, matches

__all__ = [
    "MATCHERS_MAX",
    "SILENCES_MAX",
    "SILENCE_MAX",
    "Silence",
    "SilenceState",
    "silencing",
]

SilenceState = Literal["pending", "active", "expired"]

SILENCE_MAX: Final = 90 * 86400.0
"""The longest a silence made at run time may last (seconds): a longer one is a mistake
(change the routes, or the monitor's ``alerts:``)."""
SILENCES_MAX: Final = 1000
"""Silences in force (pending or active) at once, as Alertmanager's
``--silences.max-silences``: every alert is matched against each of them, so their
number bounds the work of one alert (at most this many times :data:`MATCHERS_MAX`
matchers, each decided in linear time, ``config/labels/_regex.py``)."""
MATCHERS_MAX: Final = 16
"""Matchers one silence may have."""


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence: ``matchers`` select the alerts it keeps from ``starts`` until ``ends``
    (or until ``expired``, when someone ended it early)."""

    id: int
    matchers: Matchers
    starts: float
    ends: float
    comment: str
    created_by: str
    created: float
    expired: float | None = None
    expired_by: str | None = None

    @property
    def until(self) -> float:
        """When it stops keeping alerts: its end, or when it was expired if earlier."""
        return self.ends if self.expired is None else min(self.ends, self.expired)

    def active(self, at: float) -> bool:
        """Whether it keeps alerts at ``at``."""
        return self.starts <= at < self.until

    def state(self, at: float) -> SilenceState:
        """``pending``, ``active`` or ``expired`` at ``at``."""
        if at >= self.until:
            return "expired"
        return "pending" if at < self.starts else "active"

    def selects(self, labels: Mapping[str, str]) -> bool:
        """Whether its matchers select ``labels`` (whatever the time)."""
        return matches(self.matchers, labels)

    def why(self) -> str:
        """What a kept alert records: ``silenced by #4 (deploy, by ana)``."""
        return f"silenced by #{self.id} ({self.comment}, by {self.created_by})"

    def __repr__(self) -> str:
        said = ", ".join(str(m) for m in self.matchers)
        return f"<Silence #{self.id} {{{said}}}>"


def silencing(silences: Iterable[Silence], labels: Mapping[str, str], at: float) -> Silence | None:
    """The first of ``silences`` (the oldest, by id) active at ``at`` that selects
    ``labels``, or None."""
    for silence in sorted(silences, key=lambda s: s.id):
        if silence.active(at) and silence.selects(labels):
            return silence
    return None
