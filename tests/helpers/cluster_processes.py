"""For the tests that run `tether monitor` instances as processes sharing one database:
an instance running until the test is done with it, and an HTTP target the test takes
down (its port then refuses) and brings back."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from tests.helpers.processes import running


class Target:
    """An HTTP server answering 200, that the test takes down (its port then refuses) and
    brings back on the same address."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self._server: HTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    def up(self) -> None:
        class Ok(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        class Server(HTTPServer):
            allow_reuse_address = True
            request_queue_size = 128

        self._server = Server((self.host, self.port), Ok)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def instance(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    args = [sys.executable, "-m", "tether.cli", "monitor", "--config", str(config)]
    with running(args, log) as proc:
        yield proc
