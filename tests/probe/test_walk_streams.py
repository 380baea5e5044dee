"""The walk's streams keep a connection's error in one place: the reader.

asyncio's own stream protocol also keeps it in a future that only
``StreamWriter.wait_closed()`` reads. The walk never waits for a close, so after a
failed TLS handshake that future sat in a reference cycle with the error's traceback,
and when the collector happened to finalize it first, ``tether demo`` printed "Future
exception was never retrieved" and the whole traceback (seen on uvloop in CI)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from tether.lab import Lab
from tether.probe._walk import open_stream


def _loops() -> list[Any]:
    loops: list[Any] = [pytest.param(None, id="asyncio")]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the monitor extra installs it
        return loops
    return [*loops, pytest.param(uvloop.new_event_loop, id="uvloop")]


def _run(factory: Callable[[], asyncio.AbstractEventLoop] | None, main: Any) -> Any:
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


@pytest.mark.parametrize("factory", _loops())
def test_a_failed_handshake_leaves_its_error_with_the_reader_only(
    factory: Callable[[], asyncio.AbstractEventLoop] | None, lab: Lab
) -> None:
    """After a handshake that fails verification and an abort, the reader raises the
    error, and ``wait_closed()`` (the future asyncio would have left unread) does not."""
    target = lab["tls_expired"]
    host, port = target.host, target.port

    async def main() -> tuple[BaseException | None, BaseException | None]:
        sock = socket.create_connection((host, port), timeout=5)
        sock.setblocking(False)
        reader, writer = await open_stream(sock)
        ctx = ssl.create_default_context(cafile=lab.ca_file)
        with pytest.raises(ssl.SSLCertVerificationError):
            await writer.start_tls(ctx, server_hostname=host)
        writer.transport.abort()
        await asyncio.sleep(0)  # connection_lost is called soon, not at once
        await asyncio.sleep(0)
        read: BaseException | None = None
        try:
            await reader.read()
        except (ssl.SSLError, OSError) as exc:
            read = exc
        closed: BaseException | None = None
        try:
            await writer.wait_closed()
        except BaseException as exc:  # the very thing looked for
            closed = exc
        return read, closed

    read, closed = _run(factory, main())
    assert isinstance(read, ssl.SSLCertVerificationError)
    assert closed is None
