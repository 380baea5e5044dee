"""The listening port is one monitor's alone (issue 45, section 4): a second ``tether
monitor`` with the same ``listen:`` fails at its start with one line naming the port and
the process holding it, whatever the two run with (``workers: 1`` or ``2``, in both
orders), and the first keeps every client.  Real processes on real time; the waits
poll with a bound (tests/helpers/processes.py).

Before, the coordinator's reservation set ``SO_REUSEPORT``: a second monitor with
workers started cleanly and the kernel split the clients between the two."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.ports import free_port
from tests.helpers.tether_processes import SRC, monitor, status, wait_for
from tether.lab import Lab
from tether.monitor.web._listen import PortInUse, answering_starting, holder, listening_sockets


def monitors(port: int) -> set[str]:
    """The monitors /api/status names (none while nothing answers)."""
    try:
        return set(status(port).get("monitors", {}))
    except OSError:
        return set()


def configuration(tmp: Path, lab: Lab, name: str, port: int, workers: int) -> Path:
    """A monitor called ``name`` (its one monitor's name too) on ``port``."""
    config = {
        "storage": {"path": str(tmp / f"{name}.db")},
        "workers": workers,
        "server": {"listen": f"127.0.0.1:{port}"},
        "monitors": [{"name": name, "url": lab["healthy"].url, "interval": "1s"}],
    }
    path = tmp / f"{name}.yaml"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize(("first", "second"), [(1, 1), (1, 2), (2, 1), (2, 2)])
def test_a_second_monitor_on_the_port_fails_at_start_naming_the_holder(
    tmp_path: Path, lab: Lab, first: int, second: int
) -> None:
    """The second monitor exits 1 with one line naming the port and the first monitor's
    pid; every request to the port is then the first monitor's."""
    port = free_port()
    with monitor(configuration(tmp_path, lab, "first", port, first), tmp_path / "1.log") as one:
        wait_for(lambda: monitors(port) == {"first"}, one, limit=60)
        args = [sys.executable, "-m", "tether.cli", "monitor", "--config"]
        done = subprocess.run(
            [*args, str(configuration(tmp_path, lab, "second", port, second))],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": SRC},
            check=False,
        )
        assert done.returncode == 1, done.stderr
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(
            f"tether monitor: cannot listen on 127.0.0.1:{port}: port {port} is in use by "
            f"pid {one.pid} ("
        ), lines[0]
        assert "tether.cli monitor --config" in lines[0]
        for _ in range(10):
            assert set(status(port)["monitors"]) == {"first"}
        assert one.poll() is None


def test_the_holder_of_a_port_is_named_by_its_pid_and_command(tmp_path: Path) -> None:
    """A port this process listens on is held by this process, said with its command
    line; asking for it again raises PortInUse with that holder."""
    held = listening_sockets("127.0.0.1", 0)
    try:
        port = held[0].getsockname()[1]
        assert holder(port).startswith(f"pid {os.getpid()} (")
        with pytest.raises(PortInUse, match=rf"^port {port} is in use by pid {os.getpid()} "):
            listening_sockets("127.0.0.1", port)
        with pytest.raises(PortInUse):  # the wildcard address covers it too
            listening_sockets(None, port)
    finally:
        for sock in held:
            sock.close()


def test_a_port_nobody_listens_on_has_no_holder() -> None:
    """A port only bound, not listening, names no process (a client socket's port is
    not a listener's)."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        assert holder(sock.getsockname()[1]) == "another process"
    finally:
        sock.close()


def test_a_secret_on_the_holders_command_line_is_not_shown(tmp_path: Path) -> None:
    """The holder's command line is shown with its secrets masked (an option's value
    named like a secret, a URL's password)."""
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    header = "sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode"
    row = "0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 4242 1"
    (proc / "net" / "tcp").write_text(f"{header}\n{row}\n")
    (proc / "77" / "fd").mkdir(parents=True)
    (proc / "77" / "fd" / "3").symlink_to("socket:[4242]")
    (proc / "77" / "stat").write_text("77 (tether) S 1 77 77 0")
    (proc / "77" / "cmdline").write_bytes(
        b"tether\0monitor\0--token\0tether_abc\0--password=hunter2\0http://u:pw@h/\0"
    )
    shown = holder(8080, proc)
    assert shown == "pid 77 (tether monitor --token *** --password=*** http://u:***@h/)"


def test_while_the_workers_start_the_port_answers_503_at_once() -> None:
    """Until answering_starting's result is closed, a request to the sockets is answered at once
    with the JSON 503 and Retry-After: 1 (not left in the queue for the seconds the
    workers take to start); after it, the sockets still listen, for the workers."""
    held = listening_sockets("127.0.0.1", 0)
    port = held[0].getsockname()[1]

    async def scenario() -> tuple[bytes, bool]:
        starting = await answering_starting(held)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
        finally:
            starting.close()
        return answer, held[0].fileno() >= 0

    try:
        answer, still = asyncio.run(scenario())
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ")
        assert b"Retry-After: 1" in head
        assert json.loads(body) == {"error": "tether monitor is starting"}
        assert still
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # queued for whoever accepts next: the port is still the monitor's
        assert holder(port).startswith(f"pid {os.getpid()} (")
    finally:
        for sock in held:
            sock.close()
