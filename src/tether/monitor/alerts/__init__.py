"""Alert channels and the outbox that delivers through them, at least once."""

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
    Channel,
    ChannelStatus,
    DeliveryHook,
    KeepsFiring,
    Outbox,
)
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
    "KeepsFiring",
    "Outbox",
    "WebhookChannel",
    "alert_labels",
    "alertmanager_alert",
    "body",
    "sign",
    "subject",
]
