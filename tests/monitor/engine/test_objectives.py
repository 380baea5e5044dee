"""Objectives' pure core (``engine/objectives/_budget.py``): the SRE Workbook's worked examples
("Alerting on SLOs"), what each SLI counts, and a 30-day objective on simulated time."""

from __future__ import annotations

import math

import pytest

from tether.monitor.config import parse_config
from tether.monitor.engine.objectives._budget import (
    DEFAULT_RULES,
    AvailabilitySLI,
    BudgetLedger,
    BurnRule,
    LatencySLI,
    Objective,
    Sample,
    bucket_width,
    budget_consumed,
    burn_rate,
    detection_time,
    error_budget,
    from_config,
    is_good,
)

DAY = 86400.0
MONTH = 30 * DAY
SLO = Objective(0.999, MONTH)


def test_error_budget_and_burn_rate_as_the_workbook_defines_them() -> None:
    """A 99.9% objective may fail 0.1% of events; failing 0.1% burns at 1, 1.44% at
    14.4, 100% at 1000, which spends a 30-day budget in 43.2 minutes."""
    assert error_budget(0.999) == pytest.approx(0.001)
    assert burn_rate(999, 1000, 0.999) == pytest.approx(1.0)
    assert burn_rate(10000 - 144, 10000, 0.999) == pytest.approx(14.4)
    assert burn_rate(0, 10, 0.999) == pytest.approx(1000)
    assert MONTH / burn_rate(0, 10, 0.999) == pytest.approx(43.2 * 60)
    assert burn_rate(0, 0, 0.999) == 0.0  # no events burn nothing


@pytest.mark.parametrize(
    ("rule", "consumed", "detect_s"),
    [
        # The Workbook's recommended table: budget consumed, and the time to detect a
        # total outage, (1 - SLO) x long window x burn rate.
        (DEFAULT_RULES[0], 0.02, 0.864 * 60),
        (DEFAULT_RULES[1], 0.05, 2.16 * 60),
        (DEFAULT_RULES[2], 0.10, 4.32 * 60),
    ],
    ids=["page-1h", "page-6h", "ticket-3d"],
)
def test_the_workbooks_table_for_each_default_rule(
    rule: BurnRule, consumed: float, detect_s: float
) -> None:
    """Each default rule spends its share of a 30-day budget before it fires, and detects
    a total outage of a 99.9% objective as fast as the Workbook says."""
    assert budget_consumed(rule.burn, rule.long, MONTH) == pytest.approx(consumed)
    assert detection_time(rule.burn, rule.long, 0.999) == pytest.approx(detect_s)


def test_the_defaults_are_the_workbooks() -> None:
    """Page 14.4 over 1 h and 5 min, page 6 over 6 h and 30 min, ticket 1 over 3 d and 6 h."""
    assert [(r.severity, r.burn, r.long, r.short) for r in DEFAULT_RULES] == [
        ("page", 14.4, 3600.0, 300.0),
        ("page", 6.0, 21600.0, 1800.0),
        ("ticket", 1.0, 259200.0, 21600.0),
    ]
    assert repr(DEFAULT_RULES[0]) == "<BurnRule page 14.4x 1h/5m>"


def test_detection_slows_with_a_partial_outage_and_never_comes_below_the_rate() -> None:
    """At 10% errors the 1 h rule fires after 8.64 min; at 1% (burn 10) it never does."""
    assert detection_time(14.4, 3600, 0.999, error_rate=0.1) == pytest.approx(518.4)
    assert detection_time(14.4, 3600, 0.999, error_rate=0.01) == math.inf


def test_bucket_widths_and_the_count_of_buckets_of_a_30_day_objective() -> None:
    """5 min is read from 10 s buckets, 1 h from 1 min, 6 h from 10 min, 3 d and 30 d
    from 1 h; a 30-day objective with the defaults keeps 854 buckets."""
    assert [bucket_width(s) for s in (300, 1800, 3600, 21600, 3 * DAY, MONTH, 1)] == [
        10.0,
        60.0,
        60.0,
        600.0,
        3600.0,
        3600.0,
        1.0,
    ]
    assert BudgetLedger(SLO).buckets == 854
    assert BudgetLedger(Objective(0.999, 365 * DAY)).buckets < 9000


@pytest.mark.parametrize(
    ("sample", "availability", "only_connect", "latency"),
    [
        (Sample(0, passed=True, ms=120), True, True, True),
        (Sample(0, passed=True, ms=300), True, True, False),  # not under 300 ms
        (Sample(0, passed=False, kind="connect.refused", ms=1), False, False, False),
        (Sample(0, passed=False, kind="http.server_error", ms=5), False, None, False),
        (Sample(0, passed=True, ms=None), True, True, False),
        (Sample(0, passed=False, kind=None, ms=2), False, None, False),  # a failed condition
        (Sample(0, passed=False, kind="connect.refused", excluded=True), None, None, None),
        (Sample(0, passed=True, ms=1, excluded=True), None, None, None),
    ],
)
def test_what_each_sli_counts(
    sample: Sample,
    availability: bool | None,
    only_connect: bool | None,
    latency: bool | None,
) -> None:
    """Availability: passed is good, a failure of a kind that counts is bad, another kind
    is not counted; latency: good only when passed under the threshold; a paused or
    maintained sample is never counted."""
    assert is_good(AvailabilitySLI(), sample) is availability
    assert is_good(AvailabilitySLI(frozenset({"connect"})), sample) is only_connect
    assert is_good(LatencySLI(below_ms=300), sample) is latency


def test_a_failed_condition_counts_when_kinds_lists_condition() -> None:
    """A failed condition has no kind: `condition` in kinds makes it count."""
    failed = Sample(0, passed=False, kind=None)
    assert is_good(AvailabilitySLI(frozenset({"condition"})), failed) is False
    assert (
        is_good(AvailabilitySLI(frozenset({"condition"})), failed._replace(kind="dns.timeout"))
        is None
    )


def test_an_objective_refuses_what_cannot_be() -> None:
    """Targets outside (0, 1) and rules whose windows do not nest are refused."""
    for target in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="target"):
            Objective(target, MONTH)
    with pytest.raises(ValueError, match="short < long"):
        Objective(0.99, MONTH, rules=(BurnRule("page", 2, 300, 300),))
    with pytest.raises(ValueError, match="long <= window"):
        Objective(0.99, DAY)


def test_a_total_outage_pages_after_52_seconds_on_a_simulated_30_day_window() -> None:
    """30 clean days of one check a second (counted a minute at a time), then every check
    fails: the 1 h / 5 min rule pages after the Workbook's 51.8 s (52 s, at most a minute
    bucket's 0.9 s later), the 6 h / 30 min one after 2.16 min, the ticket after 4.32 min."""
    ledger = BudgetLedger(SLO)
    start = MONTH
    for minute in range(int(MONTH // 60)):
        ledger.record(minute * 60.0, good=60, total=60)
    assert ledger.evaluate(start) == []
    fired: dict[str, float] = {}
    burns: dict[str, float] = {}
    for second in range(1, 400):
        now = start + second
        ledger.add(Sample(now, passed=False, kind="connect.refused"))
        for event in ledger.evaluate(now):
            assert event.type == "fired"
            fired[f"{event.severity}-{event.rule.long:g}"] = second
            burns[f"{event.severity}-{event.rule.long:g}"] = event.long_burn
    assert 52 <= fired.pop("page-3600") <= 53
    assert 130 <= fired.pop("page-21600") <= 134
    assert 260 <= fired.pop("ticket-259200") <= 264
    assert fired == {}
    # Fired on the first check past the rate: within a check's worth of it.
    assert 14.4 <= burns["page-3600"] < 14.4 + 1 / 3600 / 0.001


def test_an_alert_ends_when_the_short_window_is_clean_and_reports_the_budget() -> None:
    """After a 10-minute outage, the page ends within the 5 min short window (plus one
    10 s bucket) of the checks passing again, though the 1 h window still burns above
    14.4; each event carries the burn rates and the budget spent and left."""
    ledger = BudgetLedger(SLO)
    for minute in range(int(MONTH // 60)):
        ledger.record(minute * 60.0, good=60, total=60)
    events = []
    for second in range(1, 3600):
        now = MONTH + second
        ledger.add(Sample(now, passed=second > 600))
        events += [(second, e) for e in ledger.evaluate(now) if e.rule == DEFAULT_RULES[0]]
    (fired_at, fired), (ended_at, ended) = events
    assert (fired.type, ended.type) == ("fired", "ended")
    assert 52 <= fired_at <= 53
    assert fired.long_burn >= 14.4
    assert fired.short_burn >= 14.4
    assert 600 + 300 - 60 < ended_at <= 600 + 300 + 10
    assert ended.short_burn < 14.4 <= ended.long_burn
    assert ended.spent == pytest.approx(600 / (MONTH + ended_at) / 0.001, rel=0.01)
    assert ended.remaining == pytest.approx(1 - ended.spent)


def test_the_spent_budget_over_a_month_at_the_target() -> None:
    """Failing exactly 0.1% over the whole window spends the whole budget; twice that,
    twice the budget, and the remaining goes negative."""
    ledger = BudgetLedger(SLO)
    for hour in range(int(MONTH // 3600)):
        ledger.record(hour * 3600.0, good=999, total=1000)
    status = ledger.status(MONTH - 1)
    assert status.spent == pytest.approx(1.0)
    assert status.remaining == pytest.approx(0.0)
    assert status.sli == pytest.approx(0.999)
    twice = BudgetLedger(SLO)
    for hour in range(int(MONTH // 3600)):
        twice.record(hour * 3600.0, good=998, total=1000)
    assert twice.status(MONTH - 1).spent == pytest.approx(2.0)
    assert twice.status(MONTH - 1).remaining == pytest.approx(-1.0)


def test_pauses_and_maintenance_do_not_count() -> None:
    """An outage during maintenance spends nothing and alerts nothing."""
    ledger = BudgetLedger(SLO)
    for second in range(3600):
        ledger.add(Sample(float(second), passed=False, excluded=True))
    assert ledger.evaluate(3600.0) == []
    assert ledger.status(3600.0).counts == (0, 0)
    assert ledger.status(3600.0).remaining == 1.0


def test_an_objective_from_the_file() -> None:
    """The file's latency objective with p: 95 is a 95% target under 300 ms, with the
    default rules; an availability one keeps its kinds."""
    config = parse_config(
        "objectives:\n"
        "  - {name: fast, monitors: api, sli: latency, p: 95, below: 300ms}\n"
        "  - {name: up, monitors: api, target: 99.5%, kinds: [connect, http.server_error],\n"
        "     window: 7d, burn_rates: [{severity: page, burn: 10, long: 1h, short: 5m}]}\n"
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:8080/'}\n"
    )
    fast, up = (from_config(o) for o in config.objectives)
    assert fast == Objective(0.95, MONTH, LatencySLI(300.0), DEFAULT_RULES)
    assert up == Objective(
        0.995,
        7 * DAY,
        AvailabilitySLI(frozenset({"connect", "http.server_error"})),
        (BurnRule("page", 10.0, 3600.0, 300.0),),
    )
