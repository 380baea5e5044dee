"""The SQLite store's writer when it falls behind (a mass outage queues results faster
than batches of ``batch_size`` commit): bigger batches, and roll-ups that SQLite tallies
itself, bucketed exactly as :func:`bucket_start` buckets them.

On a real SQLite file; the writer is held behind a job of the test's own on its thread
(no clock, no sleep: the test releases it)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.store import SQLiteStore
from tether.monitor.store._base import PERIODS, bucket_start
from tether.monitor.store._rollups import bucket_sql
from tether.monitor.store._writer import BEHIND_FACTOR

T0 = 1_700_000_000.0


class CountingStore(SQLiteStore):
    """A real SQLite store that notes how many results each of its batches wrote."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.batches: list[int] = []
        super().__init__(*args, **kwargs)

    def _apply(self, results: Any, *rest: Any) -> list[Any]:
        if results:
            self.batches.append(len(results))
        return super()._apply(results, *rest)


def test_a_writer_behind_takes_batches_of_up_to_ten_times_batch_size(tmp_path: Path) -> None:
    """With 300 results queued behind a busy writer and ``batch_size`` 10, the writer
    catches up in batches of 100, not 30 batches of 10; every result is written once."""
    release = threading.Event()
    with CountingStore(tmp_path / "t.db", batch_size=10, batch_seconds=60.0) as store:
        held = store._submit(lambda conn: release.wait(10))
        for i in range(300):
            store.record(ProbeRecord(f"m{i % 7}", T0 + i, i % 3 != 0, Kind.CONNECT_REFUSED))
        release.set()
        assert held.result(10) is True
        store.flush()
        assert store.batches == [10 * BEHIND_FACTOR] * 3
        assert len(store.results("m0", limit=1000)) == len(range(0, 300, 7))


@given(st.floats(-1e12, 1e12, allow_nan=False), st.sampled_from(sorted(PERIODS.values())))
def test_the_sql_bucket_is_bucket_start(ts: float, seconds: int) -> None:
    """SQLite's bucket of ``ts`` (integer division truncates towards zero, Python's
    ``%`` floors) is the one :func:`bucket_start` gives, negative times included."""
    conn = sqlite3.connect(":memory:")
    (sql,) = conn.execute(
        f"SELECT {bucket_sql(':seconds')} FROM (SELECT :ts AS ts)", {"ts": ts, "seconds": seconds}
    ).fetchone()
    assert float(sql) == bucket_start(ts, seconds)
