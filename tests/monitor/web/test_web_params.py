"""Numbers a peer sends the monitor's server: the /probe scrape-timeout header and the
incidents API's limit, against the real server (make_app) on loopback.

Each bad value is one 400 that says what to send, and the server, its event loop and
its timers go on working: a NaN timeout once reached the loop's timer queue and stopped
every check for about a minute."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
import yaml
from aiohttp import web

from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor.config import parse_config
from tether.monitor.web._web import make_app

HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
# Each of these reached float() or int() as it was: NaN, infinities, a negative or zero
# timeout, an overflow to infinity, an exponent, other scripts' digits, no number at all.
BAD_NUMBERS = ["nan", "NaN", "inf", "-inf", "-1", "0", "1e309", "1e9", "abc", "", "٣", "²", "1e"]

Script = Callable[[aiohttp.ClientSession, str], Awaitable[None]]


def against_the_server(runner_for: Callable[..., Runner], script: Script) -> None:
    """Run ``script(session, base_url)`` against make_app served on 127.0.0.1 (a Runner
    from the ``runner_for`` fixture)."""
    doc = {"monitors": [{"name": "web", "url": "http://127.0.0.1:9/"}]}
    runner = runner_for(parse_config(yaml.safe_dump(doc)))

    async def main() -> None:
        app_runner = web.AppRunner(make_app(runner), access_log=None)
        await app_runner.setup()
        try:
            await web.TCPSite(app_runner, "127.0.0.1", 0).start()
            host, port = app_runner.addresses[0][:2]
            timeout = aiohttp.ClientTimeout(total=20)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                await script(session, f"http://{host}:{port}")
        finally:
            await app_runner.cleanup()
            await asyncio.get_running_loop().shutdown_default_executor()

    asyncio.run(main())


async def fetch(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    async with session.get(url, headers=headers) as response:
        return response.status, await response.text()


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_bad_scrape_timeout_is_a_400_and_the_loop_goes_on(
    value: str, lab: Lab, runner_for: Callable[..., Runner]
) -> None:
    """/probe with a scrape-timeout header that is not a finite, positive number of
    seconds answers 400 naming the header; a good probe afterwards still completes."""
    target = lab["healthy"].url

    async def script(session: aiohttp.ClientSession, base: str) -> None:
        url = f"{base}/probe?target={target}"
        status, text = await fetch(session, url, {HEADER: value})
        assert status == 400
        assert text == f"{HEADER}: give a number from 0.001 to 86400, not {value!r}\n"
        # The loop's timers still work: a probe with a timeout runs to its end.
        status, text = await fetch(session, url, {HEADER: "5"})
        assert status == 200
        assert "probe_success 1.0" in text

    against_the_server(runner_for, script)


def test_a_long_scrape_timeout_is_capped_and_none_is_the_default(
    lab: Lab, runner_for: Callable[..., Runner]
) -> None:
    """A long timeout (Prometheus allows minutes) probes as usual, capped at 30 s; no
    header probes with the 10 s default; a number with ten decimals or an exponent is a
    number as JSON writes it (ten decimals were once refused)."""
    target = lab["healthy"].url

    async def script(session: aiohttp.ClientSession, base: str) -> None:
        for headers in (
            {HEADER: "120"},
            {HEADER: "9.5"},
            {HEADER: "9.5000000001"},
            {HEADER: "1e1"},
            {},
        ):
            status, text = await fetch(session, f"{base}/probe?target={target}", headers)
            assert status == 200, headers
            assert "probe_success 1.0" in text

    against_the_server(runner_for, script)


@pytest.mark.parametrize(
    "value", [*BAD_NUMBERS, "1e3", " 5", "1001", "1.5", "99999999999999999999"]
)
def test_a_bad_incidents_limit_is_a_400(value: str, runner_for: Callable[..., Runner]) -> None:
    """/api/incidents?limit= takes a whole number from 1 to 1000 and nothing else
    (``²`` passed str.isdigit() and then broke int(): a 500), and says so in the API's
    JSON error (it was text/plain where the OpenAPI document promises the JSON Error)."""

    async def script(session: aiohttp.ClientSession, base: str) -> None:
        async with session.get(f"{base}/api/incidents", params={"limit": value}) as response:
            assert response.status == 400
            assert response.content_type == "application/json"
            shown = value if len(value) <= 40 else value[:39] + "…"
            assert await response.json() == {
                "error": f"limit: give a whole number from 1 to 1000, not {shown!r}"
            }
        status, _ = await fetch(session, f"{base}/api/incidents?limit=1000")
        assert status == 200

    against_the_server(runner_for, script)
