"""The monitor's history: SQLite by default (one writer, batched, WAL), PostgreSQL at scale;
and, on PostgreSQL, the leases by which several instances share the work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor.store._base import (
    AgentRow,
    DiscoveredRow,
    Fence,
    LocationRead,
    LocationRow,
    Pruned,
    Retention,
    Rollup,
    SourceRow,
    Store,
    StoreError,
    instance_id,
)
from tether.monitor.store._cluster import (
    FEED_OVERLAP,
    LEASE_TTL,
    Cluster,
    ClusterError,
    Instance,
    LocationFeed,
    PostgresCluster,
    Round,
    SoloCluster,
    open_cluster,
)
from tether.monitor.store.postgres._store import PostgresStore
from tether.monitor.store.sqlite._store import SQLiteStore

if TYPE_CHECKING:
    from tether.monitor.config import Storage

__all__ = [
    "FEED_OVERLAP",
    "LEASE_TTL",
    "AgentRow",
    "Cluster",
    "ClusterError",
    "DiscoveredRow",
    "Fence",
    "Instance",
    "LocationFeed",
    "LocationRead",
    "LocationRow",
    "LocationState",
    "PostgresCluster",
    "PostgresStore",
    "ProbeRecord",
    "Pruned",
    "Retention",
    "Rollup",
    "Round",
    "SQLiteStore",
    "SoloCluster",
    "SourceRow",
    "Store",
    "StoreError",
    "instance_id",
    "open_cluster",
    "open_store",
]


def open_store(storage: Storage, *, delivers: bool = True) -> Store:
    """The store ``storage`` configures: PostgreSQL when ``postgres`` is set, else SQLite.
    ``delivers``: the process will deliver the outbox's alerts (the monitor); a command
    that does not (``tether status``, ``history``, ...) leaves a SQLite file's claims as
    they are, which the monitor beside it may be delivering.

    Raises :class:`StoreError` when the database cannot be opened (its message
    never shows a password), or when PostgreSQL is configured and psycopg is
    not installed.
    """
    retention = Retention(
        raw=storage.raw_retention,
        rollups=storage.rollup_retention,
        alerts=storage.alert_retention,
        silences=storage.silence_retention,
        incidents=storage.incidents_kept,
        audit=storage.audit_retention,
    )
    if storage.postgres:
        return PostgresStore(storage.postgres, retention=retention, spill=storage.spill)
    return SQLiteStore(storage.path, retention=retention, spill=storage.spill, reclaim=delivers)
