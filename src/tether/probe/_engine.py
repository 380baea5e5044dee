"""One probe: URL → proxy → DNS → TCP → TLS → HTTP, each phase timed, the first broken
layer named.  Shared by ``tether diagnose`` and the monitor."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from tether import _extras
from tether._classify import classify, classify_status, failure_for
from tether._failure import Failure
from tether._hostport import DNS_PORT, default_port, split_hostport
from tether._kinds import Kind
from tether._redact import redact_url
from tether._sensitive import is_sensitive
from tether.probe import _connect, _dns, _http, _icmp, _smtp, _ssh, _tls, _ws
from tether.probe._allow import AllowedTargets, TargetRefused
from tether.probe._dnscheck import probe_dns
from tether.probe._options import ProbeOptions
from tether.probe._result import Phase, ProbeResult
from tether.probe._target import (
    InvalidTarget,
    Target,
    echo_options,
    parse_target,
    redact_target,
    starttls_mode,
)

Sleep = Callable[[float], Awaitable[object]]


def probe(
    target: str,
    options: ProbeOptions | None = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Sleep = asyncio.sleep,
) -> ProbeResult:
    """Probe ``target`` and return what every layer did (runs its own event loop).
    ``clock`` (seconds) times the phases; ``sleep`` is how an ``icmp://`` probe waits
    between echo requests and for their replies."""
    return asyncio.run(probe_async(target, options, clock=clock, sleep=sleep))


async def probe_async(
    target: str,
    options: ProbeOptions | None = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Sleep = asyncio.sleep,
) -> ProbeResult:
    """:func:`probe` inside a running event loop."""
    options = options or ProbeOptions()
    alone = _ALONE.get(target.partition("://")[0].lower()) if "://" in target else None
    if alone is not None:
        return await alone(target, options)
    walk = _Walk(target, options, clock=clock, sleep=sleep)
    try:
        async with asyncio.timeout(walk.options.deadline):
            await walk.run()
    except TimeoutError:
        walk.out_of_time()
    finally:
        walk.close()
    return walk.result()


_ALONE: dict[str, Callable[[str, ProbeOptions], Awaitable[ProbeResult]]] = {"dns": probe_dns}
"""The probes that walk no URL, by scheme, each with one signature (blackbox_exporter's
table of probers): the target and the options, the result.  Every other scheme takes the
walk (URL, proxy, DNS, TCP, TLS, then its protocol)."""


_SILENT = {
    "dns": Kind.DNS_TIMEOUT,
    "connect": Kind.CONNECT_TIMEOUT,
    "tls": Kind.TLS_TIMEOUT,
    "http": Kind.READ_TIMEOUT,
    "ssh": Kind.READ_TIMEOUT,
    "smtp": Kind.READ_TIMEOUT,
    "icmp": Kind.CONNECT_TIMEOUT,
    "ws": Kind.READ_TIMEOUT,
}
"""The kind of a phase that was still waiting for its first answer when time ran out."""


_PROXY_NAMES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def proxy_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The proxy variables of ``env`` (default: ``os.environ``, as it is now), by lower-case
    name (the lower-case spelling wins, as in curl).  As ``ProbeOptions.env`` it makes
    probes that read no environment: the monitor takes it once per monitor, since the
    eight ``os.environ`` look-ups (each encodes the name, and a missing one raises and
    catches a KeyError) took about 13 µs of every probe, against 1 µs in a plain dict.
    Looked up by name: copying the whole environment cost 5-10% of a monitor's check."""
    source = os.environ if env is None else env
    found = {}
    for name in _PROXY_NAMES:
        value = source.get(name) or source.get(name.upper())
        if value:
            found[name] = value
    return found


@dataclass(slots=True)
class _Stream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


@dataclass(slots=True)
class _Walk:
    given: str
    options: ProbeOptions
    phases: list[Phase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure: Failure | None = None
    current: tuple[str, float] | None = None
    streams: list[_Stream] = field(default_factory=list)
    target: Target | None = None
    proxy_note: str = ""
    response: _http.Exchange | None = None
    method: str = ""
    """The method of the hop under way (a redirect may turn it into GET)."""
    body: bytes | None = None
    pending: _http.Exchange | None = None
    """The exchange under way, so running out of time can tell silence from a slow body."""
    hops: list[dict[str, Any]] = field(default_factory=list)
    """Each finished request of the redirect chain: url, status, size, ms."""
    hop: tuple[str, float] | None = None
    """The URL of the request under way and when it started."""
    origin: tuple[str, str, int] | None = None
    """The first URL's scheme, host and port: its credentials go to it and nowhere else."""
    trusted: bool = True
    """False once a redirect has left the origin: credential headers are no longer sent."""
    url_auth: str | None = None
    """``Authorization: Basic`` from the URL's own ``user:password@``, for its origin only."""
    upgrade: _ws.Upgrade | None = None
    """The ``ws`` phase under way or done: its reply and headers stand for the response."""
    clock: Callable[[], float] = time.perf_counter
    sleep: Sleep = asyncio.sleep
    started: float = field(default_factory=time.monotonic)
    """When the walk began (monotonic), for the time an icmp:// probe may still wait."""

    # -- bookkeeping -------------------------------------------------------------

    def begin(self, name: str) -> None:
        self.current = (name, self.clock())

    def end(
        self,
        details: dict[str, Any],
        failure: Failure | None = None,
        *,
        ok: bool | None = None,
        until: float | None = None,
    ) -> None:
        """Record the phase under way; ``until`` (a reading of the clock) ends its time
        earlier than now, when what followed is not part of it."""
        assert self.current is not None
        name, started = self.current
        self.current = None
        ms = ((self.clock() if until is None else until) - started) * 1000
        passed = failure is None if ok is None else ok
        self.phases.append(Phase(name, passed, ms, details, failure))
        if failure is not None and self.failure is None:
            self.failure = failure

    def out_of_time(self) -> None:
        url = self.target.url if self.target else redact_target(self.given)
        deadline = self.options.deadline
        phase = self.current[0] if self.current else None
        kind = _SILENT.get(phase or "")
        if phase == "http" and self.pending is not None and self.pending.status is not None:
            kind = None  # it answered, then too slowly: the deadline, not a silence
        if kind is not None:
            # Nothing came back in this phase before the deadline: name the silence
            # (connect.timeout, ...) rather than the policy that noticed it.
            detail = f"no answer in the {phase} phase within the probe's {deadline:g} s deadline"
            if phase == "ws" and self.upgrade is not None and self.upgrade.upgraded:
                detail = (
                    "upgraded to WebSocket, but no reply to the message within the probe's "
                    f"{deadline:g} s deadline"
                )
            failure = failure_for(kind, detail, url=url)
        else:
            failure = failure_for(
                Kind.DEADLINE_EXCEEDED,
                f"the probe's {deadline:g} s deadline passed"
                + (f" during the {phase} phase" if phase else ""),
                url=url,
            )
        if self.current is not None:
            details: dict[str, Any] = {}
            if phase == "http" and self.pending is not None:
                # What arrived before the deadline: the status line and part of the body.
                details = {"method": self.method or self.options.method}
                details.update(_http.summary(self.pending))
            self.end(details, failure)
            if phase == "http" and self.hop is not None and self.hops:
                self._merge_hop(details, failure)
            if phase == "ws" and self.upgrade is not None:
                details = self.upgrade.details  # how far it got: the 101, the message sent
                self.phases[-1] = dataclasses.replace(self.phases[-1], details=details)
        elif self.failure is None:
            self.failure = failure

    def _merge_hop(self, details: dict[str, Any], failure: Failure) -> None:
        """A redirect hop ran out of time: as :meth:`visit` does for a hop that ended,
        the http phase describes the last hop, with the chain, in one phase."""
        assert self.hop is not None
        url, started = self.hop
        cut = self.phases.pop()
        first = self.phases.pop()
        hop = {"url": url, **_http.summary(self.pending or _http.Exchange())}
        hop["ms"] = round((self.clock() - started) * 1000, 3)
        details["redirects"] = [*self.hops, hop]
        self.phases.append(Phase("http", False, first.ms + cut.ms, details, failure))

    def close(self) -> None:
        for stream in self.streams:
            # abort, not close: closing TLS waits for the peer's close_notify, which the
            # probe's event loop may not live to see, and then the socket leaks.
            stream.writer.transport.abort()

    def result(self) -> ProbeResult:
        shown = self.target.url if self.target else redact_target(self.given.strip())
        phases = list(self.phases)
        if self.failure is not None and phases and all(p.ok for p in phases):
            # A redirect hop failed (its phases are not recorded): the http phase that
            # followed the redirect carries the failure.
            last = phases[-1]
            phases[-1] = Phase(last.name, False, last.ms, last.details, self.failure)
        ex, up, keep = self.response, self.upgrade, self.options.keep_body
        body = bytes(ex.body) if ex and keep else None
        if up is not None and up.reply is not None and keep:
            body = up.reply[:keep]
        return ProbeResult(
            shown,
            tuple(phases),
            self.failure,
            tuple(self.warnings),
            headers=dict(ex.headers) if ex else dict(up.headers) if up else {},
            body=body,
        )

    # -- the walk ----------------------------------------------------------------

    async def run(self) -> None:
        o = self.options
        self.begin("url")
        try:
            t = self.target = parse_target(self.given)
        except InvalidTarget as exc:
            self.end({}, failure_for(Kind.URL_INVALID, str(exc), url=redact_target(self.given)))
            return
        url_details: dict[str, Any] = {"scheme": t.scheme, "host": t.ascii_host, "port": t.port}
        if t.scheme == "icmp":
            del url_details["port"]  # ICMP has no ports
        if t.host != t.ascii_host:
            url_details["idna"] = t.ascii_host
            url_details["host"] = t.host
        if t.has_credentials:
            url_details["credentials"] = "present (redacted)"
            self.warnings.append(
                "the URL carries credentials: they are sent to the server as HTTP basic auth"
                if t.scheme in ("http", "https", "ws", "wss")
                else f"the URL carries credentials: a {t.scheme}:// check does not use them"
            )
        if t.scheme in ("ws", "wss") and (
            lacking := _extras.problem(f"a {t.scheme}:// check", "ws")
        ):
            self.end(url_details, failure_for(Kind.URL_INVALID, lacking, url=t.url))
            return
        self.end(url_details)
        self.origin = (t.scheme, t.ascii_host, t.port)
        self.url_auth = _basic_auth(self.given.strip())

        url = t.url
        # The hop's URL as it is, credentials and all: a relative Location joins onto it
        # (joined onto the redacted t.url, the next hop would send "user:***" as its own).
        raw = self.given.strip()
        hops = 0
        seen = {raw}
        self.method, self.body = o.method, o.body
        chain = self.hops
        while True:
            ex = await self.visit(t, record=hops == 0, chain=chain)
            if ex is None or ex.status is None:
                return
            location = ex.headers.get("location")
            if not (o.follow_redirects and 300 <= ex.status < 400 and location):
                return
            next_url = raw = urljoin(raw, location)
            if next_url in seen or hops + 1 > o.max_redirects:
                why = "loops back" if next_url in seen else f"exceeds {o.max_redirects} redirects"
                self.failure = failure_for(
                    Kind.HTTP_REDIRECT_LOOP,
                    f"the redirect chain {why}: "
                    + " -> ".join([c["url"] for c in chain] + [redact_url(next_url)]),
                    url=url,
                )
                self.phases[-1] = Phase(
                    "http", False, self.phases[-1].ms, self.phases[-1].details, self.failure
                )
                return
            seen.add(next_url)
            hops += 1
            scheme = urlsplit(next_url).scheme.lower()
            if scheme not in ("http", "https"):
                # tcp://, tls://, file:, ftp://...: following would turn a health check (and
                # /probe) into a port scanner, and report a bare connect as a healthy site.
                self.failure = failure_for(
                    Kind.URL_INVALID,
                    f"the server redirected to {redact_target(next_url)}: tether follows "
                    "redirects to http:// and https:// only",
                    url=url,
                )
                return
            if ex.status == 303 or (ex.status in (301, 302) and self.method == "POST"):
                self.method, self.body = ("HEAD" if self.method == "HEAD" else "GET"), None
            try:
                t = parse_target(next_url)
            except InvalidTarget as exc:
                self.failure = failure_for(
                    Kind.URL_INVALID,
                    f"the redirect target is invalid: {exc}",
                    url=redact_target(next_url),
                )
                return
            here = (t.scheme, t.ascii_host, t.port)
            if self.body and here != self.origin:
                self.warnings.append(
                    f"not following the {ex.status} to {t.url}: it would send the request "
                    "body to another origin"
                )
                return
            if self.trusted and not _keeps_credentials(self.origin, here):
                self.trusted = False
                self.url_auth = None
            if t.has_credentials:  # the redirect's own user:password@, for its own hop
                self.url_auth = _basic_auth(next_url)

    async def visit(
        self, t: Target, *, record: bool, chain: list[dict[str, Any]]
    ) -> _http.Exchange | None:
        """Walk every layer for ``t``; only the first URL's lower phases are recorded
        (a redirect's hops are listed in the ``http`` phase)."""
        o = self.options
        if t.scheme == "icmp":
            await self.icmp(t)
            return None
        if t.scheme not in ("http", "https", "ws", "wss"):
            await self.socket_only(t)
            return None
        proxy = self.choose_proxy(t)
        if proxy is not None and o.allowed is not None and not _allowed_by_name(t, o.allowed):
            raise TargetRefused(
                f"{t.ascii_host} is not in probe.allowed_targets (it is reached through a "
                "proxy, which resolves it: only a host pattern can allow it)"
            )
        if record:
            self.begin("proxy")
            if proxy is None:
                bypass = {"bypass": self.proxy_note} if self.proxy_note else {}
                self.end({"proxy": None, "source": "none", **bypass})
        stream: _Stream | None
        if proxy is not None:
            stream = await self.through_proxy(t, proxy, record=record)
        else:
            stream = await self.direct(t, record=record)
        if stream is None:
            return None
        if t.scheme in ("https", "wss"):
            stream = await self.tls(t, stream, record=record)
            if stream is None:
                return None
        if t.scheme in ("ws", "wss"):
            await self.websocket(t, stream)
            return None
        request_target = t.path
        if proxy is not None and t.scheme == "http":
            request_target = f"http://{t.hostport}{t.path}"
        headers = self.request_headers()
        if proxy is not None and t.scheme == "http" and proxy[2]:
            headers.append(("Proxy-Authorization", proxy[2]))
        self.begin("http") if record or self.current is None else None
        started = self.clock()
        self.hop = (t.url, started)
        self.pending = _http.Exchange()
        ex = await _http.exchange(
            stream.reader,
            stream.writer,
            method=self.method or o.method,
            target=request_target,
            host_header=t.ascii_host if t.port == default_port(t.scheme) else t.hostport,
            headers=headers,
            timeout=o.timeout,
            max_body=o.max_body,
            url=t.url,
            keep_body=o.keep_body,
            out=self.pending,
            body=self.body,
        )
        self.response = ex
        summary = _http.summary(ex)
        hop = {"url": t.url, **summary, "ms": round((self.clock() - started) * 1000, 3)}
        chain.append(hop)
        self.hop = None
        failure = ex.failure
        if failure is None and ex.status is not None:
            is_redirect = 300 <= ex.status < 400 and "location" in ex.headers and o.follow_redirects
            if not is_redirect:
                failure = classify_status(ex.status, ex.headers, url=t.url)
        if ex.over_limit:
            self.warnings.append(f"the body is larger than {o.max_body} bytes; stopped reading")
        details = {"method": self.method or o.method, **summary}
        if len(chain) > 1:
            details["redirects"] = list(chain)
        if record:
            self.end(details, failure)
        else:
            # A redirect hop: the http phase now describes the last hop, with the chain.
            first = self.phases[-1]
            self.phases[-1] = Phase("http", failure is None, first.ms + hop["ms"], details, failure)
            self.current = None  # the hop is recorded; the next one begins its own
            if failure is not None and self.failure is None:
                self.failure = failure
        return ex

    def request_headers(self) -> list[tuple[str, str]]:
        """The caller's headers, less any credential and any Host once a redirect has left
        the origin (as curl and requests do), and the URL's own credentials as basic auth."""
        headers = list(self.options.headers)
        if not self.trusted:
            # A caller's Host named the first URL's host: each other hop gets its own.
            headers = [(n, v) for n, v in headers if not is_sensitive(n) and n.lower() != "host"]
        if self.url_auth and not any(n.lower() == "authorization" for n, _ in headers):
            headers.append(("Authorization", self.url_auth))
        return headers

    # -- DNS and TCP ---------------------------------------------------------------

    async def resolve(
        self, host: str, port: int, url: str, *, record: bool
    ) -> list[tuple[int, str]] | None:
        o = self.options
        family = {4: socket.AF_INET, 6: socket.AF_INET6}.get(o.family, socket.AF_UNSPEC)
        if record:
            self.begin("dns")
        literal = _literal(host)
        if literal is not None:
            if record:
                self.end(
                    {
                        "resolver": None,
                        "literal": True,
                        "answers": [
                            {"type": "AAAA" if literal == socket.AF_INET6 else "A", "address": host}
                        ],
                    }
                )
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

    async def connect(self, host: str, port: int, url: str, *, record: bool) -> _Stream | None:
        addresses = await self.resolve(host, port, url, record=record)
        if addresses is None:
            return None
        if record:
            self.begin("connect")
        raced = await _connect.race(addresses, port, self.options.timeout, url)
        self.warnings.extend(raced.warnings)
        if record:
            self.end(
                {"address": raced.address, "port": port, "attempts": raced.attempts}, raced.failure
            )
        elif raced.failure is not None:
            self.failure = self.failure or raced.failure
        if raced.sock is None:
            return None
        reader, writer = await _open(raced.sock)
        stream = _Stream(reader, writer)
        self.streams.append(stream)
        return stream

    async def direct(self, t: Target, *, record: bool) -> _Stream | None:
        return await self.connect(t.ascii_host, t.port, t.url, record=record)

    async def socket_only(self, t: Target) -> None:
        """``tcp://`` stops after connect; ``tls://`` after the handshake; ``ssh://`` after
        the identification line; ``smtp://`` after EHLO and STARTTLS's handshake, and
        ``smtps://`` after the handshake and EHLO."""
        self.begin("proxy")
        self.end({"proxy": None, "source": "not used for a TCP check"})
        stream = await self.direct(t, record=True)
        if stream is None:
            return
        if t.scheme == "tls":
            await self.tls(t, stream, record=True)
        elif t.scheme == "ssh":
            await self.ssh(t, stream)
        elif t.scheme == "smtps":
            secured = await self.tls(t, stream, record=True)
            if secured is not None:
                await self.smtp(t, secured, starttls="off")
        elif t.scheme == "smtp":
            await self.smtp(t, stream, starttls=starttls_mode(t))

    async def icmp(self, t: Target) -> None:
        """``icmp://``: resolve (the dns phase, so its failures keep their kinds), then
        echo requests to the first address; no proxy, no connection."""
        o = self.options
        echoes = echo_options(t)
        addresses = await self.resolve(t.ascii_host, 0, t.url, record=True)
        if addresses is None:
            return
        # Replies are awaited for the phase's timeout, within what the deadline leaves
        # (less a little, so the counts are reported rather than cut off by it).
        left = o.deadline - (time.monotonic() - self.started) - 0.05
        budget = round(min(o.timeout, left), 3)
        spread = echoes.interval * (echoes.count - 1)
        if spread >= budget:
            self.begin("icmp")
            self.end(
                {"sent": 0},
                failure_for(
                    Kind.URL_INVALID,
                    f"{echoes.count} echo requests {echoes.interval:g} s apart take "
                    f"{spread:g} s, more than the {budget:g} s this probe may wait: lower "
                    "count= or interval=, or raise the timeout",
                    url=t.url,
                ),
            )
            return
        family, address = addresses[0]
        self.begin("icmp")
        found = await _icmp.echo(
            address,
            family,
            count=echoes.count,
            interval=echoes.interval,
            budget=budget,
            payload_size=o.icmp_payload_size,
            sleep=self.sleep,
            clock=self.clock,
            url=t.url,
        )
        self.end(found.details, found.failure)

    async def websocket(self, t: Target, stream: _Stream) -> None:
        """The ``ws`` phase: the upgrade, then the message (``options.body``) and its reply."""
        o = self.options
        _ws.load()
        self.begin("ws")
        self.upgrade = _ws.Upgrade()
        await _ws.upgrade(
            stream.reader,
            stream.writer,
            host_header=t.ascii_host if t.port == default_port(t.scheme) else t.hostport,
            path=t.path,
            headers=self.request_headers(),
            message=o.body,
            timeout=o.timeout,
            max_reply=o.max_body,
            url=t.url,
            host=t.ascii_host,
            port=t.port,
            out=self.upgrade,
            clock=self.clock,
        )
        self.end(self.upgrade.details, self.upgrade.failure)

    async def ssh(self, t: Target, stream: _Stream) -> None:
        self.begin("ssh")
        banner = await _ssh.read_banner(
            stream.reader, timeout=self.options.timeout, url=t.url, host=t.ascii_host, port=t.port
        )
        self.end(banner.details, banner.failure)
        if banner.failure is None:
            # Our own line, as RFC 4253 asks of a client, then the engine closes.
            stream.writer.write(_ssh.OUR_IDENTIFICATION)

    async def smtp(self, t: Target, stream: _Stream, *, starttls: str) -> None:
        o = self.options
        self.begin("smtp")
        said = await _smtp.dialogue(
            stream.reader,
            stream.writer,
            starttls=starttls,
            timeout=o.timeout,
            url=t.url,
            host=t.ascii_host,
            port=t.port,
        )
        self.end(said.details, said.failure)
        if said.failure is not None:
            return
        if said.upgrade:
            secured = await self.tls(t, stream, record=True)
            if secured is None:
                return
            stream = secured
        await _smtp.quit(stream.reader, stream.writer, min(o.timeout, 1.0))

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
    ) -> _Stream | None:
        chosen, source, auth = proxy
        try:
            p = parse_target(chosen)
        except InvalidTarget as exc:
            invalid = failure_for(Kind.URL_INVALID, f"the proxy URL is invalid: {exc}", url=chosen)
            if record:
                self.end({"proxy": redact_url(chosen), "source": source}, invalid)
            return None
        details: dict[str, Any] = {"proxy": p.url, "source": source}
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
        reader, writer = await _open(raced.sock)
        stream = _Stream(reader, writer)
        self.streams.append(stream)
        if t.scheme == "http":
            details["mode"] = "forwarding"
            if record:
                self.end(details)
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
        details.update({"mode": "CONNECT", "status": ex.status})
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
            for name in ("dns", "connect"):
                self.phases.append(
                    Phase(name, True, 0.0, {"skipped": "the proxy resolves and connects"})
                )
        return None if failure else stream

    async def _proxy_addresses(self, p: Target) -> list[tuple[int, str]] | None:
        literal = _literal(p.ascii_host)
        if literal is not None:
            return [(literal, p.ascii_host)]
        answers = await _dns.system(
            p.ascii_host, p.port, socket.AF_UNSPEC, self.options.timeout, p.url
        )
        return None if answers.failure else answers.addresses

    # -- TLS --------------------------------------------------------------------------

    async def tls(self, t: Target, stream: _Stream, *, record: bool) -> _Stream | None:
        o = self.options
        now = dt.datetime.now(dt.UTC)
        server_name = None if t.is_ip else t.ascii_host
        details: dict[str, Any] = {"server_name": server_name, "verified": False}
        failure: Failure | None = None
        # Before the phase's clock starts: loading a trust store (tens of ms, and cached
        # after the first probe) is not the server's handshake.
        ctx: ssl.SSLContext | None = None
        try:
            ctx = _tls.context(o.cacert, verify=True, alpn=_alpn(t))
        except (ssl.SSLError, OSError) as exc:
            failure = classify(exc, url=t.url)
        if record:
            self.begin("tls")
        try:
            if ctx is not None:
                async with asyncio.timeout(o.timeout):
                    await stream.writer.start_tls(ctx, server_hostname=t.ascii_host)
                details["verified"] = True
        except TimeoutError:
            failure = failure_for(
                Kind.TLS_TIMEOUT,
                f"{t.hostport} accepted the connection but did not complete the TLS handshake "
                f"within {o.timeout:g} s",
                url=t.url,
                host=t.ascii_host,
                port=t.port,
            )
        except (ssl.SSLError, OSError) as exc:
            failure = classify(exc, url=t.url)
        handshake_done = self.clock()
        if failure is None:
            sslobj = stream.writer.get_extra_info("ssl_object")
            details.update(_tls.describe(sslobj, now))
            self._expiry_warning(details)
            if record:
                self.end(details, until=handshake_done)
            return stream
        # Verification failed or the handshake broke: look again without verifying, to
        # show the certificate (and, with --insecure, to go on).
        again: _Stream | None = None
        if failure.kind in _VERIFY_KINDS:
            again = await self._unverified(t)
            if again is not None:
                sslobj = again.writer.get_extra_info("ssl_object")
                details.update(_tls.describe(sslobj, now))
                self._expiry_warning(details)
            failure = self._certificate_problems(t, failure, details, now)
        details["error"] = failure.detail
        if record:
            self.end(details, failure, until=handshake_done)
        else:
            self.failure = self.failure or failure
        if o.insecure and failure.kind in _VERIFY_KINDS and again is not None:
            self.warnings.append("--insecure: going on past a certificate that failed verification")
            return again
        return None

    async def _unverified(self, t: Target) -> _Stream | None:
        """A handshake without verification, after one that failed it: only to read the
        certificate for the report.  Nothing is sent over it unless ``--insecure``."""
        addresses = await self.resolve(t.ascii_host, t.port, t.url, record=False)
        if addresses is None:
            return None
        raced = await _connect.race(addresses, t.port, self.options.timeout, t.url)
        if raced.sock is None:
            return None
        reader, writer = await _open(raced.sock)
        stream = _Stream(reader, writer)
        self.streams.append(stream)
        if t.scheme == "smtp":  # the certificate comes after the STARTTLS dialogue
            said = await _smtp.dialogue(
                reader,
                writer,
                starttls="required",
                timeout=self.options.timeout,
                url=t.url,
                host=t.ascii_host,
                port=t.port,
            )
            if not said.upgrade:
                return None
        try:
            async with asyncio.timeout(self.options.timeout):
                await writer.start_tls(
                    _tls.context(None, verify=False, alpn=_alpn(t)), server_hostname=t.ascii_host
                )
        except (TimeoutError, ssl.SSLError, OSError):
            return None
        return stream

    def _certificate_problems(
        self, t: Target, failure: Failure, details: dict[str, Any], now: dt.datetime
    ) -> Failure:
        """Every problem of the chain in ``details["problems"]``, the verdict's first, and
        the failure's detail saying them all: OpenSSL names only the first it meets, and
        says "the certificate has expired" when it is an intermediate that has, or a root
        of the client's own trust store."""
        found = _tls.problems(
            details.get("chain") or [], name=t.ascii_host, where=t.hostport, now=now
        )
        first = [p for p in found if p.kind is failure.kind]
        rest = [p for p in found if p.kind is not failure.kind]
        if failure.kind is Kind.TLS_EXPIRED and not first and details.get("chain"):
            first = [_tls.expired_anchor(details["chain"], where=t.hostport)]
        details["problems"] = [p.text for p in first] or [failure.detail]
        details["problems"] += [p.text for p in rest]
        briefs = [p.brief for p in first] or [failure.detail]
        briefs += [p.brief for p in rest]
        if briefs == [failure.detail]:
            return failure
        text = "; ".join(briefs)
        return dataclasses.replace(failure, detail=text[:1].upper() + text[1:])

    def _expiry_warning(self, details: dict[str, Any]) -> None:
        chain = details.get("chain") or []
        if chain and 0 <= chain[0]["days_left"] < _tls.EXPIRY_WARNING_DAYS:
            self.warnings.append(
                f"the certificate expires in {chain[0]['days_left']} days ({chain[0]['not_after']})"
            )


_VERIFY_KINDS = frozenset(
    {Kind.TLS_EXPIRED, Kind.TLS_SELF_SIGNED, Kind.TLS_UNTRUSTED, Kind.TLS_HOSTNAME_MISMATCH}
)


async def _open(sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Streams over a connected socket; the socket is closed if this is cancelled."""
    try:
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


def _alpn(t: Target) -> tuple[str, ...]:
    """What the handshake offers: HTTP/1.1 for the HTTP schemes (and ``tls://``, as
    always), nothing for mail, whose servers may refuse a client that says HTTP."""
    return () if t.scheme in ("smtp", "smtps") else _tls.ALPN


def _allowed_by_name(t: Target, allowed: AllowedTargets) -> bool:
    """Allowed without resolving: by a host pattern, or as an address literal in a network."""
    return allowed.host_allowed(t.ascii_host) or (t.is_ip and allowed.address_allowed(t.ascii_host))


def _keeps_credentials(origin: tuple[str, str, int] | None, here: tuple[str, str, int]) -> bool:
    """Credentials go on to the first URL's origin alone: the same scheme, host and port.
    An upgrade from http to https is a change of origin too, as for the integrations
    (``tether._sensitive``): one rule for every redirect tether follows."""
    return origin is not None and origin == here


def _basic_auth(url: str) -> str | None:
    """``Basic base64(user:password)`` from a URL's user information, or None."""
    if "@" not in url:  # no user information to split the URL for (every monitor's probe)
        return None
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return None
    if user is None and password is None:
        return None
    raw = f"{unquote(user or '')}:{unquote(password or '')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def _literal(host: str) -> int | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.split("%", maxsplit=1)[0])
        except OSError:
            continue
        return family
    return None


def _server(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[V6]:PORT`` of a DNS server."""
    return split_hostport(text.strip(), default_port=DNS_PORT)


def _bypassed(host: str, no_proxy: str) -> bool:
    if not no_proxy:
        return False
    import urllib.request  # only here: it costs milliseconds at start-up

    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return bool(bypass(host, {"no": no_proxy}))
