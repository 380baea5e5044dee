"""Grouping by incident, end to end (docs/routing.md, "Grouping"): 200 monitors of one
host failing for one cause page once and then in grouped updates, not 200 times; real
lab targets, a real store and outbox, a real webhook receiver on loopback, simulated
time.  And the grouped news with ``group_by`` labels and a route's own ``group_wait``,
at the engine (pure)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.incident_world import T0, World
from tests.helpers.monitor_harness import Harness
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.alerts import TreePick, WebhookChannel, route_tree
from tether.monitor.alerts._routes import DEFAULT_GROUPING
from tether.monitor.config import parse_config
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import GROUP_INTERVAL, GROUP_WAIT, Event, IncidentRoute
from tether.monitor.runtime._monitor_terms import incident_routes
from tether.probe import ProbeOptions
from tether.testing import Override

N = 200


def test_two_hundred_monitors_of_one_host_page_once_then_in_grouped_updates(
    tmp_path: Path, lab: Lab, receiver: Receiver, fast_retries: Override
) -> None:
    """Every monitor of one host refuses: one incident, one ``incident.opened``, at most a
    couple of ``incident.updated`` and one ``incident.resolved`` on the channel, where
    there were 200 pages and 200 recoveries; and every monitor is named as down in them."""
    receiver.start()
    broken = {"now": True}

    def route(target: str, options: ProbeOptions) -> str:
        return lab["refused"].url if broken["now"] else lab["healthy"].url

    lines = "\n".join(f'  - {{name: m{i:03}, url: "http://127.0.0.1:1/m{i:03}"}}' for i in range(N))
    config = parse_config(
        f"""
alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]
defaults: {{interval: 30s, timeout: 1s, alerts: [ops]}}
monitors:
{lines}
"""
    )
    ops = WebhookChannel("ops", receiver.url)
    h = Harness(tmp_path, config, probe=route, channels={"ops": ops})

    def heard() -> list[dict[str, object]]:
        return [json.loads(body) for _, body in receiver.got]

    def all_down_and_told() -> bool:
        down = all(h.state(f"m{i:03}") is State.DOWN for i in range(N))
        return down and any(p["event"] == "incident.updated" for p in heard())

    def fix() -> None:
        broken["now"] = False

    h.drive(
        (all_down_and_told, fix),
        (lambda: any(p["event"] == "incident.resolved" for p in heard()), list),
        limit=1800,
    )
    ops.close()
    got = heard()
    said = [str(p["event"]) for p in got]
    assert said[0] == "incident.opened"
    assert said[-1] == "incident.resolved"
    assert 1 <= said.count("incident.updated") <= 2, said
    assert len(said) <= 4, said
    assert len(h.store.incidents()) == 1
    counted = sum(
        int(str(p["text"]).split(" more monitor")[0].rsplit(" ", 1)[-1].replace(",", ""))
        for p in got
        if p["event"] == "incident.updated"
    )
    assert counted == N - 1  # the opener's page, then the 199 others in updates
    h.close()


def _engine(config_text: str) -> IncidentEngine:
    config = parse_config(config_text)
    tree = route_tree(config)
    routes = {
        m.name: IncidentRoute(
            tuple(m.alerts), pick=TreePick(tree, m.name, m.labels), labels=dict(m.labels)
        )
        for m in config.monitors
    }
    return IncidentEngine(routes, itertools.count(1).__next__)


_DOWN: dict[str, Observation] = {}
ONE_HOST = {"alpha": "h", "bravo": "h", "charlie": "h"}


def _fail(e: IncidentEngine, name: str, at: float) -> list[Event]:
    """``name`` answers 503 on host h (every monitor here is on it)."""
    if at == T0:
        _DOWN.clear()
    kind = Kind.HTTP_SERVER_ERROR
    _DOWN[name] = Observation(name, False, at, 5.0, kind, "h")
    change = StateChanged(name, at, State.UP, State.DOWN, "3 failed checks")
    record = ProbeRecord(name, at, False, kind, 5.0, f"{name} answered 503")
    return e.changed(change, record, _DOWN.values(), ONE_HOST)


def test_group_by_labels_keeps_news_apart_within_one_incident() -> None:
    """``group_by: [team]`` on the route: monitors of teams db and web in one incident get
    one grouped update each, on the same channel, each naming its team's monitors alone;
    the route's ``group_wait: 10s`` sets when the first goes."""
    e = _engine(
        """
alerts: [{name: ops, type: webhook, url: "http://127.0.0.1:9/"}]
routes:
  channels: [ops]
  group_by: [incident, team]
  group_wait: 10s
monitors:
  - {name: alpha, url: "http://127.0.0.1:9/a", labels: {team: db}}
  - {name: bravo, url: "http://127.0.0.1:9/b", labels: {team: db}}
  - {name: charlie, url: "http://127.0.0.1:9/c", labels: {team: web}}
"""
    )
    opened = _fail(e, "alpha", T0)
    assert [(a.payload.event, a.channel) for ev in opened for a in ev.alerts] == [
        ("incident.opened", "ops")
    ]
    joined = _fail(e, "bravo", T0 + 1) + _fail(e, "charlie", T0 + 2)
    assert [a for ev in joined for a in ev.alerts] == []
    assert e.tick(T0 + 9) == []
    updates = e.tick(T0 + 10)
    texts = sorted(a.payload.text for ev in updates for a in ev.alerts)
    assert [a.channel for ev in updates for a in ev.alerts] == ["ops", "ops"]
    assert len(texts) == 2
    assert "1 more monitor down: bravo (" in texts[0] or "1 more monitor down: bravo (" in texts[1]
    assert any("1 more monitor down: charlie (" in t for t in texts)
    labels = sorted(dict(a.payload.labels).get("team", "") for ev in updates for a in ev.alerts)
    assert labels == ["db", "web"]


def test_the_resolution_goes_at_once_and_carries_the_news_not_told_yet() -> None:
    """bravo joins and leaves before the first grouped update is due: no update goes, the
    resolution (at once when alpha comes back) tells of both."""
    w = World(IncidentEngine({}, itertools.count(1).__next__))
    w.e.routes = {n: IncidentRoute(("ops",)) for n in ("alpha", "bravo")}
    w.fail("alpha", T0, Kind.HTTP_SERVER_ERROR)
    w.fail("bravo", T0 + 1)
    w.recover("bravo", T0 + 5)
    (resolved,) = w.recover("alpha", T0 + 6)
    (alert,) = resolved.alerts
    assert alert.payload.event == "incident.resolved"
    assert alert.payload.text.endswith(
        "; not told before: 1 more monitor down: bravo; 1 monitor back up: bravo"
    )
    assert w.e.tick(T0 + 10_000) == []


def test_an_alertmanager_channel_still_hears_each_monitor_on_its_own() -> None:
    """An ``alertmanager`` channel (``IncidentRoute.ungrouped``, as the runner sets it) keeps an
    alert per monitor and groups them itself: it gets bravo's ``monitor.down`` and
    ``monitor.up`` at once, while ops hears of them in the grouped news."""
    route = IncidentRoute(("ops", "am"), ungrouped=frozenset({"am"}))
    e = IncidentEngine({"alpha": route, "bravo": route}, itertools.count(1).__next__)
    w = World(e)
    said = w.fail("alpha", T0) + w.fail("bravo", T0 + 1) + w.recover("bravo", T0 + 2)
    assert [(a.payload.event, a.payload.monitor, a.channel) for ev in said for a in ev.alerts] == [
        ("incident.opened", "alpha", "ops"),
        ("incident.opened", "alpha", "am"),
        ("monitor.down", "bravo", "am"),
        ("monitor.up", "bravo", "am"),
    ]
    (update,) = e.tick(T0 + 30)
    assert [a.channel for a in update.alerts] == ["ops"]
    assert "1 more monitor down: bravo; 1 monitor back up: bravo" in update.alerts[0].payload.text


def test_the_runner_keeps_alertmanager_channels_ungrouped() -> None:
    """The runner's routes name each ``alertmanager`` channel of the file as ungrouped."""
    config = parse_config(
        """
alerts:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9/"}
  - {name: am, type: alertmanager, url: "http://127.0.0.1:9093"}
monitors:
  - {name: alpha, url: "http://127.0.0.1:9/a", alerts: [ops, am]}
"""
    )
    assert incident_routes(config)["alpha"].ungrouped == frozenset({"am"})


def test_the_engines_default_waits_are_the_routes() -> None:
    """A monitor routed without a tree is grouped with the root route's defaults."""
    assert (
        DEFAULT_GROUPING.group_wait,
        DEFAULT_GROUPING.group_interval,
    ) == (GROUP_WAIT, GROUP_INTERVAL)
