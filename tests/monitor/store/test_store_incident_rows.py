"""An incident change writes what changed: its header, one timeline entry, the members it
touched; queued on the writer, not waited for; on SQLite and PostgreSQL.

Before (schema 5), a monitor joining an incident read the incident's whole timeline and
wrote it back with its whole member list, O(members) a change, while the event loop
waited for the writer: a mass outage of 20,000 monitors was O(N^2) in the store alone.
The work is counted here, not timed: the statements the writer's connection runs and the
bytes it sends, read from SQLite's trace callback and from libpq's trace of the
messages sent to PostgreSQL.  Real databases throughout; nothing mocked.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alert_payloads import opened
from tests.helpers.incident_rows import T0, big, fields_of, joined, sqlite_count
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.stores import open_target, schema_of
from tether.monitor._records import Alert, Incident, Member, TimelineEntry
from tether.monitor._state import State
from tether.monitor.store import PostgresStore, SQLiteStore, Store
from tether.monitor.store._base import INCIDENT_COLUMNS
from tether.monitor.store.postgres import _store as pg
from tether.monitor.store.sqlite import _store as sqlite_store


class Blocked:
    """The writer thread held inside a job of the test's until :meth:`release`: whatever
    is queued meanwhile is provably not written yet, and a call that waited for the
    writer would never return (the test's time limit would say so)."""

    def __init__(self, store: Store) -> None:
        self._go = threading.Event()
        self._in = threading.Event()

        def hold(conn: object) -> None:
            self._in.set()
            self._go.wait()

        self.done = store._submit(hold)  # type: ignore[attr-defined]
        self._in.wait()

    def release(self) -> None:
        self._go.set()
        self.done.result()


def test_a_commit_returns_at_once_and_writes_what_the_incident_was_then(target: str) -> None:
    """commit_incident returns while the writer is busy; what it writes is the incident
    as it was at the call (its members' mapping changed afterwards does not leak in),
    and several changes queued meanwhile land in order, with the results and states
    queued between them, once the writer is free."""
    with open_target(target) as store:
        first = big(store, 2)
        blocked = Blocked(store)
        second, join_a = joined(first, "a", T0 + 1)
        members = dict(second.members)
        second = Incident(**{**fields_of(second), "members": members})
        store.commit_incident(second, [Alert("ops", "1:a", opened())], T0 + 1, entry=join_a)
        members["late"] = Member(T0 + 5)  # the engine goes on with its own objects
        members["a"] = Member(T0 + 5, escalated=3)
        store.record_state("a", T0 + 1, State.DOWN)
        store.save_state("detector:a", {"n": 1})
        third, join_b = joined(
            Incident(**{**fields_of(second), "members": {**second.members}}), "b", T0 + 2
        )
        store.commit_incident(third, [], T0 + 2, entry=join_b, touched=("b",))
        assert store.incident(first.id) == first  # nothing written yet
        blocked.release()
        store.flush()
        got = store.incident(first.id)
        assert got is not None
        assert got.timeline == (*first.timeline, join_a, join_b)
        assert dict(got.members) == {
            **first.members,
            "a": Member(T0 + 1, alerted=True),
            "b": Member(T0 + 2, alerted=True),
        }
        assert got.monitors == ("a", "b", "m00000", "m00001")
        assert [(h.channel, h.dedup) for h in store.alert_heads()] == [("ops", "1:a")]
        assert store.state_changes("a", T0) == [(T0 + 1, State.DOWN)]
        assert store.load_state() == {"detector:a": {"n": 1}}


def test_only_the_touched_members_are_written(target: str) -> None:
    """With ``touched``, a member not named keeps what is stored even if the incident
    passed says otherwise, a named one is written as it says, and a named one it no
    longer has is deleted; the header (detail, folded_into) is written every time and an
    acknowledgement made from outside is never cleared by it."""
    with open_target(target) as store:
        first = big(store, 3)
        ack = TimelineEntry(T0 + 1, "acknowledged", "by ops")
        assert store.acknowledge_incident(first.id, ack)
        members = {
            "m00000": Member(T0, alerted=True, escalated=9),  # not touched: not written
            "m00001": Member(T0, alerted=True, reminded=T0 + 2),  # touched: written
            "new": Member(T0 + 2),  # touched: added
        }  # m00002 touched and gone: deleted
        change = Incident(
            **{
                **fields_of(first),
                "members": members,
                "detail": "refused: 3 hosts",
                "folded_into": 7,
            }
        )
        entry = TimelineEntry(T0 + 2, "monitor down", "new is down too")
        store.commit_incident(change, [], T0 + 2, entry=entry, touched=("m00001", "new", "m00002"))
        store.flush()
        got = store.incident(first.id)
    assert got is not None
    assert dict(got.members) == {
        "m00000": Member(T0, alerted=True),
        "m00001": Member(T0, alerted=True, reminded=T0 + 2),
        "new": Member(T0 + 2),
    }
    assert (got.detail, got.folded_into, got.acknowledged) == ("refused: 3 hosts", 7, T0 + 1)
    assert got.monitors == ("m00000", "m00001", "new")
    assert got.timeline == (*first.timeline, ack, entry)


def test_a_resolved_incident_keeps_every_monitor_that_was_in_it(target: str) -> None:
    """Resolution writes the incident's monitors as everyone that was in it (its
    membership history: m00000 left before m00001, whose return resolved it) and clears
    its members (issue 24: the monitors of an incident shrank to its last); a note or an
    audit entry about one of its monitors afterwards does not reach it (it is not open),
    but reaches the open incident that has it as a member."""
    with open_target(target) as store:
        first = big(store, 2)
        other = big(store, 1)
        back = TimelineEntry(T0 + 9, "resolved", "m00001 is back up")
        done = Incident(
            **{**fields_of(first), "members": {}, "resolved": T0 + 9, "monitors": ("m00001",)}
        )
        store.commit_incident(done, [], T0 + 9, entry=back)
        store.flush()
        got = store.incident(first.id)
        assert got is not None
        everyone = ("m00000", "m00001")
        assert (got.monitors, dict(got.members), got.resolved) == (everyone, {}, T0 + 9)
        assert got.timeline == (*first.timeline, back)
        assert [i.id for i in store.incidents(open_only=True)] == [other.id]


def postgres_count(store: Store, do: Callable[[], None]) -> tuple[int, ...]:
    """(statements, bytes) the PostgreSQL writer sends for ``do()``, transaction control
    left out: from libpq's trace of the frontend's messages, the statements executed
    (Bind, or a simple Query) and the bytes of their SQL and parameters."""
    from psycopg import pq

    fd, path = tempfile.mkstemp()
    try:

        def trace(conn: Any) -> None:
            conn.pgconn.trace(fd)
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

        store.flush()
        store._call(trace)  # type: ignore[attr-defined]
        do()
        store.flush()
        store._call(lambda conn: conn.pgconn.untrace())  # type: ignore[attr-defined]
        lines = Path(path).read_text(errors="replace").splitlines()
    finally:
        os.close(fd)
        os.unlink(path)
    # The SQL and its parameters (Parse, Bind, Query); Sync, Flush and the like are the
    # pipeline's framing, sent as its buffer fills.
    sent = [line.split("\t") for line in lines if line.startswith("F\t")]
    work = [m for m in sent if m[2] in ("Parse", "Bind", "Query")]
    work = [m for m in work if not re.search(r'"(BEGIN|COMMIT|ROLLBACK)"', m[3])]
    statements = sum(1 for m in work if m[2] in ("Bind", "Query"))
    return statements, sum(int(m[1]) for m in work)


def counted_store(
    backend: str, path: Path, request: pytest.FixtureRequest
) -> tuple[Store, Callable[[Store, Callable[[], None]], tuple[int, ...]]]:
    """A fresh store of ``backend`` (an SQLite file at ``path``, or a schema of the
    session's PostgreSQL) and how to count what its writer runs."""
    if backend == "sqlite":
        return SQLiteStore(path), sqlite_count
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return PostgresStore(server.dsn(server.new_schema())), postgres_count


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_change_costs_the_same_sql_at_ten_members_and_at_five_thousand(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A monitor joining an incident (its entry, the member, one alert) and one leaving
    it run the same statements with the same bytes bound (on SQLite, writing the same
    pages) whether the incident holds 10 members or 5,000, and the incident's row, which
    each change updates, is the same size: the work of a change does not grow with the
    incident."""
    counted: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    rows: dict[int, int] = {}
    for n in (10, 5000):
        store, count = counted_store(backend, tmp_path / f"{n}.db", request)
        with store:
            first = big(store, n)
            second, entry = joined(first, "joiner", T0 + 1)
            alert = [Alert("ops", "1:joiner", opened())]
            join = count(
                store,
                functools.partial(
                    store.commit_incident, second, alert, T0 + 1, entry=entry, touched=("joiner",)
                ),
            )
            gone = {m: v for m, v in second.members.items() if m != "m00003"}
            third = Incident(**{**fields_of(second), "members": gone})
            left = TimelineEntry(T0 + 2, "monitor up", "m00003 is back up")
            leave = count(
                store,
                functools.partial(
                    store.commit_incident, third, [], T0 + 2, entry=left, touched=("m00003",)
                ),
            )
            got = store.incident(first.id)
            assert got is not None
            assert len(got.members) == n  # one joined, one left
            assert got.timeline[-2:] == (entry, left)
            rows[n] = header_size(store, first.id)
        counted[n] = (join, leave)
    assert counted[10] == counted[5000]
    assert rows[10] == rows[5000]
    (statements, sent, *_), _ = counted[10]
    assert 0 < statements <= 4  # header, entry, member, alert
    assert sent < 2000


def header_size(store: Store, incident_id: int) -> int:
    """The bytes of an incident's row (its header), which every change of it rewrites:
    the database reads all of it to write it back, a list of every member included."""
    if isinstance(store, PostgresStore):
        sql = "SELECT pg_column_size(i.*) FROM incidents i WHERE id = %s"
    else:
        columns = INCIDENT_COLUMNS.split(", ")
        sql = f"SELECT {' + '.join(f'coalesce(length({c}), 0)' for c in columns)} "
        sql += "FROM incidents WHERE id = ?"
    size: int = store._call(lambda conn: conn.execute(sql, (incident_id,)).fetchone()[0])  # type: ignore[attr-defined]
    return size


def schema_5_with_incidents(target: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A database as a tether of schema 5 left it, with two incidents whose members and
    timelines are JSON columns: one open (two members, three entries), one resolved."""
    members = {
        "api": {"joined": T0, "alerted": True, "escalated": 1, "reminded": T0 + 5, "opener": True},
        "web": {
            "joined": T0 + 2,
            "alerted": False,
            "escalated": 0,
            "reminded": None,
            "opener": False,
        },
    }
    timeline = [
        {"at": T0, "event": "opened", "detail": "refused"},
        {"at": T0 + 2, "event": "monitor down", "detail": "web is down too"},
        {"at": T0 + 3, "event": "note", "detail": "looking"},
    ]
    closed = [
        {"at": T0, "event": "opened", "detail": "dns"},
        {"at": T0 + 9, "event": "resolved", "detail": "db is back"},
    ]
    rows = [
        (
            1,
            "host:127.0.0.1:8080",
            "connect.refused",
            "refused",
            "start it",
            T0,
            None,
            ["api", "web"],
            timeline,
            T0 + 4,
            members,
        ),
        (2, "dns", "dns.timeout", "dns", "check it", T0, T0 + 9, ["db"], closed, None, {}),
    ]
    sql = (
        "INSERT INTO incidents (id, key, kind, detail, hint, opened, resolved, monitors, "
        "timeline, acknowledged, members) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    if target.startswith("postgresql://"):
        import psycopg
        from psycopg.types.json import Jsonb

        with psycopg.connect(target, autocommit=True) as conn, monkeypatch.context() as patch:
            patch.setattr(pg, "MIGRATIONS", pg.MIGRATIONS[:5])
            assert pg.migrate(conn) == 5
            for row in rows:
                values = [Jsonb(v) if isinstance(v, list | dict) else v for v in row]
                conn.execute(sql.replace("?", "%s"), values)
        return members
    conn = sqlite3.connect(target, isolation_level=None)
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_store, "MIGRATIONS", sqlite_store.MIGRATIONS[:5])
        assert sqlite_store.migrate(conn) == 5
    for row in rows:
        conn.execute(sql, [json.dumps(v) if isinstance(v, list | dict) else v for v in row])
    conn.close()
    return members


def test_a_schema_5_database_keeps_its_incidents_members_and_timelines(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrated to schema 6, an open incident keeps its members and its timeline in order,
    a resolved one its monitors; a change, an audit entry about a member and a note go on
    from there."""
    members = schema_5_with_incidents(target, monkeypatch)
    with open_target(target) as store:
        live, over = store.incident(1), store.incident(2)
        assert live is not None
        assert over is not None
        assert {m: v.to_json() for m, v in live.members.items()} == members
        assert live.monitors == ("api", "web")
        assert [(e.event, e.detail) for e in live.timeline] == [
            ("opened", "refused"),
            ("monitor down", "web is down too"),
            ("note", "looking"),
        ]
        assert (live.acknowledged, live.folded_into, live.is_open) == (T0 + 4, None, True)
        assert (over.monitors, dict(over.members), over.resolved) == (("db",), {}, T0 + 9)
        assert [e.event for e in over.timeline] == ["opened", "resolved"]
        assert store.incidents() == [over, live]
        gone = {m: v for m, v in live.members.items() if m != "web"}
        left = TimelineEntry(T0 + 20, "monitor up", "web is back up")
        change = Incident(**{**fields_of(live), "members": gone, "acknowledged": None})
        store.commit_incident(change, [], T0 + 20, entry=left, touched=("web",))
        store.flush()
        after = store.incident(1)
    assert after is not None
    assert after.monitors == ("api",)
    assert after.acknowledged == T0 + 4
    assert after.timeline == (*live.timeline, left)
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as conn:
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = 'incidents'",
                    (schema_of(target),),
                )
            ]
    else:
        conn = sqlite3.connect(target)
        columns = [r[1] for r in conn.execute("PRAGMA table_info(incidents)")]
        conn.close()
    assert "folded_into" in columns
    assert not {"timeline", "members"} & set(columns)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_wave_of_joins_queued_together_is_a_few_statements_and_the_same_rows(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """500 monitors joining one incident, queued while the writer is busy (as in a mass
    outage), are committed as a few statements of many rows on SQLite (one a row would
    each wait for the event loop to let go of the GIL) and as fewer on PostgreSQL, and
    leave the incident with the members and timeline that 500 commits one at a time
    leave."""
    got: dict[str, Incident] = {}
    counted: dict[str, int] = {}
    for how in ("one at a time", "queued together"):
        store, count = counted_store(backend, tmp_path / f"{how}.db", request)
        with store:
            incident = big(store, 3)

            def wave(store: Store = store, incident: Incident = incident, how: str = how) -> None:
                blocked = Blocked(store) if how == "queued together" else None
                for i in range(500):
                    name = f"w{i:03d}"
                    incident, entry = joined(incident, name, T0 + 1 + i)
                    store.commit_incident(incident, [], T0 + 1 + i, entry=entry, touched=(name,))
                    if blocked is None:
                        store.flush()
                if blocked is not None:
                    blocked.release()

            statements, *_ = count(store, wave)
            found = store.incident(incident.id)
            assert found is not None
            got[how] = found
        counted[how] = statements
    # One at a time: a header, an entry and a member a change.
    assert counted["one at a time"] == 3 * 500
    if backend == "sqlite":
        # One header; the entries and the members each in statements of at most 256 rows,
        # in power-of-two sizes: 500 = 256 + 128 + 64 + 32 + 16 + 4.
        assert counted["queued together"] == 1 + 2 * 6
    else:
        # One header; the entries and the members each in one statement, as arrays.
        assert counted["queued together"] == 3
    assert got["queued together"] == got["one at a time"]
    assert len(got["queued together"].members) == 503
    assert len(got["queued together"].timeline) == 501
