"""The discovered set (issue 44 section 4): each ``discover:`` source's targets as its
latest good read left them, those kept in their grace period with since when they are
missing, so that ``tether status``, ``tether history``, the pages and a monitor started
again (before its sources answer) know the discovered monitors; and a row per source,
when its set last changed (what the other instances of a cluster look at to follow it)
and when it was last read.

A target is kept as its address and its group's labels, not as the monitor: the
file's template makes it a monitor again when read, so a template changed while tether
was stopped applies to the stored set.  Written by the instance that reads the sources
(alone, or a cluster's leader), as each read changes the set: what changed, in one
transaction, never the whole set.  Rows go with their monitor: a target past its grace
period, a source taken out of the file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tether.monitor.store._dialect import C, SQLStore

__all__ = ["DiscoveredRow", "DiscoveredSQL", "DiscoveredStore", "SourceRow"]


@dataclass(frozen=True, slots=True)
class DiscoveredRow:
    """A discovered target, and the name of the monitor it made."""

    source: str
    name: str
    address: str
    labels: Mapping[str, str]
    """Its group's labels, ``__meta_*`` ones too."""
    gone_since: float | None = None
    """Since when its source's reads have missed it (None: in the latest one)."""


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A source as the store knows it."""

    source: str
    changed: float
    """When its set was last written (the writer's clock): another instance reads the set
    again when this moves."""
    last_success: float | None = None
    """When a read of it last succeeded (Unix seconds)."""


class DiscoveredStore(Protocol):
    """The discovered set."""

    def discovered(self, sources: Collection[str] | None = None) -> list[DiscoveredRow]:
        """Every target kept (of ``sources`` only, when given), by source and name."""

    def discovery_sources(self) -> list[SourceRow]:
        """Every source the store holds a set of."""

    def save_discovered(
        self,
        source: SourceRow,
        put: Sequence[DiscoveredRow],
        removed: Collection[str],
        *,
        whole: bool = False,
    ) -> None:
        """Queue a change of ``source``'s set, in one transaction: ``put`` written over
        what the store holds of their names, the monitors named ``removed`` dropped (with
        ``whole``, every row of the source not in ``put``), and the source's row."""

    def drop_discovery_sources(self, keep: Collection[str]) -> None:
        """Queue dropping the set of every source not in ``keep`` (taken out of the file)."""


_COLUMNS = "source, name, address, labels, gone_since"


class DiscoveredSQL(SQLStore[C]):
    """The discovered set's SQL, both backends alike."""

    def discovered(self, sources: Collection[str] | None = None) -> list[DiscoveredRow]:
        if sources is None:
            rows = self._rows(f"SELECT {_COLUMNS} FROM tether_discovered ORDER BY source, name")
        else:
            rows = self._rows(
                f"SELECT {_COLUMNS} FROM tether_discovered WHERE "
                f"{self._any('source', '%(sources)s', 'text[]')} ORDER BY source, name",
                {"sources": self._list(sorted(sources))},
            )
        return [self._discovered_row(r) for r in rows]

    def _discovered_row(self, row: Sequence[Any]) -> DiscoveredRow:
        source, name, address, labels, gone = row
        decoded = self._decode(labels)
        return DiscoveredRow(
            str(source),
            str(name),
            str(address),
            {str(k): str(v) for k, v in decoded.items()} if isinstance(decoded, dict) else {},
            None if gone is None else float(gone),
        )

    def discovery_sources(self) -> list[SourceRow]:
        rows = self._rows(
            "SELECT source, changed, last_success FROM tether_discovery_sources ORDER BY source"
        )
        return [
            SourceRow(str(s), float(c), None if last is None else float(last))
            for s, c, last in rows
        ]

    def save_discovered(
        self,
        source: SourceRow,
        put: Sequence[DiscoveredRow],
        removed: Collection[str],
        *,
        whole: bool = False,
    ) -> None:
        # Encoded now: the caller goes on with its objects.
        values = [
            (r.source, r.name, r.address, self._json(dict(r.labels)), r.gone_since) for r in put
        ]
        gone = sorted(removed)
        row = (source.source, source.changed, source.last_success)

        def write(conn: C) -> None:
            if whole:
                self._execute(
                    conn, "DELETE FROM tether_discovered WHERE source = %s", (source.source,)
                )
            for name in gone:
                self._execute(
                    conn,
                    "DELETE FROM tether_discovered WHERE source = %s AND name = %s",
                    (source.source, name),
                )
            for value in values:
                self._execute(
                    conn,
                    f"INSERT INTO tether_discovered ({_COLUMNS}) "
                    "VALUES (%s, %s, %s, %s::jsonb, %s) ON CONFLICT (source, name) DO UPDATE "
                    "SET address = excluded.address, labels = excluded.labels, "
                    "gone_since = excluded.gone_since",
                    value,
                )
            self._execute(
                conn,
                "INSERT INTO tether_discovery_sources (source, changed, last_success) "
                "VALUES (%s, %s, %s) ON CONFLICT (source) DO UPDATE SET "
                "changed = excluded.changed, last_success = excluded.last_success",
                row,
            )

        self._queue_write(write, f"the discovered set of {source.source}")

    def drop_discovery_sources(self, keep: Collection[str]) -> None:
        kept = self._list(sorted(keep))

        def drop(conn: C) -> None:
            for table in ("tether_discovered", "tether_discovery_sources"):
                self._execute(
                    conn,
                    f"DELETE FROM {table} WHERE NOT ({self._any('source', '%(keep)s', 'text[]')})",
                    {"keep": kept},
                )

        self._queue_write(drop, "the discovered sets of sources taken out of the file")
