"""The runner's wiring of what the detector says, and reloading its configuration.

Real probes against the lab on simulated time (tests/helpers/simtime.py): a reload keeps every
state, incident and queued alert; flapping holds alerts until it settles; a slow spell
sends a "degraded" alert unless the monitor's latency_margin is null; pausing stops
probing.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.monitor_harness import Harness, monitors
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.store import SQLiteStore
from tether.probe import ProbeOptions


def test_a_reload_keeps_states_incidents_and_alerts(tmp_path: Path, lab: Lab) -> None:
    """Adding a monitor and changing another's interval mid-outage keeps the down monitor
    down with its one incident and one alert; the new monitor is probed at its interval."""
    api = f"{{name: api, url: '{lab['refused'].url}', interval: 30s, timeout: 1s, alerts: [ops]}}"
    web = "{name: web, url: '" + lab["healthy"].url + "', interval: 30s, timeout: 1s}"
    faster = web.replace("30s", "5s")
    extra = "{name: extra, url: '" + lab["healthy"].url + "', interval: 10s, timeout: 1s}"
    h = Harness(tmp_path, monitors(api, web))
    changes: list[str] = []
    marks: dict[str, float] = {}

    def reload() -> None:
        marks["at"] = h.sim.now
        changes.extend(h.runner.reload(monitors(api, faster, extra)))

    h.drive(
        (lambda: h.state("api") is State.DOWN and bool(h.ops.got), reload),
        (lambda: h.sim.now > marks["at"] + 31, lambda: None),
        limit=300,
    )
    h.store.flush()
    assert changes == ["changed web", "added extra"]
    assert h.state("api") is State.DOWN
    assert h.state("web") is State.UP
    assert h.state("extra") is State.UP
    (incident,) = h.store.incidents()
    assert incident.resolved is None
    assert [a["event"] for a in h.ops.got] == ["incident.opened"]
    extra_runs = [r.ts for r in h.store.results("extra")]
    web_runs = sorted(r.ts for r in h.store.results("web") if r.ts > h.sim.wall() - 30)
    assert len(extra_runs) >= 3  # every 10 s since the reload
    assert len(web_runs) >= 5  # every 5 s now, not 30
    h.close()


def test_a_removed_monitor_stops_and_its_lone_incident_resolves(tmp_path: Path, lab: Lab) -> None:
    """Removing a down monitor stops its probes, drops its metrics and resolves the incident
    it was alone in, saying why."""
    api = f"{{name: api, url: '{lab['refused'].url}', interval: 30s, timeout: 1s, alerts: [ops]}}"
    web = "{name: web, url: '" + lab["healthy"].url + "', interval: 30s, timeout: 1s}"
    h = Harness(tmp_path, monitors(api, web))
    seen: dict[str, int] = {}

    def remove() -> None:
        h.runner.reload(monitors(web))
        seen["probes"] = h.probes.count(lab["refused"].url)

    h.drive(
        (lambda: h.state("api") is State.DOWN, remove), (lambda: h.sim.now > 200, list), limit=300
    )
    assert h.probes.count(lab["refused"].url) == seen["probes"]
    (incident,) = h.store.incidents()
    assert incident.resolved is not None
    assert "api was removed from the configuration" in str(incident.timeline)
    metrics = h.metrics()
    assert 'monitor="api"' not in metrics
    assert 'tether_probe_success{location="local",monitor="web"} 1.0' in metrics
    h.close()


def test_pausing_by_reload_stops_probes_and_resuming_starts_afresh(
    tmp_path: Path, lab: Lab
) -> None:
    """paused: true stops a monitor's probes and shows it paused; unpausing resumes it from
    unknown to up."""
    web = "{name: web, url: '" + lab["healthy"].url + "', interval: 30s, timeout: 1s}"
    paused = web.replace("}", ", paused: true}")
    h = Harness(tmp_path, monitors(web))
    counts: list[int] = []

    def pause() -> None:
        h.runner.reload(monitors(paused))
        counts.append(len(h.probes))

    def resume() -> None:
        assert h.state("web") is State.PAUSED
        assert len(h.probes) == counts[0]  # not probed while paused
        h.runner.reload(monitors(web))
        assert h.state("web") is State.UNKNOWN

    start: dict[str, float] = {}
    h.drive(
        (lambda: h.state("web") is State.UP, pause),
        (lambda: start.setdefault("t", h.sim.now) + 120 < h.sim.now, resume),
        (lambda: h.state("web") is State.UP, list),
        limit=400,
    )
    assert len(h.probes) > counts[0]
    h.close()


def queued(tmp_path: Path) -> int:
    """Alerts ever queued, delivered or not (counting both lists races the delivery)."""
    import sqlite3

    conn = sqlite3.connect(tmp_path / "t.db")
    try:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


def test_flapping_holds_alerts_until_it_settles(tmp_path: Path, lab: Lab) -> None:
    """A target that alternates every check: four alerts (two outages), then flapping and
    silence however long it goes on; once it stays down past the settle time, one alert."""
    calls = {"n": 0, "flap_until": 0.0}
    h: Harness

    def route(target: str, options: ProbeOptions) -> str:
        calls["n"] += 1
        flapping = h.sim.now < calls["flap_until"]
        up = calls["n"] % 2 == 1 if flapping else False
        return lab["healthy"].url if up else lab["refused"].url

    api = (
        "{name: api, url: 'http://127.0.0.1:1/', interval: 30s, timeout: 1s, alerts: [ops],"
        " failure_threshold: 1, success_threshold: 1}"
    )
    calls["flap_until"] = 900.0
    h = Harness(tmp_path, monitors(api), probe=route)
    alerts_when_flapping: list[int] = []
    h.drive(
        (
            lambda: h.state("api") is State.FLAPPING,
            lambda: alerts_when_flapping.append(queued(tmp_path)),
        ),
        (
            lambda: h.sim.now > 890,
            lambda: alerts_when_flapping.append(queued(tmp_path)),
        ),
        (lambda: h.state("api") is State.DOWN, list),
        limit=2000,
    )
    events = [a["event"] for a in h.ops.got]
    assert alerts_when_flapping == [4, 4]  # nothing while flapping
    assert events == ["incident.opened", "incident.resolved"] * 2 + ["incident.opened"]
    # Settled 600 s after its last up/down change (in the last check interval before
    # 900 s), at the first check after that: not sooner, and not much later.
    assert 870 + 600 <= h.sim.now <= 900 + 600 + 31
    h.close()


def latency_run(tmp_path: Path, lab: Lab, margin: str) -> Harness:
    slow_after = 40  # checks at ~1 ms teach the baseline; then 300 ms each

    def route(target: str, options: ProbeOptions) -> str:
        ms = 300 if len(h.probes) > slow_after else 0
        return f"{lab['latency'].url}?ms={ms}"

    api = (
        "{name: api, url: 'http://127.0.0.1:1/', interval: 10s, timeout: 2s, alerts: [ops],"
        f" latency_margin: {margin}}}"
    )
    h = Harness(tmp_path, monitors(api), probe=route)
    h.drive((lambda: len(h.probes) > slow_after + 6, list), limit=2000)
    return h


def test_a_slow_spell_sends_a_degraded_alert(tmp_path: Path, lab: Lab) -> None:
    """After the baseline is learnt at ~1 ms, three 300 ms checks make the monitor degraded
    and queue one monitor.degraded alert naming the latency and the limit."""
    h = latency_run(tmp_path, lab, "3")
    assert h.state("api") is State.DEGRADED
    (alert,) = h.ops.got
    assert alert["event"] == "monitor.degraded"
    assert "api is slower than usual" in alert["text"]
    assert "limit of" in alert["text"]
    h.close()


def test_a_null_latency_margin_is_never_degraded(tmp_path: Path, lab: Lab) -> None:
    """latency_margin: null turns latency judgement off: the same slow spell stays up."""
    h = latency_run(tmp_path, lab, "null")
    assert h.state("api") is State.UP
    assert h.ops.got == []
    h.close()


def test_a_restart_restores_each_monitor_and_old_results_are_pruned(
    tmp_path: Path, lab: Lab
) -> None:
    """Each monitor's detector state is saved under its own key as it changes, and a new
    runner on the same store starts from it; starting also drops results past retention."""
    from tests.helpers.simtime import EPOCH
    from tether._kinds import Kind
    from tether.monitor.store import ProbeRecord

    api = f"{{name: api, url: '{lab['refused'].url}', interval: 30s, timeout: 1s}}"
    web = "{name: web, url: '" + lab["healthy"].url + "', interval: 30s, timeout: 1s}"
    h = Harness(tmp_path, monitors(api, web))
    h.store.record(ProbeRecord("api", EPOCH - 8 * 86400, False, Kind.CONNECT_REFUSED))
    h.store.flush()
    h.drive((lambda: h.state("api") is State.DOWN and h.state("web") is State.UP, list), limit=300)
    saved = h.store.load_state()
    assert {"detector:api", "detector:web"} <= saved.keys()
    assert min(r.ts for r in h.store.results("api")) >= EPOCH  # the 8-day-old one is gone
    h.close()
    again = Harness(tmp_path, monitors(api, web))
    assert again.state("api") is State.DOWN
    assert again.state("web") is State.UP
    again.close()


def test_state_saved_by_an_earlier_tether_in_one_document_is_restored(
    tmp_path: Path, lab: Lab
) -> None:
    """A store from before per-monitor saving (one "__detector__" document) still restores
    (down, in the open incident the store has for it: a state its incidents do not match
    would be squared, tests/monitor/runtime/test_monitor_restart.py)."""
    from tether._kinds import Kind
    from tether.monitor._records import Incident, Member
    from tether.monitor.engine._detect import Detector, Observation

    detector = Detector()
    for t in range(3):
        detector.observe(Observation("api", False, float(t)), float(t))
    with SQLiteStore(tmp_path / "t.db") as store:
        store.save_state("__detector__", detector.to_dict())
        incident = Incident(
            store.new_incident_id(),
            "host:127.0.0.1:connect.refused",
            Kind.CONNECT_REFUSED,
            "refused",
            "start it",
            2.0,
            monitors=("api",),
            members={"api": Member(2.0, alerted=True)},
        )
        store.open_incident(incident)
    api = f"{{name: api, url: '{lab['refused'].url}', interval: 30s, timeout: 1s}}"
    h = Harness(tmp_path, monitors(api))
    assert h.state("api") is State.DOWN
    h.close()
