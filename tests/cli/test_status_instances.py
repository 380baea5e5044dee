"""``tether status`` says whether the monitor runs: a lone ``tether monitor`` (SQLite)
writes its heartbeat to the store as a cluster's instances do (issue 44, "one view"), so
``tether status`` lists it alive while it runs, and nothing once it stopped cleanly; a
``kill -9`` leaves its row, which is not alive after the lease.  It listed no instance
at all, and counted every location live whether anything ran or not.  Real processes on
real time, every wait polled with a bound."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import SRC, monitor, tether
from tether.lab import Lab


def _status(config: Path) -> dict[str, Any]:
    code, out, err = tether("status", "--json", "--config", str(config))
    assert code in (0, 1), err
    doc: dict[str, Any] = json.loads(out)
    return doc


def _config(tmp_path: Path, lab: Lab) -> Path:
    config = tmp_path / "tether.yaml"
    config.write_text(
        json.dumps(
            {
                "storage": {"path": str(tmp_path / "tether.db")},
                "server": {"listen": f"127.0.0.1:{free_port()}"},
                "locations": ["local", "east"],
                "monitors": [{"name": "web", "url": lab["healthy"].url, "interval": "1s"}],
            }
        )
    )
    return config


def _alive(doc: dict[str, Any]) -> list[str]:
    return [i["location"] for i in doc["cluster"]["instances"] if i["alive"]]


def test_a_lone_monitor_is_listed_while_it_runs_and_not_once_stopped(
    tmp_path: Path, lab: Lab
) -> None:
    """While it runs: one instance alive at local, its leader, local live (east, where
    nothing runs, not). After SIGTERM: no instance, no live location, web unknown."""
    config = _config(tmp_path, lab)
    env = {**os.environ, "PYTHONPATH": SRC, "TETHER_LOCATION": "local"}
    with monitor(config, tmp_path / "monitor.log", env=env) as proc:
        wait_for(lambda: _status(config)["monitors"]["web"] == "up", 30, [proc])
        doc = _status(config)
        assert _alive(doc) == ["local"]
        assert doc["cluster"]["instances"][0]["leader"] is True
        assert doc["cluster"]["live_locations"] == ["local"]
        assert [(w["location"], w["live"]) for w in doc["rows"][0]["locations"]] == [
            ("local", True),
            ("east", False),
        ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    doc = _status(config)
    assert doc["cluster"]["instances"] == []
    assert doc["cluster"]["live_locations"] == []
    assert doc["monitors"] == {"web": "unknown"}


def test_a_killed_monitor_is_listed_not_alive_after_the_lease(tmp_path: Path, lab: Lab) -> None:
    """After ``kill -9`` its row stays (nothing removed it) and is not alive once its
    last heartbeat is older than the lease: local is not live."""
    config = _config(tmp_path, lab)
    env = {**os.environ, "PYTHONPATH": SRC, "TETHER_LOCATION": "local"}
    with monitor(config, tmp_path / "monitor.log", env=env) as proc:
        wait_for(lambda: _alive(_status(config)) == ["local"], 30, [proc])
        proc.kill()
        proc.wait(30)

    def dead() -> dict[str, Any] | None:
        doc = _status(config)
        return None if _alive(doc) else doc

    doc = wait_for(dead, 30)
    assert [i["location"] for i in doc["cluster"]["instances"]] == ["local"]
    assert doc["cluster"]["live_locations"] == []
