"""The last stage of alert delivery (``runtime/_delivery.py``): an alert that no stage
before kept goes out through the :class:`Channel` it was queued for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from tether.monitor._records import AlertPayload, QueuedAlert

__all__ = ["Channel", "SendStage"]


class Channel(Protocol):
    """Where alerts go: a channel only formats and sends.  ``key`` is the alert's
    (:func:`tether.monitor._records.alert_key`), the same on every copy of it, for the
    receiver to drop a copy it has already seen."""

    name: str

    def deliver(self, payload: AlertPayload, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SendStage:
    """Sends an alert through its channel (the outbox records the outcome and retries).
    ``channels`` are the configuration's, replaced whole on a reload: an alert queued
    for a channel that is gone fails, and waits for it (:class:`LookupError`)."""

    channels: Mapping[str, Channel]

    def __call__(self, alert: QueuedAlert) -> None:
        channel = self.channels.get(alert.channel)
        if channel is None:
            raise LookupError(f"no alert channel named {alert.channel!r} any more")
        channel.deliver(alert.payload, alert.key)

    def __repr__(self) -> str:
        return f"<SendStage {', '.join(self.channels)}>"
