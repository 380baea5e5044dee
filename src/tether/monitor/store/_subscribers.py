"""Status page subscribers, the news told to them, their deliveries, and the updates a team
writes on an incident (issue 48), by concern as the other protocols are: the protocol, its
values, and the SQL both backends share.

- ``tether_subscribers``: one row per address (an e-mail address or a webhook URL) of a
  page, with its own token (the links in its messages: confirm, unsubscribe) and, for a
  webhook, the secret its bodies are signed with.  Unconfirmed until its confirmation
  link is followed; unsubscribing deletes the row and what it had not been sent.
- ``tether_status_news``: each piece of news of a page told once (an incident opened, an
  update, a resolution, a maintenance announced, begun, over): the key that makes the
  telling happen once, whichever instance or restart finds it, and what was told (the
  feed reads it back: what was said is never rewritten).
- ``tether_status_deliveries``: the subscribers' outbox.  A piece of news becomes one row
  per confirmed subscriber in the same transaction that notes it, so a crash loses
  neither; each row is claimed by one deliverer at a time, delivered or retried with
  backoff, and given up after :data:`GIVE_UP_AFTER` attempts.
- ``tether_incident_updates``: what a team tells its users of an incident
  (``Investigating``, ``Identified``, ``Monitoring``, ``Resolved`` and words), written
  with its audit entry and a line of the incident's timeline.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from tether.monitor._records import AuditEntry, TimelineEntry
from tether.monitor.store._dialect import C, SQLStore

__all__ = [
    "DELIVERY_COLUMNS",
    "GIVE_UP_AFTER",
    "SUBSCRIBER_COLUMNS",
    "UPDATE_COLUMNS",
    "Delivery",
    "IncidentUpdate",
    "Subscriber",
    "SubscriberSQL",
    "SubscriberStore",
]

SUBSCRIBER_COLUMNS: Final = "id, page, kind, address, token, secret, created, confirmed"
DELIVERY_COLUMNS: Final = (
    "d.id, d.key, d.body, d.attempts, s.id, s.page, s.kind, s.address, s.token, s.secret, "
    "s.created, s.confirmed"
)
UPDATE_COLUMNS: Final = "id, incident, at, state, text, who"
GIVE_UP_AFTER: Final = 30
"""Attempts after which a delivery is given up (with backoff capped at an hour: a day)."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    """An address that asked for a page's news: ``kind`` ``email`` or ``webhook``; its
    ``token`` is in every link sent to it; ``confirmed`` ``None`` until it confirmed."""

    id: int
    page: str
    kind: str
    address: str
    token: str
    secret: str | None
    created: float
    confirmed: float | None

    def __repr__(self) -> str:
        return f"<Subscriber {self.id} {self.kind} {self.page}>"  # never the address


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message for one subscriber: ``key`` (``confirm`` or a piece of news) and the
    ``body`` the message is made from."""

    id: int
    key: str
    body: Mapping[str, Any]
    attempts: int
    subscriber: Subscriber


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """What a team told its users of an incident at ``at``: a ``state`` of
    ``investigating``, ``identified``, ``monitoring`` or ``resolved``, and ``text``."""

    id: int
    incident: int
    at: float
    state: str
    text: str
    who: str


class SubscriberStore(Protocol):
    """A store's subscribers, their news and deliveries, and the incidents' updates."""

    def subscribe(
        self, subscriber: Subscriber, confirmation: Mapping[str, Any], now: float
    ) -> Subscriber:
        """Store ``subscriber`` (its id is the store's) with its confirmation queued for
        it; an address the page has already: that one, unchanged, and a confirmation
        queued again while it is unconfirmed (none once it is)."""

    def confirm_subscriber(self, token: str, now: float) -> Subscriber | None:
        """Confirm the subscriber of ``token`` (once: a second time changes nothing)."""

    def unsubscribe(self, token: str) -> Subscriber | None:
        """Delete the subscriber of ``token`` and what it had not been sent."""

    def subscriber_by_token(self, token: str) -> Subscriber | None: ...

    def subscribers(self, page: str | None = None) -> list[Subscriber]:
        """Every subscriber (of ``page``), oldest first."""

    def unconfirmed(self, page: str) -> int:
        """How many subscribers of ``page`` have not confirmed."""

    def import_subscribers(self, subscribers: Sequence[Subscriber]) -> int:
        """Add ``subscribers`` as exported (an address a page has already is left as it
        is); how many were added."""

    def news_told(self, page: str) -> set[str]:
        """The keys of ``page``'s news told already."""

    def tell(self, page: str, key: str, at: float, body: Mapping[str, Any], now: float) -> int:
        """Note ``page``'s news ``key`` (of ``at``) with ``body``, what it says, and queue
        ``body`` for each subscriber confirmed by ``at``, in one transaction; how many
        were queued (0 also when it was told already)."""

    def news(self, page: str, limit: int) -> list[Mapping[str, Any]]:
        """What was told of ``page``'s news, as it was told, the newest ``limit`` first."""

    def claim_deliveries(
        self,
        owner: str,
        now: float,
        hold_for: float,
        limit: int = 50,
        skip: Collection[int] = (),
    ) -> list[Delivery]:
        """Claim for ``owner`` until ``now + hold_for`` the due deliveries no other holds,
        but those of ``skip`` (the ones it is sending now)."""

    def delivered(self, delivery_id: int, now: float) -> None: ...

    def delivery_failed(self, delivery_id: int, error: str, retry_at: float | None) -> None:
        """Count a failed attempt; ``retry_at`` ``None``: give it up."""

    def pending_deliveries(self) -> int:
        """How many deliveries wait (neither delivered nor given up)."""

    def prune_news(self, before: float) -> None:
        """Drop deliveries done before ``before`` and news noted before it."""

    def forget_unconfirmed(self, before: float) -> int:
        """Delete the subscribers that asked before ``before`` and never confirmed, with
        what they had not been sent; how many."""

    def add_incident_update(
        self, update: IncidentUpdate, audit: AuditEntry
    ) -> IncidentUpdate | None:
        """Store ``update`` (its id is the store's), a line of its incident's timeline and
        ``audit`` in one transaction; ``None`` if there is no such incident."""

    def incident_updates(self, incidents: Collection[int]) -> dict[int, list[IncidentUpdate]]:
        """The updates of each of ``incidents``, oldest first."""


def _subscriber(row: Sequence[Any]) -> Subscriber:
    sid, page, kind, address, token, secret, created, confirmed = row
    return Subscriber(
        int(sid),
        page,
        kind,
        address,
        token,
        secret,
        float(created),
        None if confirmed is None else float(confirmed),
    )


def _update(row: Sequence[Any]) -> IncidentUpdate:
    uid, incident, at, state, text, who = row
    return IncidentUpdate(int(uid), int(incident), float(at), state, text, who)


class SubscriberSQL(SQLStore[C]):
    """The SQL of subscribers, news, deliveries and incident updates, both backends alike."""

    def _queue_delivery(
        self, conn: C, subscriber: int, key: str, body: Mapping[str, Any], now: float
    ) -> None:
        self._execute(
            conn,
            "INSERT INTO tether_status_deliveries (subscriber, key, body, created, next_at) "
            "VALUES (%s, %s, %s::jsonb, %s, %s) ON CONFLICT (subscriber, key) DO NOTHING",
            (subscriber, key, self._json(dict(body)), now, now),
        )

    def subscribe(
        self, subscriber: Subscriber, confirmation: Mapping[str, Any], now: float
    ) -> Subscriber:
        s = subscriber

        def write(conn: C) -> Subscriber:
            row = self._execute(
                conn,
                f"SELECT {SUBSCRIBER_COLUMNS} FROM tether_subscribers "
                "WHERE page = %s AND kind = %s AND address = %s",
                (s.page, s.kind, s.address),
            ).fetchone()
            if row is None:
                row = self._execute(
                    conn,
                    "INSERT INTO tether_subscribers "
                    "(page, kind, address, token, secret, created, confirmed) "
                    f"VALUES (%s, %s, %s, %s, %s, %s, NULL) RETURNING {SUBSCRIBER_COLUMNS}",
                    (s.page, s.kind, s.address, s.token, s.secret, s.created),
                ).fetchone()
            found = _subscriber(row)
            if found.confirmed is None:
                # Each request its own confirmation (the rate limit bounds them).
                self._queue_delivery(conn, found.id, f"confirm:{now!r}", confirmation, now)
            return found

        return self._call(write)

    def confirm_subscriber(self, token: str, now: float) -> Subscriber | None:
        def write(conn: C) -> Subscriber | None:
            self._execute(
                conn,
                "UPDATE tether_subscribers SET confirmed = %s "
                "WHERE token = %s AND confirmed IS NULL",
                (now, token),
            )
            row = self._execute(
                conn,
                f"SELECT {SUBSCRIBER_COLUMNS} FROM tether_subscribers WHERE token = %s",
                (token,),
            ).fetchone()
            return None if row is None else _subscriber(row)

        return self._call(write)

    def unsubscribe(self, token: str) -> Subscriber | None:
        def write(conn: C) -> Subscriber | None:
            row = self._execute(
                conn,
                f"DELETE FROM tether_subscribers WHERE token = %s RETURNING {SUBSCRIBER_COLUMNS}",
                (token,),
            ).fetchone()
            if row is None:
                return None
            found = _subscriber(row)
            self._execute(
                conn,
                "DELETE FROM tether_status_deliveries WHERE subscriber = %s AND delivered IS NULL",
                (found.id,),
            )
            return found

        return self._call(write)

    def subscriber_by_token(self, token: str) -> Subscriber | None:
        rows = self._rows(
            f"SELECT {SUBSCRIBER_COLUMNS} FROM tether_subscribers WHERE token = %s", (token,)
        )
        return _subscriber(rows[0]) if rows else None

    def subscribers(self, page: str | None = None) -> list[Subscriber]:
        if page is None:
            rows = self._rows(f"SELECT {SUBSCRIBER_COLUMNS} FROM tether_subscribers ORDER BY id")
        else:
            rows = self._rows(
                f"SELECT {SUBSCRIBER_COLUMNS} FROM tether_subscribers WHERE page = %s ORDER BY id",
                (page,),
            )
        return [_subscriber(r) for r in rows]

    def unconfirmed(self, page: str) -> int:
        rows = self._rows(
            "SELECT COUNT(*) FROM tether_subscribers WHERE page = %s AND confirmed IS NULL",
            (page,),
        )
        return int(rows[0][0])

    def import_subscribers(self, subscribers: Sequence[Subscriber]) -> int:
        def write(conn: C) -> int:
            added = 0
            for s in subscribers:
                cur = self._execute(
                    conn,
                    "INSERT INTO tether_subscribers "
                    "(page, kind, address, token, secret, created, confirmed) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (s.page, s.kind, s.address, s.token, s.secret, s.created, s.confirmed),
                )
                added += max(cur.rowcount, 0)
            return added

        return self._call(write)

    def news_told(self, page: str) -> set[str]:
        rows = self._rows("SELECT key FROM tether_status_news WHERE page = %s", (page,))
        return {str(r[0]) for r in rows}

    def tell(self, page: str, key: str, at: float, body: Mapping[str, Any], now: float) -> int:
        def write(conn: C) -> int:
            cur = self._execute(
                conn,
                "INSERT INTO tether_status_news (page, key, at, noted, body) "
                "VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT (page, key) DO NOTHING",
                (page, key, at, now, self._json(dict(body))),
            )
            if cur.rowcount != 1:
                return 0
            cur = self._execute(
                conn,
                "INSERT INTO tether_status_deliveries (subscriber, key, body, created, next_at) "
                "SELECT id, %s, %s::jsonb, %s, %s FROM tether_subscribers "
                "WHERE page = %s AND confirmed IS NOT NULL AND confirmed <= %s "
                "ON CONFLICT (subscriber, key) DO NOTHING",
                (key, self._json(dict(body)), now, now, page, at),
            )
            return max(int(cur.rowcount), 0)

        return self._call(write)

    def news(self, page: str, limit: int) -> list[Mapping[str, Any]]:
        rows = self._rows(
            "SELECT body FROM tether_status_news WHERE page = %s AND body IS NOT NULL "
            "ORDER BY at DESC, key DESC LIMIT %s",
            (page, limit),
        )
        return [self._decode(r[0]) for r in rows]

    def claim_deliveries(
        self,
        owner: str,
        now: float,
        hold_for: float,
        limit: int = 50,
        skip: Collection[int] = (),
    ) -> list[Delivery]:
        def write(conn: C) -> list[Delivery]:
            ids = [
                int(r[0])
                for r in self._execute(
                    conn,
                    "SELECT id FROM tether_status_deliveries "
                    "WHERE delivered IS NULL AND gave_up IS NULL AND next_at <= %(now)s "
                    "AND (claimed_by IS NULL OR claimed_by = %(owner)s "
                    "OR claim_until < %(now)s) "
                    f"AND NOT ({self._any('id', '%(skip)s', 'bigint[]')}) "
                    "ORDER BY id LIMIT %(limit)s",
                    {"now": now, "owner": owner, "limit": limit, "skip": self._list(skip)},
                ).fetchall()
            ]
            if not ids:
                return []
            self._execute(
                conn,
                "UPDATE tether_status_deliveries SET claimed_by = %(owner)s, "
                f"claim_until = %(until)s WHERE {self._any('id', '%(ids)s', 'bigint[]')}",
                {"owner": owner, "until": now + hold_for, "ids": self._list(ids)},
            )
            rows = self._execute(
                conn,
                f"SELECT {DELIVERY_COLUMNS} FROM tether_status_deliveries d "
                "JOIN tether_subscribers s ON s.id = d.subscriber "
                f"WHERE {self._any('d.id', '%(ids)s', 'bigint[]')} ORDER BY d.id",
                {"ids": self._list(ids)},
            ).fetchall()
            return [
                Delivery(int(r[0]), r[1], self._decode(r[2]), int(r[3]), _subscriber(r[4:]))
                for r in rows
            ]

        return self._call(write)

    def delivered(self, delivery_id: int, now: float) -> None:
        self._call(
            lambda conn: self._execute(
                conn,
                "UPDATE tether_status_deliveries SET delivered = %s, attempts = attempts + 1, "
                "claimed_by = NULL, claim_until = NULL WHERE id = %s",
                (now, delivery_id),
            )
        )

    def delivery_failed(self, delivery_id: int, error: str, retry_at: float | None) -> None:
        def write(conn: C) -> None:
            if retry_at is None:
                self._execute(
                    conn,
                    "UPDATE tether_status_deliveries SET gave_up = next_at, "
                    "attempts = attempts + 1, last_error = %s, claimed_by = NULL, "
                    "claim_until = NULL WHERE id = %s",
                    (error, delivery_id),
                )
            else:
                self._execute(
                    conn,
                    "UPDATE tether_status_deliveries SET next_at = %s, attempts = attempts + 1, "
                    "last_error = %s, claimed_by = NULL, claim_until = NULL WHERE id = %s",
                    (retry_at, error, delivery_id),
                )

        self._call(write)

    def pending_deliveries(self) -> int:
        (row,) = self._rows(
            "SELECT count(*) FROM tether_status_deliveries "
            "WHERE delivered IS NULL AND gave_up IS NULL"
        )
        return int(row[0])

    def prune_news(self, before: float) -> None:
        def write(conn: C) -> None:
            self._execute(
                conn,
                "DELETE FROM tether_status_deliveries WHERE delivered < %s OR gave_up < %s",
                (before, before),
            )
            self._execute(conn, "DELETE FROM tether_status_news WHERE noted < %s", (before,))

        self._call(write)

    def forget_unconfirmed(self, before: float) -> int:
        def write(conn: C) -> int:
            self._execute(
                conn,
                "DELETE FROM tether_status_deliveries WHERE delivered IS NULL AND subscriber IN "
                "(SELECT id FROM tether_subscribers WHERE confirmed IS NULL AND created < %s)",
                (before,),
            )
            cur = self._execute(
                conn,
                "DELETE FROM tether_subscribers WHERE confirmed IS NULL AND created < %s",
                (before,),
            )
            return int(cur.rowcount)

        return self._call(write)

    def add_incident_update(
        self, update: IncidentUpdate, audit: AuditEntry
    ) -> IncidentUpdate | None:
        u = update
        line = TimelineEntry(u.at, "update", f"{u.who}: {u.state.capitalize()}: {u.text}")

        def write(conn: C) -> IncidentUpdate | None:
            cur = self._execute(
                conn,
                "INSERT INTO incident_timeline (incident, entry) "
                "SELECT id, %s::jsonb FROM incidents WHERE id = %s",
                (self._json(line.to_json()), u.incident),
            )
            if cur.rowcount != 1:
                return None
            row = self._execute(
                conn,
                "INSERT INTO tether_incident_updates (incident, at, state, text, who) "
                f"VALUES (%s, %s, %s, %s, %s) RETURNING {UPDATE_COLUMNS}",
                (u.incident, u.at, u.state, u.text, u.who),
            ).fetchone()
            self._log(audit)(conn)
            return _update(row)

        return self._call(write)

    def incident_updates(self, incidents: Collection[int]) -> dict[int, list[IncidentUpdate]]:
        if not incidents:
            return {}
        rows = self._rows(
            f"SELECT {UPDATE_COLUMNS} FROM tether_incident_updates "
            f"WHERE {self._any('incident', '%(ids)s', 'bigint[]')} ORDER BY at, id",
            {"ids": self._list(list(incidents))},
        )
        out: dict[int, list[IncidentUpdate]] = {}
        for r in rows:
            u = _update(r)
            out.setdefault(u.incident, []).append(u)
        return out
