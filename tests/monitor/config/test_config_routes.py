"""``routes:`` and ``time_intervals:`` in the configuration: what they accept, and each
mistake said once, at its key path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.config_text import CHANNELS, dump, errors_of
from tether.monitor.config import parse_config

BUSINESS = {
    "name": "business",
    "time_intervals": [
        {
            "weekdays": ["monday:friday"],
            "times": [{"start_time": "09:00", "end_time": "17:00"}],
            "location": "Europe/Paris",
        }
    ],
}


def routed(routes: Any = None, intervals: Any = (BUSINESS,)) -> str:
    sections: dict[str, Any] = {"alerts": CHANNELS, "time_intervals": list(intervals)}
    if routes is not None:
        sections["routes"] = routes
    return dump(**sections)


def test_a_tree_loads_with_its_settings_parsed() -> None:
    """Matchers in any of their forms, durations in seconds, group_by, continue, and the
    interval's spec parsed into ranges (weekdays numbered from sunday, times in minutes)."""
    config = parse_config(
        routed(
            {
                "channels": ["ops"],
                "group_by": ["incident", "team"],
                "group_wait": "10s",
                "routes": [
                    {
                        "matchers": {"team": "db"},
                        "channels": ["pager"],
                        "continue": True,
                        "repeat_interval": "1h",
                        "active_time_intervals": ["business"],
                    },
                    {"matchers": '{kind=~"tls.*"}', "group_by": ["..."]},
                ],
            }
        )
    )
    assert config.routes is not None
    assert config.routes.group_by == ("incident", "team")
    assert config.routes.group_wait == 10.0
    first, second = config.routes.routes
    assert (str(first.matchers[0]), first.continue_, first.repeat_interval) == (
        'team="db"',
        True,
        3600.0,
    )
    assert str(second.matchers[0]) == 'kind=~"tls.*"'
    assert second.group_by == ("...",)
    (spec,) = config.time_intervals[0].time_intervals
    assert (spec.weekdays, spec.times[0].start_time, spec.times[0].end_time) == (
        ((1, 5),),
        540,
        1020,
    )


def test_a_group_wait_of_zero_is_none() -> None:
    """`group_wait: 0`, "0" or 0s: the first notification goes at once (Alertmanager's)."""
    for zero in (0, "0", "0s"):
        config = parse_config(routed({"channels": ["ops"], "group_wait": zero}))
        assert config.routes is not None
        assert config.routes.group_wait == 0.0


def test_without_routes_nothing_changes() -> None:
    """No `routes:` and no `time_intervals:`: both are empty, and a null section is none."""
    config = parse_config(dump(time_intervals=None))
    assert (config.routes, config.time_intervals) == (None, ())


@pytest.mark.parametrize(
    ("routes", "error"),
    [
        (
            {"routes": [{"channels": ["ops"]}]},
            "routes.channels: the root route sends every alert no other route takes: name at "
            "least one channel, as channels: [ops]",
        ),
        (
            {"channels": ["opz"]},
            'routes.channels[0]: no alert channel named "opz", did you mean ops?',
        ),
        (
            {"channels": ["ops"], "routes": [{"routes": [{"channels": ["nowhere"]}]}]},
            'routes.routes[0].routes[0].channels[0]: no alert channel named "nowhere"; '
            "define it under alerts",
        ),
        (
            {"channels": ["ops"], "routes": [{"mute_time_intervals": ["busness"]}]},
            'routes.routes[0].mute_time_intervals[0]: no time interval named "busness", '
            "did you mean business?",
        ),
        (
            {"channels": ["ops"], "routes": [{"active_time_intervals": ["weekend"]}]},
            'routes.routes[0].active_time_intervals[0]: no time interval named "weekend"; '
            "define it under time_intervals",
        ),
        (
            {"channels": ["ops"], "matchers": ['team="db"']},
            "routes.matchers: the root route takes every alert: put matchers on a child route",
        ),
        (
            {"channels": ["ops"], "mute_time_intervals": ["business"]},
            "routes.mute_time_intervals: the root route always takes alerts: put time "
            "intervals on a child route",
        ),
        (
            {"channels": ["ops"], "continue": True},
            "routes.continue: the root route has no sibling to go on to",
        ),
        (
            {"channels": ["ops"], "group_by": ["team", "tier", "team"]},
            'routes.group_by: "team" is listed twice (at [0] and [2])',
        ),
        (
            {"channels": ["ops"], "group_by": ["...", "team"]},
            "routes.group_by: '...' groups by every label: it cannot be listed with others",
        ),
        (
            {"channels": ["ops"], "group_by": ["team-name"]},
            "routes.group_by: \"team-name\" is not a label name (or '...' for every label)",
        ),
        (
            {"channels": ["ops"], "group_interval": "5"},
            'routes.group_interval: "5" is not a duration, write 5s',
        ),
        (
            {"channels": ["ops"], "group_wait": False},
            "routes.group_wait: false is not a duration, write e.g. 30s",
        ),
        (
            {"channels": ["ops"], "routes": [{"repeat_interval": "10s"}]},
            "routes.routes[0].repeat_interval: 10s is too short: the minimum is 1m",
        ),
        (
            {"channels": ["ops"], "routes": [{"matchers": ['team=~"("']}]},
            None,
        ),
    ],
)
def test_route_mistakes_say_where_and_why(routes: dict[str, Any], error: str | None) -> None:
    """Each mistake of a route is one line at its key path."""
    errors = errors_of(routed(routes))
    if error is None:  # the matcher's own message is config/labels/_labels.py's to word
        (line,) = errors
        assert line.startswith(
            'routes.routes[0].matchers: team=~"(": not a regular expression RE2 can run'
        )
    else:
        assert errors == [error]


def interval(**spec: Any) -> dict[str, Any]:
    return {"name": "i", "time_intervals": [spec]}


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (
            {"weekdays": ["saturday:sunday"]},
            'weekdays: "saturday:sunday" ends before it begins: weeks run sunday to '
            "saturday, as Alertmanager's; write saturday:sunday as [saturday, sunday]",
        ),
        (
            {"weekdays": ["mondy"]},
            'weekdays: "mondy" is not a day of the week, did you mean monday?',
        ),
        (
            {"weekdays": ["1"]},
            'weekdays: "1" is not a day of the week: write e.g. monday:friday',
        ),
        (
            {"times": [{"start_time": "17:00", "end_time": "09:00"}]},
            "times[0]: start_time must be before end_time: a range across midnight is two, as "
            '[{start_time: "22:00", end_time: "24:00"}, {start_time: "00:00", end_time: "06:00"}]',
        ),
        (
            {"times": [{"start_time": "9am", "end_time": "17:00"}]},
            'times[0].start_time: "9am" is not a time of day: write HH:MM in quotes, as "09:00"',
        ),
        (
            {"times": [{"start_time": "00:00", "end_time": "24:30"}]},
            'times[0].end_time: "24:30" is past the end of the day: 24:00 is the latest',
        ),
        (
            {"days_of_month": ["0"]},
            'days_of_month: "0" is out of range: 1 to 31 (or -31 to -1 from the end)',
        ),
        (
            {"days_of_month": ["-1:5"]},
            'days_of_month: "-1:5" ends before it begins: write the earlier day first '
            "(-1 is the month's last day)",
        ),
        ({"months": ["13"]}, 'months: "13" is out of range: 1 to 12'),
        (
            {"months": ["decembr"]},
            'months: "decembr" is not a month: write e.g. january:march, did you mean december?',
        ),
        (
            {"years": ["2027:2026"]},
            'years: "2027:2026" ends before it begins: write the earlier year first',
        ),
        ({"location": "Europe/Pariss"}, None),
    ],
)
def test_time_interval_mistakes_say_where_and_why(spec: dict[str, Any], error: str | None) -> None:
    """Each mistake of a time interval's spec is one line at its key path."""
    errors = errors_of(routed(intervals=[interval(**spec)]))
    (line,) = errors
    prefix = "time_intervals[0].time_intervals[0]."
    if error is None:  # the zone's message is config/_fields.py's to word
        assert line.startswith(f"{prefix}location: ")
        assert "Europe/Pariss" in line
    else:
        assert line == prefix + error


def test_interval_names_are_unique_and_an_interval_has_a_spec() -> None:
    """Two intervals of one name are refused, and so is one with no spec."""
    assert errors_of(routed(intervals=[BUSINESS, BUSINESS])) == [
        'time_intervals[1].name: "business" is already the name of time_intervals[0]; each '
        "needs its own"
    ]
    assert errors_of(routed(intervals=[{"name": "empty", "time_intervals": []}])) == [
        "time_intervals[0].time_intervals: is empty: give at least one spec, e.g. "
        "[{weekdays: [saturday, sunday]}]"
    ]
