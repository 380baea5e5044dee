"""A filter on the dashboard applies to everything it shows (issue 44, section 5): with
``?match=`` or ``?q=``, the counts by state, the ``monitors`` map and the open incidents
of ``/api/status`` and of the page are those of the monitors kept, not of every monitor
("25 monitors: 11 down" above a filtered table, and every open incident under it, was
measured on main).  ``state`` then picks rows among them and leaves the counts whole, so
that each count stays a link to its rows.

A real Runner over the lab served on loopback (tests/helpers/web_harness.py): payments'
api is refused and shop's answers 503, each its own incident; ``bulk-*`` share the
refused port with pay-api, so their incident holds more monitors than a list names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from tests.helpers.web_harness import ServedRunner
from tether.lab import Lab
from tether.monitor.config import parse_config
from tether.monitor.store import SQLiteStore
from tether.monitor.web.documents._dashboard import MEMBERS_SHOWN

BULK = [f"bulk-{i:02}" for i in range(MEMBERS_SHOWN + 5)]
"""More monitors than a list names, sorted before ``z-pay-batch``."""


@pytest.fixture
def served(tmp_path: Path, lab: Lab) -> Iterator[ServedRunner]:
    def m(name: str, url: str, team: str) -> dict[str, Any]:
        return {"name": name, "url": url, "labels": {"team": team}, "failure_threshold": 1}

    monitors = [
        m("pay-api", lab["refused"].url, "payments"),
        m("pay-web", lab["healthy"].url, "payments"),
        m("shop", lab["http_503"].url, "shop"),
        m("batch", lab["healthy"].url, "shop"),
        *(m(name, lab["refused"].url, "bulk") for name in BULK),
        m("z-pay-batch", lab["refused"].url, "batch"),
    ]
    config = parse_config(yaml.safe_dump({"monitors": monitors}))
    s = ServedRunner(config, SQLiteStore(tmp_path / "scope.db"))
    s.check(*(m["name"] for m in monitors))
    yield s
    s.close()


def status(served: ServedRunner, query: str) -> Any:
    return served.json(f"/api/status?{query}")


def team(name: str) -> str:
    """``match=team="NAME"``, encoded."""
    return "match=" + quote(f'team="{name}"')


def incidents(doc: Any) -> dict[str, list[str]]:
    """Each open incident's kind, with the monitors it names."""
    return {i["kind"]: i["monitors"] for i in doc["open_incidents"]}


def test_a_match_keeps_the_counts_the_states_and_the_incidents_of_its_monitors(
    served: ServedRunner,
) -> None:
    """``match=team="payments"``: two monitors counted, one down and one up, both in the
    ``monitors`` map and no other, and only the refused port's incident, naming pay-api
    alone of its many monitors and still saying how many it has."""
    whole = status(served, "")
    assert whole["summary"]["down"] == 3 + len(BULK)
    assert set(incidents(whole)) == {"connect.refused", "http.server_error"}
    doc = status(served, team("payments"))
    assert [r["name"] for r in doc["rows"]] == ["pay-api", "pay-web"]
    assert doc["monitors"] == {"pay-api": "down", "pay-web": "up"}
    assert {k: n for k, n in doc["summary"].items() if n} == {"down": 1, "up": 1}
    assert incidents(doc) == {"connect.refused": ["pay-api"]}
    (incident,) = doc["open_incidents"]
    assert incident["monitors_count"] == 2 + len(BULK)


def test_a_monitor_past_the_names_a_list_shows_still_brings_its_incident(
    served: ServedRunner,
) -> None:
    """A monitor of a big incident beyond the first names a list shows (``z-pay-batch``,
    sorted after every ``bulk-*``) keeps that incident on the filtered page, named."""
    doc = status(served, team("batch"))
    assert incidents(doc) == {"connect.refused": ["z-pay-batch"]}


def test_a_search_keeps_the_counts_and_the_incidents_of_its_monitors(
    served: ServedRunner,
) -> None:
    """``q=shop``: shop alone is counted and listed, with its own incident only."""
    doc = status(served, "q=shop")
    assert doc["monitors"] == {"shop": "down"}
    assert {k: n for k, n in doc["summary"].items() if n} == {"down": 1}
    assert incidents(doc) == {"http.server_error": ["shop"]}


def test_a_state_picks_rows_and_leaves_the_counts_of_the_filter(served: ServedRunner) -> None:
    """``state=up`` within ``team="payments"``: pay-web's row alone, the counts still one
    down and one up (each a link to its rows), the incident still there."""
    doc = status(served, team("payments") + "&state=up")
    assert [r["name"] for r in doc["rows"]] == ["pay-web"]
    assert {k: n for k, n in doc["summary"].items() if n} == {"down": 1, "up": 1}
    assert set(incidents(doc)) == {"connect.refused"}


def test_the_page_counts_and_lists_the_incidents_of_the_filter_alone(
    served: ServedRunner,
) -> None:
    """The filtered page's summary reads "2 monitors: 1 down, 1 up" and its open
    incidents name pay-api's alone, not shop's."""
    code, _, page = served.get_text("/?" + team("payments"))
    assert code == 200
    summary = re.search(r'<p id="summary"[^>]*>(.*?)</p>', page, re.S)
    assert summary is not None
    assert re.sub(r"<[^>]+>", "", summary.group(1)) == "2 monitors: 1 down, 1 up"
    listed = page.split('id="incidents"', 1)[1].split("</section>", 1)[0]
    assert "pay-api" in listed
    assert "http.server_error" not in listed
    assert "shop" not in listed
