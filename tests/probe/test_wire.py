"""A plain http:// hop's connection (probe/_wire.py) reads as the stream it replaced: at
most what was asked, paused while too much waits unread, silence a TimeoutError, and the
connection's error before what is still unread."""

from __future__ import annotations

import asyncio
import socket

from tether.probe._wire import HIGH_WATER, READ_SIZE, Wire, open_wire


async def _pair() -> tuple[Wire, socket.socket]:
    """A Wire connected to a plain socket on loopback (the peer, for the test to drive)."""
    listener = socket.create_server(("127.0.0.1", 0))
    sock = socket.create_connection(listener.getsockname())
    peer, _ = listener.accept()
    listener.close()
    sock.setblocking(False)
    return await open_wire(sock), peer


def test_a_large_answer_is_read_in_pieces_with_reading_paused_meanwhile() -> None:
    """Four times the high-water mark sent at once comes back whole, in pieces of at most
    READ_SIZE, and the transport stops reading while more than HIGH_WATER waits."""

    async def main() -> tuple[bytes, list[int], bool]:
        wire, peer = await _pair()
        sent = bytes(range(256)) * (4 * HIGH_WATER // 256)
        peer.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(peer, sent)
        peer.shutdown(socket.SHUT_WR)
        while wire._size <= HIGH_WATER:  # the transport's first reads
            await asyncio.sleep(0.01)
        paused = not wire.transport.is_reading()
        got, sizes = b"", []
        while data := await wire.receive(5):
            sizes.append(len(data))
            got += data
        wire.transport.abort()
        peer.close()
        return got == sent, sizes, paused

    whole, sizes, paused = asyncio.run(main())
    assert whole
    assert max(sizes) <= READ_SIZE
    assert paused


def test_silence_is_a_timeout_and_a_reset_is_raised_before_unread_data() -> None:
    """Nothing sent: TimeoutError after the wait.  Bytes then a reset: the reset, as a
    StreamReader raises its exception before its buffer."""

    async def main() -> tuple[bool, BaseException | None]:
        wire, peer = await _pair()
        try:
            await wire.receive(0.05)
        except TimeoutError:
            timed_out = True
        else:
            timed_out = False
        wire.data_received(b"partial")
        wire.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        raised: BaseException | None = None
        try:
            await wire.receive(5)
        except OSError as exc:
            raised = exc
        wire.transport.abort()
        peer.close()
        return timed_out, raised

    timed_out, raised = asyncio.run(main())
    assert timed_out
    assert isinstance(raised, ConnectionResetError)
