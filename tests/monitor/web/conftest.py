"""The web tests' fixtures: one headless Chromium for a module, and a webhook receiver
on loopback for the subscriber tests."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from tests.helpers.subscribed import Hook


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, with its calls home switched off (skips
    without it, fails instead when TETHER_REQUIRE_CHROMIUM=1; tests/helpers/web_harness.py)."""
    from tests.helpers.web_harness import chromium  # not at import: it imports the monitor

    with chromium() as launched:
        yield launched


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    """A webhook receiver on 127.0.0.1: its URL and the class that keeps what it got."""

    class Mine(Hook):
        got: ClassVar[list[tuple[bytes, str]]] = []

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Mine
    server.shutdown()
    server.server_close()
