"""One objective, one figure (issue 44 §2, STYLE.md: "a figure shown in two places is
computed once"): ``/api/objectives``, ``tether objectives``, ``/metrics``, the dashboard's
``/objectives`` and ``/objectives/NAME``, a status page and the monthly report give the
same SLI and budget left, from a real runner served on loopback over a real SQLite store
that the test wrote through its API before the runner started.  On main the three read
41.7%, 36.5% and 40% within two minutes: the API counted from the restart, the pages
from the store's hours since the window's start, the report from the month's."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.web_harness import EPOCH, ServedRunner
from tether._kinds import Kind
from tether.cli import main
from tether.monitor._records import ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.reports._monthly import monthly_report, report_csv
from tether.monitor.store import SQLiteStore

CHECKS = 600  # ten hours, one a minute, before the runner starts
FAILED = 3
TARGET = 0.99
LEFT = 1 - FAILED / ((1 - TARGET) * 2 * CHECKS)  # two monitors: 1 - 3 / 12 = 75%


def settings() -> dict[str, Any]:
    return {
        "monitors": [
            {"name": "api", "url": "http://127.0.0.1:9/", "interval": "1h"},
            {"name": "web", "url": "http://127.0.0.1:9/", "interval": "1h"},
        ],
        "objectives": [{"name": "checkout", "monitors": ["api", "web"], "target": "99%"}],
        "status_pages": [
            {
                "slug": "shop",
                "title": "Shop",
                "groups": [{"name": "Core", "monitors": ["api"]}],
                "objectives": ["checkout"],
            }
        ],
    }


class Served(ServedRunner):
    """The runner started on a store holding ten hours of checks, three failed."""

    def __init__(self, tmp: Path) -> None:
        store = SQLiteStore(tmp / "one.db")
        for i in range(CHECKS):
            at = EPOCH - (CHECKS - i) * 60
            for monitor in ("api", "web"):
                failed = monitor == "web" and i < FAILED
                kind = Kind.CONNECT_REFUSED if failed else None
                store.record(ProbeRecord(monitor, at, not failed, kind, 20.0))
        store.flush()
        self.config = parse_config(yaml.safe_dump(settings()))
        super().__init__(self.config, store)
        self.on_loop(self.runner.objectives.evaluate, self.now)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = Served(tmp_path_factory.mktemp("one-figure"))
    yield s
    s.close()


def test_every_surface_gives_the_same_budget_left(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    """The API, /metrics, both dashboard pages, the status page, ``tether objectives`` and
    the monthly report: 75% left, 1,197 good of 1,200, each to the digits it prints."""
    s = served
    api = s.json("/api/objectives/checkout")
    assert (api["good"], api["total"]) == (2 * CHECKS - FAILED, 2 * CHECKS)
    assert api["budget"]["remaining"] == pytest.approx(LEFT)
    _, _, metrics = s.get_text("/metrics")
    found = re.search(
        r'tether_objective_error_budget_remaining\{objective="checkout"\} (\S+)', metrics
    )
    assert found is not None
    assert float(found[1]) == pytest.approx(LEFT)
    _, _, listing = s.get_text("/objectives")
    assert f'<td class="">{LEFT * 100:.1f}%</td>' in listing
    _, _, page = s.get_text("/objectives/checkout")
    shown = re.search(r'id="budget-left" data-remaining="([^"]+)"', page)
    assert shown is not None
    assert float(shown[1]) == pytest.approx(LEFT, abs=1e-6)
    chart = re.search(r'svg id="burn-down"[^>]* data-remaining="([^"]+)"', page)
    assert chart is not None
    assert float(chart[1]) == pytest.approx(LEFT, abs=1e-6)
    status = s.json("/status/shop.json")
    assert status["objectives"][0]["budget_left"] == pytest.approx(LEFT, abs=1e-6)
    assert main(["objectives", "--server", s.base]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:4] == ["checkout", f"{(1 - FAILED / (2 * CHECKS)) * 100:.2f}%", "99%", "75%"]
    report = monthly_report(s.store, s.config, "2027-01", s.now)
    cells = {
        row["item"]: row["value"]
        for row in csv.DictReader(io.StringIO(report_csv(report)))
        if row["section"] == "objective"
    }
    assert float(cells["budget_left"]) == pytest.approx(LEFT, abs=1e-6)
    assert (cells["good"], cells["total"]) == (str(2 * CHECKS - FAILED), str(2 * CHECKS))
