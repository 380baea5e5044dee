"""A TLS-terminating proxy, as a reverse proxy (nginx, Caddy) stands in front of a
monitor: ``python tls_proxy.py CERT KEY HOST PORT TO_HOST TO_PORT`` accepts TLS on
HOST:PORT and pipes each connection's bytes to TO_HOST:TO_PORT in the clear.  Prints
``ready`` once listening.  Run as a script (in a network namespace of a test's own)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def main(cert: str, key: str, host: str, port: int, to_host: str, to_port: int) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(to_host, to_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(serve, host, port, ssl=context)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    cert, key, host, port, to_host, to_port = sys.argv[1:7]
    asyncio.run(main(cert, key, host, int(port), to_host, int(to_port)))
