"""The monitor's history: SQLite by default (one writer, batched, WAL)."""

from tether.monitor.store._sqlite import ProbeRecord, Rollup, SQLiteStore

__all__ = ["ProbeRecord", "Rollup", "SQLiteStore"]
