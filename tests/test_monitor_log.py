"""What tether monitor says on stderr: text or JSON lines, extra fields carried, secrets
redacted; and the alert payload's URL without its credentials."""

from __future__ import annotations

import io
import json
import logging

from tether.monitor import logging_to, parse_config
from tether.monitor._runner import _route

SECRET = "s3cr3t-Marker"


def emit(log_format: str) -> str:
    out = io.StringIO()
    with logging_to(out, log_format):  # type: ignore[arg-type]
        logging.getLogger("tether.monitor").warning(
            "alert to %s failed: POST https://bot:%s@hooks.lab.test/x?token=%s",
            "ops",
            SECRET,
            SECRET,
            extra={"event": "alert.failed", "channel": "ops", "kind": "connect.refused"},
        )
    return out.getvalue()


def test_json_lines_carry_the_fields_a_shipper_filters_on_and_no_secret() -> None:
    """--log-format json: one object per line with event, channel and kind; the password
    and the token in the message are masked."""
    (line,) = emit("json").splitlines()
    record = json.loads(line)
    assert record["level"] == "warning"
    assert record["event"] == "alert.failed"
    assert record["channel"] == "ops"
    assert record["kind"] == "connect.refused"
    assert record["ts"].endswith("Z")
    assert SECRET not in line
    assert "alert to ops failed" in record["message"]


def test_text_lines_are_one_line_each_and_redacted() -> None:
    """The default text format: a UTC time, the level, the message, no secret."""
    (line,) = emit("text").splitlines()
    assert line[:4].isdigit()
    assert " warning " in line
    assert SECRET not in line


def test_the_alert_payload_names_the_target_without_its_credentials() -> None:
    """A monitor URL with a password and a token goes into every alert masked."""
    config = parse_config(
        f"monitors:\n  - {{name: api, url: 'https://u:{SECRET}@127.0.0.1:8443/h?token={SECRET}'}}\n"
    )
    route = _route(config.monitors[0])
    assert route.url is not None
    assert SECRET not in route.url
    assert route.url.startswith("https://u:***@127.0.0.1:8443/h")
