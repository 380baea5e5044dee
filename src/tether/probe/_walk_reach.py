"""The walk's way to the server: a proxy (chosen from the options or the environment,
a CONNECT tunnel through it), the DNS phase and the TCP connect."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from tether._classify import failure_for
from tether._hostport import DNS_PORT, split_hostport
from tether._kinds import Kind
from tether._redact import redact_url
from tether.probe import _connect, _dns, _http
from tether.probe._details import (
    ConnectDetails,
    DnsDetails,
    DnsRecord,
    ProxyDetails,
    Skipped,
)
from tether.probe._result import Phase
from tether.probe._target import InvalidTarget, Target, parse_target
from tether.probe._walk import Stream, Walk, literal_family, open_stream
from tether.probe._wire import Wire, open_wire

_PROXY_NAMES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def proxy_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The proxy variables of ``env`` (default: ``os.environ``, as it is now), by lower-case
    name (the lower-case spelling wins, as in curl).  As ``ProbeOptions.env`` it makes
    probes that read no environment: the monitor takes it once per monitor, since the
    eight ``os.environ`` look-ups (each encodes the name, and a missing one raises and
    catches a KeyError) cost far more than a plain dict's.  Looked up by name: copying
    the whole environment cost more still (benchmarks/results.md, "Figures behind
    choices in the code")."""
    source = os.environ if env is None else env
    found = {}
    for name in _PROXY_NAMES:
        value = source.get(name) or source.get(name.upper())
        if value:
            found[name] = value
    return found


class WalkReach(Walk):
    """The walk's steps that reach the server: through a proxy, or by DNS and TCP."""

    __slots__ = ()

    # -- DNS and TCP ---------------------------------------------------------------

    async def resolve(
        self, host: str, port: int, url: str, *, record: bool
    ) -> list[tuple[int, str]] | None:
        o = self.options
        family = {4: socket.AF_INET, 6: socket.AF_INET6}.get(o.family, socket.AF_UNSPEC)
        if record:
            self.begin("dns")
        literal = literal_family(host)
        if literal is not None:
            if record:
                rdtype = "AAAA" if literal == socket.AF_INET6 else "A"
                self.end(DnsDetails(None, (DnsRecord(rdtype, host),), literal=True))
            if o.allowed is not None:
                o.allowed.check(host, [host])
            return [(literal, host)]
        if o.resolver:
            answers = await _dns.direct(host, port, family, _server(o.resolver), o.timeout, url)
        else:
            answers = await _dns.system(host, port, family, o.timeout, url)
        if record:
            self.end(answers.details, answers.failure)
        elif answers.failure is not None:
            self.failure = self.failure or answers.failure
        if answers.failure is None and o.allowed is not None:
            o.allowed.check(host, [a for _, a in answers.addresses])
        return None if answers.failure else answers.addresses

    async def connect(self, host: str, port: int, url: str, *, record: bool) -> Stream | None:
        sock = await self._reach(host, port, url, record=record)
        if sock is None:
            return None
        reader, writer = await open_stream(sock)
        stream = Stream(reader, writer)
        self.streams.append(stream)
        return stream

    async def direct_wire(self, t: Target, *, record: bool) -> Wire | None:
        """A plain ``http://`` hop's connection, without a proxy: a :class:`Wire`."""
        sock = await self._reach(t.ascii_host, t.port, t.url, record=record)
        if sock is None:
            return None
        wire = await open_wire(sock)
        self.streams.append(wire)
        return wire

    async def _reach(self, host: str, port: int, url: str, *, record: bool) -> socket.socket | None:
        """The dns and connect phases: the connected socket, or None (the failure kept)."""
        addresses = await self.resolve(host, port, url, record=record)
        if addresses is None:
            return None
        if record:
            self.begin("connect")
        raced = await _connect.race(addresses, port, self.options.timeout, url)
        self.warnings.extend(raced.warnings)
        if record:
            self.end(ConnectDetails(raced.address, port, tuple(raced.attempts)), raced.failure)
        elif raced.failure is not None:
            self.failure = self.failure or raced.failure
        return raced.sock

    async def direct(self, t: Target, *, record: bool) -> Stream | None:
        return await self.connect(t.ascii_host, t.port, t.url, record=record)

    # -- proxy -----------------------------------------------------------------------

    def choose_proxy(self, t: Target) -> tuple[str, str, str | None] | None:
        """(redacted proxy URL, where it came from, Proxy-Authorization) or None."""
        o = self.options
        if o.proxy is not None:
            chosen, source = (o.proxy or None), "--proxy"
        else:
            found = proxy_environment(o.env)
            no_proxy = found.get("no_proxy", "")
            # ws:// goes through HTTP_PROXY and wss:// through HTTPS_PROXY, as in curl;
            # both as a CONNECT tunnel (a forwarding proxy would not pass the upgrade on).
            scheme = {"ws": "http", "wss": "https"}.get(t.scheme, t.scheme)
            chosen = found.get(f"{scheme}_proxy")
            source = f"{scheme.upper()}_PROXY"
            if not chosen and found.get("all_proxy"):
                chosen, source = found["all_proxy"], "ALL_PROXY"
            if chosen and _bypassed(t.ascii_host, no_proxy):
                self.proxy_note = f"NO_PROXY covers {t.ascii_host}"
                return None
        if not chosen:
            return None
        if "://" not in chosen:
            chosen = f"http://{chosen}"
        parts = urlsplit(chosen)
        auth = None
        if parts.username is not None:
            raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(raw.encode()).decode()
        return chosen, source, auth

    async def through_proxy(
        self, t: Target, proxy: tuple[str, str, str | None], *, record: bool
    ) -> Stream | None:
        chosen, source, auth = proxy
        try:
            p = parse_target(chosen)
        except InvalidTarget as exc:
            invalid = failure_for(Kind.URL_INVALID, f"the proxy URL is invalid: {exc}", url=chosen)
            if record:
                self.end(ProxyDetails(redact_url(chosen), source), invalid)
            return None
        details = ProxyDetails(p.url, source)
        addresses = await self._proxy_addresses(p)
        raced = (
            None
            if addresses is None
            else await _connect.race(addresses, p.port, self.options.timeout, p.url)
        )
        if raced is None or raced.sock is None:
            reason = raced.failure if raced else None
            unreachable = failure_for(
                Kind.PROXY_UNREACHABLE,
                f"the proxy {p.hostport} cannot be reached"
                + (f": {reason.detail}" if reason else ""),
                url=p.url,
                host=p.ascii_host,
                port=p.port,
            )
            if record:
                self.end(details, unreachable)
            return None
        reader, writer = await open_stream(raced.sock)
        stream = Stream(reader, writer)
        self.streams.append(stream)
        if t.scheme == "http":
            if record:
                self.end(ProxyDetails(p.url, source, mode="forwarding"))
            return stream
        ex = await _http.exchange(
            reader,
            writer,
            method="CONNECT",
            target=t.hostport,
            host_header=t.hostport,
            headers=[("Proxy-Authorization", auth)] if auth else [],
            timeout=self.options.timeout,
            max_body=0,
            url=p.url,
        )
        details = ProxyDetails(p.url, source, mode="CONNECT", status=ex.status)
        failure = ex.failure
        if failure is None and ex.status == 407:
            failure = failure_for(
                Kind.PROXY_AUTH_REQUIRED,
                f"the proxy {p.hostport} answered CONNECT with 407: it wants credentials",
                url=p.url,
                host=p.ascii_host,
                port=p.port,
            )
        elif failure is None and ex.status is not None and not 200 <= ex.status < 300:
            failure = failure_for(
                Kind.PROXY_REJECTED,
                f"the proxy {p.hostport} refused to open a tunnel to {t.hostport}: "
                f"it answered CONNECT with {ex.status}",
                url=p.url,
                host=p.ascii_host,
                port=p.port,
            )
        elif failure is not None:
            failure = failure_for(
                Kind.PROXY_REJECTED,
                f"the proxy {p.hostport} broke off the CONNECT: {failure.detail}",
                url=p.url,
                host=p.ascii_host,
                port=p.port,
            )
        if record:
            self.end(details, failure)
        elif failure is not None:
            self.failure = self.failure or failure
        if failure is None and record:
            skipped = Skipped("the proxy resolves and connects")
            self.phases.append(Phase("dns", True, 0.0, skipped))
            self.phases.append(Phase("connect", True, 0.0, skipped))
        return None if failure else stream

    async def _proxy_addresses(self, p: Target) -> list[tuple[int, str]] | None:
        literal = literal_family(p.ascii_host)
        if literal is not None:
            return [(literal, p.ascii_host)]
        answers = await _dns.system(
            p.ascii_host, p.port, socket.AF_UNSPEC, self.options.timeout, p.url
        )
        return None if answers.failure else answers.addresses


def _server(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[V6]:PORT`` of a DNS server."""
    return split_hostport(text.strip(), default_port=DNS_PORT)


def _bypassed(host: str, no_proxy: str) -> bool:
    if not no_proxy:
        return False
    import urllib.request  # only here: it costs milliseconds at start-up

    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return bool(bypass(host, {"no": no_proxy}))
