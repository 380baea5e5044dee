"""The ``tether`` command: wiring only.

Exit codes: 0 success, 1 a failure was found or a run failed, 2 usage error.
Heavy modules are imported inside each command, so ``tether --version``
stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tether.monitor import MonitorConfig, Store

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    from tether._version import __version__

    parser = argparse.ArgumentParser(
        prog="tether", description="Make network failures survivable and explainable."
    )
    parser.add_argument("--version", action="version", version=f"tether {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    explain = commands.add_parser(
        "explain",
        help="what a failure kind means and how to fix it",
        description="Explain a failure kind: what it means, its causes, how to fix it. "
        "Without KIND, list every kind.",
    )
    explain.add_argument("kinds", nargs="*", metavar="KIND", help="e.g. connect.refused")
    explain.add_argument(
        "--markdown",
        action="store_true",
        help="print the whole catalogue as Markdown (docs/failures.md)",
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
        "or host:port for a TCP check, tls://host:port for a handshake, or - to read targets "
        "from standard input.  Exit 0 when every target is healthy, 1 when a failure was "
        "found, 2 for a usage error.",
    )
    diagnose.add_argument("targets", nargs="+", metavar="URL")
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
    diagnose.add_argument("-X", dest="method", default="GET", metavar="METHOD")
    diagnose.add_argument(
        "-H", dest="headers", action="append", default=[], metavar="'Name: value'"
    )
    family = diagnose.add_mutually_exclusive_group()
    family.add_argument("-4", dest="family", action="store_const", const=4, default=0)
    family.add_argument("-6", dest="family", action="store_const", const=6)

    check = commands.add_parser(
        "check-config",
        help="validate a monitor configuration file without running it",
        description="Validate the monitor configuration FILE (default tether.yaml): YAML "
        "syntax, every key and value, and the references between them.  Exit 0 when it is "
        "valid, 1 when it is not (one line per problem on standard error), 2 when the file "
        "cannot be read.",
    )
    check.add_argument("file", nargs="?", default="tether.yaml", metavar="FILE")

    monitor = commands.add_parser(
        "monitor",
        help="probe the configured endpoints, detect outages, open incidents, send alerts",
        description="Run the monitor of FILE (default tether.yaml) until interrupted: "
        "probe each monitor on its interval, store every result, open and resolve "
        "incidents with their cause, and deliver alerts through the outbox.",
    )
    monitor.add_argument("--config", default="tether.yaml", metavar="FILE")
    monitor.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="what each line on standard error looks like: text for people (default), "
        "json (one object per line) for log shippers",
    )

    ack = commands.add_parser(
        "ack",
        help="acknowledge an open incident: its reminders and escalation stop",
        description="Acknowledge the open incident ID in the monitor's store: the running "
        "tether monitor stops its reminders and escalation steps (within a second).  The "
        "incident stays open until its monitors are back up.",
    )
    ack.add_argument("incident", type=int, metavar="ID")
    ack.add_argument("--config", default="tether.yaml", metavar="FILE")
    ack.add_argument("--by", default=None, metavar="WHO", help="who acknowledges (default $USER)")

    status = commands.add_parser(
        "status",
        help="each monitor's latest result and the open incidents, from the store",
        description="Read the monitor's store (storage.path in FILE) and print each "
        "monitor's latest result and every open incident.",
    )
    status.add_argument("--config", default="tether.yaml", metavar="FILE")

    history = commands.add_parser(
        "history",
        help="a monitor's recent results, or its roll-ups per minute, hour or day",
        description="Print MONITOR's stored results, newest first; with --per, its "
        "roll-ups (checks, successes, latency) per minute, hour or day.",
    )
    history.add_argument("monitor", metavar="MONITOR")
    history.add_argument("--config", default="tether.yaml", metavar="FILE")
    history.add_argument("--limit", type=int, default=20, metavar="N")
    history.add_argument("--per", choices=("minute", "hour", "day"))

    incidents = commands.add_parser(
        "incidents",
        help="incidents, newest first, with their cause and timeline",
        description="Print the stored incidents, newest first: cause, affected monitors, "
        "when they opened and resolved, and their timeline.",
    )
    incidents.add_argument("--config", default="tether.yaml", metavar="FILE")
    incidents.add_argument("--open", action="store_true", help="only the open ones")
    incidents.add_argument("--limit", type=int, default=20, metavar="N")

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
        help="keep the generated tether.yaml and tether.db in DIR instead of a temporary one",
    )
    return parser


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
            return _explain(args.kinds, markdown=args.markdown)
        if args.command == "lab":
            if args.matrix:
                return _matrix(markdown=args.markdown)
            return _lab(args.host, args.dns_port, as_json=args.json)
        if args.command == "demo":
            from tether.monitor import logging_to, run_demo

            # The demo tells its own story on stdout; only what went wrong is logged.
            with logging_to(sys.stderr, level=logging.ERROR):
                return run_demo(args.duration, keep=args.keep)
        if args.command == "diagnose":
            return _diagnose(args)
        if args.command == "check-config":
            return _check_config(args.file)
        if args.command == "monitor":
            return _monitor(args.config, args.log_format)
        if args.command == "ack":
            return _ack(args.config, args.incident, args.by)
        if args.command == "status":
            return _status(args.config)
        if args.command == "history":
            return _history(args.config, args.monitor, args.limit, args.per)
        if args.command == "incidents":
            return _incidents(args.config, open_only=args.open, limit=args.limit)
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:  # `tether ... | head`
        return EXIT_OK
    parser.print_help()
    return EXIT_USAGE


EXIT_INTERRUPTED = 130
"""128 + SIGINT, as a shell reports a command Ctrl-C ended."""


def _diagnose(args: argparse.Namespace) -> int:
    try:
        return _diagnose_targets(args)
    except KeyboardInterrupt:  # before or after the probes (they raise Interrupted)
        return EXIT_INTERRUPTED


def _diagnose_targets(args: argparse.Namespace) -> int:
    from tether.diagnose import (
        Interrupted,
        Usage,
        diagnose,
        parse_options,
        render_json,
        render_text,
    )

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
    interrupted: list[str] = []
    try:
        results = diagnose(targets, options)
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


def _check_config(path: str) -> int:
    from tether.monitor import ConfigError, load_config

    try:
        config = load_config(path)
    except OSError as exc:
        print(f"tether check-config: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        for line in exc.located:
            print(line, file=sys.stderr)
        return EXIT_FAILURE
    counts = [
        _count(len(config.monitors), "monitor"),
        _count(len(config.alerts), "alert channel"),
    ]
    if config.maintenance:
        counts.append(_count(len(config.maintenance), "maintenance window"))
    print(f"{path}: {', '.join(counts)}, OK")
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


def _monitor(path: str, log_format: Literal["text", "json"]) -> int:
    from tether.monitor import logging_to, run_monitor

    # Set up first, so that what opening the store says is seen too.
    with logging_to(sys.stderr, log_format):
        opened = _open_store(path, "monitor")
        if isinstance(opened, int):
            return opened
        config, store = opened
        with store:
            return run_monitor(path, config, store)


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


def _status(path: str) -> int:
    import time

    from tether.monitor import format_uptime, uptimes

    opened = _open_store(path, "status")
    if isinstance(opened, int):
        return opened
    config, store = opened
    now = time.time()
    with store:
        rows = []
        for m in config.monitors:
            up = uptimes(store, m.name, now)
            shares = (format_uptime(up["24h"]), format_uptime(up["30d"]))
            latest = store.results(m.name, limit=1)
            if not latest:
                rows.append((m.name, "no result yet", "", *shares, ""))
                continue
            r = latest[0]
            verdict = "ok" if r.ok else (r.kind or "failed")
            rows.append((m.name, verdict, _utc(r.ts), *shares, r.detail or ""))
        _table(("monitor", "latest", "at (UTC)", "up 24h", "up 30d", "detail"), rows)
        incidents = store.incidents(open_only=True)
        print()
        if not incidents:
            print("no open incident")
        for i in incidents:
            acked = f", acknowledged {_utc(i.acknowledged)}" if i.acknowledged else ""
            print(
                f"incident {i.id} open since {_utc(i.opened)}{acked}: {i.kind or 'condition'}: "
                f"{i.detail} ({', '.join(i.monitors)})"
            )
    return EXIT_FAILURE if incidents else EXIT_OK


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


def _utc(ts: float | None) -> str:
    import datetime as dt

    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _history(path: str, monitor: str, limit: int, per: str | None) -> int:
    opened = _open_store(path, "history")
    if isinstance(opened, int):
        return opened
    config, store = opened
    if monitor not in {m.name for m in config.monitors}:
        store.close()
        names = ", ".join(m.name for m in config.monitors)
        print(f"tether history: no monitor named {monitor!r} (there are: {names})", file=sys.stderr)
        return EXIT_USAGE
    with store:
        rows: list[tuple[str, ...]]
        if per:
            rows = [
                (
                    _utc(r.start),
                    str(r.count),
                    f"{100 * r.ok_count / r.count:.1f}%" if r.count else "-",
                    f"{r.latency_avg:.1f}" if r.latency_avg is not None else "-",
                    ", ".join(f"{k} {n}" for k, n in sorted(r.kinds.items())),
                )
                for r in store.rollups(monitor, per)[-limit:]
            ]
            _table((per + " (UTC)", "checks", "ok", "avg ms", "failures"), rows)
        else:
            rows = [
                (
                    _utc(r.ts),
                    "ok" if r.ok else (r.kind or "failed"),
                    f"{r.latency_ms:.1f}" if r.latency_ms is not None else "-",
                    r.detail or "",
                )
                for r in store.results(monitor, limit=limit)
            ]
            _table(("at (UTC)", "result", "ms", "detail"), rows)
    return EXIT_OK


def _incidents(path: str, *, open_only: bool, limit: int) -> int:
    opened = _open_store(path, "incidents")
    if isinstance(opened, int):
        return opened
    _, store = opened
    with store:
        found = store.incidents(open_only=open_only, limit=limit)
    if not found:
        print("no open incident" if open_only else "no incident")
    for i in found:
        state = f"resolved {_utc(i.resolved)}" if i.resolved else "OPEN"
        if i.acknowledged and not i.resolved:
            state += f", acknowledged {_utc(i.acknowledged)}"
        print(f"incident {i.id} ({state}), opened {_utc(i.opened)}: {i.kind or 'condition'}")
        print(f"  {i.detail}")
        print(f"  monitors: {', '.join(i.monitors)}")
        if i.hint:
            print(f"  fix: {i.hint}")
        for entry in i.timeline:
            print(f"  {_utc(entry.at)}  {entry.event}: {entry.detail}")
    return EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _explain(kinds: list[str], *, markdown: bool) -> int:
    from tether._explain import explain_text, failures_markdown, kinds_table
    from tether._kinds import Kind
    from tether._suggest import did_you_mean

    if markdown:
        sys.stdout.write(failures_markdown())
        return EXIT_OK
    if not kinds:
        sys.stdout.write(kinds_table())
        return EXIT_OK
    known = {k.value: k for k in Kind}
    unknown = [k for k in kinds if k not in known]
    if unknown:
        hint = did_you_mean(unknown[0], known, sep="; ") or ";"
        print(
            f"tether explain: unknown kind {unknown[0]!r}{hint} `tether explain` lists them all",
            file=sys.stderr,
        )
        return EXIT_USAGE
    sys.stdout.write("\n".join(explain_text(known[k]) for k in kinds))
    return EXIT_OK


def _lab(host: str, dns_port: int, *, as_json: bool) -> int:
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
        lab = Lab(host=host, dns_port=dns_port).start()
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
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


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


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
