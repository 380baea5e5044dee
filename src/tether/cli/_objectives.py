"""``tether objectives``: every objective of a running monitor, read from its
``/api/objectives`` (docs/objectives.md), as a table: its SLI, target, budget left (or
``too few checks: 3 of 1,000 needed`` while there are too few for a budget), burn rate
over 1 hour and 6 hours, and the rules firing now.

Exit 0 with the table (or the JSON with ``--json``); 2 for an unknown objective or bad
input, 3 when no server answers, 4 when not allowed (as the other commands that ask a
running monitor).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tether.cli._shared import (
    DEFAULT_CONFIG,
    EXIT_OK,
    Command,
    load_monitor_config,
    print_json,
    server_options,
    table,
)

if TYPE_CHECKING:
    from tether.cli._shared import Commands

HEADER = ("OBJECTIVE", "SLI", "TARGET", "BUDGET LEFT", "BURN 1H", "BURN 6H", "FIRING")


def _parser(commands: Commands) -> None:
    objectives = commands.add_parser(
        "objectives",
        help="the objectives of a running tether monitor: SLI, budget left, burn rates",
        description="Print each objective of the running monitor (docs/objectives.md): its "
        "SLI over its window, its target, the share of its error budget left, its burn rate "
        "over 1 hour and 6 hours, and its alerts firing now.  Exit 0; 2 for an unknown "
        "objective or bad input, 3 when no server answers, 4 when not allowed.",
    )
    objectives.add_argument(
        "objective", nargs="?", metavar="NAME", help="this objective alone (default: every one)"
    )
    server_options(objectives)


def _percent(share: float | None, digits: int = 3) -> str:
    """``99.95%``, ``100%``: a share as a percentage, without trailing zeros."""
    if share is None:
        return "-"
    number = f"{share * 100:.{digits}f}"
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return f"{'0' if number == '-0' else number}%"


def _burn(rates: dict[str, float], window: str) -> str:
    rate = rates.get(window)
    return "-" if rate is None else f"{rate:.2f}"


def row(doc: dict[str, Any]) -> tuple[str, ...]:
    """One objective of ``/api/objectives`` as a line of the table."""
    firing = [
        f"{a['severity']} {a['factor']:g}x {a['long']}/{a['short']}"
        for a in doc["alerts"]
        if a["firing"]
    ]
    budget = doc["budget"]
    if not doc.get("ready", True):
        left = "reading the store"
    elif budget.get("little_data"):
        left = f"too few checks: {doc['total']:,} of {budget.get('needed', 0):,} needed"
    else:
        left = _percent(budget["remaining"], 1)
    return (
        doc["name"],
        _percent(doc["sli_value"]),
        _percent(doc["target"], 4),
        left,
        _burn(doc["burn_rates"], "1h"),
        _burn(doc["burn_rates"], "6h"),
        ", ".join(firing) or "-",
    )


def _run(args: argparse.Namespace) -> int:
    from tether.monitor import RemoteError, remote_request, server_url

    listen = None
    config_file = args.config or (DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None)
    if args.server is None and not os.environ.get("TETHER_SERVER") and config_file:
        config = load_monitor_config(config_file, "objectives")
        if isinstance(config, int):
            return config
        listen = config.server.listen
    server = server_url(args.server, os.environ, listen)
    token = args.token or os.environ.get("TETHER_TOKEN") or None
    path = "/api/objectives"
    if args.objective is not None:
        path += "/" + quote(args.objective, safe="")
    try:
        _, doc = remote_request(server, "GET", path, token=token)
    except RemoteError as exc:
        print(f"tether objectives: {exc}", file=sys.stderr)
        return exc.code
    if args.json:
        print_json(doc)
        return EXIT_OK
    found = [doc] if args.objective is not None else doc["objectives"]
    if not found:
        print("no objectives: add objectives: to the configuration (docs/objectives.md)")
        return EXIT_OK
    table(HEADER, [row(d) for d in found])
    return EXIT_OK


OBJECTIVES = Command("objectives", _parser, _run)
