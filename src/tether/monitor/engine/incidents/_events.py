"""What the incident engine is given and what it answers with, as values: where a
monitor's alerts go (:class:`IncidentRoute`, with its :class:`IncidentEscalation` steps),
why they wait (:data:`Hold`), the events that carry each incident as it now is
(:data:`Event`) and latency notices (:class:`Notice`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tether._frozen import quick_init
from tether.monitor._records import Alert, Incident, Move, TimelineEntry

__all__ = [
    "GROUP_INTERVAL",
    "GROUP_WAIT",
    "Acknowledged",
    "Escalated",
    "Event",
    "Folded",
    "Held",
    "Hold",
    "IncidentEscalation",
    "IncidentRoute",
    "Joined",
    "Left",
    "Narrowed",
    "Noted",
    "Notice",
    "Opened",
    "Pick",
    "Released",
    "Reminder",
    "Resolved",
    "Sending",
    "Updated",
    "Widened",
]


@dataclass(frozen=True, slots=True)
class IncidentEscalation:
    """After ``after`` seconds down, a monitor's alerts also go to ``alerts``."""

    after: float
    alerts: tuple[str, ...]


GROUP_WAIT = 30.0
"""Seconds from an incident's opening to its first grouped update (a route's
``group_wait``, Alertmanager's default)."""
GROUP_INTERVAL = 300.0
"""Seconds at least between two grouped updates of one incident to one channel (a route's
``group_interval``)."""


@dataclass(frozen=True, slots=True)
class Sending:
    """One channel an alert goes to, and how an incident's news is grouped there: the
    settings of the first route that took the alert to it."""

    channel: str
    group_wait: float = GROUP_WAIT
    group_interval: float = GROUP_INTERVAL
    group: str = ""
    """The group within the incident, by the route's ``group_by`` labels other than
    ``incident`` (``team="db"``); "": the whole incident, the default."""

    @property
    def whom(self) -> str:
        """Whom its grouped news is kept for: the channel, with its group if any."""
        return f"{self.channel}{{{self.group}}}" if self.group else self.channel


Pick = Callable[[str, str | None, int | None], tuple[Sending, ...]]
"""Where a monitor's alert about ``event`` (of ``kind``, in ``incident``) goes, as the
route tree says (``alerts/_routes.py``): the runner makes one per monitor, so the engine
routes by labels without knowing the tree."""


@quick_init
@dataclass(frozen=True, slots=True)
class IncidentRoute:
    """Where a monitor's alerts go, and how often they repeat."""

    channels: tuple[str, ...] = ()
    url: str | None = None
    """The monitor's target, credentials already redacted: it goes in every payload."""
    remind_every: float | None = None
    escalate: tuple[IncidentEscalation, ...] = ()
    partial_alerts: bool = False
    """Whether its partial incidents go to ``channels`` (they are opened either way)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The monitor's labels (``defaults.labels`` merged in): they go in every payload."""
    pick: Pick | None = None
    """The route tree's choice of channels for each alert (None: ``channels``, always)."""
    ungrouped: frozenset[str] = frozenset()
    """Channels told of each monitor joining and leaving an incident on its own, not in
    grouped updates: an Alertmanager channel, which keeps an alert per monitor and
    groups them itself."""

    def sending(
        self, event: str, kind: str | None = None, incident: int | None = None
    ) -> tuple[Sending, ...]:
        """Where its alert about ``event`` goes: the tree's choice (its routes that match
        the alert's labels, and the monitor's ``alerts:``), else ``channels``, grouped by
        incident with the default waits."""
        if self.pick is None:
            return tuple(Sending(c) for c in self.channels)
        return self.pick(event, kind, incident)

    def channels_for(
        self, event: str, kind: str | None = None, incident: int | None = None
    ) -> tuple[str, ...]:
        """The channels its alert about ``event`` goes to (:meth:`sending`)."""
        if self.pick is None:
            return self.channels
        return tuple(s.channel for s in self.pick(event, kind, incident))


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


@quick_init
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
class Widened(_Event):
    """A partial incident's monitor is down from a quorum of its locations now: the same
    incident, a full one from now on (issue 73 item 9), paged as an opening is."""


@dataclass(frozen=True, slots=True)
class Narrowed(_Event):
    """A full incident's last monitor is up for the quorum while some of its locations
    still fail: the same incident goes on as a partial one (issue 73 item 9)."""


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
    | Widened
    | Narrowed
    | Noted
    | Acknowledged
    | Folded
    | Updated
)

Hold = Callable[[str, float], str | None]
"""Why ``monitor``'s alerts wait at ``now`` (flapping, maintenance, a parent down), or None."""
