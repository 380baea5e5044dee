"""`tether status` of monitors probed from several locations: each location's state as
the instances there wrote it to the store, under the monitor, in the text and in
``--json``; partial incidents labelled, and not counted as an outage by the exit code.

The store is a real one, SQLite and PostgreSQL (the ``target`` fixture); its rows are
written with ``record_location_state``, the call each instance makes for its location,
and ``save_instance``, each instance's heartbeat (on the real clock, which ``tether
status`` reads, within a lease of an hour).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.cli import main
from tether.monitor import Incident, ProbeRecord, status_text
from tether.monitor._records import LocationState
from tether.monitor._state import State
from tether.monitor.store import Instance

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
DETAIL = "203.0.113.7:443 did not accept the connection within 2 s"


def write(tmp_path: Path, target: str, live: tuple[str, ...] = ("east", "west", "local")) -> Path:
    """A file of two monitors, api at three locations and web at local only, and a store
    holding a check of each, api's state at each location (one of them a location it is
    no longer probed from), web's at local, api's open partial incident, and an instance
    alive at each of ``live``."""
    storage = {"postgres": target} if target.startswith("postgresql://") else {"path": target}
    config = tmp_path / "tether.yaml"
    config.write_text(
        json.dumps(
            {
                "storage": storage,
                "locations": ["east", "west", "local"],
                "cluster": {"lease": "1h"},
                "monitors": [
                    {"name": "api", "url": "https://api.lab.test/health"},
                    {"name": "web", "url": "http://127.0.0.1:9/", "locations": ["local"]},
                ],
            }
        )
    )
    with open_target(target) as store:
        store.record(ProbeRecord("api", T0 + 300, True, latency_ms=12.0))
        store.record(ProbeRecord("web", T0 + 300, True, latency_ms=3.0))
        for state in (
            LocationState("api", "west", State.UP, T0, latency_ms=11.0),
            LocationState(
                "api", "east", State.DOWN, T0 + 305, "3 consecutive checks failed",
                Kind.CONNECT_TIMEOUT, DETAIL, "api.lab.test",
            ),
            LocationState("api", "local", State.UP, T0 + 60, latency_ms=12.0),
            LocationState("api", "moon", State.DOWN, T0, kind=Kind.DNS_NOT_FOUND),
            LocationState("web", "local", State.UP, T0),
        ):  # fmt: skip
            store.record_location_state(state)
        store.open_incident(
            Incident(
                store.new_incident_id(),
                "partial:api",
                Kind.CONNECT_TIMEOUT,
                "api unreachable from east (connect.timeout), up from west and local",
                "Check the network between east and api.lab.test.",
                T0 + 305,
                monitors=("api",),
            )
        )
        now = time.time()
        for location in live:
            store.save_instance(Instance(location, location, "host", 1, now, now, False, 1, True))
        store.flush()
    return config


def test_status_lists_the_locations_of_a_monitor_of_several(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under api, a line per location in the monitor's order (the one it is no longer
    probed from left out), with its state, since when and its failure's kind; web, of
    one location, has its row as before; the partial incident says it is one, and alone
    it is no outage: exit 0."""
    config = write(tmp_path, target)
    assert main(["status", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.rstrip() for line in lines[:7]] == [
        "monitor  state    latest  at (UTC)             up 24h  up 30d  detail",
        "api      unknown  ok      2027-01-15 08:05:00  -       -",
        "  east: down since 2027-01-15 08:05 (connect.timeout)",
        "  west: up since 2027-01-15 08:00",
        "  local: up since 2027-01-15 08:01",
        "  failing in 1 of 3 locations, below quorum",
        "web      unknown  ok      2027-01-15 08:05:00  -       -",
    ]
    assert lines[7:] == [
        "",
        "3 instances: east, west, local, no leader: incidents wait",
        "",
        "incident 1 open since 2027-01-15 08:05:05, partial: connect.timeout: api unreachable "
        "from east (connect.timeout), up from west and local (api)",
    ]
    assert main(["incidents", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(
        "incident 1 (OPEN, partial), opened 2027-01-15 08:05:05: connect.timeout\n"
    )


def test_status_json_lists_the_locations_of_a_monitor_of_several(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json: api has `locations`, each with its state, kind, detail and since; web has
    no such key, as before; the incident has "partial": true."""
    config = write(tmp_path, target)
    assert main(["status", "--json", "--config", str(config)]) == 0
    doc = json.loads(capsys.readouterr().out)
    api, web = doc["rows"]
    assert [{k: v for k, v in where.items() if k != "live"} for where in api["locations"]] == [
        {
            "location": "east",
            "state": "down",
            "kind": "connect.timeout",
            "detail": DETAIL,
            "since": "2027-01-15T08:05:05Z",
        },
        {
            "location": "west",
            "state": "up",
            "kind": None,
            "detail": None,
            "since": "2027-01-15T08:00:00Z",
        },
        {
            "location": "local",
            "state": "up",
            "kind": None,
            "detail": None,
            "since": "2027-01-15T08:01:00Z",
        },
    ]
    assert all(where["live"] for where in api["locations"])  # an instance alive at each
    assert api["quorum"] == {
        "needed": 2,
        "failing": ["east"],
        "counted": 3,
        "below": "failing in 1 of 3 locations, below quorum",
    }
    assert "locations" not in web
    (incident,) = doc["open_incidents"]
    assert (incident["key"], incident["partial"]) == ("partial:api", True)


def test_a_location_with_no_live_instance_is_not_counted(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no instance alive at east, `tether status` counts what the running quorum
    counts: east's last state is shown and said not counted, api is not below quorum,
    and the line on the instances shows east with no live instance (it read every
    location live, and no instance at all)."""
    config = write(tmp_path, target, live=("west", "local"))
    assert main(["status", "--json", "--config", str(config)]) == 0
    doc = json.loads(capsys.readouterr().out)
    api = doc["rows"][0]
    assert [(w["location"], w["live"]) for w in api["locations"]] == [
        ("east", False),
        ("west", True),
        ("local", True),
    ]
    assert api["quorum"] == {"needed": 2, "failing": [], "counted": 2, "below": None}
    assert doc["cluster"]["live"] == {"east": 0, "west": 1, "local": 1}
    assert doc["cluster"]["live_locations"] == ["west", "local"]
    assert main(["status", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "  east: down since 2027-01-15 08:05 (connect.timeout), not counted: nothing " in text
    assert "2 instances: east (no live instance), west, local, no leader" in text


def test_a_location_since_today_shows_the_time_of_day_alone() -> None:
    """A location's time is its time of day when it is the report's day (UTC), as
    `  east: down since 14:05 (connect.timeout)`; a failing condition says `condition`."""
    report = {
        "now": "2027-01-15T14:30:00Z",
        "rows": [
            {
                "name": "api",
                "state": "down",
                "last_check": None,
                "uptime": {"24h": None, "30d": None},
                "locations": [
                    {"location": "east", "state": "down", "kind": "connect.timeout",
                     "detail": DETAIL, "since": "2027-01-15T14:05:09Z"},
                    {"location": "west", "state": "down", "kind": "condition",
                     "detail": "[STATUS] (503) == 200", "since": "2027-01-14T23:59:00Z"},
                ],
            }
        ],
        "open_incidents": [],
    }  # fmt: skip
    assert status_text(report).splitlines()[2:4] == [
        "  east: down since 14:05 (connect.timeout)",
        "  west: down since 2027-01-14 23:59 (condition)",
    ]


def test_an_outage_beside_a_partial_incident_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A partial incident does not make `tether status` exit 1; an outage beside it does,
    and the outage's line carries no label."""
    config = write(tmp_path, str(tmp_path / "t.db"))
    with open_target(str(tmp_path / "t.db")) as store:
        store.open_incident(
            Incident(
                store.new_incident_id(),
                "host:api.lab.test:connect.timeout",
                Kind.CONNECT_TIMEOUT,
                "api down",
                "",
                T0 + 400,
                monitors=("api",),
            )
        )
    assert main(["status", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "incident 2 open since 2027-01-15 08:06:40: connect.timeout: api down (api)" in out
