"""A plain ``http://`` hop's connection: the exchange read and written on an asyncio
``Protocol`` of its own, not through asyncio's streams.

A probe writes one request and reads one answer.  Streams made it pay for a reader, a
writer and their protocol, a future per read, and ``asyncio.timeout`` (a ``Timeout``, a
timer and the task's cancel bookkeeping) around each read: about 120,000 instructions a
probe on uvloop (callgrind), against 80,000 for the whole connection, request and answer
on a bare protocol.  :class:`Wire` keeps what ``_http.exchange`` used of them, with the
same behaviour:

- ``receive(timeout)`` is ``StreamReader.read`` under ``asyncio.timeout``: what has
  arrived (``b""`` at the end of the stream), the connection's error once it broke (even
  with data still unread, as a ``StreamReader``), ``TimeoutError`` after ``timeout`` s
  without progress; one timer a wait, none when the data is there;
- reading pauses while more than :data:`HIGH_WATER` bytes wait unread (a ``StreamReader``
  pauses at twice its 64 KiB limit), so a large body is not taken in faster than the
  exchange reads it and stops at ``max_body``;
- ``drain()`` is ``StreamWriter.drain``: the error of a broken connection, else a wait
  only while the transport has asked to pause writing.

The connection's error is kept here alone (no future that nothing reads, as
``_walk._StreamProtocol`` says of asyncio's own), and the walk aborts the transport when
it ends, as it aborts a stream's.  TLS and proxies keep asyncio's streams.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Final, cast

HIGH_WATER: Final = 128 * 1024
"""Unread bytes past which the transport stops reading until the exchange reads them."""
READ_SIZE: Final = 65536
"""The most bytes one :meth:`Wire.receive` returns, as the probe read a stream."""


class Wire(asyncio.Protocol):
    """One connection's protocol, and its reading and writing for ``_http.exchange``."""

    __slots__ = (
        "_chunks",
        "_eof",
        "_exc",
        "_loop",
        "_lost",
        "_paused",
        "_size",
        "_waiter",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._chunks: list[bytes] = []
        self._size = 0
        self._eof = False
        self._exc: BaseException | None = None
        self._lost = False
        self._waiter: asyncio.Future[bool] | None = None
        self._paused: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport

    # -- the protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > HIGH_WATER:
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return True  # half-closed: the walk aborts the connection when it is done

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self._exc is None:
            self._exc = exc
        self._eof = self._lost = True
        self._wake()
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    def pause_writing(self) -> None:
        if self._paused is None:
            self._paused = self._loop.create_future()

    def resume_writing(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    # -- what the exchange uses --------------------------------------------------------

    async def receive(self, timeout: float, limit: int = READ_SIZE) -> bytes:
        """What has arrived, at most ``limit`` bytes, ``b""`` at the end of the stream;
        the connection's error; ``TimeoutError`` when nothing came for ``timeout`` s.  (At
        most ``limit``, as ``StreamReader.read(limit)``: the gRPC call checks its answer's
        size between reads, before HTTP/2's flow control window could be broken.)"""
        if not self._chunks and not self._eof and self._exc is None:
            waiter = self._waiter = self._loop.create_future()
            timer = self._loop.call_later(timeout, _expire, waiter)
            try:
                arrived = await waiter
            finally:
                timer.cancel()
                self._waiter = None
            if not arrived:
                raise TimeoutError
        if self._exc is not None:
            raise self._exc
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(data) > limit:
            data, rest = data[:limit], data[limit:]
            self._chunks = [rest]
        else:
            self._chunks = []
        before = self._size
        self._size = before - len(data)
        if before > HIGH_WATER >= self._size:
            self.transport.resume_reading()
        return data

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    async def drain(self) -> None:
        """Until the transport takes more: at once unless it asked to pause writing."""
        if self._exc is not None:
            raise self._exc
        if self.transport.is_closing():
            await asyncio.sleep(0)  # as StreamWriter.drain: let connection_lost be seen
        if self._lost:
            raise ConnectionResetError("Connection lost")
        if self._paused is not None:
            await self._paused


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


async def open_wire(sock: socket.socket) -> Wire:
    """A :class:`Wire` over the connected socket ``sock``, which is closed if this fails
    or is cancelled."""
    loop = asyncio.get_running_loop()
    wire = Wire(loop)
    try:
        await loop.create_connection(lambda: wire, sock=sock)
    except BaseException:
        sock.close()
        raise
    return wire
