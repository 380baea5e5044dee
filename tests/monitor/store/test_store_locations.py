"""Each monitor's state at each location: written by the instance probing it there,
read by the leader, on SQLite and PostgreSQL.

The writes go through the store's writer (batched, held through an outage, the last
one per monitor and location winning); on PostgreSQL a fence keeps out a write from an
instance whose shard has moved on.  The leader's :class:`LocationFeed` is pure and is
tested on made-up rows; the stores on real databases.
"""

from __future__ import annotations

import itertools

import psycopg
import pytest

from tests.helpers.postgres_server import PostgresServer
from tests.helpers.stores import open_target, schema_of
from tether._kinds import Kind
from tether.monitor._state import State
from tether.monitor.store import (
    Fence,
    LocationFeed,
    LocationRow,
    LocationState,
    PostgresStore,
    StoreError,
)

T0 = 1_700_000_000.0


def down(monitor: str = "api", location: str = "eu", at: float = T0) -> LocationState:
    return LocationState(
        monitor,
        location,
        State.DOWN,
        at,
        "3 consecutive checks failed",
        kind=Kind.CONNECT_REFUSED,
        detail="refused",
        host="127.0.0.1",
    )


def up(monitor: str = "api", location: str = "eu", at: float = T0) -> LocationState:
    return LocationState(monitor, location, State.UP, at, latency_ms=12.5)


def states(rows: list[LocationRow]) -> list[LocationState]:
    return [row.state for row in rows]


# -- the stores ---------------------------------------------------------------------------


def test_location_states_round_trip_and_the_last_one_queued_wins(target: str) -> None:
    """States of one monitor at two locations read back whole (the detector's reason
    too), each stamped with the database's clock; of two queued for one monitor and
    location in one batch, the last is the one kept; a later write replaces it."""
    with open_target(target, batch_seconds=5.0) as store:
        store.record_location_state(up(location="eu"))
        store.record_location_state(down(location="eu", at=T0 + 1))
        store.record_location_state(up(location="us"))
        store.flush()
        rows = store.location_states()
        assert sorted(states(rows), key=lambda s: s.location) == [
            down(location="eu", at=T0 + 1),
            up(location="us"),
        ]
        assert all(isinstance(row.updated, float) for row in rows)
        store.record_location_state(up(location="eu", at=T0 + 60))
        store.flush()
        assert {(s.location, s.state) for s in states(store.location_states())} == {
            ("eu", State.UP),
            ("us", State.UP),
        }


def test_location_states_since_a_stamp(target: str) -> None:
    """A read from a stamp gives the rows the database took at or after it, oldest first;
    from past the newest, none."""
    with open_target(target) as store:
        for n, name in enumerate(("a", "b", "c")):
            store.record_location_state(up(monitor=name, at=T0 + n))
            store.flush()
        rows = store.location_states()
        stamps = [row.updated for row in rows]
        assert stamps == sorted(stamps)
        assert [s.monitor for s in states(store.location_states(since=stamps[-1]))] == ["c"]
        assert store.location_states(since=stamps[-1] + 1) == []
        assert len(store.location_states(since=stamps[0])) == 3


def test_a_read_of_changes_from_a_stamp(target: str) -> None:
    """A read of what changed gives the rows taken at or after its stamp, with a horizon
    on PostgreSQL (none on SQLite, whose one writer commits in the order of its stamps)."""
    with open_target(target) as store:
        store.record_location_state(up(monitor="a"))
        store.flush()
        read = store.location_changes(None, None)
        assert states(read.rows) == [up(monitor="a")]
        assert (read.horizon is not None) == target.startswith("postgresql://")
        assert store.location_changes(read.rows[-1].updated + 1, read.horizon).rows == []


def test_postgres_reads_each_changed_row_once_even_one_committed_late(
    postgres_dsn: str,
) -> None:
    """On PostgreSQL a read of what changed takes only the rows written by transactions
    from the last read's horizon on: read again, nothing (each read used to take every
    row of the last 30 s, once a second); a row whose transaction was open at a read,
    stamped before a row read since, comes in the first read after it commits (with the
    rows written after that transaction began, read again: news only once, to the
    feed); and a row
    changed by a statement that names no ``xid`` (a writer of schema 7, in a rolling
    upgrade) comes too.  No ``since`` bound in these reads: the horizon alone decides."""
    with PostgresStore(postgres_dsn) as store:
        store.record_location_state(up(monitor="a"))
        store.flush()
        first = store.location_changes(None, None)
        assert [s.monitor for s in states(first.rows)] == ["a"]
        again = store.location_changes(None, first.horizon)
        assert again.rows == []
        assert again.horizon is not None
        with psycopg.connect(postgres_dsn) as late:  # its transaction stays open
            late.execute(
                "INSERT INTO tether_location_states (monitor, location, state, since, updated) "
                "VALUES ('late', 'eu', 'down', %s, extract(epoch FROM clock_timestamp()))",
                (T0,),
            )
            store.record_location_state(down(monitor="b"))
            store.flush()
            second = store.location_changes(None, again.horizon)
            assert [s.monitor for s in states(second.rows)] == ["b"]
            late.commit()
        third = store.location_changes(None, second.horizon)
        # late's, stamped before b's; and b's again: written after the oldest transaction
        # open at the last read (late's), so that read could not rule it out.
        assert [s.monitor for s in states(third.rows)] == ["late", "b"]
        with psycopg.connect(postgres_dsn, autocommit=True) as older:
            older.execute("UPDATE tether_location_states SET state = 'up' WHERE monitor = 'b'")
        fourth = store.location_changes(None, third.horizon)
        assert [(s.monitor, s.state) for s in states(fourth.rows)] == [("b", State.UP)]
        assert store.location_changes(None, fourth.horizon).rows == []


def lease(server: PostgresServer, dsn: str, location: str, shard: int, owner: str) -> None:
    schema = schema_of(dsn) if "search_path" in dsn else "public"
    server.execute(
        f"INSERT INTO {schema}.tether_leases (location, shard, owner, expires) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (location, shard) DO UPDATE SET owner = "
        "excluded.owner",
        (location, shard, owner, T0 + 15),
    )


def test_a_fenced_write_lands_only_while_its_owner_holds_the_shard(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """On PostgreSQL a write with a fence lands while the fence's owner holds the shard
    at that location, and is dropped when another instance does (or nobody ever did);
    a write without a fence always lands."""
    with PostgresStore(postgres_dsn) as store:
        lease(postgres_server, postgres_dsn, "eu", 7, "b")
        store.record_location_state(down(monitor="a-held"), fence=Fence("a", 7))
        store.record_location_state(down(monitor="b-held"), fence=Fence("b", 7))
        store.record_location_state(down(monitor="no-lease"), fence=Fence("b", 8))
        store.record_location_state(down(monitor="unfenced"))
        store.flush()
        assert sorted(s.monitor for s in states(store.location_states())) == [
            "b-held",
            "unfenced",
        ]
        assert store.health().refused == 0  # dropped by the fence, not refused


def test_a_held_write_is_dropped_if_its_shard_moved_on_meanwhile(
    own_postgres: PostgresServer,
) -> None:
    """An instance writes a monitor's state while the server is away (held, the last one
    only); while it waits, the shard moves to another instance, whose state lands: the
    held write, once the server is back, is dropped rather than laid over the new
    owner's."""
    ticks = itertools.count()
    now = {"t": 0.0}
    dsn = own_postgres.dsn()
    store = PostgresStore(dsn, retry_min=60.0, retry_max=60.0, clock=lambda: now["t"])
    lease(own_postgres, dsn, "eu", 7, "a")
    store.record_location_state(up(), fence=Fence("a", 7))
    store.flush()
    own_postgres.halt()
    store.record_location_state(down(at=T0 + 1), fence=Fence("a", 7))
    store.record_location_state(down(at=T0 + 2), fence=Fence("a", 7))
    with pytest.raises(StoreError):
        store.flush()
    own_postgres.resume()
    lease(own_postgres, dsn, "eu", 7, "b")  # a's lease ran out; b took the shard
    with PostgresStore(dsn) as other:
        other.record_location_state(up(at=T0 + 30), fence=Fence("b", 7))
    now["t"] = 61.0 + next(ticks)  # the held write's retry is due
    store.flush()
    assert store.health().up
    (row,) = states(store.location_states())
    assert (row.state, row.since) == (State.UP, T0 + 30)
    store.close()


def test_held_location_states_are_written_once_the_server_is_back(
    own_postgres: PostgresServer,
) -> None:
    """While the server is away, states are held, the last per monitor and location
    only; once it is back they are written."""
    with PostgresStore(own_postgres.dsn(), retry_min=0.0, retry_max=0.0) as store:
        own_postgres.halt()
        for n in range(50):
            store.record_location_state(down(at=T0 + n))
        store.record_location_state(up(location="us"))
        with pytest.raises(StoreError):
            store.flush()
        assert store.health().held == 0  # not rows: the last state of each only
        own_postgres.resume()
        store.flush()
        assert sorted((s.location, s.since) for s in states(store.location_states())) == [
            ("eu", T0 + 49),
            ("us", T0),
        ]


# -- the leader's feed --------------------------------------------------------------------


def stamped(state: LocationState, updated: float) -> LocationRow:
    return LocationRow(state, updated)


def test_the_feed_reports_news_once_however_often_a_row_is_read() -> None:
    """Taking rows reports the new and the changed; the same rows read again (the next
    read overlaps the last) or written again unchanged are no news."""
    feed = LocationFeed(overlap=30.0)
    assert feed.since() is None  # the first read is a full one
    first = [stamped(up("a"), 100.0), stamped(down("b"), 101.0)]
    assert feed.take(first) == states(first)
    assert feed.since() == 71.0
    assert feed.take(first) == []
    rewritten = stamped(down("b"), 140.0)  # written again, unchanged
    assert feed.take([rewritten]) == []
    assert feed.since() == 110.0
    changed = stamped(up("b", at=T0 + 5), 141.0)
    assert feed.take([rewritten, changed]) == [changed.state]
    assert feed.states[("b", "eu")] == changed.state


def test_a_row_committed_after_a_newer_one_is_caught_by_the_overlap() -> None:
    """Row x is stamped at 200 but commits after row y, stamped at 205, was read: the next
    read, going back the overlap from 205, still finds x."""
    feed = LocationFeed(overlap=30.0)
    y = stamped(down("y"), 205.0)
    feed.take([y])
    since = feed.since()
    assert since is not None
    x = stamped(down("x"), 200.0)
    table = [x, y]
    assert feed.take(row for row in table if row.updated >= since) == [x.state]


def test_a_reset_makes_the_next_read_full_and_reports_only_news() -> None:
    """After a reset (leadership gained) the next read starts from nothing; rows already
    held are no news."""
    feed = LocationFeed()
    a, b = stamped(up("a"), 100.0), stamped(down("b"), 100.5)
    feed.take([a])
    feed.reset()
    assert feed.since() is None
    assert feed.take([a, b]) == [b.state]


def test_the_feed_keeps_each_read_horizon_until_a_reset() -> None:
    """The next read starts from the horizon of the last (PostgreSQL's); a reset makes it
    a full one, horizon and all; a store that keeps none gives None."""
    feed = LocationFeed()
    feed.take([stamped(up("a"), 100.0)], 7_000)
    assert (feed.since(), feed.horizon) == (70.0, 7_000)
    feed.take([], 7_003)
    assert feed.horizon == 7_003
    feed.reset()
    assert (feed.since(), feed.horizon) == (None, None)
    feed.take([stamped(up("a"), 101.0)])
    assert feed.horizon is None


def test_a_horizon_going_back_makes_the_next_read_full() -> None:
    """A read whose horizon is before the last one's comes from another database (one
    restored, or a new server, numbering its transactions afresh): its rows are taken,
    and the next read is a full one, as after a reset, so nothing it wrote is missed."""
    feed = LocationFeed()
    feed.take([stamped(up("a"), 100.0)], 9_000)
    b = stamped(down("b"), 101.0)
    assert feed.take([b], 40) == [b.state]
    assert (feed.since(), feed.horizon) == (None, None)
    feed.take([], 45)
    assert (feed.since(), feed.horizon) == (None, 45)  # no rows: still a full read next
