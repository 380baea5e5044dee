"""Planned maintenance is not an outage (issue 73, items 2 and 3), end to end on loopback
(tests/helpers/telling.py: a real Runner, real probes, a real webhook subscriber, the
Atom feed read as a reader reads it).  A monitor under maintenance that fails: the page
says "Under maintenance", the feed and the subscribers are told the maintenance and
nothing of an incident, and the on-call alert is held; a maintenance notice says when."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.telling import Told, told
from tether.lab import Lab


@pytest.fixture
def t(tmp_path: Path, lab: Lab) -> Iterator[Told]:
    yield from told(tmp_path, lab)


def test_a_monitor_failing_under_maintenance_is_not_published_as_an_outage(t: Told) -> None:
    """The issue's reproduction: ``tether maintenance start --monitor checkout --for 3m``,
    then checkout stops answering and comes back inside the window.  Before, the page
    said "Major outage" and the feed and every subscriber got "Incident: Checkout is
    unreachable" and then "Resolved"; now the page says "Under maintenance" and they are
    told the maintenance alone; the on-call alert stays held."""
    t.subscribe()
    t.checks()
    status, window = t.post(
        "/api/maintenance", {"monitors": ["checkout"], "for": "3m", "reason": "upgrade"}
    )
    assert status == 201, window
    t.now += 10
    t.down.add("checkout")
    t.checks()
    doc = t.page()
    assert doc["status"] == {"code": "maintenance", "text": "Under maintenance"}
    rows = {r["name"]: r for g in doc["groups"] for r in g["monitors"]}
    assert rows["Checkout"]["status"]["text"] == "Under maintenance"
    assert rows["Cart"]["status"]["text"] == "Operational"
    assert doc["incidents"] == []
    html = t.get_text("/status/public")[2]
    assert "Under maintenance" in html
    assert "outage" not in html.lower()
    # Its badge agrees with its page: not "down".
    badge = t.get_text("/badge/checkout/status.svg")[2]
    assert ">maintenance<" in badge
    assert ">down<" not in badge
    t.now += 60
    t.down.clear()
    t.checks()
    t.now += 180
    t.checks()
    events = [n["event"] for n in t.news()]
    assert events == ["maintenance.started", "maintenance.ended"]
    titles = [e.title for e in t.feeds.values()]
    assert not any(title.startswith(("Incident", "Resolved")) for title in titles), titles
    assert t.alerts() == []  # held, and never sent: the monitor came back in the window
    assert t.page()["status"]["text"] == "All systems operational"


def test_an_outage_that_outlasts_the_window_is_told_from_then(t: Told) -> None:
    """Still down when the window ends: it is an outage now.  The page says so, the
    subscribers are told the incident once, and its resolution once."""
    t.subscribe()
    t.checks()
    t.post("/api/maintenance", {"monitors": ["checkout"], "for": "2m", "reason": "upgrade"})
    t.now += 10
    t.down.add("checkout")
    t.checks()
    assert t.page()["incidents"] == []
    t.now += 150
    t.checks()
    doc = t.page()
    assert doc["status"]["text"] == "Major outage" or doc["status"]["code"] == "partial"
    (incident,) = doc["incidents"]
    assert incident["text"].startswith("Checkout is unreachable")
    t.now += 60
    t.down.clear()
    t.checks()
    events = [n["event"] for n in t.news()]
    assert events == [
        "maintenance.started",
        "incident.opened",
        "maintenance.ended",
        "incident.resolved",
    ]


def test_every_maintenance_notice_says_when_as_the_page_shows_it(t: Told) -> None:
    """Issue 73, item 3: a notice read "Scheduled maintenance: Scheduled maintenance of
    Checkout", dated when sent, with no start or end, though the page showed both.  Now
    the webhook's subject and text and the feed's entry give the window's start and end
    in the page's own words."""
    t.subscribe()
    t.checks()
    t.post("/api/maintenance", {"monitors": ["checkout"], "for": "30m", "reason": "upgrade"})
    t.now += 5
    t.tell()
    (shown,) = t.page()["maintenance"]
    html = t.get_text("/status/public")[2]
    start, end = (shown[k].replace("T", " ").replace("Z", " UTC") for k in ("start", "end"))
    assert f">{start}</time>" in html
    assert f">{end}</time>" in html
    (begun,) = t.news()
    assert begun["event"] == "maintenance.started"
    assert begun["text"] == f"Scheduled maintenance of Checkout, from {start} to {end}."
    assert begun["subject"] == f"Maintenance begun: Scheduled maintenance of Checkout, until {end}"
    (entry,) = t.read_feed()
    assert (entry.title, entry.text) == (begun["subject"], begun["text"])
