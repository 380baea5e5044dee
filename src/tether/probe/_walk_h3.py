"""The walk's HTTP/3 steps (``ProbeOptions.http_version``): with ``3``, an ``https://``
hop goes URL → proxy → DNS → ``quic`` → ``http`` instead of over TCP; with ``auto``, the
HTTP/1.1 walk runs as always and, when its answer offers ``Alt-Svc: h3=":PORT"``, a
``quic`` and an ``h3`` phase follow, whose failure is a warning, not the check's."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable

from tether._classify import classify_status, failure_for
from tether._failure import Failure
from tether._hostport import default_port
from tether._kinds import Kind
from tether._redact import redact_url
from tether._sensitive import is_sensitive
from tether.probe import _h3, _http, _schemes
from tether.probe._details import (
    ConnectDetails,
    Hop,
    HttpDetails,
    PhaseDetails,
    ProxyDetails,
    TlsDetails,
)
from tether.probe._result import Phase
from tether.probe._target import Target
from tether.probe._walk import literal_family
from tether.probe._walk_tls import _VERIFY_KINDS, WalkTls

_NO_PROXY = (
    "HTTP/3 runs over UDP, which an HTTP proxy cannot carry: exempt {host} with NO_PROXY, "
    "or use HTTP/1.1 for this check"
)


class WalkH3(WalkTls):
    """The HTTP/3 steps, beside the TCP walk's."""

    __slots__ = ()

    def h3_lacking(self, t: Target) -> str | None:
        """What to install for this HTTP/3 check (one line), or None; a warning for a
        scheme that cannot take HTTP/3."""
        version = self.options.http_version
        if version != "1.1" and t.scheme == "https":
            return _schemes.feature_lacking("http3")
        if version == "3":
            self.warnings.append(f"HTTP/3 needs https://: this {t.scheme}:// check did not use it")
        return None

    async def h3(self, t: Target, *, record: bool, chain: list[Hop]) -> _http.Exchange | None:
        """One ``https://`` hop over HTTP/3 (``http_version: 3``)."""
        proxy = self.choose_proxy(t)
        if record:
            self.begin("proxy")
            if proxy is None:
                self.end(ProxyDetails(None, "none", self.proxy_note))
            else:
                refused = failure_for(
                    Kind.URL_INVALID, _NO_PROXY.format(host=t.ascii_host), url=t.url
                )
                self.end(ProxyDetails(redact_url(proxy[0]), proxy[1]), refused)
                return None
        elif proxy is not None:
            self.failure = self.failure or failure_for(
                Kind.URL_INVALID, _NO_PROXY.format(host=t.ascii_host), url=t.url
            )
            return None
        addresses = await self.resolve(t.ascii_host, t.port, t.url, record=record)
        if addresses is None:
            return None
        closers: list[Callable[[], None]] = []
        try:
            connection = await self._quic(t, addresses, t.port, "quic", record, closers)
            if connection is None:
                return None
            if record or self.current is None:
                self.begin("http")
            started = self.clock()
            self.hop = (t.url, started)
            self.pending = _http.Exchange()
            ex = await self._h3_request(t, connection, self.pending)
            return self.answered(t, ex, started, record=record, chain=chain)
        finally:
            for close in closers:
                close()

    async def _quic(
        self,
        t: Target,
        addresses: list[tuple[int, str]],
        port: int,
        name: str,
        record: bool,
        closers: list[Callable[[], None]],
    ) -> object | None:
        """The ``quic`` phase: the handshake (verified, then again without verifying with
        ``insecure``, as the tls phase does); the connection, or None.  Each address in
        turn while the last one's port was refused (ICMP says so at once)."""
        o = self.options
        now = dt.datetime.now(dt.UTC)
        _h3.load()
        # Before the phase's clock starts, as for the tls phase: loading the trust store
        # (milliseconds, then cached) is not the server's handshake.  A CA file that
        # cannot be loaded is said by the handshake, which asks again.
        with contextlib.suppress(Exception):
            _h3.STORES.get(o.cacert)
        if record:
            self.begin(name)
        for family, address in addresses:
            shake = await _h3.handshake(
                family,
                address,
                port,
                server_name=t.ascii_host,
                cacert=o.cacert,
                verify=True,
                timeout=o.timeout,
                url=t.url,
                now=now,
                closers=closers,
            )
            if shake.failure is None or shake.failure.kind is not Kind.CONNECT_REFUSED:
                break
        done = self.clock()
        failure = shake.failure
        details = shake.details
        if details.leaf is not None and failure is None:
            self._expiry_warning(details)
        if failure is not None and failure.kind in _VERIFY_KINDS and details.chain:
            problems, failure = self._certificate_problems(t, failure, details.chain, now)
            details = dataclasses.replace(details, problems=problems, error=failure.detail)
        elif failure is not None:
            details = dataclasses.replace(details, error=failure.detail)
        if record:
            self.end(details, failure, until=done)
        elif failure is not None:
            self.failure = self.failure or failure
        if failure is None:
            verified: object = shake.connection
            return verified
        if not (o.insecure and failure.kind in _VERIFY_KINDS) or shake.unverified is None:
            return None
        self.warnings.append("--insecure: going on past a certificate that failed verification")
        unverified: object = shake.unverified
        return unverified

    async def _h3_request(
        self, t: Target, connection: object, out: _http.Exchange
    ) -> _http.Exchange:
        o = self.options
        return await _h3.request(
            connection,  # type: ignore[arg-type]
            method=self.method or o.method,
            authority=t.ascii_host if t.port == default_port(t.scheme) else t.hostport,
            path=t.path,
            headers=self.request_headers(),
            body=self.body,
            timeout=o.timeout,
            max_body=o.max_body,
            keep_body=o.keep_body,
            url=t.url,
            out=out,
        )

    def answered(
        self, t: Target, ex: _http.Exchange, started: float, *, record: bool, chain: list[Hop]
    ) -> _http.Exchange:
        """Record the ``http`` phase of a hop whose exchange is over (HTTP/1.1 or /3)."""
        o = self.options
        self.response = ex
        summary = _http.summary(ex)
        hop = Hop(t.url, summary, round((self.clock() - started) * 1000, 3))
        chain.append(hop)
        self.hop = None
        failure = ex.failure
        if failure is None and ex.status is not None:
            is_redirect = 300 <= ex.status < 400 and "location" in ex.headers and o.follow_redirects
            if not is_redirect:
                failure = classify_status(ex.status, ex.headers, url=t.url)
        if ex.over_limit:
            self.warnings.append(f"the body is larger than {o.max_body} bytes; stopped reading")
        details = HttpDetails(
            self.method or o.method, summary, tuple(chain) if len(chain) > 1 else ()
        )
        if record:
            self.end(details, failure)
        else:
            # A redirect hop: the http phase now describes the last hop, with the chain.
            first = self.phases[-1]
            self.phases[-1] = Phase("http", failure is None, first.ms + hop.ms, details, failure)
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

    # -- auto: Alt-Svc ---------------------------------------------------------------

    async def alt_svc(self) -> None:
        """``http_version: auto``: after the HTTP/1.1 answer, HTTP/3 where it offers it.
        Its phases are ``quic`` and ``h3``; what fails there is a warning."""
        t, ex = self.target, self.response
        if t is None or t.scheme != "https" or ex is None or ex.status is None:
            return
        offered = ex.headers.get("alt-svc")
        port = _h3.alt_svc_port(offered) if offered else None
        if port is None:
            return
        if len(self.hops) > 1:
            self.warnings.append(
                "HTTP/3 not tried: the Alt-Svc came from a redirect's target, and auto "
                "looks at the first URL's answer only"
            )
            return
        if self.choose_proxy(t) is not None:
            self.warnings.append(
                f"HTTP/3 not tried (Alt-Svc offers it on UDP port {port}): "
                + _NO_PROXY.format(host=t.ascii_host)
            )
            return
        connect = next((p for p in self.phases if p.name == "connect"), None)
        seen = connect.details if connect is not None else None
        address = seen.address if isinstance(seen, ConnectDetails) else None
        family = literal_family(address) if address else None
        if address is None or family is None:
            return
        left = self.options.deadline - (time.monotonic() - self.started) - 0.05
        if left <= 0.05:
            self.warnings.append(
                f"HTTP/3 not tried (Alt-Svc offers it on UDP port {port}): the probe's "
                "deadline leaves no time"
            )
            return
        kept = self.failure
        self.failure = None
        closers: list[Callable[[], None]] = []
        try:
            async with asyncio.timeout(left):
                await self._look(t, [(family, address)], port, closers)
        except TimeoutError:
            self._cut_short(t, port)
        finally:
            for close in closers:
                close()
            found = self._put_back(kept)
        if found is not None:
            self.warnings.append(
                f"HTTP/3 on UDP port {port} (offered by Alt-Svc) failed, while HTTP/1.1 "
                f"answered: {found.kind.value}: {found.detail}"
            )

    def _put_back(self, kept: Failure | None) -> Failure | None:
        """Make ``kept`` the walk's failure again and return the one the HTTP/3 attempt
        left.  Read through a call: mypy keeps ``self.failure`` narrowed to the None set
        before the attempt's awaits, and so took the warning after it for unreachable
        and never checked it (``warn_unreachable``; mypyc, which trusts that narrowing,
        refused the attempt's failure at run time)."""
        found, self.failure = self.failure, kept
        return found

    async def _look(
        self,
        t: Target,
        addresses: list[tuple[int, str]],
        port: int,
        closers: list[Callable[[], None]],
    ) -> None:
        h3t = dataclasses.replace(t, port=port)
        connection = await self._quic(h3t, addresses, port, "quic", True, closers)
        if connection is None:
            return
        self.begin("h3")
        out = _http.Exchange()
        self.pending = out
        await self._h3_request(t, connection, out)
        failure = out.failure
        if failure is None and out.status is not None and out.status >= 400:
            failure = classify_status(out.status, out.headers, url=t.url)
        self.end(HttpDetails(self.method or self.options.method, _http.summary(out)), failure)

    def _cut_short(self, t: Target, port: int) -> None:
        """The deadline came during the HTTP/3 look: its phase fails, the check does not."""
        if self.current is None:
            return
        phase = self.current[0]
        kind = Kind.CONNECT_TIMEOUT if phase == "quic" else Kind.READ_TIMEOUT
        failure: Failure = failure_for(
            kind,
            f"no answer in the {phase} phase (HTTP/3 on UDP port {port}) within the "
            "probe's deadline",
            url=t.url,
        )
        self.end(_details_of(phase, self), failure)


def _details_of(phase: str, walk: WalkH3) -> PhaseDetails:
    if phase == "h3" and walk.pending is not None:
        return HttpDetails(walk.method or walk.options.method, _http.summary(walk.pending))
    return TlsDetails(walk.target.ascii_host if walk.target else None, False)
