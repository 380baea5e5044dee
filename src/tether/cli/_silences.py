"""``tether silence add|list|expire``: silences of a running monitor, through its API
(``POST /api/silences``, docs/routing.md "Silences"), as ``tether maintenance`` opens
windows.  Exit codes as for ``tether pause``: 0 done, 2 bad input (the server's one line
says why), 3 no server answers, 4 not allowed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tether.cli._remote import ask
from tether.cli._shared import EXIT_OK, Command, print_json, server_options

if TYPE_CHECKING:
    from tether.cli._shared import Commands


def _parser(commands: Commands) -> None:
    silence = commands.add_parser(
        "silence",
        help="add, list or expire silences of a running tether monitor",
        description="Silences: while one is active, the alerts its matchers select are kept "
        "from their channels and recorded as suppressed (checks and incidents go on).  "
        "Exit codes as for tether pause.",
    )
    actions = silence.add_subparsers(
        dest="silence", metavar="ACTION", help="add, list or expire", required=True
    )
    add = actions.add_parser(
        "add",
        help="silence the alerts these matchers select",
        description="Make a silence from now (or --start) for --for or until --end.",
    )
    add.add_argument(
        "-m",
        "--match",
        action="append",
        required=True,
        dest="matchers",
        metavar="MATCHER",
        help='an Alertmanager matcher: service="checkout", tier=~"1|2" (again for more)',
    )
    length = add.add_mutually_exclusive_group(required=True)
    length.add_argument("--for", dest="length", metavar="DURATION", help="how long: 30m, 2h")
    length.add_argument(
        "--end", metavar="TIME", help="when it ends: ISO 8601 with an offset, 2030-01-15T08:00Z"
    )
    add.add_argument(
        "--start", metavar="TIME", help="when it starts (default: now): ISO 8601 with an offset"
    )
    add.add_argument("--comment", required=True, metavar="TEXT", help="why, shown and logged")
    server_options(add)
    listed = actions.add_parser(
        "list", help="the silences, newest first", description="List the silences."
    )
    server_options(listed)
    expire = actions.add_parser(
        "expire", help="end a silence now", description="Expire silence ID now."
    )
    expire.add_argument("silence_id", type=int, metavar="ID", help="the silence's number")
    server_options(expire)


def _call(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.silence == "add":
        body: dict[str, Any] = {"matchers": args.matchers, "comment": args.comment}
        body.update({"for": args.length} if args.length else {"ends": args.end})
        if args.start:
            body["starts"] = args.start
        return "POST", "/api/silences", body
    if args.silence == "expire":
        return "POST", f"/api/silences/{args.silence_id}/expire", None
    return "GET", "/api/silences", None


def _line(args: argparse.Namespace, doc: dict[str, Any]) -> str:
    """What the command says when it worked."""
    if args.silence == "add":
        return (
            f"silence {doc['id']} {doc['state']} from {doc['starts']} until {doc['ends']}: "
            f"{', '.join(doc['matchers'])}"
        )
    if args.silence == "expire":
        what = "expired" if doc["changed"] else "was expired or over already"
        return f"silence {doc['id']} {what}"
    lines = [
        f"{s['id']}  {s['state']}  {s['starts']} .. {s['ends']}  {', '.join(s['matchers'])}  "
        f"{s['comment']} ({s['created_by']})"
        for s in doc["silences"]
    ]
    return "\n".join(lines) or "no silences"


def _run(args: argparse.Namespace) -> int:
    answered = ask(args, f"silence {args.silence}", _call(args))
    if isinstance(answered, int):
        return answered
    _, doc = answered
    if args.json:
        print_json(doc)
    else:
        print(_line(args, doc))
    return EXIT_OK


SILENCE = Command("silence", _parser, _run)
"""``tether silence``, beside ``tether maintenance``."""
