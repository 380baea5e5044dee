"""The ``tether`` command: wiring only.

Exit codes: 0 success, 1 a failure was found or a run failed, 2 usage error.
Every option has a help text (tests/test_cli_help.py walks the parser to hold that).
Heavy modules are imported inside each command, so ``tether --version``
stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from tether.monitor import MonitorConfig, Store

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DEFAULT_CONFIG = "tether.yaml"
NO_CONFIG = (
    "no --config FILE given and no tether.yaml here; `tether demo --keep DIR` writes an "
    "example to DIR/tether.yaml, and docs/monitor.md explains every part"
)
"""Said (after ``tether COMMAND: ``) when a command that reads the monitor's configuration
finds neither: it is most often someone's first run."""


def _parser() -> argparse.ArgumentParser:
    from tether._version import __version__

    parser = argparse.ArgumentParser(
        prog="tether", description="Make network failures survivable and explainable."
    )
    parser.add_argument("--version", action="version", version=f"tether {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", help="one of these; `tether COMMAND -h` for its options"
    )

    explain = commands.add_parser(
        "explain",
        help="what a failure kind means and how to fix it",
        description="Explain a failure kind: what it means, its causes, how to fix it. "
        "Without KIND, list every kind.",
    )
    explain.add_argument("kinds", nargs="*", metavar="KIND", help="e.g. connect.refused")
    explain_format = explain.add_mutually_exclusive_group()
    explain_format.add_argument(
        "--markdown",
        action="store_true",
        help="print the whole catalogue as Markdown (docs/failures.md)",
    )
    explain_format.add_argument(
        "--json",
        action="store_true",
        help="print the kinds (all of them without KIND) as one JSON object (docs/classify.md)",
    )

    lab = commands.add_parser(
        "lab",
        help="run the fault lab: servers on loopback that misbehave on purpose",
        description="Start every fault-lab scenario on loopback and print its URL and the "
        "failure kind it produces; run until interrupted.",
    )
    lab.add_argument("--json", action="store_true", help="print the scenarios as JSON")
    lab.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    lab.add_argument(
        "--dns-port",
        type=int,
        default=0,
        help="port of the lab's DNS server (default: any free port)",
    )
    lab.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="BASE",
        help="serve each scenario on a fixed port, BASE plus its offset (tether lab --list), "
        "the same at every start; default: any free ports",
    )
    lab.add_argument(
        "--list",
        action="store_true",
        help="print each scenario's port offset (its port with --port) and kind, and exit",
    )
    lab.add_argument(
        "--matrix",
        action="store_true",
        help="instead of serving, drive every scenario through every installed "
        "client library and print what each raised and what tether says",
    )
    lab.add_argument(
        "--markdown", action="store_true", help="with --matrix: print Markdown (docs/matrix.md)"
    )

    diagnose = commands.add_parser(
        "diagnose",
        help="walk URL, proxy, DNS, TCP, TLS and HTTP; name the broken layer and the fix",
        description="Probe each target layer by layer, time every phase, and say what is "
        "broken and how to fix it.  A target is a URL (http://, https://), tcp://host:port "
        "or host:port for a TCP check, tls://host:port for a handshake, ws:// or wss:// for a "
        "WebSocket upgrade, or - to read targets "
        "from standard input.  Exit 0 when every target is healthy, 1 when a failure was "
        "found, 2 for a usage error.",
    )
    diagnose.add_argument(
        "targets",
        nargs="+",
        metavar="URL",
        help="http(s):// or ws(s):// URL, tcp://host:port or host:port, tls://host:port, "
        "or - for stdin",
    )
    diagnose.add_argument("--json", action="store_true", help="one JSON object per target")
    diagnose.add_argument(
        "--resolver", metavar="HOST[:PORT]", help="ask this DNS server instead of the system's"
    )
    diagnose.add_argument("--cacert", metavar="FILE", help="also trust the CAs in FILE")
    diagnose.add_argument(
        "--insecure",
        action="store_true",
        help="go on past a failed certificate verification (it is still reported)",
    )
    diagnose.add_argument(
        "--proxy", metavar="URL", help="use this proxy ('' for none; default: HTTP(S)_PROXY)"
    )
    diagnose.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="per phase (default 5)"
    )
    diagnose.add_argument(
        "-X",
        dest="method",
        default="GET",
        metavar="METHOD",
        help="the request method (default GET; no body is sent)",
    )
    diagnose.add_argument(
        "-H",
        dest="headers",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="an extra request header; repeat for more",
    )
    family = diagnose.add_mutually_exclusive_group()
    family.add_argument(
        "-4",
        dest="family",
        action="store_const",
        const=4,
        default=0,
        help="IPv4 only (A records)",
    )
    family.add_argument(
        "-6", dest="family", action="store_const", const=6, help="IPv6 only (AAAA records)"
    )

    check = commands.add_parser(
        "check-config",
        help="validate a monitor configuration file without running it",
        description="Validate the monitor configuration file (--config FILE or FILE, default "
        "tether.yaml): YAML syntax, every key and value, and the references between them.  "
        "Exit 0 when it is valid, 1 when it is not (one line per problem on standard error, "
        "or --json), 2 when the file cannot be read.",
    )
    check.add_argument(
        "file", nargs="?", metavar="FILE", help="the same as --config FILE (kept for scripts)"
    )
    _config_option(check)
    check.add_argument(
        "--json",
        action="store_true",
        help="print the verdict as one JSON object on standard output (docs/monitor-config.md)",
    )

    monitor = commands.add_parser(
        "monitor",
        help="probe the configured endpoints, detect outages, open incidents, send alerts",
        description="Run the monitor of FILE (default tether.yaml) until interrupted: "
        "probe each monitor on its interval, store every result, open and resolve "
        "incidents with their cause, and deliver alerts through the outbox.",
    )
    _config_option(monitor)
    monitor.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="what each line on standard error looks like: text for people (default), "
        "json (one object per line) for log shippers",
    )
    monitor.add_argument(
        "--location",
        metavar="NAME",
        help="where this instance probes from, one of the file's locations (default: "
        "$TETHER_LOCATION, or the file's only location)",
    )

    ack = commands.add_parser(
        "ack",
        help="acknowledge an open incident: its reminders and escalation stop",
        description="Acknowledge the open incident ID in the monitor's store: the running "
        "tether monitor stops its reminders and escalation steps (within a second).  The "
        "incident stays open until its monitors are back up.",
    )
    ack.add_argument("incident", type=int, metavar="ID", help="the incident's number")
    _config_option(ack)
    ack.add_argument("--by", default=None, metavar="WHO", help="who acknowledges (default $USER)")
    _server_options(ack, optional=True)

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
    _server_options(pause)

    resume = commands.add_parser(
        "resume",
        help="resume a monitor paused with tether pause",
        description="Resume MONITOR through the running monitor's API: it is probed again "
        "at once.  Exit codes as for tether pause.",
    )
    resume.add_argument("monitor", metavar="MONITOR", help="the monitor's name")
    resume.add_argument("--reason", metavar="TEXT", help="why, kept in the audit log")
    _server_options(resume)

    check_now = commands.add_parser(
        "check",
        help="probe a monitor of a running tether monitor now and print the result",
        description="Ask the running monitor to probe MONITOR now and print the result.  "
        "Exit 0 when the check passes (or another instance makes it), 1 when it fails; "
        "otherwise as for tether pause.",
    )
    check_now.add_argument("monitor", metavar="MONITOR", help="the monitor's name")
    _server_options(check_now)

    note = commands.add_parser(
        "note",
        help="add a note to an incident's timeline",
        description="Add TEXT to incident ID's timeline through the running monitor's API.  "
        "Exit codes as for tether pause.",
    )
    note.add_argument("incident", type=int, metavar="ID", help="the incident's number")
    note.add_argument("text", metavar="TEXT", help="the note (quote it)")
    _server_options(note)

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
    _server_options(start)
    end = windows.add_parser(
        "end", help="close a window now", description="Close maintenance window ID now."
    )
    end.add_argument("window", type=int, metavar="ID", help="the window's number")
    _server_options(end)
    listed = windows.add_parser(
        "list", help="the windows opened at run time", description="List the windows."
    )
    _server_options(listed)

    status = commands.add_parser(
        "status",
        help="each monitor's latest result and the open incidents, from the store",
        description="Read the monitor's store (storage.path in FILE) and print each "
        "monitor's latest result and every open incident.",
    )
    _config_option(status)
    _json_option(status)

    history = commands.add_parser(
        "history",
        help="a monitor's recent results, or its roll-ups per minute, hour or day",
        description="Print MONITOR's stored results, newest first; with --per, its "
        "roll-ups (checks, successes, latency) per minute, hour or day.",
    )
    history.add_argument("monitor", metavar="MONITOR", help="the monitor's name in FILE")
    _config_option(history)
    history.add_argument(
        "--limit",
        type=int,
        default=20,
        metavar="N",
        help="at most N results or roll-ups, the latest (default 20)",
    )
    history.add_argument(
        "--per",
        choices=("minute", "hour", "day"),
        help="roll-ups per minute, hour or day instead of the results",
    )
    _json_option(history)

    incidents = commands.add_parser(
        "incidents",
        help="incidents, newest first, with their cause and timeline",
        description="Print the stored incidents, newest first: cause, affected monitors, "
        "when they opened and resolved, and their timeline.",
    )
    _config_option(incidents)
    incidents.add_argument("--open", action="store_true", help="only the open ones")
    incidents.add_argument(
        "--limit", type=int, default=20, metavar="N", help="at most N, the newest (default 20)"
    )
    _json_option(incidents)

    hashing = commands.add_parser(
        "hash-password",
        help="print the scrypt hash of a password, for users: in the monitor's configuration",
        description="Read a password (twice, without echo, from a terminal; one line from "
        "standard input otherwise) and print its scrypt hash, with its parameters and a "
        "fresh salt, to paste as password_hash under users: (docs/security.md).",
    )
    hashing.add_argument(
        "--user", metavar="NAME", help="also print the whole users: entry for NAME"
    )
    token = commands.add_parser(
        "new-token",
        help="make an API token and print it once, with the hash for tokens: in the configuration",
        description="Make a random API token, print it once (it is not kept anywhere), and "
        "the tokens: entry holding its SHA-256 hash (docs/security.md).",
    )
    token.add_argument("name", metavar="NAME", help="the token's name, as the audit log shows it")
    token.add_argument(
        "--scope",
        choices=("read", "write", "report"),
        default="read",
        help="read: the dashboard's JSON, /metrics and /probe; write: changes too; report: "
        "an application's reports of its calls to /api/report, nothing else (default read)",
    )

    demo = commands.add_parser(
        "demo",
        help="the fault lab, watched by the monitor on SQLite",
        description="Start the fault lab on loopback and watch it with tether monitor (real "
        "probes, the embedded SQLite store, incidents, and a webhook receiver printing each "
        "alert), then show what the monitor concluded and why. Exits 0 if every monitor "
        "ended where the lab says it should.",
    )
    demo.add_argument(
        "--duration",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="watch at most this long (default 30); it stops sooner once every monitor settles",
    )
    demo.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the generated tether.yaml, tether.db and the lab's certificates (certs/) "
        "in DIR instead of a temporary one",
    )
    demo.add_argument(
        "--linger",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="once every monitor settles, keep the lab, the monitor and its dashboard running "
        "this much longer, to look around (default 0)",
    )
    return parser


def _config_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--config",
        metavar="FILE",
        help=f"the monitor's configuration file (default {DEFAULT_CONFIG})",
    )


def _server_options(command: argparse.ArgumentParser, *, optional: bool = False) -> None:
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
        _config_option(command)
        _json_option(command)


def _json_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object on standard output instead (docs/monitor.md)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # The command is the first word that is not an option (tether's own options take no
    # value).  Its extra is checked before its arguments: installing comes first.
    command = next((w for w in words if not w.startswith("-")), None)
    if command is not None and not {"-h", "--help"} & set(words):
        from tether._extras import command_problem

        if (problem := command_problem(command)) is not None:
            print(problem, file=sys.stderr)
            return EXIT_USAGE
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "explain":
            return _explain(args.kinds, markdown=args.markdown, as_json=args.json)
        if args.command == "lab":
            if args.matrix:
                return _matrix(markdown=args.markdown)
            if args.list:
                return _lab_list(args.port)
            return _lab(args.host, args.dns_port, as_json=args.json, port_base=args.port)
        if args.command == "demo":
            from tether.monitor import logging_to, run_demo

            # The demo tells its own story on stdout; only what went wrong is logged.
            with logging_to(sys.stderr, level=logging.ERROR):
                return run_demo(args.duration, keep=args.keep, linger=args.linger)
        if args.command == "diagnose":
            return _diagnose(args)
        if args.command == "hash-password":
            return _hash_password(args.user)
        if args.command == "new-token":
            return _new_token(args.name, args.scope)
        if args.command == "push":
            return _push(args)
        if args.command in REMOTE_COMMANDS or (
            args.command == "ack" and (args.server or os.environ.get("TETHER_SERVER"))
        ):
            return _remote(args)
        if args.command in CONFIG_COMMANDS:
            path = _config_path(args)
            if isinstance(path, int):
                return path
            if args.command == "check-config":
                return _check_config(path, as_json=args.json)
            if args.command == "monitor":
                return _monitor(path, args.log_format, args.location)
            if args.command == "ack":
                return _ack(path, args.incident, args.by)
            if args.command == "status":
                return _status(path, as_json=args.json)
            if args.command == "history":
                return _history(path, args.monitor, args.limit, args.per, as_json=args.json)
            if args.command == "incidents":
                return _incidents(path, open_only=args.open, limit=args.limit, as_json=args.json)
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:  # `tether ... | head`
        return EXIT_OK
    parser.print_help()
    return EXIT_USAGE


EXIT_INTERRUPTED = 130
"""128 + SIGINT, as a shell reports a command Ctrl-C ended."""


CONFIG_COMMANDS = ("check-config", "monitor", "ack", "status", "history", "incidents")
REMOTE_COMMANDS = ("pause", "resume", "check", "note", "maintenance")
"""The commands that send a request to a running monitor (``tether ack`` too, given a
server); each takes ``--server`` and ``--token``."""
"""The commands that read the monitor's configuration: each takes ``--config FILE``."""


def _config_path(args: argparse.Namespace) -> str | int:
    """The configuration file the command reads, or the exit code after saying why none."""
    import os

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


def _print_json(document: object) -> None:
    print(json.dumps(document, indent=2))


def _diagnose(args: argparse.Namespace) -> int:
    try:
        return _diagnose_targets(args)
    except KeyboardInterrupt:  # before or after the probes (they raise Interrupted)
        return EXIT_INTERRUPTED


def _diagnose_targets(args: argparse.Namespace) -> int:
    from tether.diagnose import (
        Interrupted,
        Usage,
        check_host,
        diagnose,
        parse_options,
        render_json,
        render_text,
    )
    from tether.probe import IcmpNotPermitted

    try:
        options = parse_options(
            method=args.method,
            headers=args.headers,
            resolver=args.resolver,
            cacert=args.cacert,
            insecure=args.insecure,
            proxy=args.proxy,
            timeout=args.timeout,
            family=args.family,
        )
    except Usage as exc:
        print(f"tether diagnose: {exc}", file=sys.stderr)
        return EXIT_USAGE
    targets: list[str] = []
    for target in args.targets:
        if target == "-":
            targets.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            targets.append(target)
    if not targets:
        print("tether diagnose: no targets on standard input", file=sys.stderr)
        return EXIT_USAGE
    try:
        check_host(targets, options)
    except Usage as exc:
        print(f"tether diagnose: {exc}", file=sys.stderr)
        return EXIT_USAGE
    interrupted: list[str] = []
    try:
        results = diagnose(targets, options)
    except IcmpNotPermitted as exc:  # the machine's setup, not the target: as bad usage
        print(f"tether diagnose: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as stop:
        # What finished is printed as usual; what did not is named on stderr.
        results = [r for r in stop.results if r is not None]
        interrupted = [t for t, r in zip(targets, stop.results, strict=True) if r is None]
    if args.json:
        for result in results:
            print(render_json(result), flush=True)
    elif results:
        render_text(results, sys.stdout)
    if interrupted:
        from tether.probe import redact_target

        unfinished = ", ".join(redact_target(t) for t in interrupted)
        print(f"tether diagnose: interrupted; not finished: {unfinished}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURE


def _check_config(path: str, *, as_json: bool) -> int:
    from tether._plural import count
    from tether.monitor import ConfigError, load_config
    from tether.monitor.config import config_warnings

    try:
        config = load_config(path)
    except OSError as exc:
        print(f"tether check-config: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        if as_json:
            _print_json(
                {
                    "file": path,
                    "valid": False,
                    "monitors": None,
                    "alert_channels": None,
                    "maintenance_windows": None,
                    "errors": exc.located,
                }
            )
        else:
            for line in exc.located:
                print(line, file=sys.stderr)
        return EXIT_FAILURE
    warned = config_warnings(config)
    if as_json:
        _print_json(
            {
                "file": path,
                "valid": True,
                "monitors": len(config.monitors),
                "alert_channels": len(config.alerts),
                "maintenance_windows": len(config.maintenance),
                "errors": [],
                "warnings": warned,
            }
        )
        return EXIT_OK
    for line in warned:
        print(f"warning: {line}", file=sys.stderr)
    counts = [
        count(len(config.monitors), "monitor"),
        count(len(config.alerts), "alert channel"),
    ]
    if config.maintenance:
        counts.append(count(len(config.maintenance), "maintenance window"))
    print(f"{path}: {', '.join(counts)}, OK")
    return EXIT_OK


def _hash_password(user: str | None) -> int:
    import getpass
    import json

    from tether.monitor.config._passwords import hash_password

    if sys.stdin.isatty():
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Again: ")
        except EOFError:
            return EXIT_FAILURE
        if password != again:
            print("tether hash-password: the two passwords differ", file=sys.stderr)
            return EXIT_FAILURE
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        print("tether hash-password: the password is empty", file=sys.stderr)
        return EXIT_FAILURE
    hashed = hash_password(password)
    if user is None:
        print(hashed)
    else:
        print(f"  - {{name: {json.dumps(user)}, password_hash: {json.dumps(hashed)}}}")
    return EXIT_OK


def _new_token(name: str, scope: str) -> int:
    import json

    from tether.monitor.config._passwords import hash_token, new_token

    token = new_token()
    print(f"token (shown once, keep it where its user can read it): {token}")
    print("for tokens: in the configuration:")
    print(
        f"  - {{name: {json.dumps(name)}, hash: {json.dumps(hash_token(token))}, scope: {scope}}}"
    )
    return EXIT_OK


def _load_monitor_config(path: str, command: str) -> MonitorConfig | int:
    from tether.monitor import ConfigError, load_config

    try:
        return load_config(path)
    except OSError as exc:
        print(f"tether {command}: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        for line in exc.located:
            print(line, file=sys.stderr)
        return EXIT_FAILURE


def _monitor(path: str, log_format: Literal["text", "json"], location: str | None) -> int:
    from tether.monitor import LocationError, logging_to, resolve_location, run_monitor

    # Set up first, so that what opening the store says is seen too.
    with logging_to(sys.stderr, log_format):
        opened = _open_store(path, "monitor")
        if isinstance(opened, int):
            return opened
        config, store = opened
        with store:
            try:
                here = resolve_location(config, location)
            except LocationError as exc:
                print(f"tether monitor: {exc}", file=sys.stderr)
                return EXIT_USAGE
            return run_monitor(path, config, store, location=here)


def _ack(path: str, incident_id: int, by: str | None) -> int:
    import getpass
    import sqlite3
    import time

    from tether.monitor import StoreError, acknowledge

    opened = _open_store(path, "ack")
    if isinstance(opened, int):
        return opened
    _, store = opened
    who = by or getpass.getuser()
    with store:
        try:
            done = acknowledge(store, incident_id, who, time.time())
        except (StoreError, sqlite3.Error) as exc:
            print(f"tether ack: cannot write to the store: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        if not done:
            print(f"tether ack: no open incident {incident_id}", file=sys.stderr)
            return EXIT_FAILURE
    print(f"incident {incident_id} acknowledged by {who}: reminders and escalation stop")
    return EXIT_OK


def _push(args: argparse.Namespace) -> int:
    """``tether push``: one request to ``/api/push/TOKEN``; nothing printed on success,
    one line (never the token) and its exit code on failure."""
    import os
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


def _remote(args: argparse.Namespace) -> int:
    """One request to a running monitor's write API: one line on success, one line and
    its exit code (docs/monitor.md, "Changing things at run time") on failure."""
    import os

    from tether.monitor import RemoteError, remote_request, server_url

    command = args.command if args.command != "maintenance" else f"maintenance {args.maintenance}"
    listen = None
    config_file = getattr(args, "config", None) or (
        DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None
    )
    if args.server is None and not os.environ.get("TETHER_SERVER") and config_file:
        config = _load_monitor_config(config_file, command)
        if isinstance(config, int):
            return config
        listen = config.server.listen
    server = server_url(args.server, os.environ, listen)
    token = args.token or os.environ.get("TETHER_TOKEN") or None
    method, path, body = _remote_call(args)
    try:
        status, doc = remote_request(server, method, path, body, token=token)
    except RemoteError as exc:
        print(f"tether {command}: {exc}", file=sys.stderr)
        return exc.code
    if getattr(args, "json", False):
        _print_json(doc)
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


def _status(path: str, *, as_json: bool) -> int:
    import time

    from tether.monitor import status_report, status_text

    opened = _open_store(path, "status")
    if isinstance(opened, int):
        return opened
    config, store = opened
    with store:
        report = status_report(config, store, time.time())
    _print_report(report, as_json, status_text)
    # A partial incident (some locations fail, fewer than the quorum) is not an outage.
    outage = any(not i["partial"] for i in report["open_incidents"])
    return EXIT_FAILURE if outage else EXIT_OK


def _print_report(
    report: dict[str, Any], as_json: bool, as_text: Callable[[dict[str, Any]], str]
) -> None:
    if as_json:
        _print_json(report)
    else:
        sys.stdout.write(as_text(report))


def _open_store(path: str, command: str) -> tuple[MonitorConfig, Store] | int:
    """The configuration and its store, or the exit code after saying what is wrong."""
    from tether.monitor import StoreError, open_store

    config = _load_monitor_config(path, command)
    if isinstance(config, int):
        return config
    try:
        store = open_store(config.storage)
    except StoreError as exc:
        # Like a file that cannot be read: nothing can start until the operator acts.
        print(f"tether {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return config, store


def _history(path: str, monitor: str, limit: int, per: str | None, *, as_json: bool) -> int:
    import time

    from tether._suggest import did_you_mean
    from tether.monitor import history_report, history_text

    opened = _open_store(path, "history")
    if isinstance(opened, int):
        return opened
    config, store = opened
    with store:
        known = [m.name for m in config.monitors]
        if monitor not in known:
            near = did_you_mean(monitor, known, sep="; ")
            print(
                f"tether history: no monitor named {monitor!r}{near} "
                f"(there are: {', '.join(known)})",
                file=sys.stderr,
            )
            return EXIT_USAGE
        report = history_report(store, monitor, time.time(), limit=limit, per=per)
    _print_report(report, as_json, history_text)
    return EXIT_OK


def _incidents(path: str, *, open_only: bool, limit: int, as_json: bool) -> int:
    import functools
    import time

    from tether.monitor import incidents_report, incidents_text

    opened = _open_store(path, "incidents")
    if isinstance(opened, int):
        return opened
    _, store = opened
    with store:
        report = incidents_report(store, time.time(), open_only=open_only, limit=limit)
    _print_report(report, as_json, functools.partial(incidents_text, open_only=open_only))
    return EXIT_OK


def _explain(kinds: list[str], *, markdown: bool, as_json: bool) -> int:
    from tether._explain import explain_json, explain_text, failures_markdown, kinds_table
    from tether._kinds import Kind
    from tether._suggest import did_you_mean

    if markdown:
        sys.stdout.write(failures_markdown())
        return EXIT_OK
    known = {k.value: k for k in Kind}
    if as_json and not kinds:
        _print_json(explain_json())
        return EXIT_OK
    if not kinds:
        sys.stdout.write(kinds_table())
        return EXIT_OK
    unknown = [k for k in kinds if k not in known]
    if unknown:
        hint = did_you_mean(unknown[0], known, sep="; ") or ";"
        print(
            f"tether explain: unknown kind {unknown[0]!r}{hint} `tether explain` lists them all",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if as_json:
        _print_json(explain_json([known[k] for k in kinds]))
        return EXIT_OK
    sys.stdout.write("\n".join(explain_text(known[k]) for k in kinds))
    return EXIT_OK


def _lab_list(port_base: int) -> int:
    """``tether lab --list``: the scenarios' offsets (ports, from ``--port``), nothing
    started."""
    from tether.lab import SPECS
    from tether.lab._lab import PORT_OFFSETS, listener_of

    width = max(len(name) for name, _, _ in SPECS)
    print(f"{'scenario':{width}}  {'port' if port_base else 'offset':>6}  kind")
    for name, kind, _ in SPECS:
        offset = PORT_OFFSETS[listener_of(name)]
        where = port_base + offset if port_base else offset
        print(f"{name:{width}}  {where:>6}  {kind.value if kind else 'ok'}")
    dns = PORT_OFFSETS["dns"]
    print(f"{'(DNS server)':{width}}  {port_base + dns if port_base else dns:>6}")
    return EXIT_OK


def _lab(host: str, dns_port: int, *, as_json: bool, port_base: int = 0) -> int:
    import ipaddress
    import signal
    import threading

    from tether.lab import Lab

    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
    except ValueError:
        print(
            f"tether lab: {host!r} is not a loopback address; the lab only serves on "
            "127.0.0.0/8 or ::1",
            file=sys.stderr,
        )
        return EXIT_USAGE
    stop = threading.Event()
    # Both signals just set the event: a KeyboardInterrupt raised between printing
    # the listing and waiting would end the command with a failure instead.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        lab = Lab(host=host, dns_port=dns_port, port_base=port_base).start()
    except ValueError as exc:
        print(f"tether lab: {str(exc).replace('port_base:', '--port:')}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"tether lab: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        if as_json:
            print(
                json.dumps(
                    {
                        "resolver": lab.resolver,
                        "ca_file": lab.ca_file,
                        "scenarios": [_scenario_json(s) for s in lab],
                    },
                    indent=2,
                ),
                flush=True,
            )
        else:
            _print_lab(lab)
            print("\nPress Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    finally:
        lab.stop()
    if not as_json:
        print("lab stopped", file=sys.stderr)
    return EXIT_OK


def _scenario_json(s: object) -> dict[str, object]:
    from tether.lab import Scenario

    assert isinstance(s, Scenario)
    return {
        "name": s.name,
        "url": s.url,
        "kind": s.kind.value if s.kind else None,
        "description": s.description,
        "proxy": s.proxy,
        "resolver": s.resolver,
        "method": s.method,
    }


def _print_lab(lab: object) -> None:
    from tether._hostport import split_hostport
    from tether.lab import Lab

    assert isinstance(lab, Lab)
    rows = [
        (
            s.name,
            s.url + (f"  via {s.proxy}" if s.proxy else ""),
            s.kind.value if s.kind else "(healthy)",
        )
        for s in lab
    ]
    _table(("scenario", "url", "kind"), rows)
    host, port = split_hostport(lab.resolver)
    print(
        f"\nDNS: the lab resolver at {lab.resolver} serves lab.test. "
        f"(dig @{host} -p {port} ok.lab.test)"
    )
    print(f"TLS: trust {lab.ca_file} to reach tls_ok")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from tether._table import text_table

    sys.stdout.write(text_table(header, rows))


def _matrix(*, markdown: bool) -> int:
    from tether.lab import Lab
    from tether.lab._matrix import matrix_markdown, netns_available, run_in_netns, run_matrix

    with Lab() as lab:
        cases = run_matrix(lab)
    why_not = netns_available()
    if why_not is None:
        cases += run_in_netns()
    else:
        print(f"tether lab --matrix: DNS and routing scenarios skipped: {why_not}", file=sys.stderr)
    if markdown:
        sys.stdout.write(matrix_markdown(cases))
    else:
        _table(
            ("scenario", "client", "raised", "tether"),
            [(c.scenario, c.client, c.raised or c.outcome, c.kind or "-") for c in cases],
        )
    return EXIT_OK if all(c.agrees for c in cases) else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
