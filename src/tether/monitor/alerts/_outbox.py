"""Delivering queued alerts, at least once, through whatever channel each names.

Alerts wait in the store's outbox (committed before they count as queued), so
a restart loses none.  A delivery that fails is tried again with capped
exponential backoff; a receiver that is down for five minutes gets every alert
within ``cap`` seconds of coming back.  Each alert has a dedup key, so the
same alert is never queued twice; a receiver may still see one twice if
tether dies between sending and recording the delivery (at least once).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tether._classify import classify
from tether._retry._backoff import backoff_delay
from tether.monitor.store import Store

log = logging.getLogger("tether.monitor")


class Channel(Protocol):
    name: str

    def deliver(self, payload: dict[str, Any]) -> None: ...


class Outbox:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        base: float = 5.0,
        cap: float = 60.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self.channels = channels
        """Replaced whole on a reload; alerts to a channel that is gone wait, failing."""
        self._base = base
        self._cap = cap
        self._rand = rand

    def queue(self, channel: str, dedup: str, payload: dict[str, Any], now: float) -> bool:
        """Queue an alert (committed on return); False if ``dedup`` was queued before."""
        if channel not in self.channels:
            raise KeyError(f"no alert channel named {channel!r}")
        return self._store.enqueue_alert(channel, dedup, payload, now)

    def deliver_due(self, now: float) -> tuple[int, int]:
        """Try every alert that is due; (delivered, failed)."""
        delivered = failed = 0
        for alert in self._store.due_alerts(now):
            channel = self.channels.get(alert["channel"])
            if channel is None:
                error = f"no alert channel named {alert['channel']!r} any more"
                self._store.mark_failed(alert["id"], error, now + self._cap)
                failed += 1
                continue
            try:
                channel.deliver(alert["payload"])
            except Exception as exc:
                failure = classify(exc)
                attempts = alert["attempts"] + 1
                # Equal jitter: never retry sooner than half the backoff, so a
                # receiver that is down is not hammered, yet spread out.
                wait = backoff_delay(
                    attempts,
                    base=self._base,
                    multiplier=2,
                    cap=self._cap,
                    jitter="equal",
                    rand=self._rand,
                )
                self._store.mark_failed(alert["id"], str(failure), now + wait)
                log.warning(
                    "alert %s to %s failed (attempt %d), next try in %.0f s: %s",
                    alert["dedup"],
                    alert["channel"],
                    attempts,
                    wait,
                    failure,
                )
                failed += 1
            else:
                self._store.mark_delivered(alert["id"], now)
                delivered += 1
        return delivered, failed
