"""Discovered monitors are first-class (issue 44 section 4): a discovery change reaches
the runner as the monitors it puts and removes, every part of the runner hearing of them
(not a reload); the discovered set is kept in the store, taken back before any source
answers, dropped with its targets past their grace and with sources taken out of the
file, followed from the store by an instance that does not lead; and ``tether status``
and ``tether history`` read it.  Real runner, real SQLite store, files on disk, an
injected clock."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.monitor_harness import Harness
from tether.cli import main
from tether.monitor.config import parse_config
from tether.monitor.metrics._metrics import Scope
from tether.monitor.runtime._discovery import Discovery, with_discovered
from tether.monitor.store import SQLiteStore

CONFIG = """\
alerts:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9/"}
monitors:
  - {name: gateway, url: "tcp://127.0.0.1:9", interval: 60s, labels: {role: gateway}}
inhibit_rules:
  - {source_matchers: ['role="gateway"'], target_matchers: ['role="backend"']}
discover:
  - name: files
    file_sd: {files: [targets.json]}
    grace: 10m
    template:
      name: "web-{{address}}"
      url: "tcp://{{address}}"
      interval: 60s
      alerts: [ops]
      labels: {role: backend}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def write(
    folder: Path, targets: list[str], tick: int, labels: dict[str, str] | None = None
) -> None:
    path = folder / "targets.json"
    path.write_text(json.dumps([{"targets": targets, "labels": labels or {"team": "pay"}}]))
    os.utime(path, ns=(tick * 10**9, tick * 10**9))


def test_a_change_reaches_every_part_of_the_runner_without_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two targets, then one of them replaced: the runner is never reloaded, nor its
    prober assigned every monitor again; the monitor added is known to the detector, the
    quorum, the prober, the incident engine's routes, the metrics' labels and the
    inhibition rule (held while the gateway is down), the metrics' count and shards, and
    the one removed to none."""
    h = Harness(tmp_path, parse_config(CONFIG))
    runner = h.runner
    d = Discovery(runner.config, str(tmp_path), wall=h.sim.wall)
    called: list[str] = []
    monkeypatch.setattr(runner, "reload", lambda *a, **k: called.append("reload"))
    assign = runner.prober.assign
    monkeypatch.setattr(
        runner.prober, "assign", lambda ms: (called.append("assign"), assign(ms))[1]
    )
    write(tmp_path, ["127.0.0.1:81", "127.0.0.1:82"], tick=1)
    asyncio.run(d.step())
    assert d.apply(runner) == ["added web-127.0.0.1:81", "added web-127.0.0.1:82"]
    write(tmp_path, ["127.0.0.1:81", "127.0.0.1:83"], tick=2)
    asyncio.run(d.step())
    h.sim.now += 601
    asyncio.run(d.step())
    assert d.apply(runner) == ["removed web-127.0.0.1:82", "added web-127.0.0.1:83"]
    assert called == []
    added, gone = "web-127.0.0.1:83", "web-127.0.0.1:82"
    assert [m.name for m in runner.config.monitors] == ["gateway", "web-127.0.0.1:81", added]
    for name, present in ((added, True), (gone, False)):
        assert (name in runner.by_name) is present
        assert (name in runner.prober.names) is present
        assert (name in runner.engine.routes) is present
        assert (name in runner.metrics.labelled) is present
        assert (name in runner.hosts) is present
        assert (name in runner.probed_here) is present
        assert (name in runner.quorum.states()) is present
        assert (name in runner.metrics.scope(Scope(0, 1))) is present
    assert runner.metrics.configured == 3  # tether_monitors, and the scrape's limit
    assert runner.engine.routes[added].channels == ("ops",)
    down = {"gateway": runner.quorum.states()["gateway"].DOWN}
    assert runner.holds.inhibition.why(added, down) == (
        "inhibited by gateway (down): inhibit_rules[0]"
    )
    assert runner.holds.inhibition.why(gone, down) is None
    h.close()


def test_the_set_is_stored_and_taken_back_before_any_source_answers(tmp_path: Path) -> None:
    """What a read made is in the store; a monitor started again with its file gone (no
    source can answer) runs the same discovered monitors from its first moment, with its
    source's last success (and so ``up``) as the store has it."""
    clock = Clock()
    config = parse_config(CONFIG)
    with SQLiteStore(tmp_path / "t.db") as store:
        d = Discovery(config, str(tmp_path), store=store, wall=clock)
        write(tmp_path, ["127.0.0.1:81", "127.0.0.1:82"], tick=1)
        asyncio.run(d.step())
        store.flush()
        assert [(r.name, r.address, r.labels) for r in store.discovered()] == [
            (
                "web-127.0.0.1:81",
                "127.0.0.1:81",
                {"team": "pay", "__meta_filepath": _meta(tmp_path)},
            ),
            (
                "web-127.0.0.1:82",
                "127.0.0.1:82",
                {"team": "pay", "__meta_filepath": _meta(tmp_path)},
            ),
        ]
    (tmp_path / "targets.json").unlink()
    with SQLiteStore(tmp_path / "t.db") as store:
        again = Discovery(config, str(tmp_path), store=store, wall=clock)
        names = [m.name for m in again.merged().monitors]
        assert names == ["gateway", "web-127.0.0.1:81", "web-127.0.0.1:82"]
        (status,) = again.status()
        assert (status.targets, status.up, status.last_success) == (2, True, clock.now)
        assert [m.labels for m in again.merged().monitors][1] == {"role": "backend", "team": "pay"}


def _meta(folder: Path) -> str:
    return str(folder / "targets.json")


def test_targets_past_their_grace_and_sources_taken_out_leave_the_store(tmp_path: Path) -> None:
    """A target missing from the reads is kept in the store with since when it is
    missing, dropped once its grace has passed; a source taken out of the file (a
    reload) takes its set with it."""
    clock = Clock()
    config = parse_config(CONFIG)
    with SQLiteStore(tmp_path / "t.db") as store:
        d = Discovery(config, str(tmp_path), store=store, wall=clock)
        write(tmp_path, ["127.0.0.1:81", "127.0.0.1:82"], tick=1)
        asyncio.run(d.step())
        write(tmp_path, ["127.0.0.1:81"], tick=2)
        clock.now += 5
        missed = clock.now
        asyncio.run(d.step())
        store.flush()
        assert [(r.name, r.gone_since) for r in store.discovered()] == [
            ("web-127.0.0.1:81", None),
            ("web-127.0.0.1:82", missed),
        ]
        clock.now += 600
        asyncio.run(d.step())
        store.flush()
        assert [r.name for r in store.discovered()] == ["web-127.0.0.1:81"]
        d.configure(parse_config(CONFIG.split("inhibit_rules:", maxsplit=1)[0]))
        store.flush()
        assert store.discovered() == []
        assert store.discovery_sources() == []


def test_a_template_changed_while_stopped_remakes_the_stored_set(tmp_path: Path) -> None:
    """The store keeps targets, not monitors: started again under a new template, the
    stored targets make the new monitors, and the store's set is written anew."""
    clock = Clock()
    with SQLiteStore(tmp_path / "t.db") as store:
        d = Discovery(parse_config(CONFIG), str(tmp_path), store=store, wall=clock)
        write(tmp_path, ["127.0.0.1:81"], tick=1)
        asyncio.run(d.step())
        store.flush()
        renamed = parse_config(CONFIG.replace('"web-{{address}}"', '"{{labels.team}}-{{address}}"'))
        again = Discovery(renamed, str(tmp_path), store=store, wall=clock)
        assert [m.name for m in again.merged().monitors][1:] == ["pay-127.0.0.1:81"]
        asyncio.run(again.step())
        store.flush()
        assert [r.name for r in store.discovered()] == ["pay-127.0.0.1:81"]


def test_an_instance_that_does_not_lead_follows_the_set_in_the_store(tmp_path: Path) -> None:
    """Two instances on one store: the leader reads the file and writes the set; the
    other never reads the file (its own copy says otherwise) and runs the leader's set,
    a removal too, as changes of its monitors."""
    clock = Clock()
    config = parse_config(CONFIG)
    other = tmp_path / "other"
    other.mkdir()
    write(other, ["10.9.9.9:1"], tick=1)  # what the follower would find on its own
    with SQLiteStore(tmp_path / "t.db") as store:
        leader = Discovery(config, str(tmp_path), store=store, wall=clock)
        follower = Discovery(config, str(other), store=store, wall=clock)
        write(tmp_path, ["127.0.0.1:81", "127.0.0.1:82"], tick=1)
        asyncio.run(leader.step())
        store.flush()
        assert asyncio.run(follower.step(lead=False))
        change = follower.change()
        assert sorted(change.put) == ["web-127.0.0.1:81", "web-127.0.0.1:82"]
        follower.merged()
        assert not asyncio.run(follower.step(lead=False))  # nothing new in the store
        write(tmp_path, [], tick=2)
        clock.now += 5
        asyncio.run(leader.step())
        clock.now += 600
        asyncio.run(leader.step())
        store.flush()
        assert asyncio.run(follower.step(lead=False))
        assert follower.change().removed == {"web-127.0.0.1:81", "web-127.0.0.1:82"}


def test_tether_status_and_history_read_the_stored_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tether status`` lists a discovered monitor the store holds, and ``tether
    history`` shows its results rather than "no monitor named"."""
    path = tmp_path / "tether.yaml"
    path.write_text(f"storage: {{path: '{tmp_path / 't.db'}'}}\n" + CONFIG)
    config = parse_config(path.read_text())
    with SQLiteStore(tmp_path / "t.db") as store:
        d = Discovery(config, str(tmp_path), store=store, wall=Clock())
        write(tmp_path, ["127.0.0.1:81"], tick=1)
        asyncio.run(d.step())
        store.flush()
        assert [m.name for m in with_discovered(config, store).monitors] == [
            "gateway",
            "web-127.0.0.1:81",
        ]
    main(["status", "--config", str(path), "--json"])
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert "web-127.0.0.1:81" in doc["monitors"]
    assert main(["history", "web-127.0.0.1:81", "--config", str(path)]) == 0
    assert "no monitor named" not in capsys.readouterr().err


def test_a_status_page_of_a_monitor_not_discovered_yet_is_served(tmp_path: Path) -> None:
    """A status page listing a monitor no source has made yet (a warning at load, not an
    error) shows it as unknown, without a URL, rather than failing the page; once made,
    it shows its URL."""
    from tether.monitor._state import State
    from tether.monitor.web.status._statuspage import Sight, build_page

    config = parse_config(
        CONFIG
        + "status_pages:\n  - slug: public\n    title: Public\n    show_urls: true\n"
        + "    groups: [{name: Web, monitors: ['web-127.0.0.1:81', gateway]}]\n"
    )
    with SQLiteStore(tmp_path / "t.db") as store:
        doc = build_page(Sight(1.8e9, config, {}, {}, store), config.status_pages[0])
        first, second = doc["groups"][0]["monitors"]
        assert (first["name"], first["state"], "url" in first) == (
            "web-127.0.0.1:81",
            str(State.UNKNOWN),
            False,
        )
        assert second["url"] == "tcp://127.0.0.1:9"
        d = Discovery(config, str(tmp_path), wall=Clock())
        write(tmp_path, ["127.0.0.1:81"], tick=1)
        asyncio.run(d.step())
        made = d.merged()
        doc = build_page(Sight(1.8e9, made, {}, {}, store), made.status_pages[0])
        assert doc["groups"][0]["monitors"][0]["url"] == "tcp://127.0.0.1:81"
