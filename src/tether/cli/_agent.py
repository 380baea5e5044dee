"""``tether agent``: probe from here for a monitor elsewhere, dialling out only (docs/agents.md).

Exit 0 when stopped (Ctrl-C, SIGTERM: the spool is on disk); 2 for bad arguments, a
spool that cannot be opened, or a server that refuses the token for ``--give-up-after``;
1 for a spool that fails while running (a full disk); each one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from tether.cli._shared import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Command

if TYPE_CHECKING:
    import ssl

    from tether.cli._shared import Commands
    from tether.monitor.runtime.agents._agent import AgentOptions
    from tether.monitor.runtime.agents._spool import Spool

TOKEN_VARIABLE = "TETHER_AGENT_TOKEN"


class _Usage(Exception):
    """A bad argument: ``str()`` is the line to print."""


def _parser(commands: Commands) -> None:
    agent = commands.add_parser(
        "agent",
        help="probe from this machine for a monitor elsewhere, dialling out only",
        description="Fetch the monitors assigned to LOC from the monitor at URL, probe "
        "them here, and send the results back in batches, over connections this agent "
        "opens: no database, no inbound port.  Results wait in a bounded spool file while "
        "the server cannot be reached.  Exit 0 when stopped; 2 for bad arguments or a "
        "token the server refuses for --give-up-after.",
    )
    agent.add_argument(
        "--server",
        metavar="URL",
        required=True,
        help="the monitor, https://HOST[:PORT] (http:// only on this machine's loopback)",
    )
    agent.add_argument(
        "--location",
        metavar="LOC",
        required=True,
        help="the location this agent probes from, as the server's locations: name it",
    )
    agent.add_argument(
        "--token-file",
        metavar="PATH",
        help=f"a file holding the agent token (default: ${TOKEN_VARIABLE}); there is no "
        "option for the token itself, which ps would show to every user",
    )
    agent.add_argument(
        "--spool",
        metavar="PATH",
        help="the spool file (default tether-agent-LOC.spool here)",
    )
    agent.add_argument(
        "--spool-limit",
        metavar="N",
        type=int,
        default=100_000,
        help="the most results the spool holds; past it the oldest are dropped, counted "
        "and reported (default 100000)",
    )
    agent.add_argument(
        "--cafile",
        metavar="PATH",
        help="a CA certificate (PEM) to trust besides the system's; TLS is always verified",
    )
    agent.add_argument(
        "--name",
        metavar="NAME",
        help="this agent's name on the server's pages (default HOST/PID)",
    )
    agent.add_argument(
        "--give-up-after",
        metavar="DURATION",
        default="2m",
        help="how long the server may refuse the token (401, 403) before this agent stops "
        "with exit 2: a refusal may be passing (the server restarting, another process "
        "briefly on its port); 0s: at the first (default 2m)",
    )
    agent.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="what each line on standard error looks like: text (default) or json",
    )


def server_url(url: str) -> str:
    """``url`` if an agent may send its token there: https, or http to loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Usage(f"--server {url}: not a URL: give https://HOST[:PORT]")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise _Usage("--server: give the monitor's address alone, https://HOST[:PORT][/PATH]")
    try:
        parts.port  # noqa: B018 (a port that is not one raises)
    except ValueError:
        raise _Usage(f"--server {url}: not a port") from None
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise _Usage(
            f"--server {url}: http:// only for a server on this machine (loopback): over a "
            "network the token and the monitors' headers would travel in clear; use https://"
        )
    return url.rstrip("/")


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _patience(text: str) -> float:
    from tether._durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise _Usage(f"--give-up-after: {exc}") from None


def read_token(path: str | None) -> str:
    """The token from ``path``, else from ``$TETHER_AGENT_TOKEN``."""
    if path is None:
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise _Usage(
                f"no token: give --token-file PATH or set {TOKEN_VARIABLE} (not an option: "
                "ps would show it)"
            )
        return token
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _Usage(f"--token-file {path}: cannot be read ({exc.__class__.__name__})") from None
    if not token or any(c.isspace() for c in token):
        raise _Usage(f"--token-file {path}: holds no token (one line, the token alone)")
    return token


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """The system's CAs, and ``cafile``'s besides; verification cannot be turned off."""
    import ssl

    context = ssl.create_default_context()
    if cafile is not None:
        try:
            context.load_verify_locations(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise _Usage(f"--cafile {cafile}: not a CA certificate file ({exc})") from None
    return context


def _run(args: argparse.Namespace) -> int:
    import socket

    from tether.monitor.runtime.agents._agent import AgentOptions
    from tether.monitor.runtime.agents._spool import Spool, SpoolError

    try:
        if args.spool_limit < 1:
            raise _Usage(f"--spool-limit {args.spool_limit}: give at least 1")
        if not args.location.strip():
            raise _Usage("--location: give the location's name")
        options = AgentOptions(
            server=server_url(args.server),
            location=args.location,
            token=read_token(args.token_file),
            name=args.name or f"{socket.gethostname()}/{os.getpid()}",
            give_up_after=_patience(args.give_up_after),
        )
        context = tls_context(args.cafile)
        spool = Spool(args.spool or f"tether-agent-{args.location}.spool", limit=args.spool_limit)
    except (_Usage, SpoolError) as exc:
        print(f"tether agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _serve(options, spool, context, args.log_format)


def _serve(
    options: AgentOptions,
    spool: Spool,
    context: ssl.SSLContext,
    log_format: Literal["text", "json"],
) -> int:
    import asyncio
    import sqlite3

    from tether.monitor import logging_to
    from tether.monitor.runtime.agents._agent import AgentRefused
    from tether.monitor.runtime.agents._spool import SpoolError

    with logging_to(sys.stderr, log_format, own_process=True), spool:
        try:
            asyncio.run(_agent(options, spool, context))
        except AgentRefused as exc:
            print(f"tether agent: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (SpoolError, sqlite3.Error) as exc:
            print(f"tether agent: the spool {spool.path} failed: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    return EXIT_OK


async def _agent(options: AgentOptions, spool: Spool, context: ssl.SSLContext) -> None:
    import asyncio
    import logging
    import signal

    import aiohttp

    from tether.monitor.runtime.agents._agent import Agent

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    connector = aiohttp.TCPConnector(ssl=context, limit=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        await Agent(options, spool, session).run(stop)
    logging.getLogger("tether.agent").info("stopped; %s checks kept in the spool", spool.held())


AGENT = Command("agent", _parser, _run)
