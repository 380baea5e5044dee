"""Classify by what happened, not by how the exception happened to be built.

A reset is a reset whether it carries errno 104 or none; the end of the stream in a TLS
handshake is a failed handshake whether OpenSSL (``SSLEOFError``), asyncio (a bare
``ConnectionResetError``) or anyio (``EndOfStream``) reports it; asyncio's words about
several addresses are read when asyncio raised them.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import warnings
from urllib.parse import urlsplit

import aiohttp
import pytest

from tether import Kind, classify
from tether.lab import Lab


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ConnectionResetError(), Kind.CONNECTION_RESET),
        (ConnectionResetError("Connection lost"), Kind.CONNECTION_RESET),
        (
            aiohttp.ClientConnectionResetError("Cannot write to closing transport"),
            Kind.CONNECTION_RESET,
        ),
        (ConnectionRefusedError(), Kind.CONNECT_REFUSED),
        (BrokenPipeError(), Kind.CONNECTION_BROKEN_PIPE),
        (ConnectionAbortedError(), Kind.CONNECTION_ABORTED),
    ],
    ids=repr,
)
def test_connection_errors_without_errno(exc: BaseException, kind: Kind) -> None:
    """The builtin connection errors name what happened even without an errno, as asyncio
    and aiohttp raise them ("Connection lost", a bare reset)."""
    failure = classify(_raised(exc))
    assert failure.kind is kind
    assert failure.errno is None


@pytest.fixture
def tls_eof(lab: Lab) -> tuple[str, int, ssl.SSLContext]:
    parts = urlsplit(lab["tls_eof"].url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port, lab.client_ssl_context()


def test_asyncio_tls_handshake_cut_is_a_tls_failure(
    tls_eof: tuple[str, int, ssl.SSLContext],
) -> None:
    """asyncio reports a server that closes after the ClientHello as a bare
    ConnectionResetError from ``start_tls``: tls.protocol, as ssl's SSLEOFError is."""
    host, port, context = tls_eof

    async def go() -> BaseException:
        _, writer = await asyncio.open_connection(host, port)
        try:
            await writer.start_tls(context, server_hostname="localhost")
        except ConnectionResetError as exc:
            return exc
        finally:
            writer.close()
        raise AssertionError("the handshake succeeded")

    exc = asyncio.run(go())
    assert exc.errno is None  # type: ignore[attr-defined]
    failure = classify(exc)
    assert failure.kind is Kind.TLS_PROTOCOL
    assert "closed the connection during the TLS handshake" in failure.detail


def test_ssl_module_tls_handshake_cut_is_the_same(tls_eof: tuple[str, int, ssl.SSLContext]) -> None:
    """The blocking ssl module, for the same server, raises SSLEOFError: the same kind."""
    host, port, context = tls_eof
    with (
        socket.create_connection((host, port), timeout=5) as sock,
        pytest.raises(ssl.SSLError) as caught,
    ):
        context.wrap_socket(sock, server_hostname="localhost")
    assert classify(caught.value).kind is Kind.TLS_PROTOCOL


def test_aiohttp_tls_handshake_cut(tls_eof: tuple[str, int, ssl.SSLContext]) -> None:
    """aiohttp wraps asyncio's bare reset in ClientConnectorError: still tls.protocol."""
    host, port, context = tls_eof

    async def go() -> BaseException:
        async with aiohttp.ClientSession() as session:
            try:
                await session.get(f"https://{host}:{port}/", ssl=context)
            except aiohttp.ClientError as exc:
                return exc
        raise AssertionError("the request succeeded")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        exc = asyncio.run(go())
    assert classify(exc).kind is Kind.TLS_PROTOCOL


def test_asyncio_multiple_exceptions_from_asyncio() -> None:
    """asyncio's ``OSError("Multiple exceptions: ...")``, one refusal per address, raised by
    a real create_connection to two closed loopback ports.  The loop's getaddrinfo is
    replaced to hand it two addresses: outside a namespace the system resolver cannot be
    pointed at the lab."""
    closed = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed.append(s.getsockname())

    async def go() -> BaseException:
        loop = asyncio.get_running_loop()

        async def two_addresses(*_: object, **__: object) -> list[tuple[object, ...]]:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", addr) for addr in closed]

        loop.getaddrinfo = two_addresses  # type: ignore[method-assign]
        try:
            await loop.create_connection(asyncio.Protocol, "two.lab.test", 80)
        except OSError as exc:
            return exc
        raise AssertionError("a connection succeeded")

    exc = asyncio.run(go())
    assert str(exc).startswith("Multiple exceptions: ")
    assert exc.errno is None  # type: ignore[attr-defined]
    assert classify(exc).kind is Kind.CONNECT_REFUSED
