"""Kuma's ``postgres``, ``mysql`` and ``redis`` monitors become tether's database
monitors: the connection string the URL, the query the ``query``, a password said in the
file's header; a connection string tether cannot read is left out with why, never shown
with its password.  (The checks themselves run against real servers in tests/probe/.)"""

from __future__ import annotations

import pytest

from tether.monitor.config import parse_config
from tether.monitor.importers.kuma._monitors import map_monitor


def test_a_postgres_monitor_keeps_its_url_and_query_and_says_the_password() -> None:
    mapped = map_monitor(
        {
            "type": "postgres",
            "database_connection_string": "postgres://kuma:pg-Pass-1@db.test:5432/app",
            "database_query": "SELECT count(*) FROM jobs",
        }
    )
    assert mapped.monitor is not None
    assert mapped.monitor["url"] == "postgres://kuma:pg-Pass-1@db.test:5432/app"
    assert mapped.monitor["query"] == "SELECT count(*) FROM jobs"
    assert any("password" in note for note in mapped.notes)
    assert not any("pg-Pass-1" in note for note in mapped.notes)
    loaded = parse_config(
        "monitors:\n  - {name: db, url: 'postgres://kuma:pg-Pass-1@db.test:5432/app', "
        "query: 'SELECT count(*) FROM jobs'}\n"
    )
    assert loaded.monitors[0].query == "SELECT count(*) FROM jobs"


@pytest.mark.parametrize(
    ("kind", "url"),
    [("mysql", "mysql://kuma:x@db.test:3306/shop"), ("redis", "redis://127.0.0.1:6379")],
)
def test_mysql_and_redis_monitors(kind: str, url: str) -> None:
    mapped = map_monitor(
        {"type": kind, "database_connection_string": url, "database_query": "SELECT 1"}
    )
    assert mapped.monitor is not None
    assert mapped.monitor["url"] == url
    assert ("query" in mapped.monitor) == (kind == "mysql")  # Redis: Kuma PINGs


@pytest.mark.parametrize(
    ("kind", "url", "why"),
    [
        ("postgres", "mysql://u:sec-Ret@db.test/x", "mysql:// is not postgres:// or postgresql://"),
        ("redis", "", "no scheme is not redis:// or rediss://"),
        ("postgres", "postgres://u:sec-Ret@db.test/x?sslmode=prefer", "sslmode='prefer'"),
    ],
)
def test_a_connection_string_tether_cannot_read_is_left_out(kind: str, url: str, why: str) -> None:
    mapped = map_monitor({"type": kind, "database_connection_string": url})
    assert mapped.monitor is None
    ((key, said),) = mapped.left_out
    assert key == "database_connection_string"
    assert why in said
    assert "sec-Ret" not in said
