"""A page's reads for many monitors at once (``state_changes_of``, ``rollups_of``,
``failures_of``), and a restart's (``verdicts_of``), give what the reads of one monitor
give, on SQLite and PostgreSQL; on SQLite each is one statement, whose rows come back as
one value, however many monitors and rows.

Why one step: the sqlite3 module lets go of the GIL around each row's step, and a page
built on a worker thread beside a busy event loop waited up to the switch interval (5 ms)
to take it back, a row at a time: during a 20,000-monitor outage ``/api/status`` answered
in over a second.  Real databases; the statements are counted from SQLite's trace
callback.
"""

from __future__ import annotations

import math
import random

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.store import SQLiteStore, Store

T0 = 1_700_000_000.0
NAMES = [f"m{i:02d}" for i in range(40)]


def fill(store: Store, seed: int) -> None:
    """Two hours of results of 40 monitors, with awkward values: latencies none, tiny, of
    many digits or infinite, text with quotes and non-ASCII, and state changes."""
    rng = random.Random(seed)
    kinds = (None, Kind.CONNECT_REFUSED, Kind.READ_TIMEOUT)
    for i in range(2000):
        store.record(
            ProbeRecord(
                rng.choice(NAMES),
                T0 + rng.random() * 7200,
                rng.random() < 0.6,
                rng.choice(kinds),
                rng.choice([None, 1e-7, rng.random() * 10_000, math.pi, math.inf]),
                rng.choice([None, f'it said "no" — n°{i}', "'", "\\"]),
            )
        )
    for _ in range(300):
        store.record_state(rng.choice(NAMES), T0 + rng.random() * 7200, rng.choice(list(State)))
    store.flush()


def verdict(r: ProbeRecord) -> ProbeRecord:
    """``r`` as ``verdicts_of`` reads it back: without phases, conditions or lag."""
    return ProbeRecord(r.monitor, r.ts, r.ok, r.kind, r.latency_ms, r.detail)


def test_reads_of_many_monitors_are_the_reads_of_each(target: str) -> None:
    """For 40 monitors with data and one without: the state changes since a moment, the
    roll-ups of each period from each monitor's own moment, and the newest failure among
    each one's newest results, and the verdicts of each one's newest results after its
    moment (oldest first), as the one-monitor reads give them."""
    rng = random.Random(7)
    with open_target(target) as store:
        fill(store, 1)
        names = [*NAMES, "nobody"]
        for since in (T0 - 1, T0 + 3600.5, T0 + 7300):
            got = store.state_changes_of(names, since)
            assert got == {m: store.state_changes(m, since) for m in names}
        for period in ("minute", "hour", "day"):
            since = {m: T0 + rng.random() * 7200 for m in names}
            got_rollups = store.rollups_of(since, period)
            assert got_rollups == {m: store.rollups(m, period, at) for m, at in since.items()}
        for limit in (1, 5, 1000):
            since = {m: T0 + rng.random() * 7200 for m in names}
            newest = {m: store.results(m, at, limit) for m, at in since.items()}
            want = {}
            for m, results in newest.items():
                failed = [r for r in results if not r.ok]
                if failed:
                    want[m] = failed[0]
            assert store.failures_of(since, limit) == want
            after = {
                m: [r for r in store.results(m, at, 10_000) if r.ts > at] for m, at in since.items()
            }
            verdicts = {m: [verdict(r) for r in rs[:limit][::-1]] for m, rs in after.items() if rs}
            assert store.verdicts_of(since, limit) == verdicts
        assert store.state_changes_of([], T0) == {}
        assert store.rollups_of({}, "minute") == {}
        assert store.failures_of({}, 10) == {}
        assert store.verdicts_of({}, 10) == {}


def test_a_page_read_on_sqlite_is_one_statement(fresh_store: SQLiteStore) -> None:
    """Each read of 40 monitors' rows (over a thousand in all) runs one statement on the
    read connection, not one a monitor."""
    store = fresh_store
    fill(store, 2)
    conn = store._read()  # type: ignore[attr-defined]
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    rows_seen = 0
    for read in (
        lambda: store.state_changes_of(NAMES, T0),
        lambda: store.rollups_of(dict.fromkeys(NAMES, T0), "minute"),
        lambda: store.failures_of(dict.fromkeys(NAMES, T0), 1000),
    ):
        before = len(statements)
        got = read()
        rows_seen += sum(len(v) if isinstance(v, list) else 1 for v in got.values())
        assert len(statements) - before == 1
    conn.set_trace_callback(None)
    assert rows_seen > 1000  # many rows came back, from three statements
