"""An objective's history from the store (reports/objectives/_history.py): the pure
burn-down held to its properties over random hours, starting where the data starts, and
the whole read from a real store of each backend, with rows written through the store's
own API (results, a pause, a maintenance window, an incident): what it counts is what
the live core counts of the same checks."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import AuditEntry, Incident, ProbeRecord
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.reports.objectives._history import (
    STEP,
    HistoryStep,
    burn_down,
    objective_history,
    steps_from,
)
from tether.monitor.store import SQLiteStore

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z, on an hour
DAY = 86400.0

hours = st.lists(
    st.tuples(st.integers(0, 500), st.integers(0, 500)).map(lambda gb: (gb[0], gb[0] + gb[1])),
    max_size=60,
)
targets = st.floats(0.5, 0.9999)


def _steps(counts: list[tuple[int, int]]) -> list[HistoryStep]:
    return [HistoryStep(T0 + i * STEP, good, total) for i, (good, total) in enumerate(counts)]


@given(hours, targets)
def test_burn_down_never_above_one_and_never_rises(
    counts: list[tuple[int, int]], target: float
) -> None:
    """The budget left starts at most 1, never rises from one step to the next, and ends
    at 1 - bad / (allowed share x all events), the live core's remaining."""
    points = burn_down(_steps(counts), target)
    assert len(points) == len(counts)
    assert all(p.remaining <= 1.0 for p in points)
    assert all(b.remaining <= a.remaining for a, b in itertools.pairwise(points))
    total = sum(t for _, t in counts)
    bad = sum(t - g for g, t in counts)
    if points:
        expected = 1.0 - bad / ((1 - target) * total) if total else 1.0
        assert abs(points[-1].remaining - expected) < 1e-9
        assert (points[-1].good, points[-1].total) == (total - bad, total)


@given(st.lists(st.integers(0, 1000), max_size=60), targets)
def test_no_failure_leaves_the_whole_budget(totals: list[int], target: float) -> None:
    """Without a bad event the budget left is exactly 1 at every step."""
    points = burn_down(_steps([(n, n) for n in totals]), target)
    assert all(p.remaining == 1.0 for p in points)


@given(hours, targets)
def test_each_point_is_the_end_of_its_step(counts: list[tuple[int, int]], target: float) -> None:
    """Point i stands at the end of hour i and counts hours 0..i."""
    points = burn_down(_steps(counts), target)
    for i, p in enumerate(points):
        assert p.at == T0 + (i + 1) * STEP
        assert p.total == sum(t for _, t in counts[: i + 1])


@given(st.dictionaries(st.integers(0, 47), st.tuples(st.integers(0, 9), st.integers(1, 9))))
def test_the_steps_start_where_the_data_starts(counts: dict[int, tuple[int, int]]) -> None:
    """The steps run from the first hour with an event to the span's last, each hour
    once, empty ones between included; none without any event (no budget is kept for
    the weeks before monitoring began)."""
    first, last = int(T0 // STEP), int(T0 // STEP) + 47
    held = {first + i: (min(g, t), t) for i, (g, t) in counts.items()}
    steps = steps_from(held, first, last)
    if not held:
        assert steps == []
        return
    assert steps[0].start == min(held) * STEP
    assert steps[0].total > 0
    assert [s.start for s in steps] == [i * STEP for i in range(min(held), last + 1)]
    assert sum(s.total for s in steps) == sum(t for _, t in held.values())


CONFIG = {
    "monitors": [
        {"name": "api", "url": "http://127.0.0.1:9/", "labels": {"service": "checkout"}},
        {"name": "web", "url": "http://127.0.0.1:9/", "labels": {"service": "checkout"}},
        {"name": "other", "url": "http://127.0.0.1:9/"},
    ],
    "objectives": [{"name": "checkout", "match": {"service": "checkout"}, "target": "99%"}],
}


def test_history_read_from_each_store(target: str) -> None:
    """A day of checks written through the store: the history counts every hour's checks
    of the objective's monitors, leaves out the hours paused or in a maintenance window,
    and lists the incidents of its monitors in the span, not those of another monitor."""
    config = parse_config(yaml.safe_dump(CONFIG))
    objective = config.objectives[0]
    with open_target(target) as store:
        for hour in range(24):
            for minute in range(0, 60, 10):  # 6 checks an hour, each monitor
                at = T0 + hour * STEP + minute * 60
                failed = hour == 3 and minute < 30  # api: 3 failures at 03:00
                store.record(
                    ProbeRecord("api", at, not failed, Kind.CONNECT_REFUSED if failed else None)
                )
                store.record(ProbeRecord("web", at, hour != 5, None))  # a failed condition
                store.record(ProbeRecord("other", at, False, Kind.CONNECT_REFUSED))
        # web paused 05:00-06:00 (its failures there are left out).
        store.record_state("web", T0, State.UP)
        store.record_state("web", T0 + 5 * STEP, State.PAUSED)
        store.record_state("web", T0 + 6 * STEP, State.UP)
        store.flush()
        # api in maintenance over 10:00-12:00 (its checks there are left out).
        audit = AuditEntry(T0, "local", "cli", "maintenance.open", "")
        store.open_window(("api",), T0 + 10 * STEP, T0 + 12 * STEP, "deploy", audit)
        n = store.new_incident_id()
        store.open_incident(
            Incident(
                n,
                "k",
                Kind.CONNECT_REFUSED,
                "refused",
                "",
                T0 + 3 * STEP,
                T0 + 3.5 * STEP,
                ("api",),
            )
        )
        m = store.new_incident_id()
        store.open_incident(Incident(m, "o", Kind.CONNECT_REFUSED, "x", "", T0, None, ("other",)))
        late = store.new_incident_id()  # after the span
        store.open_incident(
            Incident(late, "k2", None, "c", "", T0 + 2 * DAY, T0 + 2 * DAY + 60, ("api",))
        )
        history = objective_history(store, config, objective, T0, T0 + DAY)
    # 24 hours x 6 checks x 2 monitors, less api's 2 hours of maintenance, web's paused hour.
    assert history.total == 24 * 6 * 2 - 2 * 6 - 6
    assert history.total - history.good == 3
    assert history.monitors == ("api", "web")
    assert len(history.points) == 24
    assert abs(history.remaining - (1 - 3 / (0.01 * history.total))) < 1e-9
    assert [p.remaining for p in history.points[:3]] == [1.0, 1.0, 1.0]
    assert history.points[3].remaining == history.remaining
    assert [mark.id for mark in history.incidents] == [n]
    assert history.incidents[0].duration(T0 + DAY) == 0.5 * STEP


# A configuration parsed and a store made per example: slower than hypothesis's default
# deadline on a busy machine.
@settings(deadline=None, max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["api", "web"]),
            st.integers(0, 47),
            st.integers(0, 59),
            st.booleans(),
            st.sampled_from([None, "connect.refused", "tls.expired"]),
        ),
        max_size=200,
    ),
    st.sets(st.integers(0, 47), max_size=10),
)
def test_the_store_counts_what_the_live_book_counts(
    tmp_path_factory: pytest.TempPathFactory,
    checks: list[tuple[str, int, int, bool, str | None]],
    maintained: set[int],
) -> None:
    """Checks of two days written to a real store, with maintenance over whole hours: the
    history read back counts the same good and total as the live core (``ObjectiveBook``) given
    the same checks, for an availability objective with ``kinds``: one judgement."""
    from tether.monitor.engine.objectives._book import ObjectiveBook

    windows = [
        {
            "name": f"m{h}",
            "start": dt.datetime.fromtimestamp(T0 + h * STEP, dt.UTC).isoformat(),
            "end": dt.datetime.fromtimestamp(T0 + (h + 1) * STEP, dt.UTC).isoformat(),
            "monitors": ["api"],
        }
        for h in sorted(maintained)
    ]
    config = parse_config(
        yaml.safe_dump(
            {
                **CONFIG,
                "maintenance": windows,
                "objectives": [
                    {"name": "o", "monitors": ["api", "web"], "target": "99%", "kinds": ["connect"]}
                ],
            }
        )
    )
    records = [
        ProbeRecord(m, T0 + h * STEP + minute * 60, ok, None if ok or kind is None else Kind(kind))
        for m, h, minute, ok, kind in checks
    ]
    book = ObjectiveBook(config)
    for record in records:
        book.observe(record)
    live = book.status("o", T0 + 2 * DAY).counts
    with SQLiteStore(tmp_path_factory.mktemp("h") / "t.db") as store:
        for record in records:
            store.record(record)
        store.flush()
        history = objective_history(store, config, config.objectives[0], T0, T0 + 2 * DAY)
    assert (history.good, history.total) == (live.good, live.total)


def test_a_latency_objective_is_judged_by_the_hour_from_each_store(target: str) -> None:
    """Hours written through the store: one all fast, one all slow, one mixed whose
    average is fast, one mixed whose average is slow; a failure is never good.  The
    history says so, and says it is approximated."""
    config = parse_config(
        yaml.safe_dump(
            {
                "monitors": [{"name": "api", "url": "http://127.0.0.1:9/"}],
                "objectives": [
                    {
                        "name": "fast",
                        "monitors": ["api"],
                        "sli": "latency",
                        "below": "100ms",
                        "p": 95,
                    }
                ],
            }
        )
    )
    hours = ([20, 30, 40], [150, 200, 300], [10, 20, 150], [50, 180, 190])
    with open_target(target) as store:
        for h, latencies in enumerate(hours):
            for k, ms in enumerate(latencies):
                store.record(ProbeRecord("api", T0 + h * STEP + k * 60, True, None, float(ms)))
        store.record(ProbeRecord("api", T0 + 59 * 60, False, Kind.CONNECT_TIMEOUT, 5.0))
        store.flush()
        history = objective_history(store, config, config.objectives[0], T0, T0 + 4 * STEP)
    assert [(p.good, p.total) for p in history.points] == [(3, 4), (3, 7), (6, 10), (6, 13)]
    assert history.approximated
