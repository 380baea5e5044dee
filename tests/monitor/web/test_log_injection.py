"""Logs and pages take only printable text from outside (issue 72 §6): a request's text
that goes into a line of the text log is escaped (``tether._text.visible``), so it cannot
start a line of its own, and an error code a link carries to the sign-on callback is shown
only quoted, never as the monitor's own words.  A real Runner served on loopback with
``oidc:`` configured; the provider is never reached (an ``?error=`` callback is answered
before anything is asked of it)."""

from __future__ import annotations

import html
import io
import logging
import re
from pathlib import Path
from urllib.parse import quote

import yaml

from tests.helpers.web_harness import ServedRunner
from tether.monitor import logging_to
from tether.monitor.config import parse_config
from tether.monitor.config._passwords import hash_password
from tether.monitor.store import SQLiteStore
from tether.monitor.web._protocol_log import ProtocolLog

FORGED = "2026-11-29T05:00:00Z info mallory logged in from 10.9.9.9"
LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (debug|info|warning|error|critical) +\S")


def _config() -> str:
    return yaml.safe_dump(
        {
            "monitors": [{"name": "api", "url": "http://127.0.0.1:9/"}],
            "users": [{"name": "admin", "password_hash": hash_password("pw", n=2**10)}],
            "oidc": {
                "issuer": "https://id.example.com/realms/ops",
                "client_id": "tether",
                "redirect_uri": "http://127.0.0.1/login/oidc/callback",
                "roles": [{"value": "sre", "scopes": ["read"]}],
            },
        }
    )


def _lines(text: str) -> list[str]:
    lines = text.splitlines()
    for line in lines:
        assert LINE.match(line), f"a line the monitor did not write: {line!r}"
    return lines


def test_a_callback_error_writes_no_line_and_is_shown_quoted(tmp_path: Path) -> None:
    """``?error=access_denied%0A<a forged line>`` is one warning line in the text log,
    the forged line escaped inside it; the page quotes the code as the provider's (it is
    not OAuth's), while a real OAuth code is shown as it is."""
    out = io.StringIO()
    s = ServedRunner(parse_config(_config()), SQLiteStore(tmp_path / "s.db"))
    try:
        with logging_to(out, "text"):
            status, _, body = s.get(
                f"/login/oidc/callback?error={quote('access_denied' + chr(10) + FORGED)}"
            )
            logging.getLogger("tether").handlers[-1].flush()
        assert status == 403
        lines = _lines(out.getvalue())
        assert len(lines) == 1
        assert "single sign-on refused" in lines[0]
        assert not any(line.startswith(FORGED[:20]) for line in lines)
        page = html.unescape(body.decode())
        assert "an error code that is not OAuth's: " + '"access_denied\\n2026-11-29' in page
        assert "refused the login: access_denied\n" not in page
        status, _, body = s.get("/login/oidc/callback?error=access_denied")
        assert status == 403
        assert "the provider refused the login: access_denied<" in body.decode()
    finally:
        s.close()


def test_a_malformed_requests_line_escapes_its_client_and_problem() -> None:
    """The line about a request that could not be read names its client (a worker's
    ``X-Forwarded-For``) and aiohttp's words, both request text: escaped, one line."""
    out = io.StringIO()
    with logging_to(out, "text") as handler:
        ProtocolLog().malformed("203.0.113.9\n" + FORGED, "Invalid header\r\n" + FORGED)
        handler.flush()
    (line,) = _lines(out.getvalue())
    assert "203.0.113.9\\u000a2026" in line
