"""``tether import TOOL FILE``: another monitor's configuration as tether's (docs/migrating.md).

Prints the configuration on standard output (``> tether.yaml``) and, on standard error,
one line for each thing that could not be carried over, with why.  Exit 0 when a
configuration was printed (things left out or not); 2 for a file that cannot be read or
is not that tool's: one line saying why, nothing on standard output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tether.cli._shared import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Command

if TYPE_CHECKING:
    from tether.cli._shared import Commands
    from tether.monitor.importers import Imported

_TOOLS: dict[str, tuple[str, str]] = {
    "gatus": ("FILE", "a Gatus configuration (config.yaml)"),
    "kuma": ("FILE", "an Uptime Kuma database (kuma.db), version 1.23 or 2.x"),
    "prometheus": (
        "FILE",
        "a Prometheus configuration whose scrape jobs probe through blackbox_exporter",
    ),
}


def _parser(commands: Commands) -> None:
    command = commands.add_parser(
        "import",
        help="turn another monitor's configuration into tether's",
        description="Read Gatus's configuration, Uptime Kuma's database or Prometheus's "
        "blackbox_exporter scrape jobs, and print tether's configuration on standard "
        "output; what could not be carried over is listed on standard error with why.  "
        "Exit 0; 2 for a file that cannot be read or is not that tool's.",
    )
    tools = command.add_subparsers(
        dest="tool", metavar="TOOL", help="gatus, kuma or prometheus", required=True
    )
    for tool, (metavar, what) in _TOOLS.items():
        sub = tools.add_parser(tool, help=f"import {what}", description=f"Import {what}.")
        sub.add_argument("file", metavar=metavar, help=what)
        if tool == "prometheus":
            sub.add_argument(
                "--modules",
                metavar="BLACKBOX_YML",
                help="blackbox_exporter's configuration, whose modules the jobs name "
                "(default: the exporter's example modules); carried into modules:",
            )


def _importer(args: argparse.Namespace) -> Callable[[str], Imported]:
    tool = args.tool
    if tool == "gatus":
        from tether.monitor.importers.gatus._import import import_gatus

        return import_gatus
    if tool == "kuma":
        from tether.monitor.importers.kuma._import import import_kuma

        return import_kuma
    from functools import partial

    from tether.monitor.importers.prometheus._import import import_prometheus

    return partial(import_prometheus, modules_path=args.modules)


def _run(args: argparse.Namespace) -> int:
    from tether.monitor.config import ConfigError, parse_config
    from tether.monitor.importers import ImportFailed, to_yaml

    try:
        imported = _importer(args)(args.file)
    except ImportFailed as exc:
        print(f"tether import {args.tool}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = to_yaml(imported)
    unset: list[str] = []
    try:  # what is printed is what tether loads: an importer's mistake is said, not printed
        parse_config(text, source="the imported configuration")
    except ConfigError as exc:
        unset = [_unset(line) for line in exc.errors]
        if not all(unset):  # a ${NAME} the source read from the environment is no bug
            bug = f"tether import {args.tool}: a bug made a configuration tether refuses:"
            print(f"{bug}\n{exc}", file=sys.stderr)
            return EXIT_FAILURE
    sys.stdout.write(text)
    for item in imported.left_out:
        print(f"not carried over: {item.what}: {item.why}", file=sys.stderr)
    for name in dict.fromkeys(unset):
        print(f"set {name} in the environment: the configuration reads it", file=sys.stderr)
    return EXIT_OK


def _unset(error: str) -> str:
    """The ``${NAME}`` an error line says is not set in the environment, else ``""``."""
    import re

    found = re.search(r": (\$\{[A-Za-z_][A-Za-z0-9_]*\}) is not set in the environment", error)
    return found[1] if found else ""


IMPORT = Command("import", _parser, _run)
