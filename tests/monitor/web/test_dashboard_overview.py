"""The overview at scale: sorting, filtering and paging on the server, over HTTP and in
Debian's headless Chromium, and the uptime table that sorting by uptime reads.

A real Runner checks real lab targets (healthy and refused) on a wall clock the test
moves, served by make_app on 127.0.0.1:0 (tests/helpers/web_harness.py); state changes
over the last 30 days are written to its SQLite store directly, so that uptimes differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.helpers.stores import open_target
from tests.helpers.web_harness import EPOCH, REFRESH_MS, ServedRunner, Tab
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.reports._uptime import UptimeTable, uptimes
from tether.monitor.store import SQLiteStore
from tether.monitor.web.documents._overview import View

DAY = 86400.0
UP = [f"svc-{i:02d}" for i in range(8)]
DOWN = ["svc-08", "svc-09"]
CONFIGURED = [*UP, *DOWN, "shop-eu", "shop-us", "checkout", "idle", "held"]
"""In the configuration's order: shop-us is refused, idle is never checked, held paused."""
DOWN_FOR = {"svc-00": 3 * DAY, "svc-01": DAY, "svc-02": 6 * 3600.0}
"""Each was down this long, ten days ago: 30 d uptime 90%, 96.67%, 99.17%."""


class Served(ServedRunner):
    """A runner over the lab on a wall clock the test moves, served by make_app."""

    def __init__(self, tmp: Path, lab: Lab) -> None:
        healthy, refused = lab["healthy"].url, lab["refused"].url
        urls = dict.fromkeys(UP, healthy) | dict.fromkeys(DOWN, refused)
        urls |= {"shop-eu": healthy, "shop-us": refused, "checkout": f"{healthy}pay/checkout"}
        urls |= {"idle": healthy, "held": healthy}
        monitors: list[dict[str, Any]] = [
            {
                "name": name,
                "url": url,
                "interval": "30s",
                "timeout": "2s",
                "failure_threshold": 1,
                "success_threshold": 1,
            }
            for name, url in urls.items()
        ]
        monitors[-1]["paused"] = True
        super().__init__(
            parse_config(yaml.safe_dump({"monitors": monitors})),
            SQLiteStore(tmp / "overview.db"),
            refresh=REFRESH_MS / 1000,
        )

    def names(self, path: str) -> list[str]:
        return [r["name"] for r in self.json(path)["rows"]]


@pytest.fixture(scope="module")
def served(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Three months of state changes for three monitors, then two rounds of checks a
    minute apart of every monitor but idle and held (paused), and the clock a minute past
    the last."""
    s = Served(tmp_path_factory.mktemp("overview"), lab)
    for name, down in DOWN_FOR.items():
        s.store.record_state(name, EPOCH - 80 * DAY, State.UP)
        s.store.record_state(name, EPOCH - 10 * DAY, State.DOWN)
        s.store.record_state(name, EPOCH - 10 * DAY + down, State.UP)
    for _ in range(2):
        s.check(*(n for n in CONFIGURED if n not in ("idle", "held")))
        s.now += 60
    yield s
    s.close()


# -- over HTTP ----------------------------------------------------------------------------


def test_the_default_view_is_every_monitor_in_the_configurations_order(served: Served) -> None:
    """/api/status with no parameters: one page of every monitor in the configuration's
    order, the full name-to-state map and the summary over all of them."""
    doc = served.json("/api/status")
    assert [r["name"] for r in doc["rows"]] == CONFIGURED
    assert doc["view"] == {
        "state": None,
        "q": "",
        "match": "",
        "sort": "config",
        "order": "asc",
        "page": 1,
        "per_page": 100,
        "matching": 15,
        "pages": 1,
    }
    assert doc["monitors"]["shop-us"] == "down"
    assert doc["summary"] == {
        "down": 3,
        "flapping": 0,
        "degraded": 0,
        "up": 10,
        "paused": 1,
        "unknown": 1,
    }


def test_pages_cut_the_sorted_monitors_and_keep_the_whole_summary(served: Served) -> None:
    """per_page=4 sorted by name, descending: each page holds the next four, the last
    page the rest, a page past the last shows the last; the map and summary still count
    all fifteen."""
    by_name = sorted(CONFIGURED, reverse=True)
    pages = [
        served.json(f"/api/status?sort=name&order=desc&per_page=4&page={p}") for p in (1, 2, 4)
    ]
    assert [[r["name"] for r in d["rows"]] for d in pages] == [
        by_name[0:4],
        by_name[4:8],
        by_name[12:],
    ]
    assert {(d["view"]["page"], d["view"]["pages"], d["view"]["matching"]) for d in pages} == {
        (1, 4, 15),
        (2, 4, 15),
        (4, 4, 15),
    }
    past = served.json("/api/status?sort=name&order=desc&per_page=4&page=9")
    assert (past["view"]["page"], [r["name"] for r in past["rows"]]) == (4, by_name[12:])
    assert all(len(d["monitors"]) == 15 and sum(d["summary"].values()) == 15 for d in pages)


def test_filters_keep_the_monitors_in_a_state_or_holding_a_text(served: Served) -> None:
    """state=down keeps the refused ones; q matches the name or the URL in any case;
    both together narrow further; no match is an empty page."""
    assert served.names("/api/status?state=down") == [*DOWN, "shop-us"]
    assert served.names("/api/status?q=SHOP") == ["shop-eu", "shop-us"]
    assert served.names("/api/status?q=pay/check") == ["checkout"]  # in its URL only
    assert served.names("/api/status?q=shop&state=down") == ["shop-us"]
    assert served.names("/api/status?state=paused") == ["held"]
    empty = served.json("/api/status?q=nothing-like-it")
    assert (empty["rows"], empty["view"]["matching"], empty["view"]["pages"]) == ([], 0, 1)


def test_sorting_by_uptime_puts_the_worst_first_and_the_unknown_last(served: Served) -> None:
    """uptime_30d ascending: the down monitors (0%), then 90%, 96.67%, 99.17%, then the
    monitors always up in the configuration's order, then those with no known state;
    descending reverses the known ones and keeps the unknown last."""
    always = [n for n in CONFIGURED if n not in (*DOWN_FOR, *DOWN, "shop-us", "idle", "held")]
    known = [*DOWN, "shop-us", "svc-00", "svc-01", "svc-02", *always]
    assert served.names("/api/status?sort=uptime_30d") == [*known, "idle", "held"]
    doc = served.json("/api/status?sort=uptime_30d&order=desc")
    # Ties keep the configuration's order either way round.
    assert [r["name"] for r in doc["rows"]] == [
        *always,
        "svc-02",
        "svc-01",
        "svc-00",
        *DOWN,
        "shop-us",
        "idle",
        "held",
    ]
    row = next(r for r in doc["rows"] if r["name"] == "svc-00")
    assert row["uptime"]["30d"] == pytest.approx(27 / 30)


def test_sorting_by_state_and_by_latency(served: Served) -> None:
    """state: down, then up, paused and unknown, the configuration's order within each;
    latency: the last check's, the shortest first, monitors never checked last."""
    assert served.names("/api/status?sort=state") == [
        *DOWN,
        "shop-us",
        *UP,
        "shop-eu",
        "checkout",
        "held",
        "idle",
    ]
    doc = served.json("/api/status?sort=latency")
    latencies = [r["last_check"]["latency_ms"] for r in doc["rows"] if r["last_check"]]
    assert latencies == sorted(latencies)
    assert [r["name"] for r in doc["rows"]][-2:] == ["idle", "held"]


BAD = [
    (
        "sort=bogus",
        "sort: give one of config, state, name, for, latency, uptime_24h, "
        "uptime_30d, certificate, not 'bogus'",
    ),
    ("order=up", "order: give asc or desc, not 'up'"),
    ("page=0", "page: give a whole number from 1 to 999999, not '0'"),
    ("page=two", "page: give a whole number from 1 to 999999, not 'two'"),
    ("per_page=5000", "per_page: give a whole number from 1 to 1000, not '5000'"),
    (
        "state=sideways",
        "state: give one of down, flapping, degraded, up, paused, unknown, not 'sideways'",
    ),
    ("q=" + "x" * 201, "q: give at most 200 characters, not '" + "x" * 39 + "…'"),
]


@pytest.mark.parametrize(
    ("query", "message"), BAD, ids=[q.split("=")[0] + "-" + q[-4:] for q, _ in BAD]
)
def test_a_bad_parameter_is_one_400_saying_what_to_send(
    served: Served, query: str, message: str
) -> None:
    """The page, its fragment and /api/status answer a bad parameter with 400 and one
    line naming the parameter and what it takes (the API's as its JSON error)."""
    status, _, body = served.get_text(f"/?{query}")
    assert (status, body) == (400, message + "\n")
    status, _, body = served.get_text(f"/api/status?{query}")
    assert (status, json.loads(body)) == (400, {"error": message})
    assert served.get_text(f"/?fragment=1&{query}")[0] == 400


def test_the_page_links_sort_page_and_filter_to_the_same_view(served: Served) -> None:
    """The HTML of /?sort=name&per_page=4&page=2&q=svc: the sorted header says so and
    links to the other way round, the other headers sort ascending from page one, the page
    links keep the view, the filter form keeps the sort and the page size, and the
    fragment the script asks for is this view's."""
    status, headers, page = served.get_text("/?sort=name&per_page=4&page=2&q=svc")
    assert status == 200
    assert "form-action 'self'" in headers["Content-Security-Policy"]
    assert (
        '<th aria-sort="ascending"><a href="/?q=svc&amp;sort=name&amp;order=desc&amp;per_page=4"'
        in page
    )
    assert 'href="/?q=svc&amp;sort=uptime_30d&amp;per_page=4" data-sort="uptime_30d"' in page
    assert '<a href="/?q=svc&amp;sort=name&amp;per_page=4&amp;page=3" rel="next">' in page
    assert '<a href="/?q=svc&amp;sort=name&amp;per_page=4" rel="prev">' in page
    assert "5–8 of 10 monitors matching “svc”" in page
    assert 'data-fragment="/?q=svc&amp;sort=name&amp;per_page=4&amp;page=2&amp;fragment=1"' in page
    assert '<input type="hidden" name="sort" value="name">' in page
    assert '<input type="hidden" name="per_page" value="4">' in page
    assert 'name="page"' not in page  # a new filter starts from page one
    assert 'value="svc"' in page
    # The summary's counts link to each state's monitors, keeping the rest of the view.
    assert '<a href="/?state=down&amp;q=svc&amp;sort=name&amp;per_page=4">' in page
    fragment = served.get_text("/?sort=name&per_page=4&page=2&q=svc&fragment=1")[2]
    assert 'id="filter"' not in fragment  # the form is not live: typing is never swapped away
    assert fragment.count('<tr data-monitor="') == 4


def test_the_shown_rows_carry_the_certificate_and_the_last_failure(served: Served) -> None:
    """A refused monitor's row has its last failure's kind and when; a plain-HTTP one has
    no certificate (shown as a dash)."""
    row = served.json("/api/status?q=shop-us")["rows"][0]
    assert row["last_failure"]["kind"] == "connect.refused"
    assert row["last_failure"]["ago_s"] == 60
    assert row["certificate"] is None
    page = served.get_text("/?q=shop-us")[2]
    assert '<td class="certificate">—</td>' in page
    assert "connect.refused" in page


# -- the uptime table ----------------------------------------------------------------------


def test_the_uptime_table_reads_the_store_once_a_minute(fresh_store: SQLiteStore) -> None:
    """Every monitor's uptime from one read, the same as uptimes() computes per monitor;
    read again only once a minute of the clock has passed, the clock went back, or a new
    monitor appeared; a page's fresh figures put back are what the next sort sees."""
    store = fresh_store
    store.record_state("a", EPOCH - 2 * DAY, State.UP)
    store.record_state("a", EPOCH - DAY / 2, State.DOWN)
    store.record_state("a", EPOCH - DAY / 4, State.UP)
    store.record_state("b", EPOCH - 40 * DAY, State.DOWN)
    store.flush()
    table = UptimeTable()
    shares = table.read(store, ["a", "b", "c"], EPOCH)
    for name in ("a", "b", "c"):
        fresh = uptimes(store, name, EPOCH)
        assert shares[name] == {"24h": fresh["24h"], "30d": fresh["30d"]}, name
    assert shares["a"]["24h"] == pytest.approx(0.75)
    assert shares["b"] == {"24h": 0.0, "30d": 0.0}  # led by the change before the window
    assert shares["c"] == {"24h": None, "30d": None}
    store.record_state("c", EPOCH, State.UP)
    store.flush()
    assert table.read(store, ["a", "b", "c"], EPOCH + 59)["c"]["24h"] is None
    assert table.reads == 1
    table.put("c", {"24h": 1.0, "30d": 1.0, "7d": 1.0, "90d": 1.0})
    assert table.read(store, ["a", "b", "c"], EPOCH + 59)["c"] == {"24h": 1.0, "30d": 1.0}
    assert table.read(store, ["a", "b", "c"], EPOCH + 60)["c"]["24h"] == 1.0
    assert table.reads == 2
    table.read(store, ["a", "b", "c", "d"], EPOCH + 61)
    table.read(store, ["a", "b", "c", "d"], EPOCH + 30)
    assert table.reads == 4


def test_every_state_change_is_each_monitors_state_changes(target: str) -> None:
    """Store.every_state_change(since) gives what state_changes(monitor, since) gives for
    each monitor, led by its last change before since, in one read, on both backends."""
    store = open_target(target)
    try:
        changes = {
            "a": [(EPOCH - 100, State.UP), (EPOCH - 50, State.DOWN), (EPOCH + 10, State.UP)],
            "b": [(EPOCH - 200, State.DOWN)],
            "c": [(EPOCH + 5, State.DEGRADED), (EPOCH + 6, State.UP)],
        }
        for name, rows in changes.items():
            for at, state in rows:
                store.record_state(name, at, state)
        store.flush()
        every = store.every_state_change(EPOCH)
        assert every == {name: store.state_changes(name, EPOCH) for name in changes}
        assert every["a"] == [(EPOCH - 50, State.DOWN), (EPOCH + 10, State.UP)]
        assert every["b"] == [(EPOCH - 200, State.DOWN)]
    finally:
        store.close()


def test_a_view_parses_what_it_renders() -> None:
    """A view's address parses back to the same view; the defaults have the plain '/'."""
    view = View(State.DOWN, "a b&c", "uptime_24h", "desc", 3, 20)
    query = {k: v[0] for k, v in parse_qs(urlsplit(view.href()).query).items()}
    assert View.parse(query) == view
    assert View().href() == "/"
    assert View.parse({"state": "", "q": ""}) == View()


# -- in Chromium ---------------------------------------------------------------------------


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Tab]:
    with Tab(browser, served.base) as t:
        yield t


def shown(page: Any) -> list[str]:
    names: list[str] = page.evaluate(
        "[...document.querySelectorAll('tr[data-monitor]')].map(r => r.dataset.monitor)"
    )
    return names


def test_chromium_sorts_by_a_click_on_a_column_header(tab: Tab, served: Served) -> None:
    """A click on "Monitor" sorts by name; a second click sorts the other way round."""
    page = tab.open("/")
    assert shown(page) == CONFIGURED
    page.locator("th a[data-sort='name']").click()
    page.wait_for_url(served.base + "/?sort=name")
    assert shown(page) == sorted(CONFIGURED)
    page.locator("th a[data-sort='name']").click()
    page.wait_for_url(served.base + "/?sort=name&order=desc")
    assert shown(page) == sorted(CONFIGURED, reverse=True)
    assert page.locator("th[aria-sort='descending']").text_content() == "Monitor ↓"
    tab.assert_clean()


def test_chromium_filters_with_the_form(tab: Tab, served: Served) -> None:
    """Typing a text and choosing a state in the header's form and sending it shows the
    monitors that match both, and keeps the sort chosen before."""
    page = tab.open("/?sort=name&order=desc")
    page.locator("#filter-q").fill("svc")
    page.locator("#filter-state").select_option("down")
    page.locator("#filter button").click()
    page.wait_for_url("**/?q=svc&state=down&match=&sort=name&order=desc")
    assert shown(page) == ["svc-09", "svc-08"]
    assert page.locator("#filter-q").input_value() == "svc"
    assert page.locator("#pager").inner_text().startswith("2 down monitors matching “svc”")
    page.locator("#pager a", has_text="show all").click()
    page.wait_for_url(served.base + "/?sort=name&order=desc")
    assert len(shown(page)) == len(CONFIGURED)
    tab.assert_clean()


def test_chromium_pages_with_the_page_links(tab: Tab, served: Served) -> None:
    """With six a page, "next" shows the next six, "last" the last three, "first" the
    first six again."""
    page = tab.open("/?per_page=6")
    assert shown(page) == CONFIGURED[:6]
    page.locator("#pager a[rel='next']").click()
    page.wait_for_url(served.base + "/?per_page=6&page=2")
    assert shown(page) == CONFIGURED[6:12]
    page.locator("#pager a[rel='last']").click()
    page.wait_for_url(served.base + "/?per_page=6&page=3")
    assert shown(page) == CONFIGURED[12:]
    assert page.locator("#pager").inner_text().startswith("13–15 of 15 monitors")
    page.locator("#pager a[rel='first']").click()
    page.wait_for_url(served.base + "/?per_page=6")
    assert shown(page) == CONFIGURED[:6]
    tab.assert_clean()


def test_chromium_the_live_refresh_keeps_the_sort_the_filter_and_the_page(
    tab: Tab, served: Served
) -> None:
    """On page 2 of the svc monitors by name, descending, each refresh asks for that
    view's fragment and swaps in the same rows, and what is typed in the filter stays."""
    path = "/?q=svc&sort=name&order=desc&per_page=4&page=2"
    page = tab.open(path)
    before = shown(page)
    assert before == sorted([*UP, *DOWN], reverse=True)[4:8]
    page.locator("#filter-q").fill("svc-0")  # typed, not sent
    tab.refresh()
    tab.refresh()
    assert shown(page) == before
    assert page.locator("#filter-q").input_value() == "svc-0"
    asked = [urlsplit(u) for u in tab.requests if "fragment=1" in u]
    assert len(asked) == 2
    assert all(
        parse_qs(u.query)
        == {
            "q": ["svc"],
            "sort": ["name"],
            "order": ["desc"],
            "per_page": ["4"],
            "page": ["2"],
            "fragment": ["1"],
        }
        for u in asked
    )
    tab.assert_clean()
