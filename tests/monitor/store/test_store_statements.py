"""A batch of results, state changes and detector states is a few SQLite statements
however many rows it holds, and writes what executemany wrote, row for row.

Why it matters: the sqlite3 module lets go of the GIL around each statement's step and
must take it back before the next; while the event loop holds the GIL that takes up to
the interpreter's switch interval (5 ms).  With a statement a row, the writer thread of
a monitor in a mass outage fell ten seconds behind its checks.  The statements are
counted from SQLite's trace callback, not timed.  A real SQLite file; nothing mocked.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.helpers.incident_rows import sqlite_count
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.store import SQLiteStore

T0 = 1_700_000_000.123456


def records(n: int) -> list[ProbeRecord]:
    kinds = (None, Kind.CONNECT_REFUSED, Kind.CONNECT_TIMEOUT)
    return [
        ProbeRecord(
            f"m{i % 700:04d}",
            T0 + i * 0.001,
            i % 3 == 0,
            kinds[i % 3],
            None if i % 5 == 0 else 0.1 + i / 7,
            None if i % 3 == 0 else f"failed 'n°{i}'",
        )
        for i in range(n)
    ]


def test_a_batch_of_a_thousand_results_is_a_few_statements(fresh_store: SQLiteStore) -> None:
    """1,000 results of 700 monitors (their minute, hour and day roll-ups), 300 state
    changes and 300 detector states, queued together, are written in at most 9
    statements a table (power-of-two pieces of at most 256 rows), not one a row."""
    store = fresh_store

    def batch() -> None:
        for r in records(1000):
            store.record(r)
        for i in range(300):
            store.record_state(f"m{i:04d}", T0 + i, State.DOWN)
            store.save_state(f"m{i:04d}", {"state": "down", "n": i})

    statements, *_ = sqlite_count(store, batch)
    # Results 1,000 rows, roll-ups 3 x 700, state changes 300, states 300: each at most
    # 9 statements (ceil(rows / 256) full ones and the binary digits of the rest); the
    # writer may take the queue in two batches.
    assert statements <= 2 * 4 * 9


def test_what_is_written_is_what_executemany_wrote(tmp_path: Path) -> None:
    """The rows of a batch, read back, are those a statement a row writes: every value,
    floats to the last bit, text with quotes and non-ASCII, NULLs."""
    rows = records(777)
    with SQLiteStore(tmp_path / "t.db") as store:
        for r in rows:
            store.record(r)
        store.flush()
    conn = sqlite3.connect(tmp_path / "t.db")
    got = conn.execute(
        "SELECT monitor, ts, ok, kind, latency_ms, detail FROM results ORDER BY ts"
    ).fetchall()
    conn.close()
    assert got == [
        (
            r.monitor,
            r.ts,
            int(r.ok),
            None if r.kind is None else r.kind.value,
            r.latency_ms,
            r.detail,
        )
        for r in rows
    ]
