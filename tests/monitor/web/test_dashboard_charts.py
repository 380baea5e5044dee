"""A monitor's page: the response-time series API, the chart uPlot draws from it, the
heartbeat bar, the uptime and certificate tiles and the incidents on a time axis.

A real Runner over a real SQLite store checks the lab's targets on a wall clock the test
moves (``Served`` of tests/helpers/dashboard_harness.py): 30 days of three checks a day, during
which ``api`` is down for two checks on day 10, then the last hour checked every minute,
``api`` down for five of those rounds.  The test knows every time it checked and every
check it made fail, and holds the series, the heartbeat and the timeline to that.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers.dashboard_harness import Served, iso
from tests.helpers.web_harness import EPOCH, Tab, start_site
from tether.lab import Lab
from tether.monitor.web._access import AUTHORITY, Principal
from tether.monitor.web._web import make_app
from tether.monitor.web.documents import _series

DAY = 86400.0
DAYS = 30
DAILY = (0.0, 8 * 3600.0, 16 * 3600.0)
DOWN_DAY = 10
ROUNDS = 60
DOWN_ROUNDS = range(40, 45)
MONITORS = ("api", "web", "cond")


class History(Served):
    """``Served`` after 30 days of history and an hour of checks a minute apart."""

    def __init__(self, tmp: Path, lab: Lab) -> None:
        super().__init__(tmp, lab)
        self.checked: list[float] = []  # api's check times
        self.failed: list[float] = []  # api's failed check times
        for day in range(DAYS):
            for k, offset in enumerate(DAILY):
                self.now = EPOCH + day * DAY + offset
                self.api_down = day == DOWN_DAY and k < 2
                self._round()
        self.last_hour = EPOCH + DAYS * DAY
        for n in range(ROUNDS):
            self.now = self.last_hour + 60 * n
            self.api_down = n in DOWN_ROUNDS
            self._round(tls=n == ROUNDS - 1)
        self.api_down = False
        self.now += 30

    def _round(self, *, tls: bool = False) -> None:
        self.check(*MONITORS, *(("tls",) if tls else ()))
        self.checked.append(self.now)
        if self.api_down:
            self.failed.append(self.now)


@pytest.fixture(scope="module")
def history(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    h = History(tmp_path_factory.mktemp("charts"), lab)
    yield h
    h.close()


def series(history: History, span: str, name: str = "api") -> dict[str, Any]:
    doc: dict[str, Any] = history.json(f"/api/series/{name}?range={span}")
    return doc


def since(history: History, seconds: float) -> list[float]:
    return [t for t in history.checked if t >= history.now - seconds]


# -- the series API -----------------------------------------------------------------------


def test_the_last_hour_is_each_check_with_its_phases_and_failures_by_kind(
    history: History,
) -> None:
    """range=1h is every check of the last hour from the raw results, oldest first, with
    its latency and phases (dns, connect, ttfb, transfer: the http phase split at the
    first byte), and the failed ones marked under their kind, connect.refused."""
    doc = series(history, "1h")
    expected = since(history, 3600)
    assert (doc["source"], doc["step_s"], doc["range"]) == ("results", None, "1h")
    assert (doc["from"], doc["to"]) == (iso(history.now - 3600), iso(history.now))
    assert doc["time"] == expected
    failed = [t in history.failed for t in expected]
    assert doc["failed"] == [int(f) for f in failed]
    assert doc["failures"] == {"connect.refused": [int(f) for f in failed]}
    assert doc["layers"] == {"connect.refused": "connect"}
    assert list(doc["phases"]) == ["dns", "connect", "ttfb", "transfer"]
    for i, bad in enumerate(failed):
        ttfb, transfer = doc["phases"]["ttfb"][i], doc["phases"]["transfer"][i]
        assert (ttfb is None) is bad  # a refused connection reaches no first byte
        parts = [doc["phases"][p][i] or 0.0 for p in doc["phases"]]
        # Stored to 0.01 ms each: each may round up by 0.005.
        assert 0 < sum(parts) <= doc["latency_ms"][i] + 0.005 * len(parts) + 1e-9
        if not bad:
            assert ttfb > 0
            assert transfer >= 0


def test_a_day_is_drawn_from_raw_results_and_falls_back_to_minute_rollups(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    """range=24h holds every check of the last day; past the cap on raw results read
    (SERIES_RAW_MAX), the same day is drawn from minute roll-ups instead, each minute
    holding its checks, failures and latency range."""
    day = series(history, "24h")
    assert (day["source"], day["time"]) == ("results", since(history, DAY))
    monkeypatch.setattr(_series, "SERIES_RAW_MAX", 10)
    capped = series(history, "1h")
    assert (capped["source"], capped["step_s"]) == ("minute roll-ups", 60)
    expected = since(history, 3600)
    assert capped["time"] == [t - t % 60 for t in expected]
    assert sum(capped["checks"]) == len(expected)
    assert sum(capped["failed"]) == len(DOWN_ROUNDS)
    assert capped["phases"] == {}
    for low, avg, high in zip(
        capped["latency_min_ms"], capped["latency_ms"], capped["latency_max_ms"], strict=True
    ):
        assert 0 < low <= avg <= high


@pytest.mark.parametrize(("span", "days"), [("7d", 7), ("30d", 30)])
def test_weeks_and_months_are_hour_rollups_with_failures_by_kind(
    history: History, span: str, days: int
) -> None:
    """range=7d and 30d are hour roll-ups from the hour the window starts in: the checks
    and failures in them add up to the checks the test made, and the failed condition,
    which a roll-up stores without a kind, is counted as `condition`."""
    doc = series(history, span)
    start = history.now - days * DAY
    hours = start - start % 3600
    made = [t for t in history.checked if t >= hours]
    bad = [t for t in history.failed if t >= hours]
    assert (doc["source"], doc["step_s"]) == ("hour roll-ups", 3600)
    assert doc["time"] == sorted({t - t % 3600 for t in made})
    assert sum(doc["checks"]) == len(made)
    assert {k: sum(v) for k, v in doc["failures"].items()} == {"connect.refused": len(bad)}
    cond = series(history, span, "cond")
    assert cond["failures"] == {"condition": cond["checks"]}
    assert cond["layers"] == {"condition": "condition"}


def test_a_bad_range_an_unknown_monitor_and_no_read_access_are_refused(
    history: History,
) -> None:
    """A range not offered is a 400 that lists the ranges, an unknown monitor a 404, and
    a reader the app's authority does not know a 401: all JSON with an error."""
    status, _, body = history.get("/api/series/api?range=2h")
    assert (status, json.loads(body)) == (
        400,
        {"error": "range: give one of 1h, 24h, 7d, 30d, not '2h'"},
    )
    status, _, body = history.get("/api/series/nope?range=1h")
    assert (status, json.loads(body)) == (404, {"error": "no monitor is called 'nope'"})

    class Nobody:
        open = False

        def principal(self, request: web.Request) -> Principal | None:
            return None

    async def serve() -> web.AppRunner:
        app = make_app(history.runner)
        app[AUTHORITY] = Nobody()
        return await start_site(app)

    guarded = history.call(serve())
    try:
        host, port = guarded.addresses[0][:2]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{host}:{port}/api/series/api?range=1h", timeout=10)
        assert refused.value.code == 401
        assert "log in" in json.loads(refused.value.read())["error"]
    finally:
        history.call(guarded.cleanup())


# -- the page, as the server renders it ----------------------------------------------------


def test_the_page_renders_tiles_heartbeat_and_the_incidents_on_a_time_axis(
    history: History,
) -> None:
    """The server-rendered page has the uptime tiles, the certificate's days left, 50
    heartbeat blocks coloured as the last 50 checks went, and, for each range, an SVG
    with a bar for each incident in it placed where it opened."""
    page = history.get("/monitors/api")[2].decode()
    for window in ("24h", "7d", "30d", "90d"):
        assert f'data-window="{window}"' in page
    last = since(history, 3600)[-50:]
    beats = [
        "beat-failed" if t in history.failed else "beat-ok"
        for t in last  # oldest first, as drawn
    ]
    drawn = [chunk.split('"', 1)[0] for chunk in page.split('<span class="beat ')[1:]]
    assert drawn == beats
    assert 'title="' + iso(last[-1]).replace("T", " ").replace("Z", " UTC") + " · ok · " in page
    incidents = history.json("/api/monitors/api")["incidents"]
    recent = next(i for i in incidents if i["opened"] == iso(history.failed[-len(DOWN_ROUNDS)]))
    hour = page.split('svg class="timeline-axis" data-range="1h"', 1)[1].split("</svg>", 1)[0]
    assert f'data-incident="{recent["id"]}"' in hour
    opened = history.failed[-len(DOWN_ROUNDS)]
    x = (opened - (history.now - 3600)) / 3600 * 1000
    assert f'x="{x:.1f}"' in hour
    month = page.split('svg class="timeline-axis" data-range="30d"', 1)[1].split("</svg>", 1)[0]
    assert month.count("<rect") == len({i["id"] for i in incidents})
    tls = history.get("/monitors/tls")[2].decode()
    days = history.json("/api/monitors/tls")["certificate"]["days_left"]
    assert days < 0  # the lab's expired certificate
    assert f"expired {-days} d ago" in tls


# -- in Chromium ---------------------------------------------------------------------------


@pytest.fixture
def tab(browser: Any, history: History) -> Iterator[Tab]:
    with Tab(browser, history.base) as t:
        yield t


def chart(page: Any) -> dict[str, str]:
    found: dict[str, str] = page.evaluate("({...document.getElementById('chart').dataset})")
    return found


def wait_drawn(page: Any, span: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f"#chart[data-shown='{span}']")).to_have_count(1)


def test_chromium_draws_the_chart_from_the_series(tab: Tab, history: History) -> None:
    """In Chromium the chart shows, drawn by uPlot on a canvas from the 24h series: as
    many points as the API gives, the phases and the failure kind in its legend, the
    heartbeat's 50 blocks, the 24h timeline alone; nothing left the origin."""
    page = tab.open("/monitors/api")
    wait_drawn(page, "24h")
    expected = series(history, "24h")
    shown = chart(page)
    assert shown["source"] == "results"
    assert int(shown["points"]) == len(expected["time"])
    # Four stacked phases and one failure kind.
    assert int(shown["lines"]) == len(expected["phases"]) + len(expected["failures"])
    assert page.locator("#chart canvas").count() == 1
    assert page.locator("#chart canvas").bounding_box()["width"] > 300
    legend = page.locator("#chart .u-legend .u-label").all_text_contents()
    assert legend == ["time (UTC)", "dns", "connect", "ttfb", "transfer", "connect.refused"]
    # The time axis is 24-hour UTC, as the page's other times (issue 24: it said "6:50pm").
    ticks = page.locator("#chart").get_attribute("data-ticks").split("|")
    assert ticks
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in ticks), ticks
    assert "checks" in page.locator(".chart-note").text_content()
    assert page.locator("#heartbeat .beat").count() == 50
    assert page.locator("#heartbeat .beat-failed").count() == len(DOWN_ROUNDS)
    visible = page.locator("svg.timeline-axis:not([hidden])")
    assert visible.get_attribute("data-range") == "24h"
    assert visible.locator(".tl-bar").count() >= 1
    assert any("/api/series/api?range=24h" in u for u in tab.requests)
    tab.assert_clean()


def test_the_range_buttons_fetch_their_range_and_show_its_timeline(
    tab: Tab, history: History
) -> None:
    """Pressing 7d asks the series API for range=7d and draws hour roll-ups with their
    least-to-most band; 1h asks for range=1h; each shows its own incident timeline; the
    total view draws the latency alone; a refresh of the page keeps the chart."""
    page = tab.open("/monitors/api")
    wait_drawn(page, "24h")
    page.click("#chart button[data-range='7d']")
    wait_drawn(page, "7d")
    assert any(u.endswith("/api/series/api?range=7d") for u in tab.requests)
    shown = chart(page)
    assert shown["source"] == "hour roll-ups"
    assert int(shown["points"]) == len(series(history, "7d")["time"])
    assert page.locator("#chart button[data-view='phases']").is_disabled()
    legend = page.locator("#chart .u-legend .u-label").all_text_contents()
    assert legend == ["time (UTC)", "average", "most", "least", "connect.refused"]
    visible = page.locator("svg.timeline-axis:not([hidden])")
    assert visible.get_attribute("data-range") == "7d"
    page.click("#chart button[data-range='1h']")
    wait_drawn(page, "1h")
    assert any(u.endswith("/api/series/api?range=1h") for u in tab.requests)
    assert int(chart(page)["points"]) == len(since(history, 3600))
    page.click("#chart button[data-view='latency']")
    legend = page.locator("#chart .u-legend .u-label").all_text_contents()
    assert legend == ["time (UTC)", "latency", "connect.refused"]
    tab.refresh()  # the swap brings a fresh <main>; the live chart is put back in it
    assert page.locator("#chart:not([hidden]) canvas").count() == 1
    assert chart(page)["view"] == "latency"
    assert page.locator("svg.timeline-axis:not([hidden])").get_attribute("data-range") == "1h"
    tab.assert_clean()
