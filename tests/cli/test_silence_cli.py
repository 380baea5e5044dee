"""`tether silence add|list|expire` against a real `tether monitor` process on loopback,
whose alerts go to a real webhook receiver: a silence made from the command line keeps
the alert of the monitor it selects (recorded as suppressed, never sent), and the
commands' one-line errors keep stable exit codes.

The monitor watches a target of the test's own, up while the silence is made and then
stopped, so the alert falls due under the silence at once (no outbox backoff to wait
out; a silence made after an alert is queued is tests/monitor's, on a fake clock).
The process runs on real time; each wait polls with a bound (tests/helpers/processes.py)."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor, tether
from tests.helpers.tls_server import OkHandler


class Target:
    """A target that answers 200 until :meth:`stop`, then refuses (its port closed)."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.stopped = False
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()


class Running:
    def __init__(self, tmp: Path, target: Target, receiver: Receiver) -> None:
        self.port = free_port()
        self.config = tmp / "tether.yaml"
        self.config.write_text(
            f'storage: {{path: "{tmp / "tether.db"}"}}\n'
            f'server: {{listen: "127.0.0.1:{self.port}"}}\n'
            f'alerts: [{{name: ops, type: webhook, url: "{receiver.url}"}}]\n'
            "monitors:\n"
            f"  - {{name: down, url: '{target.url}', interval: 1s, timeout: 500ms,\n"
            "      failure_threshold: 1, alerts: [ops], labels: {service: checkout}}\n"
        )
        self.server = f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> tuple[int, str, str]:
        return tether(*args, "--server", self.server)

    def read(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.server + path, timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            return None


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.stop()


@pytest.fixture
def running(target: Target, tmp_path: Path, receiver: Receiver) -> Iterator[Running]:
    r = Running(tmp_path, target, receiver)
    receiver.start()
    with monitor(r.config, tmp_path / "monitor.log") as proc:
        wait_for(
            lambda: (r.read("/api/status") or {}).get("monitors", {}).get("down") == "up",
            procs=[proc],
        )
        yield r


def test_a_silence_from_the_command_line_keeps_the_alert(
    running: Running, receiver: Receiver, target: Target
) -> None:
    """`silence add` makes an active silence; the alert it selects, due when the target
    then goes down, is recorded as suppressed and never sent, though the receiver
    answers; `silence list` shows it; `silence expire` ends it, once; the audit log has
    both."""
    code, out, err = running.cli(
        "silence", "add", "--match", 'service="checkout"', "--for", "2h", "--comment", "deploy"
    )
    assert (code, err) == (0, "")
    assert out.startswith("silence 1 active from ")
    assert out.endswith(': service="checkout"\n')
    target.stop()
    kept = wait_for(lambda: (running.read("/api/alerts/suppressed") or {}).get("alerts"))
    assert [(a["monitor"], a["why"]) for a in kept] == [
        ("down", "silenced by #1 (deploy, by local)")
    ]
    assert receiver.got == []
    code, out, _ = running.cli("silence", "list")
    assert code == 0
    assert out.startswith("1  active  ")
    assert out.endswith('service="checkout"  deploy (local)\n')
    assert running.cli("silence", "expire", "1")[:2] == (0, "silence 1 expired\n")
    assert running.cli("silence", "expire", "1")[:2] == (
        0,
        "silence 1 was expired or over already\n",
    )
    entries = running.read("/api/audit")["entries"]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("silence.expire", "silence:1"),
        ("silence.add", "silence:1"),
    ]
    assert receiver.got == []  # the silence is over: the alert it kept is not replayed


def test_bad_input_and_no_server_say_why_in_one_line(running: Running, tmp_path: Path) -> None:
    """A matcher that is not one and an unknown silence are exit 2 with the server's
    reason; no server answering is exit 3; nothing is printed on standard output."""
    code, out, err = running.cli(
        "silence", "add", "--match", "service", "--for", "1h", "--comment", "x"
    )
    assert (code, out) == (2, "")
    assert err.startswith("tether silence add: ")
    assert "is not a matcher" in err
    assert err.count("\n") == 1
    code, out, err = running.cli("silence", "expire", "42")
    assert (code, out) == (2, ""), err
    assert "no silence #42" in err
    code, out, err = tether("silence", "list", "--server", f"http://127.0.0.1:{free_port()}")
    assert (code, out) == (3, "")
    assert err.startswith("tether silence list: ")
