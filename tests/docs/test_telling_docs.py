"""docs/telling.md's table held as written (issue 73, "One story per event, across every
surface"): each event the table names happens to a real running monitor
(tests/helpers/telling.py: real probes, a real store, a real webhook subscriber, the
alert channel's webhook, the Atom feed read as a reader reads it), and each surface says
what its cell says: every backquoted phrase of a cell is in what that surface shows
after the event (the dashboard, the status page, the page's JSON) or in what it sent for
it (the feed, the subscriber's e-mail and webhook, the alert channels, the on-call
pages); a cell that says "nothing" means nothing was sent.  What was sent for an event is
sent once, and no feed entry is ever rewritten."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.telling import TWO_LOCATIONS, Told, told
from tether.lab import Lab
from tether.monitor.alerts._subscribers import subscriber_email
from tether.monitor.store._subscribers import Delivery

DOC = Path(__file__).resolve().parents[2] / "docs" / "telling.md"
SURFACES = (
    "Dashboard",
    "Status page",
    "Page JSON",
    "Feed",
    "Subscriber e-mail",
    "Subscriber webhook",
    "Alert channels",
    "On-call pages",
)
STREAMS = frozenset(SURFACES[3:])
"""Surfaces that send (a cell's phrases are in what was sent for the event)."""
PAGING = frozenset({"incident.opened", "incident.reminder", "incident.escalated"})
"""What wakes the person on call, besides an objective's ``page`` rule."""
HOUR = 3600.0


def table() -> dict[str, dict[str, str]]:
    """The doc's table: each event's cell per surface."""
    lines = [line for line in DOC.read_text().splitlines() if line.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    assert head[1:] == list(SURFACES), head
    rows: dict[str, dict[str, str]] = {}
    for line in lines[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows[cells[0].strip("*")] = dict(zip(SURFACES, cells[1:], strict=True))
    return rows


def _text(html: str) -> str:
    html = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&amp;", "&")


def sent(t: Told) -> dict[str, list[str]]:
    """Everything each sending surface sent so far, oldest first."""
    alerts = t.alerts()
    news = t.store.news("public", 1000)[::-1]
    (subscriber,) = t.store.subscribers() or [None]
    mails = []
    for n in news if subscriber is not None else ():
        m = subscriber_email(Delivery(0, str(n["key"]), n, 0, subscriber), "s@example.com", t.base)
        mails.append(f"{m['Subject']}\n{m.get_content()}")
    return {
        "Feed": [f"{e.title}\n{e.text}" for e in t.feeds.values()],
        "Subscriber e-mail": mails,
        "Subscriber webhook": [json.dumps(n, sort_keys=True) for n in t.news()],
        "Alert channels": [f"{a['event']}: {a['text']}" for a in alerts],
        "On-call pages": [
            f"{a['event']}: {a['text']}"
            for a in alerts
            if a["event"] in PAGING
            or (a["event"] == "objective.burning" and a["labels"].get("severity") == "page")
        ],
    }


def shown(t: Told) -> dict[str, str]:
    """What each showing surface shows now."""
    board = " ".join(_text(t.get_text(p)[2]) for p in ("/", "/incidents", "/objectives"))
    return {
        "Dashboard": board + " " + json.dumps(t.json("/api/objectives")),
        "Status page": _text(t.get_text("/status/public")[2]),
        "Page JSON": json.dumps(t.page()),
    }


def fresh(before: list[str], after: list[str]) -> list[str]:
    """What ``after`` holds that ``before`` did not (each item as many times as more)."""
    left = Counter(before)
    out = []
    for item in after:
        if left[item]:
            left[item] -= 1
        else:
            out.append(item)
    return out


def phrases(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def holds(t: Told, event: str, cell_of: dict[str, str], step: Callable[[], None]) -> None:
    """Run ``step`` (the event) and check every surface against its cell."""
    before = sent(t)
    step()
    t.read_feed()
    after, now = sent(t), shown(t)
    for surface in SURFACES:
        cell = cell_of[surface]
        if surface in STREAMS:
            new = fresh(before[surface], after[surface])
            if cell.lower().startswith("nothing"):
                assert new == [], (event, surface, new)
                continue
            said = "\n".join(new)
            for phrase in phrases(cell):
                assert phrase in said, (event, surface, phrase, new)
            first = phrases(cell)[0]
            assert sum(first in item for item in new) == 1, (event, surface, "told twice", new)
        else:
            for phrase in phrases(cell):
                assert phrase in now[surface], (event, surface, phrase, now[surface][:3000])


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    return table()


def test_the_table_has_every_event_and_a_word_for_each_surface(
    rows: dict[str, dict[str, str]],
) -> None:
    """Every event the issue names is a row, and every cell says something."""
    assert list(rows) == [
        "Incident opened",
        "A monitor joins it",
        "Updated by a person",
        "Resolved by the monitors",
        "Resolved by a person",
        "Maintenance scheduled",
        "Maintenance started",
        "A monitor under maintenance fails",
        "Maintenance ended",
        "An agent's location is lost",
        "An objective burns",
        "Down from some locations",
        "Down from a quorum of them",
        "Up for the quorum, still down from some",
        "Down from a quorum again",
        "Up from every location",
    ]
    for event, cells in rows.items():
        for surface, cell in cells.items():
            assert cell, (event, surface)
            if surface in STREAMS:
                assert cell.lower().startswith("nothing") or phrases(cell), (event, surface)


@pytest.fixture
def t(tmp_path: Path, lab: Lab) -> Iterator[Told]:
    window = {
        "name": "db-upgrade",
        "monitors": ["cart"],
        "start": "2027-01-15T09:00:00Z",
        "end": "2027-01-15T10:00:00Z",
    }
    yield from told(tmp_path, lab, maintenance=[window])


def test_an_incidents_story_is_told_as_the_table_says(
    tmp_path: Path, lab: Lab, rows: dict[str, dict[str, str]]
) -> None:
    """Checkout stops answering, Cart joins it, the team writes, both come back, the team
    says resolved: each surface at each step as its cell says, each once."""
    for t in told(tmp_path, lab):
        _incident_story(t, rows)


def _incident_story(t: Told, rows: dict[str, dict[str, str]]) -> None:
    t.subscribe()
    t.check("checkout", "cart")
    t.now += 30

    def opened() -> None:
        t.down.add("checkout")
        t.checks()

    def joins() -> None:
        t.now += 10
        t.down.add("cart")
        t.checks()
        t.now += 25  # the incident's group_wait (30 s) is past: its grouped update goes
        t.tell()

    def updated() -> None:
        t.now += 10
        # Not the page's JSON: it would be built (and kept 5 s) before the update.
        number = t.json("/api/incidents")["incidents"][0]["id"]
        update = {"state": "identified", "text": "Found it."}
        assert t.post(f"/api/incidents/{number}/updates", update)[0] == 201
        t.tell()

    def back() -> None:
        t.now += 60
        t.down.clear()
        t.checks()

    def closed() -> None:
        t.now += 10
        # Not the page's JSON: it would be built (and kept 5 s) before the update.
        number = t.json("/api/incidents")["incidents"][0]["id"]
        update = {"state": "resolved", "text": "Fixed for good."}
        assert t.post(f"/api/incidents/{number}/updates", update)[0] == 201
        t.tell()

    for event, step in (
        ("Incident opened", opened),
        ("A monitor joins it", joins),
        ("Updated by a person", updated),
        ("Resolved by the monitors", back),
        ("Resolved by a person", closed),
    ):
        holds(t, event, rows[event], step)
    assert t.rewritten == []


def test_a_maintenance_story_is_told_as_the_table_says(
    t: Told, rows: dict[str, dict[str, str]]
) -> None:
    """A window of the file for Cart, 09:00 to 10:00: seen ahead, begun, Cart failing and
    back inside it, over; each surface as its cell says, each once."""
    t.subscribe()
    t.check("checkout", "cart")

    def scheduled() -> None:
        t.tell()

    def started() -> None:
        t.now += HOUR + 30
        t.checks()

    def fails() -> None:
        t.now += 600
        t.down.add("cart")
        t.checks()
        t.now += 600
        t.down.clear()
        t.checks()

    def ended() -> None:
        t.now += HOUR
        t.checks()

    for event, step in (
        ("Maintenance scheduled", scheduled),
        ("Maintenance started", started),
        ("A monitor under maintenance fails", fails),
        ("Maintenance ended", ended),
    ):
        holds(t, event, rows[event], step)
    assert t.rewritten == []


def test_an_agents_location_and_an_objective_are_told_as_the_table_says(
    tmp_path: Path, lab: Lab, rows: dict[str, dict[str, str]]
) -> None:
    """Locations local and branch-1, whose agent is not heard; an objective of a monitor
    on no page whose checks start failing once its budget means something."""
    extra: dict[str, Any] = {
        **TWO_LOCATIONS,
        "objectives": [
            {
                "name": "internal-slo",
                "monitors": ["internal"],
                "target": "90%",
                "window": "1h",
                "alerts": ["ops"],
                "burn_rates": [{"severity": "page", "burn": 2, "long": "1m", "short": "20s"}],
            }
        ],
    }
    for t in told(tmp_path, lab, hidden=True, **extra):
        _agent_and_objective_story(t, rows)


def _agent_and_objective_story(t: Told, rows: dict[str, dict[str, str]]) -> None:
    t.subscribe()

    def lost() -> None:
        t.checks()

    def burns() -> None:
        for _ in range(12):
            t.now += 5
            t.checks("internal")
        t.down.add("internal")
        for _ in range(4):
            t.now += 5
            t.checks("internal")
            t.on_loop(t.runner.objectives.evaluate, t.now)
            t.tell()

    holds(t, "An agent's location is lost", rows["An agent's location is lost"], lost)
    holds(t, "An objective burns", rows["An objective burns"], burns)


def test_an_outage_seen_from_two_locations_is_told_as_the_table_says(
    tmp_path: Path, lab: Lab, rows: dict[str, dict[str, str]]
) -> None:
    """Locations local and branch-1, whose agent's batches the intake takes: Checkout
    refused at branch-1, then at both, then at branch-1 alone, at both again, at none;
    one incident whose scope changes, each surface as its cell says, each once."""
    for t in told(tmp_path, lab, **TWO_LOCATIONS):
        _two_locations_story(t, rows)


def _two_locations_story(t: Told, rows: dict[str, dict[str, str]]) -> None:
    t.subscribe()
    t.check("checkout", "cart")
    t.agent()
    t.now += 30

    def at(**where: bool) -> Callable[[], None]:
        return lambda: t.seen("checkout", **where)

    for event, step in (
        ("Down from some locations", at(branch=False)),
        ("Down from a quorum of them", at(local=False)),
        ("Up for the quorum, still down from some", at(local=True)),
        ("Down from a quorum again", at(local=False)),
        ("Up from every location", at(local=True, branch=True)),
    ):
        holds(t, event, rows[event], step)
    assert t.rewritten == []
    assert len({i["id"] for i in t.json("/api/incidents")["incidents"]}) == 1
