"""The commands that ask a running monitor through its API: ``push``, ``pause``,
``resume``, ``check``, ``note``, ``maintenance`` (and ``ack`` given a server)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from tether.cli._shared import (
    DEFAULT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    Command,
    load_monitor_config,
    print_json,
    server_options,
)

if TYPE_CHECKING:
    from tether.cli._shared import Commands


def _push_parser(commands: Commands) -> None:
    push = commands.add_parser(
        "push",
        help="report a heartbeat to a push monitor (for cron jobs and shell scripts)",
        description="Push to a `type: push` monitor of a running tether monitor: "
        "URL_OR_TOKEN is its push URL (http://HOST:PORT/api/push/TOKEN) or its token alone "
        "(the server from --server or $TETHER_SERVER).  Exit 0 once recorded, 2 for an "
        "unknown token or bad input, 3 when no server answers (docs/monitor.md, "
        '"Heartbeats").',
    )
    push.add_argument("target", metavar="URL_OR_TOKEN", help="the push URL, or the token")
    push.add_argument("--status", choices=("up", "down"), default="up", help="the job's verdict")
    push.add_argument("--msg", metavar="TEXT", help="why (kept as the check's detail)")
    push.add_argument("--duration-ms", type=float, metavar="N", help="how long the job took, in ms")
    push.add_argument(
        "--server", metavar="URL", help="the monitor's server (default $TETHER_SERVER)"
    )


def _pause_parser(commands: Commands) -> None:
    pause = commands.add_parser(
        "pause",
        help="pause a monitor of a running tether monitor: not probed until resumed",
        description="Pause MONITOR through the running monitor's API (every instance, and "
        "across restarts, until `tether resume`).  Exit 0 once paused (or paused already), "
        "2 for an unknown monitor or bad input, 3 when no server answers, 4 when not "
        'allowed (docs/monitor.md, "Changing things at run time").',
    )
    pause.add_argument("monitor", metavar="MONITOR", help="the monitor's name")
    pause.add_argument("--reason", metavar="TEXT", help="why, kept in the audit log")
    server_options(pause)


def _resume_parser(commands: Commands) -> None:
    resume = commands.add_parser(
        "resume",
        help="resume a monitor paused with tether pause",
        description="Resume MONITOR through the running monitor's API: it is probed again "
        "at once.  Exit codes as for tether pause.",
    )
    resume.add_argument("monitor", metavar="MONITOR", help="the monitor's name")
    resume.add_argument("--reason", metavar="TEXT", help="why, kept in the audit log")
    server_options(resume)


def _check_parser(commands: Commands) -> None:
    check_now = commands.add_parser(
        "check",
        help="probe a monitor of a running tether monitor now and print the result",
        description="Ask the running monitor to probe MONITOR now and print the result.  "
        "Exit 0 when the check passes (or another instance makes it), 1 when it fails; "
        "otherwise as for tether pause.",
    )
    check_now.add_argument("monitor", metavar="MONITOR", help="the monitor's name")
    server_options(check_now)


def _note_parser(commands: Commands) -> None:
    note = commands.add_parser(
        "note",
        help="add a note to an incident's timeline",
        description="Add TEXT to incident ID's timeline through the running monitor's API.  "
        "Exit codes as for tether pause.",
    )
    note.add_argument("incident", type=int, metavar="ID", help="the incident's number")
    note.add_argument("text", metavar="TEXT", help="the note (quote it)")
    server_options(note)


def _maintenance_parser(commands: Commands) -> None:
    maintenance = commands.add_parser(
        "maintenance",
        help="open, close or list maintenance windows of a running tether monitor",
        description="Maintenance windows opened at run time: while one is open, the alerts "
        "of its monitors are held (checks go on).  Exit codes as for tether pause.",
    )
    windows = maintenance.add_subparsers(
        dest="maintenance", metavar="ACTION", help="start, end or list", required=True
    )
    start = windows.add_parser(
        "start", help="open a window now", description="Open a maintenance window now."
    )
    start.add_argument(
        "--monitor",
        action="append",
        default=[],
        dest="monitors",
        metavar="NAME",
        help="a monitor it covers (again for more; none: every monitor)",
    )
    length = start.add_mutually_exclusive_group(required=True)
    length.add_argument("--for", dest="length", metavar="DURATION", help="how long: 30m, 2h")
    length.add_argument(
        "--until", metavar="TIME", help="when it ends: ISO 8601 with an offset, 2030-01-15T08:00Z"
    )
    start.add_argument("--reason", required=True, metavar="TEXT", help="why, shown and logged")
    server_options(start)
    end = windows.add_parser(
        "end", help="close a window now", description="Close maintenance window ID now."
    )
    end.add_argument("window", type=int, metavar="ID", help="the window's number")
    server_options(end)
    listed = windows.add_parser(
        "list", help="the windows opened at run time", description="List the windows."
    )
    server_options(listed)


def _push(args: argparse.Namespace) -> int:
    """``tether push``: one request to ``/api/push/TOKEN``; nothing printed on success,
    one line (never the token) and its exit code on failure."""
    from urllib.parse import quote, urlencode, urlsplit

    from tether.monitor import RemoteError, remote_request, server_url

    target = args.target
    if "://" in target:
        parts = urlsplit(target)
        server = f"{parts.scheme}://{parts.netloc}"
        path = parts.path
    else:
        server = server_url(args.server, os.environ, None)
        path = f"/api/push/{quote(target, safe='')}"
    query = {"status": args.status}
    if args.msg is not None:
        query["msg"] = args.msg
    if args.duration_ms is not None:
        query["duration_ms"] = f"{max(0.0, args.duration_ms):.3f}"
    try:
        if not path.startswith("/api/push/"):
            raise RemoteError("give http://HOST:PORT/api/push/TOKEN, or the token alone", 2)
        remote_request(server, "POST", f"{path}?{urlencode(query)}")
    except RemoteError as exc:
        print(f"tether push: {exc}", file=sys.stderr)
        return exc.code
    return EXIT_OK


def remote_target(args: argparse.Namespace, command: str) -> tuple[str, str | None] | int:
    """The running monitor ``command`` asks (``--server``, ``$TETHER_SERVER``, else the
    configuration's ``server.listen``) and the token it sends; an exit code when the
    configuration cannot be read."""
    from tether.monitor import server_url

    listen = None
    config_file = getattr(args, "config", None) or (
        DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None
    )
    if args.server is None and not os.environ.get("TETHER_SERVER") and config_file:
        config = load_monitor_config(config_file, command)
        if isinstance(config, int):
            return config
        listen = config.server.listen
    server = server_url(args.server, os.environ, listen)
    return server, args.token or os.environ.get("TETHER_TOKEN") or None


def ask(
    args: argparse.Namespace,
    command: str,
    call: tuple[str, str, dict[str, Any] | None],
) -> tuple[int, dict[str, Any]] | int:
    """Send ``call`` (method, path, body) to the running monitor ``args`` names: its
    status and document, or the exit code once the failure is said in one line."""
    from tether.monitor import RemoteError, remote_request

    found = remote_target(args, command)
    if isinstance(found, int):
        return found
    server, token = found
    method, path, body = call
    try:
        return remote_request(server, method, path, body, token=token)
    except RemoteError as exc:
        print(f"tether {command}: {exc}", file=sys.stderr)
        return exc.code


def remote(args: argparse.Namespace) -> int:
    """One request to a running monitor's write API: one line on success, one line and
    its exit code (docs/monitor.md, "Changing things at run time") on failure."""
    command = args.command if args.command != "maintenance" else f"maintenance {args.maintenance}"
    answered = ask(args, command, _remote_call(args))
    if isinstance(answered, int):
        return answered
    status, doc = answered
    if getattr(args, "json", False):
        print_json(doc)
    else:
        print(_remote_line(args, status, doc))
    if args.command == "check" and doc.get("result") is not None and not doc["result"]["ok"]:
        return EXIT_FAILURE
    return EXIT_OK


def _remote_call(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    from tether.monitor import monitor_api_path

    if args.command in ("pause", "resume"):
        body = {} if args.reason is None else {"reason": args.reason}
        return "POST", monitor_api_path(args.monitor, args.command), body
    if args.command == "check":
        return "POST", monitor_api_path(args.monitor, "check"), None
    if args.command == "note":
        return "POST", f"/api/incidents/{args.incident}/notes", {"text": args.text}
    if args.command == "ack":
        return "POST", f"/api/incidents/{args.incident}/acknowledge", None
    if args.maintenance == "start":
        body = {"reason": args.reason, "monitors": args.monitors}
        body.update({"for": args.length} if args.length else {"until": args.until})
        return "POST", "/api/maintenance", body
    if args.maintenance == "end":
        return "POST", f"/api/maintenance/{args.window}/close", None
    return "GET", "/api/maintenance", None


def _remote_line(args: argparse.Namespace, status: int, doc: dict[str, Any]) -> str:
    """What a remote command says when it worked."""
    already = "" if doc.get("changed", True) else " already"
    if args.command in ("pause", "resume"):
        return f"{doc['monitor']} {'paused' if doc['paused'] else 'resumed'}{already}"
    if args.command == "check":
        result = doc["result"]
        if result is None:
            return f"{doc['monitor']}: check asked for; its result comes to its page"
        if result["ok"]:
            latency = result["latency_ms"]
            timed = "" if latency is None else f" in {latency:.1f} ms"
            return f"{doc['monitor']}: ok{timed}"
        why = ": ".join(str(p) for p in (result["kind"] or "condition", result["detail"]) if p)
        return f"{doc['monitor']}: failed: {why}"
    if args.command == "note":
        return f"note added to incident {doc['incident']}"
    if args.command == "ack":
        what = "acknowledged" if doc["changed"] else "was acknowledged already"
        return f"incident {doc['incident']} {what}: reminders and escalation stop"
    if args.maintenance == "start":
        covers = ", ".join(doc["monitors"]) or "every monitor"
        return f"maintenance window {doc['id']} open until {doc['end']} for {covers}"
    if args.maintenance == "end":
        what = "closed" if doc["changed"] else "was closed or over already"
        return f"maintenance window {doc['id']} {what}"
    lines = [
        f"{w['id']}  {'open' if w['open'] else 'over'}  {w['start']} .. {w['end']}  "
        f"{', '.join(w['monitors']) or 'every monitor'}  {w['reason']} ({w['opened_by']})"
        for w in doc["windows"]
    ]
    return "\n".join(lines) or "no maintenance windows"


PUSH = Command("push", _push_parser, _push)
ASKING = tuple(
    Command(name, add, remote)
    for name, add in (
        ("pause", _pause_parser),
        ("resume", _resume_parser),
        ("check", _check_parser),
        ("note", _note_parser),
        ("maintenance", _maintenance_parser),
    )
)
"""The commands that send a request to a running monitor; each takes ``--server`` and
``--token``."""
