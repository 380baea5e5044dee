"""What ``import_kuma`` carries over that it dropped before (issue 44), on ``kuma.db`` as
Uptime Kuma 1.23 and 2.x make it (tests/helpers/kuma_db.py): push monitors with the
tokens each version makes, Kuma's judging of a monitor that does not retry (down at the
first failure, up at the first success), a monitor's description, a status page's pinned
incident, real-browser monitors; and a line for what is still not carried."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.kuma_db import DESCRIPTION, OFFLINE, PUSH_TOKENS, build_kuma_db
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.importers import Imported, to_yaml
from tether.monitor.importers.kuma._import import import_kuma
from tether.monitor.importers.kuma._monitors import map_monitor

VERSIONS = ("1.23", "2.x")


def imported(tmp_path: Path, version: str) -> tuple[Imported, MonitorConfig]:
    db = tmp_path / "kuma.db"
    build_kuma_db(db, version, OFFLINE)
    result = import_kuma(str(db))
    return result, parse_config(to_yaml(result))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_push_monitor_keeps_kumas_token(tmp_path: Path, version: str) -> None:
    """1.23's ten-character token and 2.x's 32 are kept, so the job's /api/push/TOKEN is
    the same path on tether's address."""
    _, config = imported(tmp_path, version)
    (push,) = [m for m in config.monitors if m.name == "heartbeat"]
    assert push.type == "push"
    assert push.token is not None
    assert push.token.get_secret_value() == PUSH_TOKENS[version]


def test_a_push_token_tether_cannot_take_is_replaced_and_said() -> None:
    """A token tether refuses (too short, a character a URL would escape) is a new one,
    and the note says so: the monitor is kept."""
    mapped = map_monitor({"type": "push", "push_token": "abc/123", "interval": 60})
    assert mapped.monitor is not None
    assert len(mapped.monitor["token"]) == 32
    assert any("a new push token was made" in note for note in mapped.notes)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_monitor_that_does_not_retry_is_down_at_its_first_failure(
    tmp_path: Path, version: str
) -> None:
    """Kuma's maxretries 0 (its default) is failure_threshold 1, and Kuma's up at the
    first success success_threshold 1; maxretries 1 is 2 failures in a row."""
    result, config = imported(tmp_path, version)
    monitors = {m.name: m for m in config.monitors}
    refused = monitors["web refused"]  # maxretries 0
    assert (refused.failure_threshold, refused.success_threshold) == (1, 1)
    assert monitors["web ok"].failure_threshold == 2
    assert any(note.startswith("defaults: a Kuma monitor is down") for note in result.notes)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_monitors_description_is_its_label(tmp_path: Path, version: str) -> None:
    """The description Kuma shows under a monitor's name goes with its alerts, as the
    label description."""
    _, config = imported(tmp_path, version)
    (web,) = [m for m in config.monitors if m.name == "web ok"]
    assert web.labels["description"] == DESCRIPTION


@pytest.mark.parametrize("version", VERSIONS)
def test_a_pinned_incident_is_the_pages_announcement(tmp_path: Path, version: str) -> None:
    """The incident pinned on a status page is its announcement (title and text, danger as
    outage, from when it was posted); an unpinned one, which Kuma no longer shows, is said,
    and so is Markdown tether shows as plain text."""
    result, config = imported(tmp_path, version)
    (page,) = config.status_pages
    (announcement,) = page.announcements
    assert announcement.text == "Slow logins: We are **looking** into it."
    assert announcement.level == "outage"
    assert announcement.start is not None
    assert announcement.start.isoformat() == "2030-01-01T09:30:00"
    why = {item.what: item.why for item in result.left_out}
    assert "not pinned" in why["status page public: incident 2 (Old news)"]
    assert "Markdown" in why["status page public: incident 1 (Slow logins): content"]
    assert "no text" in why["maintenance 1 (Upgrade): description"]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_real_browser_monitor_is_a_browser_check(tmp_path: Path, version: str) -> None:
    """Kuma's real-browser monitor (the page in Chromium, up on a 2xx or 3xx) is tether's
    browser check of its URL, the page's own console errors not counted, as Kuma does."""
    _, config = imported(tmp_path, version)
    (page,) = [m for m in config.monitors if m.name == "browser page"]
    assert page.url == OFFLINE.healthy
    assert page.browser is not None
    assert page.browser.fail_on_console_errors is False
