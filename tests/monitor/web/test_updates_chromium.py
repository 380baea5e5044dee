"""The dashboard's "Post update" form in Debian's headless Chromium (issue 48): an update
chosen and typed on an incident is stored, audited, on the incident's timeline, and shown on
a status page as the incident's timeline, its markup as text.  Skips without Chromium
unless TETHER_REQUIRE_CHROMIUM=1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.status_harness import Public, started
from tests.helpers.web_harness import Tab
from tether.lab import Lab


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[Public]:
    s = started(tmp_path, lab)
    yield s
    s.close()


@pytest.fixture
def tab(browser: Any, served: Public) -> Iterator[Tab]:
    with Tab(browser, served.base, viewport=None, console_errors=False) as t:
        yield t


def test_an_update_posted_from_the_dashboard_is_on_the_status_page(
    tab: Tab, served: Public
) -> None:
    """Post update on the incidents page stores the update (audited, on the timeline) and
    the status page shows it under the incident, escaped."""
    from playwright.sync_api import expect

    page = tab.page
    (incident,) = served.json("/api/incidents")["incidents"]
    page.goto(served.base + "/incidents")
    card = page.locator(f'[data-incident="{incident["id"]}"]')
    card.get_by_label("update state").select_option("identified")
    card.get_by_label("update for the users").fill("<b>rolling back</b>")
    card.get_by_role("button", name="Post update").click()
    expect(card.locator(".timeline")).to_contain_text("local: Identified: <b>rolling back</b>")
    assert page.url == served.base + "/incidents"
    entries = served.json("/api/audit")["entries"]
    assert [(e["action"], e["params"]["state"]) for e in entries] == [
        ("incident.update", "identified")
    ]
    served.now += 10  # past the page's cache
    page.goto(served.base + "/status/public")
    update = page.locator(f'[data-incident="{incident["id"]}"] .update')
    expect(update).to_have_count(1)
    expect(update).to_contain_text("Identified")
    expect(update).to_contain_text("<b>rolling back</b>")
    assert tab.errors == []
