"""Turn command-line options into probe options, and probe every target at once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from tether._fieldsyntax import TOKEN, framing_problem, host_problem, value_problem
from tether._hostport import DNS_PORT, InvalidHostPort, default_port, split_hostport
from tether.probe import DnsQuery, ProbeOptions, ProbeResult, parse_trust_anchor, probe_async


class Usage(ValueError):
    """A bad option: the message is for the user, the exit code is 2."""


def parse_options(
    *,
    method: str = "GET",
    headers: Sequence[str] = (),
    resolver: str | None = None,
    cacert: str | None = None,
    insecure: bool = False,
    proxy: str | None = None,
    timeout: float = 5.0,
    family: int = 0,
    http_version: str = "1.1",
    dnssec: bool = False,
    trust_anchor: str | None = None,
) -> ProbeOptions:
    """Validate what the user typed; raise :class:`Usage` with one readable line if wrong."""
    pairs: list[tuple[str, str]] = []
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise Usage(f"-H {header!r}: write it as 'Name: value'")
        name, value = name.strip(), value.strip()
        if not TOKEN.fullmatch(name):
            raise Usage(f"-H {header!r}: {name!r} is not a header name")
        if (framing := framing_problem(name)) is not None:
            raise Usage(f"-H {header!r}: {framing}")
        problem = value_problem(value)
        if problem is not None:
            raise Usage(f"-H {header!r}: the value of {name} {problem}")
        pairs.append((name, value))
    if not method.isalpha() or not method.isascii():
        raise Usage(f"-X {method!r}: a method is letters only, such as GET or POST")
    if resolver is not None:
        _check_resolver(resolver)
    if cacert is not None and not os.path.isfile(cacert):
        raise Usage(f"--cacert {cacert!r}: no such file")
    if not timeout > 0:
        raise Usage(f"--timeout {timeout:g}: must be more than 0 seconds")
    return ProbeOptions(
        dns=_dnssec_query(dnssec, trust_anchor),
        method=method.upper(),
        headers=tuple(pairs),
        resolver=resolver,
        http_version=http_version,
        cacert=cacert,
        insecure=insecure,
        proxy=proxy,
        timeout=timeout,
        deadline=max(timeout * 4, timeout + 1),
        family=family,
    )


def check_host(targets: Sequence[str], options: ProbeOptions) -> None:
    """Raise :class:`Usage` when a ``-H 'Host: ...'`` names another host than a target's
    (the targets are known only once standard input is read, after the options)."""
    from tether.probe._target import InvalidTarget, parse_target

    given = [(n, v) for n, v in options.headers if n.lower() == "host"]
    if not given:
        return
    for target in targets:
        try:
            t = parse_target(target)
        except InvalidTarget:
            continue  # the probe reports it, as url.invalid
        if t.scheme not in ("http", "https", "ws", "wss"):
            continue  # sends no headers
        for name, value in given:
            problem = host_problem(
                value, host=t.ascii_host, port=t.port, default=default_port(t.scheme)
            )
            if problem is not None:
                raise Usage(f"-H {f'{name}: {value}'!r} {problem}")


def _dnssec_query(dnssec: bool, trust_anchor: str | None) -> DnsQuery | None:
    """``--dnssec [--trust-anchor TEXT_OR_FILE]``: the dns:// query that validates."""
    if not dnssec:
        if trust_anchor is not None:
            raise Usage(f"--trust-anchor {trust_anchor!r}: give it with --dnssec")
        return None
    from tether import _extras

    if lacking := _extras.problem("--dnssec", "dnssec"):
        raise Usage(lacking)
    anchors = () if trust_anchor is None else (trust_anchor,)
    try:
        parse_trust_anchor(anchors)
    except ValueError as exc:
        raise Usage(f"--trust-anchor: {exc}") from None
    return DnsQuery(dnssec=True, trust_anchor=anchors)


def check_dnssec(targets: Sequence[str], options: ProbeOptions) -> None:
    """Raise :class:`Usage` when ``--dnssec`` is given with a target that is not
    ``dns://NAME`` (only a DNS query's answer is validated)."""
    if options.dns is None or not options.dns.dnssec:
        return
    from tether.probe import redact_target

    for target in targets:
        if not target.lower().startswith("dns://"):
            raise Usage(
                f"--dnssec validates a dns://NAME target's answer, not {redact_target(target)}"
            )


def _check_resolver(text: str) -> None:
    import ipaddress

    try:
        host, _ = split_hostport(text, default_port=DNS_PORT)
    except InvalidHostPort as exc:
        raise Usage(f"--resolver {text!r}{exc.problem}") from None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise Usage(
            f"--resolver {text!r}: give the DNS server's IP address, as in 127.0.0.1:5353"
        ) from None


class Interrupted(Exception):
    """Ctrl-C during :func:`diagnose`: ``results`` has each target's result in the order
    given, None for the targets that had not finished."""

    def __init__(self, results: list[ProbeResult | None]) -> None:
        super().__init__("interrupted")
        self.results = results


def diagnose(targets: Sequence[str], options: ProbeOptions) -> list[ProbeResult]:
    """Probe every target concurrently; results in the order given.  Raises
    :class:`Interrupted`, with what finished, on Ctrl-C."""

    async def everything() -> list[ProbeResult]:
        tasks = [asyncio.ensure_future(probe_async(t, options)) for t in targets]
        try:
            return list(await asyncio.gather(*tasks))
        except asyncio.CancelledError:
            # asyncio.run turns Ctrl-C into this cancellation: let the unfinished probes
            # close their sockets, then hand back what the finished ones found.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise Interrupted(
                [t.result() if t.done() and not t.cancelled() else None for t in tasks]
            ) from None

    return asyncio.run(everything())
