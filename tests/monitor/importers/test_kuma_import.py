"""``import_kuma`` on a ``kuma.db`` built as Uptime Kuma 1.23 and 2.x make it
(tests/helpers/kuma_db.py): the output loads, every Kuma monitor is a tether monitor or
a LeftOut with why, and each imported monitor, run against loopback targets, is found up
or down as Uptime Kuma would have found it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.kuma_db import (
    DESCRIPTION,
    Targets,
    build_kuma_db,
    channel_urls,
    http_target,
)
from tether.lab import Lab
from tether.monitor.alerts._apprise import AppriseChannel
from tether.monitor.config import parse_config
from tether.monitor.importers import Imported, to_yaml
from tether.monitor.importers.kuma._import import import_kuma

VERSIONS = ("1.23", "2.x")


@pytest.fixture
def targets(lab: Lab) -> Iterator[Targets]:
    with http_target() as base:
        yield Targets(
            healthy=lab["healthy"].url,
            refused=lab["refused"].url,
            not_found=lab["http_404"].url,
            json=f"{base}/json",
            echo=f"{base}/echo",
            guarded=f"{base}/guarded",
            tcp_open=lab["healthy"].port,
            tcp_closed=lab["refused"].port,
            resolver=str(lab.resolver),
        )


def _imported(tmp_path: Path, version: str, targets: Targets) -> tuple[Imported, dict[str, str]]:
    db = tmp_path / "kuma.db"
    expected = build_kuma_db(db, version, targets)
    return import_kuma(str(db)), expected


@pytest.mark.parametrize("version", VERSIONS)
def test_every_monitor_is_carried_or_said(tmp_path: Path, version: str, targets: Targets) -> None:
    """Each Kuma monitor is a tether monitor of its name, or a LeftOut naming it with why;
    what Kuma would probe is probed, the paused monitor paused, the push one a push."""
    imported, expected = _imported(tmp_path, version, targets)
    config = parse_config(to_yaml(imported))
    monitors = {m.name: m for m in config.monitors}
    out = {name for name, state in expected.items() if state == "out"}
    assert set(monitors) == set(expected) - out
    for name in out:
        said = [item for item in imported.left_out if f"({name}, " in item.what]
        assert said, name
        assert all(item.why for item in said), name
    assert monitors["paused web"].paused
    assert monitors["heartbeat"].type == "push"
    assert not any(m.paused for n, m in monitors.items() if n != "paused web")


@pytest.mark.parametrize("version", VERSIONS)
def test_imported_monitors_find_what_kuma_found(
    tmp_path: Path,
    version: str,
    targets: Targets,
    checked: Callable[..., dict[str, Any]],
) -> None:
    """Run once against the lab and the JSON server, each imported monitor is up where
    Kuma's would be up and down where it would be down (status codes, keywords, JSON,
    method, headers, body, basic auth, ports, ping, DNS through the lab's resolver)."""
    imported, expected = _imported(tmp_path, version, targets)
    config = parse_config(to_yaml(imported))
    probed = [name for name, state in expected.items() if state in ("up", "down")]
    found = checked(config, *probed)
    states = {name: "up" if record.ok else "down" for name, record in found.items()}
    assert states == {name: expected[name] for name in probed}


@pytest.mark.parametrize("version", VERSIONS)
def test_tags_groups_alerts_pages_and_windows(
    tmp_path: Path, version: str, targets: Targets
) -> None:
    """Tags are labels with Prometheus's names (renamed ones said), a group's members carry
    its name, each monitor's notifications are its alerts, the published status page keeps
    its groups of carried monitors, and the once and weekly windows are tether's."""
    imported, _ = _imported(tmp_path, version, targets)
    config = parse_config(to_yaml(imported))
    monitors = {m.name: m for m in config.monitors}
    assert dict(monitors["web ok"].labels) == {
        "group": "Core", "description": DESCRIPTION, "env": "prod", "team_name": "core",
        "kuma_monitor": "x",
    }  # fmt: skip
    assert dict(monitors["port open"].labels) == {"group": "Core", "env": ""}
    assert any("'team-name' is the label team_name" in note for note in imported.notes)
    assert list(monitors["web ok"].alerts) == ["Telegram", "Hook", "Mail"]
    assert list(monitors["dns ok"].alerts) == ["Discord"]
    assert monitors["web ok"].failure_threshold == 2  # maxretries 1
    assert monitors["web ok"].remind_every == 600.0  # resend_interval 10 checks of 60 s
    (page,) = config.status_pages
    assert page.slug == "public"
    assert [(g.name, [m.monitor for m in g.monitors]) for g in page.groups] == [
        ("Services", ["web ok", "port open"]),
        ("Other", ["dns ok"]),
    ]
    assert [w.name for w in config.maintenance] == ["Upgrade (1)", "Backups (2)"]
    whys = {item.what: item.why for item in imported.left_out}
    assert "not published" in whys["status page draft"]
    assert "once or weekly" in whys["maintenance 3 (Patching)"]
    assert "by hand" in whys["maintenance 4 (By hand)"]


@pytest.mark.parametrize("version", VERSIONS)
def test_notifications_become_channels_apprise_reads(
    tmp_path: Path, version: str, targets: Targets
) -> None:
    """Telegram, Discord, Slack, Pushover, Gotify, ntfy and Matrix become apprise URLs that
    apprise itself reads (through tether's apprise channel, nothing sent); e-mail and
    webhook tether's own channels; Teams' retired connector URL, Signal and a switched-off
    notification are left out with why."""
    imported, _ = _imported(tmp_path, version, targets)
    config = imported.config
    types = {c["name"]: c["type"] for c in config["alerts"]}
    assert types == {
        "Telegram": "apprise", "Discord": "apprise", "Slack": "apprise", "Pushover": "apprise",
        "Gotify": "apprise", "ntfy": "apprise", "Matrix": "apprise", "Mail": "email",
        "Hook": "webhook",
    }  # fmt: skip
    for url in channel_urls(config):
        AppriseChannel("kuma", [url])._notifier()  # apprise's own parser: raises if unread
    whys = {item.what: item.why for item in imported.left_out}
    assert "Office 365 connector" in whys["notification 4 (Teams)"]
    assert "no channel for signal" in whys["notification 11 (Signal)"]
    assert "switched off" in whys["notification 12 (Old)"]


def test_versions_are_told_apart(tmp_path: Path, targets: Targets) -> None:
    """A database with knex's migrations table is read as 2.x, one without as 1.23."""
    for version in VERSIONS:
        (tmp_path / version).mkdir()
        imported, _ = _imported(tmp_path / version, version, targets)
        assert imported.source == f"Uptime Kuma {version} (kuma.db)"
