"""Objectives' pure core held to properties over random events (hypothesis): a window's
counts are the brute-force count within one bucket, the budget left is never above 1,
nothing fires while every event is good, and a fired alert ends once its short window
is clean."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor.engine.objectives._budget import (
    BudgetLedger,
    BurnRule,
    Objective,
    Sample,
    bucket_width,
)


@dataclass(frozen=True)
class Case:
    objective: Objective
    samples: list[Sample]


@st.composite
def objectives(draw: st.DrawFn) -> Objective:
    """An objective over 10 min to 2 days with one to three rules that fit in it."""
    window = float(draw(st.integers(600, 2 * 86400)))
    rules = []
    for _ in range(draw(st.integers(1, 3))):
        long = float(draw(st.integers(2, int(window))))
        short = float(draw(st.integers(1, int(long) - 1)))
        burn = draw(st.sampled_from([0.5, 1.0, 2.0, 6.0, 14.4]))
        rules.append(BurnRule(draw(st.sampled_from(["page", "ticket"])), burn, long, short))
    target = draw(st.sampled_from([0.5, 0.9, 0.99, 0.999]))
    return Objective(target, window, rules=tuple(rules))


@st.composite
def cases(draw: st.DrawFn, *, all_good: bool = False) -> Case:
    objective = draw(objectives())
    span = objective.window * 1.5
    times = sorted(draw(st.lists(st.floats(0, span), max_size=120)))
    samples = [
        Sample(at, passed=True if all_good else draw(st.booleans()), excluded=draw(st.booleans()))
        for at in times
    ]
    return Case(objective, samples)


def brute(samples: list[Sample], start: float, now: float) -> tuple[int, int]:
    """Good and total of the counted samples in (start, now]."""
    inside = [s for s in samples if start < s.at <= now and not s.excluded]
    return sum(s.passed for s in inside), len(inside)


@settings(max_examples=150, deadline=None)
@given(cases(), st.data())
def test_a_windows_counts_are_the_brute_force_count_within_one_bucket(
    case: Case, data: st.DataObject
) -> None:
    """Over every window length the objective reads, at any moment, the ledger fed what
    happened until then counts every event of (now - L, now] and none before
    (now - L - bucket, now]."""
    # Now anywhere, or where some event sits near a window's old edge: just inside it, or
    # within the bucket before it.
    near = st.tuples(
        st.sampled_from(case.samples or [Sample(0.0, True)]),
        st.sampled_from(case.objective.lengths()),
        st.floats(-1.5, 1),
    ).map(lambda e: max(0.0, e[0].at + e[1] - e[2] * bucket_width(e[1])))
    now = data.draw(st.floats(0, case.objective.window * 3) | near)
    past = [s for s in case.samples if s.at <= now]
    ledger = BudgetLedger(case.objective)
    ledger.add_all(past)
    for length in case.objective.lengths():
        width = bucket_width(length)
        good, total = ledger.count(length, now)
        least = brute(past, now - length, now)
        most = brute(past, now - length - width, now)
        assert least[1] <= total <= most[1]
        assert least[0] <= good <= most[0]
        # The bucket error is bounded by 1/30 of the length (a wider one only for windows
        # under 30 s, read from 1 s buckets).
        assert width <= max(length / 30, 1.0)


@settings(max_examples=150, deadline=None)
@given(cases(), st.data())
def test_the_budget_left_is_never_above_one(case: Case, data: st.DataObject) -> None:
    """Whatever the events, spent is at least 0 and remaining at most 1."""
    ledger = BudgetLedger(case.objective)
    ledger.add_all(case.samples)
    now = data.draw(st.floats(0, case.objective.window * 3))
    status = ledger.status(now)
    assert status.spent >= 0
    assert status.remaining <= 1
    for event in ledger.evaluate(now):
        assert event.remaining <= 1


@settings(max_examples=150, deadline=None)
@given(cases(all_good=True))
def test_no_alert_fires_while_every_event_is_good(case: Case) -> None:
    """Evaluated after every event, no rule ever fires when nothing failed."""
    ledger = BudgetLedger(case.objective)
    for sample in case.samples:
        ledger.add(sample)
        assert ledger.evaluate(sample.at) == []


@settings(max_examples=150, deadline=None)
@given(cases(), st.data())
def test_a_fired_alert_ends_once_its_short_window_is_clean(case: Case, data: st.DataObject) -> None:
    """Evaluated after every event, then at a moment whose short window (and the bucket
    before it) holds no failure: every rule that fired has ended, and each rule's events
    alternate fired, ended."""
    ledger = BudgetLedger(case.objective)
    seen: dict[BurnRule, list[str]] = {}
    for sample in case.samples:
        ledger.add(sample)
        for event in ledger.evaluate(sample.at):
            seen.setdefault(event.rule, []).append(event.type)
    last = case.samples[-1].at if case.samples else 0.0
    now = last + data.draw(st.floats(0, case.objective.window))
    for event in ledger.evaluate(now):
        seen.setdefault(event.rule, []).append(event.type)
    for rule in case.objective.rules:
        start = now - rule.short - bucket_width(rule.short)
        clean = not any(s.at > start and not s.passed and not s.excluded for s in case.samples)
        if clean:
            assert rule not in ledger.firing
    for types in seen.values():
        assert types == ["fired", "ended"] * (len(types) // 2) + ["fired"] * (len(types) % 2)
