"""The monitor's web dashboard, over plain HTTP and in a real headless Chromium.

A real Runner checks real lab targets (healthy, refused, an expired certificate, a
condition that fails), on a wall clock the test moves by a minute per round, served by
make_app on 127.0.0.1:0 (tests/helpers/web_harness.py).  Two monitors carry markup an attacker
could plant: one is *named* ``<script>...</script>``, another's condition echoes an
``<img onerror>`` into its failure detail and incident.  One monitor's URL carries a
password and a token.

The browser is Debian's Chromium driven by Playwright, launched with no access to
anything but this loopback server; the tests record every request it makes.  The page's
timers run on Playwright's paused clock, so a refresh happens when a test moves that
clock and never on its own.  They skip without /usr/bin/chromium or playwright, and fail
instead when TETHER_REQUIRE_CHROMIUM=1 (set by .ci/run).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.helpers.dashboard_harness import IMG, SCRIPT, SECRETS, Served, iso
from tests.helpers.web_harness import EPOCH, REFRESH_MS, Tab
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor.alerts import ChannelStatus, Outbox
from tether.monitor.store import ProbeRecord, SQLiteStore
from tether.monitor.web._web import make_app
from tether.monitor.web.documents._dashboard import asset
from tether.monitor.web.documents._recent import Recent
from tether.monitor.web.documents._status import status_document
from tether.monitor.web.pages._pages import channel_banner, not_found_page

ROUNDS = 3
CHECKED = ("web", "api", "refused", "tls", "cond", SCRIPT)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def served(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Three rounds of checks a minute apart, then the clock a minute past the last."""
    s = Served(tmp_path_factory.mktemp("dashboard"), lab)
    for _ in range(ROUNDS):
        s.check(*CHECKED)
        s.now += 60
    yield s
    s.close()


def every_path(served: Served) -> list[str]:
    names = [m.name for m in served.runner.config.monitors]
    pages = ["/", "/incidents", *(f"/monitors/{quote(n, safe='')}" for n in names)]
    pages += [f"{page}?fragment=1" for page in pages]
    apis = ["/api/status", "/api/incidents", *(f"/api/monitors/{quote(n, safe='')}" for n in names)]
    return pages + apis + ["/metrics"]


class Rows(HTMLParser):
    """Each dashboard row's monitor name and the text of its state badge."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self._row: str | None = None
        self._in_state = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-monitor") is not None:
            self._row = found["data-monitor"]
        classes = (found.get("class") or "").split()
        self._in_state = self._row is not None and tag == "span" and "state" in classes

    def handle_data(self, data: str) -> None:
        if self._in_state and self._row is not None:
            self.rows[self._row] = data
            self._in_state = False


# -- plain HTTP ---------------------------------------------------------------------------


def test_the_server_rendered_dashboard_shows_each_monitor_in_its_state(served: Served) -> None:
    """GET / is HTML listing every configured monitor with the state the detector holds,
    the summary counts, and the open incidents with their cause and fix."""
    status, headers, body = served.get("/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    page = body.decode()
    parser = Rows()
    parser.feed(page)
    expected = {
        "web": "up",
        "api": "up",
        SCRIPT: "up",
        "refused": "down",
        "tls": "down",
        "cond": "down",
        "old": "paused",
        "new": "unknown",
    }
    assert parser.rows == expected
    assert {n: str(served.runner.detector.state(n)) for n in expected} == expected
    assert "8 monitors: " in page
    assert '<span class="count state-down">3 down</span>' in page
    assert "connect.refused" in page
    assert "tls.expired" in page
    assert "Fix:" in page
    # A hint's commands are code, not text with backquotes (issue 24).
    assert "<code>ss -ltnp</code>" in page
    assert "`ss -ltnp`" not in page
    assert "user:***@127.0.0.1" in page  # the URL is shown, redacted


def test_an_acknowledged_incident_says_so_on_its_card() -> None:
    """Issue 24: the overview's incident cards never said "acknowledged".  Rendered from
    the incident document as every page renders it (a pure function)."""
    from tether.monitor.web.pages._pages import incident_card

    card = {
        "id": 7,
        "partial": False,
        "kind": "connect.refused",
        "monitors": ["old-api"],
        "monitors_count": 1,
        "detail": "connection refused on 127.0.0.1:18099",
        "hint": "Run `nc -vz HOST PORT` & check <the> service",
        "open": True,
        "opened": "2027-01-15T08:00:00Z",
        "resolved": None,
        "duration_s": 600,
        "acknowledged": "2027-01-15T08:05:00Z",
        "timeline": [],
    }
    html = incident_card(card, timeline=False)
    assert "open for 10 min" in html
    assert "acknowledged" in html
    assert "<code>nc -vz HOST PORT</code> &amp; check &lt;the&gt; service" in html
    assert "acknowledged" not in incident_card({**card, "acknowledged": None}, timeline=False)


def test_status_api_keeps_its_keys_and_adds_rows_with_times(served: Served) -> None:
    """/api/status keeps `monitors` (name to state) and `open_incidents` (id, key, monitors)
    and adds per-monitor rows whose times are ISO 8601 UTC on the runner's clock."""
    doc = served.json("/api/status")
    assert doc["monitors"]["refused"] == "down"
    assert doc["monitors"]["web"] == "up"
    assert doc["now"] == iso(served.now)
    incidents = {i["kind"]: i for i in doc["open_incidents"]}
    assert set(incidents) >= {"connect.refused", "tls.expired", "condition"}
    refused = incidents["connect.refused"]
    assert {"id", "key", "monitors"} <= set(refused)
    assert "refused" in refused["monitors"]
    assert refused["opened"] == iso(EPOCH)
    assert refused["duration_s"] == served.now - EPOCH
    assert "listening" in refused["hint"]
    row = next(r for r in doc["rows"] if r["name"] == "refused")
    # Down since its first check; the last failure was the last round, a minute ago.
    assert (row["since"], row["for_s"]) == (iso(EPOCH), served.now - EPOCH)
    assert row["last_failure"]["kind"] == "connect.refused"
    assert row["last_failure"]["ago_s"] == 60
    assert "refused the connection" in row["last_failure"]["detail"]
    assert [p["failed"] for p in row["sparkline"]] == [1] * ROUNDS
    web_row = next(r for r in doc["rows"] if r["name"] == "web")
    assert web_row["last_failure"] is None
    assert [p["at"] for p in web_row["sparkline"]] == [iso(EPOCH + 60 * i) for i in range(ROUNDS)]
    assert all(p["latency_ms"] > 0 and p["failed"] == 0 for p in web_row["sparkline"])
    assert web_row["last_check"]["ok"] is True
    new_row = next(r for r in doc["rows"] if r["name"] == "new")
    assert (new_row["state"], new_row["last_check"], new_row["sparkline"]) == ("unknown", None, [])
    # The lab's expired certificate, as the last check saw it; plain HTTP has none.
    tls_row = next(r for r in doc["rows"] if r["name"] == "tls")
    assert tls_row["certificate"]["days_left"] < 0
    assert tls_row["certificate"]["expires"] < iso(served.now)
    assert web_row["certificate"] is None


def test_after_a_restart_a_monitor_is_in_its_state_since_the_store_says(
    served: Served,
) -> None:
    """A new runner over the same store has not seen any state change: each monitor is
    in its state since its last change the store holds (the down one since it went down,
    when its incident opened; the up one since it went up), as tether status says."""
    served.store.flush()
    store = SQLiteStore(served.store.path)
    try:
        restarted = Runner(
            served.runner.config, store, Outbox(store, {}), wall=lambda: served.now + 30
        )
        doc = asyncio.run(status_document(restarted))
    finally:
        store.close()
    rows = {r["name"]: r for r in doc["rows"]}
    assert doc["monitors"]["refused"] == "down"
    assert (rows["refused"]["since"], rows["refused"]["for_s"]) == (
        iso(EPOCH),
        served.now + 30 - EPOCH,
    )
    assert (rows["web"]["state"], rows["web"]["since"]) == ("up", iso(EPOCH))


def test_a_monitors_api_has_results_phases_rollups_and_incidents(served: Served) -> None:
    """/api/monitors/{name} lists the recent results with phase timings and resolved
    conditions, the hourly roll-up with uptime, and the incidents it is part of."""
    web_doc = served.json("/api/monitors/web")
    assert [r["at"] for r in web_doc["results"]] == [
        iso(EPOCH + 60 * i) for i in reversed(range(ROUNDS))
    ]
    assert all(
        r["ok"] and {"dns", "connect", "ttfb", "transfer"} <= set(r["phases"])
        for r in web_doc["results"]
    )
    (hour,) = web_doc["hourly"]
    assert (hour["start"], hour["checks"], hour["uptime_pct"]) == (iso(EPOCH), ROUNDS, 100.0)
    assert web_doc["incidents"] == []
    cond = served.json("/api/monitors/cond")
    assert cond["state"] == "down"
    assert cond["results"][0]["conditions"] == [f'[BODY] (ok\\n) == "{IMG}"']
    assert cond["hourly"][0]["uptime_pct"] == 0.0
    (incident,) = cond["incidents"]
    assert incident["kind"] == "condition"
    assert incident["open"] is True
    assert IMG in incident["detail"]


def test_the_incidents_api_filters_and_bounds(served: Served) -> None:
    """/api/incidents lists incidents newest first; ?open=1 keeps the open ones, and a
    limit that is not a number from 1 to 1000 is a 400."""
    everything = served.json("/api/incidents")["incidents"]
    ids = [i["id"] for i in everything]
    assert ids == sorted(ids, reverse=True)
    assert all(ISO.fullmatch(i["opened"]) for i in everything)
    assert [i["id"] for i in served.json("/api/incidents?open=1&limit=1")["incidents"]] == ids[:1]
    assert served.get("/api/incidents?limit=abc")[0] == 400
    assert served.get("/api/incidents?limit=0")[0] == 400


def test_every_response_carries_the_security_headers(served: Served) -> None:
    """Pages, APIs, static files and 404s all send a CSP allowing only this origin and
    nosniff; the static files have their own content types."""
    paths = [*every_path(served), "/static/dashboard.js", "/static/nope.js", "/monitors/nope"]
    for path in paths:
        _, headers, _ = served.get(path)
        assert "default-src 'self'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff", path
    assert served.get("/static/dashboard.js")[1]["Content-Type"].startswith("text/javascript")
    assert served.get("/static/dashboard.css")[1]["Content-Type"].startswith("text/css")
    assert served.get("/static/base.css")[1]["Content-Type"].startswith("text/css")
    assert served.get("/api/status")[1]["Content-Type"].startswith("application/json")


def test_unknown_monitors_are_404_and_nothing_changes_state(served: Served) -> None:
    """An unknown monitor is a 404 page (its name escaped) and a 404 in the API; the
    dashboard takes no POST."""
    status, headers, body = served.get("/monitors/%3Cb%3Enope")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert b"&lt;b&gt;nope" in body
    assert b"<b>nope" not in body
    status, _, body = served.get("/api/monitors/nope")
    assert status == 404
    assert json.loads(body) == {"error": "no monitor is called 'nope'"}
    assert served.get("/static/nope.js")[0] == 404
    for path in ("/", "/api/status", "/api/incidents", "/monitors/web"):
        assert served.get(path, method="POST")[0] == 405


def test_no_page_or_api_shows_a_secret_or_raw_markup(served: Served) -> None:
    """The URL's password and token appear in no page or API, and the injected name and
    condition reach the HTML only escaped."""
    for path in every_path(served):
        status, _, body = served.get(path)
        assert status == 200, path
        text = body.decode()
        for secret in SECRETS:
            assert secret not in text, (path, secret)
        if path.startswith(("/api", "/metrics")):
            continue
        assert "<script>window" not in text, path
        assert "<img" not in text, path
    page = served.get("/")[2].decode()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=window.__pwned=2&gt;" in page


LIVE = re.compile(r'<span id="updated".*?</span>|<main id="live" data-live>.*?</main>', re.S)


def test_a_pages_fragment_is_its_live_parts_as_the_page_renders_them(served: Served) -> None:
    """GET PAGE?fragment=1 is the page's "as of" corner and <main> alone, uncached, the
    very markup the page carries; an unknown monitor's fragment is a 404."""
    pages = ["/", "/incidents", "/monitors/cond", "/monitors/" + quote(SCRIPT, safe="")]
    for path in pages:
        page = served.get(path)[2].decode()
        status, headers, body = served.get(path + "?fragment=1")
        fragment = body.decode()
        assert status == 200, path
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Cache-Control"] == "no-store"
        assert "<html" not in fragment
        assert "<header" not in fragment
        assert f'data-fragment="{path}?fragment=1"' in page
        parts = LIVE.findall(fragment)
        assert len(parts) == 2, path
        assert parts == LIVE.findall(page), path
        assert LIVE.sub("", fragment).strip() == ""  # nothing else
    status, _, body = served.get("/monitors/nope?fragment=1")
    assert status == 404
    assert b"No monitor is called" in body
    assert b"data-fragment" not in served.get("/monitors/nope")[2]  # nothing to refresh


def Channel(name: str, **fields: Any) -> ChannelStatus:
    """One channel's queue as the outbox tells it, with what the test leaves out at rest."""
    rest: dict[str, Any] = {
        "queued": 0,
        "oldest_queued_at": None,
        "failing": False,
        "last_error": None,
        "last_failure_at": None,
        "sent": 0,
        "failed": 0,
    }
    return ChannelStatus(name, **(rest | fields))


def text_of(markup: str) -> list[str]:
    """Each paragraph's text, as a browser shows it."""

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.lines: list[str] = []
            self.inside = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "p":
                self.lines.append("")
                self.inside = True

        def handle_endtag(self, tag: str) -> None:
            self.inside = self.inside and tag != "p"

        def handle_data(self, data: str) -> None:
            if self.inside:
                self.lines[-1] += data

    parser = Text()
    parser.feed(str(markup))  # a banner is Markup, whose + would escape what the parser joins
    return parser.lines


HOSTILE = f"POST https://u:{SECRETS[0]}@hooks.example/?token={SECRETS[1]} said {IMG}"


def test_the_banner_names_each_failing_channel_its_error_and_backlog() -> None:
    """A line per failing channel, with its last error as text (markup escaped, secrets
    redacted), how many alerts wait and for how long the oldest has; a channel that
    delivers has no line, and no failing channel means no banner."""
    now = EPOCH
    channels = [
        Channel("ops", queued=3, oldest_queued_at=now - 240, failing=True, last_error=HOSTILE),
        Channel("mail", queued=1, failing=False, sent=9),
        Channel(SCRIPT, failing=True, last_failure_at=now - 5),
        Channel("pager", queued=2, failing=True, last_error="HTTP 503"),
    ]
    banner = channel_banner(channels, now)
    assert text_of(banner) == [
        "Alerts to ops are failing: POST https://u:***@hooks.example/?token=*** said "
        f"{IMG}; 3 queued, the oldest for 4 min 0 s",
        f"Alerts to {SCRIPT} are failing; nothing queued",
        "Alerts to pager are failing: HTTP 503; 2 queued",
    ]
    assert "<img" not in banner
    assert "<script>" not in banner
    assert "&lt;img src=x onerror=window.__pwned=2&gt;" in banner
    assert not any(secret in banner for secret in SECRETS)
    assert channel_banner(channels[1:2], now) == ""
    assert channel_banner([], now) == ""


def test_every_page_and_the_status_api_show_a_failing_channel(served: Served) -> None:
    """A webhook to a closed loopback port fails its delivery through the real outbox:
    every page and its fragment carry the banner with the failure's kind, and /api/status
    lists each channel with its queue and times in ISO 8601 UTC."""
    import socket

    from tether.monitor._records import AlertPayload
    from tether.monitor.alerts import WebhookChannel

    assert served.json("/api/status")["channels"] == []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"  # bound, never listening
    store = SQLiteStore(served.store.path)
    ops, mail = WebhookChannel("ops", dead), WebhookChannel("mail", dead)
    outbox = Outbox(store, {"ops": ops, "mail": mail})
    runner = Runner(served.runner.config, store, outbox, wall=lambda: served.now)
    alert = AlertPayload("incident.opened", "web", "web is down", served.now - 240)
    outbox.queue("ops", "1:web", alert, served.now - 240)
    assert outbox.deliver_due(served.now - 10) == (0, 1)
    pages = ["/", "/incidents", "/monitors/web", "/monitors/nope"]

    async def read() -> tuple[dict[str, str], Any]:
        async with TestClient(TestServer(make_app(runner), host="127.0.0.1")) as client:
            shown = {}
            for path in [*pages, *(p + "?fragment=1" for p in pages)]:
                async with client.get(path) as response:
                    shown[path] = await response.text()
            async with client.get("/api/status") as response:
                return shown, await response.json()

    try:
        shown, doc = asyncio.run(read())
    finally:
        outbox.close()
        ops.close()
        mail.close()
        store.close()
    for path, page in shown.items():
        (line,) = [t for t in text_of(page) if t.startswith("Alerts to")]
        assert line.startswith("Alerts to ops are failing: connect.refused: "), path
        assert line.endswith("; 1 queued, the oldest for 4 min 0 s"), path
    first, second = doc["channels"]
    assert first["name"] == "mail"
    assert not first["failing"]
    assert first["queued"] == 0
    assert second["name"] == "ops"
    assert second["failing"]
    assert second["queued"] == 1
    assert second["failed"] == 1
    assert second["oldest_queued_at"] == iso(served.now - 240)
    assert second["last_failure_at"] == iso(served.now - 10)
    assert second["last_error"].startswith("connect.refused: ")


class CountingStore:
    """A real SQLite store that notes which roll-ups are asked for (a spy, not a mock)."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.asked: list[float] = []

    def rollups_of(self, since: dict[str, float], period: str) -> dict[str, list[Any]]:
        self.asked.extend(since.values())
        return self.store.rollups_of(since, period)

    def failures_of(self, since: dict[str, float], limit: int) -> dict[str, Any]:
        return self.store.failures_of(since, limit)


def test_recent_rereads_only_the_last_minutes_and_finds_late_failures(
    fresh_store: SQLiteStore,
) -> None:
    """After the first read of the hour, Recent asks only for the last two minutes, yet a
    result committed late into the previous minute still counts, and a failure that left
    the hour is no longer the last failure."""
    store = fresh_store
    spy = CountingStore(store)
    recent = Recent()
    store.record(ProbeRecord("a", EPOCH, True, None, 2.0))
    store.record(ProbeRecord("a", EPOCH + 60, False, Kind.CONNECT_REFUSED, 1.0, "first"))
    store.flush()
    minutes, failures = recent.read(spy, ["a"], EPOCH + 90)
    assert [(m.start, m.count) for m in minutes["a"]] == [(EPOCH, 1), (EPOCH + 60, 1)]
    assert getattr(failures["a"], "detail", None) == "first"
    store.record(ProbeRecord("a", EPOCH + 70, False, Kind.CONNECT_REFUSED, 1.0, "late"))
    store.record(ProbeRecord("a", EPOCH + 130, True, None, 3.0))
    store.flush()
    minutes, failures = recent.read(spy, ["a"], EPOCH + 150)
    assert spy.asked == [EPOCH + 90 - 3600, EPOCH + 60]
    assert [(m.start, m.count) for m in minutes["a"]] == [
        (EPOCH, 1),
        (EPOCH + 60, 2),
        (EPOCH + 120, 1),
    ]
    assert getattr(failures["a"], "detail", None) == "late"
    minutes, failures = recent.read(spy, ["a"], EPOCH + 3700)
    assert [m.start for m in minutes["a"]] == [EPOCH + 120]
    assert failures["a"] is None


def test_the_static_files_ship_in_the_wheel(served: Served, tmp_path: Path) -> None:
    """The wheel hatchling builds holds static/ and templates/: tether imported from that
    wheel reads the same files through importlib.resources as the server sends, and
    renders a page from its templates as the source tree does."""
    from hatchling.builders.wheel import WheelBuilder

    root = Path(__file__).resolve().parents[3]
    (wheel,) = WheelBuilder(str(root)).build(directory=str(tmp_path), versions=["standard"])
    names = (
        "dashboard.js",
        "dashboard.css",
        "base.css",
        "favicon.svg",
        "charts.js",
        "uplot.min.js",
        "uplot.min.css",
        "uplot.LICENSE",
    )
    script = (
        "import json, tether.monitor.web.documents._dashboard as d, "
        "tether.monitor.web.pages._pages as p; "
        "page = p.not_found_page('<gone>', 0.0).document(5000); "
        f"print(json.dumps([d.__file__, page, *(d.asset(n).decode() for n in {names!r})]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": wheel},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    where, page, *files = json.loads(out)
    assert where.startswith(wheel)  # imported from the wheel (a zip), not the source tree
    assert page == not_found_page("<gone>", 0.0).document(5000)
    assert "No monitor is called &#39;&lt;gone&gt;&#39;" in page
    for name, text in zip(names, files, strict=True):
        assert text.encode() == served.get(f"/static/{name}")[2] == asset(name)
        assert text.strip()


# -- in Chromium ---------------------------------------------------------------------------


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Tab]:
    with Tab(browser, served.base) as t:
        yield t


def row_states(page: Any) -> dict[str, str]:
    states: dict[str, str] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('tr[data-monitor]')]
            .map(r => [r.dataset.monitor, r.querySelector('.state').textContent]))"""
    )
    return states


def test_chromium_renders_every_monitor_with_its_state(
    tab: Tab, served: Served, tmp_path: Path
) -> None:
    """In Chromium the dashboard lists every monitor in its state, before and after the
    script swaps in a fresh fragment, and looks like a page (a non-empty screenshot)."""
    page = tab.open("/")
    expected = served.json("/api/status")["monitors"]
    assert row_states(page) == expected
    server_rendered = page.locator("main").inner_text()
    tab.refresh()
    assert row_states(page) == expected
    assert page.locator("main").inner_text() == server_rendered  # nothing changed meanwhile
    assert page.locator("#incidents .incident").count() == len(
        served.json("/api/status")["open_incidents"]
    )
    assert page.locator("svg.spark polyline").count() == len(CHECKED)
    assert tab.fragments() == 1
    # The shared sheet (base.css) and the dashboard's both applied: no margin, 14px type.
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "14px"
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
    tab.assert_clean()


def test_the_refresh_follows_a_state_change_without_reloading(tab: Tab, served: Served) -> None:
    """When api goes down the next refresh turns its row to down and shows its incident
    (its own: api's port is another service than refused's), and the one after it
    recovers turns it back to up, all within the same page."""
    from playwright.sync_api import expect

    page = tab.open("/")
    page.evaluate("window.__samePage = true")
    state = page.locator("tr[data-monitor='api'] .state")
    expect(state).to_have_text("up")
    served.api_down = True
    try:
        served.check("api")
        tab.refresh()
        expect(state).to_have_text("down")
        expect(page.locator("#summary")).to_contain_text("4 down")
        refused = page.locator("#incidents .incident", has_text="connect.refused")
        expect(refused.locator(".monitors", has_text="api")).to_have_count(1)
    finally:
        served.api_down = False
        served.check("api")
    tab.refresh()
    expect(state).to_have_text("up")
    assert page.evaluate("window.__samePage") is True
    tab.assert_clean()


def test_a_monitors_page_shows_its_new_results_without_reloading(tab: Tab, served: Served) -> None:
    """On api's own page the next refresh shows its new state, its new failed result and
    the incident it joined, and the one after it recovers shows it up again."""
    from playwright.sync_api import expect

    page = tab.open("/monitors/api")
    page.evaluate("window.__samePage = true")
    state = page.locator("#state-line .state")
    failed = page.locator("#results .result-failed")
    expect(state).to_have_text("up")
    failed_before = failed.count()
    served.api_down = True
    try:
        served.check("api")
        tab.refresh()
        expect(state).to_have_text("down")
        expect(failed).to_have_count(failed_before + 1)
        expect(page.locator("#incidents .incident-open")).to_contain_text("connect.refused")
    finally:
        served.api_down = False
        served.check("api")
    tab.refresh()
    expect(state).to_have_text("up")
    assert page.evaluate("window.__samePage") is True
    tab.assert_clean()


def test_a_refresh_keeps_the_scroll_the_focus_and_a_selection(tab: Tab) -> None:
    """A swap leaves the page where it was scrolled and the keyboard's focus on the same
    link; while text in the page is selected, the page holds still and says so."""
    from playwright.sync_api import expect

    page = tab.open("/")
    page.set_viewport_size({"width": 1280, "height": 400})
    page.locator("tr[data-monitor='web'] td.name a").focus()
    page.evaluate("window.scrollTo(0, 150)")
    assert page.evaluate("window.scrollY") == 150  # the page is taller than the window
    tab.refresh()
    assert page.evaluate("window.scrollY") == 150
    focused = page.evaluate(
        "(a => [a.tagName, a.getAttribute('href'), a.closest('tr').dataset.monitor])"
        "(document.activeElement)"
    )
    assert focused == ["A", "/monitors/web", "web"]

    selected = page.evaluate(
        """() => {
            const range = document.createRange();
            range.selectNodeContents(document.querySelector(
                "tr[data-monitor='refused'] td.failure .detail"));
            getSelection().removeAllRanges();
            getSelection().addRange(range);
            return getSelection().toString();
        }"""
    )
    assert "refused the connection" in selected
    tab.mark()
    page.clock.run_for(REFRESH_MS)
    expect(page.locator("#updated .held")).to_have_text("· held while text is selected")
    assert page.locator("[data-old]").count() == 2  # nothing swapped
    assert page.evaluate("getSelection().toString()") == selected
    page.evaluate("getSelection().removeAllRanges()")
    page.clock.run_for(REFRESH_MS)
    tab.swapped()
    expect(page.locator("#updated .held")).to_have_count(0)
    tab.assert_clean()


def test_a_hidden_tab_asks_for_nothing_and_refreshes_when_seen_again(tab: Tab) -> None:
    """While the tab is hidden no interval brings a request; when it shows again the
    page refreshes at once, then every interval again."""
    page = tab.open("/")
    tab.refresh()
    asked = tab.fragments()
    page.evaluate(
        """() => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    page.clock.run_for(REFRESH_MS * 20)
    # A fetch starts within the timer that calls it, so one would be seen by now.
    assert tab.fragments() == asked
    tab.mark()
    page.evaluate(
        """() => {
            delete document.hidden;  // the document's own again
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    tab.swapped()  # at once: the clock has not moved
    assert tab.fragments() == asked + 1
    tab.refresh()
    assert tab.fragments() == asked + 2
    tab.assert_clean()


def test_a_failed_refresh_marks_the_page_stale_until_one_succeeds(tab: Tab) -> None:
    """A refresh that gets no answer, an error status, a 404 or an answer that is not
    the page leaves the page as it was and says why in its corner; the next good one
    clears it."""
    from playwright.sync_api import expect

    page = tab.open("/monitors/web")
    updated = page.locator("#updated")
    main = page.locator("main").inner_text()

    def fragment(url: str) -> bool:
        return "fragment=1" in url

    answers = [
        (lambda route: route.abort(), "the monitor does not answer"),
        (lambda route: route.fulfill(status=503, body="busy"), "the monitor answered 503"),
        (
            lambda route: route.fulfill(status=404, body="gone"),
            "this monitor is no longer configured",
        ),
        (
            lambda route: route.fulfill(status=200, body="<p>hello</p>", content_type="text/html"),
            "the monitor's answer is not this page",
        ),
    ]
    for answer, why in answers:
        page.route(fragment, answer)
        page.clock.run_for(REFRESH_MS)
        expect(updated).to_have_text(f"not updated: {why}")
        expect(updated).to_have_class("updated stale")
        assert page.locator("main").inner_text() == main
        page.unroute(fragment)
    tab.refresh()
    expect(updated).to_have_text(re.compile(r"^as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(updated).to_have_class("updated")
    # Chromium logs each failed load; nothing else may appear.
    assert all(e.startswith("Failed to load resource") for e in tab.errors), tab.errors
    tab.errors.clear()
    tab.assert_clean()


def test_clicking_a_monitor_opens_its_results(tab: Tab, served: Served) -> None:
    """A click on a monitor's name opens its page with its results, phase timings,
    hourly uptime and incidents, and the script keeps it fresh."""
    page = tab.open("/")
    page.locator("tr[data-monitor='refused'] td.name a").click()
    page.wait_for_url(served.base + "/monitors/refused")
    tab.loaded()
    assert page.locator("h1").text_content() == "refused"
    server_rendered = page.locator("main").inner_text()
    tab.refresh()
    assert page.locator("main").inner_text() == server_rendered  # nothing changed meanwhile
    rows = page.locator("#results tbody tr")
    assert rows.count() == ROUNDS
    assert "connect" in rows.first.locator(".phases").text_content()
    assert rows.first.locator(".result").text_content() == "failed"
    assert page.locator("#hourly .uptime").first.text_content() == "0.00 %"
    assert "connect.refused" in page.locator("#incidents").text_content()
    tab.assert_clean()


def test_injected_markup_shows_as_text_and_never_runs(tab: Tab, served: Served) -> None:
    """The monitor named <script> and the condition echoing <img onerror> show as text on
    the dashboard, the monitor's page (reached by its link) and the incidents page, before
    and after a refresh, and create no element: no script ran, no request left the page's
    own files."""
    page = tab.open("/")
    tab.refresh()
    names = page.evaluate("[...document.querySelectorAll('td.name a')].map(a => a.textContent)")
    assert SCRIPT in names
    assert IMG in page.locator("#incidents").text_content()
    # One script element (ours) and no image anywhere.
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    page.evaluate(
        """name => [...document.querySelectorAll('td.name a')]
            .find(a => a.textContent === name).click()""",
        SCRIPT,
    )
    page.wait_for_url(served.base + "/monitors/" + quote(SCRIPT, safe=""))
    assert page.locator("h1").text_content() == SCRIPT
    tab.refresh()
    assert page.locator("h1").text_content() == SCRIPT
    page.goto(served.base + "/incidents")
    server_rendered = page.locator("main").inner_text()
    tab.refresh()
    assert page.locator("main").inner_text() == server_rendered
    assert IMG in page.locator("#incidents").text_content()
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    paths = {urlsplit(u).path for u in tab.requests}
    assert "/x" not in paths
    tab.assert_clean()


def test_uptime_shows_the_share_of_time_up_on_pages_and_in_the_api(served: Served) -> None:
    """State changes stored as the monitor ran (up 9 h, down 1 h, up again for the last
    14 h) give 24 h uptime 95.83% in /api/status, the dashboard's row and the monitor's
    page; a monitor with no known state shows '-'."""
    from tether.monitor._state import State

    now = served.now
    for at, state in ((now - 86400, State.UP), (now - 54000, State.DOWN), (now - 50400, State.UP)):
        served.store.record_state("api", at, state)
    served.store.flush()
    row = next(r for r in served.json("/api/status")["rows"] if r["name"] == "api")
    assert row["uptime"]["24h"] == pytest.approx(23 / 24)
    assert row["uptime"]["90d"] == pytest.approx(23 / 24)  # nothing known before
    page = served.get("/")[2].decode()
    assert '<td class="uptime">95.83% · 95.83%</td>' in page
    monitor = served.get("/monitors/api")[2].decode()
    assert "24h 95.83% · 7d 95.83% · 30d 95.83% · 90d 95.83%" in monitor
    new = next(r for r in served.json("/api/status")["rows"] if r["name"] == "new")
    assert new["uptime"]["24h"] is None
