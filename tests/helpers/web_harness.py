"""The web tests' harness: a real Runner served by the real ``make_app``, and Debian's
headless Chromium to look at it.

:class:`ServedRunner` is a Runner on a wall clock the test moves (``now``), served on
127.0.0.1:0 (or TLS, another loopback address, a Unix socket) from an event loop of its
own thread: Playwright's sync API keeps the main thread's.  Tests subclass it for their
monitors and call it with :meth:`~ServedRunner.get` and :meth:`~ServedRunner.json`
(plain HTTP), or :meth:`~ServedRunner.request` (a form or JSON, a session cookie, TLS).

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright, launched with its
calls home switched off (:func:`chromium`; the ``browser`` fixture of tests/monitor/web/conftest.py
holds one a module).  Without it or playwright a test skips, and fails instead when
TETHER_REQUIRE_CHROMIUM=1 (set by .ci/run).  A :class:`Tab` records every request the
page makes and every error it sees, and runs the page's timers on Playwright's paused
clock, so a refresh happens when a test moves that clock and never on its own.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp import web

from tether.monitor import Runner
from tether.monitor.alerts import Outbox
from tether.monitor.config import MonitorConfig
from tether.monitor.store import Store
from tether.monitor.web._web import make_app

T = TypeVar("T")

EPOCH = 1_800_000_000.0  # 2027-01-15T08:00:00Z: on a minute and an hour boundary
REFRESH_MS = 200
"""The dashboard's refresh in the tests that watch it (``refresh=REFRESH_MS / 1000``)."""
VIEWPORT = {"width": 1280, "height": 900}
"""A tab's size unless it says otherwise."""
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def start_site(
    app: web.Application,
    host: str = "127.0.0.1",
    *,
    tls: ssl.SSLContext | None = None,
    unix: str | None = None,
) -> web.AppRunner:
    """``app`` listening on ``host`` at a free port (over TLS with ``tls``), or on the
    Unix socket ``unix``."""
    # Teardown only: a connection aiohttp still lingers on (it reads the rest of a body
    # it refused, up to 10 s) is not waited for.
    app_runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await app_runner.setup()
    if unix is not None:
        await web.UnixSite(app_runner, unix).start()
    else:
        await web.TCPSite(app_runner, host, 0, ssl_context=tls).start()
    return app_runner


class Response:
    """An answer as :meth:`ServedRunner.request` read it: its status, headers and text."""

    def __init__(self, r: http.client.HTTPResponse) -> None:
        self.status = r.status
        self.headers = r.headers
        self.body = r.read().decode("utf-8", "replace")

    def cookie(self) -> str | None:
        """The tether_session value set, if any."""
        for line in self.headers.get_all("Set-Cookie") or []:
            if line.startswith("tether_session="):
                return line.split(";", 1)[0].split("=", 1)[1]
        return None

    def json(self) -> Any:
        return json.loads(self.body)


class ServedRunner:
    """A Runner over ``config`` and ``store`` on a wall clock the test moves (``now``),
    served by make_app from an event loop on a thread of its own.

    ``refresh`` is the dashboard's (make_app's default without it); ``authority`` replaces
    the app's; ``host``, ``tls`` and ``unix`` say where it listens; ``runner`` goes to
    the Runner (``probe``, ``rand``).  Subclasses add routes by overriding :meth:`app`.
    The store is closed with the server."""

    def __init__(
        self,
        config: MonitorConfig,
        store: Store,
        *,
        refresh: float | None = None,
        authority: Any = None,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        unix: str | None = None,
        **runner: Any,
    ) -> None:
        self.now = EPOCH
        self.store = store
        self.refresh = refresh
        self.authority = authority
        self.runner = Runner(config, store, Outbox(store, {}), wall=lambda: self.now, **runner)
        # What the runner's loop does first when it runs (this one is not run): the
        # objectives' counts read from the store.
        self.runner.objectives.read_now()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.app_runner = self.call(self._serve(host, tls, unix))
        self.tls = tls is not None
        if unix is None:
            bound, port = self.app_runner.addresses[0][:2]
            self.host, self.port = str(bound), int(port)
            self.base = f"{'https' if self.tls else 'http'}://{bound}:{port}"

    def app(self) -> web.Application:
        """The application served (on the server's loop)."""
        options = {} if self.refresh is None else {"refresh": self.refresh}
        app = make_app(self.runner, **options)
        if self.authority is not None:
            from tether.monitor.web._access import AUTHORITY

            app[AUTHORITY] = self.authority
        return app

    async def _serve(
        self, host: str, tls: ssl.SSLContext | None, unix: str | None
    ) -> web.AppRunner:
        return await start_site(self.app(), host, tls=tls, unix=unix)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and return what it returns."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=20)

    def on_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` on the server's loop (what must not run beside it)."""

        async def run() -> T:
            return fn(*args)

        return self.call(run())

    def check(self, *names: str) -> None:
        """Check ``names`` now, on the server's loop, and commit the results."""
        for name in names:
            self.call(self.runner.check(name, self.runner.mono()))
        self.store.flush()

    def get(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        """The status, headers and body of ``path``, whatever the status."""
        request = urllib.request.Request(self.base + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=20) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def get_text(self, path: str) -> tuple[int, dict[str, str], str]:
        """:meth:`get` with the body decoded."""
        status, headers, body = self.get(path)
        return status, headers, body.decode()

    def json(self, path: str) -> Any:
        """The JSON document at ``path``, which must answer 200."""
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        body: object = None,
        cookie: str | None = None,
        client: ssl.SSLContext | None = None,
        source: str | None = None,
    ) -> Response:
        """One request as a browser or a script sends it: ``form`` posted as a form, or
        ``body`` as JSON, with the session ``cookie``; over TLS (trusting ``client``)
        when served so, from the loopback address ``source``."""
        conn: http.client.HTTPConnection
        address = (source, 0) if source else None
        if self.tls:
            conn = http.client.HTTPSConnection(
                self.host, self.port, context=client, timeout=20, source_address=address
            )
        else:
            conn = http.client.HTTPConnection(
                self.host, self.port, timeout=20, source_address=address
            )
        sent = dict(headers or {})
        data = None
        if form is not None:
            data = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body)
            sent["Content-Type"] = "application/json"
        if cookie is not None:
            sent["Cookie"] = f"tether_session={cookie}"
        try:
            conn.request(method, path, body=data, headers=sent)
            return Response(conn.getresponse())
        finally:
            conn.close()

    def close(self) -> None:
        self.call(self.app_runner.cleanup())
        self.call(self.loop.shutdown_default_executor())  # the store reads' threads
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.store.close()


# -- Chromium ---------------------------------------------------------------------------------


def chromium_or_skip() -> None:
    """Skip without playwright or Debian's chromium; fail instead when
    TETHER_REQUIRE_CHROMIUM=1."""
    why = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        why = "needs playwright (pip install playwright; no browser download)"
    if not CHROMIUM.exists():
        why = "needs Debian's chromium at /usr/bin/chromium"
    if why is None:
        return
    if os.environ.get("TETHER_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"TETHER_REQUIRE_CHROMIUM=1 but this {why}", pytrace=False)
    pytest.skip(why)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium with its calls home switched off, closed after."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """A fresh browser page on ``base`` that records every request and every error it
    sees.  Its timers run on a paused clock from ``clock`` (none installed with None):
    the page refreshes only when the test moves it.  ``viewport=None`` is Playwright's
    own (1280 by 720).  ``console_errors=False`` counts only the page's uncaught errors,
    not what its console logs (a refused fetch logs one).  Closed after a ``with``."""

    def __init__(
        self,
        browser: Any,
        base: str,
        *,
        clock: float | None = EPOCH,
        viewport: dict[str, int] | None = VIEWPORT,
        console_errors: bool = True,
    ) -> None:
        self.base = base
        options = {} if viewport is None else {"viewport": viewport}
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        if console_errors:
            self.page.on(
                "console", lambda m: self.errors.append(m.text) if m.type == "error" else None
            )
        if clock is not None:
            self.page.clock.install(time=clock)
            self.page.clock.pause_at(clock + 60)  # ahead of the clock, which runs until then

    def open(self, path: str) -> Any:
        """``path`` loaded (:meth:`loaded`)."""
        self.page.goto(self.base + path)
        return self.loaded()

    def loaded(self) -> Any:
        """The page, once a monitor's chart (if it has one) is drawn: its script asks for
        the series after the page loads, so a test that reads the page before races it."""
        if self.page.locator("#chart").count():
            self.page.wait_for_selector("#chart[data-shown]", state="attached")
        return self.page

    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> Tab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fragments(self) -> int:
        """How many fragments the page has asked for."""
        return sum("fragment=1" in url for url in self.requests)

    def mark(self) -> None:
        """Mark the live parts, which a swap replaces."""
        self.page.evaluate(
            "document.querySelectorAll('[data-live]').forEach(e => e.dataset.old = 1)"
        )

    def swapped(self) -> None:
        """Wait until the marked live parts have been swapped for fresh ones."""
        from playwright.sync_api import expect

        # A locator, not wait_for_function: that evaluates a string, which the CSP forbids.
        expect(self.page.locator("[data-old]")).to_have_count(0)

    def refresh(self) -> None:
        """Let one refresh interval pass and wait until the script has swapped in the
        page's fresh fragment."""
        self.mark()
        self.page.clock.run_for(REFRESH_MS)
        self.swapped()

    def assert_on_origin(self) -> None:
        """Nothing failed, and every request went to the server's origin."""
        assert self.errors == []
        assert self.requests
        origin = urlsplit(self.base)
        for url in self.requests:
            parts = urlsplit(url)
            assert (parts.scheme, parts.hostname, parts.port) == (
                origin.scheme,
                origin.hostname,
                origin.port,
            ), url

    def assert_clean(self) -> None:
        """Nothing ran that should not have, nothing failed, nothing left the origin."""
        assert self.page.evaluate("window.__pwned") is None
        self.assert_on_origin()
