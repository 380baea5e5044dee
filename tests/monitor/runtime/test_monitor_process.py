"""`tether monitor` as a real process: SIGHUP reloads without losing state, and SIGKILL
loses no stored result or queued alert.

The monitor runs on real time here (the process and its signals are what is under
test), so each test polls the database or the HTTP API with a bound instead of
sleeping a fixed time.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.ports import free_port
from tests.helpers.tether_processes import monitor, rows, status, wait_for
from tether.lab import Lab


def test_sighup_reloads_keeping_state_and_a_bad_file_changes_nothing(
    tmp_path: Path, lab: Lab
) -> None:
    """A broken file on SIGHUP is reported and ignored (a stray ']' in a condition too,
    without hanging the reload); a good one adds a monitor while the down one stays down
    with its incident, and the process never restarts."""
    port = free_port()
    db = tmp_path / "tether.db"
    head = f'storage: {{path: "{db}"}}\nserver: {{listen: "127.0.0.1:{port}"}}\nmonitors:\n'
    api = f"  - {{name: api, url: '{lab['refused'].url}', interval: 2s, timeout: 1s}}\n"
    extra = f"  - {{name: extra, url: '{lab['healthy'].url}', interval: 2s, timeout: 1s}}\n"
    config = tmp_path / "tether.yaml"
    config.write_text(head + api)
    log = tmp_path / "monitor.log"
    with monitor(config, log) as proc:
        wait_for(lambda: rows(db, "SELECT id FROM incidents"), proc)
        wait_for(lambda: status(port)["monitors"].get("api") == "down", proc)
        config.write_text(head + api + "  - {name: extra, interval: 5}\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "not reloaded" in log.read_text(), proc)
        # A stray ']' once made the condition parser loop for ever inside the reload.
        config.write_text(
            head + api + extra.replace("}\n", ", conditions: ['[STATUS] == 200]']}\n")
        )
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "closes nothing" in log.read_text(), proc)
        config.write_text(head + api + extra)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: status(port)["monitors"].get("extra") == "up", proc)
        after = status(port)
        pid = proc.pid
    text = log.read_text()
    assert "monitors[1].interval" in text  # the broken file's error, located
    assert "reloaded" in text
    assert "added extra" in text
    assert after["monitors"]["api"] == "down"  # not reset to unknown by the reload
    assert len(after["open_incidents"]) == 1
    assert len(rows(db, "SELECT id FROM incidents")) == 1
    assert proc.returncode == 0
    assert proc.pid == pid


def test_sigusr1_logs_where_every_task_waits_and_the_monitor_goes_on(
    tmp_path: Path, lab: Lab
) -> None:
    """SIGUSR1 logs a line on what the instance probes and the await chain of each task
    (the prober's schedule among them), and the monitor keeps probing afterwards."""
    port = free_port()
    db = tmp_path / "tether.db"
    config = tmp_path / "tether.yaml"
    config.write_text(
        f'storage: {{path: "{db}"}}\nworkers: 1\nserver: {{listen: "127.0.0.1:{port}"}}\n'
        f"monitors:\n  - {{name: api, url: '{lab['healthy'].url}', interval: 1s}}\n"
    )
    log = tmp_path / "monitor.log"
    with monitor(config, log) as proc:
        wait_for(lambda: rows(db, "SELECT id FROM results WHERE ok = 1"), proc)
        proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "SIGUSR1" in log.read_text(), proc)
        seen = len(rows(db, "SELECT id FROM results"))
        wait_for(lambda: len(rows(db, "SELECT id FROM results")) > seen + 1, proc)
    text = log.read_text()
    assert "1 monitors here" in text
    assert "1 plans, 1 scheduled" in text
    assert "in run_schedule" in text  # a task's await chain, not only its outer frame
    assert proc.returncode == 0


def test_sigkill_loses_no_stored_result_or_queued_alert(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """kill -9 while the monitor is writing results and its alert cannot be delivered:
    every result committed before the kill is still there, the alert is still queued,
    and after a restart the receiver gets it exactly once, with no second incident."""
    db = tmp_path / "tether.db"
    config = tmp_path / "tether.yaml"
    config.write_text(
        f"""
storage: {{path: "{db}"}}
server: {{listen: "127.0.0.1:{free_port()}"}}
alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]
monitors:
  - {{name: api, url: "{lab["refused"].url}", interval: 2s, timeout: 1s, alerts: [ops]}}
  - {{name: web, url: "{lab["healthy"].url}", interval: 2s, timeout: 1s}}
"""
    )
    log = tmp_path / "monitor.log"
    with monitor(config, log) as proc:
        wait_for(lambda: rows(db, "SELECT id FROM outbox"), proc)
        wait_for(lambda: len(rows(db, "SELECT id FROM results")) >= 4, proc)
        results = rows(db, "SELECT id, monitor, ts, ok, kind FROM results")
        outbox = rows(db, "SELECT id, dedup, payload FROM outbox")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    kept = set(rows(db, "SELECT id, monitor, ts, ok, kind FROM results"))
    assert set(results) <= kept
    assert rows(db, "SELECT id, dedup, payload FROM outbox WHERE delivered IS NULL") == outbox
    receiver.start()
    with monitor(config, log) as proc:
        wait_for(lambda: receiver.got, proc, limit=30)
        wait_for(lambda: len(rows(db, "SELECT id FROM results")) > len(kept) + 1, proc)
    ((_, body),) = receiver.got
    assert json.loads(body)["event"] == "incident.opened"
    assert len(rows(db, "SELECT id FROM incidents")) == 1
    assert rows(db, "SELECT count(*) FROM outbox WHERE delivered IS NULL") == [(0,)]


def test_the_monitor_logs_to_stderr_with_a_webhook_channel(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """With a webhook channel (a tether.Session inside), `tether monitor` still writes its
    state-change, incident and delivery lines to stderr: the command sets up its own
    logging, and nothing the library does at use time takes it away."""
    receiver.start()
    db = tmp_path / "tether.db"
    config = tmp_path / "tether.yaml"
    config.write_text(
        f"""
storage: {{path: "{db}"}}
server: {{listen: "127.0.0.1:{free_port()}"}}
alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]
monitors:
  - {{name: api, url: "{lab["refused"].url}", interval: 2s, timeout: 1s, alerts: [ops]}}
"""
    )
    log = tmp_path / "monitor.log"
    with monitor(config, log) as proc:
        wait_for(lambda: "alert to ops delivered" in log.read_text(), proc)
    assert receiver.got
    text = log.read_text()
    assert "api: unknown -> down (3 consecutive checks failed (connect.refused))" in text
    assert "incident 1: opened: connection refused" in text
