"""The overview's open incidents at scale: the newest 20 listed, the rest a link to the
incidents page, which takes ``?open=1`` and ``?limit=`` as its API does.

The incidents are written to a real SQLite store (an outage of many hosts, without
probing as many), and the real make_app serves them on 127.0.0.1:0 through aiohttp's
test client.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from tether._kinds import Kind
from tether.monitor import Runner
from tether.monitor._records import Incident, TimelineEntry
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore
from tether.monitor.web._web import make_app
from tether.monitor.web.documents._dashboard import OPEN_ON_OVERVIEW

T0 = 1_800_000_000.0
OPEN = OPEN_ON_OVERVIEW + 7
RESOLVED = 3


@pytest.fixture
def runner(fresh_store: SQLiteStore, runner_for: Callable[..., Runner]) -> Runner:
    """A Runner over OPEN monitors whose store holds OPEN + RESOLVED incidents, each of a
    host of its own; the oldest RESOLVED of them ended."""
    monitors = [{"name": f"m{i:02d}", "url": f"http://127.0.0.1:{1000 + i}/"} for i in range(OPEN)]
    store = fresh_store
    ids = []
    for i in range(OPEN + RESOLVED):
        incident = Incident(
            store.new_incident_id(),
            f"host:h{i}:connect.refused",
            Kind.CONNECT_REFUSED,
            f"refused on h{i}",
            "start it",
            T0 + i,
            monitors=(f"m{i % OPEN:02d}",),
        )
        store.open_incident(incident)
        ids.append(incident.id)
    for incident_id in ids[:RESOLVED]:  # the oldest ones ended
        end = T0 + 100
        store.note_incident(incident_id, TimelineEntry(end, "resolved", "up"), resolved=end)
    store.flush()
    config = parse_config(yaml.safe_dump({"monitors": monitors}))
    return runner_for(config, wall=lambda: T0 + 200)


async def _get(runner: Runner, *paths: str) -> list[tuple[int, str]]:
    async with TestClient(TestServer(make_app(runner))) as client:
        out = []
        for path in paths:
            async with client.get(path) as response:
                out.append((response.status, await response.text()))
        return out


def _listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-incident="(\d+)"', page)]


def test_the_overview_lists_the_newest_open_incidents_and_links_to_the_rest(
    runner: Runner,
) -> None:
    """27 open incidents: the overview shows the newest 20, says 7 more and links to the
    open ones; /api/status still has all 27."""
    (status, page), (_, api) = asyncio.run(_get(runner, "/", "/api/status"))
    assert status == 200
    listed = _listed(page)
    assert len(listed) == OPEN_ON_OVERVIEW
    assert listed == sorted(listed, reverse=True)  # newest first
    assert "and 7 more open incidents" in page
    assert 'href="/incidents?open=1"' in page
    assert api.count('"key":"host:h') == OPEN


def test_the_incidents_page_takes_open_and_limit_as_its_api_does(runner: Runner) -> None:
    """/incidents lists every incident (the 3 resolved too), ?open=1 the open ones alone,
    ?limit=5 five; a bad limit is a 400 with its reason."""
    (_, every), (_, only_open), (_, five), (bad, why) = asyncio.run(
        _get(
            runner,
            "/incidents",
            "/incidents?open=1",
            "/incidents?open=1&limit=5",
            "/incidents?limit=x",
        )
    )
    assert len(_listed(every)) == OPEN + RESOLVED
    assert len(_listed(only_open)) == OPEN
    assert "<h1>Open incidents</h1>" in only_open
    assert 'data-fragment="/incidents?open=1&amp;fragment=1"' in only_open
    assert len(_listed(five)) == 5
    assert bad == 400
    assert "limit" in why
