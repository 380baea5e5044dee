"""``tether status --json`` and ``/api/status`` are one document (issue 24, section 3):
the docs promised the same shapes, and they were two documents of two shapes.  Both are
now built by ``_dashboard.build_status``, the CLI's from what the store alone says.

A real runner over the lab (tests/helpers/status_harness.py) checks its monitors and serves
``/api/status`` on 127.0.0.1; ``status_report`` reads the same store.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.status_harness import CHECKED, started
from tether.lab import Lab
from tether.monitor import status_report, status_text


def test_the_cli_and_the_api_give_one_document(lab: Lab, tmp_path: Path) -> None:
    """The same keys, the same row for each monitor (its state, since when, URL, last
    check, uptime), the same states map and open incidents; what only a running monitor
    knows (certificates, deliveries since it started, live instances) is the one
    difference, each field present in both."""
    s = started(tmp_path, lab)
    try:
        status, _, body = s.get("/api/status")
        assert status == 200
        api = json.loads(body)
        s.store.flush()
        cli = status_report(s.runner.config, s.store, s.now)
    finally:
        s.close()
    assert set(cli) == set(api)
    assert cli["monitors"] == api["monitors"]
    assert set(cli["monitors"]) == set(CHECKED)
    assert cli["summary"] == api["summary"]
    assert [r["name"] for r in cli["rows"]] == [r["name"] for r in api["rows"]]
    for ours, theirs in zip(cli["rows"], api["rows"], strict=True):
        assert set(ours) == set(theirs), ours["name"]
        for key in ("state", "since", "for_s", "url", "uptime", "last_check", "href"):
            assert ours[key] == theirs[key], (ours["name"], key)
    down = next(r for r in cli["rows"] if r["name"] == "checkout-internal")
    assert down["state"] == "down"
    assert down["last_failure"]["kind"] == "connect.refused"
    assert [i["id"] for i in cli["open_incidents"]] == [i["id"] for i in api["open_incidents"]]
    assert cli["open_incidents"] == api["open_incidents"]
    assert [c["name"] for c in cli["channels"]] == [c["name"] for c in api["channels"]]
    assert set(cli["cluster"]) == set(api["cluster"])
    assert (cli["view"]["matching"], cli["view"]["pages"]) == (len(CHECKED), 1)
    # The text is drawn from the document: each monitor's row, its state, its failure.
    text = status_text(cli)
    line = next(x for x in text.splitlines() if x.startswith("checkout-internal"))
    assert "down" in line
    assert "connect.refused" in line
    assert "hunter2" not in text
