"""Worker processes: probing spread over every core of the machine (``workers: N``).

One Python process probes on one core at most (the GIL), so ``tether monitor`` with
``workers`` above 1 starts that many worker processes beside its own, which stays the
*coordinator*: the store and its one writer, the detector, the incident engine, the
outbox, the metrics and the dashboard.  State, incidents and alerts are therefore
exactly what one process makes of the same checks.

- **Sharding.** Each monitor belongs to one worker, by a stable hash of its name
  (:func:`worker_of`), so a reload keeps a monitor where it was.  A worker runs a
  :class:`~tether.monitor.checks._prober.Prober` over its share and sends every check back
  (batched every few milliseconds); the coordinator sends it its share, reloads and
  confirmation re-probes.  Frames are length-prefixed pickles over a socket pair that
  only the two processes hold.
- **``/probe`` on every worker.** The coordinator binds and listens on the port
  (``web/_listen.py``: no other process may share it) and every worker accepts on those
  sockets, inherited, taking connections from the one queue as it is free (a worker
  that dies leaves the queue to the others; while none runs, connections wait in it); a
  worker answers ``/probe`` itself and forwards every other path (``/metrics``, the
  dashboard, the APIs) to the coordinator, which serves them on a Unix socket in a
  private directory.
- **A worker that dies** is logged and started again (its monitors resume within a
  second or so, their schedule spread anew); the coordinator's death ends every worker
  (each sees its socket close).  SIGINT is the coordinator's to handle: a worker ignores
  it, so Ctrl-C in a terminal stops everything once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import os
import signal
import socket
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from tether.monitor._turns import TURN
from tether.monitor.checks._prober import Check, Prober, Sink
from tether.monitor.config import Monitor
from tether.monitor.config._blackbox import DEFAULT_MODULES, BlackboxModule
from tether.monitor.runtime._loop import GC_THRESHOLDS, run
from tether.monitor.runtime._orphan import die_with
from tether.monitor.runtime._worker_messages import (
    _Assign,
    _Checks,
    _frame,
    _Ready,
    _receive,
    _Reprobes,
    _Stop,
    _Update,
)
from tether.monitor.web._limits import (
    DIRECT_GETS,
    ServerLimits,
    on_socket,
    raise_fd_limit,
    start_guarded,
)
from tether.monitor.web._listen import answering_starting, listening_sockets
from tether.probe import AllowedTargets

__all__ = ["WorkerError", "WorkerFleet", "cores", "worker_of"]

log = logging.getLogger("tether.monitor")

_BATCH_SECONDS: Final = 0.01
"""A worker sends its checks at most this long after the first of a batch: one frame
per batch instead of one per check, and no check waits long enough to matter."""
_BATCH_MAX: Final = 512
_TURN: Final = TURN
"""Seconds the coordinator takes checks from a worker before it gives the event loop a
turn (requests, signals, the other worker's checks): ``tether.monitor._turns.TURN``, as every loop
over many items (``in_turns``; this one carries its turn from frame to frame)."""
_READY_TIMEOUT: Final = 60.0
"""How long a starting worker may take to import tether and listen."""
_STOP_TIMEOUT: Final = 10.0
"""How long a stopping worker may take to finish its checks before it is killed."""
_RESTART_MIN, _RESTART_MAX = 0.5, 30.0


class WorkerError(RuntimeError):
    """A worker process could not start: it could not listen, or did not answer."""


def cores() -> int:
    """How many cores this process may run on (its CPU affinity, as ``nproc`` says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_of(name: str, workers: int) -> int:
    """The worker that probes monitor ``name``: stable across reloads and restarts (a
    CRC of the name; Python's own ``hash`` of a string changes with every process)."""
    return zlib.crc32(name.encode("utf-8", "surrogatepass")) % workers


def _reaches(allowed: AllowedTargets, m: Monitor) -> bool:
    """Whether ``allowed`` lets ``/probe`` reach ``m``'s host already (a monitor not
    probed reaches nothing)."""
    if not m.probed:
        return True
    try:
        host = urlsplit(m.url).hostname
    except ValueError:
        return True
    return not host or allowed.host_allowed(host) or allowed.address_allowed(host)


# -- the coordinator's side ---------------------------------------------------------------


@dataclass(slots=True)
class _Worker:
    index: int
    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def send(self, message: object) -> None:
        if not self.writer.is_closing():
            self.writer.write(_frame(message))


class WorkerFleet:
    """``count`` worker processes probing for the coordinator (a ``Runner`` fleet).

    ``allowed`` says what ``/probe`` may reach, ``bearer`` which token hashes it
    requires, if any, and ``modules`` blackbox_exporter's modules it knows (each asked
    again on every assignment, so a reload applies);
    ``coordinator`` is the Unix socket the workers forward every other path to;
    ``log_format`` is how the workers write their log lines on stderr (``text`` or
    ``json``; None: they write none); ``limits`` what each worker's server holds its
    clients to (``_limits.py``).
    """

    def __init__(
        self,
        count: int,
        *,
        allowed: Callable[[], AllowedTargets],
        coordinator: str | None = None,
        log_format: str | None = None,
        bearer: Callable[[], frozenset[str] | None] = lambda: None,
        modules: Callable[[], Mapping[str, BlackboxModule]] = lambda: DEFAULT_MODULES,
        limits: ServerLimits | None = None,
    ) -> None:
        if count < 1:
            raise ValueError(f"count: must be at least 1, not {count!r}")
        self.count = count
        self._allowed = allowed
        self._bearer = bearer
        self._modules = modules
        self._coordinator = coordinator
        self._log_format = log_format
        self._limits = limits or ServerLimits()
        self._shares: list[dict[str, Monitor]] = [{} for _ in range(count)]
        self._sent: AllowedTargets | None = None
        """What ``/probe`` may reach, as last sent to the workers."""
        self._workers: list[_Worker | None] = [None] * count
        self._listening: list[socket.socket] = []
        """The sockets the workers accept on (empty: none), the coordinator's to hold."""
        self._started = False
        self._reprobes: list[list[tuple[str, float]]] = [[] for _ in range(count)]
        """Re-probes asked for in this turn of the event loop, by worker: sent at its end."""
        self._sending = False

    # -- what the runner asks (Fleet) ----------------------------------------------------

    def assign(self, monitors: Iterable[Monitor]) -> None:
        shares: list[dict[str, Monitor]] = [{} for _ in range(self.count)]
        for m in monitors:
            shares[worker_of(m.name, self.count)][m.name] = m
        self._shares = shares
        if self._started:
            allowed = self._sent = self._allowed()
            for worker in self._workers:
                if worker is not None:
                    worker.send(
                        _Assign.of(
                            tuple(self._shares[worker.index].values()),
                            allowed,
                            self._bearer(),
                            self._modules(),
                        )
                    )

    def update(self, monitors: Iterable[Monitor], removed: Iterable[str] = ()) -> None:
        put: list[list[Monitor]] = [[] for _ in range(self.count)]
        gone: list[list[str]] = [[] for _ in range(self.count)]
        for name in removed:
            index = worker_of(name, self.count)
            if self._shares[index].pop(name, None) is not None:
                gone[index].append(name)
        for m in monitors:
            index = worker_of(m.name, self.count)
            self._shares[index][m.name] = m
            put[index].append(m)
        if not self._started:
            return
        allowed = None
        sent = self._sent
        if sent is None or not all(_reaches(sent, m) for worker in put for m in worker):
            allowed = self._sent = self._allowed()
        for worker in self._workers:
            if worker is not None and (put[worker.index] or gone[worker.index]):
                worker.send(_Update(tuple(put[worker.index]), tuple(gone[worker.index]), allowed))

    def reprobe(self, name: str, delay: float) -> None:
        index = worker_of(name, self.count)
        if self._workers[index] is None:
            return
        self._reprobes[index].append((name, delay))
        if not self._sending:
            self._sending = True
            asyncio.get_running_loop().call_soon(self._send_reprobes)

    def _send_reprobes(self) -> None:
        """Send each worker the re-probes asked of it in this turn, in one frame."""
        self._sending = False
        for index, asked in enumerate(self._reprobes):
            if not asked:
                continue
            self._reprobes[index] = []
            worker = self._workers[index]
            if worker is not None:
                worker.send(_Reprobes(tuple(asked)))

    # -- starting and running ------------------------------------------------------------

    async def start(
        self, host: str | None = None, port: int | None = None
    ) -> tuple[str, int] | None:
        """Start every worker; with ``port``, they listen on ``host``:``port`` (0: a free
        port, the same for all) and answer ``/probe``.  Returns the first address and
        the port they listen on.  Raises :class:`OSError` when the port cannot be had
        (``PortInUse`` names who holds it), :class:`WorkerError` when a worker does not
        start."""
        if port is not None:
            self._listening = listening_sockets(host, port)
        self._started = True

        # All at once: each spends its first second or more importing tether, which on a
        # machine of N cores N workers do side by side (one after the other, the last
        # started N times later).
        allowed = self._allowed()  # the same for all: worked out once, not per worker

        starting = await answering_starting(self._listening)

        async def one(index: int) -> None:
            self._workers[index] = await self._spawn(index, allowed)
            starting.close()  # a worker accepts: the port is the workers' from now on

        try:
            try:
                done = await asyncio.gather(*map(one, range(self.count)), return_exceptions=True)
            finally:
                starting.close()
            failed = next((e for e in done if isinstance(e, BaseException)), None)
            if failed is not None:
                raise failed
        except BaseException:
            await self._kill_all()
            self._release()
            raise
        if not self._listening:
            return None
        address = self._listening[0].getsockname()
        return str(address[0]), int(address[1])

    async def run(self, stop: asyncio.Event, sink: Sink) -> None:
        """Take every worker's checks into ``sink`` until ``stop``; then stop the workers
        (each finishes the checks under way) and return once they have exited."""
        if not self._started:
            await self.start()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.gather(*(self._keep(i, stop, stopping, sink) for i in range(self.count)))
        finally:
            stopping.cancel()
            self._release()

    async def _keep(
        self, index: int, stop: asyncio.Event, stopping: asyncio.Future[Any], sink: Sink
    ) -> None:
        """Read worker ``index``'s checks; start it again whenever it dies, until ``stop``."""
        delay = _RESTART_MIN
        while True:
            worker = self._workers[index]
            if worker is None:
                if stop.is_set():
                    return
                try:
                    worker = self._workers[index] = await self._spawn(index)
                except WorkerError as exc:
                    log.error("worker %d could not start again: %s", index, exc)
                    await self._pause(delay, stopping)
                    delay = min(delay * 2, _RESTART_MAX)
                    continue
            reading = asyncio.ensure_future(self._read(worker, sink))
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                worker.send(_Stop())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_STOP_TIMEOUT):
                        await reading  # its last checks, then its end
                reading.cancel()
                await self._end(worker)
                self._workers[index] = None
                return
            # The worker is gone on its own: say so, then start it again.
            self._workers[index] = None
            code = await self._end(worker)
            log.error(
                "worker %d (pid %d) exited with %s; starting it again",
                index,
                worker.process.pid,
                _exit_text(code),
                extra={"event": "worker.died"},
            )
            await self._pause(delay, stopping)
            delay = min(delay * 2, _RESTART_MAX)

    @staticmethod
    async def _pause(seconds: float, stopping: asyncio.Future[Any]) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await asyncio.shield(stopping)

    @staticmethod
    async def _read(
        worker: _Worker, sink: Sink, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Hand every check the worker sends to ``sink``, giving the event loop a turn
        every :data:`_TURN` seconds: a frame already buffered is read without a pause, and
        one frame holds up to 512 checks, so during a mass outage (each check a state
        change) this loop held the event loop for as long as a frame's changes took,
        answering no request and no signal meanwhile."""
        turn = clock() + _TURN
        while (message := await _receive(worker.reader)) is not None:
            if isinstance(message, _Checks):
                for check in message.checks:
                    try:
                        sink(check)
                    except Exception:  # one check's trouble must not stop the others
                        log.exception("check of %s could not be taken", check.record.monitor)
                    if clock() >= turn:
                        await asyncio.sleep(0)
                        turn = clock() + _TURN

    async def _spawn(self, index: int, allowed: AllowedTargets | None = None) -> _Worker:
        """Start worker ``index`` and send it its share, with ``allowed`` (what ``/probe``
        may reach) when the caller has worked it out already."""
        ours, theirs = socket.socketpair()
        spec = {
            "fd": theirs.fileno(),
            "index": index,
            "listen": [sock.fileno() for sock in self._listening],
            "coordinator": self._coordinator,
            "log_format": self._log_format,
            "log_level": logging.getLogger("tether").getEffectiveLevel(),
            "limits": dataclasses.astuple(self._limits),
            "parent": os.getpid(),
        }
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                # Not -m: run as __main__, this module's message classes would be a second
                # copy of themselves, and what the coordinator pickles would not match.
                "import sys; from tether.monitor.runtime._workers import main; sys.exit(main())",
                json.dumps(spec),
                pass_fds=(theirs.fileno(), *(sock.fileno() for sock in self._listening)),
                stdin=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise WorkerError(f"cannot start a worker process: {exc}") from exc
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        worker = _Worker(index, process, reader, writer)
        try:
            async with asyncio.timeout(_READY_TIMEOUT):
                ready = await _receive(reader)
        except TimeoutError:
            ready = _Ready(f"it did not answer within {_READY_TIMEOUT:g} s")
        except BaseException:  # cancelled while starting: not a process left behind
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            writer.close()
            raise
        if not isinstance(ready, _Ready) or ready.error is not None:
            await self._end(worker)
            why = ready.error if isinstance(ready, _Ready) else "it exited as it started"
            raise WorkerError(f"worker {index}: {why}")
        allowed = self._allowed() if allowed is None else allowed
        self._sent = allowed
        share = tuple(self._shares[index].values())
        worker.send(_Assign.of(share, allowed, self._bearer(), self._modules()))
        return worker

    @staticmethod
    async def _end(worker: _Worker) -> int | None:
        """Close our end of ``worker``'s socket and reap its process (killing it if it
        does not exit on its own within the stop timeout); its exit code."""
        worker.writer.close()
        try:
            async with asyncio.timeout(_STOP_TIMEOUT):
                return await worker.process.wait()
        except TimeoutError:
            log.warning(
                "worker pid %d did not stop within %g s: killed",
                worker.process.pid,
                _STOP_TIMEOUT,
                extra={"event": "worker.killed"},
            )
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
            return await worker.process.wait()

    async def _kill_all(self) -> None:
        for index, worker in enumerate(self._workers):
            if worker is not None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await self._end(worker)
                self._workers[index] = None

    def _release(self) -> None:
        for sock in self._listening:
            sock.close()
        self._listening.clear()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


# -- the worker's side --------------------------------------------------------------------


class _Batch:
    """Checks waiting to be sent to the coordinator in one frame."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._checks: list[Check] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, check: Check) -> None:
        self._checks.append(check)
        if len(self._checks) >= _BATCH_MAX:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(_BATCH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._checks and not self._writer.is_closing():
            self._writer.write(_frame(_Checks(self._checks)))
        self._checks = []


async def _work(spec: dict[str, Any]) -> int:
    from aiohttp import web

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=spec["fd"]))
    prober = Prober()
    allowed = AllowedTargets((), ())
    bearer: frozenset[str] | None = None
    modules: Mapping[str, BlackboxModule] = DEFAULT_MODULES
    site_runner: web.AppRunner | None = None
    if spec["listen"]:
        app = _probe_app(lambda: allowed, spec["coordinator"], lambda: bearer, lambda: modules)
        try:
            listens = []
            for fd in spec["listen"]:
                sock = socket.socket(fileno=fd)  # the coordinator's, listening already
                sock.set_inheritable(False)  # not to a process this one starts
                listens.append(on_socket(sock))
            site_runner = await start_guarded(app, listens, ServerLimits(*spec["limits"]))
        except OSError as exc:
            writer.write(_frame(_Ready(f"cannot listen: {exc}")))
            await writer.drain()
            return 1
    writer.write(_frame(_Ready()))
    batch = _Batch(writer)
    frozen = False

    async def commands() -> None:
        nonlocal allowed, bearer, modules, frozen
        while (message := await _receive(reader)) is not None:
            if isinstance(message, _Assign):
                allowed, bearer, modules = message.allowed, message.bearer, message.modules
                await prober.assign_in_turns(await message.monitors())
                if not frozen:  # the configuration lives as long as the process
                    frozen = True
                    gc.collect()
                    gc.freeze()
                    gc.set_threshold(*GC_THRESHOLDS)
            elif isinstance(message, _Update):
                if message.allowed is not None:
                    allowed = message.allowed
                prober.update(message.monitors, message.removed)
            elif isinstance(message, _Reprobes):
                for name, delay in message.asked:
                    prober.reprobe(name, delay)
            elif isinstance(message, _Stop):
                break
        else:  # the coordinator is gone: its port is not this worker's to keep
            if site_runner is not None:
                for site in list(site_runner.sites):
                    await site.stop()
        stop.set()  # asked to, or the coordinator is gone

    listening = asyncio.ensure_future(commands())
    try:
        await prober.run(stop, batch.add)
    finally:
        listening.cancel()
        batch.flush()
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        if site_runner is not None:
            await site_runner.cleanup()
    return 0


def _probe_app(
    allowed: Callable[[], AllowedTargets],
    coordinator: str | None,
    bearer: Callable[[], frozenset[str] | None] = lambda: None,
    modules: Callable[[], Mapping[str, BlackboxModule]] = lambda: DEFAULT_MODULES,
) -> Any:
    """A worker's server: ``/probe`` answered here (with the token ``bearer()`` requires,
    if any), every other path forwarded to the coordinator's Unix socket.

    The forwarder is a pipe: it keeps nothing of one request for the next (no cookie
    jar, no credentials: a jar once sent the last login's session with every visitor's
    request), streams the body each way, and passes the answer's status and headers
    back as the coordinator wrote them.  What it adds, the address the request came from
    and the one it arrived on, it never takes from the client."""
    import aiohttp
    from aiohttp import web
    from aiohttp.http_exceptions import HttpProcessingError
    from aiohttp.web_protocol import RequestPayloadError
    from yarl import URL

    from tether.monitor.web._web import REQUEST_BODY_MAX, probe_handler
    from tether.monitor.web.auth._auth import bearer_gate

    session: aiohttp.ClientSession | None = None

    async def forward(request: web.Request) -> web.StreamResponse:
        nonlocal session
        if coordinator is None or not request.raw_path.startswith("/"):
            return web.json_response({"error": "not found"}, status=404)
        if session is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=coordinator),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                # Only what the client sent: no Accept, Accept-Encoding, User-Agent or
                # Content-Type of aiohttp's own.
                skip_auto_headers=_NOT_ADDED,
            )
        headers, body = _forwarded(request)
        try:
            answer = await session.request(
                request.method,
                URL("http://tether" + request.raw_path, encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, OSError, HttpProcessingError, RequestPayloadError) as exc:
            unread: web.StreamResponse | None = _unreadable(request, exc)
            if unread is not None:
                return unread
            return web.json_response(
                {"error": "tether monitor is starting or stopping"},
                status=503,
                headers={"Retry-After": "1"},
            )
        try:
            response = web.StreamResponse(status=answer.status, reason=answer.reason)
            for key, value in answer.headers.items():
                if key.lower() not in _HOP_BY_HOP or key.lower() == "content-encoding":
                    # An answer's Content-Encoding stays: its body is passed on as the
                    # coordinator wrote it, compressed (the session never decodes).
                    response.headers.add(key, value)
            if answer.content_length is not None:
                response.content_length = answer.content_length
            await response.prepare(request)
            while True:
                try:
                    chunk = await answer.content.readany()
                except (aiohttp.ClientError, OSError):
                    # Cut off halfway: the client sees its connection close before the
                    # end, never a shorter answer passed off as the whole.
                    if request.transport is not None:
                        request.transport.close()
                    return response
                if not chunk:
                    break
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            answer.release()

    async def close(app: web.Application) -> None:
        if session is not None:
            await session.close()

    app = web.Application(client_max_size=REQUEST_BODY_MAX)
    app.router.add_get("/probe", bearer_gate(probe_handler(allowed, modules), bearer))
    app[DIRECT_GETS] = frozenset({"/probe"})  # answered before the router
    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_cleanup.append(close)
    return app


def _forwarded(request: Any) -> tuple[list[tuple[str, str]], AsyncIterator[bytes] | None]:
    """The headers and the body a worker sends on to the coordinator for ``request``:
    the client's headers but the hop-by-hop ones, where it came from and arrived, and
    the body as the worker's server read it, cut past the route's limit."""
    from tether.monitor._agent_wire import RESULTS_PATH
    from tether.monitor.web._web import FORWARD_BODY_MAX, REQUEST_BODY_MAX
    from tether.monitor.web.auth._auth import LOCAL_ADDRESS_HEADER

    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
    headers.append(("X-Forwarded-For", request.remote or ""))
    # Where it arrived: the coordinator serves its dashboard to loopback alone while
    # no users are configured, and believes this header on its private socket only.
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple):
        headers.append((LOCAL_ADDRESS_HEADER, str(sockname[0])))
    if not request.body_exists:
        return headers, None
    # No more than the route takes (one byte past it, which it refuses as it would the
    # whole): an agent's batch may be larger than any other body.
    cap = FORWARD_BODY_MAX if request.path == RESULTS_PATH else REQUEST_BODY_MAX
    length = request.content_length
    # A body with a Content-Encoding is read decoded (aiohttp's server decodes it), so it
    # goes on without it, chunked: its length is not the one given.
    if length is not None and length <= cap and not request.headers.get(_ENCODING):
        headers.append(("Content-Length", str(length)))  # else sent chunked
    return headers, _capped(request.content, cap)


def _unreadable(request: Any, exc: BaseException) -> Any:
    """The JSON 400 for a client's body the worker's server could not read (aiohttp's
    client says so as an error of its own), or None when ``exc`` is the coordinator's."""
    from aiohttp import web
    from aiohttp.http_exceptions import HttpProcessingError
    from aiohttp.web_protocol import RequestPayloadError

    from tether.monitor.web._params import payload_problem

    sent = request.content.exception() if request.body_exists else None
    unread = next(
        (e for e in (exc, sent) if isinstance(e, HttpProcessingError | RequestPayloadError)),
        None,
    )
    if unread is None:
        return None
    answer = web.json_response(
        {"error": f"the body could not be read: {payload_problem(unread)}"}, status=400
    )
    answer.force_close()
    return answer


async def _capped(content: Any, most: int) -> AsyncIterator[bytes]:
    """A request's body as it arrives, cut one byte past ``most``: the coordinator
    refuses any body over ``most`` (after deciding who asks, as for a client of its
    own), so the rest would be read for nothing."""
    sent = 0
    async for chunk in content.iter_any():
        part = chunk[: most + 1 - sent]
        sent += len(part)
        yield part
        if sent > most:
            return


_NOT_ADDED: Final = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
_ENCODING: Final = "Content-Encoding"
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",  # 100-continue is the worker's own server's to answer
        "content-length",  # set again for what is sent
        "content-encoding",  # the body is sent on as the worker's server decoded it
        "x-forwarded-for",
        "x-tether-local-address",  # set by the worker alone, never taken from a client
    }
)


def main(argv: Sequence[str] | None = None) -> int:
    """A worker process (the coordinator starts it, with ``SPEC``, JSON: the socket's
    fd, where to listen, how to log, as its one argument)."""
    from tether.monitor.runtime._log import logging_to

    spec = json.loads((argv or sys.argv)[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator's to handle
    if not die_with(spec.get("parent")):
        return 1  # the coordinator was gone before this process could follow it
    raise_fd_limit()  # a socket per client held and per probe under way
    gc.freeze()  # what importing left: lives as long as the process
    if spec["log_format"] is None:
        return run(_work(spec))  # on uvloop where installed (_loop.py)
    with logging_to(sys.stderr, spec["log_format"], spec["log_level"], own_process=True):
        return run(_work(spec))
