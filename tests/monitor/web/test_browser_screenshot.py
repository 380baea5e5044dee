"""A browser monitor's last failure's screenshot, end to end: a real Runner checks a page
served on loopback in Debian's Chromium, the step fails, the store keeps the PNG, the
monitor's page shows it with its time, its route serves it (with the page's access rules:
tests/monitor/web/test_access_matrix.py), and the public status page never shows it.
Skips without playwright or /usr/bin/chromium, fails instead when TETHER_REQUIRE_CHROMIUM=1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers.ports import free_port
from tests.helpers.web_harness import ServedRunner, chromium_or_skip
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore

PAGE = "<!doctype html><html><body><h1>Shop</h1><p id='price'>12</p></body></html>"


def _config(port: int) -> str:
    return f"""
monitors:
  - name: shop
    url: http://127.0.0.1:{port}/
    interval: 60s
    timeout: 3s
    browser:
      steps:
        - wait_for: "#price"
        - click: "#buy"
  - name: plain
    url: http://127.0.0.1:{port}/
status_pages:
  - slug: public
    title: Public
    groups:
      - {{name: Shop, monitors: [shop, plain]}}
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRunner]:
    chromium_or_skip()
    from tether.probe._browser import close_browsers

    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    port = free_port()
    s = ServedRunner(parse_config(_config(port)), SQLiteStore(tmp_path / "t.db"))

    async def serve() -> web.AppRunner:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    site = s.call(serve())
    try:
        yield s
    finally:
        s.call(close_browsers())
        s.call(site.cleanup())
        s.close()


def test_a_failed_browser_check_keeps_its_screenshot_for_the_monitors_page(
    served: ServedRunner,
) -> None:
    """The failed step is stored with a PNG; the page shows it with its time, the route
    serves it, a monitor without one answers 404, the status page shows none."""
    assert served.get("/monitors/shop/screenshot.png")[0] == 404
    served.check("shop", "plain")
    (result,) = served.store.results("shop", limit=1)
    assert result.kind is not None
    assert result.kind.value == "browser.step_failed"
    assert "click '#buy'" in (result.detail or "")
    status, headers, body = served.get("/monitors/shop/screenshot.png")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    _, _, html = served.get_text("/monitors/shop")
    assert 'src="/monitors/shop/screenshot.png"' in html
    assert "Last failure" in html
    doc = served.json("/api/monitors/shop")
    assert doc["screenshot"]["path"] == "/monitors/shop/screenshot.png"
    assert "screenshot" not in served.json("/api/monitors/plain")
    assert served.get("/monitors/plain/screenshot.png")[0] == 404
    _, _, public = served.get_text("/status/public")
    assert "screenshot" not in public


def test_an_agents_prober_runs_a_browser_monitor_as_the_server_sends_it(
    served: ServedRunner,
) -> None:
    """The monitor dumped as the server sends it to an agent, validated as the agent reads
    it, is checked by a Prober of its own (in Chromium), and the screenshot stays with
    the check (an agent's spool keeps only the record: agents upload none)."""
    import asyncio

    from tether.monitor.checks._prober import Check, Prober
    from tether.monitor.config import Monitor
    from tether.monitor.config._fields import SECONDS_CONTEXT
    from tether.probe._browser import close_browsers

    raw = served.runner.config.monitor("shop").model_dump(mode="json")
    monitor = Monitor.model_validate(raw, context={SECONDS_CONTEXT: True})

    async def go() -> Check:
        prober = Prober()
        prober.assign([monitor])
        try:
            return await prober.check("shop", prober.mono())
        finally:
            await close_browsers()

    check = asyncio.run(go())
    assert check.record.kind is not None
    assert check.record.kind.value == "browser.step_failed"
    assert check.screenshot is not None
    assert check.screenshot.startswith(b"\x89PNG")
