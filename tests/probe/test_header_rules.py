"""Headers a user writes never silently disable a check: those that frame the request or
manage its connection (``Content-Length``, ``Transfer-Encoding``, ``Connection``,
``Upgrade``, ``TE``, ``Trailer``, ``Keep-Alive``, ``Proxy-Connection``) are refused, with one
line naming the header and why, by the configuration (a monitor's, the defaults', a
blackbox module's) and by ``tether diagnose -H``; ``Host`` is accepted only where it names
the URL's own host, and the engine writes each redirect hop's own.  The engine itself never
sends ``Transfer-Encoding`` and ``Content-Length`` together (RFC 9112, section 6.3)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.config_text import URL, dump, errors_of, monitor_errors
from tether._fieldsyntax import FRAMING
from tether.cli import main
from tether.lab import Lab
from tether.monitor.config import parse_config
from tether.probe import ProbeOptions, probe

WRITTEN = {
    "content-length": "Content-Length",
    "transfer-encoding": "Transfer-Encoding",
    "connection": "connection",
    "upgrade": "Upgrade",
    "te": "TE",
    "trailer": "Trailer",
    "keep-alive": "Keep-Alive",
    "proxy-connection": "Proxy-Connection",
}
"""Each refused name, as a user might write it (any case)."""
VALUES = {"content-length": "100", "transfer-encoding": "chunked", "connection": "close"}


def test_the_refused_names_are_the_framing_ones() -> None:
    """One list, and it is the list the docs give: these and no others."""
    assert set(FRAMING) == set(WRITTEN)


@pytest.mark.parametrize("name", sorted(WRITTEN))
def test_a_monitor_refuses_a_framing_header(name: str) -> None:
    """A monitor's framing header is one error naming it and why, not a monitor that
    stays unknown for ever."""
    written = WRITTEN[name]
    (error,) = monitor_errors(headers={written: VALUES.get(name, "x")})
    assert error.startswith(f"monitors[0].headers: {written} is not a header to write: ")
    assert FRAMING[name] in error


def test_defaults_and_modules_refuse_a_framing_header() -> None:
    """The same rule holds for defaults.headers and for a blackbox module's http.headers."""
    text = dump(
        defaults={"headers": {"Transfer-Encoding": "chunked"}},
        modules={"cl": {"prober": "http", "http": {"headers": {"Content-Length": "100"}}}},
    )
    assert errors_of(text) == [
        "defaults.headers: Transfer-Encoding is not a header to write: "
        + FRAMING["transfer-encoding"],
        "modules.cl.http.headers: Content-Length is not a header to write: "
        + FRAMING["content-length"],
    ]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        (URL, "127.0.0.1:8080"),
        (URL, " 127.0.0.1:8080 "),
        ("http://api.test/health", "API.test"),
        ("http://api.test/health", "api.test:80"),
        ("https://bücher.test/", "xn--bcher-kva.test"),
        ("http://[::1]:8080/", "[0::1]:8080"),
    ],
)
def test_a_host_header_naming_the_urls_host_is_accepted(url: str, host: str) -> None:
    """Host equal to the URL's host and port (the scheme's, when it writes none) is what
    is sent anyway: accepted as written."""
    config = parse_config(dump({"name": "api", "url": url, "headers": {"Host": host}}))
    assert config.monitors[0].headers == {"Host": host}


@pytest.mark.parametrize("host", ["api.internal", "127.0.0.1", "127.0.0.2:8080", "a b", ""])
def test_a_host_header_naming_another_host_is_refused(host: str) -> None:
    """Host beside a URL of another host (or port) is one error: the URL says where."""
    (error,) = monitor_errors(headers={"host": host})
    assert error.startswith(
        "monitors[0].headers.host: "
        f"{json.dumps(host)} names another host than the URL (127.0.0.1:8080): "
    )
    assert error.endswith("write the host in the URL")


def test_a_host_header_in_defaults_is_refused() -> None:
    """defaults.headers.Host would name one host for every monitor: refused."""
    (error,) = errors_of(dump(defaults={"headers": {"Host": "127.0.0.1:8080"}}))
    assert error.startswith("defaults.headers.Host: ")


def test_a_module_with_a_host_header_is_unavailable() -> None:
    """blackbox_exporter's virtual host (http.headers.Host) is not honoured: the module
    is unavailable, saying so, as for its other options tether does not honour."""
    config = parse_config(
        dump(modules={"vhost": {"prober": "http", "http": {"headers": {"Host": "a.test"}}}})
    )
    reason = config.modules["vhost"].unavailable
    assert reason is not None
    assert "http.headers.Host" in reason


def test_check_config_fails_on_a_framing_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tether check-config`` refuses the file that used to pass and then never check."""
    path = tmp_path / "tether.yml"
    path.write_text(dump({"name": "api", "url": URL, "headers": {"Content-Length": "100"}}))
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "monitors[0].headers: Content-Length is not a header to write" in out + err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("name", sorted(WRITTEN))
def test_diagnose_refuses_a_framing_header(
    name: str, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """``diagnose -H`` with a framing header: exit 2 and one line naming it and why, as
    for any bad option (it was a traceback, or a request RFC 9112 forbids)."""
    header = f"{WRITTEN[name]}: {VALUES.get(name, 'x')}"
    assert main(["diagnose", lab["healthy"].url, "-X", "POST", "-H", header]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"tether diagnose: -H {header!r}: {WRITTEN[name]} is not a header to write: " + (
        FRAMING[name] + "\n"
    )


def test_diagnose_takes_host_only_for_the_urls_host(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """-H 'Host: ...' naming the URL's host probes as usual; naming another is exit 2."""
    url = lab["healthy"].url
    hostport = url.split("://")[1].split("/")[0]
    assert main(["diagnose", url, "-H", f"Host: {hostport}", "--json"]) == 0
    capsys.readouterr()
    assert main(["diagnose", url, "-H", "Host: api.internal"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(
        f"tether diagnose: -H 'Host: api.internal' names another host than the URL ({hostport}): "
    )


# -- the engine ------------------------------------------------------------------------------


class RawServer:
    """A loopback server that records each request's bytes as they arrived and answers
    ``answer`` (a whole HTTP response)."""

    def __init__(self, host: str, answer: bytes = b"") -> None:
        self.answer = answer or b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen()
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head = data.split(b"\r\n\r\n")[0].lower()
                if b"transfer-encoding: chunked" in head:
                    while not data.endswith(b"0\r\n\r\n"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                self.requests.append(data)
                conn.sendall(self.answer)

    def close(self) -> None:
        # Closing alone does not wake a thread blocked in accept() on Linux; shutting the
        # listening socket down does.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def raw() -> Iterator[tuple[RawServer, RawServer]]:
    """Two servers, on 127.0.0.1 and on 127.0.0.2: two hosts to the engine."""
    one, two = RawServer("127.0.0.1"), RawServer("127.0.0.2")
    try:
        yield one, two
    finally:
        one.close()
        two.close()


def test_a_chunked_body_has_no_content_length(raw: tuple[RawServer, RawServer]) -> None:
    """ProbeOptions with Transfer-Encoding: chunked and a body (the library's callers, whom
    no configuration checks): the body goes chunked, without a Content-Length beside it."""
    server, _ = raw
    options = ProbeOptions(
        method="POST",
        headers=(("Transfer-Encoding", "chunked"),),
        body=b"hello",
        timeout=2,
        deadline=5,
        env={},
    )
    assert probe(server.url + "/", options).ok
    (request,) = server.requests
    head, _, body = request.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"content-length" not in head.lower()
    assert body == b"5\r\nhello\r\n0\r\n\r\n"


def test_a_host_header_stays_on_its_origin(raw: tuple[RawServer, RawServer]) -> None:
    """A Host naming the first URL's host is not sent to a redirect's other host, which
    gets its own name (a Host written once named one origin, as credentials do)."""
    origin, other = raw
    origin.answer = (
        f"HTTP/1.1 302 Found\r\nLocation: {other.url}/landing\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    hostport = origin.url.split("://")[1]
    options = ProbeOptions(headers=(("Host", hostport),), timeout=2, deadline=5, env={})
    assert probe(origin.url + "/", options).ok
    (first,), (landing,) = origin.requests, other.requests
    assert f"\r\nHost: {hostport}\r\n".encode() in first
    other_hostport = other.url.split("://")[1]
    assert landing.lower().count(b"\r\nhost: ") == 1
    assert f"\r\nHost: {other_hostport}\r\n".encode() in landing
