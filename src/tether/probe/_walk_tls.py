"""The walk's TLS phase: the handshake, and after a failed verification a second look
without it, to show the certificate and every problem of its chain."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ssl

from tether._classify import classify, failure_for
from tether._failure import Failure
from tether._kinds import Kind
from tether.probe import _connect, _smtp, _tls
from tether.probe._details import Certificate, TlsDetails
from tether.probe._target import Target
from tether.probe._walk import Stream, open_stream
from tether.probe._walk_reach import WalkReach


class WalkTls(WalkReach):
    """The walk's TLS step, over a stream that :class:`WalkReach` opened."""

    __slots__ = ()

    # -- TLS --------------------------------------------------------------------------

    async def tls(self, t: Target, stream: Stream, *, record: bool) -> Stream | None:
        o = self.options
        now = dt.datetime.now(dt.UTC)
        server_name = None if t.is_ip else t.ascii_host
        verified = False
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
                verified = True
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
            details = _tls.describe(sslobj, now, server_name=server_name, verified=verified)
            self._expiry_warning(details)
            if record:
                self.end(details, until=handshake_done)
            return stream
        # Verification failed or the handshake broke: look again without verifying, to
        # show the certificate (and, with --insecure, to go on).
        again: Stream | None = None
        details = TlsDetails(server_name, verified)
        problems = None
        if failure.kind in _VERIFY_KINDS:
            again = await self._unverified(t)
            if again is not None:
                sslobj = again.writer.get_extra_info("ssl_object")
                details = _tls.describe(sslobj, now, server_name=server_name, verified=verified)
                self._expiry_warning(details)
            problems, failure = self._certificate_problems(t, failure, details.chain or (), now)
        details = dataclasses.replace(details, problems=problems, error=failure.detail)
        if record:
            self.end(details, failure, until=handshake_done)
        else:
            self.failure = self.failure or failure
        if o.insecure and failure.kind in _VERIFY_KINDS and again is not None:
            self.warnings.append("--insecure: going on past a certificate that failed verification")
            return again
        return None

    async def _unverified(self, t: Target) -> Stream | None:
        """A handshake without verification, after one that failed it: only to read the
        certificate for the report.  Nothing is sent over it unless ``--insecure``."""
        addresses = await self.resolve(t.ascii_host, t.port, t.url, record=False)
        if addresses is None:
            return None
        raced = await _connect.race(addresses, t.port, self.options.timeout, t.url)
        if raced.sock is None:
            return None
        reader, writer = await open_stream(raced.sock)
        stream = Stream(reader, writer)
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
        self, t: Target, failure: Failure, chain: tuple[Certificate, ...], now: dt.datetime
    ) -> tuple[tuple[str, ...], Failure]:
        """Every problem of the chain, the verdict's first, and the failure with a detail
        saying them all: OpenSSL names only the first it meets, and says "the certificate
        has expired" when it is an intermediate that has, or a root of the client's own
        trust store."""
        found = _tls.problems(chain, name=t.ascii_host, where=t.hostport, now=now)
        first = [p for p in found if p.kind is failure.kind]
        rest = [p for p in found if p.kind is not failure.kind]
        if failure.kind is Kind.TLS_EXPIRED and not first and chain:
            first = [_tls.expired_anchor(chain, where=t.hostport)]
        problems = tuple([p.text for p in first] or [failure.detail]) + tuple(p.text for p in rest)
        briefs = [p.brief for p in first] or [failure.detail]
        briefs += [p.brief for p in rest]
        if briefs == [failure.detail]:
            return problems, failure
        text = "; ".join(briefs)
        return problems, dataclasses.replace(failure, detail=text[:1].upper() + text[1:])

    def _expiry_warning(self, details: TlsDetails) -> None:
        leaf = details.leaf
        if leaf is not None and 0 <= leaf.days_left < _tls.EXPIRY_WARNING_DAYS:
            self.warnings.append(
                f"the certificate expires in {leaf.days_left} days ({leaf.not_after})"
            )


_VERIFY_KINDS = frozenset(
    {Kind.TLS_EXPIRED, Kind.TLS_SELF_SIGNED, Kind.TLS_UNTRUSTED, Kind.TLS_HOSTNAME_MISMATCH}
)


def _alpn(t: Target) -> tuple[str, ...]:
    """What the handshake offers: HTTP/1.1 for the HTTP schemes (and ``tls://``, as
    always), HTTP/2 alone for gRPC, nothing for mail, whose servers may refuse a client
    that says HTTP."""
    if t.scheme == "grpcs":
        return _tls.ALPN_H2
    return () if t.scheme in ("smtp", "smtps") else _tls.ALPN
