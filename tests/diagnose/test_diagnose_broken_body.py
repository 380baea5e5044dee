"""A response whose status line and headers arrived and whose body then broke off: the
http line shows the method, the status and the bytes that came, then what ended it."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tether.cli import main
from tether.lab import Lab
from tether.probe import ProbeOptions, probe


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's proxy settings must not come between the probe and the lab."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["diagnose", *args])
    out, err = capsys.readouterr()
    assert not err
    return code, out


def _http_line(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("  http ")]
    return line


@pytest.mark.parametrize(
    ("scenario", "shown"),
    [
        ("reset_mid_body", r"GET 200, 100 of 1,000 bytes, .*then: connection reset$"),
        ("reset_after_head", r"GET 200, 0 of 1,000 bytes, .*then: connection reset$"),
        ("truncated_body", r"GET 200, 10 of 100 bytes, .*then: response truncated$"),
        ("cut_chunked", r"GET 200, 10 bytes, .*then: response truncated$"),
        # its kind is the classifier's business: only that the line shows what arrived
        ("bad_chunk_size", r"GET 200, 0 bytes, .*then: [a-z]"),
    ],
)
def test_the_http_line_shows_what_arrived(
    scenario: str,
    shown: str,
    lab: Lab,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Method, status, bytes received (of those announced) and the failure that followed,
    in the text; the same in --json (status, size, expected_size)."""
    monkeypatch.setenv("NO_COLOR", "1")
    code, out = _run(capsys, lab[scenario].url, "--timeout", "2")
    assert code == 1
    line = _http_line(out)
    assert "FAILED" in line
    assert re.search(shown, line), line
    assert "no response" not in line
    code, out = _run(capsys, "--json", lab[scenario].url, "--timeout", "2")
    http = json.loads(out)["phases"][-1]
    assert (http["name"], http["method"], http["status"]) == ("http", "GET", 200)
    expected = re.search(r"(\d+)(?: of ([\d,]+))? bytes", line)
    assert expected is not None
    assert http["size"] == int(expected[1])
    assert http.get("expected_size") == (int(expected[2].replace(",", "")) if expected[2] else None)


def test_a_status_failure_has_no_then(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """A complete 503 is the status's failure, not a broken body: no 'then:'."""
    _, out = _run(capsys, lab["http_503"].url, "--timeout", "2")
    line = _http_line(out)
    assert re.search(r"GET 503, \d+ bytes, first byte at [\d.]+ ms$", line), line


def test_the_deadline_keeps_what_arrived(lab: Lab) -> None:
    """When the probe's deadline ends a dripping body, the http phase still has the
    method, the status and the bytes received (it had none: 'no response')."""
    result = probe(
        lab["slow_drip"].url, ProbeOptions(method="GET", timeout=1, deadline=0.3, env={})
    )
    assert result.failure is not None
    assert result.failure.kind.value == "deadline.exceeded"
    http = result.phases[-1]
    assert http.name == "http"
    assert (http.details.method, http.details.response.status) == ("GET", 200)
    assert http.details.response.size >= 1
    assert http.details.response.expected_size is None  # chunked: nothing announced
    assert "expected_size" not in http.to_dict()


@pytest.fixture
def to_slow_drip(lab: Lab) -> Iterator[str]:
    """A loopback server whose every path redirects to the lab's slow_drip."""
    target = lab["slow_drip"].url

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_deadline_in_a_redirect_hop_keeps_one_http_phase(to_slow_drip: str, lab: Lab) -> None:
    """The deadline during a redirect's dripping body: one http phase (there were two, the
    second empty), describing the last hop, with both hops in its chain."""
    result = probe(to_slow_drip, ProbeOptions(timeout=1, deadline=0.3, env={}))
    assert result.failure is not None
    assert result.failure.kind.value == "deadline.exceeded"
    assert [p.name for p in result.phases] == ["url", "proxy", "dns", "connect", "http"]
    http = result.phases[-1]
    assert (http.ok, http.details.method, http.details.response.status) == (False, "GET", 200)
    hops = http.details.redirects
    assert [(h.url, h.response.status) for h in hops] == [
        (to_slow_drip, 302),
        (lab["slow_drip"].url, 200),
    ]


def test_a_head_is_not_a_broken_body(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """A HEAD's Content-Length announces a body that never comes: healthy, no 'of', no
    'then:', though --json still gives the announced size."""
    code, out = _run(capsys, "-X", "HEAD", lab["healthy"].url, "--timeout", "2")
    assert code == 0
    assert re.search(r"HEAD 200, 0 bytes, first byte at [\d.]+ ms$", _http_line(out))
    code, out = _run(capsys, "--json", "-X", "HEAD", lab["healthy"].url, "--timeout", "2")
    http = json.loads(out)["phases"][-1]
    assert (http["size"], http["expected_size"]) == (0, 3)
