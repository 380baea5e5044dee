"""Database monitors end to end: the configuration (``query``, ``role``, the URL's
options, each error naming its key), the prober judging ``[RESULT]`` and ``[ROWS]``, the
password kept out of every stored record, and the round trip a monitor makes to an agent
(dumped as the server sends it, validated as the agent reads it, probed by its prober).
The real peer is a redis-server started here (skipped without it unless
TETHER_REQUIRE_REDIS=1); PostgreSQL and MariaDB take the same path through the judge
(their own tests are in tests/probe/)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from tests.helpers.config_text import dump, errors_of
from tests.helpers.db_servers import REDIS_PASSWORD, Redis
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Prober
from tether.monitor.config import Monitor, MonitorConfig, parse_config
from tether.monitor.config._fields import SECONDS_CONTEXT
from tether.monitor.config._monitor_wire import monitor_json


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    """The server, with ``health`` set to 42 by redis-py (a check writes nothing)."""
    import redis as redis_py

    server = Redis()
    server.start()
    client = redis_py.Redis(host="127.0.0.1", port=server.port, password=REDIS_PASSWORD)
    client.set("health", "42")
    client.close()
    yield server
    server.stop()


def config(redis: Redis, *conditions: str, query: str = "GET health") -> MonitorConfig:
    monitor = {
        "name": "cache",
        "url": f"redis://:${{REDIS_PASSWORD}}@127.0.0.1:{redis.port}/0",
        "query": query,
        "role": "primary",
        "conditions": list(conditions),
    }
    return parse_config(dump(monitor), env={"REDIS_PASSWORD": REDIS_PASSWORD})


def check(monitor: Monitor) -> ProbeRecord:
    prober = Prober()
    prober.assign([monitor])
    return asyncio.run(prober.check(monitor.name, prober.mono())).record


def shown(record: ProbeRecord) -> str:
    return json.dumps([record.detail, list(record.conditions), repr(record)])


def test_result_and_rows_conditions_pass_and_fail(redis: Redis) -> None:
    good = check(config(redis, "[RESULT] == 42", "[ROWS] == 1", "[PHASE].query < 5s").monitors[0])
    assert good.ok, good.detail
    assert good.conditions[0] == "[RESULT] (42) == 42"
    assert set(good.phases) >= {"connect", "auth", "query"}
    bad = check(config(redis, "[RESULT] > 100").monitors[0])
    assert not bad.ok
    assert bad.detail == "condition not met: [RESULT] (42) > 100"
    assert REDIS_PASSWORD not in shown(good) + shown(bad)


def test_a_missing_key_has_no_result(redis: Redis) -> None:
    record = check(config(redis, "[RESULT] == 1", query="GET no-such-key").monitors[0])
    assert not record.ok
    assert record.detail == "condition not met: [RESULT] (missing) == 1"


def test_a_refused_password_is_stored_as_its_kind_without_it(redis: Redis) -> None:
    monitor = {"name": "cache", "url": f"redis://:not-It-123@127.0.0.1:{redis.port}"}
    record = check(parse_config(dump(monitor)).monitors[0])
    assert record.kind is not None
    assert record.kind.value == "db.auth_failed"
    assert "not-It-123" not in shown(record)


def test_conditions_never_hide_a_database_failure(redis: Redis) -> None:
    """A condition that holds ([PHASE].connect) does not pass a check whose login failed:
    the failure is stored with its kind and its own detail."""
    monitor = {
        "name": "cache",
        "url": f"redis://:not-It-123@127.0.0.1:{redis.port}",
        "conditions": ["[PHASE].connect < 10s"],
    }
    record = check(parse_config(dump(monitor)).monitors[0])
    assert not record.ok
    assert record.kind is not None
    assert record.kind.value == "db.auth_failed"
    assert record.detail is not None
    assert record.detail.startswith("the server refused the credentials: WRONGPASS")


def test_the_monitor_survives_the_trip_to_an_agent(redis: Redis) -> None:
    """As the server sends it (``monitor_json``) and the agent reads it: the same
    monitor, and its prober checks it."""
    monitor = config(redis, "[RESULT] == 42").monitors[0]
    raw = json.loads(json.dumps(monitor_json(monitor)))
    received = Monitor.model_validate(raw, context={SECONDS_CONTEXT: True})
    assert received == monitor
    assert (received.query, received.role) == ("GET health", "primary")
    assert check(received).ok


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"url": "http://127.0.0.1:8080/", "query": "SELECT 1"},
            "monitors[0].query: only postgresql://, mysql:// and redis:// monitors take it; "
            "this is http://",
        ),
        (
            {"url": "tcp://127.0.0.1:5432", "role": "primary"},
            "monitors[0].role: only postgresql://, mysql:// and redis:// monitors take it; "
            "this is tcp://",
        ),
        (
            {"url": "postgresql://127.0.0.1/app", "role": "leader"},
            "monitors[0].role: ",
        ),
        (
            {"url": "redis://127.0.0.1", "query": "GET 'unbalanced"},
            'monitors[0].query: "GET \'unbalanced" cannot be read as a command: ',
        ),
        (
            {"url": "postgresql://127.0.0.1/app", "query": "  "},
            "monitors[0].query: is empty: write a query (SELECT 1) or, for Redis, a command",
        ),
        (
            {"url": "postgresql://127.0.0.1/app?sslmode=prefer"},
            "monitors[0].url: ",
        ),
        (
            {"url": "mysql://127.0.0.1/app?tls=1"},
            "monitors[0].url: ",
        ),
    ],
)
def test_check_config_names_the_key(fields: dict[str, str], error: str) -> None:
    errors = errors_of(dump({"name": "db", **fields}))
    assert len(errors) == 1, errors
    assert errors[0].startswith(error), errors[0]
    assert "\n" not in errors[0]


def test_tls_options_are_taken_by_database_monitors() -> None:
    text = dump(
        {
            "name": "db",
            "url": "postgresql://checker:pw@db.test/app?sslmode=verify-full",
            "tls": {"ca_file": "/etc/ssl/corp.pem"},
            "query": "SELECT count(*) FROM jobs",
        }
    )
    monitor = parse_config(text).monitors[0]
    assert monitor.tls is not None
    assert monitor.tls.ca_file == "/etc/ssl/corp.pem"
    assert "pw@" not in repr(monitor)
