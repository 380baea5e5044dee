"""benchmarks/_floor.py, the yardstick of issue 46 §5, does the work it is counted for: a
real GET on loopback through each floor client counts the call for the budget and the
breaker, stores the success's moment, and goes through tether's total-time machinery (the
requests floor registers its socket with the thread's timer and disarms it; the httpx floor
reads through tether's network backend).  A floor that skipped one of these would make
the round 9 figures a floor of less than the promises."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import get_ident

import httpx
import pytest

from tests.helpers.bench_runs import bench_module
from tether.integrations import _cutoff
from tether.integrations import httpx as thx
from tether.integrations import requests as treq

pytestmark = pytest.mark.bench


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_requests_floor_keeps_its_promises(url: str) -> None:
    floor = bench_module("_floor")
    with floor.FloorSession() as s:
        response = s.get(url)
        assert response.status_code == 200
        assert type(response) is treq._Response  # the redacting class
        assert next(s.calls) == 1  # counted once for the budget
        assert next(s.window) == 1  # and once for the breaker's window
        assert list(s.last_success) == [url.removeprefix("http://").rstrip("/")]
        timer = _cutoff._timers[get_ident()]
        assert timer.at == math.inf  # disarmed after the call
        assert len(timer.socks) == 1  # the attempt's socket was watched


def test_the_httpx_floor_keeps_its_promises(url: str) -> None:
    floor = bench_module("_floor")
    transport = floor.FloorTransport()
    assert isinstance(transport.inner._pool._network_backend, thx._Backend)
    with httpx.Client(transport=transport) as client:
        response = client.get(url)
    assert response.status_code == 200
    assert response.content == b"ok"
    assert next(transport.calls) == 1
    assert next(transport.window) == 1
    assert list(transport.last_success) == [url.removeprefix("http://").rstrip("/")]
    assert thx._ends_at.get() is None  # reset after the call
