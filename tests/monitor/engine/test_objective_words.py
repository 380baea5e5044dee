"""An objective's alert in words (``engine/objectives/_words.py``) and the book's seams the
running monitor uses (``review``, ``carry``): properties over random outages, and the
examples the docs give."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.alerts._alertmanager import alert_labels, resolves
from tether.monitor.alerts._message import subject
from tether.monitor.config import parse_config
from tether.monitor.engine.objectives._book import ObjectiveAlert, ObjectiveBook, Spender
from tether.monitor.engine.objectives._budget import (
    DEFAULT_RULES,
    AlertEvent,
    BudgetLedger,
    Objective,
    budget_consumed,
)
from tether.monitor.engine.objectives._words import (
    BURNING,
    RESOLVED,
    objective_dedup,
    objective_payload,
    spent_over,
)

START = 1_767_225_600.0
DAY = 86400.0
CONFIG = """\
alerts:
  - {name: oncall, type: webhook, url: "http://127.0.0.1:9/page"}
monitors:
  - {name: api, url: "http://127.0.0.1:8080/"}
  - {name: login, url: "http://127.0.0.1:8081/"}
objectives:
  - {name: front, monitors: [api, login], target: 99.9%, window: 30d, alerts: [oncall]}
  - {name: api-only, monitors: [api], target: 99%, window: 30d}
"""


def test_a_page_says_the_budget_the_burn_and_who_spent_it() -> None:
    """The issue's example sentence, word for word."""
    rule = DEFAULT_RULES[0]
    event = AlertEvent("fired", rule, START, 14.4, 20.0, 0.127, 0.873)
    spenders = (Spender("api-eu", "connect.refused", 312), Spender("api-us", None, 1))
    alert = ObjectiveAlert("checkout", event, ("oncall",), spenders)
    payload = objective_payload(alert, 30 * DAY, START, spent=0.021)
    assert payload.text == (
        "checkout: burning its error budget 14.4x over 1h (page): 2.1% of the 30d budget "
        "spent in the last 1h, 87.3% left; most spent by api-eu (connect.refused, 312 "
        "failed checks), api-us (condition, 1 failed check)"
    )
    assert (payload.event, payload.monitor, payload.kind) == (
        BURNING,
        "checkout",
        Kind("connect.refused"),
    )
    assert payload.monitors == ("api-eu", "api-us")
    assert dict(payload.labels) == {"objective": "checkout", "severity": "page", "window": "1h"}


@given(
    rule=st.sampled_from(DEFAULT_RULES),
    long_burn=st.floats(0, 1000),
    short_burn=st.floats(0, 1000),
    spent=st.floats(-5, 5),
    since=st.floats(START, START + DAY),
    fired=st.booleans(),
)
def test_every_alert_names_its_objective_rule_and_budget(
    rule: object, long_burn: float, short_burn: float, spent: float, since: float, fired: bool
) -> None:
    """Whatever the numbers: the text starts with the objective, says the budget left,
    and the event is burning or resolved; the dedup key differs by event and by firing."""
    assert rule in DEFAULT_RULES
    kind = "fired" if fired else "ended"
    event = AlertEvent(kind, rule, since + 60, long_burn, short_burn, spent, 1 - spent)  # type: ignore[arg-type]
    payload = objective_payload(ObjectiveAlert("o", event, (), ()), 30 * DAY, since)
    assert payload.text.startswith("o: ")
    assert "left" in payload.text
    assert payload.event == (BURNING if fired else RESOLVED)
    keys = {
        objective_dedup("o", event.rule, since, BURNING),
        objective_dedup("o", event.rule, since, RESOLVED),
        objective_dedup("o", event.rule, since + 1, BURNING),
    }
    assert len(keys) == 3


@settings(max_examples=40, deadline=None)
@given(
    failures=st.lists(st.tuples(st.integers(0, 7200), st.booleans()), max_size=200),
    at=st.integers(0, 7200),
)
def test_review_is_status_and_evaluate_together(failures: list[tuple[int, bool]], at: int) -> None:
    """``review`` gives each objective's ``status`` and the alerts ``evaluate`` gives, for
    any history of checks (two books fed alike)."""
    one, two = ObjectiveBook(parse_config(CONFIG)), ObjectiveBook(parse_config(CONFIG))
    for offset, ok in sorted(failures):
        for book in (one, two):
            book.observe(ProbeRecord("api", START + offset, ok, Kind("connect.refused"), 5.0))
    now = START + at
    statuses, alerts = one.review(now)
    assert statuses == {name: two.status(name, now) for name in two.ledgers}
    assert alerts == two.evaluate(now)


def test_spent_over_a_window_is_its_bad_events_over_what_the_window_allows() -> None:
    """After a steady month, the last hour's share is the Workbook's burn x 1h / 30d; with
    an hour of history alone, it is the hour's bad events over what that hour allows."""
    objective = Objective(0.999, 30 * DAY)
    steady = BudgetLedger(objective)
    for minute in range(int(30 * DAY / 60)):
        steady.record(START + minute * 60, good=60, total=60)
    now = START + 30 * DAY
    steady.record(now - 30, good=0, total=52)
    workbook = budget_consumed(steady.burn(3600, now), 3600, 30 * DAY)
    assert spent_over(steady, 3600, now) == pytest.approx(workbook, rel=0.02)
    fresh = BudgetLedger(objective)
    fresh.record(START + 10, good=3591, total=3600)
    assert round(spent_over(fresh, 3600, START + 3600), 6) == 2.5


def test_email_and_alertmanager_word_it_as_an_objective() -> None:
    """An e-mail's subject is the text after the objective's name; Alertmanager gets
    one ``TetherObjectiveBurning`` alert per objective and rule, the same labels from
    the firing to the end, which resolves it."""
    rule = DEFAULT_RULES[0]
    fired = AlertEvent("fired", rule, START, 15.0, 20.0, 0.1, 0.9)
    ended = AlertEvent("ended", rule, START + 600, 15.0, 2.0, 0.1, 0.9)
    spenders = (Spender("api", "connect.refused", 3),)
    burning = objective_payload(ObjectiveAlert("checkout", fired, (), spenders), 30 * DAY, START)
    over = objective_payload(ObjectiveAlert("checkout", ended, (), spenders), 30 * DAY, START)
    assert subject(burning).startswith(
        "[tether] BURNING checkout: burning its error budget 15x over 1h (page): 2.1% of "
        "the 30d budget spent in the last 1h"
    )
    assert subject(over).startswith("[tether] RESOLVED checkout: no longer burning")
    assert (
        alert_labels(burning)
        == alert_labels(over)
        == {
            "alertname": "TetherObjectiveBurning",
            "objective": "checkout",
            "severity": "page",
            "window": "1h",
        }
    )
    assert not resolves(burning)
    assert resolves(over)
