"""What the commands of ``tether`` share: exit codes, the options several take, the
configuration file a command reads, and :class:`Command`, one row of the command table."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from tether.monitor import MonitorConfig

    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
"""128 + SIGINT, as a shell reports a command Ctrl-C ended."""
DEFAULT_CONFIG = "tether.yaml"
NO_CONFIG = (
    "no --config FILE given and no tether.yaml here; `tether demo --keep DIR` writes an "
    "example to DIR/tether.yaml, and docs/monitor.md explains every part"
)
"""Said (after ``tether COMMAND: ``) when a command that reads the monitor's configuration
finds neither: it is most often someone's first run."""


@dataclass(frozen=True, slots=True)
class Command:
    """One command of ``tether``: its name, how its options are declared (``add`` adds
    its parser to the subcommands, help and description included), and what runs it
    (``run`` takes the parsed arguments and gives the exit code)."""

    name: str
    add: Callable[[Commands], None]
    run: Callable[[argparse.Namespace], int]


def with_config(
    run: Callable[[argparse.Namespace, str], int],
) -> Callable[[argparse.Namespace], int]:
    """``run`` given the configuration file the command reads (:func:`config_path`), or
    the exit code after saying why there is none."""

    def reading(args: argparse.Namespace) -> int:
        path = config_path(args)
        return path if isinstance(path, int) else run(args, path)

    return reading


def config_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--config",
        metavar="FILE",
        help=f"the monitor's configuration file (default {DEFAULT_CONFIG})",
    )


def server_options(command: argparse.ArgumentParser, *, optional: bool = False) -> None:
    where = (
        "send it to the running monitor at URL instead of writing to the store "
        "(default: $TETHER_SERVER if set)"
        if optional
        else "the running monitor (default: $TETHER_SERVER, else server.listen in the "
        "configuration, else 127.0.0.1:8800)"
    )
    command.add_argument("--server", metavar="URL", help=where)
    command.add_argument(
        "--token",
        metavar="TOKEN",
        help="an API token with the write scope (default: $TETHER_TOKEN); never printed",
    )
    if not optional:
        config_option(command)
        json_option(command)


def json_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object on standard output instead (docs/monitor.md)",
    )


def config_path(args: argparse.Namespace) -> str | int:
    """The configuration file the command reads, or the exit code after saying why none."""
    given: str | None = args.config
    alias: str | None = getattr(args, "file", None)  # check-config's positional FILE
    if alias is not None:
        if given is not None and os.path.normpath(given) != os.path.normpath(alias):
            print(
                f"tether {args.command}: FILE {alias} and --config {given} name different "
                "files; give one of them",
                file=sys.stderr,
            )
            return EXIT_USAGE
        given = alias
    if given is not None:
        return given
    if not os.path.lexists(DEFAULT_CONFIG):
        print(f"tether {args.command}: {NO_CONFIG}", file=sys.stderr)
        return EXIT_USAGE
    return DEFAULT_CONFIG


def print_json(document: object) -> None:
    print(json.dumps(document, indent=2))


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from tether._table import text_table

    sys.stdout.write(text_table(header, rows))


def load_monitor_config(path: str, command: str) -> MonitorConfig | int:
    """The configuration in ``path``, or the exit code after saying what is wrong.  Read
    with the collector paused: what it makes lives as long as the command, and left
    running, each full collection walked every monitor parsed so far (a file of 120,000
    monitors: 15 of them, 12.9 s of a 24.8 s read, issue 46 §3)."""
    from tether.monitor import ConfigError, load_config
    from tether.monitor.runtime._loop import paused_collector

    try:
        with paused_collector():
            return load_config(path)
    except OSError as exc:
        print(f"tether {command}: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        for line in exc.located:
            print(line, file=sys.stderr)
        return EXIT_FAILURE
