"""Alert channels and the outbox that delivers through them, at least once; the route
tree that says which channels an alert reaches (docs/routing.md)."""

from tether.monitor.alerts._alertmanager import (
    AlertmanagerChannel,
    AlertmanagerError,
    alert_labels,
    alertmanager_alert,
)
from tether.monitor.alerts._apprise import AppriseChannel, AppriseError
from tether.monitor.alerts._email import EmailChannel, EmailError
from tether.monitor.alerts._message import body, subject
from tether.monitor.alerts._outbox import (
    ChannelStatus,
    DeliveryHook,
    Gate,
    KeepsFiring,
    Outbox,
)
from tether.monitor.alerts._routes import Matched, RouteTree, route_tree, routing_labels
from tether.monitor.alerts._routing import MuteGate, TreePick
from tether.monitor.alerts._send import Channel, SendStage
from tether.monitor.alerts._silences import SilenceGate, silence_labels
from tether.monitor.alerts._webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    WebhookChannel,
    sign,
)

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "AlertmanagerChannel",
    "AlertmanagerError",
    "AppriseChannel",
    "AppriseError",
    "Channel",
    "ChannelStatus",
    "DeliveryHook",
    "EmailChannel",
    "EmailError",
    "Gate",
    "KeepsFiring",
    "Matched",
    "MuteGate",
    "Outbox",
    "RouteTree",
    "SendStage",
    "SilenceGate",
    "TreePick",
    "WebhookChannel",
    "alert_labels",
    "alertmanager_alert",
    "body",
    "route_tree",
    "routing_labels",
    "sign",
    "silence_labels",
    "subject",
]
