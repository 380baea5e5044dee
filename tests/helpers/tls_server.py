"""A loopback HTTPS server answering every GET 200 with an empty body, presenting the
certificate the test made (trustme), for tests whose point is the certificate."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme


class OkHandler(BaseHTTPRequestHandler):
    """Answers every GET 200 with an empty body, and logs nothing."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def https_server(leaf: trustme.LeafCert) -> Iterator[int]:
    """The port of an HTTPS server on 127.0.0.1 presenting ``leaf``, until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
