"""docs/monitor.md's "Databases and caches" example loads, and its ``cache`` monitor is
checked as written against a real redis-server started here (its port in place of the
docs' 6379); the PostgreSQL and MariaDB monitors name servers of their own
(tests/probe/test_probe_postgres.py and test_probe_mysql.py run every case against real
ones).  Skipped without redis-server unless TETHER_REQUIRE_REDIS=1."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import redis

from tests.helpers.db_servers import REDIS_PASSWORD, Redis
from tether.monitor.checks._prober import Prober
from tether.monitor.config import parse_config

DOC = Path(__file__).parents[2] / "docs/monitor.md"


def _example() -> str:
    section = DOC.read_text().split("## Databases and caches", 1)[1]
    return re.findall(r"```yaml\n(.*?)```", section, re.S)[0]


def test_the_example_loads_and_its_cache_monitor_passes_against_redis() -> None:
    env = {"PG_PASSWORD": "x", "MYSQL_PASSWORD": "x", "REDIS_PASSWORD": REDIS_PASSWORD}
    config = parse_config(_example(), env=env)
    assert [m.name for m in config.monitors] == ["orders-db", "shop-db", "cache"]
    assert config.monitor("orders-db").role == "primary"
    server = Redis()
    server.start()
    try:
        cache = config.monitor("cache")
        live = cache.model_copy(update={"url": cache.url.replace(":6379", f":{server.port}")})
        client = redis.Redis(host="127.0.0.1", port=server.port, password=REDIS_PASSWORD)
        client.set("health", "ok")
        prober = Prober()
        prober.assign([live])
        record = asyncio.run(prober.check(live.name, prober.mono())).record
        assert record.ok, record.detail
        assert record.conditions[0] == '[RESULT] ("ok") == ok'
        client.set("health", "draining")
        client.close()
        record = asyncio.run(prober.check(live.name, prober.mono())).record
        assert not record.ok
        assert record.detail.startswith('condition not met: [RESULT] ("draining") == ok')
    finally:
        server.stop()
