"""``tether.report_to``: each call's outcome, batched to a monitor, from every integration.

The monitor is a real aiohttp server on 127.0.0.1:0 made here (:class:`Monitor`): it
records the batches it accepts and can answer 500 or 400, or hold a request without
answering.  The calls go to another real server (:class:`Loopback` routes ``/ok``,
``/503``, ``/404``) or to a bound port that does not listen (refused).  Reporters are made
with ``start_thread=False`` and sent with an explicit ``flush()``; the one test of the
real thread waits on an Event, bounded, never on a sleep.  Policies run on a fake clock,
so a call's latency is exactly the waits it made.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import trustme
from aiohttp import web

import tether
from tests.helpers.fakes import FakeClock
from tether import Reporter
from tether._retry import _ended
from tether.integrations import aiohttp as tether_aiohttp
from tether.integrations.httpx import AsyncTransport, Transport

SHORT = 10.0  # the most any bounded wait here may take; none should come near it


class Loopback:
    """aiohttp apps served on 127.0.0.1:0 from an event loop in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: list[web.AppRunner] = []

    def serve(
        self,
        app: web.Application,
        ssl_context: ssl.SSLContext | None = None,
        sock: socket.socket | None = None,
    ) -> int:
        """Serve ``app`` on a new port, or on ``sock`` (bound, not yet listening); its port."""
        if sock is None:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))

        async def start() -> None:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.SockSite(runner, sock, ssl_context=ssl_context).start()
            self.runners.append(runner)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(SHORT)
        return int(sock.getsockname()[1])

    def close(self) -> None:
        async def stop() -> None:
            for runner in self.runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(SHORT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(SHORT)
        self.loop.close()


def target_app() -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["status"]), text="x")

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_route("*", "/{status:\\d+}", answer)
    return app


class Monitor:
    """A stand-in for ``tether monitor``'s ``POST /api/report``: records what it accepts.

    ``mode``: ``ok`` (202), a status to answer with (``400`` says the body is malformed),
    or ``hang`` (reads the request, then holds it until :meth:`release`).
    """

    def __init__(
        self,
        loopback: Loopback,
        ssl_context: ssl.SSLContext | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        self.mode = "ok"
        self.batches: list[dict[str, Any]] = []
        self.authorization: list[str | None] = []
        self.arrived = threading.Event()
        self.hanging = threading.Event()
        self._release: asyncio.Event | None = None
        self.loopback = loopback
        app = web.Application()
        app.router.add_post("/api/report", self.report)
        self.port = loopback.serve(app, ssl_context, sock)
        self.runner = loopback.runners[-1]
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    async def report(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.mode == "hang":
            self._release = asyncio.Event()
            self.hanging.set()
            await self._release.wait()
        elif self.mode == "400":
            return web.json_response({"ok": False, "error": "calls[0]: not a list"}, status=400)
        elif self.mode.isdigit():
            return web.json_response(
                {"ok": False, "error": "database is locked"}, status=int(self.mode)
            )
        self.batches.append(body)
        self.authorization.append(request.headers.get("Authorization"))
        self.arrived.set()
        return web.json_response({"ok": True, "accepted": len(body["calls"])}, status=202)

    def close(self) -> None:
        """Stop serving (before the socket it was given is closed)."""
        self.loopback.runners.remove(self.runner)
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loopback.loop).result(SHORT)

    def release(self) -> None:
        release = self._release
        if release is not None:
            self.loopback.loop.call_soon_threadsafe(release.set)

    def calls(self) -> list[list[Any]]:
        return [call for batch in self.batches for call in batch["calls"]]


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    running = Loopback()
    yield running
    running.close()


@pytest.fixture(scope="module")
def target(loopback: Loopback) -> str:
    """The base URL of the server the calls go to."""
    return f"http://127.0.0.1:{loopback.serve(target_app())}"


@pytest.fixture
def monitor(loopback: Loopback) -> Iterator[Monitor]:
    running = Monitor(loopback)
    yield running
    running.release()


@pytest.fixture
def unlistened() -> Iterator[socket.socket]:
    """A loopback socket bound but not listening: connecting to its port is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s


@pytest.fixture
def refused(unlistened: socket.socket) -> int:
    return int(unlistened.getsockname()[1])


@pytest.fixture
def reporter(monitor: Monitor) -> Iterator[Reporter]:
    """A reporter receiving every ended call, sent only by ``flush()``."""
    made = Reporter(monitor.url, app="checkout", token="s3cr3t-token", start_thread=False)
    previous = _ended.install(made)
    yield made
    _ended.install(previous)
    made.close(SHORT)


def policy(clock: FakeClock) -> tether.RetryPolicy:
    """Three attempts, waits on the fake clock, fixed jitter, no budget or breaker."""
    return tether.RetryPolicy(
        clock=clock,
        sleep=clock.sleep,
        async_sleep=clock.async_sleep,
        rand=lambda: 0.5,
        budget=None,
        breaker=None,
    )


# -- one client per integration, each making one GET and ignoring its outcome ----------------


def via_requests(p: tether.RetryPolicy, url: str) -> None:
    with tether.Session(p) as s, _quiet():
        s.get(url)


def via_httpx(p: tether.RetryPolicy, url: str) -> None:
    with httpx.Client(transport=Transport(p)) as client, _quiet():
        client.get(url)


def via_httpx_async(p: tether.RetryPolicy, url: str) -> None:
    async def go() -> None:
        async with httpx.AsyncClient(transport=AsyncTransport(p)) as client:
            with _quiet():
                await client.get(url)

    asyncio.run(go())


def via_aiohttp(p: tether.RetryPolicy, url: str) -> None:
    async def go() -> None:
        async with tether_aiohttp.session(policy=p) as s:
            with _quiet():
                async with s.get(url) as r:
                    await r.read()

    asyncio.run(go())


def via_aiohttp_middleware(p: tether.RetryPolicy, url: str) -> None:
    async def go() -> None:
        mw = tether_aiohttp.middleware(p)
        async with aiohttp.ClientSession(middlewares=[mw]) as s:
            with _quiet():
                async with s.get(url) as r:
                    await r.read()

    asyncio.run(go())


def _fetch(url: str) -> int:
    """What a decorated function might do: a GET with the standard library."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=SHORT) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code


def via_retry(p: tether.RetryPolicy, url: str) -> None:
    fetch = tether.retry(policy=p, endpoint=url.split("/")[2])(_fetch)
    with _quiet():
        fetch(url)


def via_retry_async(p: tether.RetryPolicy, url: str) -> None:
    async def fetch(u: str) -> int:
        return _fetch(u)

    wrapped = tether.retry(policy=p, endpoint=url.split("/")[2])(fetch)

    async def go() -> None:
        with _quiet():
            await wrapped(url)

    asyncio.run(go())


class _quiet:
    """Swallow what a failed call raises: only its report matters here."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], Exception)  # type: ignore[arg-type]


CLIENTS: dict[str, Callable[[tether.RetryPolicy, str], None]] = {
    "requests": via_requests,
    "httpx": via_httpx,
    "httpx-async": via_httpx_async,
    "aiohttp": via_aiohttp,
    "aiohttp-middleware": via_aiohttp_middleware,
    "retry": via_retry,
    "retry-async": via_retry_async,
}
HTTP = {"requests", "httpx", "httpx-async", "aiohttp", "aiohttp-middleware"}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_each_integration_reports_one_call_per_outcome(
    client: str, target: str, refused: int, monitor: Monitor, reporter: Reporter
) -> None:
    """Each integration reports a success, a refusal and a 503 it gave up on: one row each,
    with the endpoint, method, kind, status, the latency of every wait and the attempts."""
    send = CLIENTS[client]
    port = int(target.rsplit(":", 1)[1])
    waits: list[float] = []
    before = time.time()
    for url in (f"{target}/ok", f"http://127.0.0.1:{refused}/ok", f"{target}/503"):
        clock = FakeClock()
        send(policy(clock), url)
        waits.append(sum(clock.slept))
    after = time.time()
    assert reporter.flush(SHORT)
    assert len(monitor.batches) == 1
    batch = monitor.batches[0]
    assert (batch["v"], batch["app"], batch["dropped"]) == (1, "checkout", 0)
    method = "GET" if client in HTTP else ""
    ok, gone, busy = batch["calls"]
    # A decorated function reports no status: what it returns is its own business.
    assert ok[1:] == [f"127.0.0.1:{port}", method, None, 200 if client in HTTP else None, 0, 1]
    assert gone[1:5] == [f"127.0.0.1:{refused}", method, "connect.refused", None]
    assert gone[5:] == [pytest.approx(waits[1] * 1000), 3]
    if client in HTTP:
        assert busy[1:5] == [f"127.0.0.1:{port}", method, "http.server_error", 503]
        assert busy[5:] == [pytest.approx(waits[2] * 1000), 3]
    else:  # the function returned the 503 as a value: a success to tether
        assert busy[3:] == [None, None, 0, 1]
    assert waits[1] > 0
    assert all(before <= row[0] <= after + 0.001 for row in batch["calls"])
    assert monitor.authorization == ["Bearer s3cr3t-token"]
    assert reporter.stats().sent == 3


def test_a_4xx_handed_back_counts_as_a_failure_of_its_kind(
    target: str, monitor: Monitor, reporter: Reporter
) -> None:
    """A 404 and a 500 go back to the caller unretried, yet report http.client_error and
    http.server_error: they are failing calls to whoever watches the endpoint."""
    clock = FakeClock()
    with tether.Session(policy(clock)) as s:
        assert s.get(f"{target}/404").status_code == 404
        assert s.post(f"{target}/500").status_code == 500
    assert reporter.flush(SHORT)
    rows = [row[2:] for row in monitor.calls()]
    assert rows == [
        ["GET", "http.client_error", 404, 0, 1],
        ["POST", "http.server_error", 500, 0, 1],
    ]


def test_a_cancelled_or_interrupted_call_is_not_reported(
    loopback: Loopback, target: str, monitor: Monitor, reporter: Reporter
) -> None:
    """A call cancelled while it waits, or interrupted by KeyboardInterrupt, reports
    nothing (least of all a success); the call after it reports as usual."""
    held = asyncio.Event()
    arrived = threading.Event()

    async def hold(request: web.Request) -> web.Response:
        arrived.set()
        await held.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/", hold)
    slow = f"http://127.0.0.1:{loopback.serve(app)}/"

    async def cancel_one() -> None:
        async with httpx.AsyncClient(transport=AsyncTransport(policy(FakeClock()))) as client:
            task = asyncio.create_task(client.get(slow))
            await asyncio.to_thread(arrived.wait, SHORT)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(cancel_one())
    loopback.loop.call_soon_threadsafe(held.set)

    @tether.retry(policy=policy(FakeClock()))
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    via_requests(policy(FakeClock()), f"{target}/ok")
    assert reporter.flush(SHORT)
    assert [row[3:5] for row in monitor.calls()] == [[None, 200]]


def _row(n: int) -> _ended.Record:
    """A record told apart by its time: ``n``."""
    return _ended.Record(
        at=float(n),
        endpoint="api.test:443",
        method="GET",
        kind=None,
        status=200,
        seconds=0.001,
        attempts=1,
    )


def test_while_the_monitor_is_away_the_oldest_calls_are_dropped_and_counted(
    loopback: Loopback, unlistened: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused, then 500, then back: at most max_buffer calls wait, the oldest go first,
    and the next accepted batch says how many were dropped."""
    port = unlistened.getsockname()[1]
    away = Reporter(f"http://127.0.0.1:{port}", app="checkout", max_buffer=4, start_thread=False)
    for n in range(1, 7):
        away.sink(_row(n))
    assert away.stats().dropped == 2
    with caplog.at_level(logging.WARNING, logger="tether"):
        assert not away.flush(SHORT)
    assert "connect.refused" in caplog.text
    assert (away.stats().failed, away.stats().buffered) == (1, 4)
    # The monitor listens now, and answers 500: the batch is kept again, with two more.
    monitor = Monitor(loopback, sock=unlistened)
    monitor.mode = "500"
    away.sink(_row(7))
    away.sink(_row(8))
    assert not away.flush(SHORT)
    assert away.stats() == tether._reporter.ReportStats(0, 4, 0, 2, 4)
    assert monitor.batches == []
    try:
        monitor.mode = "ok"
        assert away.flush(SHORT)
        assert monitor.batches[0]["dropped"] == 4
        assert [row[0] for row in monitor.calls()] == [5.0, 6.0, 7.0, 8.0]
        away.sink(_row(9))
        assert away.flush(SHORT)
        assert monitor.batches[1]["dropped"] == 0  # counted once, in the batch accepted after
        assert away.stats().sent == 5
    finally:
        away.close(SHORT)
        monitor.close()


def test_a_refused_batch_is_dropped_with_one_warning(
    monitor: Monitor, caplog: pytest.LogCaptureFixture
) -> None:
    """A 400 drops the batch (sending it again would fail again) and warns once, naming
    the monitor's reason; the token appears in no log line."""
    sender = Reporter(monitor.url, app="checkout", token="s3cr3t-token", start_thread=False)
    monitor.mode = "400"
    with caplog.at_level(logging.DEBUG, logger="tether"):
        for n in range(3):
            sender.sink(_row(n))
            assert sender.flush(SHORT)  # ended: nothing left to send
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "400 Bad Request: calls[0]: not a list" in warnings[0].getMessage()
    assert sender.stats().rejected == 3
    assert sender.stats().buffered == 0
    assert "s3cr3t" not in caplog.text
    assert "s3cr3t" not in repr(sender)
    sender.close(SHORT)


@pytest.mark.parametrize(
    ("status", "kept"), [(302, False), (405, False), (408, True), (429, True), (503, True)]
)
def test_which_answers_keep_a_batch(monitor: Monitor, status: int, kept: bool) -> None:
    """A "later" (408, 429, 5xx) keeps the batch to send again; any other refusal drops it."""
    sender = Reporter(monitor.url, app="checkout", start_thread=False)
    monitor.mode = str(status)
    sender.sink(_row(1))
    try:
        assert sender.flush(SHORT) is not kept
        assert sender.stats().buffered == (1 if kept else 0)
        assert sender.stats().rejected == (0 if kept else 1)
    finally:
        sender.close(0)


def test_a_hanging_monitor_never_blocks_a_call(
    monitor: Monitor, target: str, loopback: Loopback
) -> None:
    """With the reporter's thread stuck in a POST the monitor never answers, calls go on
    at full speed and succeed; flush() gives up at its timeout; once the monitor answers,
    what was kept arrives."""
    monitor.mode = "hang"
    reporter = tether.report_to(monitor.url, app="checkout", flush_every=3600, max_buffer=4)
    try:
        with tether.Session(policy(FakeClock())) as s:
            for _ in range(3):  # half full: the thread wakes and sends
                assert s.get(f"{target}/ok").status_code == 200
            assert monitor.hanging.wait(SHORT)
            for _ in range(50):  # all while the report is held
                assert s.get(f"{target}/ok").status_code == 200
        assert not monitor.arrived.is_set()
        started = time.monotonic()
        assert not reporter.flush(0.05)  # the thread holds the connection
        assert time.monotonic() - started < 1.0
        assert reporter.stats().dropped > 0  # 53 calls, room for 4
    finally:
        monitor.mode = "ok"
        monitor.release()
        assert monitor.arrived.wait(SHORT)
        tether.report_to(None)
    assert _ended.installed() is None
    assert monitor.calls()[0][1:5] == [target.split("/")[2], "GET", None, 200]


def test_the_thread_sends_when_the_buffer_is_half_full(monitor: Monitor, target: str) -> None:
    """report_to starts a daemon thread that sends as soon as the buffer is half full,
    without waiting for flush_every; report_to(None) stops reporting."""
    reporter = tether.report_to(monitor.url, app="checkout", flush_every=3600, max_buffer=4)
    thread = reporter._thread
    assert thread is not None
    assert thread.daemon
    try:
        for _ in range(2):
            via_requests(policy(FakeClock()), f"{target}/ok")
        assert monitor.arrived.wait(SHORT)
    finally:
        tether.report_to(None)
    assert not thread.is_alive()
    assert len(monitor.calls()) == 2
    via_requests(policy(FakeClock()), f"{target}/ok")  # not reported: stopped
    assert len(monitor.calls()) == 2
    assert reporter.stats().buffered == 0


def test_reports_to_an_https_monitor_are_verified(
    loopback: Loopback, ca: trustme.CA, cafile: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An https:// monitor's certificate is verified: with its CA (cafile=) the batch
    arrives; without it, the batch is kept and the warning names tls.untrusted."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    secure = Monitor(loopback, context)
    trusting = Reporter(secure.url, app="checkout", cafile=cafile, start_thread=False)
    trusting.sink(_row(1))
    assert trusting.flush(SHORT)
    assert secure.calls()[0][0] == 1.0
    doubting = Reporter(secure.url, app="checkout", start_thread=False)
    doubting.sink(_row(2))
    with caplog.at_level(logging.WARNING, logger="tether"):
        assert not doubting.flush(SHORT)
    assert "tls." in caplog.text
    assert len(secure.batches) == 1
    trusting.close(SHORT)
    doubting.close(0)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://monitor.test", "must start with http:// or https://"),
        ("http://", "names no host"),
        ("monitor.test:8080", "must start with http:// or https://"),
        ("http://monitor.test:99999", "is not a valid URL"),
        ("https://alice:hunter2@monitor.test", "carries credentials"),
    ],
)
def test_a_bad_url_is_one_line_at_report_to(url: str, says: str) -> None:
    """A URL that names no monitor is refused at once, in one line, its password hidden."""
    with pytest.raises(ValueError, match="report_to") as caught:
        tether.report_to(url, app="checkout")
    message = str(caught.value)
    assert says in message
    assert "\n" not in message
    assert "hunter2" not in message
    assert _ended.installed() is None


def test_an_unreadable_cafile_is_one_line_at_report_to(tmp_path: Path) -> None:
    """A CA file that is not there is named in one ValueError, before any call."""
    with pytest.raises(ValueError, match=r"cafile=.*No such file") as caught:
        tether.report_to("https://127.0.0.1:1", app="checkout", cafile=str(tmp_path / "ca.pem"))
    assert "\n" not in str(caught.value)


def test_the_reporter_backs_off_while_the_monitor_is_away(refused: int) -> None:
    """Each failed batch doubles the wait before the next (from flush_every, full jitter,
    capped at 30 s), on the injected clock; a success would reset it."""
    clock = FakeClock()
    away = Reporter(
        f"http://127.0.0.1:{refused}",
        app="checkout",
        start_thread=False,
        clock=clock,
        rand=lambda: 1.0,
    )
    waits = []
    for n in range(7):
        away.sink(_row(n))
        assert not away.flush(SHORT)
        waits.append(away._retry_at - clock.now)
    away.close(0)
    assert waits == [1, 2, 4, 8, 16, 30, 30]


def test_a_bad_app_name_is_refused() -> None:
    """The app name is what the monitor shows and keys by: 1-64 safe characters."""
    for app in ("", "check out", "x" * 65):
        with pytest.raises(ValueError, match="app="):
            Reporter("http://127.0.0.1:1", app=app, start_thread=False)


def test_the_environment_turns_reporting_on(monitor: Monitor, target: str) -> None:
    """TETHER_REPORT_URL, _APP and _TOKEN report a program's calls without a line of code,
    and what is buffered is sent as the program exits."""
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(tether.__file__).parent.parent),
        "TETHER_REPORT_URL": monitor.url,
        "TETHER_REPORT_APP": "nightly-job",
        "TETHER_REPORT_TOKEN": "env-s3cr3t",
    }
    code = f"import tether\nprint(tether.Session().get({target + '/ok'!r}).status_code)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "200"
    assert "env-s3cr3t" not in done.stderr
    assert [b["app"] for b in monitor.batches] == ["nightly-job"]
    assert monitor.calls()[0][2:5] == ["GET", None, 200]
    assert monitor.authorization == ["Bearer env-s3cr3t"]


def test_a_forked_child_reports_its_own_calls_from_a_thread_of_its_own(
    monitor: Monitor,
) -> None:
    """After os.fork the child starts with an empty buffer and a live thread of its own."""
    reporter = Reporter(monitor.url, app="checkout", flush_every=3600)
    try:
        reporter.sink(_row(1))
        parents = reporter._thread
        pid = os.fork()
        if pid == 0:  # the child: report by exit status alone
            thread = reporter._thread
            ok = (
                thread is not None
                and thread is not parents
                and thread.is_alive()
                and reporter.stats().buffered == 0
            )
            reporter.sink(_row(2))
            sent = reporter.flush(SHORT)
            os._exit(0 if ok and sent else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert [row[0] for row in monitor.calls()] == [2.0]  # the parent's call stayed
        assert reporter.flush(SHORT)
        assert [row[0] for row in monitor.calls()] == [2.0, 1.0]
    finally:
        reporter.close(SHORT)


def test_opentelemetry_records_the_http_client_duration(target: str, refused: int) -> None:
    """Every ended call records http.client.request.duration in seconds, with the HTTP
    client conventions' attributes and error.type set to the tether kind of a failure."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    _ended.install(_ended.installed())  # set up, so the default sink is made first
    default = _ended._state["meter_sink"]
    _ended.use_meter(provider.get_meter("tether", tether.__version__))
    try:
        clock = FakeClock()
        with tether.Session(policy(clock)) as s, _quiet():
            s.get(f"{target}/ok")
            s.get(f"{target}/503")
            s.get(f"http://127.0.0.1:{refused}/")
    finally:
        with _ended._locks[0]:
            _ended._state["meter_sink"] = default
            _ended._rebuild()
    data = reader.get_metrics_data()
    assert data is not None
    metrics = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert [m.name for m in metrics] == ["http.client.request.duration"]
    assert metrics[0].unit == "s"
    points = {
        tuple(sorted(p.attributes.items())): p  # type: ignore[union-attr]
        for p in metrics[0].data.data_points
    }
    port = int(target.rsplit(":", 1)[1])
    base = {"http.request.method": "GET", "server.address": "127.0.0.1"}
    expected = [
        {**base, "server.port": port, "http.response.status_code": 200},
        {
            **base,
            "server.port": port,
            "http.response.status_code": 503,
            "error.type": "http.server_error",
        },
        {**base, "server.port": refused, "error.type": "connect.refused"},
    ]
    assert set(points) == {tuple(sorted(e.items())) for e in expected}
    assert all(p.count == 1 for p in points.values())  # one per call, not per attempt
    served = points[tuple(sorted(expected[1].items()))]
    assert served.sum == pytest.approx(0.05 + 0.1)  # the waits before attempts 2 and 3
    # The conventions' advised buckets, not the SDK's default (made for milliseconds).
    assert list(served.explicit_bounds)[:3] == [0.005, 0.01, 0.025]


def test_nothing_is_recorded_when_nothing_listens(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no reporter and no meter, an ended call builds no record: the loop's one
    check finds nothing to call.  With a sink, the same call does build one (so the
    spy on the record's builder can see it)."""
    from tether._retry import _loop

    built: list[object] = []
    build = _loop._new_record

    def spy(cls: type, values: tuple[object, ...]) -> object:
        built.append(values)
        return build(cls, values)

    # The one builder of records, whether the full loop's Call.ended or an integration's
    # fast path (which makes no Call) ends the call.
    monkeypatch.setattr(_loop, "_new_record", spy)
    _ended.install(_ended.installed())
    default = _ended._state["meter_sink"]
    with _ended._locks[0]:
        _ended._state["meter_sink"] = None
        _ended._rebuild()
    try:
        assert _ended.SINKS == []
        via_requests(policy(FakeClock()), f"{target}/ok")
        assert built == []
        seen: list[object] = []
        with _ended._locks[0]:
            _ended.SINKS.append(seen.append)
        via_requests(policy(FakeClock()), f"{target}/ok")
        assert len(built) == len(seen) == 1
        (record,) = seen
        assert isinstance(record, _ended.Record)  # named, though made by tuple.__new__
        port = target.rsplit(":", 1)[1]
        assert (record.endpoint, record.method, record.kind, record.status) == (
            f"127.0.0.1:{port}",
            "GET",
            None,
            200,
        )
        assert record.attempts == 1
        assert record.seconds >= 0
    finally:
        with _ended._locks[0]:
            _ended._state["meter_sink"] = default
            _ended._rebuild()


def test_a_meter_provider_set_after_the_first_call_gets_the_calls_after_it(
    target: str,
) -> None:
    """With the API's default (proxy) meter, calls before a MeterProvider exists are not
    recorded and cost no attributes; once the application sets one, calls are recorded.
    In a fresh process, since a global MeterProvider can be set once per process."""
    code = f"""
import tether
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

session = tether.Session()
session.get({target + "/ok"!r})
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
session.get({target + "/404"!r})
session.get({target + "/404"!r})
for rm in reader.get_metrics_data().resource_metrics:
    for sm in rm.scope_metrics:
        for m in sm.metrics:
            for p in m.data.data_points:
                print(sm.scope.name, m.name, p.count, p.attributes.get("error.type"),
                      p.attributes.get("http.response.status_code"))
"""
    env = {**os.environ, "PYTHONPATH": str(Path(tether.__file__).parent.parent)}
    env.pop("TETHER_REPORT_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == [
        "tether http.client.request.duration 2 http.client_error 404"
    ]


def test_no_record_is_built_while_the_api_meter_has_no_provider(target: str) -> None:
    """With the OpenTelemetry API installed but no MeterProvider set (the API's proxy
    meter drops every measurement) and no reporter, the sinks are empty after the first
    call, so the calls after it build no record (issue 46 §5); setting a provider puts the
    duration sink back.  In a fresh process, since a global MeterProvider is set once."""
    code = f"""
import tether
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from tether._retry import _ended, _loop

built = []
build = _loop._new_record
_loop._new_record = lambda cls, values: built.append(values) or build(cls, values)
session = tether.Session()
session.get({target + "/ok"!r})
first = len(built)
session.get({target + "/ok"!r})
print(len(_ended.SINKS), len(built) - first)
metrics.set_meter_provider(MeterProvider())
session.get({target + "/ok"!r})
print(len(_ended.SINKS), len(built) - first)
"""
    env = {**os.environ, "PYTHONPATH": str(Path(tether.__file__).parent.parent)}
    env.pop("TETHER_REPORT_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == ["0 0", "1 1"]
