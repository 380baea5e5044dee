"""The overload simulation (benchmarks/_overload_sim.py) keeps its invariants, small and
fast; its script's quick mode runs end to end."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.bench_runs import run_writing_its_part
from tether import Budget, RetryPolicy

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SHORT = {"warmup": 2.0, "measure": 6.0}


def _load() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("_overload_sim")
    finally:
        sys.path.remove(str(BENCHMARKS))


SIM = _load()


@pytest.fixture
def sim() -> ModuleType:
    return SIM


@settings(max_examples=40, deadline=None)
@given(
    strategy=st.sampled_from(sorted(SIM.STRATEGIES)),
    load=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**16),
)
def test_any_run_keeps_the_models_invariants(strategy: str, load: float, seed: int) -> None:
    """For any strategy, load and seed: the run repeats exactly, the workers are never
    busier than there are workers, no second has more calls succeeding than began in it,
    and no strategy sends more than its attempts per call (4 for urllib3 and tenacity, 3
    for tether); the peers send each call's first attempt at once."""
    run = SIM.simulate(strategy, load, warmup=1.0, measure=4.0, seed=seed)
    assert SIM.simulate(strategy, load, warmup=1.0, measure=4.0, seed=seed) == run
    assert run.utilisation <= 1.0
    for began, good in zip(run.offered_series, run.good_by_start, strict=True):
        assert good <= began
    most = 3 if strategy.startswith("tether") else 4
    assert sum(run.arrival_series) <= most * sum(run.offered_series)
    if not strategy.startswith("tether"):
        for began, sent in zip(run.offered_series, run.arrival_series, strict=True):
            assert sent >= began


def test_a_seeded_run_repeats_exactly(sim: ModuleType) -> None:
    """The same strategy, load and seed give the same run, series and all; another seed
    gives another."""
    for name in ("tether + adaptive", "tenacity (4 attempts, exponential)"):
        first = sim.simulate(name, 2.0, seed=7, **SHORT)
        assert sim.simulate(name, 2.0, seed=7, **SHORT) == first
        assert sim.simulate(name, 2.0, seed=8, **SHORT) != first


@pytest.mark.parametrize("load", [0.5, 3.0])
def test_goodput_never_exceeds_what_the_server_did(sim: ModuleType, load: float) -> None:
    """No strategy gets more answers than the server finished, the workers are never busier
    than there are workers, no second has more calls succeeding than began in it, and
    goodput stays within noise of the capacity."""
    model = sim.MODEL
    for name in sim.STRATEGIES:
        run = sim.simulate(name, load, warmup=2.0, measure=20.0)
        assert run.utilisation <= 1.0, name
        assert run.goodput * 20.0 <= run.served, name
        assert run.goodput <= 1.05 * model.capacity, name
        for began, good in zip(run.offered_series, run.good_by_start, strict=True):
            assert good <= began, name  # each call succeeds at most once


def test_with_no_load_nothing_happens(sim: ModuleType) -> None:
    """At zero offered load no strategy sends, serves or fails anything."""
    for name in sim.STRATEGIES:
        run = sim.simulate(name, 0.0, **SHORT)
        assert (run.offered, run.goodput, run.server_load, run.served) == (0, 0, 0, 0), name
        assert run.failures == {}, name
        assert run.utilisation == 0.0, name


def test_without_retries_the_server_sees_the_offered_load(sim: ModuleType) -> None:
    """Without retries every call is one attempt at the moment it is made, so the server's
    load is the offered load, second by second, below capacity and above it; below it the
    retrying strategies add next to nothing."""
    run = sim.simulate("no retries", 0.6, **SHORT)
    assert run.arrival_series == run.offered_series
    assert run.server_load == run.offered > 0
    over = sim.simulate("no retries", 2.0, **SHORT)  # failing half its calls: still one each
    assert over.failures["503"] > 0
    assert over.arrival_series == over.offered_series
    for name in sim.STRATEGIES:
        other = sim.simulate(name, 0.6, **SHORT)
        assert other.offered == run.offered, name  # the same calls for every strategy
        assert other.server_load <= 1.02 * other.offered, name


def test_the_tether_clients_obey_tethers_own_budget(
    sim: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tether models decide through tether's Call and Guard: with a budget that allows
    no retry and no breaker, the server sees exactly one attempt per call even at 2x, where
    the default budget alone lets retries through."""
    empty = RetryPolicy(total=1.0, breaker=None, budget=Budget(ratio=0, per_second=0))
    monkeypatch.setitem(sim.STRATEGIES, "tether, no budget", sim._tether(empty))
    none_left = sim.simulate("tether, no budget", 2.0, **SHORT)
    assert none_left.arrival_series == none_left.offered_series
    some = sim.simulate("tether, budget only", 2.0, **SHORT)
    assert some.server_load > 1.1 * some.offered


def test_fixed_count_retries_amplify_and_tethers_default_does_not(sim: ModuleType) -> None:
    """At 2x capacity tenacity's four attempts multiply the server's load and lose goodput
    against no retries, urllib3's default Retry(3) hands 503s back unretried, and tether's
    default sends less than was offered and keeps its goodput near the capacity."""
    run = {n: sim.simulate(n, 2.0, warmup=5.0, measure=15.0) for n in sim.STRATEGIES}
    bare = run["no retries"]
    assert run["tenacity (4 attempts, exponential)"].server_load > 2 * bare.server_load
    assert run["tenacity (4 attempts, exponential)"].goodput < 0.9 * bare.goodput
    assert run["urllib3 Retry(3)"].server_load < 1.02 * bare.server_load
    assert run["tether default"].server_load < bare.server_load
    assert run["tether default"].goodput >= 0.9 * sim.MODEL.capacity


def test_an_outage_is_counted_and_recovery_measured(sim: ModuleType) -> None:
    """While the server answers nothing no call succeeds; urllib3 retries each at once (up
    to four attempts), tether's breaker sends far fewer, and both recover afterwards."""
    outage = (5.0, 10.0)
    runs = {
        name: sim.simulate(name, 0.8, warmup=0.0, measure=40.0, outage=outage)
        for name in ("urllib3 Retry(3)", "tether default")
    }
    for name, run in runs.items():
        # Nothing that began in the outage's second half can succeed before it ends.
        assert sum(run.good_series[7:10]) == 0, name
        took = sim.recovery_time(run, outage[1])
        assert took is not None, name
        assert took <= 5, (name, took)
    during = {n: sum(r.arrival_series[6:10]) / sum(r.offered_series[6:10]) for n, r in runs.items()}
    assert 2.5 < during["urllib3 Retry(3)"] <= 4.0
    assert during["tether default"] < 0.5


def test_recovery_is_counted_by_the_calls_start(sim: ModuleType) -> None:
    """Recovery is the first 5 s span from the outage's end in which 90% of the calls begun
    succeeded, whenever they finished; never, if none."""
    n = 40
    base = {
        "offered": 10.0,
        "goodput": 0.0,
        "server_load": 0.0,
        "wasted": 0.0,
        "failures": {},
        "good_series": (0,) * n,
        "offered_series": (10,) * n,
        "arrival_series": (0,) * n,
        "limits": (),
        "served": 0,
        "utilisation": 0.0,
    }
    good = (0,) * 13 + (9,) * (n - 13)
    assert sim.recovery_time(sim.Run(**base, good_by_start=good), 10.0) == 3.0
    assert sim.recovery_time(sim.Run(**base, good_by_start=(8,) * n), 10.0) is None


@pytest.mark.bench
def test_bench_overload_quick_prints_its_sections_writes_its_part_and_plots(
    tmp_path: Path,
) -> None:
    """`bench_overload.py --quick --write F` exits 0, prints the ramp, the outage and the
    model's sensitivity with tables and judged claims, replaces its part of F, keeping the
    others, and (with matplotlib) draws the three PNGs the docs show."""
    plots = ["--plots", str(tmp_path / "img")]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        plots = ["--no-plots"]
    stdout, written = run_writing_its_part(
        tmp_path,
        "bench_overload.py",
        ["--quick", *plots],
        "under overload (simulated)",
        ("1. Goodput", "2. Recovery", "3. How much the model decides"),
        timeout=90,
        kept="retries",
    )
    claim = r"^- tether default at 2x capacity: goodput [\d.]+ calls/s \(seeds 2 and 3: "
    claim += r"[\d.]+, [\d.]+\), at least \d+% of capacity "
    assert re.search(claim + r"\(target >= 90% of capacity\): (met|MISSED)$", written, re.M)
    assert "tenacity (4 attempts, exponential)" in stdout
    if plots[0] == "--plots":
        for name in ("overload-goodput.png", "overload-server-load.png", "overload-recovery.png"):
            assert (tmp_path / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
