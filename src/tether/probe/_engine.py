"""One probe: URL → proxy → DNS → TCP → TLS → HTTP, each phase timed, the first broken
layer named.  Shared by ``tether diagnose`` and the monitor."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urljoin, urlsplit

from tether._classify import failure_for
from tether._hostport import default_port
from tether._kinds import Kind
from tether._redact import redact_url
from tether.probe import _dbwalk, _grpc, _http, _icmp, _schemes, _smtp, _ssh, _ws
from tether.probe._allow import AllowedTargets, TargetRefused
from tether.probe._dboptions import DB_SCHEMES
from tether.probe._details import (
    NO_DETAILS,
    GrpcDetails,
    Hop,
    IcmpDetails,
    ProxyDetails,
    UrlDetails,
)
from tether.probe._dnscheck import probe_dns
from tether.probe._options import ProbeOptions
from tether.probe._result import Phase, ProbeResult
from tether.probe._target import (
    InvalidTarget,
    Target,
    echo_options,
    grpc_service,
    parse_target,
    redact_target,
    starttls_mode,
)
from tether.probe._walk import Sleep, Stream
from tether.probe._walk_h3 import WalkH3
from tether.probe._wire import Wire


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
    if options.browser is not None:
        from tether.probe._browser import probe_page  # Playwright only for a browser check

        return await probe_page(target, options, clock=clock)
    alone = _ALONE.get(target.partition("://")[0].lower()) if "://" in target else None
    if alone is not None:
        return await alone(target, options)
    walk = _Walk(target, options, clock=clock, sleep=sleep)
    # What ``asyncio.timeout(deadline)`` does, at less than half its cost (Python 3.11's
    # is a class in Python: about 29,600 instructions a use on uvloop, this 13,000): a
    # timer cancels the walk's task at the deadline, and a cancel of ours is taken back
    # and ends the walk as out of time; a cancel from outside still goes on out.
    task = asyncio.current_task()
    assert task is not None  # a coroutine the loop runs
    loop = asyncio.get_running_loop()
    cancelling = task.cancelling()
    fired: list[bool] = []
    timer = loop.call_at(loop.time() + walk.options.deadline, _cancel_walk, task, fired)
    ours = False
    try:
        try:
            await walk.run()
            if walk.options.http_version == "auto":
                await walk.alt_svc()
        finally:
            timer.cancel()
            # As asyncio.timeout: the timer's cancel is taken back however the walk
            # ended, and it was the end only if no other cancel is pending.
            ours = bool(fired) and task.uncancel() <= cancelling
    except asyncio.CancelledError:
        if not ours:
            raise
        walk.out_of_time()
    except TimeoutError:  # a phase's own, unanswered
        walk.out_of_time()
    finally:
        walk.close()
    return walk.result()


def _cancel_walk(task: asyncio.Task[object], fired: list[bool]) -> None:
    """The deadline of :func:`probe_async`: the walk's ``task`` is cancelled."""
    fired.append(True)
    task.cancel()


_ALONE: dict[str, Callable[[str, ProbeOptions], Awaitable[ProbeResult]]] = {"dns": probe_dns}
"""The probes that walk no URL, by scheme, each with one signature (blackbox_exporter's
table of probers): the target and the options, the result.  Every other scheme takes the
walk (URL, proxy, DNS, TCP, TLS, then its protocol)."""


class _Walk(WalkH3):
    """One probe's walk: the URL, then each hop of its redirect chain through every
    layer its scheme has."""

    __slots__ = ()

    # -- the walk ----------------------------------------------------------------

    async def run(self) -> None:
        o = self.options
        self.begin("url")
        try:
            t = self.target = parse_target(self.given)
        except InvalidTarget as exc:
            failure = failure_for(Kind.URL_INVALID, str(exc), url=redact_target(self.given))
            self.end(NO_DETAILS, failure)
            return
        url_details = UrlDetails(
            t.scheme,
            t.host,
            None if t.scheme == "icmp" else t.port,  # ICMP has no ports
            t.ascii_host if t.host != t.ascii_host else None,
            t.has_credentials,
        )
        if t.has_credentials and t.scheme not in DB_SCHEMES:  # a database logs in with them
            self.warnings.append(
                "the URL carries credentials: they are sent to the server as HTTP basic auth"
                if t.scheme in ("http", "https", "ws", "wss")
                else f"the URL carries credentials: a {t.scheme}:// check does not use them"
            )
        if (lacking := self.lacking(t)) is not None:
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
                    + " -> ".join([c.url for c in chain] + [redact_url(next_url)]),
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

    def lacking(self, t: Target) -> str | None:
        """What ``t``'s check needs that this installation lacks: one line naming the
        extra to install, or None."""
        return _schemes.scheme_lacking(t.scheme) or self.h3_lacking(t)

    async def visit(self, t: Target, *, record: bool, chain: list[Hop]) -> _http.Exchange | None:
        """Walk every layer for ``t``; only the first URL's lower phases are recorded
        (a redirect's hops are listed in the ``http`` phase)."""
        o = self.options
        if t.scheme == "icmp":
            await self.icmp(t)
            return None
        if t.scheme in DB_SCHEMES:
            await _dbwalk.walk_database(self, t)
            return None
        if t.scheme not in ("http", "https", "ws", "wss"):
            await self.socket_only(t)
            return None
        if t.scheme == "https" and o.http_version == "3":
            return await self.h3(t, record=record, chain=chain)
        proxy = self.choose_proxy(t)
        if proxy is not None and o.allowed is not None and not _allowed_by_name(t, o.allowed):
            raise TargetRefused(
                f"{t.ascii_host} is not in probe.allowed_targets (it is reached through a "
                "proxy, which resolves it: only a host pattern can allow it)"
            )
        if record:
            self.begin("proxy")
            if proxy is None:
                self.end(ProxyDetails(None, "none", self.proxy_note))
        conn: Stream | Wire | None
        if proxy is not None:
            conn = await self.through_proxy(t, proxy, record=record)
        elif t.scheme == "http":
            conn = await self.direct_wire(t, record=record)  # the one request on a protocol
        else:
            conn = await self.direct(t, record=record)
        if isinstance(conn, Stream) and t.scheme in ("https", "wss"):
            conn = await self.tls(t, conn, record=record)
        if conn is None:
            return None
        if isinstance(conn, Stream) and t.scheme in ("ws", "wss"):
            await self.websocket(t, conn)
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
            conn if isinstance(conn, Wire) else conn.reader,
            conn if isinstance(conn, Wire) else conn.writer,
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
        return self.answered(t, ex, started, record=record, chain=chain)

    async def socket_only(self, t: Target) -> None:
        """``tcp://`` stops after connect; ``tls://`` after the handshake; ``ssh://`` after
        the identification line; ``smtp://`` after EHLO and STARTTLS's handshake, and
        ``smtps://`` after the handshake and EHLO; ``grpc(s)://`` after the health check."""
        self.begin("proxy")
        grpc = t.scheme in ("grpc", "grpcs")
        self.end(ProxyDetails(None, f"not used for a {'gRPC' if grpc else 'TCP'} check"))
        if t.scheme == "grpc":  # HTTP/2 in the clear: the call on a protocol
            wire = await self.direct_wire(t, record=True)
            if wire is not None:
                await self.grpc(t, wire)
            return
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
        elif t.scheme == "grpcs":
            secured = await self.tls(t, stream, record=True)
            if secured is not None:
                await self.grpc(t, secured)

    async def grpc(self, t: Target, conn: Stream | Wire) -> None:
        """The ``grpc`` phase: ``grpc.health.v1.Health/Check`` for the URL's service, over
        HTTP/2; ``grpcs://`` first wants the handshake to have agreed on ``h2``."""
        o = self.options
        _grpc.load()
        self.begin("grpc")
        self.call = call = _grpc.GrpcCall(GrpcDetails(grpc_service(t)))
        if t.scheme == "grpcs" and isinstance(conn, Stream):
            sslobj = conn.writer.get_extra_info("ssl_object")
            alpn = sslobj.selected_alpn_protocol() if sslobj is not None else None
            call.details = dataclasses.replace(call.details, alpn=alpn)
            if alpn != "h2":
                # TLS's own negotiation failed to agree on HTTP/2 (gRPC's clients refuse
                # such a server too): the TLS layer's problem, not the call's.
                self.end(
                    call.details,
                    failure_for(
                        Kind.TLS_PROTOCOL,
                        f"{t.hostport} did not agree on HTTP/2 in the TLS handshake (ALPN: "
                        f"{alpn or 'none'}): a gRPC server over TLS offers h2",
                        url=t.url,
                        host=t.ascii_host,
                        port=t.port,
                    ),
                )
                return
        # The wait is the timeout (and a grace), within what the deadline leaves (less a
        # little, so the answer or the silence is named rather than cut off by it); the
        # server's grpc-timeout ends before the wait, to hear its DEADLINE_EXCEEDED.
        left = o.deadline - (time.monotonic() - self.started) - 0.05
        wait = max(0.002, min(o.timeout + _grpc.GRACE, left))
        await _grpc.health_check(
            conn if isinstance(conn, Wire) else conn.reader,
            conn if isinstance(conn, Wire) else conn.writer,
            authority=t.ascii_host if t.port == default_port(t.scheme) else t.hostport,
            secure=t.scheme == "grpcs",
            service=grpc_service(t),
            timeout=max(0.001, min(o.timeout, wait - min(_grpc.GRACE, wait / 5))),
            wait=wait,
            url=t.url,
            host=t.ascii_host,
            port=t.port,
            out=call,
            clock=self.clock,
        )
        self.end(call.details, call.failure)

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
                IcmpDetails(0),
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

    async def websocket(self, t: Target, stream: Stream) -> None:
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

    async def ssh(self, t: Target, stream: Stream) -> None:
        self.begin("ssh")
        banner = await _ssh.read_banner(
            stream.reader, timeout=self.options.timeout, url=t.url, host=t.ascii_host, port=t.port
        )
        self.end(banner.details, banner.failure)
        if banner.failure is None:
            # Our own line, as RFC 4253 asks of a client, then the engine closes.
            stream.writer.write(_ssh.OUR_IDENTIFICATION)

    async def smtp(self, t: Target, stream: Stream, *, starttls: str) -> None:
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
