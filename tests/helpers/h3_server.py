"""A real HTTP/3 server on loopback, made with aioquic (the library tether's HTTP/3 probe
uses, as its own ``examples/http3_server.py`` does), in an event loop of its own thread.

Its answers by path: ``/`` 200 ``ok``; ``/503`` 503 with ``Retry-After: 7``; ``/slow``
never answers (the stream stays open); ``/big`` 200 with 64 KiB; ``/redirect`` 302 to
``/``; anything else 404.  Every answer carries ``x-h3: yes``."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest


def require_aioquic() -> None:
    """Skip the calling module when aioquic (``tether[http3]``) is not installed, or fail
    it when ``TETHER_REQUIRE_AIOQUIC=1`` says it must be."""
    if importlib.util.find_spec("aioquic") is not None:
        return
    if os.environ.get("TETHER_REQUIRE_AIOQUIC") == "1":
        pytest.fail("aioquic is not installed and TETHER_REQUIRE_AIOQUIC=1", pytrace=False)
    pytest.skip("aioquic (tether[http3]) is not installed", allow_module_level=True)


require_aioquic()

from aioquic.asyncio import QuicConnectionProtocol, serve  # noqa: E402
from aioquic.asyncio.server import QuicServer  # noqa: E402
from aioquic.h3.connection import H3_ALPN, H3Connection  # noqa: E402
from aioquic.h3.events import HeadersReceived  # noqa: E402
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402
from aioquic.quic.events import ProtocolNegotiated, QuicEvent  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: E402

T = TypeVar("T")
_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)

_ANSWERS: dict[str, tuple[int, list[tuple[bytes, bytes]], bytes]] = {
    "/": (200, [], b"ok"),
    "/503": (503, [(b"retry-after", b"7")], b"down"),
    "/big": (200, [], b"x" * 65536),
    "/redirect": (302, [(b"location", b"/")], b""),
}


class _Handler(QuicConnectionProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.h3: H3Connection | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self.h3 = H3Connection(self._quic)
        if self.h3 is None:
            return
        for h in self.h3.handle_event(event):
            if isinstance(h, HeadersReceived):
                path = dict(h.headers).get(b":path", b"/").decode()
                self._answer(h.stream_id, path)

    def _answer(self, stream_id: int, path: str) -> None:
        assert self.h3 is not None
        if path == "/slow":
            return
        status, extra, body = _ANSWERS.get(path, (404, [], b"no such page"))
        headers = [
            (b":status", str(status).encode()),
            (b"content-length", str(len(body)).encode()),
            (b"x-h3", b"yes"),
            *extra,
        ]
        self.h3.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.h3.send_data(stream_id, body, end_stream=True)
        self.transmit()


def _configuration(chain: Path, alpn: list[str]) -> QuicConfiguration:
    """The server's configuration from one PEM holding its key and certificates (as the
    lab's and trustme's files are)."""
    pem = chain.read_bytes()
    config = QuicConfiguration(is_client=False, alpn_protocols=alpn)
    certs = x509.load_pem_x509_certificates(pem)
    config.certificate, config.certificate_chain = certs[0], certs[1:]
    found = _KEY.search(pem)
    assert found is not None, f"{chain} holds no private key"
    config.private_key = load_pem_private_key(found.group(0), password=None)  # type: ignore[assignment]
    return config


def _run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(10)


async def _stop(server: QuicServer) -> None:
    """Close the server and let the loop close its socket (the transport does so on the
    loop's next turn), so the port refuses once the block is left."""
    server.close()
    for _ in range(3):
        await asyncio.sleep(0)


@contextmanager
def h3_server(chain: Path, *, alpn: list[str] | None = None) -> Iterator[int]:
    """The UDP port of an HTTP/3 server on 127.0.0.1 presenting ``chain`` (key and
    certificates in one PEM), until the block ends; ``alpn``: the protocols it accepts
    (HTTP/3's by default)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    config = _configuration(chain, H3_ALPN if alpn is None else alpn)

    async def start() -> QuicServer:
        return await serve("127.0.0.1", 0, configuration=config, create_protocol=_Handler)

    try:
        server = _run(loop, start())
        port = int(server._transport.get_extra_info("sockname")[1])
        try:
            yield port
        finally:
            _run(loop, _stop(server))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
