"""Alert delivery as named stages, built once from the configuration, as Alertmanager's
notify pipeline is (``notify/notify.go``: ``PipelineBuilder.New`` builds one
``MultiStage`` of inhibit, time mute, silence and the receiver's stages from the
configuration, and a reload builds a new one).  An alert meets them in this order
(docs/routing.md, "How an alert is delivered"):

1. **inhibit** (:class:`InhibitStage`): why a monitor's alerts wait now: it flaps, a
   monitor it ``depends_on`` or the source of an ``inhibit_rules:`` rule is down, a
   maintenance window covers it (``engine/_holds.py``).  A held alert goes when the
   hold lifts.
2. **route** (:class:`RouteStage`): which channels a monitor's alert goes to: the routes
   of the ``routes:`` tree its labels reach, and its own ``alerts:``
   (``alerts/_routes.py``), with its reminders and escalation steps.
3. **group** (:class:`GroupStage`): how an incident's news reaches each channel: grouped
   by the route's ``group_by``, ``group_wait`` and ``group_interval``
   (``engine/incidents/_groups.py``), or each monitor on its own for a channel that
   groups by itself (Alertmanager).
4. **mute** (:class:`~tether.monitor.alerts.MuteGate`): kept when every route that takes
   it to its channel is in a mute time interval, or outside its active ones.
5. **silence** (:class:`~tether.monitor.alerts.SilenceGate`): kept while a silence in the
   store selects it.
6. **send** (:class:`~tether.monitor.alerts.SendStage`): through its channel, retried
   with backoff until it lands (``alerts/_outbox.py``).

The incident engine (pure) asks the first three when it makes an alert, which is then
queued in the store's outbox (committed: a restart loses none); the outbox asks the
last three when the alert is due, on the instance that delivers it, just before
sending, so that a route muted or a silence made while the alert waited still keeps it
(recorded as suppressed, with why: never sent, never lost).

:func:`alert_delivery` is the one place the stages are assembled: the runner calls it
at start (for ``tether monitor`` and ``tether demo`` alike), on a reload and on a
discovery change that can move a route, and puts the new stages in place whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Final

from tether.monitor.alerts import Channel, Gate, MuteGate, SendStage, SilenceGate, route_tree
from tether.monitor.config import MonitorConfig
from tether.monitor.runtime._monitor_terms import GroupStage, RouteStage, ungrouped_channels

if TYPE_CHECKING:
    from tether.monitor.engine._holds import Holds
    from tether.monitor.engine._quorum import Quorum
    from tether.monitor.store import Store

__all__ = ["STAGES", "AlertDelivery", "InhibitStage", "alert_delivery"]

STAGES: Final = ("inhibit", "route", "group", "mute", "silence", "send")
"""The stages' names, in the order an alert meets them."""


@dataclass(frozen=True, slots=True)
class InhibitStage:
    """Why ``monitor``'s alerts wait at ``now``, in words, or None (the incident engine's
    ``hold``): the holds in force (configured from the file's ``depends_on``,
    ``inhibit_rules:`` and ``maintenance:``, and the windows opened at run time) asked
    with every monitor's state for the cluster and the failure of each that is down."""

    holds: Callable[[], Holds]
    quorum: Quorum

    def __call__(self, monitor: str, now: float) -> str | None:
        quorum = self.quorum
        return self.holds().why(monitor, now, quorum.view(), quorum.observation)

    def __repr__(self) -> str:
        return "<InhibitStage>"


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """Alert delivery's stages, one field each in the order an alert meets them
    (:data:`STAGES`).  A value: a reload builds a new one (:func:`alert_delivery`)."""

    inhibit: InhibitStage
    route: RouteStage
    group: GroupStage
    mute: MuteGate
    silence: SilenceGate
    send: SendStage

    @property
    def stages(self) -> tuple[tuple[str, object], ...]:
        """Each stage with its name, in order."""
        return tuple((f.name, getattr(self, f.name)) for f in fields(self))

    @property
    def gates(self) -> tuple[Gate, ...]:
        """The stages the outbox asks at delivery, before sending, in order."""
        return (self.mute, self.silence)


def alert_delivery(
    config: MonitorConfig,
    store: Store,
    channels: Mapping[str, Channel],
    *,
    holds: Callable[[], Holds],
    quorum: Quorum,
) -> AlertDelivery:
    """The stages of ``config``'s alert delivery, through ``channels`` (the
    configuration's, made by ``channels_for``), with the silences in ``store`` and the
    holds the runner keeps (``holds()``: they change as windows open at run time)."""
    tree = route_tree(config)
    group = GroupStage(ungrouped_channels(config))
    return AlertDelivery(
        inhibit=InhibitStage(holds, quorum),
        route=RouteStage(tree if config.routes is not None else None, group),
        group=group,
        mute=MuteGate(tree),
        silence=SilenceGate(store.silences_in_force),
        send=SendStage(channels),
    )
