"""Small words in what the commands print: counts in the singular when there is one, and an
IPv6 address bracketed wherever a port follows it (``[::1]:8080``, never ``::1:8080``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tether._plural import count
from tether.cli import main
from tether.monitor.alerts import EmailChannel


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Hops(BaseHTTPRequestHandler):
    """/one redirects once (to /end), /two twice (to /one)."""

    def do_GET(self) -> None:
        location = {"/one": "/end", "/two": "/one"}.get(self.path)
        self.send_response(302 if location else 200)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def v6_server() -> Iterator[int]:
    """An HTTP server on [::1] that redirects; its port."""
    server = _V6Server(("::1", 0), _Hops)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_count_is_singular_for_one() -> None:
    """count() writes 1 in the singular and any other number in the plural."""
    assert count(1, "redirect") == "1 redirect"
    assert count(0, "redirect") == "0 redirects"
    assert count(2, "alert channel") == "2 alert channels"
    assert count(3, "query", "queries") == "3 queries"


def test_diagnose_says_1_redirect_and_brackets_ipv6(
    v6_server: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tether diagnose` on [::1]: the url line shows [::1]:PORT, one hop is "1 redirect"
    and two are "2 redirects"."""
    base = f"http://[::1]:{v6_server}"
    assert main(["diagnose", f"{base}/one", "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    url_line = next(line for line in out.splitlines() if line.lstrip().startswith("url "))
    assert url_line.endswith(f"http [::1]:{v6_server}")
    http_line = next(line for line in out.splitlines() if line.lstrip().startswith("http "))
    assert http_line.endswith(", 1 redirect")
    assert main(["diagnose", f"{base}/two", "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-2].endswith(", 2 redirects")


def test_email_channel_repr_brackets_an_ipv6_server() -> None:
    """An SMTP server given as an IPv6 address shows as smtp://[::1]:2525 in the repr."""
    channel = EmailChannel("mail", "::1", 2525, "t@lab.test", ["o@lab.test"])
    assert "smtp://[::1]:2525 " in repr(channel)
