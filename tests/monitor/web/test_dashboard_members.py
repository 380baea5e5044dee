"""A mass outage's incident in the lists: its monitors and its timeline are capped (the
first 50 monitors in name order, the first timeline entry and the newest 99), with how
many there are, on the pages, in ``/api/incidents``, in ``open_incidents`` of
``/api/status`` and in a monitor's incidents; ``/api/incidents/{id}`` has it whole.

One incident of 300 monitors with a timeline of 301 entries is written to a real SQLite
store; the real make_app serves it on 127.0.0.1:0 through aiohttp's test client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import yaml
from aiohttp.test_utils import TestClient, TestServer

from tether._kinds import Kind
from tether.monitor import Runner
from tether.monitor._records import Incident, TimelineEntry
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore
from tether.monitor.web._web import make_app
from tether.monitor.web.documents._dashboard import MEMBERS_SHOWN, TIMELINE_SHOWN

T0 = 1_800_000_000.0
N = 300
NAMES = [f"m{i:03d}" for i in range(N)]


async def _get(
    store: SQLiteStore, runner_for: Callable[..., Runner], *paths: str
) -> tuple[int, list[tuple[int, str]]]:
    """``store`` with one incident of all N monitors, served by ``runner_for``'s Runner;
    the incident's number, and what each of ``paths`` answers."""
    timeline = (
        TimelineEntry(T0, "opened", "refused on this machine"),
        *(
            TimelineEntry(T0 + 1 + i, "joined", f"{name} is down too")
            for i, name in enumerate(NAMES)
        ),
    )
    incident = Incident(
        store.new_incident_id(),
        "local:connect.refused",
        Kind.CONNECT_REFUSED,
        "refused on this machine",
        "start them",
        T0,
        monitors=tuple(reversed(NAMES)),
        timeline=timeline,
    )
    store.open_incident(incident)
    store.flush()
    monitors = [{"name": n, "url": "http://127.0.0.1:9/"} for n in NAMES]
    config = parse_config(yaml.safe_dump({"monitors": monitors}))
    runner = runner_for(config, wall=lambda: T0 + 600)
    async with TestClient(TestServer(make_app(runner))) as client:
        out = []
        for path in paths:
            async with client.get(path) as response:
                out.append((response.status, await response.text()))
        return incident.id, out


def test_a_long_incident_is_capped_in_every_list_and_whole_on_its_own(
    fresh_store: SQLiteStore, runner_for: Callable[..., Runner]
) -> None:
    """The lists name the first 50 monitors and 100 timeline entries (the first and the
    newest), with the counts; the incident's own document has all; the pages say how many
    monitors and entries were left out."""
    paths = ("/api/incidents", "/api/status", "/api/monitors/m007", "/incidents")
    number, found = asyncio.run(
        _get(fresh_store, runner_for, *paths, "/api/incidents/1", "/api/incidents/99")
    )
    (_, listed), (_, status), (_, monitor), (_, page), (ok, whole), (missing, _) = found
    capped = [
        json.loads(listed)["incidents"][0],
        json.loads(status)["open_incidents"][0],
        json.loads(monitor)["incidents"][0],
    ]
    for doc in capped:
        assert doc["monitors"] == NAMES[:MEMBERS_SHOWN]
        assert doc["monitors_count"] == N
        assert doc["timeline_count"] == N + 1
        assert len(doc["timeline"]) == TIMELINE_SHOWN
        assert doc["timeline"][0]["event"] == "opened"
        details = [e["detail"] for e in doc["timeline"][1:]]
        assert details == [f"{n} is down too" for n in NAMES[N - TIMELINE_SHOWN + 1 :]]
    assert number == 1
    assert ok == 200
    doc = json.loads(whole)
    assert doc["monitors"] == NAMES
    assert len(doc["timeline"]) == N + 1
    assert (doc["monitors_count"], doc["timeline_count"]) == (N, N + 1)
    assert missing == 404
    assert f"and {N - MEMBERS_SHOWN} more monitors" in page
    assert f"{N + 1 - TIMELINE_SHOWN} more entries" in page
    assert page.count('href="/monitors/') <= MEMBERS_SHOWN + 1  # the nav has none
