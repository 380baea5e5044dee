"""``objectives:`` (``config/_objectives.py``): what it accepts, and one message per
mistake at its key path, the checks across the file included."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.helpers.config_text import CHANNELS, URL, dump, errors_of
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.config._objectives import DEFAULT_BURN_RATES, ObjectiveConfig, parse_target


def objectives(*items: dict[str, Any]) -> str:
    return dump(
        {"name": "api", "url": URL},
        {"name": "login", "url": URL},
        alerts=CHANNELS,
        objectives=list(items),
    )


def one(**fields: Any) -> dict[str, Any]:
    return {"name": "checkout", "monitors": ["api"], "target": "99.9%", **fields}


@pytest.mark.parametrize(
    ("written", "share"),
    [
        ("99.9%", 0.999),
        ("99.95 %", 0.9995),
        (0.999, 0.999),
        (99.9, 0.999),
        (95, 0.95),
        ("0.95", 0.95),
    ],
)
def test_a_target_as_a_percentage_a_share_or_a_number_of_percent(
    written: object, share: float
) -> None:
    """99.9%, 0.999 and 99.9 are the same target; 99.9% is exactly 0.999."""
    config = parse_config(objectives(one(target=written)))
    assert config.objectives[0].share == share
    assert parse_target(written) == share


def test_an_objective_with_its_defaults() -> None:
    """Availability, 30 days, the Workbook's rules, no channel, every kind counting."""
    (objective,) = parse_config(objectives(one())).objectives
    assert objective.sli == "availability"
    assert objective.window == 30 * 86400
    assert objective.burn_rates == DEFAULT_BURN_RATES
    assert [(r.severity, r.burn, r.long, r.short) for r in DEFAULT_BURN_RATES] == [
        ("page", 14.4, 3600, 300),
        ("page", 6, 21600, 1800),
        ("ticket", 1, 259200, 21600),
    ]
    assert (objective.alerts, objective.kinds) == ((), ())


def test_a_latency_objective_takes_p_as_its_target() -> None:
    """`p: 95, below: 300ms` is 95% of checks under 300 ms."""
    (objective,) = parse_config(
        objectives({"name": "fast", "monitors": "api", "sli": "latency", "p": 95, "below": "300ms"})
    ).objectives
    assert (objective.share, objective.below) == (0.95, 0.3)


def test_monitors_are_selected_by_name_or_by_label_matcher() -> None:
    """`monitors:` names them; `match:` runs Alertmanager's matchers over a monitor's
    labels (read with getattr: a monitor without the key has none) and its name."""
    config = parse_config(
        objectives(
            one(name="by-name"),
            {"name": "by-match", "match": 'monitor=~"api|login"', "target": "99%"},
        )
    )
    by_name, by_match = config.objectives
    assert by_name.selected(config.monitors) == ("api",)
    assert by_match.selected(config.monitors) == ("api", "login")
    labelled = [
        SimpleNamespace(name="a", labels={"service": "checkout"}),
        SimpleNamespace(name="b", labels={"service": "search"}),
        SimpleNamespace(name="c"),
    ]

    def select(match: object) -> tuple[str, ...]:
        objective = ObjectiveConfig.model_validate({"name": "o", "match": match, "target": 0.9})
        return objective.selected(labelled)

    assert select({"service": "checkout"}) == ("a",)
    assert select('service!="search"') == ("a", "c")  # a missing label reads as ""
    assert select(['service=~"check.*|search"', 'monitor!="a"']) == ("b",)


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (
            one(target="100%"),
            'objectives[0].target: "100%" is not between 0 and 100% (both left out): write e.g. '
            "99.9%",
        ),
        (
            one(target=0),
            "objectives[0].target: 0 is not between 0 and 100% (both left out): write e.g. 99.9%",
        ),
        (
            one(target="most"),
            'objectives[0].target: "most" is not a target: write a percentage, as in 99.9%',
        ),
        (
            one(target=True),
            "objectives[0].target: true is not a target: write a percentage, as in 99.9%",
        ),
        (one(target=None), "objectives[0]: needs a target, as in target: 99.9%"),
        (
            one(monitors=None),
            "objectives[0]: names no monitor: give match (label matchers) or monitors (names)",
        ),
        (one(match={"service": "x"}), "objectives[0]: give either match or monitors, not both"),
        (one(below="300ms"), "objectives[0]: below is for a latency objective: write sli: latency"),
        (one(p=95, target=None), "objectives[0]: p is for a latency objective: write sli: latency"),
        (one(sli="latency"), "objectives[0]: a latency objective needs below, as in below: 300ms"),
        (
            one(sli="latency", below="1s", p=95),
            "objectives[0]: give either target or p, not both (p: 95 is target: 95%)",
        ),
        (
            one(sli="latency", below="1s", target=None),
            "objectives[0]: needs a target, as in target: 95% (or p: 95)",
        ),
        (
            one(sli="latency", below="1s", kinds="connect"),
            "objectives[0]: kinds is for an availability objective (a latency one counts all)",
        ),
        (
            one(sli="latency", below="1s", p=100, target=None),
            "objectives[0].p: 100 is not a percentile between 0 and 100 (both left out)",
        ),
        (
            one(sli="latency", below="1s", p="95", target=None),
            'objectives[0].p: "95" is not a percentile: write a number, as in p: 95',
        ),
        (one(sli="speed"), 'objectives[0].sli: "speed" is not one of availability, latency'),
        (
            one(kinds=["connect", "tls.expird"]),
            'objectives[0].kinds[1]: "tls.expird" is not a failure kind nor a family of them, did '
            "you mean tls.expired?",
        ),
        (
            one(burn_rates=[{"severity": "page", "burn": 0, "long": "1h", "short": "5m"}]),
            "objectives[0].burn_rates[0].burn: 0 is not a burn rate above 0",
        ),
        (
            one(burn_rates=[{"severity": "page", "burn": "fast", "long": "1h", "short": "5m"}]),
            'objectives[0].burn_rates[0].burn: "fast" is not a burn rate: write a number, as in '
            "14.4",
        ),
    ],
)
def test_each_mistake_in_one_objective_says_what_to_write(
    objective: dict[str, Any], message: str
) -> None:
    """One line at the key path, saying what is wrong and what to write."""
    objective = {k: v for k, v in objective.items() if v is not None}
    assert errors_of(objectives(objective)) == [message]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            (one(), one()),
            'objectives[1].name: "checkout" is already the name of objectives[0]; each objective '
            "needs its own",
        ),
        (
            (one(monitors=["api", "apj"]),),
            'objectives[0].monitors[1]: no monitor named "apj", did you mean api?',
        ),
        (
            (one(monitors=["zzz"]),),
            'objectives[0].monitors[0]: no monitor named "zzz"; define it under monitors',
        ),
        (
            (one(alerts=["opz"]),),
            'objectives[0].alerts[0]: no alert channel named "opz", did you mean ops?',
        ),
        (
            (one(alerts=["zzz"]),),
            'objectives[0].alerts[0]: no alert channel named "zzz"; define it under alerts',
        ),
        (
            (one(monitors=None, match={"service": "checkout"}),),
            "objectives[0].match: selects no monitor: check the labels and values",
        ),
        (
            (one(window="1d"),),
            "objectives[0].window: 1d is shorter than the longest alert window of the default "
            "burn_rates (3d): lengthen window, or give burn_rates of your own",
        ),
        (
            (
                one(
                    window="1d",
                    burn_rates=[{"severity": "page", "burn": 2, "long": "2d", "short": "1h"}],
                ),
            ),
            "objectives[0].burn_rates[0].long: 2d is longer than the objective's window (1d): "
            "lengthen window, or shorten long",
        ),
        (
            (one(burn_rates=[{"severity": "page", "burn": 2, "long": "1h", "short": "1h"}]),),
            "objectives[0].burn_rates[0].short: 1h is not shorter than long (1h): the short "
            "window is the one that ends the alert soon after the trouble",
        ),
    ],
)
def test_each_mistake_across_the_file_is_reported(
    items: tuple[dict[str, Any], ...], message: str
) -> None:
    """Names twice, monitors and channels that do not exist, a matcher selecting nothing,
    and windows that do not fit: one line each."""
    cleaned = [{k: v for k, v in item.items() if v is not None} for item in items]
    assert errors_of(objectives(*cleaned)) == [message]


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (
            one(target="90%"),
            "objectives[0].target: the default burn rate 14.4 can never be reached: a target "
            "of 90% allows 10% of events to fail, so a total outage burns at 10: raise the "
            "target, or give burn_rates of your own",
        ),
        (
            one(
                target="99%",
                burn_rates=[{"severity": "page", "burn": 200, "long": "1h", "short": "5m"}],
            ),
            "objectives[0].burn_rates[0].burn: 200 can never be reached: a target of 99% "
            "allows 1% of events to fail, so a total outage burns at 100; lower burn",
        ),
        (one(window="400d"), "objectives[0].window: 400d is too long: the maximum is 366d"),
    ],
)
def test_a_rule_that_could_never_fire_and_a_window_too_long_are_refused(
    objective: dict[str, Any], message: str
) -> None:
    """A burn rate above what a total outage reaches (1 / (1 - target)) would never page:
    said once, at the target for the defaults; a window past a year is refused."""
    assert errors_of(objectives(objective)) == [message]


def test_a_rule_a_total_outage_reaches_exactly_is_accepted() -> None:
    """At 99% a total outage burns at 100: a rule of 100 can fire; 366d is the longest."""
    rule = {"severity": "page", "burn": 100, "long": "1h", "short": "5m"}
    assert parse_config(objectives(one(target="99%", burn_rates=[rule], window="366d")))


def test_every_mistake_is_reported_at_once_with_its_line() -> None:
    """Two objectives with three mistakes: three lines, in file order, located."""
    text = (
        "alerts:\n  - {name: ops, type: webhook, url: 'http://127.0.0.1:9/'}\n"
        "objectives:\n"
        "  - name: a\n    monitors: [apx]\n    target: 99.9%\n    alerts: [opz]\n"
        "  - name: a\n    monitors: [api]\n    target: 99.9%\n"
        f"monitors:\n  - {{name: api, url: '{URL}'}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="tether.yaml")
    assert caught.value.located == [
        'tether.yaml:5:16: objectives[0].monitors[0]: no monitor named "apx", did you mean api?',
        'tether.yaml:7:14: objectives[0].alerts[0]: no alert channel named "opz", did you mean '
        "ops?",
        'tether.yaml:8:5: objectives[1].name: "a" is already the name of objectives[0]; each '
        "objective needs its own",
    ]


def test_an_empty_objectives_section_means_none() -> None:
    """`objectives:` with nothing under it is no objective, not an error."""
    assert parse_config("objectives:\n" + dump()).objectives == ()
