"""The objectives' pages (web/pages/_objective_pages.py): ``/objectives`` and the burn-down chart
of ``/objectives/NAME``, drawn from the store, checked in real Chromium.

A real Runner over a real SQLite store is served on loopback (``ServedRunner``); the
test writes ten hours of checks through the store's API before the served clock's now,
three of them failed, and an incident of the objective's monitor, and knows the budget
left they leave: the chart's line must end there, and the incident's mark must link to
its card on the incidents page.  The objective's name is markup an attacker could plant.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.web_harness import EPOCH, ServedRunner, Tab
from tether._kinds import Kind
from tether.monitor._records import Incident, ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.config._passwords import hash_password, hash_token
from tether.monitor.store import SQLiteStore
from tether.monitor.web.pages._objective_pages import CHART_WIDTH, PLOT_BOTTOM, PLOT_TOP, chart_y

NAME = "<img src=x onerror=window.__pwned=1>"
READER = "tether_reader-token-0123456789abcdefghijklmnopqrstuv"
HOURS = 10
EVERY = 60.0  # one check a minute
FAILED = 3
TARGET = 0.99


def settings(*, users: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "monitors": [
            {"name": "api", "url": "http://127.0.0.1:9/"},
            {"name": "other", "url": "http://127.0.0.1:9/"},
        ],
        "objectives": [{"name": NAME, "monitors": ["api"], "target": "99%"}],
        "tokens": [{"name": "reader", "hash": hash_token(READER), "scope": "read"}],
    }
    if users:
        out["users"] = [{"name": "alice", "password_hash": hash_password(PASSWORD, n=FAST)}]
    return out


class History(ServedRunner):
    """The served runner after ten hours of api's checks, three failed, and an incident."""

    def __init__(self, tmp: Path, *, users: bool = False) -> None:
        config = parse_config(yaml.safe_dump(settings(users=users)))
        store = SQLiteStore(tmp / "objectives.db")
        start = EPOCH - HOURS * 3600
        self.checks = int(HOURS * 3600 / EVERY)
        for i in range(self.checks):
            at = start + i * EVERY
            failed = 120 <= i < 120 + FAILED  # at 2 h in
            kind = Kind.CONNECT_REFUSED if failed else None
            store.record(ProbeRecord("api", at, not failed, kind, 20.0))
            store.record(ProbeRecord("other", at, False, Kind.CONNECT_REFUSED))
        store.flush()
        # The runner reads the objective from the store at its start.
        super().__init__(config, store)
        self.incident = self.store.new_incident_id()
        opened = start + 120 * EVERY
        self.store.open_incident(
            Incident(
                self.incident,
                "k",
                Kind.CONNECT_REFUSED,
                "refused",
                "",
                opened,
                opened + 180,
                ("api",),
            )
        )
        self.remaining = 1 - FAILED / ((1 - TARGET) * self.checks)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    h = History(tmp_path_factory.mktemp("objectives"))
    yield h
    h.close()


def test_the_burn_down_chart_ends_at_the_budget_left_and_marks_the_incident(
    served: History, browser: Any
) -> None:
    """In Chromium: the chart is drawn, its line ends at the share of the budget the
    failed checks left, the incident's band links to its card, and the objective's
    name is shown as text, never run."""
    with Tab(browser, served.base, clock=None) as tab:
        page = tab.open("/objectives/" + quote(NAME, safe=""))
        assert page.locator("#objective-name").inner_text() == NAME
        svg = page.locator("svg#burn-down")
        assert svg.is_visible()
        assert float(svg.get_attribute("data-remaining")) == pytest.approx(served.remaining)
        assert float(page.locator("#budget-left").get_attribute("data-remaining")) == (
            pytest.approx(served.remaining)
        )
        low = min(0.0, served.remaining)
        points = svg.locator(".burn-line").get_attribute("points").split()
        x, y = (float(v) for v in points[-1].split(","))
        assert x == CHART_WIDTH  # the window's end
        assert y == pytest.approx(chart_y(served.remaining, low), abs=0.06)
        assert PLOT_TOP <= y <= PLOT_BOTTOM
        first = [float(v) for v in points[0].split(",")]
        assert first == [0.0, PLOT_TOP]  # the window starts with the whole budget
        # The chart is drawn: the line has a rendered length.
        assert svg.locator(".burn-line").evaluate("e => e.getTotalLength()") > 100
        band = page.locator(f'a.bd-incident[data-incident="{served.incident}"]')
        assert band.count() == 1
        href = band.get_attribute("href")
        assert href == f"/incidents?limit=1000#incident-{served.incident}"
        assert page.locator("#objective-incidents tr[data-incident]").count() == 1
        page.goto(served.base + href)
        assert page.locator(f"#incident-{served.incident}").count() == 1
        tab.assert_clean()


def test_the_list_links_each_objective_and_the_navigation_links_the_list(
    served: History, browser: Any
) -> None:
    """``/objectives`` lists the objective with its budget left, linked to its page; the
    dashboard's navigation links ``/objectives``."""
    with Tab(browser, served.base, clock=None) as tab:
        page = tab.open("/")
        page.locator("header nav a", has_text="Objectives").click()
        page.wait_for_url(served.base + "/objectives")
        row = page.locator("#objectives tbody tr")
        assert row.count() == 1
        assert row.locator("td").nth(0).inner_text() == NAME
        assert row.locator("td").nth(4).inner_text() == f"{served.remaining * 100:.1f}%"
        row.locator("a").click()
        page.wait_for_selector("svg#burn-down")
        tab.assert_clean()


def test_an_unknown_objective_is_a_404_page(served: History) -> None:
    """No objective by that name: a 404 saying so, the name escaped."""
    status, _, body = served.get_text("/objectives/%3Cb%3Enope")
    assert status == 404
    assert "No objective is called" in body
    assert "<b>nope" not in body


def test_the_pages_need_a_login_when_users_are_configured(tmp_path: Path) -> None:
    """With users configured, a browser without a session goes to the login, as on the
    dashboard's other pages, and a read token is let through."""
    s = History(tmp_path, users=True)
    try:
        for path in ("/objectives", "/objectives/" + quote(NAME, safe="")):
            answer = s.request("GET", path)
            assert answer.status == 303
            assert answer.headers["Location"].startswith("/login")
            read = s.request("GET", path, headers={"Authorization": f"Bearer {READER}"})
            assert read.status == 200
            assert "burn-down" in read.body or "objectives" in read.body
    finally:
        s.close()
