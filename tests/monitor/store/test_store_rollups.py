"""Roll-ups written batch by batch are what the pure tally of every result says: the
stores add each batch to the rows in the database (each in one statement of its own SQL:
nothing is read back and merged in Python), and this checks both against ``tally`` over
all the results at once, for batches hypothesis draws (kinds summed across batches,
results without a latency, mins and maxes), on a real SQLite file and a real PostgreSQL
(``[sqlite]``, ``[postgres]``: see tests/monitor/store/test_store.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.store import PostgresStore, Store
from tether.monitor.store._base import merge_tallies, tally

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
            expected = merge_tallies(tally(everything), {})
            for name in names.values():
                for period in PERIODS:
                    got = {r.start: r for r in store.rollups(name, period)}
                    want = {
                        start: t
                        for (m, p, start), t in expected.items()
                        if (m, p) == (name, period)
                    }
                    assert set(got) == set(want)
                    for start, t in want.items():
                        row = got[start]
                        assert (row.count, row.ok_count, row.kinds) == (
                            t.count,
                            t.ok_count,
                            t.kinds,
                        )
                        assert (row.latency_min, row.latency_max) == (t.latency_min, t.latency_max)
                        if t.latency_count:
                            assert row.latency_avg is not None
                            assert abs(row.latency_avg - t.latency_sum / t.latency_count) < 1e-6
                        else:
                            assert row.latency_avg is None

    check()


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
        (minute,) = stores[0].rollups(name, "minute")
        assert (minute.count, minute.ok_count) == (2 * batches * per_batch, batches * per_batch)
    finally:
        for store in stores:
            store.close()
