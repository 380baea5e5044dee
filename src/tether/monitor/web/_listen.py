"""The monitor's listening port, held by one monitor alone.

:func:`listening_sockets` binds and listens on every address of ``server.listen`` with
``SO_REUSEADDR`` only (a restart is not kept waiting by the last run's connections in
TIME_WAIT), never ``SO_REUSEPORT``: with it, any process of the same user that sets it
too may bind the same port, and the kernel then splits the clients between the two
without a word (a second ``tether monitor`` with the same ``listen:`` once took 4 of
every 10 requests).  With worker processes the coordinator makes these sockets and every
worker accepts on them, inherited (as nginx, gunicorn and uvicorn's workers share their
master's): the port is the monitor's and its workers', and nobody else's.

When the port is taken, :class:`PortInUse` says which process holds it (:func:`holder`,
from ``/proc``, as ``ss -tlnp`` finds it), in one line.  While the workers start (a
second or more each, importing tether), the coordinator itself answers the sockets it
made (:func:`answering_starting`): a 503 with ``Retry-After: 1`` at once, rather than a
connection that waits in the queue for seconds.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Final, cast

from tether._redact import MASK, is_secret_name, redact_text

__all__ = ["BACKLOG", "PortInUse", "Starting", "answering_starting", "holder", "listening_sockets"]

BACKLOG: Final = 1024
"""Connections the kernel may queue before they are accepted (aiohttp's default is 128:
a burst of clients beside slow ones should reach the server's cap, not the backlog)."""
_PROC: Final = Path("/proc")
_LISTEN: Final = "0A"
"""A listening socket's state in /proc/net/tcp."""
_SHOWN: Final = 120
"""The most of a holder's command line the message shows (characters)."""


_STARTING_BODY: Final = json.dumps({"error": "tether monitor is starting"}).encode()
_STARTING: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n"
    + f"Content-Length: {len(_STARTING_BODY)}\r\n\r\n".encode()
    + _STARTING_BODY
)
_HEAD_MAX: Final = 65536


class PortInUse(OSError):
    """The port is held by another process: the message names the port and the holder."""

    def __init__(self, port: int, held_by: str) -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} is in use by {held_by}")
        self.port = port
        self.held_by = held_by

    def __str__(self) -> str:
        return str(self.strerror)


def listening_sockets(host: str | None, port: int) -> list[socket.socket]:
    """A listening socket on ``port`` for each address ``host`` names (every address of
    the machine for none; port 0 takes a free port, the same for all); raises
    :class:`PortInUse` when another process holds the port, or :class:`OSError`."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise OSError(f"{host}: {exc.strerror}") from exc
    made: list[socket.socket] = []
    try:
        for family, kind, proto, _, given in dict.fromkeys(infos):
            address = given
            if made:  # every address on the port the first one got
                address = (given[0], made[0].getsockname()[1], *given[2:])
            sock = socket.socket(family, kind, proto)
            made.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                # Both can fail: two sockets with SO_REUSEADDR may bind one port while
                # neither listens, and the second to listen is refused.
                sock.bind(address)
                sock.listen(BACKLOG)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    taken = int(address[1])
                    raise PortInUse(taken, holder(taken)) from None
                raise
            sock.setblocking(False)
    except BaseException:
        for sock in made:
            sock.close()
        raise
    return made


def holder(port: int, proc: Path = _PROC) -> str:
    """Who listens on TCP ``port`` on this machine: ``pid 4242 (tether monitor --config
    a.yaml)`` for the process that made the socket (of several sharing it, the one the
    others descend from: a monitor, not its workers), or what can be said without."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return "another process"
    pids = _holding(inodes, proc)
    if not pids:
        return "a process of another user (sudo ss -tlnp names it)"
    parents = {pid: _parent(pid, proc) for pid in pids}
    first = min(pid for pid in pids if parents[pid] not in pids) if len(pids) > 1 else pids[0]
    return f"pid {first} ({_command(first, proc)})"


def _listening_inodes(port: int, proc: Path) -> set[str]:
    found = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            if int(fields[1].rpartition(":")[2], 16) == port:
                found.add(fields[9])
    found.discard("0")
    return found


def _holding(inodes: set[str], proc: Path) -> list[int]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:  # another user's, or gone
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in wanted:
                    pids.append(int(entry.name))
                    break
            except OSError:
                continue
    return sorted(pids)


def _parent(pid: int, proc: Path) -> int | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command's name is in parentheses and may hold spaces: the fields follow its end.
    fields = stat.rpartition(")")[2].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def _command(pid: int, proc: Path) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "gone since"
    words = [w for w in raw.rstrip(b"\0").decode("utf-8", "replace").split("\0") if w]
    # A command line may hold a secret (``--token T``, ``--password=P``, a URL's
    # password): masked, and cut to one line's worth.
    shown, secret_next = [], False
    for word in words:
        name, equals, _ = word.partition("=")
        option = word.startswith("-") and is_secret_name(name.lstrip("-"))
        if secret_next:
            shown.append(MASK)
        elif option and equals:
            shown.append(f"{name}={MASK}")
        else:
            shown.append(word)
        secret_next = option and not equals
    text = redact_text(" ".join(shown)).replace("\n", " ")
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


class _Starting(asyncio.Protocol):
    """One connection while the workers start: its request's head read, then the 503."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._head += data
        if b"\r\n\r\n" in self._head or len(self._head) > _HEAD_MAX:
            assert self._transport is not None
            if not self._transport.is_closing():
                self._transport.write(_STARTING)
                self._transport.close()


class Starting:
    """The coordinator's answer to its listening sockets while no worker accepts on them
    yet (:func:`answering_starting`); :meth:`close` (at once when the first worker is
    ready: from then on the two would share the connections) leaves them to the workers."""

    def __init__(self, servers: Sequence[asyncio.AbstractServer]) -> None:
        self._servers = list(servers)

    def close(self) -> None:
        for server in self._servers:
            server.close()
        self._servers = []


async def answering_starting(sockets: Sequence[socket.socket]) -> Starting:
    """Answer every connection to ``sockets`` with a 503 (``Retry-After: 1``) until the
    result is closed; the sockets themselves stay open and listening."""
    loop = asyncio.get_running_loop()
    servers = []
    try:
        for sock in sockets:
            copy = socket.socket(fileno=os.dup(sock.fileno()))  # closed with its server
            servers.append(await loop.create_server(_Starting, sock=copy, backlog=BACKLOG))
    except BaseException:
        Starting(servers).close()
        raise
    return Starting(servers)
