"""Browser checks against Debian's real Chromium (driven by Playwright) and pages served on
loopback by aiohttp: a page that needs its script to show its text, steps that work and
one that cannot, console errors, a failed subresource, a refused port, an untrusted
certificate, a 500 document, a server that never answers, and credentials in the URL.

One event loop for the module, so one Chromium serves every test (the engine keeps one
per loop).  Skips without playwright or /usr/bin/chromium, fails instead when
TETHER_REQUIRE_CHROMIUM=1 (tests/helpers/web_harness.py)."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from aiohttp import web

from tests.helpers.browser_checks import BrowserLoop
from tests.helpers.ports import free_port
from tests.helpers.web_harness import chromium_or_skip
from tether import Kind
from tether.probe import BrowserDetails, BrowserStep

APP_PAGE = """<!doctype html><html><head><title>app</title></head><body>
<form id="login"><input id="user"><button id="go" type="button">Sign in</button></form>
<div id="out"></div>
<script>
document.getElementById('go').addEventListener('click', () => {
  const who = document.getElementById('user').value;
  setTimeout(() => { document.getElementById('out').textContent = 'Welcome ' + who; }, 30);
});
document.body.insertAdjacentHTML('beforeend', '<p id="ready">rendered by script</p>');
</script></body></html>"""
NOISY_PAGE = """<!doctype html><html><body><p>noisy</p><script>
console.error('something broke, see http://admin:hunter2@backend.test/debug');
</script></body></html>"""
THROWING_PAGE = """<!doctype html><html><body><p>throws</p><script>
null.nothing();
</script></body></html>"""
MISSING_SCRIPT_PAGE = """<!doctype html><html><body><p>half</p>
<script src="/missing.js"></script></body></html>"""


def _html(text: str, status: int = 200) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html")

    return handler


async def _private(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"ada:s3cret").decode():
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="app"'})
    return web.Response(text="<p>inside</p>", content_type="text/html")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/private", _private)
    app.router.add_get("/", _html(APP_PAGE))
    app.router.add_get("/noisy", _html(NOISY_PAGE))
    app.router.add_get("/throws", _html(THROWING_PAGE))
    app.router.add_get("/half", _html(MISSING_SCRIPT_PAGE))
    app.router.add_get("/broken", _html("<p>down</p>", 500))
    return app


class Site(BrowserLoop):
    """The module's loop, its aiohttp servers (plain and TLS) and a silent server."""

    def __init__(self, ca: trustme.CA) -> None:
        super().__init__()
        self.runners: list[web.AppRunner] = []
        self.held: list[asyncio.StreamWriter] = []
        self.port = self.serve()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(tls)
        self.tls_port = self.serve(tls)
        self.silent, self.silent_port = self.loop.run(self._silent())

    def serve(self, tls: ssl.SSLContext | None = None) -> int:
        async def start() -> int:
            runner = web.AppRunner(_app(), access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
            self.runners.append(runner)
            return int(runner.addresses[0][1])

        return self.loop.run(start())

    async def _silent(self) -> tuple[asyncio.Server, int]:
        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.held.append(writer)  # read nothing, answer nothing

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        return server, int(server.sockets[0].getsockname()[1])

    def close(self) -> None:
        for runner in self.runners:
            self.loop.run(runner.cleanup())
        for writer in self.held:
            writer.transport.abort()
        self.silent.close()
        self.loop.run(self.silent.wait_closed())
        super().close()


@pytest.fixture(scope="module")
def site(ca: trustme.CA) -> Iterator[Site]:
    chromium_or_skip()
    s = Site(ca)
    try:
        yield s
    finally:
        s.close()


def _last(result: Any) -> BrowserDetails:
    details = result.phases[-1].details
    assert isinstance(details, BrowserDetails)
    return details


def test_a_page_that_renders_with_its_script_passes_its_steps(site: Site) -> None:
    """The text the script writes after a click appears; every milestone and step is a phase."""
    steps = (
        BrowserStep("wait_for", "#ready"),
        BrowserStep("fill", "#user", "ada"),
        BrowserStep("click", "#go"),
        BrowserStep("wait_for_text", "Welcome ada"),
    )
    result = site.probe(f"http://127.0.0.1:{site.port}/", steps=steps, keep_body=65536)
    assert result.failure is None, result.failure
    names = [p.name for p in result.phases]
    assert names[:2] == ["url", "navigation"]
    assert set(names[2:4]) == {"first_paint", "load"}
    assert names[4:] == ["step1.wait_for", "step2.fill", "step3.click", "step4.wait_for_text"]
    assert result.phase("navigation").details.status == 200
    assert b"Welcome ada" in result.body  # the rendered page, for [BODY] conditions
    assert result.screenshot is None


def test_a_step_that_finds_nothing_fails_naming_its_selector(site: Site) -> None:
    """A missing element is browser.step_failed within the deadline, with a PNG kept."""
    result = site.probe(
        f"http://127.0.0.1:{site.port}/", deadline=2.0, steps=(BrowserStep("click", "#absent"),)
    )
    assert result.failure is not None
    assert result.failure.kind is Kind.BROWSER_STEP_FAILED
    assert "step 1 (click '#absent')" in result.failure.detail
    assert result.phases[-1].name == "step1.click"
    assert result.screenshot is not None
    assert result.screenshot.startswith(b"\x89PNG\r\n\x1a\n")


def test_a_console_error_fails_the_check_redacted(site: Site) -> None:
    """console.error is browser.page_error; the URL it logs loses its password."""
    result = site.probe(f"http://127.0.0.1:{site.port}/noisy")
    assert result.failure is not None
    assert result.failure.kind is Kind.BROWSER_PAGE_ERROR
    assert "hunter2" not in result.failure.detail
    assert "something broke" in result.failure.detail
    assert "hunter2" not in str(result.to_dict())


def test_an_uncaught_exception_is_recorded_and_fails_only_when_asked(site: Site) -> None:
    """An uncaught TypeError fails by default; with fail_on_console_errors off it is
    recorded on the last phase and the check passes."""
    url = f"http://127.0.0.1:{site.port}/throws"
    failed = site.probe(url)
    assert failed.failure is not None
    assert failed.failure.kind is Kind.BROWSER_PAGE_ERROR
    assert "uncaught" in failed.failure.detail
    passed = site.probe(url, fail_on_console_errors=False)
    assert passed.failure is None
    assert any("uncaught" in e for e in _last(passed).console_errors)


def test_a_failed_subresource_is_recorded_and_fails_only_when_asked(site: Site) -> None:
    """A 404 script is listed among the failed requests (not as a console error); it
    fails the check only with fail_on_failed_requests, as http.client_error."""
    url = f"http://127.0.0.1:{site.port}/half"
    passed = site.probe(url)
    assert passed.failure is None, passed.failure
    assert _last(passed).failed_requests == (f"http://127.0.0.1:{site.port}/missing.js -> 404",)
    assert _last(passed).console_errors == ()
    failed = site.probe(url, fail_on_failed_requests=True)
    assert failed.failure is not None
    assert failed.failure.kind is Kind.HTTP_CLIENT_ERROR
    assert "/missing.js -> 404" in failed.failure.detail


def test_a_refused_port_is_connect_refused(site: Site) -> None:
    """Nothing listens: net::ERR_CONNECTION_REFUSED is connect.refused."""
    result = site.probe(f"http://127.0.0.1:{free_port()}/")
    assert result.failure is not None
    assert result.failure.kind is Kind.CONNECT_REFUSED
    assert result.phases[-1].name == "navigation"


def test_an_untrusted_certificate_fails_unless_insecure(site: Site) -> None:
    """A certificate of an unknown authority is tls.untrusted; tls.insecure goes on."""
    url = f"https://127.0.0.1:{site.tls_port}/"
    result = site.probe(url)
    assert result.failure is not None
    assert result.failure.kind is Kind.TLS_UNTRUSTED
    assert site.probe(url, insecure=True).failure is None


def test_a_500_document_is_a_server_error(site: Site) -> None:
    """The main document's status is judged as an HTTP check's."""
    result = site.probe(f"http://127.0.0.1:{site.port}/broken")
    assert result.failure is not None
    assert result.failure.kind is Kind.HTTP_SERVER_ERROR
    assert result.phase("navigation").details.status == 500


def test_a_server_that_never_answers_is_a_read_timeout_within_the_deadline(site: Site) -> None:
    """Accepted, never answered: read.timeout once the check's deadline passes."""
    result = site.probe(f"http://127.0.0.1:{site.silent_port}/", deadline=1.0)
    assert result.failure is not None
    assert result.failure.kind is Kind.READ_TIMEOUT
    assert sum(p.ms for p in result.phases) < 3000


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(site: Site) -> None:
    """user:password@ logs in to the page's origin; the result shows it redacted."""
    result = site.probe(f"http://ada:s3cret@127.0.0.1:{site.port}/private")
    assert result.failure is None, result.failure
    assert site.probe(f"http://127.0.0.1:{site.port}/private").failure is not None
    assert "s3cret" not in result.target
    assert "s3cret" not in str(result.to_dict())
