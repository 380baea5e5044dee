"""The alert outbox (issue 25: the store's protocol by concern): one queue per channel,
its protocol, how its rows become values, and the SQL both backends share for it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from tether.monitor._records import AlertPayload, QueuedAlert
from tether.monitor.store._dialect import C, SQLStore
from tether.monitor.store._values import Decode

ALERT_COLUMNS: Final = "id, channel, dedup, payload, attempts, created, next_at, last_error"


class OutboxStore(Protocol):
    """A store's alert outbox: one queue per channel, each delivered in order."""

    def enqueue_alert(self, channel: str, dedup: str, payload: AlertPayload, now: float) -> bool:
        """Put an alert in ``channel``'s queue, committed before returning; False if that
        channel already has ``dedup``.  While the database cannot be written the alert is
        held (True)."""

    def post_alert(self, channel: str, dedup: str, payload: AlertPayload, now: float) -> None:
        """Put an alert in ``channel``'s queue without waiting for its commit: it is
        committed in order with what was queued before and after it, promptly (with
        the incident changes, ``PROMPT_SECONDS``), and held while the database cannot be
        written; one that ``channel`` has already (``dedup``) is left out.  For the
        monitor's own loop, which must not wait on the writer's backlog: whatever it
        queues after this (the detector state that says the alert was sent) is
        committed with it or after it, never before."""

    def alert_heads(self) -> list[QueuedAlert]:
        """The oldest undelivered alert of each channel (a channel's next one waits for it,
        so order is kept within a channel), claimed or not."""

    def claim_alerts(
        self, owner: str, now: float, hold_for: float, channel: str | None = None
    ) -> list[QueuedAlert]:
        """Claim for ``owner``, until ``now + hold_for``, the head of each channel (of
        ``channel`` alone, when given) that is due and claimed by no other instance, or
        whose claim ran out; the claimed alerts, oldest first.

        Only a channel's head is ever claimed, so its order is kept whichever instance
        delivers it; ``owner`` may claim again what it holds.  Committed before returning
        (not held: while the database cannot be written this raises StoreError)."""

    def channel_alerts(self, channel: str, since: float) -> list[tuple[AlertPayload, bool]]:
        """``channel``'s alerts queued from ``since`` on, oldest first, each with whether it
        was delivered; those a gate kept back (suppressed) are left out.  What a channel
        told its receiver, read back by any instance (the Alertmanager channel rebuilds the
        alerts it keeps firing from it)."""

    def incident_tellings(self, since: float) -> dict[tuple[int, str], float]:
        """When each incident's openings and grouped updates queued from ``since`` on were
        last queued, by (incident, whom: the channel, with its group if any): what a
        restarted incident engine reads to tell again only the news it had not told."""

    def backlog(self) -> dict[str, tuple[int, float]]:
        """Per channel with undelivered alerts: how many, and when the oldest was queued."""

    def mark_delivered(self, alert_id: int, now: float, *, claimer: str | None = None) -> None:
        """Record that an alert reached its channel (whoever holds it now), and end its
        claim."""

    def mark_suppressed(
        self, alert_id: int, reason: str, now: float, *, claimer: str | None = None
    ) -> None:
        """Record that an alert was kept from its channel at ``now`` (a silence, a muted
        route: ``reason`` says which), and end its claim: it is done, never sent and never
        lost (the row stays, with ``reason``), so nothing replays it later."""

    def mark_failed(
        self, alert_id: int, error: str, retry_at: float, *, claimer: str | None = None
    ) -> None:
        """Count a failed delivery, schedule the next try, and end ``claimer``'s claim.  A
        failure of an alert another instance has claimed since (``claimer``'s ran out) or
        delivered is not counted: it is that instance's now."""


def queued_alert(row: Sequence[Any], decode: Decode) -> QueuedAlert:
    """An outbox row read back in :data:`ALERT_COLUMNS` order."""
    alert_id, channel, dedup, payload, attempts, created, next_at, last_error = row
    return QueuedAlert(
        int(alert_id),
        channel,
        dedup,
        AlertPayload.from_json(decode(payload)),
        int(attempts),
        float(created),
        float(next_at),
        last_error,
    )


_INSERT_ALERT: Final = (
    "INSERT INTO outbox (channel, dedup, payload, created, next_at) "
    "VALUES (%s, %s, %s::jsonb, %s, %s) ON CONFLICT (channel, dedup) DO NOTHING"
)


class OutboxSQL(SQLStore[C]):
    """The outbox's SQL both backends share (claiming and reading the heads is each
    backend's own: PostgreSQL locks them, SQLite has one writer)."""

    def enqueue_alert(self, channel: str, dedup: str, payload: AlertPayload, now: float) -> bool:
        """Put an alert in ``channel``'s queue, committed before returning; False if that
        channel already has ``dedup``."""
        return self._call(self._insert_alert(channel, dedup, payload, now), hold=True, held=True)

    def post_alert(self, channel: str, dedup: str, payload: AlertPayload, now: float) -> None:
        """Put an alert in ``channel``'s queue, committed promptly, not waited for."""
        self._queue_write(self._insert_alert(channel, dedup, payload, now), f"alert {dedup}")

    def _insert_alert(
        self, channel: str, dedup: str, payload: AlertPayload, now: float
    ) -> Callable[[C], bool]:
        """The write that queues an alert: True if queued, False if ``channel`` has
        ``dedup``."""
        text = self._json(payload.to_json())  # encoded now: the payload is the caller's

        def insert(conn: C) -> bool:
            cur = self._execute(conn, _INSERT_ALERT, (channel, dedup, text, now, now))
            return bool(cur.rowcount == 1)

        return insert

    def channel_alerts(self, channel: str, since: float) -> list[tuple[AlertPayload, bool]]:
        rows = self._rows(
            "SELECT payload, delivered FROM outbox WHERE channel = %s AND created >= %s "
            "AND suppressed IS NULL ORDER BY id",
            (channel, since),
        )
        return [
            (AlertPayload.from_json(self._decode(payload)), delivered is not None)
            for payload, delivered in rows
        ]

    def incident_tellings(self, since: float) -> dict[tuple[int, str], float]:
        rows = self._rows(
            "SELECT channel, dedup, created FROM outbox WHERE created >= %s "
            "AND (dedup LIKE %s OR dedup LIKE %s)",
            (since, "%:incident.updated:%", "%:incident.opened:%"),
        )
        out: dict[tuple[int, str], float] = {}
        for channel, dedup, created in rows:
            number, _, rest = str(dedup).partition(":")
            parts = rest.rsplit(":", 2)
            if not number.isdigit() or len(parts) != 3:
                continue  # not a key the engine made (a row of another version): not news
            whom, event, _ = parts
            key = (int(number), whom if event == "incident.updated" else str(channel))
            out[key] = max(out.get(key, 0.0), float(created))
        return out

    def backlog(self) -> dict[str, tuple[int, float]]:
        rows = self._rows(
            "SELECT channel, count(*), min(created) FROM outbox WHERE delivered IS NULL "
            "GROUP BY channel"
        )
        return {channel: (int(n), float(oldest)) for channel, n, oldest in rows}

    def mark_delivered(self, alert_id: int, now: float, *, claimer: str | None = None) -> None:
        self._call(
            lambda c: self._execute(
                c,
                "UPDATE outbox SET delivered = coalesce(delivered, %s), claimed_by = NULL, "
                "claim_until = NULL WHERE id = %s",
                (now, alert_id),
            ),
            hold=True,
            first=True,
        )

    def mark_suppressed(
        self, alert_id: int, reason: str, now: float, *, claimer: str | None = None
    ) -> None:
        self._call(
            lambda c: self._execute(
                c,
                "UPDATE outbox SET delivered = coalesce(delivered, %s), suppressed = %s, "
                "claimed_by = NULL, claim_until = NULL WHERE id = %s AND delivered IS NULL",
                (now, reason, alert_id),
            ),
            hold=True,
            first=True,
        )

    def mark_failed(
        self, alert_id: int, error: str, retry_at: float, *, claimer: str | None = None
    ) -> None:
        self._call(
            lambda c: self._execute(
                c,
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s, next_at = %s, "
                "claimed_by = NULL, claim_until = NULL WHERE id = %s AND delivered IS NULL "
                "AND (%s::text IS NULL OR claimed_by IS NULL OR claimed_by = %s)",
                (error, retry_at, alert_id, claimer, claimer),
            ),
            hold=True,
            first=True,
        )
