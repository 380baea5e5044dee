"""The PostgreSQL writer's batches (``store/postgres/_writes.py``): each kind of row in one
statement of arrays for the whole batch leaves the rows that a statement a row leaves.

Real PostgreSQL throughout (tests/helpers/postgres_server.py); nothing mocked.  The
reference is each change written alone, which takes the one-row form of every statement
(``VALUES``), against the batch's arrays (``unnest``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.postgres_server import PostgresServer
from tether.monitor._records import LocationState
from tether.monitor._state import State
from tether.monitor.store import PostgresStore
from tether.monitor.store._base import IncidentWrite, merged_writes
from tether.monitor.store.postgres._writes import (
    write_changes,
    write_incidents,
    write_locations,
    write_states,
)

T0 = 1_700_000_000.0

values = st.none() | st.sampled_from(["a", "b", "c"])
times = st.none() | st.sampled_from([T0, T0 + 1, int(T0) + 2])
monitors = st.sampled_from(["m1", "m2", "m3", "m4", 'm é\t"5\\'])


@st.composite
def changes(draw: st.DrawFn) -> list[IncidentWrite]:
    """Changes of three incidents in a random order: openings (some of an id that is
    taken, which writes nothing), header changes, timeline entries, members upserted,
    deleted or all replaced, membership moves."""
    out: list[IncidentWrite] = []
    for _ in range(draw(st.integers(1, 14))):
        i = draw(st.sampled_from([1, 2, 3]))
        new = None
        if draw(st.booleans()):
            new = (
                i,
                "key",
                draw(values) or "kind",
                "detail",
                "hint",
                draw(st.sampled_from([T0, int(T0)])),
                draw(times),
                json.dumps(draw(st.lists(monitors, unique=True, max_size=3))),
                draw(times),
                draw(st.none() | st.sampled_from([1, 2])),
            )
        touched = draw(st.lists(monitors, unique=True, max_size=4))
        upserted = draw(st.lists(st.sampled_from(touched), unique=True)) if touched else []
        every = draw(st.booleans()) and new is None
        header = (
            draw(values),
            draw(values),
            draw(values),
            draw(times),
            draw(times),
            draw(st.none() | st.sampled_from([1, 2, 3])),
            draw(st.none() | st.just(json.dumps(["m1", "m2"]))),
            draw(st.none() | st.sampled_from(["host:a:connect.refused", "partial:m1"])),
        )
        out.append(
            IncidentWrite(
                i,
                new,
                header,
                tuple(
                    json.dumps({"n": draw(st.integers(0, 9))})
                    for _ in range(draw(st.integers(0, 2)))
                ),
                every,
                tuple((m, json.dumps({"v": draw(st.sampled_from(["x", "y"]))})) for m in upserted),
                () if every else tuple(m for m in touched if m not in upserted),
                tuple(
                    (
                        m,
                        float(draw(st.integers(0, 5))) + T0,
                        draw(st.sampled_from(["joined", "left"])),
                        "why",
                    )
                    for m in draw(st.lists(monitors, max_size=3))
                ),
            )
        )
    return out


def rows_of(conn: Any) -> dict[str, Any]:
    """Every incident table's rows as the store reads them: headers, members, and each
    incident's timeline and membership history in their order."""
    return {
        "headers": conn.execute("SELECT * FROM incidents ORDER BY id").fetchall(),
        "members": conn.execute(
            "SELECT incident, monitor, member FROM incident_members ORDER BY 1, 2"
        ).fetchall(),
        "timeline": conn.execute(
            "SELECT incident, entry FROM incident_timeline ORDER BY incident, seq"
        ).fetchall(),
        "moves": conn.execute(
            "SELECT incident, monitor, at, event, why FROM incident_membership "
            "ORDER BY incident, seq"
        ).fetchall(),
    }


@pytest.fixture(scope="module")
def schemas(postgres_server: PostgresServer) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores, each in a schema of its own: the reference and the batch."""
    one = PostgresStore(postgres_server.dsn(postgres_server.new_schema()))
    many = PostgresStore(postgres_server.dsn(postgres_server.new_schema()))
    with one, many:
        yield one, many


def reset(store: PostgresStore) -> None:
    store._call(  # type: ignore[attr-defined]
        lambda conn: conn.execute(
            "TRUNCATE incidents, incident_members, incident_timeline, incident_membership"
        )
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=changes(), merge=st.booleans())
def test_a_batch_of_incident_changes_leaves_the_rows_the_changes_leave_one_by_one(
    schemas: tuple[PostgresStore, PostgresStore], sequence: list[IncidentWrite], merge: bool
) -> None:
    """Any sequence of writes of several incidents (changes as they come, or merged as the
    writer merges them) written as one batch leaves every incident's header, members,
    timeline and membership history, in order, as writing each of them alone in turn
    does; an opening whose id is taken writes nothing of its change in both.  (What
    merging itself keeps is test_store_merged_writes.py's.)"""
    one, many = schemas
    reset(one)
    reset(many)
    batch = merged_writes(sequence) if merge else sequence
    for write in batch:
        one._call(lambda conn, w=write: write_incidents(conn, [w]))  # type: ignore[attr-defined]
    many._call(lambda conn: write_incidents(conn, batch))  # type: ignore[attr-defined]
    assert one._call(rows_of) == many._call(rows_of)  # type: ignore[attr-defined]


def test_a_batch_of_rows_keeps_the_last_of_each_key_as_a_row_at_a_time_did(
    schemas: tuple[PostgresStore, PostgresStore],
) -> None:
    """State changes, detector states and location states written as one batch: the last
    one given for a key wins (one statement may not touch a row twice), integer and float
    times alike; an unfenced location is written, a fenced one only while its owner holds
    the shard."""
    _, store = schemas

    def write(conn: Any) -> None:
        conn.execute("DELETE FROM tether_leases")
        conn.execute(
            "INSERT INTO tether_leases (location, shard, owner, expires) "
            "VALUES ('eu', 7, 'me', 1e12)"
        )
        write_changes(
            conn,
            [("a", T0, State.DOWN), ("b", int(T0), State.UP), ("a", T0, State.UP)],
        )
        write_states(conn, {"a": json.dumps({"n": 1}), "b": json.dumps({"n": "\\u00e9"})})
        fence = type("F", (), {})  # only owner and shard are read
        mine, theirs = fence(), fence()
        mine.owner, mine.shard, theirs.owner, theirs.shard = "me", 7, "you", 7
        located = [
            (LocationState("a", "eu", State.DOWN, T0, "r", None, None, None, 3), mine),
            (LocationState("b", "eu", State.UP, int(T0), "r", None, None, None, None), theirs),
            (LocationState("c", "us", State.UP, T0, "r", None, "d", "h", 1.5), None),
        ]
        write_locations(conn, located)  # type: ignore[arg-type]

    store._call(write)  # type: ignore[attr-defined]
    got = store._call(  # type: ignore[attr-defined]
        lambda conn: (
            conn.execute("SELECT monitor, at, state FROM state_changes ORDER BY 1").fetchall(),
            conn.execute("SELECT monitor, data FROM monitor_state ORDER BY 1").fetchall(),
            conn.execute(
                "SELECT monitor, location, state, since, latency_ms FROM tether_location_states "
                "ORDER BY 1"
            ).fetchall(),
        )
    )
    assert got == (
        [("a", T0, "up"), ("b", T0, "up")],
        [("a", {"n": 1}), ("b", {"n": "\\u00e9"})],
        [("a", "eu", "down", T0, 3.0), ("c", "us", "up", T0, 1.5)],
    )


def test_the_stores_connections_run_without_jit_unless_the_url_says(
    postgres_server: PostgresServer,
) -> None:
    """PostgreSQL's JIT compiled the incident list's statement for longer than it ran:
    the store's connections turn it off, keep the URL's other options (its search_path),
    and leave it as the URL says when the URL sets it."""
    schema = postgres_server.new_schema()
    with PostgresStore(postgres_server.dsn(schema)) as store:
        got = store._call(  # type: ignore[attr-defined]
            lambda conn: conn.execute("SELECT current_setting('jit'), current_schema()").fetchone()
        )
        assert got == ("off", schema)
    url = f"{postgres_server.dsn(schema)}%20-cjit%3Don"
    with PostgresStore(url) as store:
        got = store._call(  # type: ignore[attr-defined]
            lambda conn: conn.execute("SELECT current_setting('jit'), current_schema()").fetchone()
        )
        assert got == ("on", schema)
