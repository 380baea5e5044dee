"""What each instance of a cluster knows of the monitors it holds and those it does not,
when shards move and when a pause is read from the store: two real Runners at one
location on PostgreSQL, driven round by round (no real time waited on)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tests.helpers.postgres_server import PostgresServer
from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor._records import AuditEntry, LocationState
from tether.monitor._state import State
from tether.monitor.alerts import Outbox
from tether.monitor.config import parse_config
from tether.monitor.store import PostgresCluster, PostgresStore
from tether.monitor.store._shares import shard_of

T = TypeVar("T")
NAMES = [f"m{i}" for i in range(24)]


def two_instances(dsn: str, lab: Lab, body: Callable[[Runner, Runner], Awaitable[T]]) -> T:
    """``body(first, second)``: the first holding every shard and having checked every
    monitor (each up), then the second joined and given its fair share."""
    lines = "\n".join(f"  - {{name: {n}, url: '{lab['healthy'].url}'}}" for n in NAMES)
    config = parse_config(f"defaults: {{interval: 1h, timeout: 2s}}\nmonitors:\n{lines}\n")

    async def main() -> T:
        runners = []
        for n in (1, 2):
            store = PostgresStore(dsn)
            cluster = PostgresCluster(dsn, "local", ttl=3600, id=f"h:{n}:x")
            runners.append(Runner(config, store, Outbox(store, {}), cluster=cluster))
        first, second = runners
        try:
            await first.renew()
            for name in NAMES:
                await first.check(name, first.mono())
            first.store.flush()
            await second.renew()  # joins: nothing is free yet
            await first.renew()  # hands half back, each state saved and published first
            await second.renew()  # takes it
            return await body(first, second)
        finally:
            for runner in runners:
                runner.store.close()
                runner.cluster.close()

    return asyncio.run(main())


def taken(runner: Runner) -> list[str]:
    return [n for n in NAMES if shard_of(n, runner.cluster.shards) in runner.held]


def test_a_monitor_taken_over_is_known_by_the_state_its_last_holder_published(
    postgres_dsn: str, lab: Lab
) -> None:
    """The instance that takes a shard over shows its monitors up, as the last holder
    published them, before any check of its own changes their state (it showed them
    unknown until their next change: an up monitor, for ever)."""

    async def body(first: Runner, second: Runner) -> dict[str, State]:
        await second.poll_locations()
        return {n: second.quorum.states()[n] for n in taken(second)}

    seen = two_instances(postgres_dsn, lab, body)
    assert seen
    assert set(seen.values()) == {State.UP}


def test_a_pause_read_from_the_store_is_the_holders_to_make(postgres_dsn: str, lab: Lab) -> None:
    """A monitor paused and resumed through the instance that does not hold it (as the
    write API does): that instance's detector keeps out of it (it paused a monitor it
    does not probe, and logged the change) and it shows what the holder publishes:
    paused, then up after the holder's next check."""

    async def body(first: Runner, second: Runner) -> list[State]:
        name = taken(second)[0]
        seen = []
        for paused in (True, False):
            audit = AuditEntry(first.wall(), "local", "local", "pause", f"monitor:{name}", {})
            first.store.set_paused(name, paused, audit)
            for runner in (first, second):
                runner.controls.apply(runner.store.controls(runner.wall()))
            if not paused:
                await second.check(name, second.mono())
            second.store.flush()
            await first.poll_locations()
            seen.append(first.quorum.states()[name])
            assert name not in first.detector.states()
        return seen

    assert two_instances(postgres_dsn, lab, body) == [State.PAUSED, State.UP]


def test_a_read_the_database_refuses_makes_the_next_one_full(
    own_postgres: PostgresServer,
) -> None:
    """PostgreSQL stops: the read of the locations' states fails quietly (read again next
    second), and the next one is a full one, horizon and all, since the server may come
    back another one, its transactions numbered afresh; once it is back, that full read
    sets a horizon again."""
    dsn = own_postgres.dsn()
    config = parse_config(
        "defaults: {interval: 1h, timeout: 2s}\nmonitors:\n  - {name: a, url: 'http://127.0.0.1:9/'}\n"
    )

    async def main() -> list[tuple[float | None, int | None]]:
        store = PostgresStore(dsn, retry_min=0.0, retry_max=0.0)
        cluster = PostgresCluster(dsn, "local", ttl=3600, id="h:1:x")
        runner = Runner(config, store, Outbox(store, {}), cluster=cluster)
        feed = runner.membership.feed
        seen = []
        try:
            store.record_location_state(LocationState("a", "local", State.UP, 1.0))
            store.flush()
            await runner.poll_locations()
            seen.append((feed.since(), feed.horizon))
            own_postgres.halt()
            await runner.poll_locations()
            seen.append((feed.since(), feed.horizon))
            own_postgres.resume()
            await runner.poll_locations()
            seen.append((feed.since(), feed.horizon))
        finally:
            store.close()
            cluster.close()
        return seen

    first, stopped, back = asyncio.run(main())
    assert first[0] is not None
    assert first[1] is not None
    assert stopped == (None, None)
    assert back[1] is not None
