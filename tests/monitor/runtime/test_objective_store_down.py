"""An objective whose store cannot be read when the monitor starts (a PostgreSQL server of
the test's own, halted and resumed as an operator would): its read fails and is tried
again, it is not evaluated meanwhile (an empty count would page on the first failure),
the checks taken meanwhile are kept for it, and once the server is back it counts the
store's history and those checks, each once.  Real store, real runner; the runner's
clock is the test's."""

from __future__ import annotations

import asyncio

from tests.helpers.postgres_server import PostgresServer
from tether._kinds import Kind
from tether.monitor import Runner
from tether.monitor._records import ProbeRecord
from tether.monitor.alerts import Outbox
from tether.monitor.checks._prober import Check
from tether.monitor.config import parse_config
from tether.monitor.runtime._objective_stage import RETRY_EVERY
from tether.monitor.store import PostgresStore

NOW = 1_800_000_000.0
CONFIG = """\
monitors:
  - {name: api, url: "http://127.0.0.1:9/"}
objectives:
  - {name: checkout, monitors: [api], target: 99%, window: 30d}
"""


def test_a_read_that_fails_waits_and_is_tried_again(own_postgres: PostgresServer) -> None:
    """The server halts after the runner is made: the read fails, the objective is not
    evaluated, a refused check taken meanwhile is not counted yet; the server resumes,
    the read is tried again and lands: an hour of history and the check, once each."""
    store = PostgresStore(own_postgres.dsn(), retry_min=0.0, retry_max=0.0)
    for minute in range(60):
        store.record(ProbeRecord("api", NOW - 3600 + minute * 60, True))
    store.flush()
    clock = [NOW]
    runner = Runner(parse_config(CONFIG), store, Outbox(store, {}), wall=lambda: clock[0])
    stage = runner.objectives

    async def reads() -> None:
        stage.tick(clock[0])
        while stage._task is not None:
            await stage._task

    try:
        own_postgres.halt()
        asyncio.run(reads())
        assert stage.waiting == {"checkout"}
        clock[0] += 1
        # Taken as the runner takes a check: stored (held while the server is away) and
        # counted.
        runner.take_check(Check(ProbeRecord("api", clock[0], False, Kind.CONNECT_REFUSED), None))
        assert stage.evaluate(clock[0]) == []  # not evaluated: no page on an empty count
        assert "checkout" not in stage.statuses
        own_postgres.resume()
        clock[0] += RETRY_EVERY
        asyncio.run(reads())
        assert stage.waiting == set()
        stage.evaluate(clock[0])
        assert stage.statuses["checkout"].counts == (60, 61)
    finally:
        store.close()
        runner.outbox.close()
