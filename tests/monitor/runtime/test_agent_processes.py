"""The agents' new doors on a real ``tether monitor`` process, in one process and with
``workers: 2`` (the workers forward ``/api/agent/*`` to the coordinator, where the
intake is): a batch placed outside its window is a 400 naming the check and every page
answers after it; what an agent says it cannot run is shown in ``/api/agents`` and
alerted through the channel.  Real time: each wait polls with a bound."""

from __future__ import annotations

import json
import os
import signal
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent_world import TOKENS
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.ports import free_port
from tests.helpers.tether_processes import SRC, monitor, wait_for
from tether.monitor.config._passwords import hash_token

AGENT = {"Authorization": f"Bearer {TOKENS['branch-1']}"}
WHY = "a grpc:// check needs tether[grpc] (missing: hpack, hyperframe): pip install 'tether[grpc]'"


def _ask(url: str, body: object = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    sent = {**(headers or {}), **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(url, data=data, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            text = r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        text, status = exc.read(), exc.code
        exc.close()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _metrics(base: str) -> str:
    with urllib.request.urlopen(f"{base}/metrics", timeout=20) as r:
        return str(r.read().decode())


def _config(tmp_path: Path, workers: int, port: int, webhook: str | None = None) -> Path:
    """A monitor of one api monitor at locations local and branch-1 (an agent token for
    branch-1), alerting ``webhook`` when given."""
    config = tmp_path / "tether.yaml"
    alerts = f'alerts: [{{name: ops, type: webhook, url: "{webhook}"}}]\n' if webhook else ""
    paged = ", alerts: [ops]" if webhook else ""
    config.write_text(
        f"workers: {workers}\n"
        f'storage: {{path: "{tmp_path / "t.db"}"}}\n'
        f'server: {{listen: "127.0.0.1:{port}"}}\n'
        "locations: [local, branch-1]\n"
        f'tokens: [{{name: b1, hash: "{hash_token(TOKENS["branch-1"])}", scope: agent,'
        " location: branch-1}]\n"
        f"{alerts}"
        "monitors:\n"
        f"  - {{name: api, url: 'http://127.0.0.1:9/', interval: 1h{paged}}}\n"
    )
    return config


def _up(base: str) -> bool:
    try:
        return _ask(f"{base}/api/status")[0] == 200
    except urllib.error.URLError:
        return False


@pytest.mark.parametrize("workers", [1, 2])
def test_the_agents_doors_hold_in_every_process_shape(
    tmp_path: Path, receiver: Receiver, workers: int
) -> None:
    """The issue's batch (sent_at 0, ts 253402300000) is a 400 naming results[0].ts and
    the pages answer 200 after it; a batch saying api is not run is taken, listed with
    why in /api/agents, and one agent.skipped reaches the webhook."""
    receiver.start()
    port = free_port()
    config = _config(tmp_path, workers, port, receiver.url)
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": SRC, "TETHER_LOCATION": "local"}
    with monitor(config, tmp_path / "m.log", env) as proc:
        wait_for(lambda: _up(base), proc, 30)
        status, assignment = _ask(f"{base}/api/agent/assignment?location=branch-1", None, AGENT)
        assert status == 200, assignment
        hostile = {
            "protocol": 1,
            "id": "0123456789abcdef0123",
            "location": "branch-1",
            "sent_at": 0,
            "results": [{"monitor": "api", "ts": 253402300000, "ok": False}],
        }
        status, said = _ask(f"{base}/api/agent/results", hostile, AGENT)
        assert status == 400
        assert said["error"].startswith("results[0].ts: 253402300000 s after its batch's sent_at")
        for page in ("/", "/monitors/api", "/api/status", "/api/monitors/api"):
            assert _ask(f"{base}{page}")[0] == 200, page
        telling = {
            "protocol": 1,
            "id": "0123456789abcdef0124",
            "location": "branch-1",
            "sent_at": assignment["server_time"],
            "assignment": assignment["version"],
            "cannot_run": [{"monitor": "api", "why": WHY, "since": assignment["server_time"]}],
        }
        status, receipt = _ask(f"{base}/api/agent/results", telling, AGENT)
        assert status == 200, receipt
        _, listed = _ask(f"{base}/api/agents")
        ((row,),) = [listed["agents"]]
        assert [n["monitor"] for n in row["cannot_run"]] == ["api"]
        assert row["cannot_run"][0]["why"] == WHY
        wait_for(lambda: receiver.got, proc, 30)
    events = [json.loads(body)["event"] for _, body in receiver.got]
    assert events == ["agent.skipped"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_answers_an_agents_long_poll_and_waits_for_nothing(
    tmp_path: Path, workers: int
) -> None:
    """Issue 73 item 11: SIGTERM while an agent's long poll is open.  The poll is answered
    (200, the assignment) and every worker stops on its own: with ``workers: 2`` a worker
    forwarding the poll waited for it until the stop timeout killed it (10 s, and the log
    said nothing; it now says so, which is what this test reads)."""
    port = free_port()
    config = _config(tmp_path, workers, port)
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": SRC, "TETHER_LOCATION": "local"}
    log = tmp_path / "m.log"
    polled: list[tuple[int, Any]] = []
    with monitor(config, log, env) as proc:
        wait_for(lambda: _up(base), proc, 30)
        status, assignment = _ask(f"{base}/api/agent/assignment?location=branch-1", None, AGENT)
        assert status == 200, assignment
        query = f"location=branch-1&version={assignment['version']}&wait=60"
        poll = threading.Thread(
            target=lambda: polled.append(_ask(f"{base}/api/agent/assignment?{query}", None, AGENT))
        )
        poll.start()
        wait_for(lambda: "tether_agent_polls_open 1.0" in _metrics(base), proc, 20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        poll.join(timeout=60)
    ((status, answer),) = polled
    assert status == 200, answer
    assert answer["version"] == assignment["version"]
    said = log.read_text()
    assert "did not stop" not in said, said
