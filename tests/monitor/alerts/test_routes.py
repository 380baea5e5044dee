"""The route tree (``alerts/_routes.py``): Alertmanager's own examples as cases, and its
walk held to properties over random trees and label sets."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.config_text import dump
from tether.monitor.alerts._routes import (
    DEFAULT_GROUPING,
    AlertRoute,
    Matched,
    RouteTree,
    build,
    route_tree,
    routing_labels,
)
from tether.monitor.config import parse_config
from tether.monitor.config._routes import RouteConfig, TimeInterval
from tether.monitor.config.labels._labels import matches

AT = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)

# dispatch/route_test.go's tree (TestRouteMatch), receivers written as channels.
AM_TREE: dict[str, Any] = {
    "channels": ["notify-def"],
    "routes": [
        {
            "matchers": ['owner="team-A"'],
            "channels": ["notify-A"],
            "routes": [
                {
                    "matchers": ['env="testing"'],
                    "channels": ["notify-testing"],
                    "group_by": ["..."],
                },
                {
                    "matchers": ['env="production"'],
                    "channels": ["notify-productionA"],
                    "group_wait": "1m",
                    "continue": True,
                },
                {
                    "matchers": ['env=~"produ.*"', 'job=~".*"'],
                    "channels": ["notify-productionB"],
                    "group_wait": "30s",
                    "group_interval": "5m",
                    "repeat_interval": "1h",
                    "group_by": ["job"],
                },
            ],
        },
        {
            "matchers": ['owner=~"team-(B|C)"'],
            "group_by": ["foo", "bar"],
            "group_wait": "2m",
            "channels": ["notify-BC"],
        },
        {
            "matchers": {"group_by": "role"},
            "group_by": ["role"],
            "routes": [
                {
                    "matchers": ['env="testing"'],
                    "channels": ["notify-testing"],
                    "routes": [{"matchers": {"wait": "long"}, "group_wait": "2m"}],
                }
            ],
        },
    ],
}


def tree_of(config: dict[str, Any], intervals: tuple[TimeInterval, ...] = ()) -> RouteTree:
    root = build(RouteConfig.model_validate(config))
    return RouteTree(root, {i.name: i for i in intervals})


@pytest.mark.parametrize(
    ("labels", "channels", "group_wait", "group_by"),
    [
        ({"owner": "team-A"}, [("notify-A",)], [30.0], [("incident",)]),
        ({"owner": "team-A", "env": "unset"}, [("notify-A",)], [30.0], [("incident",)]),
        ({"owner": "team-C"}, [("notify-BC",)], [120.0], [("foo", "bar")]),
        (
            {"owner": "team-A", "env": "production"},
            [("notify-productionA",), ("notify-productionB",)],
            [60.0, 30.0],
            [("incident",), ("job",)],
        ),
        ({"group_by": "role"}, [("notify-def",)], [30.0], [("role",)]),
        ({"env": "testing", "group_by": "role"}, [("notify-testing",)], [30.0], [("role",)]),
        (
            {"env": "testing", "group_by": "role", "wait": "long"},
            [("notify-testing",)],
            [120.0],
            [("role",)],
        ),
        ({"owner": "nobody"}, [("notify-def",)], [30.0], [("incident",)]),
    ],
)
def test_alertmanagers_route_test_cases(
    labels: dict[str, str],
    channels: list[tuple[str, ...]],
    group_wait: list[float],
    group_by: list[tuple[str, ...]],
) -> None:
    """Alertmanager's TestRouteMatch: the routes reached, their channels (inherited where
    a route names none) and their grouping (inherited where a route leaves it out)."""
    found = tree_of(AM_TREE).match(labels)
    assert [m.channels for m in found] == channels
    assert [m.grouping.group_wait for m in found] == group_wait
    assert [m.grouping.group_by for m in found] == group_by


def test_the_group_key_is_the_group_by_labels_and_every_label_for_dots() -> None:
    """The key holds the group_by labels' values (missing: ""), sorted; `...`: all."""
    tree = tree_of(AM_TREE)
    (one,) = tree.match({"owner": "team-C", "foo": "1"})
    assert one.group_key == (("bar", ""), ("foo", "1"))
    (every,) = tree.match({"owner": "team-A", "env": "testing"})
    assert every.group_key == (("env", "testing"), ("owner", "team-A"))


def test_the_configuration_docs_example_with_time_intervals() -> None:
    """Alertmanager's documented example: dev-pager is muted off hours and on-call-pager
    active only then; both routes take the alert (dev-pager has continue), and the muted
    one says by which interval."""
    text = dump(
        alerts=[
            {"name": n, "type": "webhook", "url": "http://127.0.0.1:9/"}
            for n in ("default", "dev-pager", "on-call-pager")
        ],
        time_intervals=[
            {
                "name": "offhours",
                "time_intervals": [
                    {"times": [{"start_time": "00:00", "end_time": "09:00"}]},
                    {"times": [{"start_time": "17:00", "end_time": "24:00"}]},
                    {"weekdays": ["saturday", "sunday"]},
                ],
            },
            {"name": "holidays", "time_intervals": [{"months": ["december"]}]},
        ],
        routes={
            "channels": ["default"],
            "routes": [
                {
                    "channels": ["dev-pager"],
                    "matchers": ['service="inhouse-service"'],
                    "mute_time_intervals": ["offhours", "holidays"],
                    "continue": True,
                },
                {
                    "channels": ["on-call-pager"],
                    "matchers": ['service="inhouse-service"'],
                    "active_time_intervals": ["offhours", "holidays"],
                },
            ],
        },
    )
    tree = route_tree(parse_config(text))
    labels = {"service": "inhouse-service"}
    day = tree.match(labels, dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC))  # a Wednesday
    assert [(m.sends_to, m.muted_by, m.outside) for m in day] == [
        (("dev-pager",), None, ()),
        ((), None, ("offhours", "holidays")),
    ]
    night = tree.match(labels, dt.datetime(2026, 11, 25, 22, 0, tzinfo=dt.UTC))
    assert [(m.sends_to, m.muted_by) for m in night] == [
        ((), "offhours"),
        (("on-call-pager",), None),
    ]
    christmas = tree.match(labels, dt.datetime(2026, 12, 23, 10, 0, tzinfo=dt.UTC))
    assert [m.muted_by for m in christmas] == ["holidays", None]


def test_without_routes_each_monitors_alerts_list_is_its_route() -> None:
    """No routes: the root sends nowhere, and a monitor's `alerts:` takes its alerts (the
    simple form of a route, today's behaviour), filled from `defaults:` as before; with
    routes, both apply."""
    channels = [{"name": n, "type": "webhook", "url": "http://127.0.0.1:9/"} for n in ("ops", "db")]
    monitors = ({"name": "api", "url": "http://127.0.0.1:9/", "alerts": ["ops"]},)
    tree = route_tree(
        parse_config(
            dump(*monitors, {"name": "quiet", "url": "tcp://127.0.0.1:9"}, alerts=channels)
        )
    )
    api = routing_labels({}, monitor="api", event="monitor.down")
    assert [(m.route.where, m.sends_to) for m in tree.match(api)] == [
        ("routes", ()),
        ("monitors[0].alerts", ("ops",)),
    ]
    quiet = routing_labels({}, monitor="quiet", event="monitor.down")
    assert [m.sends_to for m in tree.match(quiet)] == [()]
    routed = route_tree(parse_config(dump(*monitors, alerts=channels, routes={"channels": ["db"]})))
    assert [m.sends_to for m in routed.match(api)] == [("db",), ("ops",)]
    defaulted = route_tree(parse_config(dump(alerts=channels, defaults={"alerts": ["db"]})))
    assert [m.sends_to for m in defaulted.match(api)] == [(), ("db",)]


def test_routing_labels_put_tethers_own_beside_the_monitors() -> None:
    """monitor, event, kind, location and incident join the monitor's labels."""
    assert routing_labels(
        {"team": "db"},
        monitor="api",
        event="monitor.down",
        kind="connect.refused",
        location="eu",
        incident=7,
    ) == {
        "team": "db",
        "monitor": "api",
        "event": "monitor.down",
        "kind": "connect.refused",
        "location": "eu",
        "incident": "7",
    }
    assert routing_labels({}, monitor="api", event="monitor.up") == {
        "monitor": "api",
        "event": "monitor.up",
    }


# -- properties -----------------------------------------------------------------------

NAMES = ("a", "b", "c")
VALUES = ("x", "y", "")
matcher = st.builds(
    lambda n, op, v: f'{n}{op}"{v}"',
    st.sampled_from(NAMES),
    st.sampled_from(("=", "!=", "=~", "!~")),
    st.sampled_from((*VALUES, "x|y", ".+")),
)
labels_st = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES[:2]), max_size=3)


def _node(children: st.SearchStrategy[list[dict[str, Any]]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "matchers": st.lists(matcher, max_size=2),
            "continue": st.booleans(),
            "routes": children,
        },
        optional={
            "channels": st.lists(st.sampled_from(("p", "q", "r")), min_size=1, max_size=2),
            "group_wait": st.sampled_from(("0s", "10s", "1m")),
            "group_by": st.sampled_from((["a"], ["..."], ["b", "c"])),
        },
    )


subtree = st.recursive(st.just([]), lambda kids: st.lists(_node(kids), max_size=3), max_leaves=12)
trees = st.builds(
    lambda children, group_by: {"channels": ["root"], "routes": children, **group_by},
    subtree,
    st.sampled_from(({}, {"group_by": ["a"]})),
)


def _preorder(
    route: AlertRoute, ancestors: tuple[AlertRoute, ...] = ()
) -> Iterator[tuple[AlertRoute, tuple[AlertRoute, ...]]]:
    yield route, ancestors
    for child in route.routes:
        yield from _preorder(child, (*ancestors, route))


def reference(root: AlertRoute, labels: dict[str, str]) -> list[AlertRoute]:
    """A route is reached when it and every ancestor match, no earlier sibling of it or
    of an ancestor matched without `continue`, and none of its children matches."""

    def blocked(node: AlertRoute, parent: AlertRoute) -> bool:
        earlier = parent.routes[: parent.routes.index(node)]
        return any(matches(s.matchers, labels) and not s.continue_ for s in earlier)

    out = []
    for route, ancestors in _preorder(root):
        line = (*ancestors, route)
        if not all(matches(n.matchers, labels) for n in line):
            continue
        if any(blocked(n, p) for p, n in itertools.pairwise(line)):
            continue
        if any(matches(c.matchers, labels) for c in route.routes):
            continue
        out.append(route)
    return out


@given(trees, labels_st)
def test_match_agrees_with_a_brute_force_reading_of_the_rules(
    config: dict[str, Any], labels: dict[str, str]
) -> None:
    """match() reaches exactly the routes the rules, read one route at a time, say."""
    tree = tree_of(config)
    assert [m.route for m in tree.match(labels)] == reference(tree.root, labels)


@given(trees, labels_st)
def test_every_alert_reaches_the_root_when_nothing_more_specific_matches(
    config: dict[str, Any], labels: dict[str, str]
) -> None:
    """At least one route takes every alert; the root's channels when no child matches."""
    tree = tree_of(config)
    found = tree.match(labels)
    assert found
    if not any(matches(c.matchers, labels) for c in tree.root.routes):
        assert [m.channels for m in found] == [("root",)]
    assert all(m.channels for m in found)  # inherited down from the root at worst


@given(trees, labels_st, st.data())
def test_continue_never_loses_a_match(
    config: dict[str, Any], labels: dict[str, str], data: st.DataObject
) -> None:
    """Setting `continue` on any one route keeps every route reached without it."""
    nodes = list(_dicts(config))[1:]
    if not nodes:
        return
    node = data.draw(st.sampled_from(nodes))
    node["continue"] = False
    without = {m.route.path for m in tree_of(config).match(labels)}
    node["continue"] = True
    with_ = {m.route.path for m in tree_of(config).match(labels)}
    assert without <= with_


def _dicts(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield config
    for child in config["routes"]:
        yield from _dicts(child)


@given(trees, labels_st)
def test_children_inherit_channels_and_grouping_from_the_nearest_ancestor(
    config: dict[str, Any], labels: dict[str, str]
) -> None:
    """A route's channels and group settings are its own, else its nearest ancestor's
    that gives them, else the defaults."""
    tree = tree_of(config)
    configs = list(_dicts(config))
    for (route, ancestors), written in zip(_preorder(tree.root), configs, strict=True):
        line = [*[configs[_index(tree.root, a)] for a in ancestors], written]
        given_channels = [c["channels"] for c in line if c.get("channels")]
        assert route.channels == tuple(given_channels[-1])
        waits = [c["group_wait"] for c in line if "group_wait" in c]
        expected = {"0s": 0.0, "10s": 10.0, "1m": 60.0}[waits[-1]] if waits else 30.0
        assert route.grouping.group_wait == expected
        group_bys = [tuple(c["group_by"]) for c in line if "group_by" in c]
        assert route.grouping.group_by == (
            group_bys[-1] if group_bys else DEFAULT_GROUPING.group_by
        )


def _index(root: AlertRoute, target: AlertRoute) -> int:
    return [r.path for r, _ in _preorder(root)].index(target.path)


ALWAYS = TimeInterval.model_validate({"name": "always", "time_intervals": [{}]})
instants = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)


@given(
    st.lists(matcher, max_size=2), st.lists(matcher, max_size=2), labels_st, instants, st.booleans()
)
def test_a_muted_route_sends_nothing_while_an_unmuted_sibling_after_continue_does(
    muted: list[str], other: list[str], labels: dict[str, str], at: dt.datetime, by_mute: bool
) -> None:
    """A route muted (in a mute interval, or outside its active ones) still takes the
    alert and reports why, sends to no channel, and its `continue` still lets the next
    sibling take and send it."""
    quiet = {"mute_time_intervals": ["always"]} if by_mute else {"active_time_intervals": ["never"]}
    never = TimeInterval.model_validate({"name": "never", "time_intervals": [{"years": ["1999"]}]})
    tree = tree_of(
        {
            "channels": ["root"],
            "routes": [
                {"matchers": muted, "channels": ["m"], "continue": True, **quiet},
                {"matchers": other, "channels": ["s"]},
            ],
        },
        (ALWAYS, never),
    )
    found = {m.channels: m for m in tree.match(labels, at)}
    sends = {c for m in found.values() for c in m.sends_to}
    assert "m" not in sends
    assert ("m" in {c for c in found for c in c}) == matches(tree.root.routes[0].matchers, labels)
    if ("m",) in found:
        reported: Matched = found[("m",)]
        assert reported.muted
        assert reported.muted_by == "always" or reported.outside == ("never",)
    assert ("s" in sends) == matches(tree.root.routes[1].matchers, labels)


def test_reprs_say_where_and_what_in_one_short_line() -> None:
    """A route and a match read as where they are written and where they send."""
    tree = tree_of(
        {
            "channels": ["ops"],
            "routes": [{"matchers": {"a": "x"}, "mute_time_intervals": ["always"]}],
        },
        (ALWAYS,),
    )
    assert repr(tree.root) == "<Route routes -> ops>"
    (found,) = tree.match({"a": "x"}, AT)
    assert repr(found) == "<Matched routes.routes[0] -> ops muted by always>"
