"""Issue 45's reproductions against a real `tether monitor` process on loopback: a label
matcher that would make a backtracking engine run for hours (``\\w{0,16}`` eleven times,
then ``x``, against a monitor's name of 40 characters) neither freezes the monitor when
typed into ``/api/status?match=`` nor when a silence holds it and an alert is due; its
pages keep answering and the alert reaches a real webhook receiver.

On Python's ``re`` (main before the fix) the first held the interpreter at 94% CPU until
``kill -9``; RE2 decides it in linear time.  The processes run on real time; each wait
polls with a bound (tests/helpers/processes.py)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.cluster_processes import Target
from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor

NAME = "a" * 40
ATTACK = "\\w{0,16}" * 11 + "x"
MATCHER = 'monitor=~"' + ATTACK.replace("\\", "\\\\") + '"'


class Monitor:
    """A `tether monitor` watching ``target`` as :data:`NAME`, alerting a webhook."""

    def __init__(self, tmp: Path, target: Target, receiver: Receiver) -> None:
        self.port = free_port()
        self.config = tmp / "tether.yaml"
        self.config.write_text(
            f'storage: {{path: "{tmp / "tether.db"}"}}\n'
            f'server: {{listen: "127.0.0.1:{self.port}"}}\n'
            f'alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]\n'
            "monitors:\n"
            f"  - {{name: {NAME}, url: '{target.url}', interval: 1s, timeout: 500ms,\n"
            "      failure_threshold: 1, alerts: [ops]}\n"
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes] | None:
        """The status and body of ``GET path``, or None when it did not answer in time."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return None

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target("127.0.0.1")
    yield t
    t.down()


def answers(m: Monitor) -> bool:
    found = m.get("/metrics", timeout=2)
    return found is not None and found[0] == 200


def test_a_match_that_would_backtrack_answers_and_the_monitor_goes_on(
    target: Target, tmp_path: Path, receiver: Receiver
) -> None:
    """``/api/status?match=`` with the issue's expression answers (no row matches) while
    ``/metrics`` keeps answering; on ``re`` neither answered again."""
    m = Monitor(tmp_path, target, receiver)
    with monitor(m.config, tmp_path / "monitor.log") as proc:
        wait_for(lambda: answers(m), 20, [proc])
        got: list[tuple[int, bytes] | None] = []
        asked = threading.Thread(
            target=lambda: got.append(m.get("/api/status?match=" + quote(MATCHER), 60)),
            daemon=True,
        )
        asked.start()
        wait_for(lambda: got, 20, [proc])
        assert answers(m)
    (answer,) = got
    assert answer is not None
    status, body = answer
    assert status == 200, body
    assert json.loads(body)["rows"] == []


def test_a_silence_that_would_backtrack_lets_the_alert_out_and_the_monitor_goes_on(
    target: Target, tmp_path: Path, receiver: Receiver
) -> None:
    """A silence of the issue's expression is taken; when the monitor goes down its alert
    is decided against it (no match: sent) and reaches the receiver, and the status API
    keeps answering; on ``re`` the delivery held the interpreter until ``kill -9``."""
    receiver.start()
    m = Monitor(tmp_path, target, receiver)
    with monitor(m.config, tmp_path / "monitor.log") as proc:
        wait_for(lambda: answers(m), 20, [proc])
        status, made = m.post(
            "/api/silences", {"matchers": [MATCHER], "for": "1h", "comment": "issue 45"}
        )
        assert status == 201, made
        target.down()
        wait_for(lambda: receiver.got, 20, [proc])
        assert answers(m)
        found = m.get("/api/status")
        assert found is not None
        assert found[0] == 200
    (_, body), *_ = receiver.got
    assert NAME in body.decode()
