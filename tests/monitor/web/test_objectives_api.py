"""``/api/objectives``, ``tether objectives`` and the ``tether_objective_*`` series, from a
real runner served on loopback (tests/helpers/web_harness.py): a traffic monitor fed real
reports over HTTP (``POST /api/report``) and a probe monitor checking the lab, one
objective over each, a real webhook receiver for the alerts, and a real Prometheus
scraping ``/metrics``."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.prometheus_server import found, needs_prometheus, prometheus
from tests.helpers.web_harness import ServedRunner
from tether.cli import main
from tether.lab import Lab
from tether.monitor.config import parse_config

ENDPOINT = "pay.test:443"
"""The endpoint the application reports calls to (no connection is made to it)."""


@pytest.fixture
def served(lab: Lab, receiver: Receiver, serve_runner: Callable[..., ServedRunner]) -> ServedRunner:
    receiver.start()
    config = parse_config(
        f"""
alerts:
  - {{name: pager, type: webhook, url: "{receiver.url}"}}
monitors:
  - {{name: web, url: "{lab["refused"].url}", interval: 30s, timeout: 1s}}
  - {{name: pay-calls, type: traffic, app: checkout, endpoint: "{ENDPOINT}"}}
objectives:
  - {{name: site, monitors: [web], target: 99%, window: 30d}}
  - {{name: checkout, monitors: [pay-calls], target: 99.9%, window: 30d, alerts: [pager]}}
"""
    )
    return serve_runner(config, alerts=True)


def report(s: ServedRunner, failed: int, ok: int) -> None:
    """Report ``failed`` connect.refused calls and ``ok`` successes of the checkout app."""
    calls: list[list[Any]] = [
        [s.now - 1, ENDPOINT, "POST", "connect.refused", None, 3.0, 1] for _ in range(failed)
    ]
    calls += [[s.now - 2, ENDPOINT, "POST", None, 200, 20.0, 1] for _ in range(ok)]
    body = json.dumps({"v": 1, "app": "checkout", "dropped": 0, "calls": calls})
    conn = http.client.HTTPConnection(s.host, s.port, timeout=20)
    try:
        conn.request("POST", "/api/report", body=body, headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 202
    finally:
        conn.close()


def evaluate(s: ServedRunner) -> None:
    """Evaluate the objectives now (the running monitor does every 10 s) and deliver
    (the pages are posted to the store's writer: committed before the delivery's claim)."""
    s.on_loop(s.runner.objectives.evaluate, s.now)
    s.store.flush()
    s.on_loop(s.runner.outbox.deliver_due, s.now)


def test_failing_calls_burn_the_budget_and_page_with_the_calls_that_spent_it(
    served: ServedRunner, receiver: Receiver
) -> None:
    """Reported calls count, one event each: 300 of 1,000 failing burn at 300x, so the
    page and the 6-hour page fire (the 3-day ticket too), each said once to the channel,
    naming the traffic monitor and its failed calls; /api/objectives says the same."""
    s = served
    report(s, failed=300, ok=700)
    evaluate(s)
    bodies = [json.loads(b) for _, b in receiver.got]
    assert [b["event"] for b in bodies] == ["objective.burning"] * 3
    assert {b["labels"]["severity"] for b in bodies} == {"page", "ticket"}
    assert "most spent by pay-calls (connect.refused, 300 failed calls)" in bodies[0]["text"]
    evaluate(s)  # nothing new: a firing rule is said once
    assert len(receiver.got) == 3
    doc = s.json("/api/objectives/checkout")
    assert doc["sli_value"] == pytest.approx(0.7)
    assert (doc["good"], doc["total"]) == (700, 1000)
    assert doc["budget"]["total_bad_allowed"] == pytest.approx(1.0)
    assert doc["budget"]["spent"] == pytest.approx(300.0)
    assert doc["burn_rates"]["1h"] == pytest.approx(300.0)
    assert all(a["firing"] for a in doc["alerts"])
    assert doc["spenders"] == [{"monitor": "pay-calls", "kind": "connect.refused", "bad": 300}]


def test_the_api_answers_the_documented_shape(served: ServedRunner) -> None:
    """Every key the dashboard and the monthly report read, for a checked objective and
    one without events; an unknown name is a JSON 404."""
    s = served
    s.check("web")
    evaluate(s)
    doc = s.json("/api/objectives")
    assert [o["name"] for o in doc["objectives"]] == ["site", "checkout"]
    site, checkout = doc["objectives"]
    assert set(site) == {
        "name",
        "sli",
        "target",
        "window",
        "monitors",
        "sli_value",
        "good",
        "total",
        "data_since",
        "ready",
        "budget",
        "burn_rates",
        "alerts",
        "spenders",
    }
    assert (site["sli"], site["target"], site["window"], site["monitors"]) == (
        "availability",
        0.99,
        "30d",
        ["web"],
    )
    assert (site["sli_value"], site["good"], site["total"]) == (0.0, 0, 1)
    assert site["ready"] is True
    assert site["data_since"] == "2027-01-15T08:00:00Z"  # its one check's hour
    assert site["budget"]["little_data"] is True  # 1 check: 1% of it may fail
    assert site["budget"]["needed"] == 100
    assert list(site["burn_rates"]) == ["5m", "30m", "1h", "6h", "3d"]
    # One failed check of the 100 a 99% budget needs: no rule fires (issue 73, item 1).
    assert site["alerts"][0] == {
        "severity": "page",
        "long": "1h",
        "short": "5m",
        "factor": 14.4,
        "minimum": 7,
        "firing": False,
        "since": None,
    }
    assert site["spenders"] == [{"monitor": "web", "kind": "connect.refused", "bad": 1}]
    assert checkout["sli_value"] is None
    assert checkout["budget"] == {
        "total_bad_allowed": 0.0,
        "spent": 0.0,
        "remaining": 1.0,
        "little_data": True,
        "needed": 1000,
    }
    assert checkout["data_since"] is None
    assert not any(a["firing"] for a in checkout["alerts"])
    status, _, body = s.get("/api/objectives/nothing")
    assert status == 404
    assert json.loads(body) == {"error": 'no objective named "nothing"'}


def test_metrics_have_the_sli_the_budget_left_and_the_burn_rates(served: ServedRunner) -> None:
    """/metrics has one SLI and one budget series an objective with events, and a burn
    rate a window of its rules."""
    s = served
    report(s, failed=1, ok=999)
    evaluate(s)
    _, _, body = s.get_text("/metrics")
    series = {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in body.splitlines()
        if line.startswith("tether_objective_")
    }
    assert series['tether_objective_sli{objective="checkout"}'] == pytest.approx(0.999)
    assert 'tether_objective_sli{objective="site"}' not in series
    left = series['tether_objective_error_budget_remaining{objective="checkout"}']
    assert left == pytest.approx(0.0, abs=1e-9)
    assert series['tether_objective_error_budget_remaining{objective="site"}'] == 1.0
    burn = series['tether_objective_burn_rate{objective="checkout",window="1h"}']
    assert burn == pytest.approx(1.0)
    assert sum(k.startswith('tether_objective_burn_rate{objective="site",') for k in series) == 5


def test_tether_objectives_prints_the_table(
    served: ServedRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tether objectives`` reads the API: one line an objective with its budget left,
    burn rates and firing rules; NAME alone, ``--json`` as the API; an unknown NAME
    exits 2 with the server's message."""
    s = served
    report(s, failed=2, ok=998)
    evaluate(s)
    assert main(["objectives", "--server", s.base]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "OBJECTIVE  SLI    TARGET  BUDGET LEFT                      BURN 1H  BURN 6H  FIRING"
    )
    site, checkout = lines[1].split(), lines[2].split()
    # No check yet: no budget to speak of, rather than a figure; how many it needs.
    assert " too few checks: 0 of 100 needed " in lines[1]
    assert site[-3:] == ["0.00", "0.00", "-"]
    assert checkout == [
        "checkout",
        "99.8%",
        "99.9%",
        "-100%",
        "2.00",
        "2.00",
        "ticket",
        "1x",
        "3d/6h",
    ]
    assert main(["objectives", "--server", s.base, "checkout", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "checkout"
    assert main(["objectives", "--server", s.base, "nothing"]) == 2
    assert 'no objective named "nothing"' in capsys.readouterr().err


@needs_prometheus
def test_prometheus_scrapes_the_objective_series(served: ServedRunner, tmp_path: Path) -> None:
    """A real Prometheus scrapes the three families with their labels."""
    s = served
    report(s, failed=1, ok=999)
    evaluate(s)
    scrapes = f"""
  - job_name: tether
    static_configs: [{{targets: ["127.0.0.1:{s.port}"]}}]
"""
    with prometheus(tmp_path, scrapes) as base:
        got = asyncio.run(
            found(
                base,
                {
                    "sli": ('tether_objective_sli{objective="checkout"}', 1),
                    "left": ("tether_objective_error_budget_remaining", 2),
                    "burn": ('tether_objective_burn_rate{objective="checkout"}', 5),
                },
            )
        )
    assert len(got) == 3, got
    assert float(got["sli"][0]["value"][1]) == pytest.approx(0.999)
    windows = {r["metric"]["window"]: float(r["value"][1]) for r in got["burn"]}
    assert windows == pytest.approx({"5m": 1.0, "30m": 1.0, "1h": 1.0, "6h": 1.0, "3d": 1.0})
