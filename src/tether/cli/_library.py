"""The commands of the library and the lab: ``explain``, ``lab`` and ``diagnose``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import TYPE_CHECKING

from tether.cli._shared import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    print_json,
    table,
)

if TYPE_CHECKING:
    from tether.cli._shared import Commands


def _explain_parser(commands: Commands) -> None:
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


def _lab_parser(commands: Commands) -> None:
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


def _diagnose_parser(commands: Commands) -> None:
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
        "--http3",
        nargs="?",
        const="3",
        default="1.1",
        choices=("3", "auto"),
        dest="http_version",
        help="https:// over HTTP/3 (QUIC) instead of TCP; --http3=auto: HTTP/1.1, then "
        "HTTP/3 too where Alt-Svc offers it (needs tether[http3])",
    )
    diagnose.add_argument(
        "--dnssec",
        action="store_true",
        help="dns:// targets only: validate the answer's DNSSEC chain of trust, asked of "
        "--resolver (needs tether[dnssec])",
    )
    diagnose.add_argument(
        "--trust-anchor",
        metavar="TEXT_OR_FILE",
        help="with --dnssec: the DS or DNSKEY records of the zone the chain starts from, or "
        "a file of them (default: the root's KSK)",
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


def _diagnose(args: argparse.Namespace) -> int:
    try:
        return _diagnose_targets(args)
    except KeyboardInterrupt:  # before or after the probes (they raise Interrupted)
        return EXIT_INTERRUPTED


def _diagnose_targets(args: argparse.Namespace) -> int:
    from tether.diagnose import (
        Interrupted,
        Usage,
        check_dnssec,
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
            http_version=args.http_version,
            dnssec=args.dnssec,
            trust_anchor=args.trust_anchor,
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
        check_dnssec(targets, options)
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


def _explain(kinds: list[str], *, markdown: bool, as_json: bool) -> int:
    from tether._explain import explain_json, explain_text, failures_markdown, kinds_table
    from tether._kinds import Kind
    from tether._suggest import did_you_mean

    if markdown:
        sys.stdout.write(failures_markdown())
        return EXIT_OK
    known = {k.value: k for k in Kind}
    if as_json and not kinds:
        print_json(explain_json())
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
        print_json(explain_json([known[k] for k in kinds]))
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
                        "trust_anchor": lab.trust_anchor,
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
        "trust_anchor": s.trust_anchor,
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
    table(("scenario", "url", "kind"), rows)
    host, port = split_hostport(lab.resolver)
    print(
        f"\nDNS: the lab resolver at {lab.resolver} serves lab.test. "
        f"(dig @{host} -p {port} ok.lab.test)"
    )
    print(f"TLS: trust {lab.ca_file} to reach tls_ok")
    print(
        f"DNSSEC: the dnssec_* names are signed below dnssec.lab.test.; its trust anchor "
        f"(--trust-anchor, a dns:// check's trust_anchor):\n  {lab.trust_anchor}\n"
        f"dnssec_wrong_anchor is checked from a key the lab does not publish:\n  "
        f"{lab['dnssec_wrong_anchor'].trust_anchor}"
    )


def _matrix(*, markdown: bool) -> int:
    from tether.lab._matrix import (
        matrix_lab,
        matrix_markdown,
        netns_available,
        run_in_netns,
        run_matrix,
    )

    with matrix_lab() as lab:
        cases = run_matrix(lab)
    why_not = netns_available()
    if why_not is None:
        cases += run_in_netns()
    else:
        print(f"tether lab --matrix: DNS and routing scenarios skipped: {why_not}", file=sys.stderr)
    if markdown:
        sys.stdout.write(matrix_markdown(cases))
    else:
        table(
            ("scenario", "client", "raised", "tether"),
            [(c.scenario, c.client, c.raised or c.outcome, c.kind or "-") for c in cases],
        )
    return EXIT_OK if all(c.agrees for c in cases) else EXIT_FAILURE


def _lab_command(args: argparse.Namespace) -> int:
    if args.matrix:
        return _matrix(markdown=args.markdown)
    if args.list:
        return _lab_list(args.port)
    return _lab(args.host, args.dns_port, as_json=args.json, port_base=args.port)


COMMANDS = (
    Command(
        "explain",
        _explain_parser,
        lambda args: _explain(args.kinds, markdown=args.markdown, as_json=args.json),
    ),
    Command("lab", _lab_parser, _lab_command),
    Command("diagnose", _diagnose_parser, _diagnose),
)
