"""Each discovery source fails alone (issue 45 section 3): whatever one source's read or
parse raises is that source's error, said once, while the others apply; an ``http_sd``
answer is read whole up to the byte limit (a larger one said to be too large), within a
whole-answer deadline.  Against real HTTP servers on loopback (aiohttp, in the test)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from tether.monitor.config import parse_config
from tether.monitor.config._discovery import MAX_GROUP_BYTES, HttpSD, TargetGroup
from tether.monitor.runtime._discovery import Discovery, read_http

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A loopback HTTP server answering ``/sd`` with ``handler``; its URL."""
    app = web.Application()
    app.router.add_get("/sd", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/sd"
    finally:
        await runner.cleanup()


def streamed(body: bytes, piece: int = 16 * 1024) -> Handler:
    """Answers ``body`` as JSON, written in pieces (chunked, no Content-Length)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse(headers={"Content-Type": "application/json"})
        await answer.prepare(request)
        for at in range(0, len(body), piece):
            await answer.write(body[at : at + piece])
        await answer.write_eof()
        return answer

    return handle


def two_sources(url: str, tmp_path: Path) -> str:
    (tmp_path / "targets.json").write_text(json.dumps([{"targets": ["127.0.0.1:81"]}]))
    return f"""\
discover:
  - name: inventory
    http_sd: {{url: "{url}"}}
    template: {{url: "tcp://{{{{address}}}}"}}
  - name: files
    file_sd: {{files: [targets.json]}}
    template: {{url: "tcp://{{{{address}}}}"}}
"""


def test_json_nested_too_deep_fails_its_source_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An ``http_sd`` answer nested 100,000 deep fails that source, said once in one
    line without a traceback, and the ``file_sd`` source beside it applies."""
    deep = b"[" * 100_000 + b"]" * 100_000
    caplog.set_level(logging.DEBUG, "tether.monitor")

    async def main() -> None:
        async with serving(streamed(deep)) as url:
            d = Discovery(parse_config(two_sources(url, tmp_path)), str(tmp_path))
            assert await d.step()
            assert [m.name for m in d.merged().monitors] == ["files/127.0.0.1:81"]
            inventory, files = d.status()
            assert inventory.error is not None
            assert "nested too deeply" in inventory.error
            assert (files.up, files.targets) == (True, 1)
            assert not await d.step()  # not due again: nothing more said

    asyncio.run(main())
    failing = [r for r in caplog.records if getattr(r, "event", "") == "discovery.failing"]
    assert len(failing) == 1
    assert "\n" not in failing[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]


def test_whatever_a_source_raises_is_its_own_error(tmp_path: Path) -> None:
    """A read that raises what nothing foresaw (a fetch that raises ``KeyError``: no real
    server can make tether's own code fail, so the fault is injected here) is that
    source's error, with its class, and the other source applies."""

    async def broken(sd: HttpSD) -> list[TargetGroup]:
        raise KeyError("labels")

    async def main() -> None:
        config = parse_config(two_sources("http://127.0.0.1:9/sd", tmp_path))
        d = Discovery(config, str(tmp_path), fetch=broken)
        assert await d.step()
        inventory, files = d.status()
        assert inventory.error == "KeyError: 'labels'"
        assert files.up

    asyncio.run(main())


def test_an_answer_is_read_whole_up_to_the_limit() -> None:
    """10,000 targets in about 1.4 MB, streamed in pieces, are all discovered (the answer
    is not cut where the client's buffer ended)."""
    groups = [
        {
            "targets": [f"10.0.{i // 250}.{i % 250}:9100"],
            "labels": {"team": f"team-{i:05d}", "rack": f"rack-{i % 40:02d}", "env": "prod"},
        }
        for i in range(10_000)
    ]
    body = json.dumps(groups).encode()
    assert 1_000_000 < len(body) < 2_000_000

    async def main() -> None:
        async with serving(streamed(body)) as url:
            found = await read_http(HttpSD(url=url))
            assert len(found) == 10_000
            assert found[-1].labels["team"] == "team-09999"

    asyncio.run(main())


def test_an_answer_past_the_limit_is_said_too_large() -> None:
    """An answer one byte past the limit (no Content-Length to read it from) fails the
    source as too large, not as "not JSON"."""
    body = b"[" + b" " * MAX_GROUP_BYTES + b"]"

    async def main() -> None:
        async with serving(streamed(body, piece=1024 * 1024)) as url:
            with pytest.raises(Exception, match="answer larger than 16,777,216 bytes"):
                await read_http(HttpSD(url=url))

    asyncio.run(main())


def test_an_answer_not_whole_within_its_deadline_fails() -> None:
    """A server that sends its answer a byte at a time, slower than the deadline, fails
    the source when the whole-answer deadline passes (not each read's)."""

    async def drip(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse(headers={"Content-Type": "application/json"})
        await answer.prepare(request)
        for byte in b"[" + b" " * 1000:
            await answer.write(bytes([byte]))
            await asyncio.sleep(0.05)
        return answer

    async def main() -> None:
        async with serving(drip) as url:
            with pytest.raises(Exception, match=r"no whole answer within 0\.5 s"):
                await read_http(HttpSD(url=url), deadline=0.5)

    asyncio.run(main())
