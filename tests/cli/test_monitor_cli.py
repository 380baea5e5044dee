"""`tether monitor` and `tether status` as a user runs them, against the lab.

`tether monitor` runs as a real process on real time (this is the wiring under
test), so the test polls its database with a bound instead of sleeping a
fixed time; `tether status` then reads what it stored.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.ports import free_port
from tether.cli import main
from tether.lab import Lab


def write_config(tmp_path: Path, lab: Lab, port: int = 0) -> Path:
    path = tmp_path / "tether.yaml"
    path.write_text(
        f"""
storage: {{path: {tmp_path / "tether.db"}}}
server: {{listen: "127.0.0.1:{port or free_port()}"}}
monitors:
  - name: web
    url: {lab["healthy"].url}
    interval: 2s
    timeout: 1s
  - name: api
    url: {lab["refused"].url}
    interval: 2s
    timeout: 1s
"""
    )
    return path


def open_incidents(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(db)
        try:
            return int(
                conn.execute("SELECT count(*) FROM incidents WHERE resolved IS NULL").fetchone()[0]
            )
        finally:
            conn.close()
    except sqlite3.Error:  # tables not created yet
        return 0


def test_monitor_runs_until_sigterm_and_status_reads_what_it_stored(
    tmp_path: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The monitor stores results, opens an incident for the refusing target, stops
    cleanly on SIGTERM, and `tether status` shows both monitors and the incident."""
    port = free_port()
    config = write_config(tmp_path, lab, port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "monitor", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while open_incidents(tmp_path / "tether.db") == 0 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)  # polling a real process: the monitor runs on real time here
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert (
        'tether_probe_failures_total{kind="connect.refused",location="local",monitor="api"}'
        in metrics
    )
    assert 'tether_monitor_up{monitor="api"} 0.0' in metrics
    assert proc.returncode == 0, err
    assert "2 monitors" in err
    code = main(["status", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 1  # an incident is open
    assert "web" in out
    assert "ok" in out
    assert "api" in out
    assert "connect.refused" in out
    assert "incident 1 open since" in out


def test_status_beside_a_delivering_monitor_leaves_its_claims(
    tmp_path: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tether status` and `tether history` beside a monitor that is delivering an alert
    (claimed) leave the claim: opening the file released every claim as a dead
    process's, and the monitor could claim and send the alert again."""
    from tests.helpers.alert_payloads import opened
    from tether.monitor.store import SQLiteStore

    config = write_config(tmp_path, lab)
    with SQLiteStore(tmp_path / "tether.db") as monitor:  # as the monitor opens it
        monitor.enqueue_alert("ops", "a", opened(), 1_700_000_000.0)
        (claimed,) = monitor.claim_alerts("monitor-1", 1_700_000_001.0, 60.0)
        assert main(["status", "--config", str(config)]) == 0
        assert main(["history", "web", "--config", str(config)]) == 0
        capsys.readouterr()
        assert monitor.claim_alerts("monitor-2", 1_700_000_002.0, 60.0) == []  # still held
        with sqlite3.connect(tmp_path / "tether.db") as db:
            (who,) = db.execute(
                "SELECT claimed_by FROM outbox WHERE id = ?", (claimed.id,)
            ).fetchone()
        assert who == "monitor-1"
    # A monitor started after the one holding the claim died takes it back at once.
    with SQLiteStore(tmp_path / "tether.db") as restarted:
        (again,) = restarted.claim_alerts("monitor-3", 1_700_000_003.0, 60.0)
        assert again.id == claimed.id


def test_status_before_any_result(
    tmp_path: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """With an empty store, status says so and exits 0."""
    config = write_config(tmp_path, lab)
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "no result yet" in out
    assert "no open incident" in out


def test_status_shows_each_monitors_state_not_only_its_latest_check(
    tmp_path: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A paused monitor whose last check was refused reads paused, and a flapping one
    whose last check passed reads flapping (issue 24: they read connect.refused 0.00% and
    ok), in the text and in --json."""
    from tether._kinds import Kind
    from tether.monitor._state import State
    from tether.monitor.store import ProbeRecord, SQLiteStore

    config = write_config(tmp_path, lab)
    t0 = time.time() - 600
    with SQLiteStore(tmp_path / "tether.db") as store:
        store.record(ProbeRecord("api", t0, False, Kind.CONNECT_REFUSED, 0.3, "refused it"))
        store.record_state("api", t0, State.DOWN)
        store.record_state("api", t0 + 60, State.PAUSED)
        store.record(ProbeRecord("web", t0, True, latency_ms=4.0))
        store.record_state("web", t0, State.FLAPPING)
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[1:3]}
    assert rows == {"api": ["paused", "connect.refused"], "web": ["flapping", "ok"]}
    assert main(["status", "--json", "--config", str(config)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["monitors"] == {"api": "paused", "web": "flapping"}
    assert {r["name"]: r["state"] for r in doc["rows"]} == {"api": "paused", "web": "flapping"}


def test_monitor_with_a_bad_config_exits_1_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config error stops the monitor before it starts: one line per problem, exit 1."""
    bad = tmp_path / "tether.yaml"
    bad.write_text("monitors:\n  - name: api\n    url: http://127.0.0.1:9/\n    interval: 5\n")
    assert main(["monitor", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "monitors[0].interval" in err
    assert "Traceback" not in err


def test_monitor_without_a_config_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing config file is a usage error with one readable line."""
    assert main(["monitor", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("given", "env", "said"),
    [
        (
            ["--location", "eu-wst"],
            {},
            'tether monitor: --location "eu-wst" is not a location of the file, did you mean '
            "eu-west?",
        ),
        (
            [],
            {"TETHER_LOCATION": "mars"},
            'tether monitor: TETHER_LOCATION "mars" is not a location of the file; the '
            "file's locations are eu-west, us-east",
        ),
        (
            [],
            {},
            "tether monitor: this instance's location is not set: give --location NAME or "
            "TETHER_LOCATION, one of eu-west, us-east",
        ),
    ],
)
def test_monitor_refuses_a_location_it_cannot_be_at_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    given: list[str],
    env: dict[str, str],
    said: str,
) -> None:
    """A location not in the file, or none with a file of several, is one line and exit 2,
    before anything is probed or stored."""
    monkeypatch.delenv("TETHER_LOCATION", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "tether.yaml"
    db = tmp_path / "tether.db"
    config.write_text(
        f"storage: {{path: {db}}}\nlocations: [eu-west, us-east]\n"
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/'}\n"
    )
    assert main(["monitor", "--config", str(config), *given]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [said]


def test_history_and_incidents_read_the_store(
    tmp_path: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """history lists results (and roll-ups with --per); incidents shows cause and timeline;
    an unknown monitor name is a usage error that lists the real ones."""
    from tether._kinds import Kind
    from tether.monitor._records import Incident, TimelineEntry
    from tether.monitor.store import ProbeRecord, SQLiteStore

    config = write_config(tmp_path, lab)
    with SQLiteStore(tmp_path / "tether.db") as store:
        store.record(ProbeRecord("api", 1_800_000_000.0, True, latency_ms=4.0))
        store.record(
            ProbeRecord("api", 1_800_000_030.0, False, Kind.CONNECT_REFUSED, 0.3, "refused it")
        )
        incident = Incident(
            store.new_incident_id(),
            "host:127.0.0.1:connect.refused",
            Kind.CONNECT_REFUSED,
            "refused it",
            "start it",
            1_800_000_030.0,
            monitors=("api",),
        )
        store.open_incident(incident)
        store.note_incident(
            incident.id,
            TimelineEntry(1_800_000_060.0, "resolved", "down for 30 s"),
            resolved=1_800_000_060.0,
        )
    assert main(["history", "api", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.index("connect.refused") < out.index(" ok ")  # newest first
    assert main(["history", "api", "--per", "hour", "--config", str(config)]) == 0
    assert "50.0%" in capsys.readouterr().out
    assert main(["incidents", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "incident 1 (resolved 2027-01-15 08:01:00)" in out
    assert "fix: start it" in out
    assert "resolved: down for 30 s" in out
    assert main(["incidents", "--open", "--config", str(config)]) == 0
    assert "no open incident" in capsys.readouterr().out
    assert main(["history", "nope", "--config", str(config)]) == 2
    assert "there are: web, api" in capsys.readouterr().err
    assert main(["history", "apj", "--config", str(config)]) == 2
    assert "no monitor named 'apj'; did you mean api? (there are: web, api)" in (
        capsys.readouterr().err
    )


def test_ack_marks_an_open_incident_and_refuses_an_unknown_one(
    tmp_path: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """tether ack ID acknowledges an open incident (status and incidents show it), says who;
    an id with no open incident is exit 1 with one line, no traceback."""
    from tether._kinds import Kind
    from tether.monitor import Incident
    from tether.monitor.store import SQLiteStore

    config = write_config(tmp_path, lab)
    with SQLiteStore(tmp_path / "tether.db") as store:
        incident_id = store.new_incident_id()
        store.open_incident(
            Incident(
                incident_id, "host:h:connect.refused", Kind.CONNECT_REFUSED, "refused", "", 1.0
            )
        )
    assert main(["ack", str(incident_id), "--by", "alice", "--config", str(config)]) == 0
    assert f"incident {incident_id} acknowledged by alice" in capsys.readouterr().out
    assert main(["incidents", "--open", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "acknowledged" in out
    assert "acknowledged: by alice" in out
    assert main(["ack", "99", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "tether ack: no open incident 99"


SECRET_URL = "http://tether:hunter2@127.0.0.1:9/health?token=abc123"
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def _json_store(tmp_path: Path) -> Path:
    """A configuration of two monitors (one URL with secrets) and a store with real rows:
    two checks of api, a state change an hour ago, one open and one resolved incident."""
    from tether._kinds import Kind
    from tether.monitor import Incident, ProbeRecord
    from tether.monitor._records import TimelineEntry
    from tether.monitor._state import State
    from tether.monitor.store import SQLiteStore

    config = tmp_path / "tether.yaml"
    config.write_text(
        f"storage: {{path: {tmp_path / 'tether.db'}}}\n"
        f"monitors:\n  - {{name: api, url: '{SECRET_URL}'}}\n"
        "  - {name: web, url: 'http://127.0.0.1:9/'}\n"
    )
    now = time.time()
    with SQLiteStore(tmp_path / "tether.db") as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=4.0, phases={"connect": 0.5}))
        store.record(
            ProbeRecord("api", T0 + 30, False, Kind.CONNECT_REFUSED, 0.25, f"refused {SECRET_URL}")
        )
        store.record_state("api", now - 7200, State.UP)
        store.record_state("api", now - 3600, State.DOWN)
        old = Incident(store.new_incident_id(), "k1", Kind.TLS_EXPIRED, "expired", "renew", T0)
        store.open_incident(old)
        store.note_incident(old.id, TimelineEntry(T0 + 60, "resolved", "ok"), resolved=T0 + 60)
        store.open_incident(
            Incident(
                store.new_incident_id(),
                "host:127.0.0.1:connect.refused",
                Kind.CONNECT_REFUSED,
                f"refused {SECRET_URL}",
                "start it",
                T0 + 30,
                monitors=("api",),
            )
        )
    return config


def test_status_json_reads_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status --json: /api/status's document read from the store: every monitor in
    ``rows`` in the file's order with its state, latest check, last failure and uptime,
    the open incident, secrets masked; exit 1 as an incident is open."""
    config = _json_store(tmp_path)
    assert main(["status", "--json", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["monitors"] == {"api": "down", "web": "unknown"}
    api, web = doc["rows"]
    assert api["name"] == "api"
    assert api["url"] == "http://tether:***@127.0.0.1:9/health?token=***"
    assert api["state"] == "down"
    check = dict(api["last_check"])
    assert isinstance(check.pop("ago_s"), float)
    assert check == {
        "at": "2027-01-15T08:00:30Z",
        "ok": False,
        "kind": "connect.refused",
        "latency_ms": 0.25,
    }
    assert api["last_failure"]["detail"] == "refused http://tether:***@127.0.0.1:9/health?token=***"
    assert api["uptime"]["24h"] == pytest.approx(0.5, abs=0.01)
    assert (web["name"], web["last_check"], web["uptime"]["24h"]) == ("web", None, None)
    (incident,) = doc["open_incidents"]
    assert (incident["id"], incident["kind"], incident["monitors"]) == (
        2,
        "connect.refused",
        ["api"],
    )
    assert incident["opened"] == "2027-01-15T08:00:30Z"
    assert "hunter2" not in out
    assert "abc123" not in out


def test_history_json_results_and_rollups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """history --json: the results newest first; with --per hour, the roll-up of that hour."""
    config = _json_store(tmp_path)
    assert main(["history", "api", "--json", "--config", str(config)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["monitor"] == "api"
    assert [(r["at"], r["ok"], r["kind"]) for r in doc["results"]] == [
        ("2027-01-15T08:00:30Z", False, "connect.refused"),
        ("2027-01-15T08:00:00Z", True, None),
    ]
    assert doc["results"][1]["phases"] == {"connect": 0.5}
    assert main(["history", "api", "--per", "hour", "--json", "--config", str(config)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["per"] == "hour"
    assert doc["rollups"] == [
        {
            "start": "2027-01-15T08:00:00Z",
            "checks": 2,
            "failed": 1,
            "uptime_pct": 50.0,
            "latency_avg_ms": pytest.approx(2.125),
            "latency_max_ms": 4.0,
            "failures": {"connect.refused": 1},
        }
    ]


def test_incidents_json_newest_first_and_open_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """incidents --json: newest first with timeline, resolved time and duration; --open keeps
    the open one; the detail's secrets masked."""
    config = _json_store(tmp_path)
    assert main(["incidents", "--json", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert [(i["id"], i["open"]) for i in doc["incidents"]] == [(2, True), (1, False)]
    resolved = doc["incidents"][1]
    assert (resolved["resolved"], resolved["duration_s"], resolved["hint"]) == (
        "2027-01-15T08:01:00Z",
        60.0,
        "renew",
    )
    assert resolved["timeline"] == [
        {"at": "2027-01-15T08:01:00Z", "event": "resolved", "detail": "ok"}
    ]
    assert doc["incidents"][0]["detail"] == "refused http://tether:***@127.0.0.1:9/health?token=***"
    assert "hunter2" not in out
    assert main(["incidents", "--open", "--json", "--config", str(config)]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)["incidents"]] == [2]


def test_monitor_without_any_config_points_to_an_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --config and no ./tether.yaml: one line naming `tether demo --keep DIR` and
    docs/monitor.md, exit 2, for the monitor and the commands that read its store."""
    monkeypatch.chdir(tmp_path)
    for command in (["monitor"], ["status"], ["incidents"], ["history", "api"], ["ack", "1"]):
        assert main(command) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == (
            f"tether {command[0]}: no --config FILE given and no tether.yaml here; "
            "`tether demo --keep DIR` writes an example to DIR/tether.yaml, and "
            "docs/monitor.md explains every part\n"
        )


def test_text_output_masks_secrets_as_the_json_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status, history and incidents print the stored details with their secrets masked
    (the text is rendered from the JSON documents)."""
    config = _json_store(tmp_path)
    masked = "refused http://tether:***@127.0.0.1:9/health?token=***"
    for command in (["status"], ["history", "api"], ["incidents"]):
        main([*command, "--config", str(config)])
        out = capsys.readouterr().out
        assert masked in out, command
        assert "hunter2" not in out
        assert "abc123" not in out


def test_the_configuration_is_read_with_the_collector_paused(tmp_path: Path) -> None:
    """A command's configuration (here 3,000 monitors) is read with no collection of the
    garbage collector in it (dozens otherwise), each of which would walk every monitor
    parsed so far; the collector runs again after."""
    import gc

    from tether.cli._shared import load_monitor_config

    lines = "\n".join(f"  - {{name: m{i}, url: 'tcp://127.0.0.1:9'}}" for i in range(3_000))
    (tmp_path / "one.yaml").write_text(lines.split("\n")[0].join(["monitors:\n", "\n"]))
    assert not isinstance(load_monitor_config(str(tmp_path / "one.yaml"), "monitor"), int)
    path = tmp_path / "tether.yaml"  # the modules it needs imported now (imports collect)
    path.write_text(f"monitors:\n{lines}\n")
    collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    thresholds = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    gc.callbacks.append(seen)
    try:
        config = load_monitor_config(str(path), "monitor")
    finally:
        gc.callbacks.remove(seen)
        gc.set_threshold(*thresholds)
    assert not isinstance(config, int)
    assert len(config.monitors) == 3_000
    assert len(collections) <= 1  # one, perhaps, as the pause ends: of what the read made
    assert gc.isenabled()
