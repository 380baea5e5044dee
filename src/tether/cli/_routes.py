"""``tether routes test``: which channels an alert would reach, as Alertmanager's
``amtool config routes test`` tells (docs/routing.md).

Exit 0 with the answer; 1 when the configuration is invalid (one line per problem, as
``tether check-config``); 2 for a file that cannot be read or an argument that is not
one (a label, an event, a kind, a monitor or a time): one line saying why.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from tether.cli._shared import (
    EXIT_OK,
    EXIT_USAGE,
    Command,
    config_option,
    load_monitor_config,
    with_config,
)

if TYPE_CHECKING:
    from tether.cli._shared import Commands
    from tether.monitor.alerts._routes import Matched


def _parser(commands: Commands) -> None:
    routes = commands.add_parser(
        "routes",
        help="test the configuration's alert routes",
        description="The route tree of the monitor's configuration (routes:, docs/routing.md).",
    )
    actions = routes.add_subparsers(
        dest="routes", metavar="ACTION", help="test: where an alert would go", required=True
    )
    test = actions.add_parser(
        "test",
        help="print the channels an alert with these labels would reach",
        description="Walk the route tree for an alert of EVENT with these labels and print "
        "the channels it would reach, then each route it reaches (muted ones say by what).  "
        "Exit 0; 1 for an invalid configuration; 2 for a bad argument.",
    )
    config_option(test)
    test.add_argument(
        "-l",
        "--labels",
        action="append",
        default=[],
        metavar="NAME=VALUE[,...]",
        help="the alert's labels, comma-separated or one per -l (again for more)",
    )
    test.add_argument(
        "--event", required=True, metavar="EVENT", help="the alert's event: monitor.down, ..."
    )
    test.add_argument("--kind", metavar="KIND", help="the failure's kind: connect.refused, ...")
    test.add_argument(
        "--monitor",
        metavar="NAME",
        help="the monitor it is about (its labels are the alert's, yours over them)",
    )
    test.add_argument("--location", metavar="NAME", help="the location it was seen from")
    test.add_argument(
        "--at",
        metavar="TIME",
        help="when, ISO 8601 with an offset (2026-11-25T10:00:00+01:00; default now), "
        "for the routes' time intervals",
    )


def parse_labels(given: list[str]) -> dict[str, str]:
    """``["team=db,tier=1", "env=prod"]`` as a map; raises :class:`ValueError` with why."""
    from tether.monitor.config.labels._labels import RESERVED, label_problem

    out: dict[str, str] = {}
    for group in given:
        for item in group.split(","):
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep:
                raise ValueError(f"{item!r} is not a label: write NAME=VALUE, as team=db")
            if name in RESERVED:
                raise ValueError(f"{name} is set by --{name}, not as a label")
            problem = label_problem(name)
            if problem is not None:
                raise ValueError(problem)
            out[name] = value
    return out


def _at(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text!r} is not a time: write 2026-11-25T10:00:00+01:00") from None
    if at.tzinfo is None:
        raise ValueError(f"--at {text!r} has no offset: add one, as +01:00 or Z")
    return at


def _labels(args: argparse.Namespace, monitor_labels: dict[str, str]) -> dict[str, str]:
    from tether import Kind
    from tether._suggest import did_you_mean
    from tether.monitor.alerts._routes import EVENTS, routing_labels

    if args.event not in EVENTS:
        hint = did_you_mean(args.event, EVENTS) or f": one of {', '.join(EVENTS)}"
        raise ValueError(f"--event {args.event!r} is not an event{hint}")
    kinds = [k.value for k in Kind]
    if args.kind is not None and args.kind not in kinds:
        hint = did_you_mean(args.kind, kinds) or " (tether explain --list lists them)"
        raise ValueError(f"--kind {args.kind!r} is not a failure kind{hint}")
    own = {**monitor_labels, **parse_labels(args.labels)}
    return routing_labels(
        own,
        monitor=args.monitor or "",
        event=args.event,
        kind=args.kind,
        location=args.location,
    )


def _line(found: Matched) -> str:
    channels = ", ".join(found.channels) or "(no channel)"
    if found.muted_by is not None:
        return f"  {found.route.where}: {channels}, muted by {found.muted_by}"
    if found.outside:
        return f"  {found.route.where}: {channels}, muted: outside {', '.join(found.outside)}"
    return f"  {found.route.where}: {channels}"


def _test(args: argparse.Namespace, path: str) -> int:
    config = load_monitor_config(path, "routes test")
    if isinstance(config, int):
        return config
    from tether.monitor.alerts._routes import route_tree

    try:
        monitor_labels: dict[str, str] = {}
        if args.monitor is not None:
            try:
                monitor = config.monitor(args.monitor)
            except KeyError:
                raise ValueError(f"--monitor {args.monitor!r}: no such monitor in {path}") from None
            monitor_labels = dict(getattr(monitor, "labels", None) or {})
        labels = _labels(args, monitor_labels)
        at = _at(args.at)
    except ValueError as exc:
        print(f"tether routes test: {exc}", file=sys.stderr)
        return EXIT_USAGE
    reached = route_tree(config).match(labels, at)
    sends: list[str] = []
    for found in reached:
        sends += [c for c in found.sends_to if c not in sends]
    print(", ".join(sends) or "(no channel)")
    for found in reached:
        print(_line(found))
    return EXIT_OK


ROUTES = Command("routes", _parser, with_config(_test))
