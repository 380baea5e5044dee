"""The dashboard's buttons in Debian's headless Chromium (tests/helpers/web_harness.py): Pause
on a monitor's page pauses it, Acknowledge and Add note on an incident do what they say,
each a plain form whose answer brings the page back; no request leaves the server's
origin.  Skips without Chromium unless TETHER_REQUIRE_CHROMIUM=1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers.actions_harness import Served
from tests.helpers.web_harness import Tab
from tether.lab import Lab


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path / "buttons.db", lab)
    yield s
    s.close()


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Tab]:
    with Tab(browser, served.base, viewport=None, console_errors=False) as t:
        yield t


def same_origin(tab: Tab, served: Served) -> None:
    base = urlsplit(served.base)
    for url in tab.requests:
        parts = urlsplit(url)
        assert (parts.hostname, parts.port) == (base.hostname, base.port), url
    assert tab.errors == []


def test_the_pause_button_pauses_the_monitor(tab: Tab, served: Served) -> None:
    """Pause on a monitor's page pauses it (state paused, off the prober, in the audit
    log) and the page comes back showing Resume; Resume undoes it."""
    from playwright.sync_api import expect

    page = tab.page
    served.check("web")
    page.goto(served.base + "/monitors/web")
    expect(page.locator("#state-line .state")).to_have_text("up")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#state-line .state")).to_have_text("paused")
    assert page.url == served.base + "/monitors/web"
    assert served.state("web") == "paused"
    assert "web" not in served.runner.prober.names
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    actions = [(e["action"], e["target"]) for e in served.json("/api/audit")["entries"]]
    assert actions == [("resume", "monitor:web"), ("pause", "monitor:web")]
    same_origin(tab, served)


def test_the_ack_and_note_buttons_act_on_the_incident(tab: Tab, served: Served) -> None:
    """Acknowledge on the incidents page acknowledges it (the button goes, the timeline
    says so); a note typed and sent is on its timeline, its markup shown as text."""
    from playwright.sync_api import expect

    page = tab.page
    served.check("down")
    (incident,) = served.json("/api/incidents")["incidents"]
    page.goto(served.base + "/incidents")
    card = page.locator(f'[data-incident="{incident["id"]}"]')
    card.get_by_role("button", name="Acknowledge").click()
    expect(card.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(card.locator(".timeline")).to_contain_text("acknowledged by local")
    assert served.json("/api/incidents")["incidents"][0]["acknowledged"] is not None
    card.get_by_label("note").fill("<b>rolled back</b>")
    card.get_by_role("button", name="Add note").click()
    expect(card.locator(".timeline")).to_contain_text("local: <b>rolled back</b>")
    assert page.url == served.base + "/incidents"
    assert [e["action"] for e in served.json("/api/audit")["entries"]] == ["note", "acknowledge"]
    same_origin(tab, served)
