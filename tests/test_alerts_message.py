"""The words of an alert, shared by email and apprise: pure functions of the queued payload."""

from __future__ import annotations

import re
from pathlib import Path

from alert_payloads import opened, resolved
from tether._catalogue import CATALOGUE
from tether._kinds import Kind
from tether.monitor.alerts import body, subject

REFUSED = CATALOGUE[Kind.CONNECT_REFUSED]


def test_opened_subject_names_the_monitor_and_the_failure() -> None:
    """An opened incident's subject says DOWN, which monitor, and the kind's title."""
    assert subject(opened()) == "[tether] DOWN api: connection refused"


def test_subject_keeps_acronyms_and_falls_back_to_the_detail() -> None:
    """A title starting with an acronym keeps its case; with no kind, the detail is the reason."""
    assert subject(opened(kind="dns.timeout")).endswith(": DNS lookup timed out")
    condition = opened(kind=None, detail="condition not met: [STATUS] (503) == 200")
    assert subject(condition) == "[tether] DOWN api: condition not met: [STATUS] (503) == 200"


def test_subject_stays_one_short_line() -> None:
    """A detail with newlines and a crowd of monitors still make one bounded header line."""
    crowd = opened(monitors=[f"m{n}" for n in range(9)], kind=None, detail="x\ny " * 200)
    line = subject(crowd)
    assert "\n" not in line
    assert line.startswith("[tether] DOWN m0, m1, m2 and 6 more: x y x y")
    assert len(line) < 160


def test_opened_body_says_what_since_when_why_and_what_to_do() -> None:
    """The body names the monitor, the time in UTC, the detail, the hint, the kind and
    the incident."""
    text = body(opened())
    assert text.startswith("api is down since 2026-03-02 14:05:09 UTC.\n")
    assert f"Why: {opened()['detail']}\n" in text
    assert f"What to do: {REFUSED.hint}\n" in text
    assert "tether explain connect.refused" in text
    assert "Incident: 7\n" in text


def test_opened_body_for_several_monitors_uses_the_plural() -> None:
    """Two monitors in one incident are listed together and 'are down'."""
    text = body(opened(monitors=["api", "web"]))
    assert text.startswith("api and web are down since")
    assert "when they are back up" in text


def test_resolved_says_how_long_it_was_down() -> None:
    """A resolution's subject and body carry the duration and when it went down."""
    payload = resolved()
    assert subject(payload) == "[tether] RESOLVED api: back up after 3 min 2 s"
    text = body(payload)
    assert text.startswith("api is back up after 3 min 2 s.\n")
    assert "went down at 2026-03-02 14:05:09 UTC" in text
    assert "Incident: 7 (resolved)" in text


def test_an_old_or_partial_payload_still_makes_a_message() -> None:
    """Keys missing from a payload queued by another version leave their line out, no error."""
    payload = {"event": "incident.opened", "monitors": ["api"]}
    assert subject(payload) == "[tether] DOWN api"
    assert body(payload).startswith("api is down.\n")
    assert "Why:" not in body(payload)


def test_a_latency_notice_reads_without_the_name_twice() -> None:
    """A degraded-latency event names the monitor once and keeps the runner's sentence."""
    payload = {
        "event": "monitor.degraded",
        "incident": None,
        "monitors": ["api"],
        "since": "2026-03-02T14:05:09+00:00",
        "detail": "api is slower than usual: 850 ms, above its limit of 300 ms",
    }
    assert (
        subject(payload)
        == "[tether] DEGRADED api: slower than usual: 850 ms, above its limit of 300 ms"
    )
    assert body(payload).startswith(
        "api is slower than usual: 850 ms, above its limit of 300 ms.\n"
    )


def test_the_samples_in_the_docs_are_what_the_formatter_writes() -> None:
    """docs/monitor.md shows the opened and resolved messages exactly as they are sent."""
    doc = (Path(__file__).parent.parent / "docs/monitor.md").read_text()
    samples = re.findall(r"```text\n(Subject: \[tether\].*?)```", doc, re.S)
    assert samples == [
        f"Subject: {subject(payload)}\n\n{body(payload)}" for payload in (opened(), resolved())
    ]
