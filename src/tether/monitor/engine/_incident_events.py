"""What the incident engine is given and what it answers with, as values: where a
monitor's alerts go (:class:`Route`, with its :class:`Escalation` steps), why they wait
(:data:`Hold`), the events that carry each incident as it now is (:data:`Event`) and
latency notices (:class:`Notice`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tether.monitor._records import Alert, Incident, Move, TimelineEntry

__all__ = [
    "Acknowledged",
    "Escalated",
    "Escalation",
    "Event",
    "Folded",
    "Held",
    "Hold",
    "Joined",
    "Left",
    "Noted",
    "Notice",
    "Opened",
    "Pick",
    "Released",
    "Reminder",
    "Resolved",
    "Route",
    "Updated",
]


@dataclass(frozen=True, slots=True)
class Escalation:
    """After ``after`` seconds down, a monitor's alerts also go to ``alerts``."""

    after: float
    alerts: tuple[str, ...]


Pick = Callable[[str, str | None, int | None], tuple[str, ...]]
"""The channels a monitor's alert about ``event`` (of ``kind``, in ``incident``) goes to,
as the route tree says (``alerts/_routes.py``): the runner makes one per monitor, so the
engine routes by labels without knowing the tree."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a monitor's alerts go, and how often they repeat."""

    channels: tuple[str, ...] = ()
    url: str | None = None
    """The monitor's target, credentials already redacted: it goes in every payload."""
    remind_every: float | None = None
    escalate: tuple[Escalation, ...] = ()
    partial_alerts: bool = False
    """Whether its partial incidents go to ``channels`` (they are opened either way)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The monitor's labels (``defaults.labels`` merged in): they go in every payload."""
    pick: Pick | None = None
    """The route tree's choice of channels for each alert (None: ``channels``, always)."""

    def channels_for(
        self, event: str, kind: str | None = None, incident: int | None = None
    ) -> tuple[str, ...]:
        """The channels its alert about ``event`` goes to: the tree's (its routes that
        match the alert's labels, and the monitor's ``alerts:``), else ``channels``."""
        return self.channels if self.pick is None else self.pick(event, kind, incident)


@dataclass(frozen=True, slots=True)
class _Event:
    incident: Incident
    """The incident as it is after this event.  Its ``members`` (and ``monitors``, a view
    of them) are the engine's own, kept in place: read them when the event comes, as the
    runner does, not later."""
    monitor: str
    entry: TimelineEntry | None
    """What the incident's timeline gains (None: nothing)."""
    alerts: tuple[Alert, ...] = ()
    touched: tuple[str, ...] | None = None
    """The members whose record changed in this event (joined, changed, or left): the
    store writes those alone.  None: every member (an incident opened, folded or
    resolved), written whole."""
    moves: tuple[Move, ...] = ()
    """What the incident's membership history gains (joined, left, paused, resumed), in
    order: appended to it, never rewritten, so an outage stays on the record."""


@dataclass(frozen=True, slots=True)
class Opened(_Event):
    """The first monitor down for a new cause opened ``incident``."""


@dataclass(frozen=True, slots=True)
class Joined(_Event):
    """Another monitor went down for the cause of an open incident."""


@dataclass(frozen=True, slots=True)
class Left(_Event):
    """A monitor came back (or was paused or removed) while the incident goes on."""


@dataclass(frozen=True, slots=True)
class Resolved(_Event):
    """The incident's last monitor came back (or was paused or removed)."""


@dataclass(frozen=True, slots=True)
class Held(_Event):
    """A monitor's down alert waits: it is flapping, in maintenance, or its parent is down."""


@dataclass(frozen=True, slots=True)
class Released(_Event):
    """A held down alert went out: the hold lifted and the monitor is still down."""


@dataclass(frozen=True, slots=True)
class Reminder(_Event):
    """A down monitor's alert, repeated (``remind_every``); for the ``local`` incident,
    the incident's, once per channel."""


@dataclass(frozen=True, slots=True)
class Escalated(_Event):
    """A monitor (or the ``local`` incident) stayed down past an escalation step: more
    channels are told."""


@dataclass(frozen=True, slots=True)
class Noted(_Event):
    """Something worth a line in the timeline, with no alert (a member started flapping,
    what its locations see changed)."""


@dataclass(frozen=True, slots=True)
class Acknowledged(_Event):
    """Someone acknowledged the incident: reminders and escalation stop."""


@dataclass(frozen=True, slots=True)
class Folded(_Event):
    """An incident of one host was folded into the ``local`` incident when the host
    became part of it: either the folded incident, closed (``folded_into`` set, its
    members moved), or the ``local`` one, saying which incidents it took in."""


@dataclass(frozen=True, slots=True)
class Updated(_Event):
    """The ``local`` incident's grouped news: the monitors that went down or came back
    since the last update, one alert per channel (at most every :data:`GROUPED_EVERY`
    seconds), and one line in the timeline."""


@dataclass(frozen=True, slots=True)
class Notice:
    """A latency notice (degraded, recovered): alerts of its own, no incident."""

    monitor: str
    text: str
    alerts: tuple[Alert, ...] = ()


Event = (
    Opened
    | Joined
    | Left
    | Resolved
    | Held
    | Released
    | Reminder
    | Escalated
    | Noted
    | Acknowledged
    | Folded
    | Updated
)

Hold = Callable[[str, float], str | None]
"""Why ``monitor``'s alerts wait at ``now`` (flapping, maintenance, a parent down), or None."""
