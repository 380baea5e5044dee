"""Roll-ups written batch by batch are what the pure tally of every result says: the
stores add each batch to the rows in the database (each in one statement of its own SQL:
nothing is read back and merged in Python), and this checks both against ``tally`` over
all the results at once, for batches hypothesis draws (kinds summed across batches,
results without a latency, mins and maxes), on a real SQLite file and a real PostgreSQL
(``[sqlite]``, ``[postgres]``: see tests/monitor/store/test_store.py)."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.store import PostgresStore, SQLiteStore, Store, _results
from tether.monitor.store._base import merge_tallies, tally
from tether.monitor.store._retention import Retention

T0 = 1_700_000_000.0
KINDS = (Kind.READ_TIMEOUT, Kind.CONNECT_REFUSED, Kind.TLS_EXPIRED)

results = st.builds(
    lambda monitor, offset, ok, kind, latency: ProbeRecord(
        monitor,
        T0 + offset,
        ok,
        kind=None if ok else kind,
        latency_ms=latency,
    ),
    st.sampled_from(("api", "web")),
    st.floats(0, 3 * 3600, allow_nan=False),
    st.booleans(),
    st.sampled_from(KINDS),
    st.none() | st.floats(0.01, 5000, allow_nan=False),
)
batches = st.lists(st.lists(results, min_size=1, max_size=12), min_size=1, max_size=6)
PERIODS = ("minute", "hour", "day")


def test_rollups_of_batches_are_the_tally_of_all_their_results(target: str) -> None:
    """Whatever the batches, each roll-up row holds what tallying every result at once
    gives (its latency sum to a millionth, as floats add in another order)."""
    clean = 0

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(batches)
    def check(drawn: list[list[ProbeRecord]]) -> None:
        nonlocal clean
        clean += 1
        names = {r.monitor: f"{r.monitor}-{clean}" for batch in drawn for r in batch}
        renamed = [
            [ProbeRecord(names[r.monitor], r.ts, r.ok, r.kind, r.latency_ms) for r in batch]
            for batch in drawn
        ]
        with open_target(target) as store:
            for batch in renamed:
                for record in batch:
                    store.record(record)
                store.flush()  # each batch is added to the rows the earlier ones wrote
            everything = [r for batch in renamed for r in batch]
            for name in names.values():
                assert_rows_are_the_tally(store, name, everything)

    check()


def assert_rows_are_the_tally(
    store: Store, name: str, records: list[ProbeRecord], periods: tuple[str, ...] = PERIODS
) -> None:
    """``name``'s roll-up rows of ``periods`` are what tallying ``records`` at once gives
    (its latency sum to a millionth, as floats add in another order)."""
    expected = merge_tallies(tally(records), {})
    for period in periods:
        got = {r.start: r for r in store.rollups(name, period)}
        want = {start: t for (m, p, start), t in expected.items() if (m, p) == (name, period)}
        assert set(got) == set(want), period
        for start, t in want.items():
            row = got[start]
            assert (row.count, row.ok_count, row.kinds) == (t.count, t.ok_count, t.kinds)
            assert (row.latency_min, row.latency_max) == (t.latency_min, t.latency_max)
            if t.latency_count:
                assert row.latency_avg is not None
                assert abs(row.latency_avg - t.latency_sum / t.latency_count) < 1e-6
            else:
                assert row.latency_avg is None


def test_two_instances_adding_to_one_row_at_once_lose_no_count(postgres_dsn: str) -> None:
    """Two instances of a cluster (two stores, two writer threads, one PostgreSQL) write
    results of one monitor in one minute at once, batch after batch: every result is
    counted.  Reading a row, merging in Python and writing it back lost the other
    writer's batches when their transactions overlapped."""
    import threading

    name = f"shared-{threading.get_ident()}"
    batches, per_batch = 40, 25
    stores = [PostgresStore(postgres_dsn), PostgresStore(postgres_dsn)]
    go = threading.Barrier(2)

    def write(store: Store, ok: bool) -> None:
        go.wait()
        for b in range(batches):
            for i in range(per_batch):
                store.record(ProbeRecord(name, T0 + 1 + (b * per_batch + i) * 1e-4, ok))
            store.flush()

    try:
        threads = [
            threading.Thread(target=write, args=(store, n == 0)) for n, store in enumerate(stores)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Each flush folded too, the two instances' folds at once: each took the batches
        # the other's did not hold, and both added to the one hour and day.
        for period in ("minute", "hour", "day"):
            (row,) = stores[0].rollups(name, period)
            assert (row.count, row.ok_count) == (2 * batches * per_batch, batches * per_batch)
    finally:
        for store in stores:
            store.close()


# -- SQLite's folds (issue 46 §3) -----------------------------------------------------------
#
# The SQLite store adds a batch to the minute's roll-ups as it writes it, and folds the
# results into the hour's and the day's now and then (``FOLD_EVERY``), at the first batch
# of a later hour, at a flush, a close and a prune.  The tests set ``FOLD_EVERY`` out of
# reach, so that the folds are the ones they ask for (a flush) or the hour rule makes.


def _stored(path: Path, upto: int | None = None) -> list[ProbeRecord]:
    """The results in the file at ``path`` (those up to id ``upto``), read beside the store."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT monitor, ts, ok, kind, latency_ms FROM results WHERE id <= ? ORDER BY id",
            (2**62 if upto is None else upto,),
        ).fetchall()
    return [
        ProbeRecord(m, ts, bool(ok), None if kind is None else Kind(kind), ms)
        for m, ts, ok, kind, ms in rows
    ]


def _folded(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (after,) = conn.execute("SELECT after FROM rollups_folded").fetchone()
    return int(after)


def _commit(store: SQLiteStore | PostgresStore) -> None:
    """Wait until what is queued is committed, as the writer commits a batch (a flush
    also folds)."""
    store._submit(lambda conn: None).result(30)


def test_sqlite_folds_at_any_point_keep_each_period_the_tally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the batches and wherever the folds fall, the minute's rows are the tally
    of every result written, and the hour's and the day's the tally of the results up to
    the fold's mark, no more and no less; after a flush, of every result."""
    monkeypatch.setattr(_results, "FOLD_EVERY", math.inf)
    clean = 0

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(batches, st.lists(st.booleans(), min_size=6, max_size=6))
    def check(drawn: list[list[ProbeRecord]], folds: list[bool]) -> None:
        nonlocal clean
        clean += 1
        path = tmp_path / f"{clean}.db"
        with SQLiteStore(path) as store:
            for batch, fold in zip(drawn, folds, strict=False):
                for record in batch:
                    store.record(record)
                _commit(store)
                if fold:
                    store.flush()
                written, folded = _stored(path), _stored(path, _folded(path))
                for name in {r.monitor for r in written}:
                    assert_rows_are_the_tally(store, name, written, ("minute",))
                    assert_rows_are_the_tally(store, name, folded, ("hour", "day"))
            store.flush()
            written = _stored(path)
            assert _folded(path) == len(written)
            for name in {r.monitor for r in written}:
                assert_rows_are_the_tally(store, name, written)

    check()


_KILLED_WRITER = """
import os, signal, sys
from tether.monitor._records import ProbeRecord
from tether.monitor.store import SQLiteStore
from tether.monitor.store import _results
_results.FOLD_EVERY = float("inf")
store = SQLiteStore(sys.argv[1])
store.record(ProbeRecord("api", {t0} + 10, True, latency_ms=5.0))
store.flush()  # folded
store.record(ProbeRecord("api", {t0} + 20, False, latency_ms=None))
store._submit(lambda conn: None).result(30)  # written, in the same hour: not folded
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_results_a_killed_monitor_left_unfolded_are_folded_at_its_next_start(
    tmp_path: Path,
) -> None:
    """A monitor killed (SIGKILL, in a process of its own) between two folds left results
    written and unfolded; the restarted store's first batch folds them, so its hour and
    day rows hold every result, none twice."""
    path = tmp_path / "killed.db"
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER.format(t0=T0), str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(_stored(path)) == 2
    assert _folded(path) == 1  # the second is unfolded
    with SQLiteStore(path) as reader:  # a command that only reads (tether status)
        (hour,) = reader.rollups("api", "hour")
    assert _folded(path) == 1  # leaves the fold to the monitor
    with SQLiteStore(path) as store:
        (hour,) = store.rollups("api", "hour")
        assert hour.count == 1  # as the killed process left it
        store.record(ProbeRecord("api", T0 + 30, True, latency_ms=7.0))
        _commit(store)  # the first batch folds, without a flush
        assert_rows_are_the_tally(store, "api", _stored(path))


def test_a_prune_folds_the_results_before_it_deletes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results written since the last fold and past their retention are folded into the
    hour's and the day's rows before the prune deletes them: the rows outlive them whole."""
    monkeypatch.setattr(_results, "FOLD_EVERY", math.inf)
    path = tmp_path / "pruned.db"
    records = [ProbeRecord("api", T0 + i, i % 2 == 0, latency_ms=float(i + 1)) for i in range(4)]
    with SQLiteStore(path, retention=Retention(raw=3600)) as store:
        store.record(records[0])
        store.flush()
        for record in records[1:]:
            store.record(record)
        _commit(store)
        assert _folded(path) == 1
        pruned = store.prune(T0 + 2 * 86400)
        assert pruned.results == 4
        assert_rows_are_the_tally(store, "api", records, ("hour", "day"))


_KILLED_INSTANCE = """
import os, signal, sys
from tether.monitor._records import ProbeRecord
from tether.monitor.store import PostgresStore, _results
_results.FOLD_EVERY = float("inf")
store = PostgresStore(sys.argv[1])
name = sys.argv[2]
store.record(ProbeRecord(name, {t0} + 10, True, latency_ms=5.0))
store.flush()  # folded
store.record(ProbeRecord(name, {t0} + 20, False, latency_ms=None))
store._submit(lambda conn: None).result(30)  # written and kept for a fold, not folded
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_batches_a_killed_instance_kept_for_a_fold_are_folded_by_the_next(
    postgres_dsn: str,
) -> None:
    """An instance killed (SIGKILL, in a process of its own) between two folds left a
    batch written and kept for a fold; another store's fold (a restarted instance, or any
    other of the cluster) adds it to the hour and the day, once."""
    name = f"killed-{os.getpid()}-{time.monotonic_ns()}"
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_INSTANCE.format(t0=T0), postgres_dsn, name],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    with PostgresStore(postgres_dsn) as reader:  # a command that only reads
        (hour,) = reader.rollups(name, "hour")
        (minute,) = reader.rollups(name, "minute")
    assert (hour.count, minute.count) == (1, 2)  # the second batch is not folded yet
    with PostgresStore(postgres_dsn) as store:
        (hour,) = store.rollups(name, "hour")
        assert hour.count == 1  # the reader's close left it to a writer
        store.record(ProbeRecord(name, T0 + 30, True, latency_ms=7.0))
        _commit(store)  # the first batch folds, without a flush
        written = [
            ProbeRecord(name, T0 + 10, True, latency_ms=5.0),
            ProbeRecord(name, T0 + 20, False, latency_ms=None),
            ProbeRecord(name, T0 + 30, True, latency_ms=7.0),
        ]
        assert_rows_are_the_tally(store, name, written)
