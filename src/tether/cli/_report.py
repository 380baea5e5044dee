"""``tether report --month 2026-11``: the monthly report of the objectives and status
pages, read from the store the configuration names (docs/objectives.md, "Monthly
report"), as printable HTML or as CSV.

Exit 0 with the report written; 1 for an invalid configuration (one line per problem);
2 for a month that is not one, a file that cannot be read or written, or a store that
cannot be opened: one line saying why.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tether.cli._shared import EXIT_OK, EXIT_USAGE, Command, config_option, with_config

if TYPE_CHECKING:
    from tether.cli._shared import Commands


def _parser(commands: Commands) -> None:
    report = commands.add_parser(
        "report",
        help="write the monthly report of the objectives and status pages",
        description="For one calendar month (UTC), each objective's SLI, target, budget "
        "spent and left and its incidents, and each status page's uptime and incidents, "
        "read from the monitor's store.  Exit 0; 1 for an invalid configuration; 2 for a "
        "bad month or a file or store that cannot be used.",
    )
    report.add_argument(
        "--month", required=True, metavar="YYYY-MM", help="the month to report, as in 2026-11"
    )
    config_option(report)
    report.add_argument(
        "--format",
        choices=("html", "csv"),
        default="html",
        help="html: one printable page (default); csv: one row per section and item",
    )
    report.add_argument(
        "--output",
        metavar="PATH",
        help="write the report to PATH (default: standard output)",
    )


def _say(problem: str) -> int:
    print(f"tether report: {problem}", file=sys.stderr)
    return EXIT_USAGE


def _report(args: argparse.Namespace, path: str) -> int:
    import time

    from tether.cli._shared import load_monitor_config
    from tether.monitor import StoreError, open_store
    from tether.monitor.reports._monthly import monthly_report, parse_month, report_csv

    try:
        parse_month(args.month)
    except ValueError as exc:
        return _say(f"--month: {exc}")
    config = load_monitor_config(path, "report")
    if isinstance(config, int):
        return config
    now = time.time()
    try:
        with open_store(config.storage, delivers=False) as store:
            report = monthly_report(store, config, args.month, now)
    except StoreError as exc:
        return _say(str(exc))
    if args.format == "csv":
        text = report_csv(report)
    else:
        from tether.monitor.web.pages._report_page import report_html

        text = report_html(report, now)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            out.write(text)
    except OSError as exc:
        return _say(f"cannot write {args.output}: {exc.strerror or exc}")
    return EXIT_OK


REPORT = Command("report", _parser, with_config(_report))
