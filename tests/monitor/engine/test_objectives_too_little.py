"""Nothing pages on too little data (issue 73, item 1): an objective whose window holds
fewer checks than its budget needs fires no rule, a rule's window under its minimum count
is judged as if it held that minimum, and docs/objectives.md's promise "a single failed
check wakes nobody" holds as written, whatever the rate of checks.  Pure core, on
simulated time: every sample carries its moment and every evaluation is asked at one."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor.engine.objectives._budget import (
    DEFAULT_RULES,
    BudgetLedger,
    BurnRule,
    Objective,
    Sample,
    needed,
    rule_minimum,
)
from tether.monitor.engine.objectives._words import too_few

DAY = 86400.0
MONTH = 30 * DAY
SLO = Objective(0.999, MONTH)


def test_the_issues_new_objective_does_not_page_on_one_failed_check() -> None:
    """The issue's reproduction: a new 99.9% / 30d objective checked every 10 s; after
    30 s one check fails and the re-probe passes.  Before, three rules fired (two pages,
    "250x over 1h"); now none does, and the status says so where the budget would be."""
    ledger = BudgetLedger(SLO)
    events = []
    for i, passed in enumerate([True, True, True, False, True, True]):
        at = i * 10.0 + (1.3 if i == 4 else 0.0)
        ledger.add(Sample(at, passed=passed, kind=None if passed else "connect.refused"))
        events += ledger.evaluate(at)
    assert events == []
    status = ledger.status(60.0)
    assert status.little_data
    assert (status.counts.total, status.needed) == (6, 1000)
    assert too_few(status.counts.total, status.needed) == "too few checks: 6 of 1,000 needed"


def test_a_total_outage_of_a_new_objective_waits_for_the_budget_to_mean_something() -> None:
    """Even every check failing fires no rule before the window holds the 1,000 checks a
    99.9% budget needs: the monitor's own alerts tell of the outage, not the objective."""
    ledger = BudgetLedger(SLO)
    for i in range(999):
        ledger.add(Sample(i * 10.0, passed=False))
        assert ledger.evaluate(i * 10.0) == []
    ledger.add(Sample(9990.0, passed=False))
    fired = {e.rule for e in ledger.evaluate(9990.0)}
    assert fired == set(DEFAULT_RULES)


@pytest.mark.parametrize("interval", [1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0])
def test_a_single_failed_check_wakes_nobody_as_the_docs_say(interval: float) -> None:
    """docs/objectives.md: "a single failed check wakes nobody".  After a clean month
    checked every ``interval``, one check fails and the rest pass: no rule fires, page or
    ticket.  Before, a 60 s monitor paged on it (1 of 60 checks in 1 h is 16.7x)."""
    ledger = BudgetLedger(SLO)
    per_hour = round(3600 / interval)
    for hour in range(int(MONTH // 3600)):
        ledger.record(hour * 3600.0, good=per_hour, total=per_hour)
    fired = []
    for i in range(1, round(6 * 3600 / interval)):
        at = MONTH + i * interval
        ledger.add(Sample(at, passed=i != 1, kind=None if i != 1 else "connect.refused"))
        fired += ledger.evaluate(at)
    assert fired == []


def test_two_failed_checks_in_a_thin_window_still_page() -> None:
    """The minimum count does not silence a real outage: checked once a minute after a
    clean month, the second failed check in a row pages (2 of at least 70 is 28.6x)."""
    ledger = BudgetLedger(SLO)
    for hour in range(int(MONTH // 3600)):
        ledger.record(hour * 3600.0, good=60, total=60)
    first = MONTH + 60.0
    ledger.add(Sample(first, passed=False))
    assert ledger.evaluate(first) == []
    ledger.add(Sample(first + 60.0, passed=False))
    (event,) = ledger.evaluate(first + 60.0)
    assert (event.type, event.rule) == ("fired", DEFAULT_RULES[0])


@pytest.mark.parametrize(
    ("target", "want"), [(0.999, 1000), (0.99, 100), (0.9, 10), (0.5, 2), (0.9999, 10000)]
)
def test_how_many_checks_a_budget_needs(target: float, want: int) -> None:
    """The fewest events whose budget allows one bad event, despite ``1 - 0.999`` not
    being exactly 0.001 in floating point."""
    assert needed(target) == want


def test_each_default_rules_minimum_count_at_99_9() -> None:
    """One bad event among a rule's minimum stays under its burn rate; among one fewer it
    would reach it."""
    assert [rule_minimum(r, 0.999) for r in DEFAULT_RULES] == [70, 167, 1001]


@st.composite
def histories(draw: st.DrawFn) -> tuple[Objective, list[Sample]]:
    window = float(draw(st.integers(600, 2 * 86400)))
    rules = []
    for _ in range(draw(st.integers(1, 3))):
        long = float(draw(st.integers(2, int(window))))
        short = float(draw(st.integers(1, int(long) - 1)))
        burn = draw(st.sampled_from([0.5, 1.0, 2.0, 6.0, 14.4]))
        rules.append(BurnRule(draw(st.sampled_from(["page", "ticket"])), burn, long, short))
    objective = Objective(
        draw(st.sampled_from([0.5, 0.9, 0.99, 0.999])), window, rules=tuple(rules)
    )
    times = sorted(draw(st.lists(st.floats(0, window * 1.5), max_size=150)))
    return objective, [Sample(at, passed=draw(st.booleans())) for at in times]


@settings(max_examples=200, deadline=None)
@given(histories())
def test_no_rule_ever_fires_with_fewer_checks_than_the_budget_needs(
    history: tuple[Objective, list[Sample]],
) -> None:
    """For any objective and any checks, evaluated after each: a rule fires only when the
    objective's window holds at least the checks its budget needs."""
    objective, samples = history
    ledger = BudgetLedger(objective)
    for sample in samples:
        ledger.add(sample)
        status = ledger.status(sample.at)
        fired = [e for e in ledger.evaluate(sample.at, status) if e.type == "fired"]
        if status.counts.total < needed(objective.target):
            assert fired == []


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(0, 149))
def test_no_rule_ever_fires_on_one_failed_check(
    history: tuple[Objective, list[Sample]], which: int
) -> None:
    """For any objective and any checks of which at most one failed: no rule fires."""
    objective, samples = history
    samples = [s._replace(passed=i != which) for i, s in enumerate(samples)]
    ledger = BudgetLedger(objective)
    for sample in samples:
        ledger.add(sample)
        assert ledger.evaluate(sample.at) == []


def test_a_rules_minimum_is_where_one_bad_event_stops_reaching_it() -> None:
    """The definition, checked against the burn rate itself for each default rule."""
    for rule in DEFAULT_RULES:
        n = rule_minimum(rule, 0.999)
        assert 1 / (n * 0.001) < rule.burn * (1 - 1e-9)
        assert 1 / ((n - 1) * 0.001) >= rule.burn * (1 - 1e-9) or math.isclose(n, 1)


def test_the_status_page_says_how_many_checks_the_budget_needs() -> None:
    """Where a status page would show the budget left, it says how many checks there
    are of how many needed (the page's JSON has the same words in ``too_few``)."""
    from tether.monitor.config import parse_config
    from tether.monitor.web.status._status_objectives import page_objectives

    config = parse_config(
        """
monitors: [{name: api, url: "http://127.0.0.1:9/"}]
objectives: [{name: checkout, monitors: [api], target: 99.9%}]
status_pages:
  - {slug: public, title: Shop, groups: [{name: Core, monitors: [api]}], objectives: [checkout]}
"""
    )
    ledger = BudgetLedger(SLO)
    for i in range(3):
        ledger.add(Sample(i * 10.0, passed=i != 1))
    figures = {"checkout": ledger.status(30.0)}
    (shown,) = page_objectives(figures, config, config.status_pages[0])
    assert shown["budget_left"] is None
    assert shown["too_few"] == "too few checks: 3 of 1,000 needed"


def test_an_alert_of_a_window_too_thin_for_a_budget_gives_no_share_of_it() -> None:
    """The issue's ``detail`` read "25000.0% of the 30d budget spent" of an objective with
    a handful of checks; an alert said while the window is too thin for a budget (a rule
    that ends after the store's history was dropped) says so instead of a share."""
    from tether.monitor.engine.objectives._book import ObjectiveAlert
    from tether.monitor.engine.objectives._budget import AlertEvent
    from tether.monitor.engine.objectives._words import objective_payload

    event = AlertEvent("ended", DEFAULT_RULES[0], 60.0, 250.0, 0.0, 250.0, -249.0, 0.0, True)
    payload = objective_payload(ObjectiveAlert("checkout", event, ("oncall",), ()), MONTH, 0.0)
    assert "%" not in (payload.detail or "")
    assert "too few checks yet for a 30d budget" in (payload.detail or "")
