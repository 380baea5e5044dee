"""The dashboard of a cluster: what each location sees of a monitor, the quorum over them,
partial incidents, and the instances, in the JSON documents, the server-rendered pages
and a real headless Chromium.

Three real instances, at east, west and local, share one PostgreSQL schema in this
process (tests/helpers/cluster_harness.py): each probes the lab's targets itself, publishes its
states through the store, and reads the others' from it; east renews first and leads.
East's probes of ``api`` and ``edge``, and west's of ``edge``, go to a refused port: api
is unreachable from one location of three, below its majority (partial: up for the
cluster), and edge, whose quorum is 1, from two (down).  ``db`` is probed from local
alone and shows no locations.  The pages are those of local's instance, which does not
lead.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.helpers.cluster_harness import EPOCH, Instances
from tests.helpers.dashboard_harness import iso
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.web_harness import Tab
from tether.lab import Lab
from tether.monitor.config import parse_config

CONFIG = """
locations: [east, west, local]
defaults: {{interval: 30s, timeout: 2s, failure_threshold: 1}}
monitors:
  - {{name: api, url: "{healthy}api"}}
  - {{name: edge, url: "{healthy}edge", quorum: 1}}
  - {{name: db, url: "{healthy}db", locations: [local]}}
"""
CUT = {("east", "api"), ("east", "edge"), ("west", "edge")}


class Cluster:
    """The three instances after one check of every monitor at every location, local's
    instance served on loopback."""

    def __init__(self, dsn: str, lab: Lab) -> None:
        healthy, refused = lab["healthy"].url, lab["refused"].url
        config = parse_config(CONFIG.format(healthy=healthy))
        urls = {m.url: m.name for m in config.monitors}
        self.refused_port = lab["refused"].port
        self.instances = Instances(
            dsn,
            config,
            ("east", "west", "local"),
            route=lambda at, url: refused if (at, urls.get(url)) in CUT else url,
        )
        self.instances.rounds()
        self.instances.check("west", "api", "edge")
        self.instances.check("local", "api", "edge", "db")
        self.instances.settle()
        self.instances.check("east", "api", "edge")  # the leader: its own are first-hand
        self.instances.settle()
        self.base = self.instances.serve("local", refresh=0.2)
        self.port = int(self.base.rsplit(":", 1)[1])

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return str(r.read().decode())

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))


@pytest.fixture(scope="module")
def cluster(postgres_server: PostgresServer, lab: Lab) -> Iterator[Cluster]:
    c = Cluster(postgres_server.dsn(postgres_server.new_schema()), lab)
    yield c
    c.instances.close()


def refused(c: Cluster) -> str:
    return f"127.0.0.1:{c.refused_port} refused the connection: nothing is listening on that port"


def where(location: str, state: str, kind: str | None = None, detail: str | None = None) -> Any:
    return {
        "location": location,
        "state": state,
        "kind": kind,
        "detail": detail,
        "since": iso(EPOCH),
        "live": True,
    }


# -- the JSON documents ------------------------------------------------------------------


def test_status_rows_show_each_location_and_the_quorum(cluster: Cluster) -> None:
    """/api/status: api is up for the cluster, with east down (its kind and detail), west
    and local up, and the quorum's count (2 needed, east failing, 3 counted); edge is down
    from a quorum; db, of one location, has neither key, as before."""
    rows = {r["name"]: r for r in cluster.json("/api/status")["rows"]}
    api, edge, db = rows["api"], rows["edge"], rows["db"]
    assert api["state"] == "up"
    assert api["locations"] == [
        where("east", "down", "connect.refused", refused(cluster)),
        where("west", "up"),
        where("local", "up"),
    ]
    assert api["quorum"] == {
        "needed": 2,
        "failing": ["east"],
        "counted": 3,
        "below": "failing in 1 of 3 locations, below quorum",
    }
    assert edge["state"] == "down"
    assert [(w["location"], w["state"]) for w in edge["locations"]] == [
        ("east", "down"),
        ("west", "down"),
        ("local", "up"),
    ]
    assert edge["quorum"] == {
        "needed": 1,
        "failing": ["east", "west"],
        "counted": 3,
        "below": None,
    }
    assert db["state"] == "up"
    assert "locations" not in db
    assert "quorum" not in db


def test_a_monitors_api_shows_its_locations(cluster: Cluster) -> None:
    """/api/monitors/api has the same locations and quorum as its row."""
    row = next(r for r in cluster.json("/api/status")["rows"] if r["name"] == "api")
    doc = cluster.json("/api/monitors/api")
    assert (doc["locations"], doc["quorum"]) == (row["locations"], row["quorum"])
    assert "locations" not in cluster.json("/api/monitors/db")


def test_a_partial_incident_is_marked_as_one(cluster: Cluster) -> None:
    """api's partial incident (key partial:api) is open with "partial": true, beside
    edge's outage ("partial": false), in /api/status, /api/incidents and api's page."""
    status = {i["key"]: i for i in cluster.json("/api/status")["open_incidents"]}
    partial = status["partial:api"]
    assert partial["partial"] is True
    assert partial["monitors"] == ["api"]
    assert (
        partial["detail"] == "api unreachable from east (connect.refused), up from west and local"
    )
    (outage,) = [i for key, i in status.items() if key != "partial:api"]
    assert (outage["partial"], outage["monitors"]) == (False, ["edge"])
    listed = {i["id"]: i["partial"] for i in cluster.json("/api/incidents")["incidents"]}
    assert listed == {partial["id"]: True, outage["id"]: False}
    (mine,) = cluster.json("/api/monitors/api")["incidents"]
    assert mine["partial"] is True


def test_the_status_api_names_this_instance_and_every_instance(cluster: Cluster) -> None:
    """/api/status's cluster: this instance (local's, not the leader), the live instances
    per location, and the three instances, leader (east) first, as the database lists
    them with their heartbeats."""
    doc = cluster.json("/api/status")["cluster"]
    assert (doc["id"], doc["location"], doc["leader"]) == ("local-1", "local", False)
    assert doc["live"] == {"east": 1, "west": 1, "local": 1}
    assert doc["instances"] == [
        {
            "id": f"{location}-1",
            "location": location,
            "host": "lab",
            "alive": True,
            "leader": location == "east",
            "shards": 256,
            "heartbeat": iso(EPOCH),
        }
        for location in ("east", "local", "west")
    ]


# -- the pages, as the server renders them -------------------------------------------------


class Text(HTMLParser):
    """The text of the elements with a given id or class, and their title attributes."""

    def __init__(self, selector: str) -> None:
        super().__init__()
        self.selector = selector
        self.found: list[str] = []
        self.titles: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if self._depth:
            self._depth += 1
            if found.get("title"):
                self.titles.append(str(found["title"]))
        elif f"#{found.get('id')}" == self.selector or self.selector.lstrip(".") in classes:
            self._depth = 1
            self.found.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.found[-1] += data


def text(page: str, selector: str) -> list[str]:
    parser = Text(selector)
    parser.feed(page)
    return parser.found


def test_the_overview_shows_the_locations_the_cluster_and_the_partial_incident(
    cluster: Cluster,
) -> None:
    """The dashboard's rows show each location's state compactly under the monitor's, and
    api's (up, failing at east alone) says it is failing below its quorum, its uptime
    marked partial rather than a clean figure; the summary is followed by the cluster's
    line, and the partial incident is labelled."""
    page = cluster.get("/")
    assert text(page, ".places") == [
        "east down · west up · local up",
        "east down · west down · local up",
    ]
    assert '<span class="place state-down" data-location="east" title="connect.refused: ' in page
    assert text(page, "#cluster") == ["3 instances: east (leader), west, local"]
    assert text(page, ".below-quorum") == ["failing in 1 of 3 locations, below quorum"]
    # Tagged partial twice: api's uptime in its row, then the partial incident.
    assert text(page, ".tag") == ["partial", "partial"]
    assert 'title="failing in 1 of 3 locations, below quorum: the uptime is the cluster' in page
    assert page.count('class="incident incident-open incident-partial"') == 1


def test_a_monitors_page_has_a_table_of_its_locations(cluster: Cluster) -> None:
    """api's page: the quorum in words, then a row per location with its state, since
    when, and why it fails there; db's page has no such section."""
    page = cluster.get("/monitors/api")
    (quorum,) = text(page, ".quorum")
    assert quorum == (
        "Down when 2 of its 3 counted locations fail; failing now: east. "
        "Up, but failing in 1 of 3 locations, below quorum."
    )
    (table,) = text(page, "#locations")
    assert "east" in table
    assert f"connect.refused {refused(cluster)}" in table
    assert "2027-01-15 08:00:00 UTC" in table
    assert 'id="places"' not in cluster.get("/monitors/db")


def test_a_location_whose_instances_are_gone_is_not_counted_and_shown_in_red(
    postgres_server: PostgresServer, lab: Lab
) -> None:
    """West's instance leaves: at the next rounds west has no live instance, the
    cluster's line says so (in red), its locations show it as not counted (keeping its
    last state in the JSON), and the quorum counts the two others."""
    c = Cluster(postgres_server.dsn(postgres_server.new_schema()), lab)
    try:
        c.instances.leave("west")
        c.instances.rounds(1)
        c.instances.settle()
        doc = c.json("/api/status")
        page = c.get("/")
    finally:
        c.instances.close()
    assert doc["cluster"]["live"] == {"east": 1, "west": 0, "local": 1}
    assert [i["location"] for i in doc["cluster"]["instances"]] == ["east", "local"]
    api = next(r for r in doc["rows"] if r["name"] == "api")
    assert [(w["location"], w["state"], w["live"]) for w in api["locations"]] == [
        ("east", "down", True),
        ("west", "up", False),
        ("local", "up", True),
    ]
    assert api["quorum"] == {
        "needed": 2,
        "failing": ["east"],
        "counted": 2,
        "below": "failing in 1 of 2 locations, below quorum",
    }
    assert text(page, "#cluster") == ["2 instances: east (leader), west (no live instance), local"]
    assert '<span class="dead">west (no live instance)</span>' in page
    assert text(page, ".places")[0] == "east down · west not counted · local up"


# -- in Chromium ---------------------------------------------------------------------------


@pytest.fixture
def tab(browser: Any, cluster: Cluster) -> Iterator[Tab]:
    with Tab(browser, cluster.base) as t:
        yield t


def test_chromium_shows_the_locations_coloured_the_cluster_and_a_partial_incident(
    tab: Tab,
) -> None:
    """In Chromium: api's row reads "east down · west up · local up", east in the red of
    a down badge with its kind in the tooltip, then "failing in 1 of 3 locations, below
    quorum" and its uptime tagged partial (edge, down, has neither); the cluster's line;
    the partial incident labelled, with a border of its own; all unchanged by a refresh,
    with no request off the origin.  Then api's page shows its table of locations."""
    from playwright.sync_api import expect

    page = tab.open("/")
    places = page.locator("tr[data-monitor='api'] .places")
    expect(places).to_have_text("east down · west up · local up")
    below = page.locator("tr[data-monitor='api'] .below-quorum")
    expect(below).to_have_text("failing in 1 of 3 locations, below quorum")
    expect(page.locator("tr[data-monitor='api'] .uptime .tag")).to_have_text("partial")
    expect(page.locator("tr[data-monitor='edge'] .below-quorum")).to_have_count(0)
    east = places.locator("[data-location='east']")
    assert "connect.refused" in (east.get_attribute("title") or "")
    colour = "el => getComputedStyle(el).color"
    down_badge = page.locator("tr[data-monitor='edge'] .state").first
    assert east.evaluate(colour) == down_badge.evaluate(colour)
    assert places.locator("[data-location='west']").evaluate(colour) != east.evaluate(colour)
    expect(page.locator("#cluster")).to_have_text("3 instances: east (leader), west, local")
    partial = page.locator("#incidents .incident-partial")
    expect(partial.locator(".tag")).to_have_text("partial")
    border = "el => getComputedStyle(el).borderLeftColor"
    outage = page.locator("#incidents .incident:not(.incident-partial)")
    assert partial.evaluate(border) != outage.evaluate(border)
    tab.refresh()
    expect(places).to_have_text("east down · west up · local up")
    expect(page.locator("#cluster")).to_have_text("3 instances: east (leader), west, local")
    page.locator("td.name a", has_text="api").click()
    page.wait_for_url(tab.base + "/monitors/api")
    rows = page.locator("#locations tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first.locator(".state")).to_have_text("down")
    expect(rows.first).to_contain_text("connect.refused")
    expect(page.locator("#incidents .incident-partial .tag")).to_have_text("partial")
    tab.assert_clean()
