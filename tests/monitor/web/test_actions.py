"""The write API against a real Runner: real lab probes, a real SQLite store, make_app on
127.0.0.1:0, and the runner's wall clock in the test's hand (tests/helpers/actions_harness.py on
tests/helpers/web_harness.py).

The prober's own loop runs (so a check asked for is made by the real schedule, within
its one-second tick); every monitor's interval is an hour and its first run is put at
the end of it, so nothing is probed unless a test or an action says so.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers.actions_harness import Served
from tether.lab import Lab


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path / "actions.db", lab)
    yield s
    s.close()


def audit(served: Served) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = served.json("/api/audit")["entries"]
    return entries


# -- pause and resume ----------------------------------------------------------------------


def test_pause_stops_probing_and_resume_brings_it_back(served: Served) -> None:
    """A pause makes the monitor paused and takes it off the prober (a check asked for is
    refused); a second pause changes nothing; resume probes it again at once."""
    served.check("web")
    assert served.state("web") == "up"
    status, doc = served.post("/api/monitors/web/pause", {"reason": "moving racks"})
    assert (status, doc) == (
        200,
        {"monitor": "web", "paused": True, "state": "paused", "changed": True},
    )
    assert served.state("web") == "paused"
    assert "web" not in served.runner.prober.names
    assert served.post("/api/monitors/web/pause")[1]["changed"] is False
    assert served.post("/api/monitors/web/check") == (
        409,
        {"error": "web is paused: resume it to check it"},
    )
    served.now += 60
    checked = served.next_check("web")
    status, doc = served.post("/api/monitors/web/resume")
    assert (status, doc["paused"], doc["changed"]) == (200, False, True)
    assert "web" in served.runner.prober.names
    # Resumed, it is probed at once (its interval is an hour): its state comes back.
    assert checked.result(timeout=10).ok  # a bound on a failure, never waited out
    assert served.state("web") == "up"
    entries = audit(served)
    assert [(e["action"], e["target"], e["who"], e["via"]) for e in entries] == [
        ("resume", "monitor:web", "local", "local"),
        ("pause", "monitor:web", "local", "local"),
    ]
    assert entries[1]["params"] == {"reason": "moving racks"}
    assert entries[1]["at"] == "2027-01-15T08:00:00Z"  # the runner's clock, not the machine's


def test_a_pause_and_a_window_outlive_a_restart(lab: Lab, tmp_path: Path) -> None:
    """A new runner on the same store starts with the monitor paused and the window
    holding alerts, as the first left them."""
    first = Served(tmp_path / "kept.db", lab)
    try:
        assert first.post("/api/monitors/api%2Fv1/pause")[0] == 200
        status, window = first.post(
            "/api/maintenance", {"monitors": ["down"], "for": "1h", "reason": "db upgrade"}
        )
        assert status == 201
    finally:
        first.close()
    second = Served(tmp_path / "kept.db", lab)
    try:
        assert second.state("api/v1") == "paused"
        assert "api/v1" not in second.runner.prober.names
        second.check("down")
        incident = second.json("/api/incidents?open=1")["incidents"][0]
        assert incident["monitors"] == ["down"]
        assert second.store.alert_heads() == []  # held by the window
        assert alerted(second) == {"down": False}
        assert [w["id"] for w in second.json("/api/maintenance")["windows"]] == [window["id"]]
    finally:
        second.close()


def test_resuming_a_monitor_paused_in_the_file_is_refused(served: Served) -> None:
    """``paused: true`` in the configuration is the file's to change: resume says so."""
    status, doc = served.post("/api/monitors/old/resume")
    assert status == 409
    assert "paused in the configuration" in doc["error"]


# -- check now -----------------------------------------------------------------------------


def test_check_now_probes_at_once_and_returns_the_result(served: Served) -> None:
    """A check asked for is made by the prober's schedule within its tick, and the answer
    is that check's result, stored and on the monitor's page."""
    assert served.json("/api/monitors/api%2Fv1")["results"] == []
    status, doc = served.post("/api/monitors/api%2Fv1/check")
    assert status == 200
    assert doc["monitor"] == "api/v1"
    assert doc["result"]["ok"] is True
    assert doc["result"]["at"] == "2027-01-15T08:00:00Z"
    served.store.flush()
    (stored,) = served.json("/api/monitors/api%2Fv1")["results"]
    # The stored phases are rounded to the store's precision; the rest is the same check.
    assert {**stored, "phases": None} == {**doc["result"], "phases": None}
    assert audit(served)[0]["action"] == "check"


# -- incidents -----------------------------------------------------------------------------


def reminders(served: Served) -> int:
    served.store.flush()  # the tick's incident changes are queued, not waited for
    incident = served.store.incidents(open_only=True)[0]
    return [e.event for e in incident.timeline].count("reminder")


def test_acknowledge_stops_reminders_and_is_on_the_timeline(served: Served) -> None:
    """Without an acknowledgement a reminder goes out after remind_every; acknowledged
    through the API, none does, and the timeline says who acknowledged it."""
    served.check("down")
    (incident,) = served.json("/api/incidents?open=1")["incidents"]
    served.now += 6 * 60
    served.on_loop(served.runner.tick)
    assert reminders(served) == 1
    status, doc = served.post(f"/api/incidents/{incident['id']}/acknowledge")
    assert (status, doc["changed"]) == (200, True)
    assert doc["acknowledged"] == "2027-01-15T08:06:00Z"
    served.now += 60 * 60
    served.on_loop(served.runner.tick)
    assert reminders(served) == 1
    again = served.post(f"/api/incidents/{incident['id']}/acknowledge")
    assert again == (
        200,
        {"incident": incident["id"], "acknowledged": doc["acknowledged"], "changed": False},
    )
    timeline = served.json("/api/incidents")["incidents"][0]["timeline"]
    assert {"at": doc["acknowledged"], "event": "acknowledged", "detail": "by local"} in timeline
    assert [e["action"] for e in audit(served)] == ["acknowledge"]


def test_a_monitor_that_joins_after_the_acknowledgement_is_acknowledged_again(
    served: Served,
) -> None:
    """down's incident is acknowledged; other (the same refused port) joins it later:
    the grouped update that tells of it (grouping: it was its own down alert) says the
    acknowledgement came before it joined, and acknowledging again is taken (changed),
    once (issue 24, section 1)."""
    served.check("down")
    (incident,) = served.json("/api/incidents?open=1")["incidents"]
    first = served.post(f"/api/incidents/{incident['id']}/acknowledge")
    assert (first[0], first[1]["changed"]) == (200, True)
    served.now += 60
    served.check("other")
    served.on_loop(served.runner.tick)  # the grouped update is due: group_wait is past
    served.store.flush()
    (joined,) = served.json("/api/incidents?open=1")["incidents"]
    assert joined["id"] == incident["id"]
    assert sorted(joined["monitors"]) == ["down", "other"]
    with sqlite3.connect(served.store.path) as db:  # every alert queued, delivered or not
        queued = [json.loads(text) for (text,) in db.execute("SELECT payload FROM outbox")]
    (down_too,) = [p for p in queued if p["event"] == "incident.updated"]
    assert "1 more monitor down: other (" in down_too["text"]
    assert "before other joined" in down_too["text"]
    again = served.post(f"/api/incidents/{incident['id']}/acknowledge")
    assert (again[0], again[1]["changed"]) == (200, True)
    assert again[1]["acknowledged"] > first[1]["acknowledged"]
    third = served.post(f"/api/incidents/{incident['id']}/acknowledge")
    assert (third[0], third[1]["changed"]) == (200, False)


def test_a_note_is_on_the_timeline_of_every_page(served: Served) -> None:
    """A note (a password in it masked) is on the incident's timeline in /api/incidents and
    /api/monitors/NAME and in both pages' HTML, and in the audit log with its text."""
    served.check("down")
    (incident,) = served.json("/api/incidents")["incidents"]
    text = "restarted it, see http://u:hunter2@db.lan/x <b>bold</b>"
    status, doc = served.post(f"/api/incidents/{incident['id']}/notes", {"text": text})
    assert status == 201
    masked = "restarted it, see http://u:***@db.lan/x <b>bold</b>"
    assert doc["note"]["detail"] == f"local: {masked}"
    for document in (served.json("/api/incidents"), served.json("/api/monitors/down")):
        assert doc["note"] in document["incidents"][0]["timeline"]
    for page in ("/incidents", "/monitors/down"):
        with urllib.request.urlopen(served.base + page, timeout=10) as r:
            html = r.read().decode()
        assert "restarted it, see http://u:***@db.lan/x &lt;b&gt;bold&lt;/b&gt;" in html
        assert "hunter2" not in html
    (entry,) = audit(served)
    assert (entry["action"], entry["target"], entry["params"]) == (
        "note",
        f"incident:{incident['id']}",
        {"text": masked},
    )


# -- maintenance ---------------------------------------------------------------------------


def alerted(served: Served) -> dict[str, bool]:
    """Whether each member of the open incident has had its down alert queued."""
    served.store.flush()  # the tick's incident changes are queued, not waited for
    (incident,) = served.store.incidents(open_only=True)
    return {name: member.alerted for name, member in incident.members.items()}


def test_a_window_holds_alerts_until_it_is_closed(served: Served) -> None:
    """A monitor down inside an ad-hoc window opens its incident with its alert held; the
    alert goes out once the window is closed; a monitor outside the window is told (in
    the incident's grouped update, not at once: grouping)."""
    status, window = served.post(
        "/api/maintenance", {"monitors": ["down"], "for": "30m", "reason": "deploy"}
    )
    assert status == 201
    assert (window["monitors"], window["open"], window["reason"]) == (["down"], True, "deploy")
    assert window["end"] == "2027-01-15T08:30:00Z"
    served.check("down")
    assert served.store.alert_heads() == []
    served.check("other")  # the same refused host: it joins down's incident, not held
    assert served.store.alert_heads() == []  # its news waits for the grouped update
    assert alerted(served) == {"down": False, "other": True}
    served.now += 60
    status, closed = served.post(f"/api/maintenance/{window['id']}/close")
    assert (status, closed["changed"], closed["open"]) == (200, True, False)
    assert served.post(f"/api/maintenance/{window['id']}/close")[1]["changed"] is False
    served.on_loop(served.runner.tick)
    assert alerted(served) == {"down": True, "other": True}
    served.store.flush()
    with sqlite3.connect(served.store.path) as db:
        queued = [json.loads(text) for (text,) in db.execute("SELECT payload FROM outbox")]
    assert [(p["event"], p["monitor"]) for p in queued] == [
        ("incident.opened", "down"),
        ("incident.updated", "other"),
    ]
    assert [(e["action"], e["target"]) for e in audit(served)] == [
        ("maintenance.close", f"maintenance:{window['id']}"),
        ("maintenance.open", f"maintenance:{window['id']}"),
    ]
    # Opened before the incident, the window's close is on its timeline, naming who.
    (incident,) = served.json("/api/incidents?open=1")["incidents"]
    closing = {
        "at": "2027-01-15T08:01:00Z",
        "event": "maintenance",
        "detail": f"maintenance window #{window['id']} closed by local",
    }
    assert closing in incident["timeline"]


def test_a_check_or_a_pause_of_a_monitor_in_an_incident_is_on_its_timeline(
    served: Served,
) -> None:
    """Changes to a monitor of an open incident land on its timeline, naming who: a check
    asked for, then a pause (after which the engine says it stays in it, paused)."""
    served.check("down")
    served.now += 30
    assert served.post("/api/monitors/down/check")[0] == 200
    served.now += 30
    reason = "moving racks, see http://ops:hunter2@db.lan/x"
    assert served.post("/api/monitors/down/pause", {"reason": reason})[0] == 200
    served.store.flush()
    (incident,) = served.json("/api/incidents")["incidents"]
    said = [(e["at"], e["event"], e["detail"]) for e in incident["timeline"]]
    assert ("2027-01-15T08:00:30Z", "check", "a check of down now, asked by local") in said
    masked = "moving racks, see http://ops:***@db.lan/x"
    paused = ("2027-01-15T08:01:00Z", "pause", f"down paused by local: {masked}")
    # Masked before it is stored, not only when shown: the row itself holds no password.
    (stored,) = served.store.incidents()
    assert not any("hunter2" in e.detail for e in stored.timeline)
    assert paused in said
    assert said.index(paused) < len(said) - 1  # the engine's entry follows: it left
    assert served.post("/api/monitors/down/resume")[0] == 200


def queued(served: Served) -> int:
    """Every alert ever queued, delivered or not."""
    served.store.flush()
    with sqlite3.connect(served.store.path) as db:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def test_a_paused_and_resumed_monitor_still_failing_stays_in_its_incident(
    served: Served,
) -> None:
    """Issue 24: pausing a down monitor resolved its incident, and resuming it while it
    still failed opened a new one and paged again; the resume note reached no timeline.
    Now the incident stays open through the pause, the resumed monitor still refused is
    back in it with no second page, and its timeline says paused by whom and resumed by
    whom."""
    served.check("down")
    served.store.flush()
    (incident,) = served.json("/api/incidents?open=1")["incidents"]
    pages = queued(served)
    served.now += 30
    assert served.post("/api/monitors/down/pause", {"reason": "looking at it"})[0] == 200
    served.store.flush()
    assert [i["id"] for i in served.json("/api/incidents?open=1")["incidents"]] == [incident["id"]]
    served.now += 30
    assert served.post("/api/monitors/down/resume", {"reason": "done"})[0] == 200
    served.check("down")  # still refused
    served.store.flush()
    (same,) = served.json("/api/incidents?open=1")["incidents"]
    assert same["id"] == incident["id"]
    assert queued(served) == pages  # no second page
    said = [(e["event"], e["detail"]) for e in same["timeline"]]
    assert ("pause", "down paused by local: looking at it") in said
    assert ("resume", "down resumed by local: done") in said
    assert said[-1][0] == "monitor resumed"


def test_a_window_for_every_monitor_until_a_time(served: Served) -> None:
    """A window with no monitors covers all of them; ``until`` takes an ISO time."""
    status, window = served.post(
        "/api/maintenance", {"until": "2027-01-15T09:00:00+00:00", "reason": "all of it"}
    )
    assert (status, window["monitors"], window["end"]) == (201, [], "2027-01-15T09:00:00Z")
    served.check("down", "other")
    assert served.store.alert_heads() == []
    assert alerted(served) == {"down": False, "other": False}


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/monitors/nope/pause", None, 404, "no monitor is called 'nope'"),
        ("/api/monitors/wbe/pause", None, 404, "no monitor is called 'wbe', did you mean web?"),
        ("/api/incidents/99/acknowledge", None, 404, "no incident #99"),
        ("/api/incidents/abc/notes", {"text": "x"}, 400, "an incident's id is a whole number"),
        ("/api/incidents/1/notes", {}, 400, "text: give a text of 1 to 2000 characters"),
        ("/api/incidents/1/notes", {"text": 5}, 400, "text: give a text, not int"),
        ("/api/monitors/web/pause", {"reson": "x"}, 400, "unknown field 'reson', did you mean"),
        ("/api/monitors/web/pause", [1], 400, "the body must be a JSON object, not list"),
        ("/api/maintenance", {"reason": "x"}, 400, "give one of for (a duration"),
        ("/api/maintenance", {"for": "5", "reason": "x"}, 400, 'for: "5" is not a duration'),
        (
            "/api/maintenance",
            {"for": "5m", "reason": "x", "monitors": ["wbe"]},
            400,
            "did you mean web?",
        ),
        ("/api/maintenance", {"until": "2027-01-15 09:00", "reason": "x"}, 400, "with its offset"),
        ("/api/maintenance", {"until": "2000-01-01T00:00:00Z", "reason": "x"}, 400, "is not ahead"),
        ("/api/maintenance", {"for": "5m"}, 400, "reason: give a text"),
        # A time no page could show (datetime cannot hold it): refused, not stored.
        ("/api/maintenance", {"for": 1e300, "reason": "x"}, 400, "366 days at most"),
        ("/api/maintenance", {"for": "400d", "reason": "x"}, 400, "366 days at most"),
        ("/api/maintenance", {"until": 1e300, "reason": "x"}, 400, "within 366 days"),
        ("/api/maintenance", {"until": "9999-12-31T00:00:00Z", "reason": "x"}, 400, "366 days"),
        ("/api/maintenance/77/close", None, 404, "no maintenance window #77"),
    ],
)
def test_bad_input_gets_one_clear_error(
    served: Served, path: str, body: object, status: int, error: str
) -> None:
    """Unknown targets are 404, malformed input 400, each with one JSON error saying what
    to change; nothing is logged."""
    got, doc = served.post(path, body)
    assert got == status
    assert set(doc) == {"error"}
    assert error in doc["error"], doc
    assert audit(served) == []


def test_malformed_json_is_400(served: Served) -> None:
    """A body that is not JSON is refused with where it breaks."""
    status, doc = served.post("/api/monitors/web/pause", raw=b"{not json")
    assert status == 400
    assert doc["error"].startswith("the body is not JSON: ")


def test_a_change_from_another_origin_is_refused(served: Served) -> None:
    """A POST whose Origin is another site (a page elsewhere, through a visitor's browser),
    ``null`` without the browser's word that it is this origin, or that the browser marks
    as from another site, is 403 and changes nothing; this server's own is accepted."""
    status, doc = served.post("/api/monitors/web/pause", headers={"Origin": "http://evil.test"})
    assert (status, doc) == (403, {"error": "a change must come from this server's own pages"})
    assert "web" in served.runner.prober.names
    refused = [
        {"Origin": "null"},  # a sandboxed frame, a page elsewhere with no-referrer
        {"Sec-Fetch-Site": "cross-site"},  # the browser says so, whatever the Origin
        {"Origin": served.base, "Sec-Fetch-Site": "same-site"},
    ]
    for headers in refused:
        assert served.post("/api/monitors/web/pause", headers=headers)[0] == 403, headers
    assert audit(served) == []
    # Chromium's form POST from a page with Referrer-Policy: no-referrer.
    own_form = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert served.post("/api/monitors/web/pause", headers=own_form)[0] == 200
    assert served.post("/api/monitors/web/resume", headers={"Origin": served.base})[0] == 200


def test_a_form_post_answers_with_a_redirect_back(served: Served) -> None:
    """A form (the dashboard's buttons) gets 303 to the page it names, or to the target's
    own page; a ``back`` that leaves the server is ignored."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)

    def form(path: str, fields: str) -> tuple[int, str]:
        request = urllib.request.Request(
            served.base + path,
            data=fields.encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            opener.open(request, timeout=10)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Location"]
        raise AssertionError("no redirect")

    assert form("/api/monitors/api%2Fv1/pause", "csrf=x") == (
        303,
        f"/monitors/{quote('api/v1', safe='')}",
    )
    assert form("/api/monitors/web/pause", "back=//evil.test/") == (303, "/monitors/web")
    assert form("/api/monitors/web/resume", "back=/incidents") == (303, "/incidents")
    assert served.state("api/v1") == "paused"
