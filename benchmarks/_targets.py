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
import signal
import socket
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

    def switch_all(self, command: str) -> list[float]:
        """``down`` or ``up`` each address in turn (:meth:`switch`); the wall time each
        took effect."""
        return [self.switch(command, a) for a in self.addresses]

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


def proc_cpu(stat_path: str, *, children: bool = False) -> float:
    """utime + stime from a ``/proc/.../stat`` file, in seconds; ``children``: with
    cutime + cstime, the CPU of its children that ended and were waited for."""
    try:
        with open(stat_path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


NGINX = "/usr/sbin/nginx"
"""Debian's nginx (``nginx-light``): the C targets of ``bench_probe.py --targets nginx``."""
_NGINX_CONF = """worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_timeout 0;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
{listens}
    location / {{ default_type text/plain; return 200 "ok\\n"; }}
  }}
}}
"""


class NginxTargets:
    """The same answer as :class:`Targets` (``200``, ``Connection: close``, ``ok``) from
    nginx, a C server whose CPU a request is a small part of a Python one's: one master
    and ``workers`` worker processes listening on every host at one port (nginx has no
    port 0: a port free on the first host, tried again if another process takes it
    first).  :meth:`switch_all` takes every address down or brings every one back at
    once, by a reload (``SIGHUP``) onto a configuration without them or with them again:
    nginx's master closes the listening sockets the new one leaves out (connections
    refused) or opens them again.  While they are down nginx listens on ``parking``
    alone (a loopback address nothing probes), as an ``http`` block with no ``listen``
    would take port 80."""

    def __init__(
        self, hosts: list[str], tmp: str, workers: int = 2, *, parking: str | None = None
    ) -> None:
        self._tmp, self._workers, self._parking = tmp, workers, parking
        self._conf = os.path.join(tmp, "nginx.conf")
        for _ in range(5):
            with socket.socket() as probe:
                probe.bind((hosts[0], 0))
                port = probe.getsockname()[1]
            self.addresses = [f"{h}:{port}" for h in hosts]
            self._write(up=True)
            self.proc = subprocess.Popen(
                [NGINX, "-p", tmp, "-c", self._conf],
                stdin=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._answers(hosts[0], port):
                return
            self.close()
        raise RuntimeError(f"nginx did not start: see {tmp}/error.log")

    def _write(self, *, up: bool) -> None:
        if up:
            listening = self.addresses
        elif self._parking is not None:
            listening = [f"{self._parking}:{self.addresses[0].rsplit(':', 1)[1]}"]
        else:
            raise ValueError("NginxTargets without parking= cannot take its addresses down")
        listens = "\n".join(f"    listen {a} backlog=4096;" for a in listening)
        with open(self._conf, "w") as f:
            f.write(_NGINX_CONF.format(workers=self._workers, tmp=self._tmp, listens=listens))

    def switch_all(self, command: str, limit: float = 10.0) -> list[float]:
        """``down`` or ``up`` every address at once; returns, for each address, the wall
        time (``time.time()``) it was first seen switched: refusing a connection, or
        accepting one (each looked at in turn until all have switched; a connection
        reset while the reload closes or opens a socket says neither)."""
        self._write(up=command == "up")
        os.kill(self.proc.pid, signal.SIGHUP)
        left = {a: a.rsplit(":", 1) for a in self.addresses}
        seen: dict[str, float] = {}
        end = time.monotonic() + limit
        while left:
            if time.monotonic() > end:
                raise RuntimeError(f"nginx did not switch {command}: see {self._tmp}/error.log")
            for address, (host, port) in list(left.items()):
                try:
                    with socket.create_connection((host, int(port)), timeout=1):
                        listening = True
                except ConnectionRefusedError:
                    listening = False
                except OSError:
                    # Reset: a connection caught in the accept queue of a socket being
                    # closed (or opened) by the reload; looked at again.
                    continue
                if listening == (command == "up"):
                    seen[address] = time.time()
                    del left[address]
        return sorted(seen.values())

    def _answers(self, host: str, port: int, limit: float = 10.0) -> bool:
        """Whether a worker answers a request within ``limit`` seconds.  A connection
        alone is not enough: the master listens before it takes signals, and a
        ``SIGHUP`` that came in between was taken and then waited on until the next
        signal (a reload of :meth:`switch_all` lost); a worker starts after that."""
        end = time.monotonic() + limit
        while self.proc.poll() is None and time.monotonic() < end:
            try:
                with socket.create_connection((host, port), timeout=1) as conn:
                    conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    if conn.recv(64).startswith(b"HTTP/1.1 200"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def cpu(self) -> float:
        """Seconds of CPU the master and its workers have used (Linux ``/proc``): the
        workers a reload ended count in the master's (its children waited for)."""
        pid = self.proc.pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = f.read().split()
        except OSError:
            children = []
        own = proc_cpu(f"/proc/{pid}/stat", children=True)
        return own + sum(proc_cpu(f"/proc/{c}/stat") for c in children)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # nginx's fast shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
