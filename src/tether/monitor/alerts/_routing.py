"""The route tree put to work (docs/routing.md): :class:`TreePick` tells the incident
engine which channels a monitor's alert goes to, and :class:`MuteGate` keeps an alert
from a channel whose every route to it is muted at the instant of delivery.

The two halves meet at different times on purpose.  Channels are chosen when the alert
is made, by its labels alone (``at=None``), so an alert of a muted route is queued like
any other; whether the route is muted is asked just before sending, so an alert that
waited out a retry across the start of ``nights`` is kept, and one queued at the end of
it goes.  A kept alert is recorded in the outbox as suppressed, with why: never sent,
never lost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from tether.monitor._records import QueuedAlert
from tether.monitor.alerts._routes import Matched, RouteTree, routing_labels
from tether.monitor.engine.incidents._events import Sending

__all__ = ["MuteGate", "TreePick", "muted_words"]


@dataclass(frozen=True, slots=True)
class TreePick:
    """One monitor's channels by the tree (the engine's ``Pick``): called with an alert's
    event, kind and incident, it answers the channels of every route the alert's labels
    reach, in order, each once (the monitor's own ``alerts:`` last, as the tree's match
    lists them), with the grouping of the first route that reaches each."""

    tree: RouteTree
    monitor: str
    labels: Mapping[str, str]

    def __call__(self, event: str, kind: str | None, incident: int | None) -> tuple[Sending, ...]:
        labels = routing_labels(
            self.labels, monitor=self.monitor, event=event, kind=kind, incident=incident
        )
        out: dict[str, Sending] = {}
        for found in self.tree.match(labels):
            grouping = found.grouping
            # Groups never span incidents: the incident's own label is no part of the words.
            group = ", ".join(f'{n}="{v}"' for n, v in found.group_key if n != "incident")
            for c in found.channels:
                if c not in out:
                    out[c] = Sending(c, grouping.group_wait, grouping.group_interval, group)
        return tuple(out.values())

    def __repr__(self) -> str:
        return f"<TreePick {self.monitor}>"


def muted_words(found: Matched) -> str:
    """Why a matched route sends nothing now, in words for the outbox's record."""
    if found.muted_by is not None:
        return f'route {found.route.where} is in mute time interval "{found.muted_by}"'
    return f"route {found.route.where} is outside its active time intervals " + ", ".join(
        found.outside
    )


@dataclass(slots=True)
class MuteGate:
    """An outbox gate (``_outbox.Gate``): keeps an alert from its channel when every
    route that takes it there is muted at the delivery instant.  An alert no route names
    its channel for (an escalation step's channel, say) is let go: muting is a route's,
    and no route sent it.  ``tree`` is replaced when the configuration is reloaded."""

    tree: RouteTree

    def __call__(self, alert: QueuedAlert, now: float) -> str | None:
        payload = alert.payload
        labels = routing_labels(
            payload.labels,
            monitor=payload.monitor,
            event=payload.event,
            kind=payload.kind,
            incident=payload.incident,
        )
        at = dt.datetime.fromtimestamp(now, tz=dt.UTC)
        naming = [m for m in self.tree.match(labels, at) if alert.channel in m.channels]
        if not naming or not all(m.muted for m in naming):
            return None
        return "muted: " + "; ".join(muted_words(m) for m in naming)

    def __repr__(self) -> str:
        return "<MuteGate>"
