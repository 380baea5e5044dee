"""The state of one probe's walk (URL → proxy → DNS → TCP → TLS → protocol) and its
bookkeeping: each phase timed and recorded, the first failure kept, the deadline's
failure named by the phase it cut, the result.  The steps of the walk build on it:
``_walk_reach`` (proxy, DNS, TCP), ``_walk_tls`` (TLS), ``_engine`` (the rest)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tether._classify import failure_for
from tether._failure import Failure
from tether._kinds import Kind
from tether.probe import _grpc, _http, _ws
from tether.probe._details import NO_DETAILS, Hop, HttpDetails, PhaseDetails
from tether.probe._options import ProbeOptions
from tether.probe._result import Phase, ProbeResult
from tether.probe._target import Target, redact_target
from tether.probe._wire import Wire

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # the pure install: mypy_extensions comes with mypy, not with tether

    def mypyc_attr(*_attrs: object, **_flags: object) -> Callable[[type], type]:  # type: ignore[misc]
        return lambda cls: cls


Sleep = Callable[[float], Awaitable[object]]


_SILENT = {
    "dns": Kind.DNS_TIMEOUT,
    "connect": Kind.CONNECT_TIMEOUT,
    "tls": Kind.TLS_TIMEOUT,
    "http": Kind.READ_TIMEOUT,
    "ssh": Kind.READ_TIMEOUT,
    "smtp": Kind.READ_TIMEOUT,
    "icmp": Kind.CONNECT_TIMEOUT,
    "ws": Kind.READ_TIMEOUT,
    "grpc": Kind.READ_TIMEOUT,
    "quic": Kind.CONNECT_TIMEOUT,
    "h3": Kind.READ_TIMEOUT,
    "auth": Kind.READ_TIMEOUT,
    "query": Kind.READ_TIMEOUT,
}
"""The kind of a phase that was still waiting for its first answer when time ran out."""


@dataclass(slots=True)
class Stream:
    """An open connection of the walk, closed (aborted) when the walk ends."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


@mypyc_attr(allow_interpreted_subclasses=True)
@dataclass(slots=True)
class Walk:
    """What one probe's walk has found so far, and the recording of its phases."""

    given: str
    options: ProbeOptions
    phases: list[Phase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure: Failure | None = None
    current: tuple[str, float] | None = None
    streams: list[Stream | Wire] = field(default_factory=list)
    target: Target | None = None
    proxy_note: str = ""
    response: _http.Exchange | None = None
    method: str = ""
    """The method of the hop under way (a redirect may turn it into GET)."""
    body: bytes | None = None
    pending: _http.Exchange | None = None
    """The exchange under way, so running out of time can tell silence from a slow body."""
    hops: list[Hop] = field(default_factory=list)
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
    call: _grpc.GrpcCall | None = None
    """The ``grpc`` phase under way or done: how far the health check got."""
    clock: Callable[[], float] = time.perf_counter
    sleep: Sleep = asyncio.sleep
    started: float = field(default_factory=time.monotonic)
    """When the walk began (monotonic), for the time an icmp:// probe may still wait."""

    # -- bookkeeping -------------------------------------------------------------

    def begin(self, name: str) -> None:
        self.current = (name, self.clock())

    def end(
        self,
        details: PhaseDetails,
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
            details: PhaseDetails = NO_DETAILS
            if phase == "http" and self.pending is not None:
                # What arrived before the deadline: the status line and part of the body.
                details = HttpDetails(
                    self.method or self.options.method, _http.summary(self.pending)
                )
            self.end(details, failure)
            if phase == "http" and self.hop is not None and self.hops:
                self._merge_hop(failure)
            if phase == "ws" and self.upgrade is not None:
                details = self.upgrade.details  # how far it got: the 101, the message sent
                self.phases[-1] = dataclasses.replace(self.phases[-1], details=details)
            if phase == "grpc" and self.call is not None:
                self.phases[-1] = dataclasses.replace(self.phases[-1], details=self.call.details)
        elif self.failure is None:
            self.failure = failure

    def _merge_hop(self, failure: Failure) -> None:
        """A redirect hop ran out of time: as :meth:`visit` does for a hop that ended,
        the http phase describes the last hop, with the chain, in one phase."""
        assert self.hop is not None
        url, started = self.hop
        cut = self.phases.pop()
        first = self.phases.pop()
        response = _http.summary(self.pending or _http.Exchange())
        hop = Hop(url, response, round((self.clock() - started) * 1000, 3))
        details = HttpDetails(self.method or self.options.method, response, (*self.hops, hop))
        self.phases.append(Phase("http", False, first.ms + cut.ms, details, failure))

    def close(self) -> None:
        for stream in self.streams:
            # abort, not close: closing TLS waits for the peer's close_notify, which the
            # probe's event loop may not live to see, and then the socket leaks.
            (stream.transport if isinstance(stream, Wire) else stream.writer.transport).abort()

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


async def open_stream(sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Streams over a connected socket (``asyncio.open_connection``, with
    :class:`_StreamProtocol`); the socket is closed if this is cancelled."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(loop=loop)
    protocol = _StreamProtocol(reader, loop=loop)
    try:
        transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
    except BaseException:
        sock.close()
        raise
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class _StreamProtocol(asyncio.StreamReaderProtocol):
    """asyncio's stream protocol, but a connection's error goes to the reader only.

    asyncio also keeps it in a future that only ``StreamWriter.wait_closed()`` reads.
    A probe never waits for a close (it aborts), so after a failed TLS handshake that
    future, the error, its traceback and the walk's frames make a cycle; when the
    collector frees it and finalizes the future before the protocol, asyncio logs
    "Future exception was never retrieved" with the whole traceback (seen on uvloop
    in ``tether demo``)."""

    def __init__(self, reader: asyncio.StreamReader, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(reader, loop=loop)
        self._probe_reader = reader

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self._probe_reader.set_exception(exc)
        super().connection_lost(None)


def literal_family(host: str) -> int | None:
    """The address family of ``host`` when it is an address literal, else None."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.split("%", maxsplit=1)[0])
        except OSError:
            continue
        return family
    return None
