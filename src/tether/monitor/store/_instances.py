"""The instances of tether monitor that use this store, and the certificates their
checks saw: what ``/api/status`` and ``tether status`` both read, so that one store gives
one answer to whoever asks (issue 44, "one view").

- **Instances.**  On PostgreSQL every instance heartbeats its row of
  ``tether_instances`` at each renewal round (``_cluster.PostgresCluster``), and whether
  it leads is whether it holds the leader's lease.  A lone instance (SQLite) has no
  rounds and no leases: it writes the same row every ``ttl / 4`` seconds through the
  store's writer (:meth:`InstanceStore.save_instance`), leader while alive, and removes
  it when it stops cleanly.  Either way :meth:`InstanceStore.instances` reads the rows,
  and an instance is alive while its heartbeat is within the lease's time (``ttl``).
- **Certificates.**  When each monitor's leaf certificate expires, as its last check
  that saw one said: a row per monitor, written when the date changes (a renewal), so
  the cost is nothing per check; pruned once the monitor has no raw result left
  (``ResultSQL.prune``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol

from tether.monitor.store._dialect import C, SQLStore

__all__ = [
    "INSTANCE_COLUMNS",
    "LEADER",
    "LEADING_INSTANCES",
    "CertificateStore",
    "Instance",
    "InstanceSQL",
    "InstanceStore",
    "instance_of",
]

INSTANCE_COLUMNS: Final = "id, location, host, pid, started, heartbeat, leader, shards, version"
LEADER: Final = ("", -1)
"""The leader's lease row (PostgreSQL): a location no instance has (an empty name is
refused)."""
LEADING_INSTANCES: Final = (
    "SELECT i.id, i.location, i.host, i.pid, i.started, i.heartbeat, "
    "(l.owner IS NOT NULL AND l.expires >= %(now)s), i.shards, i.version "
    "FROM tether_instances i LEFT JOIN tether_leases l "
    f"ON l.location = '{LEADER[0]}' AND l.shard = {LEADER[1]} AND l.owner = i.id "
    "ORDER BY 7 DESC, i.location, i.started, i.id"
)
"""Every instance on PostgreSQL, in :data:`INSTANCE_COLUMNS` order, leader first: it
leads while it holds the leader's lease, unexpired at ``now``."""


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance, as the cluster's list shows it (dashboard, ``tether status``)."""

    id: str
    location: str
    host: str
    pid: int
    started: float
    heartbeat: float
    leader: bool
    """It holds the leader's lease, unexpired."""
    shards: int
    """How many shards it held at its last round."""
    alive: bool
    """Its last heartbeat is within the lease's time."""
    version: str | None = None


def instance_of(row: Sequence[Any], now: float, ttl: float) -> Instance:
    """A row read in :data:`INSTANCE_COLUMNS` order (``leader``: whether it leads, as
    the backend worked it out), alive when its heartbeat is within ``ttl`` of ``now``."""
    i, location, host, pid, started, beat, leads, shards, version = row
    alive = float(beat) >= now - ttl
    return Instance(
        str(i),
        str(location),
        str(host),
        int(pid),
        float(started),
        float(beat),
        bool(leads),
        int(shards),
        alive,
        None if version is None else str(version),
    )


class InstanceStore(Protocol):
    """The instances of tether monitor on this store."""

    def save_instance(self, instance: Instance) -> None:
        """Queue ``instance``'s row (a lone instance's heartbeat)."""

    def remove_instance(self, instance_id: str) -> None:
        """Delete ``instance_id``'s row, committed on return: a lone instance's, on a
        clean stop."""

    def forget_instances(self, before: float) -> None:
        """Queue the deletion of the rows whose last heartbeat is before ``before``: a
        lone instance forgets the rows of those killed before it (one monitor per file)."""

    def instances(self, now: float, ttl: float) -> list[Instance]:
        """Every instance the store knows, leader first; alive while its heartbeat is
        within ``ttl`` of ``now``."""


class CertificateStore(Protocol):
    """When each monitor's leaf certificate expires."""

    def save_certificate(self, monitor: str, expires: float) -> None:
        """Queue when ``monitor``'s certificate expires, as its latest check saw it."""

    def certificates(self, monitors: Collection[str] | None = None) -> dict[str, float]:
        """When the certificate of each of ``monitors`` (every monitor's when None)
        expires; a monitor whose checks saw none is left out."""


class InstanceSQL(SQLStore[C]):
    """The instances' and certificates' SQL, both backends alike but the read of the
    instances (whether one leads: PostgreSQL asks the leases)."""

    _select_instances: ClassVar[str]
    """Every instance in :data:`INSTANCE_COLUMNS` order, leader first; its parameters
    are ``now`` and ``ttl``."""

    def save_instance(self, instance: Instance) -> None:
        values = (
            instance.id,
            instance.location,
            instance.host,
            instance.pid,
            instance.started,
            instance.heartbeat,
            instance.leader,
            instance.shards,
            instance.version,
        )

        def upsert(conn: C) -> None:
            self._execute(
                conn,
                f"INSERT INTO tether_instances ({INSTANCE_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "location = excluded.location, heartbeat = excluded.heartbeat, "
                "leader = excluded.leader, shards = excluded.shards, version = excluded.version",
                values,
            )

        self._queue_write(upsert, f"instance {instance.id}")

    def remove_instance(self, instance_id: str) -> None:
        self._call(
            lambda conn: self._execute(
                conn, "DELETE FROM tether_instances WHERE id = %s", (instance_id,)
            )
        )

    def forget_instances(self, before: float) -> None:
        self._queue_write(
            lambda conn: self._execute(
                conn, "DELETE FROM tether_instances WHERE heartbeat < %s", (before,)
            ),
            "instances gone",
        )

    def instances(self, now: float, ttl: float) -> list[Instance]:
        rows = self._rows(self._select_instances, {"now": now, "ttl": ttl})
        return [instance_of(r, now, ttl) for r in rows]

    def save_certificate(self, monitor: str, expires: float) -> None:
        def upsert(conn: C) -> None:
            self._execute(
                conn,
                "INSERT INTO tether_certificates (monitor, expires) VALUES (%s, %s) "
                "ON CONFLICT (monitor) DO UPDATE SET expires = excluded.expires",
                (monitor, expires),
            )

        self._queue_write(upsert, f"certificate of {monitor}")

    def certificates(self, monitors: Collection[str] | None = None) -> dict[str, float]:
        if monitors is None:
            rows = self._rows("SELECT monitor, expires FROM tether_certificates")
        else:
            rows = self._rows(
                "SELECT monitor, expires FROM tether_certificates "
                f"WHERE {self._any('monitor', '%s', 'text[]')}",
                (self._list(sorted(set(monitors))),),
            )
        return {str(m): float(e) for m, e in rows}
