"""``alert_when:``: both forms read, ``defaults`` giving it, and every mistake said in one
line at its key: neither or both rules, a share that is no share, a window its interval
can never fill, beside ``failure_threshold``, on a push or traffic monitor."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.config_text import URL, dump, errors_of, monitor_errors
from tether.monitor.config import parse_config
from tether.monitor.config._rules import WindowRule
from tether.monitor.runtime._monitor_terms import detector_rules

TOKEN = "0123456789abcdef0123"


def test_both_forms_read_into_the_detectors_rules() -> None:
    """A count and a share each become the detector's window, with a capacity of what the
    window holds at the interval and a few more; a monitor without one has none."""
    text = dump(
        {"name": "a", "url": URL, "alert_when": {"failures": 5, "within": "5m"}},
        {
            "name": "b",
            "url": URL,
            "interval": "30s",
            "alert_when": {"failure_ratio": "20%", "within": "10m", "min_checks": 10},
        },
        {"name": "c", "url": URL},
    )
    a, b, c = parse_config(text).monitors
    assert detector_rules(a).window == WindowRule(within=300.0, failures=5, capacity=5 + 8)
    assert detector_rules(b).window == WindowRule(
        within=600.0, failure_ratio=0.2, min_checks=10, capacity=20 + 8
    )
    assert detector_rules(c).window is None


@pytest.mark.parametrize("share", ["20%", 0.2, " 20 % ".replace(" ", "")])
def test_a_share_is_a_percentage_or_a_fraction(share: object) -> None:
    """``20%`` and ``0.2`` are the same share."""
    rule = {"failure_ratio": share, "within": "10m", "min_checks": 3}
    monitor = parse_config(dump({"name": "a", "url": URL, "alert_when": rule})).monitors[0]
    assert monitor.alert_when is not None
    assert monitor.alert_when.failure_ratio == pytest.approx(0.2)


def test_defaults_give_it_to_probed_monitors_only_and_a_monitors_own_rule_wins() -> None:
    """``defaults.alert_when`` reaches a probed monitor; not one that sets
    ``failure_threshold`` (its own rule), nor one that sets ``alert_when: null``, nor a
    push monitor."""
    rule = {"failures": 3, "within": "5m"}
    text = dump(
        {"name": "plain", "url": URL},
        {"name": "run", "url": URL, "failure_threshold": 2},
        {"name": "off", "url": URL, "alert_when": None},
        {"name": "job", "type": "push", "token": TOKEN},
        defaults={"alert_when": rule},
    )
    plain, run, off, job = parse_config(text).monitors
    assert plain.alert_when is not None
    assert plain.alert_when.failures == 3
    assert (run.alert_when, run.failure_threshold) == (None, 2)
    assert (off.alert_when, off.failure_threshold) == (None, 3)
    assert job.alert_when is None
    assert detector_rules(job).window is None


def test_a_monitors_alert_when_does_not_take_the_defaults_failure_threshold() -> None:
    """One rule decides: a monitor with its own ``alert_when`` keeps it, and the defaults'
    ``failure_threshold`` does not sit beside it."""
    text = dump(
        {"name": "lb", "url": URL, "alert_when": {"failures": 3, "within": "5m"}},
        defaults={"failure_threshold": 5},
    )
    monitor = parse_config(text).monitors[0]
    assert monitor.failure_threshold == 3  # the built-in default, unused under a window
    assert monitor.alert_when is not None


EITHER = (
    "give failure_threshold (failures in a row) or alert_when (failures within a window), not both"
)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"alert_when": {"within": "5m"}},
            "monitors[0].alert_when: give failures (a number of checks) or failure_ratio "
            "(a share of them)",
        ),
        (
            {"alert_when": {"failures": 5, "failure_ratio": "20%", "within": "5m"}},
            "monitors[0].alert_when: give failures (a number of checks) or failure_ratio "
            "(a share of them), not both",
        ),
        (
            {"alert_when": {"failures": 5}},
            "monitors[0].alert_when.within: is required",
        ),
        (
            {"alert_when": {"failures": 3, "within": "5m", "min_checks": 4}},
            "monitors[0].alert_when: min_checks goes with failure_ratio: failures counts "
            "checks already",
        ),
        (
            {"alert_when": {"failure_ratio": "120%", "within": "5m", "min_checks": 2}},
            'monitors[0].alert_when.failure_ratio: "120%" is not a share above 0% and at '
            "most 100% (or 0 to 1)",
        ),
        (
            {"alert_when": {"failure_ratio": "lots", "within": "5m", "min_checks": 2}},
            'monitors[0].alert_when.failure_ratio: "lots" is not a share: write a '
            "percentage, as in 20%",
        ),
        (
            {"alert_when": {"failure_ratio": True, "within": "5m", "min_checks": 2}},
            "monitors[0].alert_when.failure_ratio: true is not a share: write a "
            "percentage, as in 20%",
        ),
        (
            {"alert_when": {"failures": 3, "within": "2d"}},
            "monitors[0].alert_when.within: 2d is too long: 1d at most",
        ),
        (
            {"alert_when": {"failures": 3, "within": "5m", "every": "1m"}},
            "monitors[0].alert_when.every: unknown key; expected one of: failures, "
            "failure_ratio, within, min_checks",
        ),
        (
            {"alert_when": {"failures": 6, "within": "5m"}},
            "monitors[0].alert_when.failures: 6 can never be reached: 5m holds at most 5 "
            "checks at an interval of 1m",
        ),
        (
            {"alert_when": {"failure_ratio": "20%", "within": "5m"}},
            "monitors[0].alert_when.min_checks: 10 (the default) can never be reached: 5m "
            "holds at most 5 checks at an interval of 1m",
        ),
        (
            {"alert_when": {"failures": 3, "within": "5m"}, "failure_threshold": 2},
            f"monitors[0].alert_when: {EITHER}",
        ),
    ],
)
def test_mistakes_are_said_at_their_key(fields: dict[str, Any], error: str) -> None:
    """Each mistake in ``alert_when`` is one line at its key, saying what to write."""
    errors = monitor_errors(**fields)
    assert errors == [error]


def test_push_and_traffic_monitors_have_rules_of_their_own() -> None:
    """A push monitor (heartbeats and grace) and a traffic monitor (failure_ratio, window,
    min_calls) refuse ``alert_when`` and say what they use instead."""
    rule = {"failures": 3, "within": "5m"}
    text = dump(
        {"name": "job", "type": "push", "token": TOKEN, "alert_when": rule},
        {"name": "calls", "type": "traffic", "app": "shop", "alert_when": rule},
    )
    assert errors_of(text) == [
        "monitors[0].alert_when: a push monitor has its own rule (a heartbeat missed past "
        "its grace is down): alert_when is for probed monitors",
        "monitors[1].alert_when: a traffic monitor has its own window: give failure_ratio, "
        "window and min_calls instead",
    ]


def test_defaults_mistakes_are_said_once_at_defaults() -> None:
    """``defaults`` with both rules, or a window its interval cannot fill, is one error at
    ``defaults``; a monitor whose own interval is too long for it is one at its interval."""
    both = dump(defaults={"failure_threshold": 2, "alert_when": {"failures": 3, "within": "5m"}})
    assert errors_of(both) == [f"defaults.alert_when: {EITHER}"]
    text = dump(
        {"name": "a", "url": URL},
        {"name": "b", "url": URL},
        {"name": "slow", "url": URL, "interval": "2m"},
        defaults={"alert_when": {"failures": 4, "within": "5m"}},
    )
    assert errors_of(text) == [
        "monitors[2].interval: with defaults.alert_when, failures: 4 can never be reached: "
        "5m holds at most 3 checks at an interval of 2m"
    ]
    text = dump(defaults={"alert_when": {"failures": 6, "within": "5m"}})
    assert errors_of(text) == [
        "defaults.alert_when.failures: 6 can never be reached: 5m holds at most 5 checks at "
        "an interval of 1m"
    ]
