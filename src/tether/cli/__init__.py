"""The ``tether`` command: wiring only, one row of :data:`COMMANDS` a command.

Exit codes: 0 success, 1 a failure was found or a run failed, 2 usage error.
Every option has a help text (tests/cli/test_cli_help.py walks the parser to hold that).
Heavy modules are imported inside each command, so ``tether --version``
stays fast.  Each command lives with its kind: the library's and the lab's in
``_library.py``, those reading the configuration and store here in ``_local.py``,
those asking a running monitor in ``_remote.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tether.cli import _local
from tether.cli._agent import AGENT
from tether.cli._import import IMPORT
from tether.cli._library import COMMANDS as LIBRARY
from tether.cli._objectives import OBJECTIVES
from tether.cli._remote import ASKING, PUSH
from tether.cli._report import REPORT
from tether.cli._routes import ROUTES
from tether.cli._shared import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Command
from tether.cli._silences import SILENCE
from tether.cli._subscribers import SUBSCRIBERS, UPDATE

__all__ = ["main"]

COMMANDS: tuple[Command, ...] = (
    *LIBRARY,
    _local.CHECK_CONFIG,
    _local.MONITOR,
    AGENT,
    _local.ACK,
    PUSH,
    *ASKING,
    OBJECTIVES,
    SILENCE,
    UPDATE,
    SUBSCRIBERS,
    _local.STATUS,
    _local.HISTORY,
    _local.INCIDENTS,
    REPORT,
    ROUTES,
    _local.HASH_PASSWORD,
    _local.NEW_TOKEN,
    IMPORT,
    _local.DEMO,
)
"""Every command, in the order ``tether --help`` lists them."""


def _parser() -> argparse.ArgumentParser:
    from tether._version import __version__

    parser = argparse.ArgumentParser(
        prog="tether", description="Make network failures survivable and explainable."
    )
    parser.add_argument("--version", action="version", version=f"tether {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", help="one of these; `tether COMMAND -h` for its options"
    )
    for command in COMMANDS:
        command.add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # The command is the first word that is not an option (tether's own options take no
    # value).  Its extra is checked before its arguments: installing comes first.
    word = next((w for w in words if not w.startswith("-")), None)
    if word is not None and not {"-h", "--help"} & set(words):
        from tether._extras import command_problem

        if (problem := command_problem(word)) is not None:
            print(problem, file=sys.stderr)
            return EXIT_USAGE
    parser = _parser()
    args = parser.parse_args(argv)
    command = next((c for c in COMMANDS if c.name == args.command), None)
    if command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return command.run(args)
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:  # `tether ... | head`
        return EXIT_OK
