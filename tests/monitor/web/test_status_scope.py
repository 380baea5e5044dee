"""One outage seen from two locations, told once on every surface (issue 73 item 9): a
real running monitor at ``local`` and an agent's batches from ``branch-1`` taken by the
real intake (tests/helpers/telling.py), the page, its JSON, its feed, its webhook
subscriber and the alert channel read after each step.

The monitor's incident is partial while only branch-1 fails (the public is told
nothing), full once both fail (the page's incident opens), partial again when local is
back (the page keeps it open, "and still is from some locations"; the on-call hears the
monitor is up), full again (the subscribers hear it is down again, as an update), and
resolved once every location is back (one "Resolved")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.telling import TWO_LOCATIONS, Told, told
from tether.lab import Lab


@pytest.fixture
def t(tmp_path: Path, lab: Lab) -> Iterator[Told]:
    for t in told(tmp_path, lab, **TWO_LOCATIONS):
        t.subscribe()
        t.checks()
        t.agent()
        yield t


def _incidents(t: Told) -> list[dict[str, Any]]:
    return [i for i in t.json("/api/incidents")["incidents"] if "checkout" in i["monitors"]]


def test_an_outage_from_two_locations_is_one_incident_told_once(t: Told) -> None:
    said: dict[str, int] = {}

    def new(kind: str, got: list[Any]) -> list[Any]:
        out = got[said.get(kind, 0) :]
        said[kind] = len(got)
        return out

    def alerts() -> list[str]:
        return [f"{a['event']}: {a['text']}" for a in new("alerts", t.alerts())]

    def news() -> list[str]:
        return [f"{n['event']} {n['subject']}" for n in new("news", t.news())]

    new("alerts", t.alerts())
    new("news", t.news())

    # branch-1 alone: partial; nothing public, nothing paged.
    t.seen("checkout", branch=False)
    (partial,) = _incidents(t)
    assert partial["key"] == "partial:checkout"
    assert t.page()["incidents"] == []
    assert t.page()["status"]["code"] == "operational"
    assert (alerts(), news()) == ([], [])

    # Both: the same incident is the outage now; paged once, told once.
    t.seen("checkout", local=False)
    (full,) = _incidents(t)
    assert full["id"] == partial["id"]
    assert full["key"].startswith("host:")
    (page,) = t.page()["incidents"]
    assert page["open"] is True
    assert page["text"].startswith("Checkout is unreachable, for ")
    assert [a.split(":")[0] for a in alerts()] == ["incident.opened"]
    assert news() == [f"incident.opened Incident: {page['text']}"]

    # local back, branch-1 still failing: up for the quorum, the incident goes on partial.
    t.seen("checkout", local=True)
    (narrowed,) = _incidents(t)
    assert (narrowed["id"], narrowed["key"]) == (partial["id"], "partial:checkout")
    (page,) = t.page()["incidents"]
    assert page["open"] is True
    assert page["text"] == (
        "Checkout was unreachable for 1 minute, and still is from some locations."
    )
    (up,) = alerts()
    assert up.startswith("monitor.up: checkout is back up from a quorum of its locations")
    assert "goes on as a partial outage" in up
    assert news() == []

    # Both again: paged again (a second outage), told as an update of the same incident.
    t.seen("checkout", local=False)
    (again,) = _incidents(t)
    assert again["id"] == partial["id"]
    (page,) = t.page()["incidents"]
    assert [o["end"] is None for o in page["outages"]] == [False, True]
    assert [a.split(":")[0] for a in alerts()] == ["incident.opened"]
    assert news() == [f"incident.update Investigating: {page['text']}"]

    # Every location back: resolved, told once; the partial end pages nobody.
    t.seen("checkout", local=True)
    t.seen("checkout", branch=True)
    assert _incidents(t)[0]["resolved"] is not None
    (page,) = t.page()["incidents"]
    assert page["open"] is False
    assert [a.split(":")[0] for a in alerts()] == ["monitor.up"]
    assert news() == [f"incident.resolved Resolved: {page['text']}"]
    assert len({i["id"] for i in t.json("/api/incidents")["incidents"]}) == 1
    assert t.rewritten == []
    titles = [e.title for e in t.feeds.values()]
    assert sum(x.startswith("Incident:") for x in titles) == 1
    assert sum(x.startswith("Resolved:") for x in titles) == 1
