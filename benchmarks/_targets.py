"""The benchmarks' HTTP targets: small asyncio servers in a child process (so that the
client being measured has the machine's event loop to itself), answering ``200 OK`` with
``Connection: close`` on loopback addresses; a line on the child's stdin takes one
address down (refusing) or brings it back.

Run as a script by :class:`Targets`: ``python _targets.py HOST [HOST ...]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)


class _Answer(asyncio.Protocol):
    """Answer the first request head with 200, then close the connection."""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if b"\r\n\r\n" in self.buf and self.transport is not None:
            self.transport.write(_OK)
            self.transport.close()
            self.transport = None


async def _serve(hosts: list[str]) -> None:
    """Listen on a free port of each host; ``down ADDR`` / ``up ADDR`` on stdin switch one."""
    loop = asyncio.get_running_loop()
    servers: dict[str, asyncio.Server] = {}

    async def listen(host: str, port: int) -> str:
        server = await loop.create_server(_Answer, host, port, reuse_address=True, backlog=4096)
        address = f"{host}:{server.sockets[0].getsockname()[1]}"
        servers[address] = server
        return address

    listening = [await listen(host, 0) for host in hosts]
    print(json.dumps(listening), flush=True)
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read, daemon=True).start()
    while line := await lines.get():
        command, address = line.split()
        if command == "down":
            servers[address].close()
        else:
            host, port = address.rsplit(":", 1)
            await listen(host, int(port))
        print(f"ok {command} {address}", flush=True)


class Targets:
    """A child process answering on ``hosts``: each listens on a free port."""

    def __init__(self, hosts: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), *hosts],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a benchmark target server did not start")
        self.addresses: list[str] = json.loads(line)
        self._lock = threading.Lock()  # one command and its answer at a time

    def switch(self, command: str, address: str) -> float:
        """``down`` or ``up``; returns the wall time (``time.time()``) it took effect."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(f"{command} {address}\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline().split()
        assert answer == ["ok", command, address], answer
        return time.time()

    def cpu(self) -> float:
        """Seconds of CPU the child has used (Linux ``/proc``; 0 elsewhere)."""
        return proc_cpu(f"/proc/{self.proc.pid}/stat")

    def close(self) -> None:
        end_child(self.proc)


def proc_cpu(stat_path: str) -> float:
    """utime + stime from a ``/proc/.../stat`` file, in seconds."""
    try:
        with open(stat_path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def target_servers(processes: int, hosts_each: int, subnet: int) -> Iterator[list[Targets]]:
    """``processes`` children, each on ``hosts_each`` addresses 127.0.SUBNET+i.1.. ."""
    started: list[Targets] = []
    try:
        for p in range(processes):
            hosts = [f"127.0.{subnet + p}.{h + 1}" for h in range(hosts_each)]
            started.append(Targets(hosts))
        yield started
    finally:
        for t in started:
            t.close()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1:]))


def end_child(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """End a child that serves until its stdin closes: close it, wait ``timeout`` seconds,
    then kill; and close the pipe it answered on."""
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
