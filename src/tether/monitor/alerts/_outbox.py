"""Delivering queued alerts, at least once, one queue per channel.

Alerts wait in the store's outbox (committed before they count as queued), so a
restart loses none.  Each channel is its own queue:

- **Independent**: each channel delivers on a worker thread of its own, so a
  channel whose receiver hangs or refuses never delays another.
- **In order**: a channel's next alert waits until the one before it landed.
- **Its own retries**: a failed delivery is tried again with capped exponential
  backoff (equal jitter), for that channel alone; a receiver down for five
  minutes gets every alert within ``cap`` seconds of coming back.
- **Visible**: every delivery and every failure is one log line (channel, event,
  incident, and the failure's kind and detail from :func:`tether.classify`), the
  hook (the monitor's metrics) counts them, and :meth:`Outbox.status` tells
  the dashboard which channels are failing.

Each alert has a dedup key unique within its channel, so the same alert is never
queued twice for one channel; a receiver may still see one twice if tether dies
between sending and recording the delivery (at least once).  Every copy carries
the alert's key (:func:`tether.monitor._records.alert_key`), so the receiver can
tell.

Several instances may share one store: an alert is delivered by the instance that
*claims* it (:meth:`Store.claim_alerts`: a channel's head, for ``hold_for``
seconds), so one instance delivers it; if that instance dies before recording the
outcome, another claims it once the claim has run out and delivers it again,
under the same key.  ``hold_for`` should be longer than any channel takes to
deliver, so that a slow delivery is not taken over while it is still going.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from tether._classify import classify
from tether._kinds import Kind
from tether._redact import redact_text
from tether._retry._backoff import backoff_delay
from tether.monitor._records import AlertPayload, QueuedAlert
from tether.monitor.alerts._send import Channel, SendStage
from tether.monitor.store import Store, instance_id

log = logging.getLogger("tether.monitor")


@runtime_checkable
class KeepsFiring(Protocol):
    """A channel whose receiver forgets a firing alert unless it is sent again
    (Alertmanager): the outbox calls :meth:`refresh` on the channel's own worker, between
    its deliveries, whenever :meth:`refresh_due`, with the store's open incidents and
    what the store says the channel was told since the oldest of them opened
    (:meth:`Store.channel_alerts`; both ``None`` when the store cannot say).  Every
    instance does, whichever delivered: the store is what they share."""

    def refresh_due(self, now: float) -> bool: ...

    def refresh(
        self,
        now: float,
        still_open: Collection[int] | None = None,
        told: Sequence[tuple[AlertPayload, bool]] | None = None,
    ) -> int: ...


class Gate(Protocol):
    """What may keep a due alert from its channel (a silence, a muted route): asked at
    delivery, on the instance that delivers, just before sending.  Returns why, in words
    (``silenced by #4 (deploy)``), or None to let the alert go.  A kept alert is recorded
    as suppressed (:meth:`Store.mark_suppressed`): never sent, never lost, never replayed."""

    def __call__(self, alert: QueuedAlert, now: float) -> str | None: ...


class DeliveryHook(Protocol):
    """What the outbox reports as it goes (the monitor's metrics implement it)."""

    def alert_sent(self, channel: str) -> None: ...

    def alert_failed(self, channel: str, kind: Kind) -> None: ...

    def alerts_queued(self, channel: str, count: int, oldest_at: float | None) -> None: ...

    def alert_suppressed(self, channel: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """How one channel is doing, for the dashboard and the API."""

    name: str
    queued: int
    oldest_queued_at: float | None
    failing: bool
    """Its last delivery failed."""
    last_error: str | None
    """Why, as ``kind: detail`` (redacted)."""
    last_failure_at: float | None
    sent: int
    failed: int


@dataclass(slots=True)
class _Tally:
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    failing: bool = False
    last_error: str | None = None
    last_failure_at: float | None = None


HOLD_FOR: Final = 60.0
"""Seconds an instance's claim on an alert lasts: past the longest a channel takes to
deliver (a webhook's 10 s, an SMTP exchange of a few steps of up to 10 s each), short
enough that an alert whose instance died goes out again within a minute."""


TOLD_FOR: Final = 600.0
"""Seconds back a channel that keeps alerts firing reads what it told, beside the open
incidents' span: longer than a firing alert's ``endsAt`` reaches, so that a resolution
another instance delivered is sent again while a firing copy could be live."""


class Outbox:
    """The alert queues of one store, delivered through ``channels``.

    ``owner`` names this instance in its claims (a fresh :func:`instance_id` by
    default; the runner passes its cluster's id).
    """

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        base: float = 5.0,
        cap: float = 60.0,
        rand: Callable[[], float] = random.random,
        hook: DeliveryHook | None = None,
        owner: str | None = None,
        hold_for: float = HOLD_FOR,
        gates: Sequence[Gate] = (),
    ) -> None:
        self._store = store
        self.send = SendStage(channels)
        """The last stage: through the channels (``runtime/_delivery.py``)."""
        self.owner = owner or instance_id()
        self.hold_for = hold_for
        self._base = base
        self._cap = cap
        self._rand = rand
        self.hook = hook
        self.gates: list[Gate] = list(gates)
        """Asked in order before each delivery; the first that answers keeps the alert."""
        self._tallies: dict[str, _Tally] = {}
        self._workers: dict[str, ThreadPoolExecutor] = {}
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._backlog: dict[str, tuple[int, float]] = {}
        self._polling = False

    @property
    def channels(self) -> Mapping[str, Channel]:
        """Replaced whole on a reload; alerts to a channel that is gone wait, failing."""
        return self.send.channels

    @channels.setter
    def channels(self, channels: Mapping[str, Channel]) -> None:
        self.send = SendStage(channels)

    def queue(self, channel: str, dedup: str, payload: AlertPayload, now: float) -> bool:
        """Queue an alert for ``channel`` (committed on return); False if that channel
        has ``dedup`` already."""
        if channel not in self.channels:
            raise KeyError(f"no alert channel named {channel!r}")
        return self._store.enqueue_alert(channel, dedup, payload, now)

    def post(self, channel: str, dedup: str, payload: AlertPayload, now: float) -> None:
        """Queue an alert for ``channel`` without waiting for its commit (the monitor's
        loop: a wave's backlog on the store's writer must not hold it): committed
        promptly, in order with what is queued after it; left out if that channel has
        ``dedup`` already."""
        if channel not in self.channels:
            raise KeyError(f"no alert channel named {channel!r}")
        self._store.post_alert(channel, dedup, payload, now)

    # -- delivering ------------------------------------------------------------------------

    def deliver_one(self, alert: QueuedAlert, now: float) -> bool:
        """Try to deliver ``alert`` (blocking); record the outcome; True if it landed."""
        tally = self._tallies.setdefault(alert.channel, _Tally())
        send = self.send  # one set of channels for the whole attempt, as a reload swaps it
        channel = send.channels.get(alert.channel)
        payload = alert.payload
        about = f"{payload.event} {payload.monitor}" + (
            f" (incident {payload.incident})" if payload.incident is not None else ""
        )
        kept = self._kept(alert, now)
        if kept is not None:
            self._store.mark_suppressed(alert.id, kept, now, claimer=self.owner)
            tally.suppressed += 1
            if self.hook is not None:
                self.hook.alert_suppressed(alert.channel)
            log.info(
                "alert to %s suppressed: %s: %s",
                alert.channel,
                about,
                kept,
                extra={
                    "event": "alert.suppressed",
                    "channel": alert.channel,
                    "monitor": payload.monitor,
                    "incident": payload.incident,
                },
            )
            return True
        try:
            send(alert)
        except Exception as exc:
            failure = classify(exc)
            kind = failure.kind
            error = redact_text(f"{kind}: {failure.detail}" if channel else str(exc))
            attempts = alert.attempts + 1
            # Equal jitter: never retry sooner than half the backoff, so a receiver
            # that is down is not hammered, yet tries are spread out.
            wait = backoff_delay(
                attempts,
                base=self._base,
                multiplier=2,
                cap=self._cap,
                jitter="equal",
                rand=self._rand,
            )
            self._store.mark_failed(alert.id, error, now + wait, claimer=self.owner)
            tally.failed += 1
            tally.failing, tally.last_error, tally.last_failure_at = True, error, now
            if self.hook is not None:
                self.hook.alert_failed(alert.channel, kind)
            log.warning(
                "alert to %s failed: %s; attempt %d, next try in %.0f s: %s",
                alert.channel,
                about,
                attempts,
                wait,
                error,
                extra={
                    "event": "alert.failed",
                    "channel": alert.channel,
                    "monitor": payload.monitor,
                    "incident": payload.incident,
                    "kind": kind.value,
                    "attempt": attempts,
                },
            )
            return False
        self._store.mark_delivered(alert.id, now, claimer=self.owner)
        tally.sent += 1
        tally.failing = False
        if self.hook is not None:
            self.hook.alert_sent(alert.channel)
        log.info(
            "alert to %s delivered: %s",
            alert.channel,
            about,
            extra={
                "event": "alert.sent",
                "channel": alert.channel,
                "monitor": payload.monitor,
                "incident": payload.incident,
            },
        )
        return True

    def _kept(self, alert: QueuedAlert, now: float) -> str | None:
        """Why a gate keeps ``alert`` from its channel, or None.  A gate that fails lets
        the alert go (logged): a broken silence must not lose a page."""
        for gate in self.gates:
            try:
                why = gate(alert, now)
            except Exception as exc:
                log.error(
                    "alert gate %r failed, the alert goes out: %s",
                    gate,
                    redact_text(repr(exc)),
                    extra={"event": "alert.gate_failed", "channel": alert.channel},
                )
                continue
            if why is not None:
                return redact_text(why)  # it is logged and stored
        return None

    def deliver_due(self, now: float) -> tuple[int, int]:
        """Deliver every channel's due alerts one after another, in this thread;
        (delivered, failed).  For tools and tests; the monitor runs :meth:`run`."""
        delivered = failed = 0
        for head in self._claim(now):
            alert: QueuedAlert | None = head
            while alert is not None:
                if not self.deliver_one(alert, now):
                    failed += 1
                    break
                delivered += 1
                alert = self._claim_next(alert.channel, now)
        for name, channel in self._refreshes_due(now):
            channel.refresh(now, *self._told(name, now))
        self._refresh()
        return delivered, failed

    async def run(
        self,
        stop: asyncio.Event,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        *,
        every: float = 1.0,
    ) -> None:
        """Until ``stop``: every ``every`` seconds, start delivering on each channel whose
        next alert is due and that is not busy already.  A store that cannot be read is
        logged and tried again at the next round: the alerts wait in it, and the monitor
        goes on."""
        failing = False
        try:
            while not stop.is_set():
                try:
                    await self.poll(clock)
                except Exception as exc:
                    # Said once per stretch: the store's own log line says why it fails.
                    if not failing:
                        log.error(
                            "alert outbox: cannot read the queues, trying again every "
                            "%.0f s; alerts wait in the store: %s",
                            every,
                            redact_text(str(exc)),
                            extra={"event": "outbox.failed"},
                        )
                    failing = True
                else:
                    if failing:
                        log.warning(
                            "alert outbox: reading the queues again",
                            extra={"event": "outbox.resumed"},
                        )
                    failing = False
                await sleep(every)
        finally:
            if self._busy:
                await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def poll(self, clock: Callable[[], float]) -> None:
        """One round: claim each due channel's head and start a delivery task for it;
        refresh the backlog.  (A channel busy here already holds its head: claiming it
        again only extends the claim.)"""
        self._polling = True
        try:
            heads = await asyncio.to_thread(self._claim, clock())
            for head in heads:
                if head.channel in self._busy:
                    continue
                task = asyncio.create_task(self._drain(head, clock))
                self._busy[head.channel] = task
                task.add_done_callback(functools.partial(self._done, head.channel))
            for name, channel in self._refreshes_due(clock()):
                if name not in self._busy:
                    refresh = self._keep_firing(name, channel, clock)
                    self._busy[name] = task = asyncio.create_task(refresh)
                    task.add_done_callback(functools.partial(self._done, name))
            await asyncio.to_thread(self._refresh)
        finally:
            self._polling = False

    @property
    def busy(self) -> bool:
        """Whether the outbox is reading its queues or delivering on any channel."""
        return self._polling or bool(self._busy)

    def _done(self, channel: str, task: asyncio.Task[None]) -> None:
        self._busy.pop(channel, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery to %s stopped: %r", channel, task.exception())

    async def drain(self) -> None:
        """Wait for every delivery under way (for a clean stop, and for tests)."""
        while self._busy:
            await asyncio.gather(*list(self._busy.values()), return_exceptions=True)

    def _worker(self, channel: str) -> ThreadPoolExecutor:
        worker = self._workers.get(channel)
        if worker is None:
            worker = self._workers[channel] = ThreadPoolExecutor(
                1, thread_name_prefix=f"tether-alert-{channel}"[:40]
            )
        return worker

    def _refreshes_due(self, now: float) -> list[tuple[str, KeepsFiring]]:
        return [
            (name, channel)
            for name, channel in self.channels.items()
            if isinstance(channel, KeepsFiring) and channel.refresh_due(now)
        ]

    async def _keep_firing(
        self, name: str, channel: KeepsFiring, clock: Callable[[], float]
    ) -> None:
        loop = asyncio.get_running_loop()
        now = clock()
        told = await loop.run_in_executor(self._worker(name), self._told, name, now)
        await loop.run_in_executor(self._worker(name), channel.refresh, now, *told)

    def _told(
        self, channel: str, now: float
    ) -> tuple[set[int] | None, list[tuple[AlertPayload, bool]] | None]:
        """The ids of the store's open incidents, and what ``channel`` was told since the
        oldest of them opened (and in the last :data:`TOLD_FOR` s, for the resolutions
        just sent); ``(None, None)`` if the store cannot be read now."""
        try:
            listed = self._store.incident_list(open_only=True, limit=1_000_000, shown=(0, 1))
            since = min([now - TOLD_FOR, *(item.incident.opened for item in listed)])
            told = self._store.channel_alerts(channel, since)
        except Exception:
            return None, None  # the store's own log line says why; the alerts keep firing
        return {item.incident.id for item in listed}, told

    async def _drain(self, alert: QueuedAlert, clock: Callable[[], float]) -> None:
        """Deliver ``alert`` and the channel's next ones while they land and are due."""
        loop = asyncio.get_running_loop()
        worker = self._worker(alert.channel)
        next_alert: QueuedAlert | None = alert
        while next_alert is not None:
            current = next_alert
            landed = await loop.run_in_executor(worker, self.deliver_one, current, clock())
            if not landed:
                return
            next_alert = await loop.run_in_executor(
                worker, self._claim_next, current.channel, clock()
            )

    def _claim(self, now: float) -> list[QueuedAlert]:
        return self._store.claim_alerts(self.owner, now, self.hold_for)

    def _claim_next(self, channel: str, now: float) -> QueuedAlert | None:
        """``channel``'s next alert, claimed, if it is due."""
        return next(iter(self._store.claim_alerts(self.owner, now, self.hold_for, channel)), None)

    def _refresh(self) -> None:
        backlog = self._store.backlog()
        if self.hook is not None:
            for channel in set(backlog) | set(self._backlog):
                count, oldest = backlog.get(channel) or (0, None)
                self.hook.alerts_queued(channel, count, oldest)
        self._backlog = backlog

    # -- telling ---------------------------------------------------------------------------

    def status(self) -> list[ChannelStatus]:
        """Each configured channel (and any with alerts still queued), by name."""
        names = sorted(set(self.channels) | set(self._backlog) | set(self._tallies))
        out = []
        for name in names:
            tally = self._tallies.get(name, _Tally())
            count, oldest = self._backlog.get(name, (0, None))
            out.append(
                ChannelStatus(
                    name,
                    count,
                    oldest,
                    tally.failing,
                    tally.last_error,
                    tally.last_failure_at,
                    tally.sent,
                    tally.failed,
                )
            )
        return out

    def close(self) -> None:
        """Stop the channels' worker threads (after :meth:`run` returned)."""
        for worker in self._workers.values():
            worker.shutdown(wait=True)
        self._workers.clear()
