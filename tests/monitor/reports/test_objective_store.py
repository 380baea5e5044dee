"""What the store holds of an objective, bucket by bucket (reports/objectives/_store.py):
the counts the running monitor fills its ledgers with, read from real stores of each
backend written through their own API, held to the live core's judgement of the same
checks, up to an exact moment (the newest roll-up still filling is read from the next
shorter period and the raw results)."""

from __future__ import annotations

import itertools
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.engine.objectives._budget import AvailabilitySLI, LatencySLI, Sample, is_good
from tether.monitor.reports.objectives._store import (
    Exclusions,
    bucket_counts,
    paused_spans,
    period_of,
    pieces,
)
from tether.monitor.store import SQLiteStore

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z, on an hour
HOUR = 3600.0
CONFIG = parse_config(
    yaml.safe_dump({"monitors": [{"name": n, "url": "http://127.0.0.1:9/"} for n in "ab"]})
)


@given(st.sampled_from([None, "day", "hour", "minute"]), st.floats(0, 5e5), st.floats(0, 5e5))
def test_pieces_cover_the_span_each_roll_up_whole(
    period: str | None, since: float, length: float
) -> None:
    """The pieces cover ``[since, end)`` once, in order; each roll-up piece starts and
    ends on its period (whole roll-ups only), and the raw results take less than a
    minute at the end."""
    step = {"day": 86400.0, "hour": 3600.0, "minute": 60.0, None: 1.0}[period]
    since = since // step * step + (0.0 if period == "day" else T0)  # on its period
    end = since + length
    got = pieces(period, since, end)
    assert [a for _, a, _ in got][:1] == ([since] if end > since else [])
    assert all(b == a2 for (_, _, b), (_, a2, _) in itertools.pairwise(got))
    assert (got[-1][2] if got else since) == max(since, end)
    seconds = {"day": 86400, "hour": 3600, "minute": 60}
    for source, a, b in got:
        if source is None:
            assert b - a < 60 or period is None
        else:
            assert a % seconds[source] == 0
            assert b % seconds[source] == 0


def test_each_width_is_read_from_the_widest_period_that_divides_it() -> None:
    """An hour's buckets from hour roll-ups, ten minutes' and a minute's from minute
    roll-ups, ten seconds' from the raw results."""
    assert [period_of(w) for w in (86400, 3600, 600, 60, 10, 1)] == [
        "day",
        "hour",
        "minute",
        "minute",
        None,
        None,
    ]


checks = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.floats(0, 3 * HOUR - 1, allow_nan=False),
        st.booleans(),
        st.sampled_from([None, "connect.refused", "tls.expired"]),
        st.floats(1, 500),
    ),
    max_size=150,
)


@settings(deadline=None, max_examples=40)
@given(
    checks,
    st.sampled_from([10.0, 60.0, 600.0, 3600.0]),
    st.floats(0, 3 * HOUR),
    st.sampled_from(
        [AvailabilitySLI(), AvailabilitySLI(frozenset({"connect", "condition"})), LatencySLI(100.0)]
    ),
)
def test_the_buckets_count_what_the_live_core_counts_before_the_moment(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, float, bool, str | None, float]],
    width: float,
    cut: float,
    sli: AvailabilitySLI | LatencySLI,
) -> None:
    """Checks of three hours written to a real store: each bucket holds exactly the
    checks made before ``until``, judged as the live core judges them one by one (the
    latency of a roll-up aside, which is judged whole: only the raw results here)."""
    until = T0 + cut
    records = [
        ProbeRecord(m, T0 + at, ok, None if ok or kind is None else Kind(kind), ms)
        for m, at, ok, kind, ms in rows
    ]
    expected: dict[int, list[int]] = {}
    for r in records:
        kind = None if r.kind is None else r.kind.value
        good = is_good(sli, Sample(r.ts, r.ok, kind, r.latency_ms))
        if r.ts < until and good is not None:
            bucket = expected.setdefault(math.floor(r.ts / width), [0, 0])
            bucket[0] += int(good)
            bucket[1] += 1
    first, last = math.floor(T0 / width), math.floor((T0 + 3 * HOUR) / width)
    with SQLiteStore(tmp_path_factory.mktemp("s") / "t.db") as store:
        for r in records:
            store.record(r)
        store.flush()
        got = bucket_counts(store, sli, ["a", "b"], width, first, last, Exclusions(CONFIG), until)
    if isinstance(sli, LatencySLI) and width >= 60:
        # Roll-ups are judged whole: the totals agree, the good ones as the mean says.
        assert {i: t for i, (_, t) in got.items()} == {i: t for i, (_, t) in expected.items()}
        return
    assert got == {i: (g, t) for i, (g, t) in expected.items()}


def test_a_roll_up_is_judged_by_the_kinds_that_count_in_each_store(target: str) -> None:
    """An hour of ten checks, six passed, two refused, one not found, one failed condition:
    every failure counts by default; under ``kinds`` only those listed do, a failure of
    another kind not counted at all (neither good nor bad)."""
    kinds = [None] * 6 + ["connect.refused"] * 2 + ["dns.not_found", "condition"]
    with open_target(target) as store:
        for i, kind in enumerate(kinds):
            ok = kind is None
            failure = None if kind is None or kind == "condition" else Kind(kind)
            store.record(ProbeRecord("a", T0 + i * 60, ok, failure))
        store.flush()

        def hour(sli: AvailabilitySLI) -> tuple[int, int]:
            counts = bucket_counts(
                store, sli, ["a"], HOUR, int(T0 // HOUR), int(T0 // HOUR), Exclusions(CONFIG)
            )
            return counts.get(int(T0 // HOUR), (0, 0))

        assert hour(AvailabilitySLI()) == (6, 10)
        assert hour(AvailabilitySLI(frozenset({"connect"}))) == (6, 8)
        assert hour(AvailabilitySLI(frozenset({"condition"}))) == (6, 7)
        assert hour(AvailabilitySLI(frozenset({"dns", "condition"}))) == (6, 8)


def test_a_pause_and_a_window_leave_out_the_buckets_they_cover_in_each_store(
    target: str,
) -> None:
    """b paused over the second hour, a window of the file over a's third: their checks
    there are not counted; a's first two hours and b's others are."""
    config = parse_config(
        yaml.safe_dump(
            {
                "monitors": [{"name": n, "url": "http://127.0.0.1:9/"} for n in "ab"],
                "maintenance": [
                    {
                        "name": "upgrade",
                        "start": "2027-01-15T10:00:00Z",
                        "end": "2027-01-15T11:00:00Z",
                        "monitors": ["a"],
                    }
                ],
            }
        )
    )
    with open_target(target) as store:
        for minute in range(0, 180, 10):
            for m in "ab":
                store.record(ProbeRecord(m, T0 + minute * 60, False, Kind.CONNECT_REFUSED))
        store.record_state("b", T0 + HOUR, State.PAUSED)
        store.record_state("b", T0 + 2 * HOUR, State.UP)
        store.flush()
        exclusions = Exclusions.read(store, config, ["a", "b"], T0)
        first = int(T0 // HOUR)
        got = bucket_counts(
            store, AvailabilitySLI(), ["a", "b"], HOUR, first, first + 2, exclusions
        )
    assert got == {first: (0, 12), first + 1: (0, 6), first + 2: (0, 6)}
    assert exclusions.at("b", T0 + 1.5 * HOUR)
    assert not exclusions.at("b", T0 + 2.5 * HOUR)
    assert exclusions.at("a", T0 + 2.5 * HOUR)
    assert not exclusions.at("a", T0 + 1.5 * HOUR)


def test_a_pause_runs_from_its_change_to_the_next() -> None:
    """Each monitor's paused spans, from its stored state changes; one still paused
    reaches on."""
    changes = {
        "a": [(1.0, State.UP), (2.0, State.PAUSED), (3.0, State.UP), (4.0, State.PAUSED)],
        "b": [(1.0, State.UP)],
    }
    assert paused_spans(changes) == {"a": [(2.0, 3.0), (4.0, math.inf)]}
