"""The ``connect`` phase: every resolved address raced as RFC 8305 ("Happy Eyeballs v2")
describes, each attempt with its outcome and time."""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import dataclasses
import errno
import os
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Final

from tether._classify import classify, failure_for
from tether._failure import Failure
from tether._hostport import join_hostport
from tether._kinds import Kind
from tether._redact import redact_url
from tether.probe._details import Attempt

ATTEMPT_DELAY = 0.25
"""RFC 8305 section 5: the recommended Connection Attempt Delay."""


@dataclass(slots=True)
class Raced:
    sock: socket.socket | None = None
    address: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    failure: Failure | None = None
    warnings: list[str] = field(default_factory=list)


async def race(addresses: list[tuple[int, str]], port: int, timeout: float, url: str) -> Raced:
    """Start the next address every ``ATTEMPT_DELAY`` or as soon as one fails; first wins."""
    attempts = _Race(asyncio.get_running_loop(), port, timeout, url)
    if len(addresses) == 1:
        # Nothing to race: one await, without the task and the wait() a race needs
        # (a monitor checking a thousand targets a second feels both).
        await attempts.alone(*addresses[0])
    else:
        await attempts.run(list(addresses))
    return attempts.settle()


@dataclass(slots=True)
class _Race:
    """The attempts of one :func:`race`: those under way, and what the ended ones found."""

    loop: asyncio.AbstractEventLoop
    port: int
    timeout: float
    url: str
    out: Raced = field(default_factory=Raced)
    failures: list[Failure] = field(default_factory=list)
    running: dict[asyncio.Task[socket.socket], tuple[int, str, float]] = field(default_factory=dict)
    """Each attempt under way: its family, address and when it started."""

    async def one(self, family: int, address: str) -> socket.socket:
        sock = _Socket(family, _STREAM)
        if not _NONBLOCK:
            sock.setblocking(False)
        try:
            await _sock_connect(self.loop, sock, (address, self.port), self.timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    def failed(self, error: BaseException, address: str) -> str:
        """Keep the failure of the attempt on ``address``; its outcome, for the record."""
        failure = _connect_failure(error, address, self.port, self.timeout, self.url)
        self.failures.append(failure)
        return failure.kind.value

    async def alone(self, family: int, address: str) -> None:
        """The only address: one attempt, awaited."""
        out = self.out
        started = time.perf_counter()
        try:
            out.sock, out.address = await self.one(family, address), address
            outcome = "connected"
        except Exception as exc:  # cancellation is not a failure: it propagates
            outcome = self.failed(exc, address)
        ms = round((time.perf_counter() - started) * 1000, 3)
        out.attempts.append(Attempt(address, _family(family), outcome, ms))

    def start(self, queue: list[tuple[int, str]]) -> None:
        family, address = queue.pop(0)
        task = asyncio.ensure_future(self.one(family, address))
        self.running[task] = (family, address, time.perf_counter())

    async def run(self, queue: list[tuple[int, str]]) -> None:
        """The race of ``queue``'s addresses, until one connects or all have failed; the
        attempts still under way then are stopped."""
        out = self.out
        self.start(queue)
        try:
            while self.running and out.sock is None:
                done, _ = await asyncio.wait(
                    self.running,
                    timeout=ATTEMPT_DELAY if queue else None,
                    return_when="FIRST_COMPLETED",
                )
                for task in done:
                    self.ended(task)
                if out.sock is None and queue:
                    self.start(queue)
        except BaseException:
            await self.abandon()
            raise
        await self.stop_unneeded()

    def ended(self, task: asyncio.Task[socket.socket]) -> None:
        """Record an attempt that ended: the winner, a second winner, or a failure."""
        out = self.out
        family, address, started = self.running.pop(task)
        ms = round((time.perf_counter() - started) * 1000, 3)
        error = task.exception()
        if error is None and out.sock is None:
            out.sock, out.address = task.result(), address
            outcome = "connected"
        elif error is None:
            task.result().close()  # a second winner in the same instant
            outcome = "not needed"
        else:
            outcome = self.failed(error, address)
        out.attempts.append(Attempt(address, _family(family), outcome, ms, ended_in_race=True))

    async def abandon(self) -> None:
        """Cancelled mid-race (the probe's deadline, or the monitor stopping): close every
        attempt still under way and any socket already won."""
        for task in self.running:
            task.cancel()
        for task in self.running:
            with contextlib.suppress(BaseException):
                await task
        if self.out.sock is not None:
            self.out.sock.close()

    async def stop_unneeded(self) -> None:
        """Stop the attempts still under way once one has won, each recorded as not needed."""
        for task, (family, address, started) in self.running.items():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            ms = round((time.perf_counter() - started) * 1000, 3)
            self.out.attempts.append(Attempt(address, _family(family), "not needed", ms))

    def settle(self) -> Raced:
        """The race's result: the first failure when nothing connected, a warning for a
        family that failed while the other worked."""
        out = self.out
        if out.sock is None:
            out.failure = (
                self.failures[0]
                if self.failures
                else failure_for(Kind.CONNECT_UNREACHABLE, "no address to connect to", url=self.url)
            )
            return out
        families = {a.family: a.outcome for a in out.attempts}
        bad = [f for f, outcome in families.items() if outcome not in ("connected", "not needed")]
        if bad and out.address is not None:
            worked = "IPv6" if ":" in out.address else "IPv4"
            for fam in bad:
                if fam != worked:
                    out.warnings.append(
                        f"{fam} failed ({families[fam]}) while {worked} worked: clients that "
                        f"try {fam} first will be slow or fail"
                    )
        return out


async def _sock_connect(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, address: tuple[str, int], timeout: float
) -> None:
    """Connect the non-blocking ``sock`` to ``address`` within ``timeout`` seconds, or raise
    the ``OSError`` the connection failed with (``TimeoutError`` when it took too long).

    What ``loop.sock_connect`` does under ``asyncio.timeout``, less the wait where there
    is nothing to wait for: when the kernel knows the outcome as ``connect`` returns (a
    refusal or an unreachable network on this machine, a loopback port nobody listens
    on; or a connection the kernel has made already, as on loopback), the outcome is
    read at once, with no timer, future or writer registered.  In a mass outage that is
    most probes, and the wait's machinery was a third of each one's CPU.  Otherwise it
    waits as ``sock_connect`` does: until the socket is writable, then ``SO_ERROR``.
    (Windows' proactor loop watches no sockets for writing: there, the loop's own
    ``sock_connect``.)  Named as asyncio's own, whose frame tells ``classify`` that an
    ``EADDRNOTAVAIL`` came from a connect (no ephemeral port free), not from a bind."""
    if _PROACTOR:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, address)
        return
    err = sock.connect_ex(address)
    if err in _IN_PROGRESS:
        # A peer to name is a connection made (on loopback, within connect): no SO_ERROR
        # to read, one system call a probe fewer.
        if _connected(sock):
            return
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:  # under way: wait until it is writable
            await _writable(loop, sock, timeout)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err != 0:
        raise OSError(err, os.strerror(err))


def _connected(sock: socket.socket) -> bool:
    """Whether ``sock``'s connection is made already (on loopback the kernel makes it
    within ``connect``): a peer to name, or ENOTCONN."""
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


class _Socket(socket.socket):
    """A probe's socket, whose ``family`` and ``type`` are the plain numbers the system
    gives.  ``socket.socket`` turns each into its enum on every read, a Python property
    and an enum look-up; the event loop reads both as it takes a socket on (uvloop's
    ``create_connection(sock=...)``), about 1% of a probe's CPU on loopback."""

    __slots__ = ()
    family = _socket.socket.family  # type: ignore[assignment]
    type = _socket.socket.type  # type: ignore[assignment]


_PROACTOR: Final = sys.platform == "win32"
_NONBLOCK: Final = getattr(socket, "SOCK_NONBLOCK", 0)
_STREAM: Final = socket.SOCK_STREAM | _NONBLOCK
"""A stream socket made non-blocking as it is made, where the system can (Linux): one
system call a connection fewer than ``setblocking(False)`` after it."""
_IN_PROGRESS: Final = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})
"""What ``connect`` on a non-blocking socket says of a connection it has begun."""


async def _writable(loop: asyncio.AbstractEventLoop, sock: socket.socket, timeout: float) -> None:
    """Wait until ``sock`` is writable (its connection made or failed), ``timeout`` at most
    (``TimeoutError``)."""
    ready: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()

    def writable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, writable)
    try:
        async with asyncio.timeout(timeout):
            await ready
    finally:
        loop.remove_writer(fd)


def _family(family: int) -> str:
    return "IPv6" if family == socket.AF_INET6 else "IPv4"


def _connect_failure(
    error: BaseException, address: str, port: int, timeout: float, url: str
) -> Failure:
    shown = join_hostport(address, port)
    if isinstance(error, TimeoutError):
        return failure_for(
            Kind.CONNECT_TIMEOUT,
            f"{shown} did not answer the connection within {timeout:g} s",
            url=url,
            host=address,
            port=port,
        )
    failure = _classified(error, url)
    if failure.errno == errno.EADDRNOTAVAIL and ":" in address:
        # Linux says EADDRNOTAVAIL for an IPv6 destination when this machine has no IPv6
        # address; classify() cannot know the address tried when the URL names a host.
        return failure_for(
            Kind.CONNECT_UNREACHABLE,
            f"{shown} is unreachable: this machine has no IPv6 address to connect from",
            url=url,
            host=address,
            port=port,
        )
    return failure


_CLASSIFIED_MAX = 4096
_Key = tuple[type[BaseException], int | None, str, str]
_classified_of: dict[_Key, Failure] = {}
"""Failures by the error's type, errno and message and the whole URL."""
_by_server: dict[_Key, Failure] = {}
"""The same by the URL's server (:func:`_server_of`), for a URL not in the first."""


def _classified(error: BaseException, url: str) -> Failure:
    """``classify(error, url=url)``, worked out once per kind of refusal and server.

    A mass outage fails thousands of connects a second with the same few errors; for a
    plain ``OSError`` (no cause, no context) the classification is a function of its
    type, errno and message and of the server the URL names: ``classify`` reads only the
    host and port from the URL, and puts the URL itself, redacted, in the failure's
    ``url``.  A failure is reused with this error as its ``cause``: for the same URL as
    it is, and for another URL of the same server with that URL, redacted, as its
    ``url``.  Each monitor has a URL of its own, so a fleet with more URLs than the
    first cache holds (4,096: a worker's share of some 8,000 monitors) found none there, and
    classification was a third of a refused check's instructions.  Anything else is classified
    afresh, and a failure whose detail quotes the URL is reused for that URL only.
    """
    if not isinstance(error, OSError) or error.__cause__ is not None or error.__context__:
        return classify(error, url=url)
    kind, code, text = type(error), error.errno, str(error)
    key = (kind, code, text, url)
    known = _classified_of.get(key)
    if known is not None:
        return dataclasses.replace(known, cause=error)
    server = (kind, code, text, _server_of(url))
    shared = _by_server.get(server)
    if shared is not None:
        known = dataclasses.replace(shared, cause=error, url=redact_url(url))
    else:
        known = classify(error, url=url)
        if known.kind not in _QUOTES_URL:
            if len(_by_server) >= _CLASSIFIED_MAX:
                _by_server.clear()
            _by_server[server] = known
    if len(_classified_of) >= _CLASSIFIED_MAX:
        _classified_of.clear()
    _classified_of[key] = known
    return known  # frozen, and its cause is this error


def _server_of(url: str) -> str:
    """``url`` up to the end of its authority (``scheme://userinfo@host:port``), where
    ``urlsplit`` ends it: at the first ``/``, ``?`` or ``#`` after ``//``.  Two URLs
    with the same one have the same host and port by ``urlsplit`` (which ``classify``
    reads); a URL without ``//`` is its own."""
    start = url.find("//")
    if start < 0:
        return url
    end = _AUTHORITY_END.search(url, start + 2)
    return url if end is None else url[: end.start()]


_AUTHORITY_END: Final = re.compile(r"[/?#]")
_QUOTES_URL: Final = frozenset({Kind.URL_INVALID, Kind.HTTP_REDIRECT_LOOP})
"""The kinds whose detail quotes the URL (``_classify/_build.py``'s templates)."""
