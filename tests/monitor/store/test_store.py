"""The monitor's stores: the same behaviour on SQLite and PostgreSQL, and what each adds.

The behavioural tests run once per backend (``[sqlite]``, ``[postgres]``).  SQLite
files live in tmp_path; PostgreSQL is a real server the session starts on
loopback (tests/helpers/postgres_server.py), each test in an empty schema of its own.
Nothing is mocked.  Times are passed in, never read.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alert_payloads import opened, resolved
from tests.helpers.ports import free_port
from tests.helpers.postgres_server import PASSWORD, PostgresServer
from tests.helpers.stores import open_target, schema_of
from tether._kinds import Kind
from tether.cli import main
from tether.monitor._records import (
    AlertPayload,
    Incident,
    Member,
    Move,
    QueuedAlert,
    TimelineEntry,
)
from tether.monitor._state import State
from tether.monitor.config import Storage
from tether.monitor.store import (
    PostgresStore,
    ProbeRecord,
    Retention,
    SQLiteStore,
    StoreError,
    open_store,
)
from tether.monitor.store.postgres import _store as pg
from tether.monitor.store.sqlite import _store as sqlite_store
from tether.monitor.store.sqlite._store import MIGRATIONS, migrate, schema_version

T0 = 1_700_000_000.0
MINUTE = T0 - T0 % 60  # the start of T0's minute


# -- the same behaviour on both backends ---------------------------------------------------


def test_reopening_an_up_to_date_store_keeps_its_rows(target: str) -> None:
    """Reopening a migrated store runs no migration and keeps its rows."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=5.0))
    with open_target(target) as store:
        assert len(store.results("api")) == 1


def test_results_round_trip_with_their_data(target: str) -> None:
    """A recorded result reads back equal, every typed field included (kind, phases,
    resolved conditions, lag), newest first; a failed condition reads back without a kind."""
    checked = ProbeRecord(
        "api",
        T0,
        True,
        latency_ms=12.5,
        phases={"dns": 1.25, "connect": 2.0, "ttfb": 9.25},
        conditions=("[STATUS] (200) == 200", "[RESPONSE_TIME] (12ms) < 500ms"),
        lag_ms=3.5,
    )
    refused = ProbeRecord("api", T0 + 30, False, Kind.CONNECT_REFUSED, detail="refused")
    unmet = ProbeRecord(
        "api", T0 + 60, False, None, 4.0, "condition not met", conditions=("[STATUS] (503) == 200",)
    )
    with open_target(target) as store:
        store.record(checked)
        store.record(refused)
        store.record(unmet)
        store.flush()
        got = store.results("api")
    assert got == [unmet, refused, checked]
    assert got[1].kind is Kind.CONNECT_REFUSED
    assert got[0].kind is None


def test_phase_timings_are_stored_to_a_hundredth_of_a_millisecond(target: str) -> None:
    """Phases are kept to 0.01 ms and the start lag to 0.1 ms: enough, and a row stays small."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", T0, True, phases={"dns": 1.23456}, lag_ms=2.345678))
        store.flush()
        (got,) = store.results("api")
    assert (dict(got.phases), got.lag_ms) == ({"dns": 1.23}, 2.3)


def test_rollups_count_success_latency_and_kinds_per_minute_hour_and_day(target: str) -> None:
    """Three results in one minute roll up to counts, average, min, max and kinds."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", MINUTE + 1, True, latency_ms=10.0))
        store.record(ProbeRecord("api", MINUTE + 2, True, latency_ms=30.0))
        store.flush()  # a second batch merges into the same rows
        store.record(ProbeRecord("api", MINUTE + 3, False, kind=Kind.READ_TIMEOUT))
        store.record(ProbeRecord("api", MINUTE + 61, False, kind=Kind.READ_TIMEOUT))
        store.flush()
        minutes = store.rollups("api", "minute")
        hours = store.rollups("api", "hour")
        days = store.rollups("api", "day")
    assert [(m.start, m.count, m.ok_count) for m in minutes] == [
        (MINUTE, 3, 2),
        (MINUTE + 60, 1, 0),
    ]
    first = minutes[0]
    assert first.latency_avg == 20.0
    assert (first.latency_min, first.latency_max) == (10.0, 30.0)
    assert first.kinds == {"read.timeout": 1}
    assert sum(h.count for h in hours) == 4
    assert sum(d.count for d in days) == 4
    assert sum(h.kinds.get("read.timeout", 0) for h in hours) == 2


def test_prune_drops_raw_results_past_retention_but_keeps_rollups(target: str) -> None:
    """After 7 days raw rows and their minute roll-ups go; the hour and day roll-ups that
    summarise them stay for the roll-up retention (a year)."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=1.0))
        store.record(ProbeRecord("api", T0 + 8 * 86400, True, latency_ms=1.0))
        store.flush()
        removed = store.prune(now=T0 + 8 * 86400)
        assert (removed.results, removed.rollups) == (1, 1)  # the old result, and its minute
        assert [r.ts for r in store.results("api")] == [T0 + 8 * 86400]
        assert [m.start for m in store.rollups("api", "minute")] == [MINUTE + 8 * 86400]
        assert sum(h.count for h in store.rollups("api", "hour")) == 2
        assert sum(d.count for d in store.rollups("api", "day")) == 2
        removed = store.prune(now=T0 + 400 * 86400)
        assert removed.rollups > 0
        assert store.rollups("api", "day") == []


def test_outbox_deduplicates_and_schedules_retries(target: str) -> None:
    """The same dedup key queues once per channel; the payload reads back equal; a failure
    counts an attempt and moves next_at; delivery empties the queue."""
    with open_target(target) as store:
        assert store.enqueue_alert("ops", "7:api:opened", opened(), now=T0)
        assert not store.enqueue_alert("ops", "7:api:opened", resolved(), now=T0 + 1)
        (head,) = store.alert_heads()
        assert head == QueuedAlert(head.id, "ops", "7:api:opened", opened(), 0, T0, T0)
        store.mark_failed(head.id, "connect.refused: 127.0.0.1:9 refused", retry_at=T0 + 30)
        (again,) = store.alert_heads()
        assert (again.id, again.attempts, again.next_at, again.last_error) == (
            head.id,
            1,
            T0 + 30,
            "connect.refused: 127.0.0.1:9 refused",
        )
        store.mark_delivered(again.id, now=T0 + 31)
        assert store.alert_heads() == []
        assert store.backlog() == {}
        # Delivered, it still holds its key: the same alert is not queued again.
        assert not store.enqueue_alert("ops", "7:api:opened", opened(), now=T0 + 32)


def test_the_same_dedup_on_two_channels_queues_twice(target: str) -> None:
    """A dedup key is unique within its channel only: each channel of a monitor gets the
    alert, and each delivers it on its own."""
    with open_target(target) as store:
        assert store.enqueue_alert("ops", "7:api:opened", opened(), now=T0)
        assert store.enqueue_alert("mail", "7:api:opened", opened(), now=T0)
        assert not store.enqueue_alert("mail", "7:api:opened", opened(), now=T0 + 1)
        heads = store.alert_heads()
        assert [(a.channel, a.dedup, a.payload) for a in heads] == [
            ("ops", "7:api:opened", opened()),
            ("mail", "7:api:opened", opened()),
        ]
        store.mark_delivered(heads[0].id, now=T0 + 2)
        assert [a.channel for a in store.alert_heads()] == ["mail"]


def test_heads_keep_order_within_a_channel_and_are_independent_across_channels(
    target: str,
) -> None:
    """Each channel's head is its oldest undelivered alert: the next waits behind it, even
    when it fails, while another channel's queue moves on."""
    with open_target(target) as store:
        for n, channel in enumerate(["ops", "mail", "ops", "mail", "ops"]):
            store.enqueue_alert(channel, f"a{n}", opened(text=f"alert {n}"), now=T0 + n)

        def heads() -> list[tuple[str, str]]:
            return [(a.channel, a.dedup) for a in store.alert_heads()]

        assert heads() == [("ops", "a0"), ("mail", "a1")]
        ops_head = store.alert_heads()[0]
        store.mark_failed(ops_head.id, "read.timeout: no answer", retry_at=T0 + 600)
        assert heads() == [("ops", "a0"), ("mail", "a1")]  # a failing head holds its queue
        mail_head = store.alert_heads()[1]
        store.mark_delivered(mail_head.id, now=T0 + 10)
        assert heads() == [("ops", "a0"), ("mail", "a3")]  # ... and only its own
        store.mark_delivered(ops_head.id, now=T0 + 11)
        assert heads() == [("ops", "a2"), ("mail", "a3")]
        assert store.alert_heads()[0].payload.text == "alert 2"


def test_backlog_counts_each_channels_undelivered_alerts_and_their_age(target: str) -> None:
    """backlog() gives, per channel with alerts waiting, how many and when the oldest was
    queued; a delivered alert leaves it."""
    with open_target(target) as store:
        store.enqueue_alert("ops", "a", opened(), now=T0)
        store.enqueue_alert("ops", "b", resolved(), now=T0 + 5)
        store.enqueue_alert("mail", "a", opened(), now=T0 + 2)
        assert store.backlog() == {"ops": (2, T0), "mail": (1, T0 + 2)}
        ops_head = next(a for a in store.alert_heads() if a.channel == "ops")
        store.mark_failed(ops_head.id, "connect.refused", retry_at=T0 + 60)
        assert store.backlog() == {"ops": (2, T0), "mail": (1, T0 + 2)}  # failed still waits
        store.mark_delivered(ops_head.id, now=T0 + 61)
        assert store.backlog() == {"ops": (1, T0 + 5), "mail": (1, T0 + 2)}


def incident_at(
    incident_id: int, key: str, kind: Kind | None, monitors: tuple[str, ...], opened_at: float
) -> Incident:
    """A new incident as the engine opens one: its first monitor's member, one timeline line."""
    detail = f"{kind or 'condition'} on {key}"
    return Incident(
        incident_id,
        key,
        kind,
        detail,
        "start it",
        opened_at,
        monitors=monitors,
        timeline=(TimelineEntry(opened_at, "opened", detail),),
        members={m: Member(opened_at, alerted=True) for m in monitors},
    )


def test_incident_ids_are_new_and_an_opened_incident_reads_back_equal(target: str) -> None:
    """new_incident_id never repeats, not even across a reopen; an opened incident reads
    back equal, by id and in the list, and an unknown id reads as None."""
    with open_target(target) as store:
        first, second = store.new_incident_id(), store.new_incident_id()
        assert first != second
        one = incident_at(first, "host:127.0.0.1:8080", Kind.CONNECT_REFUSED, ("api",), T0)
        unmet = incident_at(second, "monitor:web", None, ("web",), T0 + 5)
        store.open_incident(one)
        store.open_incident(unmet)
        assert store.incident(first) == one
        assert store.incident(second) == unmet  # a failed condition: no kind
        assert store.incident(max(first, second) + 100) is None
        assert store.incidents() == [unmet, one]
        assert store.incidents(limit=1) == [unmet]
    with open_target(target) as store:
        third = store.new_incident_id()
        assert third not in (first, second)
        store.open_incident(incident_at(third, "dns", Kind.DNS_TIMEOUT, ("db",), T0 + 9))
        assert [i.id for i in store.incidents()] == [third, second, first]


def test_incidents_keep_their_timeline_and_members_until_resolved(target: str) -> None:
    """Noting an incident adds to its timeline and replaces its monitors and members when
    given; resolving it takes it off the open list but not off the history."""
    with open_target(target) as store:
        first = incident_at(
            store.new_incident_id(), "host:127.0.0.1:8080", Kind.CONNECT_REFUSED, ("a",), T0
        )
        second = incident_at(store.new_incident_id(), "dns", Kind.DNS_TIMEOUT, ("b",), T0 + 5)
        store.open_incident(first)
        store.open_incident(second)
        joined = TimelineEntry(T0 + 10, "monitor down", "b is down too")
        members = {
            "a": Member(T0, alerted=True, escalated=1, reminded=T0 + 9),
            "c": Member(T0 + 10, alerted=False),
        }
        store.note_incident(first.id, joined, monitors=["c", "a"], members=members)
        after_join = store.incident(first.id)
        back = TimelineEntry(T0 + 60, "resolved", "a is back up after 1 min 0 s")
        store.note_incident(first.id, back, resolved=T0 + 60, monitors=["a", "c"], members={})
        still_open = store.incidents(open_only=True)
        done = store.incident(first.id)
    assert after_join is not None
    assert (after_join.monitors, dict(after_join.members)) == (("a", "c"), members)
    assert after_join.is_open
    assert still_open == [second]
    assert done == Incident(
        first.id,
        "host:127.0.0.1:8080",
        Kind.CONNECT_REFUSED,
        first.detail,
        "start it",
        T0,
        resolved=T0 + 60,
        monitors=("a", "c"),
        timeline=(*first.timeline, joined, back),
        members={},
    )


def test_only_an_open_incident_can_be_acknowledged(target: str) -> None:
    """Acknowledging an open incident stamps it and adds the entry to its timeline; a
    resolved or unknown incident is left alone and the answer is False."""
    with open_target(target) as store:
        live = incident_at(store.new_incident_id(), "a", Kind.CONNECT_REFUSED, ("a",), T0)
        over = incident_at(store.new_incident_id(), "b", Kind.DNS_TIMEOUT, ("b",), T0)
        store.open_incident(live)
        store.open_incident(over)
        store.note_incident(
            over.id, TimelineEntry(T0 + 9, "resolved", "b is back"), resolved=T0 + 9
        )
        closed = store.incident(over.id)
        ack = TimelineEntry(T0 + 20, "acknowledged", "by ops")
        assert store.acknowledge_incident(live.id, ack)
        assert not store.acknowledge_incident(over.id, ack)
        assert not store.acknowledge_incident(max(live.id, over.id) + 100, ack)
        acked = store.incident(live.id)
        assert store.incident(over.id) == closed
    assert acked is not None
    assert acked.acknowledged == T0 + 20
    assert acked.timeline == (*live.timeline, ack)
    assert acked.is_open


def test_state_changes_start_with_the_state_in_force_at_since(target: str) -> None:
    """state_changes(monitor, since) gives the changes from since on, oldest first, led by
    the last change before since (the state the monitor was in then); other monitors' are
    not mixed in."""
    with open_target(target) as store:
        store.record_state("api", T0, State.UP)
        store.record_state("api", T0 + 100, State.DOWN)
        store.record_state("web", T0 + 150, State.DOWN)
        store.record_state("api", T0 + 200, State.UP)
        store.flush()
        everything = [(T0, State.UP), (T0 + 100, State.DOWN), (T0 + 200, State.UP)]
        assert store.state_changes("api", T0 - 1) == everything  # nothing before: no lead
        assert store.state_changes("api", T0) == everything  # since is inclusive
        assert store.state_changes("api", T0 + 150) == everything[1:]
        assert store.state_changes("api", T0 + 1000) == [(T0 + 200, State.UP)]
        assert store.state_changes("web", T0) == [(T0 + 150, State.DOWN)]
        assert store.state_changes("db", T0) == []
        assert all(type(state) is State for _, state in store.state_changes("api", T0))


def test_state_changes_are_kept_at_least_ninety_days(target: str) -> None:
    """Uptime looks back 90 days: pruning keeps state changes that long even when roll-ups
    are kept less, and drops older ones."""
    with open_target(target, retention=Retention(raw=3600, rollups=86400)) as store:
        store.record_state("api", T0, State.DOWN)
        store.record_state("api", T0 + 10 * 86400, State.UP)
        store.flush()
        store.prune(now=T0 + 95 * 86400)
        assert store.state_changes("api", 0.0) == [(T0 + 10 * 86400, State.UP)]


OLD_DETAIL = "127.0.0.1:8080 refused the connection"
OLD_PAYLOAD = {
    # What a tether of schema 1 queued: every monitor of the incident, no monitor, no at.
    "event": "incident.opened",
    "incident": 1,
    "monitors": ["api"],
    "since": "2026-03-02T14:05:09+00:00",
    "kind": "connect.refused",
    "detail": OLD_DETAIL,
    "hint": "start it",
    "text": f"api is down since 2026-03-02T14:05:09+00:00: {OLD_DETAIL}",
}
OLD_SINCE = 1_772_460_309.0  # 2026-03-02T14:05:09+00:00


def schema_1_with_rows(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database as a tether of schema 1 left it: migrated by MIGRATIONS[0] only, with an
    alert waiting in the outbox (one failed try) and an open incident."""
    timeline = [{"at": OLD_SINCE, "event": "opened", "detail": OLD_DETAIL}]
    alert = ("ops", "host:127.0.0.1:8080:1:opened", 1, OLD_SINCE, OLD_SINCE + 30, "refused")
    incident = ("host:127.0.0.1:8080", "connect.refused", OLD_DETAIL, "start it", OLD_SINCE)
    if target.startswith("postgresql://"):
        import psycopg
        from psycopg.types.json import Jsonb

        with psycopg.connect(target, autocommit=True) as conn, monkeypatch.context() as patch:
            patch.setattr(pg, "MIGRATIONS", pg.MIGRATIONS[:1])
            assert pg.migrate(conn) == 1
            conn.execute(
                "INSERT INTO outbox (channel, dedup, attempts, created, next_at, last_error, "
                "payload) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (*alert, Jsonb(OLD_PAYLOAD)),
            )
            conn.execute(
                "INSERT INTO incidents (key, kind, detail, hint, opened, monitors, timeline) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (*incident, Jsonb(["api"]), Jsonb(timeline)),
            )
        return
    conn = sqlite3.connect(target, isolation_level=None)
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_store, "MIGRATIONS", MIGRATIONS[:1])
        assert migrate(conn) == 1
    conn.execute(
        "INSERT INTO outbox (channel, dedup, attempts, created, next_at, last_error, payload) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (*alert, json.dumps(OLD_PAYLOAD)),
    )
    conn.execute(
        "INSERT INTO incidents (key, kind, detail, hint, opened, monitors, timeline) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (*incident, '["api"]', json.dumps(timeline)),
    )
    conn.close()


def schema_version_of(target: str) -> int:
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as conn:
            row = conn.execute("SELECT max(version) FROM tether_schema").fetchone()
        assert row is not None
        return int(row[0])
    conn = sqlite3.connect(target)
    try:
        return schema_version(conn)
    finally:
        conn.close()


def test_a_schema_1_database_is_migrated_and_reads_back_its_alert_and_incident(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database of schema 1 with a queued alert and an open incident opens at the newest
    schema: the alert heads its channel as a typed payload, unclaimed, its dedup key now
    holds per channel, the incident reads back (no members, not acknowledged) and can be
    acknowledged, new incident ids follow the old one, and state changes can be
    recorded."""
    schema_1_with_rows(target, monkeypatch)
    old_payload = AlertPayload(
        "incident.opened",
        "api",
        OLD_PAYLOAD["text"],
        OLD_SINCE,
        incident=1,
        monitors=("api",),
        kind=Kind.CONNECT_REFUSED,
        detail=OLD_DETAIL,
        hint="start it",
        since=OLD_SINCE,
    )
    old_incident = Incident(
        1,
        "host:127.0.0.1:8080",
        Kind.CONNECT_REFUSED,
        OLD_DETAIL,
        "start it",
        OLD_SINCE,
        monitors=("api",),
        timeline=(TimelineEntry(OLD_SINCE, "opened", OLD_DETAIL),),
    )
    with open_target(target) as store:
        (head,) = store.alert_heads()
        assert head == QueuedAlert(
            head.id,
            "ops",
            "host:127.0.0.1:8080:1:opened",
            old_payload,
            1,
            OLD_SINCE,
            OLD_SINCE + 30,
            "refused",
        )
        assert store.backlog() == {"ops": (1, OLD_SINCE)}
        assert not store.enqueue_alert("ops", head.dedup, old_payload, now=T0)
        assert store.enqueue_alert("mail", head.dedup, old_payload, now=T0)
        assert store.incidents() == [old_incident]
        # Its membership history starts from what the old row knew: in it since it opened.
        assert store.membership([1]) == {1: (Move("api", OLD_SINCE, "joined", "down"),)}
        new_id = store.new_incident_id()
        assert new_id > 1
        store.open_incident(incident_at(new_id, "dns", Kind.DNS_TIMEOUT, ("db",), T0))
        assert [i.id for i in store.incidents(open_only=True)] == [new_id, 1]
        assert store.acknowledge_incident(1, TimelineEntry(T0, "acknowledged", "by ops"))
        acked = store.incident(1)
        assert acked is not None
        assert acked.acknowledged == T0
        store.record_state("api", T0, State.DOWN)
        store.flush()
        assert store.state_changes("api", T0) == [(T0, State.DOWN)]
    assert schema_version_of(target) == len(MIGRATIONS) == len(pg.MIGRATIONS)


def test_monitor_state_survives_a_reopen(target: str) -> None:
    """Saved detector state comes back after the store is closed and opened again."""
    with open_target(target) as store:
        store.save_state("api", {"state": "down", "failures": 3})
        store.save_state("api", {"state": "up", "failures": 0})
    with open_target(target) as store:
        assert store.load_state() == {"api": {"state": "up", "failures": 0}}


def test_the_states_of_some_monitors_alone(target: str) -> None:
    """An instance taking some monitors over reads their saved states, not every one."""
    with open_target(target) as store:
        for name in ("a", "b", "c", "d@west"):
            store.save_state(name, {"state": "up", "name": name})
        store.flush()
        assert set(store.load_state(["a", "d@west", "nobody"])) == {"a", "d@west"}
        assert store.load_state([]) == {}
        assert set(store.load_state()) == {"a", "b", "c", "d@west"}


def test_a_closed_store_refuses_writes(target: str) -> None:
    """Using a closed store is an error, not a silent loss."""
    store = open_target(target)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.flush()


def test_one_bad_row_never_fails_its_batch(target: str, caplog: pytest.LogCaptureFixture) -> None:
    """A result the database refuses is left out, loudly; the rest of its batch is stored."""
    # A phase timing that is not a number (the type says float) cannot be written.
    bad = ProbeRecord("api", T0, True, phases={"dns": "soon"})  # type: ignore[dict-item]
    with open_target(target, batch_seconds=5.0) as store:  # the flush joins the bad batch
        store.record(ProbeRecord("api", T0 - 1, True))
        store.record(bad)
        store.record_state("api", T0, State.UP)
        store.flush()
        assert [r.ts for r in store.results("api")] == [T0 - 1]
        assert store.state_changes("api", 0.0) == [(T0, State.UP)]
        assert store.health().refused == 1
        assert store.health().up
    assert "store: the database refused a result of api, left out" in caplog.text


def test_text_the_database_cannot_encode_is_stored_made_storable(target: str) -> None:
    """A lone surrogate or a NUL (a peer's bytes, a fuzzed name) costs its characters, not
    its result, and never the batch it came with."""
    odd = ProbeRecord(
        "\ud800x", T0, False, detail="bad \udcff byte\x00", conditions=("[BODY] == \ud800",)
    )
    with open_target(target, batch_seconds=5.0) as store:
        store.record(odd)
        store.record(ProbeRecord("api", T0, True))
        store.flush()
        assert [r.ts for r in store.results("api")] == [T0]
        (kept,) = store.results("\ufffdx")
        assert kept.detail == "bad \ufffd byte\ufffd"
        assert store.health().refused == 0


_CHILD = textwrap.dedent(
    """
    import sys
    from tether.monitor._records import AlertPayload
    from tether.monitor.store import PostgresStore, ProbeRecord, SQLiteStore
    target = sys.argv[1]
    kind = PostgresStore if target.startswith("postgresql://") else SQLiteStore
    store = kind(target, batch_seconds=0.05)
    for i in range(200):
        store.record(ProbeRecord("api", 1000.0 + i, True, latency_ms=1.0))
    store.flush()
    down = AlertPayload("incident.opened", "api", "api is down", 1000.0, incident=1)
    store.enqueue_alert("ops", "api:open", down, now=1000.0)
    print("committed", flush=True)
    i = 200
    while True:  # keep writing until killed
        store.record(ProbeRecord("api", 1000.0 + i, True, latency_ms=1.0))
        i += 1
        if i % 50 == 0:
            store.flush()
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_loses_no_committed_result_or_queued_alert(target: str) -> None:
    """A writer killed with SIGKILL mid-run leaves every flushed result and the alert intact,
    and no batch half-written: the roll-ups count exactly the stored results."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, target], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "committed"
    # The child goes on writing, so the signal lands with batches in flight.
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    if not target.startswith("postgresql://"):
        conn = sqlite3.connect(target)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    with open_target(target) as store:  # and it opens again for the next run
        stored = {r.ts for r in store.results("api", limit=100_000)}
        assert {1000.0 + i for i in range(200)} <= stored
        down = AlertPayload("incident.opened", "api", "api is down", 1000.0, incident=1)
        assert [(a.dedup, a.payload) for a in store.alert_heads()] == [("api:open", down)]
        assert sum(d.count for d in store.rollups("api", "day")) == len(stored)


# -- SQLite only ---------------------------------------------------------------------------


def test_a_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    """Opening a new file creates every table at the newest version, with WAL on."""
    with SQLiteStore(tmp_path / "t.db"):
        pass
    conn = sqlite3.connect(tmp_path / "t.db")
    assert schema_version(conn) == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"results", "rollups", "outbox", "incidents", "monitor_state", "state_changes"} <= tables
    conn.close()


def test_a_database_from_a_newer_tether_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """A schema version above what this tether knows is an error that says what to do."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    migrate(conn)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this tether knows"):
        SQLiteStore(tmp_path / "t.db")


def test_a_file_migrated_by_another_process_meanwhile_is_not_migrated_twice(
    tmp_path: Path,
) -> None:
    """One opener waits for the write lock while another migrates the new file (``tether
    status`` beside a starting monitor): once it gets the lock it finds the schema done,
    runs no step again, and its store opens.  Reading the version before the lock, the
    waiting one ran the first step again and failed, "table ... already exists"."""
    path = tmp_path / "t.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA busy_timeout=5000")
    other.execute("BEGIN IMMEDIATE")  # the other process has the lock first
    waiting = threading.Event()
    mine = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    mine.execute("PRAGMA busy_timeout=10000")
    mine.set_trace_callback(lambda sql: sql.startswith("BEGIN") and waiting.set())
    with ThreadPoolExecutor(1) as pool:
        opening = pool.submit(migrate, mine)
        assert waiting.wait(10), "the second opener never asked for the lock"
        for script in MIGRATIONS:
            for statement in (s.strip() for s in script.split(";")):
                if statement:
                    other.execute(statement)
        other.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        other.execute("COMMIT")
        assert opening.result(timeout=30) == len(MIGRATIONS)
    mine.close()
    other.close()
    with SQLiteStore(path) as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=1.0))
        store.flush()
        assert len(store.results("api")) == 1


def test_wal_mode_waits_out_an_opener_that_holds_the_new_file(tmp_path: Path) -> None:
    """SQLite answers BUSY at once, without the busy handler, to an opener that would
    deadlock putting a new file into WAL mode (CI saw it with four at once): `wal` tries
    again until the lock is gone, on an injected sleep, and gives up after `WAL_WAIT`."""
    path = str(tmp_path / "t.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # the lock the switch needs, held by another opener
    opener = sqlite3.connect(path, isolation_level=None, timeout=0)  # BUSY at once, too
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            holder.execute("COMMIT")

    sqlite_store.wal(opener, sleep=sleep)
    assert opener.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert slept == [0.005, 0.01, 0.02]

    other = tmp_path / "u.db"
    holder = sqlite3.connect(other, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    opener = sqlite3.connect(other, isolation_level=None, timeout=0)
    now = [0.0]

    def waited(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_store.wal(opener, sleep=waited, clock=lambda: now[0])
    assert sqlite_store.WAL_WAIT <= now[0] < sqlite_store.WAL_WAIT + 0.2
    holder.execute("COMMIT")


def test_simultaneous_opens_of_a_new_file_all_succeed(tmp_path: Path) -> None:
    """Four stores opening one new file at the same moment all open, at the newest
    version."""
    barrier = threading.Barrier(4)

    def open_one() -> None:
        barrier.wait(timeout=10)
        SQLiteStore(tmp_path / "t.db").close()

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(open_one) for _ in range(4)]:
            future.result(timeout=60)
    conn = sqlite3.connect(tmp_path / "t.db")
    assert schema_version(conn) == len(MIGRATIONS)
    conn.close()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    """Garbage in the storage path gives a StoreError naming the file, not a traceback."""
    bad = tmp_path / "t.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"t\.db"):
        SQLiteStore(bad)


# -- PostgreSQL only -----------------------------------------------------------------------


def versions(server: PostgresServer, schema: str) -> list[int]:
    return [r[0] for r in server.execute(f"SELECT version FROM {schema}.tether_schema ORDER BY 1")]


def test_postgres_migrates_once_with_jsonb_columns_and_a_reopen_adds_nothing(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """A new schema gets every table, JSONB where JSON is kept, and one tether_schema row
    per migration; opening it again adds no row."""
    schema = schema_of(postgres_dsn)
    with PostgresStore(postgres_dsn):
        pass
    with PostgresStore(postgres_dsn):
        pass
    assert versions(postgres_server, schema) == list(range(1, len(pg.MIGRATIONS) + 1))
    jsonb = postgres_server.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND data_type = 'jsonb'",
        (schema,),
    )
    assert set(jsonb) == {
        ("results", "data"),
        ("rollups", "kinds"),
        ("outbox", "payload"),
        ("incidents", "monitors"),
        ("incident_members", "member"),
        ("incident_timeline", "entry"),
        ("monitor_state", "data"),
        ("tether_maintenance", "monitors"),
        ("tether_audit", "params"),
        ("tether_silences", "matchers"),
        ("tether_discovered", "labels"),
        ("tether_status_deliveries", "body"),
        ("tether_status_news", "body"),
    }


def test_postgres_concurrent_opens_migrate_once(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """Four tethers opening one empty schema at the same moment all succeed, and each
    migration is applied exactly once."""
    barrier = threading.Barrier(4)

    def open_one() -> None:
        barrier.wait(timeout=10)
        with PostgresStore(postgres_dsn):
            pass

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(open_one) for _ in range(4)]:
            future.result(timeout=30)
    assert versions(postgres_server, schema_of(postgres_dsn)) == list(
        range(1, len(pg.MIGRATIONS) + 1)
    )


def test_postgres_migration_waits_for_the_advisory_lock(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """While another session holds the migration lock, opening a store waits on it, and
    migrates once it is released."""
    import psycopg

    holder = psycopg.connect(postgres_server.dsn(), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (pg.MIGRATION_LOCK,))
    try:
        with ThreadPoolExecutor(1) as pool:
            opening = pool.submit(PostgresStore, postgres_dsn)
            give_up = time.monotonic() + 10
            waiting: list[tuple[Any, ...]] = []
            while not waiting and not opening.done() and time.monotonic() < give_up:
                time.sleep(0.01)  # polling the real server's lock table, bounded above
                waiting = postgres_server.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
            assert waiting, "the store did not wait on the advisory lock"
            assert not opening.done()
            holder.execute("SELECT pg_advisory_unlock(%s)", (pg.MIGRATION_LOCK,))
            opening.result(timeout=10).close()
    finally:
        holder.close()
    assert versions(postgres_server, schema_of(postgres_dsn)) == list(
        range(1, len(pg.MIGRATIONS) + 1)
    )


def test_postgres_schema_from_a_newer_tether_is_refused(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """A tether_schema version above what this tether knows is a StoreError saying so."""
    with PostgresStore(postgres_dsn):
        pass
    newer = len(pg.MIGRATIONS) + 1
    postgres_server.execute(
        f"INSERT INTO {schema_of(postgres_dsn)}.tether_schema (version) VALUES (%s)", (newer,)
    )
    with pytest.raises(StoreError, match="newer than this tether knows"):
        PostgresStore(postgres_dsn)


def assert_no_password(error: BaseException, password: str, *more: str) -> None:
    # No chained original either: it would print with the traceback.
    assert error.__cause__ is None
    assert error.__context__ is None
    shown = "".join(traceback.format_exception_only(error)) + repr(error) + "".join(more)
    assert password not in shown


def test_postgres_refused_connection_names_the_server_but_never_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused connection is a StoreError with the redacted URL and the reason; the
    password is in no message, traceback, repr or log line."""
    pytest.importorskip("psycopg")
    caplog.set_level(logging.DEBUG)
    port = free_port()  # bound a moment ago, now closed: connections are refused
    with pytest.raises(StoreError) as info:
        PostgresStore(f"postgresql://tether:{PASSWORD}@127.0.0.1:{port}/tether")
    message = str(info.value)
    assert message.startswith(f"postgresql://tether:***@127.0.0.1:{port}/tether: cannot connect")
    assert "refused" in message.lower()
    assert_no_password(info.value, PASSWORD, caplog.text)


@pytest.mark.parametrize(
    ("dsn", "reason"),
    [
        (f"postgresql://tether:{PASSWORD}@127.0.0.1:notaport/tether", "port"),
        (f"postgresql://tether:{PASSWORD}@127.0.0.1/tether?sslmode=bogus", "sslmode"),
        (f"postgresql://tether:{PASSWORD}@127.0.0.1/tether?colour=blue", "colour"),
        # libpq quotes the whole URL in this one.
        (f"postgresql://tether:{PASSWORD}@[::1/tether", "IPv6"),
        # ... and the password can come percent-encoded or in the query.
        ("postgresql://tether:a%2Fb%40c-Secret@[::1/tether", "IPv6"),
        (f"postgresql://127.0.0.1:notaport/tether?password={PASSWORD}", "port"),
    ],
)
def test_postgres_bad_url_is_a_clear_error_without_the_password(dsn: str, reason: str) -> None:
    """A URL libpq cannot use gives a StoreError naming what is wrong, never the password."""
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match=reason) as info:
        PostgresStore(dsn)
    assert_no_password(info.value, PASSWORD)
    assert_no_password(info.value, "a/b@c-Secret")
    assert_no_password(info.value, "a%2Fb%40c-Secret")


def test_postgres_wrong_password_is_refused_by_the_server_without_echoing_it(
    postgres_server: PostgresServer,
) -> None:
    """The real server refusing a password gives a StoreError saying so, password masked."""
    with pytest.raises(StoreError, match="password authentication failed") as info:
        PostgresStore(postgres_server.dsn(password="Wrong-Secret-99"))
    assert "tether:***@" in str(info.value)
    assert_no_password(info.value, "Wrong-Secret-99")


def test_postgres_store_reconnects_when_the_server_drops_its_sessions(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """When the server ends the store's sessions, the next batch and the next read go
    through new connections, and nothing is lost."""
    with PostgresStore(f"{postgres_dsn}&application_name=dropped") as store:
        store.record(ProbeRecord("api", T0, True))
        store.flush()
        assert len(store.results("api")) == 1  # the read connection is open too
        ended = postgres_server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'dropped'"
        )
        assert len(ended) == 2
        store.record(ProbeRecord("api", T0 + 1, True))
        assert store.enqueue_alert("ops", "api:open", opened(), now=T0)
        assert [r.ts for r in store.results("api")] == [T0 + 1, T0]


def test_open_store_picks_the_backend_the_storage_section_names(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """storage.postgres opens PostgreSQL (its repr masking the password); without it the
    SQLite file at storage.path is used."""
    with open_store(Storage(postgres=postgres_dsn, raw_retention="60s")) as store:
        assert isinstance(store, PostgresStore)
        assert store.retention.raw == 60
        assert "tether:***@127.0.0.1" in repr(store)
        assert PASSWORD not in repr(store)
    with open_store(Storage(path=str(tmp_path / "x.db"))) as store:
        assert isinstance(store, SQLiteStore)
    assert (tmp_path / "x.db").exists()


def test_postgres_without_psycopg_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without psycopg installed (hidden from import here: a missing package cannot be
    installed for one test), a postgres storage says what to install."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install 'tether\[postgres\]'"):
        open_store(Storage(postgres="postgresql://tether@127.0.0.1:5432/tether"))


def test_cli_with_an_unreachable_postgres_says_why_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tether status` on a refused PostgreSQL exits 2 with the reason and the masked URL,
    not a traceback."""
    pytest.importorskip("psycopg")
    port = free_port()
    config = tmp_path / "tether.yaml"
    config.write_text(
        f"storage: {{postgres: 'postgresql://tether:{PASSWORD}@127.0.0.1:{port}/tether'}}\n"
        "monitors: [{name: api, url: 'http://127.0.0.1:9/'}]\n"
    )
    assert main(["status", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tether status: postgresql://tether:***@127.0.0.1:{port}/tether: ")
    assert "refused" in err.lower()
    assert PASSWORD not in err
    assert "Traceback" not in err
