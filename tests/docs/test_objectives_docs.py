"""docs/objectives.md says what the code does: its example loads and selects what it
says, each row's mistake gives the message the row shows, and the table of default rules
is the engine's, its budget and detection columns computed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.config_text import errors_of
from tether.monitor.config import parse_config
from tether.monitor.engine.objectives._budget import (
    DEFAULT_RULES,
    budget_consumed,
    detection_time,
    from_config,
)

DOC = (Path(__file__).parents[2] / "docs/objectives.md").read_text()
(EXAMPLE,) = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def test_the_example_loads_and_selects_what_it_says() -> None:
    """The example's two objectives: checkout over both checkout monitors at 99.9% for
    30 days, search-fast 95% under 300 ms over 7 days with its own two rules."""
    config = parse_config(EXAMPLE)
    checkout, fast = config.objectives
    assert checkout.selected(config.monitors) == ("checkout-eu", "checkout-us")
    assert (checkout.share, checkout.window, checkout.alerts) == (
        0.999,
        30 * 86400,
        ("oncall", "team"),
    )
    assert fast.selected(config.monitors) == ("search",)
    assert (fast.sli, fast.share, fast.below, fast.window) == ("latency", 0.95, 0.3, 7 * 86400)
    assert from_config(fast).rules[1].long == 86400


def _first(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda data: change(data["objectives"][0])


# How each row of the key table breaks the example, as its "A mistake" column says.
BREAK: dict[str, Callable[[dict[str, Any]], None]] = {
    "name": lambda d: d["objectives"][1].update(name="checkout"),
    "match": _first(lambda o: o.update(match={"service": "nothing"})),
    "monitors": _first(lambda o: (o.pop("match"), o.update(monitors=["chekout-eu"]))),
    "sli": _first(lambda o: o.update(sli="latency", p=95, target=None)),
    "target": _first(lambda o: o.update(target="100%")),
    "p": lambda d: d["objectives"][1].update(p=100),
    "below": lambda d: d["objectives"][1].update(below=300),
    "window": _first(lambda o: o.update(window="1d")),
    "kinds": _first(lambda o: o.update(kinds=["tls.expird"])),
    "alerts": _first(lambda o: o.update(alerts=["oncal"])),
    "burn_rates": _first(
        lambda o: o.update(
            burn_rates=[{"severity": "page", "burn": 1, "long": "1h", "short": "1h"}]
        )
    ),
}


def _rows() -> list[tuple[str, str]]:
    rows = re.findall(r"^\| `(\w+)` \|.*→ `([^`]+)` \|$", DOC, re.M)
    assert [key for key, _ in rows] == list(BREAK)
    return rows


@pytest.mark.parametrize(("key", "message"), _rows(), ids=[k for k, _ in _rows()])
def test_each_rows_mistake_gives_the_message_it_shows(key: str, message: str) -> None:
    """The example broken as the row says is refused with the row's message, and that
    alone (a row about objectives[1] breaks the example's second objective)."""
    data = yaml.safe_load(EXAMPLE)
    BREAK[key](data)
    for objective in data["objectives"]:
        for k in [k for k, v in objective.items() if v is None]:
            del objective[k]
    errors = errors_of(yaml.safe_dump(data, sort_keys=False))
    assert errors == [message]


def test_the_table_of_default_rules_is_the_engines() -> None:
    """Each row: the rule as the engine has it, the budget it spends before firing over a
    30-day window, and the detection time of a total outage at 99.9%."""
    rows = re.findall(
        r"^\| (page|ticket) \| ([\d.]+) \| (\w+) \| (\w+) \| (\d+)% \| ([\d.]+) (s|min) \|$",
        DOC,
        re.M,
    )
    seconds = {"1h": 3600, "5m": 300, "6h": 21600, "30m": 1800, "3d": 259200}
    assert len(rows) == len(DEFAULT_RULES)
    for rule, (severity, burn, long, short, spent, detect, unit) in zip(
        DEFAULT_RULES, rows, strict=True
    ):
        assert (rule.severity, rule.burn, rule.long, rule.short) == (
            severity,
            float(burn),
            seconds[long],
            seconds[short],
        )
        assert budget_consumed(rule.burn, rule.long, 30 * 86400) == pytest.approx(int(spent) / 100)
        took = detection_time(rule.burn, rule.long, 0.999) / (60 if unit == "min" else 1)
        assert round(took, 2 if unit == "min" else 1) == float(detect)
