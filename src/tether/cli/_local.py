"""The commands that read the monitor's configuration and its store on this machine
(``monitor``, ``status``, ``history``, ``incidents``, ``ack``, ``check-config``), the
credentials' helpers (``hash-password``, ``new-token``) and ``demo``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, TypeVar

from tether.cli._remote import remote
from tether.cli._shared import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    config_option,
    json_option,
    load_monitor_config,
    print_json,
    server_options,
    with_config,
)

if TYPE_CHECKING:
    from tether.cli._shared import Commands
    from tether.monitor import MonitorConfig, Store

_Doc = TypeVar("_Doc", bound=Mapping[str, object])
"""A command's document (``tether status``, ``history``, ``incidents``), typed."""


def _check_config_parser(commands: Commands) -> None:
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
    config_option(check)
    check.add_argument(
        "--json",
        action="store_true",
        help="print the verdict as one JSON object on standard output (docs/monitor-config.md)",
    )


def _monitor_parser(commands: Commands) -> None:
    monitor = commands.add_parser(
        "monitor",
        help="probe the configured endpoints, detect outages, open incidents, send alerts",
        description="Run the monitor of FILE (default tether.yaml) until interrupted: "
        "probe each monitor on its interval, store every result, open and resolve "
        "incidents with their cause, and deliver alerts through the outbox.",
    )
    config_option(monitor)
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
    monitor.add_argument(
        "--log-stalls",
        type=_milliseconds,
        metavar="MS",
        help="log each time the event loop was held longer than MS milliseconds, and "
        "each collection of the garbage collector as long, with what held it (a "
        "diagnostic for slow answers; off by default)",
    )


def _ack_parser(commands: Commands) -> None:
    ack = commands.add_parser(
        "ack",
        help="acknowledge an open incident: its reminders and escalation stop",
        description="Acknowledge the open incident ID in the monitor's store: the running "
        "tether monitor stops its reminders and escalation steps (within a second).  The "
        "incident stays open until its monitors are back up.",
    )
    ack.add_argument("incident", type=int, metavar="ID", help="the incident's number")
    config_option(ack)
    ack.add_argument("--by", default=None, metavar="WHO", help="who acknowledges (default $USER)")
    server_options(ack, optional=True)


def _status_parser(commands: Commands) -> None:
    status = commands.add_parser(
        "status",
        help="each monitor's latest result and the open incidents, from the store",
        description="Read the monitor's store (storage.path in FILE) and print each "
        "monitor's latest result and every open incident.",
    )
    config_option(status)
    json_option(status)


def _history_parser(commands: Commands) -> None:
    history = commands.add_parser(
        "history",
        help="a monitor's recent results, or its roll-ups per minute, hour or day",
        description="Print MONITOR's stored results, newest first; with --per, its "
        "roll-ups (checks, successes, latency) per minute, hour or day.",
    )
    history.add_argument("monitor", metavar="MONITOR", help="the monitor's name in FILE")
    config_option(history)
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
    json_option(history)


def _incidents_parser(commands: Commands) -> None:
    incidents = commands.add_parser(
        "incidents",
        help="incidents, newest first, with their cause and timeline",
        description="Print the stored incidents, newest first: cause, affected monitors, "
        "when they opened and resolved, and their timeline.",
    )
    config_option(incidents)
    incidents.add_argument("--open", action="store_true", help="only the open ones")
    incidents.add_argument(
        "--limit", type=int, default=20, metavar="N", help="at most N, the newest (default 20)"
    )
    json_option(incidents)


def _hash_password_parser(commands: Commands) -> None:
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


def _new_token_parser(commands: Commands) -> None:
    token = commands.add_parser(
        "new-token",
        help="make an API token and print it once, with the hash for tokens: in the configuration",
        description="Make a random API token, print it once (it is not kept anywhere), and "
        "the tokens: entry holding its SHA-256 hash (docs/security.md).",
    )
    token.add_argument("name", metavar="NAME", help="the token's name, as the audit log shows it")
    token.add_argument(
        "--scope",
        choices=("read", "write", "report", "agent"),
        default="read",
        help="read: the dashboard's JSON, /metrics and /probe; write: changes too; report: "
        "an application's reports of its calls to /api/report, nothing else; agent: a "
        "tether agent's for its --location, nothing else (default read)",
    )
    token.add_argument(
        "--location",
        metavar="LOC",
        help="the location an agent token reports for (with --scope agent, and only then)",
    )


def _demo_parser(commands: Commands) -> None:
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
    demo.add_argument(
        "--agents",
        action="store_true",
        help="run a tether agent beside the monitor, at a location of its own (agent-1), "
        "and end with each monitor's state at each location",
    )


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
            print_json(
                {
                    "file": path,
                    "valid": False,
                    "monitors": None,
                    "alert_channels": None,
                    "maintenance_windows": None,
                    "discovery_sources": None,
                    "errors": exc.located,
                }
            )
        else:
            for line in exc.located:
                print(line, file=sys.stderr)
        return EXIT_FAILURE
    warned = config_warnings(config)
    if as_json:
        print_json(
            {
                "file": path,
                "valid": True,
                "monitors": len(config.monitors),
                "alert_channels": len(config.alerts),
                "maintenance_windows": len(config.maintenance),
                "discovery_sources": len(config.discover),
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
    if config.discover:
        # The monitors a source makes are found when the monitor reads it, not here.
        counts.append(
            f"{count(len(config.discover), 'discovery source')} (read as the monitor runs)"
        )
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


def _new_token(name: str, scope: str, location: str | None) -> int:
    import json

    from tether.monitor.config._passwords import hash_token, new_token

    if (scope == "agent") != (location is not None):
        why = (
            "an agent token names the location it reports for: --location LOC"
            if location is None
            else f"--location: only an agent token (--scope agent) names one, not a {scope} token"
        )
        print(f"tether new-token: {why}", file=sys.stderr)
        return EXIT_USAGE
    where = "" if location is None else f", location: {json.dumps(location)}"
    token = new_token()
    print(f"token (shown once, keep it where its user can read it): {token}")
    print("for tokens: in the configuration:")
    entry = f"name: {json.dumps(name)}, hash: {json.dumps(hash_token(token))}, scope: {scope}"
    print(f"  - {{{entry}{where}}}")
    return EXIT_OK


def _milliseconds(text: str) -> float:
    """``--log-stalls MS``: a positive number of milliseconds, as seconds."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 3_600_000:
        raise argparse.ArgumentTypeError(f"not a positive number of milliseconds: {text!r}")
    return value / 1000


def _monitor(
    path: str, log_format: Literal["text", "json"], location: str | None, stalls: float | None
) -> int:
    from tether.monitor import LocationError, logging_to, resolve_location, run_monitor

    # Set up first, so that what opening the store says is seen too.
    with logging_to(sys.stderr, log_format, own_process=True):
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
            return run_monitor(path, config, store, location=here, stalls=stalls)


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


def _status(path: str, *, as_json: bool) -> int:
    import time

    from tether.monitor import status_report, status_text

    opened = _open_store(path, "status")
    if isinstance(opened, int):
        return opened
    config, store = opened
    with store:
        report = status_report(_discovered(config, store), store, time.time())
    _print_report(report, as_json, status_text)
    # A partial incident (some locations fail, fewer than the quorum) is not an outage.
    outage = any(not i["partial"] for i in report["open_incidents"])
    return EXIT_FAILURE if outage else EXIT_OK


def _print_report(report: _Doc, as_json: bool, as_text: Callable[[_Doc], str]) -> None:
    if as_json:
        print_json(report)
    else:
        sys.stdout.write(as_text(report))


def _open_store(path: str, command: str) -> tuple[MonitorConfig, Store] | int:
    """The configuration and its store, or the exit code after saying what is wrong."""
    from tether.monitor import StoreError, open_store

    config = load_monitor_config(path, command)
    if isinstance(config, int):
        return config
    try:
        store = open_store(config.storage, delivers=command == "monitor")
    except StoreError as exc:
        # Like a file that cannot be read: nothing can start until the operator acts.
        print(f"tether {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return config, store


def _discovered(config: MonitorConfig, store: Store) -> MonitorConfig:
    """The file's configuration with the discovered monitors the store holds (a store
    that cannot be read for them: the file's alone, as the monitor would start)."""
    from tether.monitor.runtime._discovery import with_discovered

    return with_discovered(config, store)


def _history(path: str, monitor: str, limit: int, per: str | None, *, as_json: bool) -> int:
    import time

    from tether._suggest import did_you_mean
    from tether.monitor import history_report, history_text

    opened = _open_store(path, "history")
    if isinstance(opened, int):
        return opened
    config, store = opened
    with store:
        known = [m.name for m in _discovered(config, store).monitors]
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


_ack_in_store = with_config(lambda args, path: _ack(path, args.incident, args.by))


def _ack_command(args: argparse.Namespace) -> int:
    """Sent to a running monitor when a server is given, else written to the store."""
    if args.server or os.environ.get("TETHER_SERVER"):
        return remote(args)
    return _ack_in_store(args)


def _demo(args: argparse.Namespace) -> int:
    from tether.monitor import logging_to, run_demo

    # The demo tells its own story on stdout; only what went wrong is logged.
    with logging_to(sys.stderr, level=logging.ERROR, own_process=True):
        return run_demo(args.duration, keep=args.keep, linger=args.linger, agents=args.agents)


CHECK_CONFIG = Command(
    "check-config",
    _check_config_parser,
    with_config(lambda args, path: _check_config(path, as_json=args.json)),
)
MONITOR = Command(
    "monitor",
    _monitor_parser,
    with_config(lambda args, path: _monitor(path, args.log_format, args.location, args.log_stalls)),
)
ACK = Command("ack", _ack_parser, _ack_command)
STATUS = Command(
    "status", _status_parser, with_config(lambda args, path: _status(path, as_json=args.json))
)
HISTORY = Command(
    "history",
    _history_parser,
    with_config(
        lambda args, path: _history(path, args.monitor, args.limit, args.per, as_json=args.json)
    ),
)
INCIDENTS = Command(
    "incidents",
    _incidents_parser,
    with_config(
        lambda args, path: _incidents(
            path, open_only=args.open, limit=args.limit, as_json=args.json
        )
    ),
)
HASH_PASSWORD = Command(
    "hash-password", _hash_password_parser, lambda args: _hash_password(args.user)
)
NEW_TOKEN = Command(
    "new-token", _new_token_parser, lambda args: _new_token(args.name, args.scope, args.location)
)
DEMO = Command("demo", _demo_parser, _demo)
