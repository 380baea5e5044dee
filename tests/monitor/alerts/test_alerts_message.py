"""The words of an alert, shared by email and apprise: pure functions of the AlertPayload."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.alert_payloads import (
    DETAIL,
    HINT,
    OPENED_AT,
    URL,
    degraded,
    down_too,
    escalated,
    opened,
    recovered,
    reminder,
    resolved,
    up,
)
from tether._catalogue import CATALOGUE
from tether._kinds import Kind
from tether.monitor._records import AlertPayload, LocationFact
from tether.monitor._state import State
from tether.monitor.alerts import body, subject

Make = Callable[..., AlertPayload]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (opened, "[tether] DOWN api: connection refused"),
        (down_too, "[tether] DOWN web: connection refused (incident #7)"),
        (up, "[tether] UP web: back up after 1 min 0 s"),
        (reminder, "[tether] STILL DOWN api: connection refused"),
        (escalated, "[tether] ESCALATED api: connection refused"),
        (resolved, "[tether] RESOLVED api: back up after 3 min 2 s"),
        (
            degraded,
            "[tether] DEGRADED api: slower than usual: 850 ms, above its limit of 300 ms "
            "(median 40 ms)",
        ),
        (recovered, "[tether] RECOVERED api: back to its usual latency: 41 ms"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_each_event_has_its_subject(make: Make, expected: str) -> None:
    """Each event's subject says what happened (DOWN, UP, STILL DOWN, ...), to which
    monitor, and why; a monitor joining an incident names the incident."""
    assert subject(make()) == expected


def test_subject_keeps_acronyms_and_falls_back_to_the_detail() -> None:
    """A title starting with an acronym keeps its case; with no kind, the detail is the reason."""
    assert subject(opened(kind=Kind.DNS_TIMEOUT)).endswith(": DNS lookup timed out")
    condition = opened(kind=None, detail="condition not met: [STATUS] (503) == 200")
    assert subject(condition) == "[tether] DOWN api: condition not met: [STATUS] (503) == 200"


@pytest.mark.parametrize("make", [opened, down_too, up, resolved, degraded, recovered])
def test_subject_stays_one_short_line(make: Make) -> None:
    """A detail with newlines and hundreds of words still makes one bounded header line,
    whatever the event."""
    long = "x\ny " * 200
    line = subject(make(kind=None, detail=long, text=long))
    assert "\n" not in line
    assert re.match(r"\[tether\] [A-Z ]+ (api|web): x y x y", line), line
    assert line.endswith("…") or line.endswith("(incident #7)")
    assert len(line) < 160


def test_opened_body_says_what_why_what_to_do_and_where() -> None:
    """The opening's body is the engine's sentence, then why, what to do, the failure kind
    (with the command that explains it), the target and the incident."""
    assert body(opened()) == (
        f"api is down since 2026-03-02T14:05:09+00:00: {DETAIL}.\n"
        "\n"
        f"Why: {DETAIL}\n"
        f"What to do: {HINT}\n"
        "Failure kind: connect.refused (more: tether explain connect.refused)\n"
        f"Target: {URL}\n"
        "Incident: 7\n"
    )


@pytest.mark.parametrize("make", [down_too, reminder, escalated])
def test_every_down_body_says_why_and_what_to_do(make: Make) -> None:
    """A monitor joining, a reminder and an escalation each carry the Why, What to do,
    Failure kind, Target and Incident lines, after their own sentence."""
    payload = make()
    lines = body(payload).splitlines()
    assert lines[:2] == [f"{payload.text}.", ""]
    assert lines[2:] == [
        f"Why: {DETAIL}",
        f"What to do: {HINT}",
        "Failure kind: connect.refused (more: tether explain connect.refused)",
        f"Target: {URL}",
        "Incident: 7",
    ]


def test_a_failed_condition_has_no_failure_kind_line() -> None:
    """Without a kind (a condition not met) the body says why but names no kind; without a
    URL it names no target."""
    text = body(opened(kind=None, detail="condition not met: [STATUS] (503) == 200", url=None))
    assert "Why: condition not met: [STATUS] (503) == 200\n" in text
    assert "Failure kind:" not in text
    assert "Target:" not in text


def test_resolved_says_when_it_went_down_and_closes_the_incident() -> None:
    """A resolution's body is the engine's sentence, when the monitor went down, the
    target, and the incident marked resolved; nothing of what to do any more."""
    assert body(resolved()) == (
        "api is back up after 3 min 2 s: incident #7 (connect.refused on 127.0.0.1) is "
        "resolved after 3 min 2 s.\n"
        "\n"
        "It went down at 2026-03-02 14:05:09 UTC.\n"
        f"Target: {URL}\n"
        "Incident: 7 (resolved)\n"
    )


def test_a_monitor_back_while_the_incident_goes_on_leaves_it_open() -> None:
    """monitor.up says when that monitor went down, and names the incident as still open."""
    text = body(up())
    assert text.startswith("web is back up after 1 min 0 s; incident #7 ")
    assert "It went down at 2026-03-02 14:05:39 UTC.\n" in text
    assert text.endswith("Incident: 7\n")
    assert "Why:" not in text
    assert "What to do:" not in text


@pytest.mark.parametrize(
    ("make", "when"),
    [(degraded, "2026-03-02 16:05:09 UTC"), (recovered, "2026-03-02 16:10:09 UTC")],
    ids=["degraded", "recovered"],
)
def test_a_latency_notice_says_when_and_names_no_incident(make: Make, when: str) -> None:
    """A latency notice keeps the engine's sentence, says when, names the target, and has
    no incident line (it belongs to none)."""
    payload = make()
    assert body(payload) == f"{payload.text}.\n\nAt: {when}\nTarget: {URL}\n"


def test_an_old_payload_from_the_outbox_still_makes_the_same_message() -> None:
    """A payload the previous tether queued (monitors but no monitor, since but no at, no
    url) reads back into a payload whose message says what it said then."""
    old = {
        "event": "incident.opened",
        "incident": 7,
        "monitors": ["api"],
        "since": "2026-03-02T14:05:09+00:00",
        "kind": "connect.refused",
        "detail": DETAIL,
        "hint": HINT,
        "text": f"api is down since 2026-03-02T14:05:09+00:00: {DETAIL}",
    }
    payload = AlertPayload.from_json(old)
    assert subject(payload) == "[tether] DOWN api: connection refused"
    assert body(payload) == body(opened(url=None))
    back = AlertPayload.from_json(
        old | {"event": "incident.resolved", "kind": None, "hint": "", "detail": "back up"}
    )
    assert subject(back) == "[tether] RESOLVED api: back up"
    assert "It went down at 2026-03-02 14:05:09 UTC.\n" in body(back)


def test_a_partial_payload_still_makes_a_message() -> None:
    """Keys missing from a queued payload leave their line out, without an error."""
    payload = AlertPayload.from_json({"event": "incident.opened", "monitors": ["api"]})
    assert subject(payload) == "[tether] DOWN api"
    text = body(payload)
    assert text.endswith(".\n")
    for label in ("Why:", "What to do:", "Failure kind:", "Target:", "Incident:"):
        assert label not in text


def test_the_samples_in_the_docs_are_what_the_formatter_writes() -> None:
    """docs/monitor.md shows the opened and resolved messages exactly as they are sent."""
    doc = (Path(__file__).parents[3] / "docs/monitor.md").read_text()
    samples = re.findall(r"```text\n(Subject: \[tether\].*?)```", doc, re.S)
    assert samples == [
        f"Subject: {subject(payload)}\n\n{body(payload)}" for payload in (opened(), resolved())
    ]


# --- monitors probed from several locations ----------------------------------------------------

TIMEOUT_DETAIL = "203.0.113.7:443 did not accept the connection within 10 s"
FACTS = {
    "eu-west": LocationFact(State.DOWN, Kind.CONNECT_TIMEOUT, TIMEOUT_DETAIL, OPENED_AT),
    "us-east": LocationFact(State.UP),
    "local": LocationFact(State.UP),
}
PARTIAL_DETAIL = "api unreachable from eu-west (connect.timeout), up from us-east and local"


def partial(**changes: object) -> AlertPayload:
    """api's partial incident #8: eu-west cannot reach it, us-east and local can."""
    payload = AlertPayload(
        "incident.partial",
        "api",
        f"{PARTIAL_DETAIL} (incident #8)",
        OPENED_AT,
        incident=8,
        monitors=("api",),
        url="https://api.example.com/health",
        kind=Kind.CONNECT_TIMEOUT,
        detail=PARTIAL_DETAIL,
        hint=CATALOGUE[Kind.CONNECT_TIMEOUT].hint,
        since=OPENED_AT,
        locations=FACTS,
    )
    return dataclasses.replace(payload, **changes)  # type: ignore[arg-type]


def test_a_partial_incident_reads_as_a_partition_named() -> None:
    """PARTIAL in the subject with the failing locations and the kind's words; the body
    adds each location's line before the target."""
    assert subject(partial()) == (
        "[tether] PARTIAL api: unreachable from eu-west (connection timed out)"
    )
    assert body(partial()) == (
        f"{PARTIAL_DETAIL} (incident #8).\n"
        "\n"
        f"Why: {PARTIAL_DETAIL}\n"
        f"What to do: {CATALOGUE[Kind.CONNECT_TIMEOUT].hint}\n"
        "Failure kind: connect.timeout (more: tether explain connect.timeout)\n"
        "Locations:\n"
        f"  eu-west: down (connect.timeout): {TIMEOUT_DETAIL}\n"
        "  us-east: up\n"
        "  local: up\n"
        "Target: https://api.example.com/health\n"
        "Incident: 8\n"
    )


def test_a_partial_subject_lists_every_failing_location() -> None:
    """Two failing locations: both named, in order."""
    facts = {**FACTS, "us-east": FACTS["eu-west"]}
    assert subject(partial(locations=facts)) == (
        "[tether] PARTIAL api: unreachable from eu-west and us-east (connection timed out)"
    )


def test_a_partial_resolution_closes_the_partial_incident() -> None:
    """RESOLVED with the engine's words, when it began, and the incident marked resolved."""
    payload = partial(
        event="incident.partial_resolved",
        text="api is reachable from every location again after 2 min 0 s: partial incident "
        "#8 is resolved",
        detail="reachable from every location again after 2 min 0 s",
        hint="",
        locations={name: LocationFact(State.UP) for name in FACTS},
    )
    assert subject(payload) == (
        "[tether] RESOLVED api: reachable from every location again after 2 min 0 s"
    )
    text = body(payload)
    assert "It began at 2026-03-02 14:05:09 UTC.\n" in text
    assert "  eu-west: up\n" in text
    assert text.endswith("Incident: 8 (resolved)\n")


def test_a_down_message_of_several_locations_lists_them_and_their_state() -> None:
    """A full incident's alert shows every location: down with its kind and detail,
    flapping, up, or not counted when no instance there is alive."""
    facts = {
        "eu-west": FACTS["eu-west"],
        "us-east": LocationFact(State.FLAPPING, Kind.CONNECT_TIMEOUT),
        "local": LocationFact(State.DOWN, None, "[STATUS] (503) == 200"),
        "ap-south": LocationFact(State.UP, live=False),
    }
    lines = body(opened(locations=facts)).splitlines()
    start = lines.index("Locations:")
    assert lines[start : start + 5] == [
        "Locations:",
        f"  eu-west: down (connect.timeout): {TIMEOUT_DETAIL}",
        "  us-east: flapping",
        "  local: down (conditions not met): [STATUS] (503) == 200",
        "  ap-south: not counted (no live instance)",
    ]
    assert subject(opened(locations=facts)) == subject(opened())


def test_a_payload_of_one_location_has_no_locations_block() -> None:
    """As before: nothing about locations for a monitor of one."""
    assert "Locations:" not in body(opened())


def _local(event: str, text: str, **more: object) -> AlertPayload:
    """An alert of the local incident, as the engine makes it: counts, the first names."""
    return AlertPayload(
        event,
        "m0",
        text,
        OPENED_AT + 60,
        incident=7,
        monitors=tuple(f"m{i}" for i in range(10)),
        kind=Kind.CONNECT_REFUSED,
        detail="this machine cannot open connections: connection refused (20 of 32 hosts)",
        hint=HINT,
        since=OPENED_AT,
        monitor_count=1200,
        host_count=20,
        **more,  # type: ignore[arg-type]
    )


def test_a_local_incident_is_about_many_monitors() -> None:
    """The local incident's opening, update and resolution name the count and the hosts in
    the subject, not the one monitor that happened to be first, and the body lists the
    first names with how many more."""
    opening = _local("incident.opened", "this machine cannot open connections: ...")
    assert subject(opening) == (
        "[tether] DOWN 1,200 monitors on 20 hosts: connection refused (incident #7)"
    )
    assert "Monitors (1,200): m0, m1, m2, m3, m4, m5, m6, m7, m8, m9 and 1,190 more" in body(
        opening
    )
    update = _local(
        "incident.updated",
        "incident #7 (connect.refused on this machine): 312 more monitors down: a, b and 310 "
        "more (1,512 in all, on 30 hosts)",
    )
    assert subject(update) == "[tether] UPDATE incident #7: 312 more monitors down"
    done = _local("incident.resolved", "incident #7 resolved after 4 min: all 1,200 monitors")
    assert subject(done) == "[tether] RESOLVED incident #7: all 1,200 monitors back up"
    assert "Monitors" not in body(done)
    assert done.to_json()["monitor_count"] == 1200
    assert done.to_json()["host_count"] == 20
    assert AlertPayload.from_json(done.to_json()).monitor_count == 1200
