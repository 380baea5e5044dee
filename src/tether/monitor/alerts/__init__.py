"""Alert channels and the outbox that delivers through them, at least once."""

from tether.monitor.alerts._outbox import Channel, Outbox
from tether.monitor.alerts._webhook import SIGNATURE_HEADER, WebhookChannel, sign

__all__ = ["SIGNATURE_HEADER", "Channel", "Outbox", "WebhookChannel", "sign"]
