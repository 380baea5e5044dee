"""``retry_after`` in the http phase (and ``--json``) is whole seconds: delta-seconds as
sent, an HTTP-date counted from the response's own Date, or from now without one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tether.cli import main
from tether.lab import Lab
from tether.probe._http import retry_after_seconds

SENT = "Wed, 21 Oct 2015 07:28:00 GMT"
SENT_AT = parsedate_to_datetime(SENT).timestamp()


def _never() -> float:
    raise AssertionError("the clock is not read when the response has a Date")


@pytest.mark.parametrize(
    ("value", "date", "now", "seconds"),
    [
        ("120", None, _never, 120),
        ("0", None, _never, 0),
        (" 7 ", SENT, _never, 7),
        ("Wed, 21 Oct 2015 07:29:30 GMT", SENT, _never, 90),
        ("Wed, 21 Oct 2015 07:27:00 GMT", SENT, _never, 0),  # before the response: now
        ("Wed, 21 Oct 2015 07:29:30 GMT", None, lambda: SENT_AT + 59.5, 31),  # rounded up
        ("Wed, 21 Oct 2015 07:29:30 GMT", "not a date", lambda: SENT_AT, 90),
        ("soon", SENT, _never, None),
        ("-5", None, lambda: SENT_AT, None),
    ],
)
def test_retry_after_seconds(
    value: str, date: str | None, now: object, seconds: int | None
) -> None:
    """Delta-seconds as they are; an HTTP-date from Date, else from the injected now."""
    assert retry_after_seconds(value, date, now) == seconds  # type: ignore[arg-type]


@pytest.fixture
def dated_503() -> Iterator[str]:
    """A loopback server answering 503 with its own fixed Date and a Retry-After 90 s later
    as an HTTP-date: far in the past, so only counting from Date gives 90."""

    class Busy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response_only(503)
            self.send_header("Date", SENT)
            self.send_header(
                "Retry-After",
                format_datetime(
                    parsedate_to_datetime(SENT).replace(minute=29, second=30), usegmt=True
                ),
            )
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _http_phase(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, object]:
    assert main(["diagnose", "--json", url, "--timeout", "2"]) == 1
    out, _ = capsys.readouterr()
    phase: dict[str, object] = json.loads(out)["phases"][-1]
    return phase


def test_an_http_date_is_counted_from_the_date_header(
    dated_503: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json gives 90 for a date 90 s after the response's Date, years ago by our clock."""
    http = _http_phase(capsys, dated_503)
    assert (http["status"], http["retry_after"]) == (503, 90)


def test_delta_seconds_are_an_integer(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """The lab's 429 sends Retry-After: 3; --json says 3, a number, not the string."""
    http = _http_phase(capsys, lab["http_429"].url)
    assert (http["status"], http["retry_after"]) == (429, 3)
