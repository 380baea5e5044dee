"""The store a test's ``target`` names (tests/conftest.py): an SQLite file, or a
PostgreSQL URL with an empty schema of its own."""

from __future__ import annotations

from typing import Any

from tether.monitor.store import PostgresStore, SQLiteStore, Store


def open_target(target: str, **options: Any) -> Store:
    if target.startswith("postgresql://"):
        return PostgresStore(target, **options)
    return SQLiteStore(target, **options)


def schema_of(dsn: str) -> str:
    return dsn.rpartition("%3D")[2]
