"""Silences made at run time and the alerts they kept (issue 26), by concern as the other
protocols are: :class:`SilenceStore`, how its rows become values, and the SQL both
backends share for it.

A silence is stored with its matchers as Alertmanager writes them (a JSON list of
``name="value"`` texts, read back by ``parse_matchers``), made and expired with its audit
entry in one transaction (target ``silence:ID``); an expired one stays listed until its
retention has passed (``_retention.py``).  Every instance that delivers alerts reads
:meth:`SilenceStore.silences_in_force` (at most once a second, ``alerts/_silences.py``),
so a silence made on one instance of a cluster is honoured by all.  The alerts kept are
the outbox's rows with ``suppressed`` set (``Store.mark_suppressed``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from tether.monitor._records import AlertPayload, AuditEntry
from tether.monitor.config.labels._labels import parse_matchers
from tether.monitor.engine._silences import MATCHERS_MAX, SILENCES_MAX, Silence
from tether.monitor.store._dialect import C, SQLStore
from tether.monitor.store._values import Decode

__all__ = [
    "SILENCE_COLUMNS",
    "SilenceSQL",
    "SilenceStore",
    "Suppressed",
    "silence_record",
]

SILENCE_COLUMNS: Final = (
    "id, matchers, starts, ends, comment, created_by, created, expired, expired_by"
)


@dataclass(frozen=True, slots=True)
class Suppressed:
    """An alert kept from its channel (a silence, a muted route), as the outbox recorded
    it: which channel, what it was about, when it was kept and why."""

    id: int
    channel: str
    event: str
    monitor: str
    incident: int | None
    at: float
    why: str


class SilenceStore(Protocol):
    """A store's silences, each made and expired with its audit entry, and the alerts kept
    from their channels."""

    def add_silence(
        self, matchers: Sequence[str], starts: float, ends: float, comment: str, audit: AuditEntry
    ) -> Silence:
        """Store a silence of ``matchers`` (Alertmanager's texts) from ``starts`` to
        ``ends``, made by ``audit.who`` at ``audit.at``, and log ``audit`` with its target
        set to the new silence (``silence:ID``).  Committed before returning."""

    def expire_silence(self, silence_id: int, audit: AuditEntry) -> tuple[Silence | None, bool]:
        """Expire silence ``silence_id`` at ``audit.at`` and log ``audit``: the silence as it
        is now, and whether this expired it (False, nothing logged, for one expired or over
        already); ``(None, False)`` if there is none by that id."""

    def silences(self, *, limit: int = 100) -> list[Silence]:
        """Silences, newest first, expired ones too."""

    def silences_in_force(self, now: float) -> list[Silence]:
        """The silences not over at ``now``, active or pending, oldest first (what every
        delivering instance reads, each second)."""

    def count_silences_in_force(self, now: float) -> int:
        """How many silences are not over at ``now`` (``SILENCES_MAX`` bounds them)."""

    def suppressed_alerts(self, *, limit: int = 100) -> list[Suppressed]:
        """The alerts kept from their channels, newest first."""


# Each second every delivering instance reads the silences in force again: a matcher's
# text is parsed, and its expression compiled, once (the matchers are values).  Room for
# every matcher of every silence in force.
_parsed: Final = functools.lru_cache(maxsize=SILENCES_MAX * MATCHERS_MAX)(parse_matchers)


def silence_record(row: Sequence[Any], decode: Decode) -> Silence:
    """A silence read back in :data:`SILENCE_COLUMNS` order."""
    silence_id, matchers, starts, ends, comment, by, created, expired, expired_by = row
    parsed = tuple(m for text in decode(matchers) for m in _parsed(str(text)))
    return Silence(
        int(silence_id),
        parsed,
        float(starts),
        float(ends),
        comment,
        by,
        float(created),
        None if expired is None else float(expired),
        expired_by,
    )


class SilenceSQL(SQLStore[C]):
    """The SQL of silences and of the alerts they kept, both backends alike."""

    def add_silence(
        self, matchers: Sequence[str], starts: float, ends: float, comment: str, audit: AuditEntry
    ) -> Silence:
        def insert(conn: C) -> Silence:
            row = self._execute(
                conn,
                "INSERT INTO tether_silences "
                "(matchers, starts, ends, comment, created_by, created) "
                f"VALUES (%s::jsonb, %s, %s, %s, %s, %s) RETURNING {SILENCE_COLUMNS}",
                (self._json(list(matchers)), starts, ends, comment, audit.who, audit.at),
            ).fetchone()
            assert row is not None
            silence = silence_record(row, self._decode)
            self._log(replace(audit, target=f"silence:{silence.id}"))(conn)
            return silence

        return self._call(insert, first=True)

    def expire_silence(self, silence_id: int, audit: AuditEntry) -> tuple[Silence | None, bool]:
        def update(conn: C) -> tuple[Silence | None, bool]:
            done = self._execute(
                conn,
                "UPDATE tether_silences SET expired = %s, expired_by = %s "
                f"WHERE id = %s AND expired IS NULL AND ends > %s RETURNING {SILENCE_COLUMNS}",
                (audit.at, audit.who, silence_id, audit.at),
            ).fetchone()
            if done is not None:
                self._log(audit)(conn)
                return silence_record(done, self._decode), True
            row = self._execute(
                conn, f"SELECT {SILENCE_COLUMNS} FROM tether_silences WHERE id = %s", (silence_id,)
            ).fetchone()
            return (None if row is None else silence_record(row, self._decode)), False

        return self._call(update, first=True)

    def silences(self, *, limit: int = 100) -> list[Silence]:
        rows = self._rows(
            f"SELECT {SILENCE_COLUMNS} FROM tether_silences ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [silence_record(r, self._decode) for r in rows]

    def count_silences_in_force(self, now: float) -> int:
        (row,) = self._rows(
            "SELECT count(*) FROM tether_silences WHERE expired IS NULL AND ends > %s", (now,)
        )
        return int(row[0])

    def silences_in_force(self, now: float) -> list[Silence]:
        rows = self._rows(
            f"SELECT {SILENCE_COLUMNS} FROM tether_silences "
            "WHERE expired IS NULL AND ends > %s ORDER BY id",
            (now,),
        )
        return [silence_record(r, self._decode) for r in rows]

    def suppressed_alerts(self, *, limit: int = 100) -> list[Suppressed]:
        rows = self._rows(
            "SELECT id, channel, payload, delivered, suppressed FROM outbox "
            "WHERE suppressed IS NOT NULL ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        out = []
        for alert_id, channel, payload, at, why in rows:
            said = AlertPayload.from_json(self._decode(payload))
            out.append(
                Suppressed(
                    int(alert_id),
                    channel,
                    said.event,
                    said.monitor,
                    said.incident,
                    float(at),
                    why,
                )
            )
        return out
