"""Public status pages: the daily uptime maths, the words, the cache; then a real Runner
over the lab served by make_app (tests/helpers/status_harness.py), read over plain HTTP and in
Debian's headless Chromium, without a login.

What matters most: a page shows its monitors under their display names and nothing
internal (URL, host, port, credentials, failure kind, detail, other monitors' names)
unless it opts in."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.status_harness import (
    ANNOUNCEMENT,
    DAY,
    HIDDEN_NAMES,
    NOTE,
    SECRETS,
    Public,
    started,
)
from tests.helpers.web_harness import EPOCH, Tab
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.reports._uptime import uptime
from tether.monitor.web.status._statuspage import (
    CACHE_SECONDS,
    DAYS,
    TtlCache,
    daily_uptime,
    day_starts,
    down_time,
    overall,
    plain_duration,
    trouble,
)

MIDNIGHT = 1_799_971_200.0  # 2027-01-15T00:00:00Z

# -- pure: days and uptime ------------------------------------------------------------------


def test_day_starts_are_the_utc_midnights_up_to_today() -> None:
    """Ninety days, oldest first, each a UTC midnight, the last one today's."""
    starts = day_starts(EPOCH)
    assert len(starts) == DAYS
    assert starts[-1] == MIDNIGHT
    assert starts[0] == MIDNIGHT - 89 * DAY
    assert all(b - a == DAY for a, b in itertools.pairwise(starts))


def test_an_hour_down_is_a_day_of_23_hours_up_and_a_span_across_midnight_splits() -> None:
    """Down 10:00 to 11:00 on one day reads 23/24 there; down 23:00 to 01:00 reads 23/24 on
    each side of midnight; days before the first change have no data; today counts up to
    now only."""
    d = MIDNIGHT - 5 * DAY  # 2027-01-10
    changes = [
        (d - DAY, State.UP),
        (d + 10 * 3600, State.DOWN),
        (d + 11 * 3600, State.UP),
        (d + DAY + 23 * 3600, State.DOWN),
        (d + 2 * DAY + 3600, State.UP),
        (MIDNIGHT + 3600, State.DOWN),
    ]
    days = dict(daily_uptime(changes, EPOCH))
    assert days[d - DAY] == 1.0
    assert days[d] == pytest.approx(23 / 24)
    assert days[d + DAY] == pytest.approx(23 / 24)
    assert days[d + 2 * DAY] == pytest.approx(23 / 24)
    assert days[d + 3 * DAY] == 1.0
    assert days[d - 2 * DAY] is None
    # Today: up from midnight to 01:00, then down until now (08:00).
    assert days[MIDNIGHT] == pytest.approx(1 / 8)


def test_paused_and_unknown_days_have_no_data() -> None:
    """A day spent paused, or with tether stopped (unknown), is neither up nor down."""
    d = MIDNIGHT - 3 * DAY
    changes = [(d, State.PAUSED), (d + DAY, State.UNKNOWN), (d + 2 * DAY, State.DEGRADED)]
    days = dict(daily_uptime(changes, EPOCH))
    assert (days[d], days[d + DAY], days[d + 2 * DAY]) == (None, None, 1.0)


STATES = st.sampled_from(list(State))


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.floats(-100 * DAY, 0), STATES),
        max_size=30,
    ).map(lambda xs: sorted((EPOCH + at, state) for at, state in xs))
)
def test_each_days_share_is_what_uptime_says_of_that_day(
    changes: list[tuple[float, State]],
) -> None:
    """The one-pass daily sweep agrees with _uptime.uptime over each day alone, for any
    history: the bars and the uptime windows use one definition."""
    for start, share in daily_uptime(changes, EPOCH):
        expected = uptime(changes, start, min(start + DAY, EPOCH))
        if expected is None:
            assert share is None
        else:
            assert share == pytest.approx(expected, abs=1e-9)


def test_down_time_counts_down_and_flapping_within_the_span() -> None:
    """Seconds down or flapping between since and until, clipped to them."""
    changes = [(0.0, State.UP), (100.0, State.DOWN), (160.0, State.FLAPPING), (200.0, State.UP)]
    assert down_time(changes, 0.0, 1000.0) == 100.0
    assert down_time(changes, 150.0, 170.0) == 20.0
    assert down_time(changes, 300.0, 400.0) == 0.0
    assert down_time([(0.0, State.DOWN)], 50.0, 80.0) == 30.0


# -- pure: words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (10, "less than a minute"),
        (60, "1 minute"),
        (12 * 60 + 20, "12 minutes"),
        (3600, "1 hour"),
        (3600 + 5 * 60, "1 hour 5 minutes"),
        (2 * DAY + 3 * 3600 + 59, "2 days 3 hours"),
    ],
)
def test_durations_read_in_plain_words(seconds: float, said: str) -> None:
    """A length of time as the public reads it, to the minute."""
    assert plain_duration(seconds) == said


@pytest.mark.parametrize(
    ("states", "code", "text"),
    [
        ([State.UP, State.UP], "operational", "All systems operational"),
        ([State.UP, State.DEGRADED], "degraded", "Degraded performance"),
        ([State.UP, State.DOWN], "partial", "Partial outage"),
        ([State.UP, State.FLAPPING], "partial", "Partial outage"),
        ([State.DOWN, State.DOWN, State.PAUSED], "major", "Major outage"),
        ([State.UNKNOWN, State.PAUSED], "unknown", "No data yet"),
    ],
)
def test_the_headline_says_how_many_are_in_trouble(
    states: list[State], code: str, text: str
) -> None:
    """All up: operational; some down: partial; all known down: major; none known: no data."""
    status = overall(states)
    assert (status.code, status.text) == (code, text)


def test_trouble_is_said_without_naming_the_failure() -> None:
    """Refused, DNS and TLS read "unreachable", timeouts "not responding", HTTP errors and
    conditions "returning errors": never the kind's code or title."""
    assert trouble(Kind.CONNECT_REFUSED) == "unreachable"
    assert trouble(Kind.DNS_NOT_FOUND) == "unreachable"
    assert trouble(Kind.TLS_EXPIRED) == "unreachable"
    assert trouble(Kind.READ_TIMEOUT) == "not responding"
    assert trouble(Kind.HTTP_SERVER_ERROR) == "returning errors"
    assert trouble(None) == "returning errors"


def test_the_cache_builds_once_per_interval_and_again_for_a_new_source() -> None:
    """Within CACHE_SECONDS of the injected clock a key is built once; after it, or when
    its source changes (a reload's new page), it is built again."""
    now = [100.0]
    built: list[str] = []
    cache = TtlCache(lambda: now[0])

    async def get(source: object) -> Any:
        async def build() -> str:
            built.append("x")
            return f"v{len(built)}"

        return await cache.get("public", source, build)

    async def run() -> list[Any]:
        a = object()
        first = await get(a)
        now[0] += CACHE_SECONDS - 0.1
        second = await get(a)
        now[0] += 0.1
        third = await get(a)
        fourth = await get(object())
        return [first, second, third, fourth]

    assert asyncio.run(run()) == ["v1", "v1", "v2", "v3"]


# -- served ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Public]:
    s = started(tmp_path_factory.mktemp("status"), lab)
    yield s
    s.close()


class Monitors(HTMLParser):
    """Each monitor's display name, its status words, and its bars' titles and classes."""

    def __init__(self) -> None:
        super().__init__()
        self.status: dict[str, str] = {}
        self.bars: dict[str, list[tuple[str, str]]] = {}
        self._name: str | None = None
        self._in: str | None = None
        self._bar_class = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "li" and "monitor" in classes:
            self._name = found["data-name"]
            self.bars[self._name or ""] = []
        elif self._name and tag == "span" and "status" in classes:
            self._in = "status"
        elif self._name and tag == "rect":
            self._bar_class = next(c for c in classes if c.startswith("bar-"))
        elif self._name and tag == "title":
            self._in = "title"

    def handle_data(self, data: str) -> None:
        if self._name is None or self._in is None:
            return
        if self._in == "status":
            self.status[self._name] = data
        else:
            self.bars[self._name].append((data, self._bar_class))
        self._in = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self._name = None


def parsed(page: str) -> Monitors:
    parser = Monitors()
    parser.feed(page)
    return parser


def text_of(public: Public, path: str) -> str:
    status, _, body = public.get(path)
    assert status == 200, (path, status)
    return body.decode()


def test_the_page_shows_display_names_states_and_the_headline(public: Public) -> None:
    """GET /status/public (no login) lists its monitors under their display names with
    their states in plain words, under "Partial outage"; the announcement in force is
    shown and the one that ended is not."""
    status, headers, body = public.get("/status/public")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in headers["Content-Security-Policy"]
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    page = body.decode()
    assert parsed(page).status == {
        "Checkout": "Outage",
        "API": "Operational",
        "S&P <500>": "Operational",
    }
    assert '<p id="overall" class="overall status-partial">Partial outage</p>' in page
    assert "S&amp;P &lt;500&gt;" in page
    assert ANNOUNCEMENT.replace("'", "&#39;") in page
    assert "Long over." not in page
    assert "<script" not in page
    assert " style=" not in page


def test_each_monitor_has_90_daily_bars_titled_with_the_days_uptime(public: Public) -> None:
    """90 bars a monitor; API's history (up from ten days ago, an hour down three days ago)
    gives 79 days of no data, a 23-hour day titled 95.83 %, and full days; its 90-day
    uptime is its down hour over its known time."""
    page = text_of(public, "/status/public")
    bars = parsed(page).bars
    assert {name: len(b) for name, b in bars.items()} == {
        "Checkout": 90,
        "API": 90,
        "S&P <500>": 90,
    }
    api = dict(bars["API"])
    assert api["2027-01-12: 95.83% up"] == "bar-mid"
    assert api["2027-01-11: 100% up"] == "bar-full"
    assert sum(title.endswith("no data") for title, _ in bars["API"]) == 79
    assert bars["API"][0][0] == "2026-10-18: no data"
    assert bars["API"][-1][0] == "2027-01-15: 100% up"
    # Checkout: today only, down all of its known time.
    assert bars["Checkout"][-1] == ("2027-01-15: 0.00% up", "bar-low")
    known = 10 * DAY + (public.now - EPOCH)
    assert f"{(1 - 3600 / known) * 100:.2f}% uptime" in page
    doc = public.json("/status/public.json")
    api_row = doc["groups"][0]["monitors"][1]
    assert api_row["uptime_90d"] == pytest.approx(1 - 3600 / known)
    assert [d["date"] for d in api_row["days"]][-3:] == ["2027-01-13", "2027-01-14", "2027-01-15"]


def test_the_incident_is_told_in_plain_words_with_the_teams_note(public: Public) -> None:
    """The refused checkout is "unreachable, for 3 minutes so far", with the team's note
    of that monitor's time; the JSON says the same."""
    page = text_of(public, "/status/public")
    assert "Checkout is unreachable, for 3 minutes so far." in page
    assert NOTE.replace("'", "&#39;") in page
    doc = public.json("/status/public.json")
    (incident,) = doc["incidents"]
    assert incident["open"] is True
    assert incident["monitors"] == [
        {"name": "Checkout", "down_s": 180, "text": "Checkout is unreachable, for 3 minutes so far"}
    ]
    assert incident["notes"] == [NOTE]
    assert "kind" not in incident


def hidden(public: Public) -> list[str]:
    """What no default page may hold: credentials, host, port, path, internal names, the
    failure's kind, its words and its fix."""
    port = str(public.lab["refused"].port)
    return [
        *SECRETS,
        "127.0.0.1",
        "localhost",
        ":" + port,
        "internal",
        *HIDDEN_NAMES,
        "connect.refused",
        "refused",
        "Connection refused",
        "listening",
        "Fix",
        "billing",
        "admin",
    ]


@pytest.mark.parametrize("path", ["/status/public", "/status/public.json"])
def test_nothing_internal_reaches_the_page_or_its_json(public: Public, path: str) -> None:
    """Neither the HTML nor the JSON holds the failing monitor's URL, host, port, secrets
    or kind, nor any name of a monitor that is not on the page, though billing-db shares
    the incident."""
    text = text_of(public, path)
    assert "billing-db" in public.call(_incident_monitors(public))  # it does share it
    for word in hidden(public):
        assert word.lower() not in text.lower(), word
    assert not re.search(rf"\b{public.lab['refused'].port}\b", text)


async def _incident_monitors(public: Public) -> str:
    return " ".join(m for i in public.store.incidents() for m in i.monitors)


def test_a_page_that_opts_in_shows_the_kind_the_url_masked_and_the_latency(
    public: Public,
) -> None:
    """show_kinds adds the kind and what it means; show_urls the URL with its secrets
    masked; show_latency the last check's time."""
    page = text_of(public, "/status/open")
    assert "<code>connect.refused</code>" in page
    assert "refused" in page.lower()
    assert "ops:***@127.0.0.1" in page
    for secret in SECRETS:
        assert secret not in page
    doc = public.json("/status/open.json")
    (incident,) = doc["incidents"]
    assert incident["kind"] == "connect.refused"
    row = doc["groups"][0]["monitors"][0]
    assert row["url"].startswith("http://ops:***@127.0.0.1:")
    latency = public.runner.latest["checkout-internal"].latency_ms
    assert latency is not None
    assert row["latency_ms"] == round(latency, 3)
    assert doc["shows"] == {"urls": True, "kinds": True, "latency": True}


def test_a_page_shows_nothing_of_the_monitors_it_does_not_list(public: Public) -> None:
    """The API-only page has no incident (the refused one is not its monitors') and no
    other monitor's name."""
    page = text_of(public, "/status/other")
    assert parsed(page).status == {"API": "Operational"}
    assert "All systems operational" in page
    assert "No incidents in the last 14 days." in page
    for word in ("Checkout", "S&amp;P", *HIDDEN_NAMES):
        assert word not in page
    assert public.json("/status/other.json")["incidents"] == []


@pytest.mark.parametrize(
    "path", ["/status/nope", "/status/nope.json", "/status/", "/status/a/b", "/status/..%2f"]
)
def test_an_unknown_slug_is_a_404_that_does_not_echo_it(public: Public, path: str) -> None:
    """No page: 404, an HTML page (or JSON for .json) that names nothing it was given."""
    status, headers, body = public.get(path)
    assert status == 404
    assert b"nope" not in body
    if path.endswith(".json"):
        assert json.loads(body) == {"error": "no status page here"}
    else:
        assert b"No such status page" in body
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_the_document_is_built_at_most_once_every_few_seconds(public: Public) -> None:
    """Within CACHE_SECONDS of the runner's clock the same document is served; after it a
    fresh one."""
    first = public.json("/status/other.json")["now"]
    public.now += 1
    assert public.json("/status/other.json")["now"] == first
    public.now += CACHE_SECONDS
    later = public.json("/status/other.json")["now"]
    assert later != first
    assert later == dt.datetime.fromtimestamp(public.now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_reload_changes_the_page_at_once(lab: Lab, tmp_path: Path) -> None:
    """A reloaded configuration's page is served at the next request, cache or not: a new
    title, a page taken away (404)."""
    s = Public(tmp_path, lab)
    try:
        assert "API only" in text_of(s, "/status/other")
        data = s.data
        data["status_pages"][2]["title"] = "Just the API"
        s.reload(parse_config(yaml.safe_dump(data)))
        assert "Just the API" in text_of(s, "/status/other")
        data["status_pages"] = data["status_pages"][:2]
        s.reload(parse_config(yaml.safe_dump(data)))
        assert s.get("/status/other")[0] == 404
    finally:
        s.close()


# -- in Chromium ---------------------------------------------------------------------------


def test_chromium_renders_the_page_without_a_login_and_nothing_leaves_the_origin(
    public: Public, browser: Any, tmp_path: Path
) -> None:
    """In Chromium the page shows its headline, its monitors and 90 visible bars each,
    shows nothing internal, makes no request off its origin and logs no error."""
    from playwright.sync_api import expect

    with Tab(browser, public.base, clock=None, viewport={"width": 1100, "height": 900}) as tab:
        page = tab.open("/status/public")
        expect(page.locator("#overall")).to_have_text("Partial outage")
        expect(page.locator("li.monitor .name")).to_have_text(["Checkout", "API", "S&P <500>"])
        bars = page.locator("svg.bars rect")
        expect(bars).to_have_count(3 * 90)
        box = page.locator("li.monitor[data-name='API'] rect").last.bounding_box()
        assert box is not None
        assert box["width"] > 2
        assert box["height"] > 20
        # The stylesheet applied: a full day is coloured, a day without data is not.
        full = page.locator("li.monitor[data-name='API'] rect.bar-full").first
        none = page.locator("li.monitor[data-name='API'] rect.bar-none").first
        assert full.evaluate("e => getComputedStyle(e).fill") != none.evaluate(
            "e => getComputedStyle(e).fill"
        )
        # The shared sheet (base.css) and the page's own both applied: no margin, 15px type.
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
        assert page.evaluate("getComputedStyle(document.body).fontSize") == "15px"
        expect(page.locator("#incidents")).to_contain_text("Checkout is unreachable")
        # What the browser shows and holds (its text, the bars' titles, the whole DOM
        # after every script ran) keeps hidden what the HTML does.
        shown = page.inner_text("body") + page.content()
        for word in hidden(public):
            assert word.lower() not in shown.lower(), word
        shot = tmp_path / "status.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        tab.assert_on_origin()
