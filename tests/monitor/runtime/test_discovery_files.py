"""``file_sd`` sources read from files changed on disk: written, changed, a target
removed and pruned after the grace period on an injected clock, a broken file keeping
the last good set (said once), and what a change does to a real runner."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers.monitor_harness import Harness
from tether.lab import Lab
from tether.monitor.config import MonitorConfig, parse_config
from tether.monitor.runtime._discovery import Discovery

CONFIG = """\
monitors:
  - {name: own, url: "tcp://127.0.0.1:9", interval: 60s}
discover:
  - name: files
    file_sd: {files: [targets/*.json, targets/*.yml]}
    grace: 10m
    template:
      name: "{{labels.job}}-{{address}}"
      url: "tcp://{{address}}"
      interval: 60s
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, groups: object, *, tick: int) -> None:
    """Write ``groups`` as JSON, its modification time set apart from any before."""
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(groups))
    os.utime(path, ns=(tick * 10**9, tick * 10**9))


def names(d: Discovery) -> list[str]:
    return [m.name for m in d.merged().monitors]


def setup(tmp_path: Path) -> tuple[Discovery, Clock, MonitorConfig]:
    clock = Clock()
    config = parse_config(CONFIG)
    return Discovery(config, str(tmp_path), wall=clock), clock, config


def test_written_changed_and_removed_after_grace(tmp_path: Path) -> None:
    """A file written makes monitors beside the file's own; a change is seen at the next
    look; a target removed is kept (and counted) until the grace period has passed since
    the read that missed it, then removed; a look with nothing changed changes nothing."""
    d, clock, _ = setup(tmp_path)
    a = tmp_path / "targets" / "a.json"
    write(a, [{"targets": ["127.0.0.1:81", "127.0.0.1:82"], "labels": {"job": "api"}}], tick=1)
    assert asyncio.run(d.step())
    assert names(d) == ["own", "api-127.0.0.1:81", "api-127.0.0.1:82"]
    assert not asyncio.run(d.step())
    (status,) = d.status()
    assert (status.name, status.kind, status.targets, status.up) == ("files", "file_sd", 2, True)
    assert status.last_success == clock.now

    (tmp_path / "targets" / "b.yml").write_text(
        "- targets: ['127.0.0.1:83']\n  labels: {job: db}\n"
    )
    clock.now += 5
    assert asyncio.run(d.step())
    assert names(d)[-1] == "db-127.0.0.1:83"

    write(a, [{"targets": ["127.0.0.1:81"], "labels": {"job": "api"}}], tick=2)
    clock.now += 5
    missed_at = clock.now
    assert not asyncio.run(d.step())  # 82 missing, kept in its grace period
    assert "api-127.0.0.1:82" in names(d)
    assert d.status()[0].targets == 3
    clock.now = missed_at + 599
    assert not asyncio.run(d.step())
    clock.now = missed_at + 600
    assert asyncio.run(d.step())
    assert names(d) == ["own", "api-127.0.0.1:81", "db-127.0.0.1:83"]


def test_a_target_back_within_grace_is_the_same_monitor(tmp_path: Path) -> None:
    """A target that disappears and comes back before its grace has passed never left
    the set: the runner never forgets it, so it keeps its history and state."""
    d, clock, _ = setup(tmp_path)
    a = tmp_path / "targets" / "a.json"
    write(a, [{"targets": ["127.0.0.1:81"], "labels": {"job": "api"}}], tick=1)
    asyncio.run(d.step())
    seen = []
    for tick, targets in enumerate([[], ["127.0.0.1:81"]], start=2):
        write(a, [{"targets": targets, "labels": {"job": "api"}}], tick=tick)
        clock.now += 300
        asyncio.run(d.step())
        seen.append(names(d))
    assert seen == [["own", "api-127.0.0.1:81"]] * 2
    clock.now += 601
    assert not asyncio.run(d.step())
    assert names(d) == ["own", "api-127.0.0.1:81"]


def test_a_broken_file_keeps_the_last_good_set_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file that stops being target groups (bad JSON, then a file that cannot be
    read) keeps the monitors of the last good read, even past the grace period; the
    log says it once for the episode, the status says why, and a good file again
    brings the source back."""
    d, clock, _ = setup(tmp_path)
    a = tmp_path / "targets" / "a.json"
    write(a, [{"targets": ["127.0.0.1:81"], "labels": {"job": "api"}}], tick=1)
    asyncio.run(d.step())
    caplog.set_level(logging.INFO, "tether.monitor")
    a.write_text('[{"targets": ["127.0.0.1:81"')
    clock.now += 5
    assert not asyncio.run(d.step())
    a.unlink()
    a.mkdir()  # a name the glob matches that cannot be read (as root too)
    clock.now += 3600
    assert not asyncio.run(d.step())
    assert names(d) == ["own", "api-127.0.0.1:81"]
    (status,) = d.status()
    assert not status.up
    assert status.targets == 1
    assert status.failing_since == clock.now - 3600
    assert status.last_success == clock.now - 3605
    assert status.error is not None
    assert status.error.startswith(f"cannot read {a}")
    failing = [r for r in caplog.records if getattr(r, "event", "") == "discovery.failing"]
    assert len(failing) == 1
    assert "not JSON" in failing[0].getMessage()
    a.rmdir()
    write(a, [{"targets": ["127.0.0.1:82"], "labels": {"job": "api"}}], tick=9)
    clock.now += 5
    assert asyncio.run(d.step())
    assert d.status()[0].up
    assert [r for r in caplog.records if getattr(r, "event", "") == "discovery.recovered"]


def test_a_name_the_file_has_is_left_out_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A target whose monitor would take the name of the file's monitor is left out,
    said once."""
    config = parse_config(
        CONFIG.replace('"{{labels.job}}-{{address}}"', '"{{labels.job}}"').replace(
            "name: own", "name: api"
        )
    )
    d = Discovery(config, str(tmp_path), wall=Clock())
    write(
        tmp_path / "targets" / "a.json",
        [{"targets": ["127.0.0.1:81"], "labels": {"job": "api"}}],
        tick=1,
    )
    caplog.set_level(logging.WARNING, "tether.monitor")
    asyncio.run(d.step())
    assert [m.url for m in d.merged().monitors] == ["tcp://127.0.0.1:9"]
    d.merged()
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "discovery source files: monitor 'api' left out: the name is a monitor of the file"
    ]


def test_a_new_monitor_is_probed_at_once_and_a_gone_ones_history_stays(
    tmp_path: Path, lab: Lab
) -> None:
    """Handed to a real runner (real probes on loopback, simulated time), a discovered
    monitor is probed at once, not at a random point of its 60 s interval; removed after
    its grace, it is no longer probed and its results stay in the store."""
    address = urlsplit(lab["healthy"].url).netloc
    h = Harness(tmp_path, parse_config(CONFIG))
    h.runner.prober.schedule.rand = lambda: 0.9  # a new plan's first run: 54 s in
    clock = h.sim.wall
    d = Discovery(h.runner.config, str(tmp_path), wall=clock)
    a = tmp_path / "targets" / "a.json"
    write(a, [{"targets": [address], "labels": {"job": "api"}}], tick=1)
    name = f"api-{address}"
    marks: dict[str, float] = {}

    def discover() -> None:
        marks["applied"] = h.sim.now
        d.apply(h.runner)

    asyncio.run(d.step())
    h.drive(
        (lambda: h.sim.now > 10, discover),
        (lambda: name in h.runner.latest, lambda: marks.setdefault("probed", h.sim.now)),
        limit=120,
    )
    assert marks["probed"] - marks["applied"] < 2
    h.store.flush()
    assert h.store.results(name)
    write(a, [], tick=2)
    asyncio.run(d.step())
    h.sim.now += 601  # the grace period passes
    asyncio.run(d.step())
    assert d.apply(h.runner) == [f"removed {name}"]
    assert name not in h.runner.by_name
    h.store.flush()
    assert h.store.results(name)
    h.close()
