"""The dashboard's silences page in Debian's headless Chromium (tests/helpers/web_harness.py):
a writer makes a silence with the page's form and expires it with its button, each a plain
form (with the session's CSRF token when logged in) whose answer brings the page back; the
alerts kept are listed; a reader sees neither form nor button; no request leaves the
server's origin.  Skips without Chromium unless TETHER_REQUIRE_CHROMIUM=1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers.actions_harness import Served
from tests.helpers.alert_payloads import opened
from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.web_harness import EPOCH, Tab
from tether.lab import Lab
from tether.monitor.config._passwords import hash_password


class Kept:
    name = "ops"

    def __init__(self) -> None:
        self.got: list[str] = []

    def deliver(self, payload: object, key: str) -> None:
        self.got.append(key)


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path / "silences.db", lab)
    yield s
    s.close()


def same_origin(tab: Tab, served: Served) -> None:
    base = urlsplit(served.base)
    for url in tab.requests:
        parts = urlsplit(url)
        assert (parts.hostname, parts.port) == (base.hostname, base.port), url
    assert tab.errors == []


def test_a_silence_is_made_and_expired_from_the_page(browser: Any, served: Served) -> None:
    """The form makes a silence (its comment's markup shown as text), the page comes back
    listing it active; an alert it keeps is listed under "Alerts kept"; Expire ends it
    and its button goes; the audit log has both."""
    from playwright.sync_api import expect

    from tether.monitor.alerts import SilenceGate

    with Tab(browser, served.base, viewport=None, console_errors=False) as tab:
        page = tab.page
        page.goto(served.base + "/silences")
        expect(page.locator("#silences")).to_contain_text("No silences.")
        page.get_by_label("matchers").fill('monitor="api", team=~"db|web"')
        page.get_by_label("for how long").fill("30m")
        page.get_by_label("comment").fill("<b>deploy</b>")
        page.get_by_role("button", name="Silence").click()
        row = page.locator("#silences tr[data-silence]")
        expect(row).to_have_count(1)
        assert page.url == served.base + "/silences"
        expect(row).to_contain_text('monitor="api", team=~"db|web"')
        expect(row).to_contain_text("<b>deploy</b>")
        expect(row.locator("td").nth(1)).to_have_text("active")
        (made,) = served.json("/api/silences")["silences"]
        assert made["ends"] == "2027-01-15T08:30:00Z"

        outbox, channel = served.runner.outbox, Kept()
        outbox.channels = {"ops": channel}
        outbox.gates.append(SilenceGate(served.store.silences_in_force))
        served.store.enqueue_alert("ops", "a", opened(labels={"team": "db"}), EPOCH)
        assert outbox.deliver_due(EPOCH + 1) == (1, 0)
        assert channel.got == []
        page.goto(served.base + "/silences")
        expect(page.locator("#suppressed")).to_contain_text(
            f"silenced by #{made['id']} (<b>deploy</b>, by local)"
        )

        row.get_by_role("button", name="Expire").click()
        expect(row.locator("td").nth(1)).to_have_text("expired")
        expect(row.get_by_role("button", name="Expire")).to_have_count(0)
        entries = served.json("/api/audit")["entries"]
        assert [(e["action"], e["target"]) for e in entries] == [
            ("silence.expire", f"silence:{made['id']}"),
            ("silence.add", f"silence:{made['id']}"),
        ]
        same_origin(tab, served)


@pytest.fixture
def with_users(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    hashed = hash_password(PASSWORD, n=FAST)
    users = [
        {"name": "alice", "password_hash": hashed},
        {"name": "bob", "password_hash": hashed, "scopes": ["read"]},
    ]
    s = Served(tmp_path / "users.db", lab, extra={"users": users})
    yield s
    s.close()


def log_in(page: Any, served: Served, user: str) -> None:
    page.goto(served.base + "/silences")
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    page.wait_for_url(served.base + "/silences")


def test_a_writer_has_the_form_and_a_reader_has_none(browser: Any, with_users: Served) -> None:
    """alice (a session, its CSRF token in the form) makes a silence under her name; bob
    (read only) sees it without the form or an Expire button."""
    from playwright.sync_api import expect

    served = with_users
    with Tab(browser, served.base, viewport=None, console_errors=False) as tab:
        log_in(tab.page, served, "alice")
        page = tab.page
        page.get_by_label("matchers").fill('team="db"')
        page.get_by_label("comment").fill("db upgrade")
        page.get_by_role("button", name="Silence").click()
        row = page.locator("#silences tr[data-silence]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("alice")
        expect(row.get_by_role("button", name="Expire")).to_have_count(1)
        same_origin(tab, served)
    with Tab(browser, served.base, viewport=None, console_errors=False) as tab:
        log_in(tab.page, served, "bob")
        page = tab.page
        expect(page.locator("#silences tr[data-silence]")).to_contain_text("db upgrade")
        assert page.get_by_role("button", name="Silence").count() == 0
        assert page.get_by_role("button", name="Expire").count() == 0
        assert page.locator("form[method=post]").evaluate_all(
            "forms => forms.map(f => f.getAttribute('action'))"
        ) == ["/logout"]
        same_origin(tab, served)
