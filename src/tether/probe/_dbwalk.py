"""The walk of a database or cache check: ``url``, ``proxy`` (not used), ``dns`` by
tether's own resolver (so ``resolver:`` and ``probe.allowed_targets`` apply), then the
client of each server: :mod:`._redis` (tether's own, over the walk's connection),
:mod:`._postgres` (psycopg) and :mod:`._mysql` (PyMySQL), each with its ``auth`` and
``query`` phases.  What each phase covers is in docs/monitor.md, "Databases and caches"."""

from __future__ import annotations

from tether.probe._dboptions import (
    MYSQL_SCHEMES,
    POSTGRES_SCHEMES,
    DatabaseQuery,
    database_url,
)
from tether.probe._details import ProxyDetails
from tether.probe._target import Target
from tether.probe._walk_tls import WalkTls


async def walk_database(w: WalkTls, t: Target) -> None:
    """Every phase after ``url`` of a database or cache check."""
    w.begin("proxy")
    w.end(ProxyDetails(None, "not used for a database check"))
    query = w.options.database or DatabaseQuery()
    url = database_url(w.given)
    if t.scheme in POSTGRES_SCHEMES:
        from tether.probe import _postgres

        await _postgres.walk(w, t, url, query)
    elif t.scheme in MYSQL_SCHEMES:
        from tether.probe import _mysql

        await _mysql.walk(w, t, url, query)
    else:
        from tether.probe import _redis

        await _redis.walk(w, t, url, query)
