"""`workers: N`: probing shared over worker processes, with the same states, incidents and
alerts as one process, `/probe` answered by every worker, and a worker that dies started
again.

The monitor runs as a real process on real time (its processes and signals are what is
under test), so each test polls with a bound instead of sleeping a fixed time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.ports import free_port
from tests.helpers.tether_processes import monitor, rows, status, wait_for
from tether.lab import Lab
from tether.monitor.config import parse_config
from tether.monitor.runtime._app import workers_for
from tether.monitor.runtime._workers import cores, worker_of

FAILING = {
    "refused": "connect.refused",
    "http_404": "http.client_error",
    "http_503": "http.server_error",
    "reset_on_accept": "connection.reset",
}
"""Lab scenarios that fail, each with a kind of its own (so each opens its own incident,
whichever order they go down in)."""


def children(pid: int) -> list[int]:
    """The live (not zombie) child processes of ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def states(port: int) -> dict[str, str]:
    """Each monitor's state from /api/status, or nothing while the port is not open yet."""
    try:
        found: dict[str, str] = status(port)["monitors"]
    except urllib.error.URLError:
        return {}
    return found


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read()


def write_config(
    path: Path, lab: Lab, workers: int, port: int, receiver: Receiver, extra: str = ""
) -> Path:
    db = path / f"w{workers}.db"
    lines = [
        f"  - {{name: {name}, url: '{lab[name].url}', interval: 2s, timeout: 1s, alerts: [ops]}}"
        for name in ["healthy", "tls_ok", *FAILING]
    ]
    config = path / f"w{workers}.yaml"
    config.write_text(
        f'workers: {workers}\nstorage: {{path: "{db}"}}\n'
        f'server: {{listen: "127.0.0.1:{port}"}}\n'
        f'alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]\n'
        "monitors:\n" + "\n".join(lines) + "\n" + extra
    )
    return config


def test_worker_of_is_stable_across_processes_and_spreads_monitors() -> None:
    """A monitor's worker is the same in another Python process (Python's own string hash
    is not), and 10,000 names spread over 4 workers within a few percent of a quarter."""
    names = [f"service-{i:05d}" for i in range(10_000)]
    here = [worker_of(n, 4) for n in names[:50]]
    code = (
        "import json, sys; from tether.monitor.runtime._workers import worker_of; "
        "print(json.dumps([worker_of(f'service-{i:05d}', 4) for i in range(50)]))"
    )
    there = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    assert here == there
    shares = Counter(worker_of(n, 4) for n in names)
    assert sorted(shares) == [0, 1, 2, 3]
    assert all(2300 <= n <= 2700 for n in shares.values()), shares


def test_workers_auto_is_one_per_core_and_a_number_is_taken_as_is() -> None:
    """`workers: auto` (the default) is the number of cores this process may use."""
    base = "monitors:\n  - {name: a, url: 'http://127.0.0.1:9/'}\n"
    assert workers_for(parse_config(base)) == cores() == len(os.sched_getaffinity(0))
    assert workers_for(parse_config("workers: 3\n" + base)) == 3
    assert workers_for(parse_config("workers: 1\n" + base)) == 1


def _run_until_settled(
    tmp_path: Path, lab: Lab, workers: int
) -> tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, tuple[str, ...]]], list[int]]:
    """Run the monitor with ``workers`` until every monitor has settled and every down
    alert arrived: the states, the alerts (event, monitor), the open incidents (key,
    monitors) and the worker processes seen."""
    receiver = Receiver()
    receiver.start()
    port = free_port()
    config = write_config(tmp_path, lab, workers, port, receiver)
    db = tmp_path / f"w{workers}.db"
    log = tmp_path / f"w{workers}.log"
    try:
        with monitor(config, log) as proc:
            settled = wait_for(
                lambda: (
                    (now := states(port))
                    and "unknown" not in now.values()
                    and len(receiver.got) >= len(FAILING) + 1
                    and now
                ),
                proc,
                limit=40,
            )
            pids = children(proc.pid)
        alerts = sorted(
            (json.loads(body)["event"], json.loads(body)["monitor"]) for _, body in receiver.got
        )
    finally:
        receiver.stop()
    # An open incident's monitors are its members (schema 6: a table of their own).
    incidents = sorted(
        (key, tuple(json.loads(monitors)))
        for key, monitors in rows(
            db,
            "SELECT key, (SELECT json_group_array(monitor) FROM (SELECT monitor FROM "
            "incident_members WHERE incident = i.id ORDER BY monitor)) "
            "FROM incidents i WHERE resolved IS NULL",
        )
    )
    return settled, alerts, incidents, pids


def test_two_workers_conclude_exactly_what_one_process_does(tmp_path: Path, lab: Lab) -> None:
    """The same targets watched with `workers: 1` and `workers: 2`: the same state for every
    monitor, the same open incidents and the same alerts; with 2, two worker processes
    ran the probes, and with 1, none."""
    one = _run_until_settled(tmp_path, lab, 1)
    two = _run_until_settled(tmp_path, lab, 2)
    states, alerts, incidents, pids = two
    assert states == one[0]
    assert states == {"healthy": "up", "tls_ok": "down", **dict.fromkeys(FAILING, "down")}
    assert alerts == one[1]
    assert alerts == sorted(("incident.opened", name) for name in [*FAILING, "tls_ok"])
    assert incidents == one[2]
    assert {key.rsplit(":", 1)[1] for key, _ in incidents} == {*FAILING.values(), "tls.untrusted"}
    assert one[3] == []
    assert len(pids) == 2


def test_every_worker_listens_and_answers_probe_and_forwards_the_rest(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """With `workers: 2`, both worker processes accept on the monitor's one listening socket,
    which the coordinator made and holds (no other process may share the port); /probe
    (with the configuration's modules), /metrics, the dashboard and the API all answer
    through them, and a path that is neither gets the coordinator's 404."""
    port = free_port()
    modules = "modules:\n  only_404: {prober: http, http: {valid_status_codes: [404]}}\n"
    config = write_config(tmp_path, lab, 2, port, receiver, modules)
    with monitor(config, tmp_path / "m.log") as proc:
        wait_for(lambda: states(port).get("healthy") == "up", proc)
        pids = children(proc.pid)
        listening = subprocess.run(
            ["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout
        code, body = get(f"http://127.0.0.1:{port}/probe?target={lab['healthy'].url}&module=http")
        assert (code, b"probe_success 1.0" in body) == (200, True)
        # Only the workers listen: a configured module answered is one a worker was sent.
        code, body = get(
            f"http://127.0.0.1:{port}/probe?target={lab['http_404'].url}&module=only_404"
        )
        assert (code, b"probe_success 1.0" in body) == (200, True)
        code, body = get(f"http://127.0.0.1:{port}/metrics")
        assert b'tether_probe_success{location="local",monitor="healthy"} 1.0' in body
        code, body = get(f"http://127.0.0.1:{port}/")
        assert code == 200
        assert b"healthy" in body
        with pytest.raises(urllib.error.HTTPError) as missing:
            get(f"http://127.0.0.1:{port}/no-such-page")
        assert missing.value.code == 404
        missing.value.close()
    assert len(pids) == 2
    assert len(listening.splitlines()) == 1  # one socket, 127.0.0.1's
    for pid in [*pids, proc.pid]:
        assert f"pid={pid}," in listening


def test_a_killed_worker_is_started_again_and_its_monitors_go_on(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """kill -9 of one worker: the coordinator says so, starts another, and the monitors
    that worker probed are probed again; the others never stopped."""
    port = free_port()
    config = write_config(tmp_path, lab, 2, port, receiver)
    db = tmp_path / "w2.db"
    log = tmp_path / "m.log"
    names = ["healthy", "tls_ok", *FAILING]
    with monitor(config, log) as proc:
        wait_for(lambda: len(children(proc.pid)) == 2, proc)
        wait_for(lambda: states(port).get("healthy") == "up", proc)
        before = set(children(proc.pid))
        victim = max(before)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: "exited with signal SIGKILL" in log.read_text(), proc)
        wait_for(lambda: len(set(children(proc.pid)) - before) == 1, proc)
        (mark,) = rows(db, "SELECT max(ts) FROM results")[0]
        # Every monitor is checked again after the restart (a fresh schedule spreads the
        # restarted worker's first runs over their 2 s interval).
        wait_for(
            lambda: (
                {m for (m,) in rows(db, f"SELECT DISTINCT monitor FROM results WHERE ts > {mark}")}
                == set(names)
            ),
            proc,
        )
    assert proc.returncode == 0
    assert not alive(victim)


def test_the_workers_end_when_the_coordinator_is_killed(
    tmp_path: Path, lab: Lab, receiver: Receiver
) -> None:
    """kill -9 of `tether monitor` itself leaves no worker behind: each sees its socket to
    the coordinator close, and exits."""
    port = free_port()
    config = write_config(tmp_path, lab, 2, port, receiver)
    with monitor(config, tmp_path / "m.log") as proc:
        pids = wait_for(lambda: len(children(proc.pid)) == 2 and children(proc.pid), proc)
        proc.kill()
        proc.wait(timeout=10)
        wait_for(lambda: not any(alive(pid) for pid in pids), None)


def test_a_reload_reaches_the_workers(tmp_path: Path, lab: Lab, receiver: Receiver) -> None:
    """SIGHUP with `workers: 2`: a monitor added to the file is probed by its worker, one
    removed is no longer probed, and `workers` itself is reported, not applied."""
    port = free_port()
    config = write_config(tmp_path, lab, 2, port, receiver)
    log = tmp_path / "m.log"
    with monitor(config, log) as proc:
        wait_for(lambda: states(port).get("healthy") == "up", proc)
        text = config.read_text().replace("workers: 2", "workers: 3")
        text = text.replace("  - {name: tls_ok,", "  - {name: gone,")
        text += f"  - {{name: added, url: '{lab['healthy'].url}', interval: 2s, timeout: 1s}}\n"
        config.write_text(text)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: states(port).get("added") == "up", proc)
        assert len(children(proc.pid)) == 2
    said = log.read_text()
    assert "workers changed: restart tether monitor to apply it" in said
    assert "added added" in said
