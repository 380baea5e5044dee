"""The silences' API on a real Runner served on 127.0.0.1:0, the runner's wall clock in
the test's hand (tests/helpers/actions_harness.py): made, listed with their state,
expired, audited; bad input is one clear 400; an alert a silence keeps is listed by
``/api/alerts/suppressed`` and never reaches a real webhook receiver on loopback; and
with users and tokens configured, a visitor and a reader cannot make one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.actions_harness import Served
from tests.helpers.alert_payloads import opened
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.web_harness import EPOCH
from tether.lab import Lab
from tether.monitor._records import AuditEntry
from tether.monitor.alerts import SilenceGate, WebhookChannel
from tether.monitor.config._passwords import hash_password, hash_token, new_token
from tether.monitor.engine._silences import SILENCES_MAX

READ_TOKEN = new_token()
WRITE_TOKEN = new_token()


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path / "silences.db", lab)
    yield s
    s.close()


def audit(served: Served) -> list[tuple[str, str]]:
    return [(e["action"], e["target"]) for e in served.json("/api/audit")["entries"]]


def test_a_silence_is_made_listed_and_expired(served: Served) -> None:
    """POST makes an active silence from now for its duration, by whoever asked; the list
    shows it with its state; expiring ends it now, once; each change is audited."""
    status, made = served.post(
        "/api/silences",
        {"matchers": ['service="checkout"', 'tier=~"1|2"'], "for": "2h", "comment": "deploy"},
    )
    assert status == 201, made
    assert made["matchers"] == ['service="checkout"', 'tier=~"1|2"']
    assert (made["starts"], made["ends"]) == ("2027-01-15T08:00:00Z", "2027-01-15T10:00:00Z")
    assert (made["comment"], made["created_by"], made["state"]) == ("deploy", "local", "active")
    (listed,) = served.json("/api/silences")["silences"]
    assert listed == made
    served.now = EPOCH + 60
    status, done = served.post(f"/api/silences/{made['id']}/expire")
    assert status == 200, done
    assert (done["state"], done["expired"], done["changed"]) == (
        "expired",
        "2027-01-15T08:01:00Z",
        True,
    )
    assert served.post(f"/api/silences/{made['id']}/expire")[1]["changed"] is False
    assert served.post("/api/silences/999/expire") == (404, {"error": "no silence #999"})
    assert served.json("/api/silences")["silences"][0]["state"] == "expired"
    assert audit(served) == [
        ("silence.expire", f"silence:{made['id']}"),
        ("silence.add", f"silence:{made['id']}"),
    ]


def test_a_silence_to_come_from_a_braced_string_and_an_end(served: Served) -> None:
    """Matchers may be one braced string; a start ahead makes it pending; a start past is
    now, as Alertmanager's."""
    status, later = served.post(
        "/api/silences",
        {
            "matchers": '{team="db", monitor!="web"}',
            "starts": "2027-01-15T09:00:00Z",
            "ends": "2027-01-15T10:00:00+00:00",
            "comment": "db upgrade",
        },
    )
    assert status == 201, later
    assert (later["matchers"], later["state"]) == (['team="db"', 'monitor!="web"'], "pending")
    status, past = served.post(
        "/api/silences",
        {"matchers": "team=db", "starts": EPOCH - 3600, "ends": EPOCH + 60, "comment": "x"},
    )
    assert status == 201, past
    assert (past["starts"], past["state"]) == ("2027-01-15T08:00:00Z", "active")


BAD: list[tuple[dict[str, Any], str]] = [
    ({"for": "1h", "comment": "x"}, "matchers: give a list of matchers"),
    ({"matchers": [], "for": "1h", "comment": "x"}, "matchers: give a list of matchers"),
    ({"matchers": ["team"], "for": "1h", "comment": "x"}, "is not a matcher"),
    ({"matchers": ['team=~"(a)\\\\1"'], "for": "1h", "comment": "x"}, "a back-reference"),
    ({"matchers": ['team=~"x(?=y)"'], "for": "1h", "comment": "x"}, "RE2 (Alertmanager's"),
    ({"matchers": ['team=~".*"'], "for": "1h", "comment": "x"}, "would silence every alert"),
    ({"matchers": ['team!="db"'], "for": "1h", "comment": "x"}, "would silence every alert"),
    ({"matchers": [f"l{i}=v" for i in range(17)], "for": "1h", "comment": "x"}, "at most 16"),
    ({"matchers": ["team=db"], "comment": "x"}, "give one of for (a duration"),
    ({"matchers": ["team=db"], "for": "1h", "ends": EPOCH + 9, "comment": "x"}, "give one of"),
    ({"matchers": ["team=db"], "for": "91d", "comment": "x"}, "90 days at most"),
    ({"matchers": ["team=db"], "for": "soon", "comment": "x"}, "for: "),
    ({"matchers": ["team=db"], "ends": EPOCH - 1, "comment": "x"}, "is not after the start"),
    ({"matchers": ["team=db"], "ends": "2027-01-15 09:00", "comment": "x"}, "with its offset"),
    ({"matchers": ["team=db"], "for": "1h"}, "comment: give a text"),
    ({"matchers": ["team=db"], "for": "1h", "comment": "x", "by": "me"}, "unknown field 'by'"),
]


@pytest.mark.parametrize(("body", "said"), BAD)
def test_bad_input_gets_one_clear_error(served: Served, body: dict[str, Any], said: str) -> None:
    """Each mistake is a 400 whose error says what to change, and nothing is stored."""
    status, doc = served.post("/api/silences", body)
    assert status == 400, doc
    assert said in doc["error"], doc
    assert served.json("/api/silences")["silences"] == []


def test_silences_in_force_are_bounded(served: Served) -> None:
    """With SILENCES_MAX in force (every alert is matched against each), one more is a 400
    saying so and nothing is stored; one expired makes room again (issue 45: 100,000
    silences made each alert's delivery read and compile them all, each second)."""
    audit_entry = AuditEntry(EPOCH, "ana", "token", "silence.add", "silence", {})
    made = [
        served.store.add_silence([f'team="t{i}"'], EPOCH, EPOCH + 3600, "x", audit_entry)
        for i in range(SILENCES_MAX)
    ]
    body = {"matchers": ['team="one-more"'], "for": "1h", "comment": "x"}
    status, doc = served.post("/api/silences", body)
    assert (status, doc["error"]) == (
        400,
        f"{SILENCES_MAX} silences are in force, at most {SILENCES_MAX}: expire some, or make "
        "one whose matchers select what several would",
    )
    assert served.store.count_silences_in_force(EPOCH) == SILENCES_MAX
    assert served.post(f"/api/silences/{made[0].id}/expire")[0] == 200
    assert served.post("/api/silences", body)[0] == 201


def test_a_bad_id_is_400(served: Served) -> None:
    """An id that is not a whole number is refused with a 400 that says so."""
    status, doc = served.post("/api/silences/x1/expire")
    assert (status, doc["error"]) == (
        400,
        'a silence\'s id is a whole number of 1 to 18 digits, not "x1"',
    )


def test_a_kept_alert_is_listed_and_never_reaches_the_receiver(
    served: Served, receiver: Receiver
) -> None:
    """A silence made through the API keeps a matching alert from a real webhook at once
    (this instance's gate reads again); the alert is listed with why, the other goes."""
    receiver.start()
    outbox = served.runner.outbox
    ops = WebhookChannel("ops", receiver.url)
    outbox.channels = {"ops": ops}
    gate = SilenceGate(served.store.silences_in_force)
    outbox.gates.append(gate)
    assert gate.silences(EPOCH) == ()  # read before: the API's change makes it read again
    status, made = served.post(
        "/api/silences", {"matchers": ['monitor="api"'], "for": "1h", "comment": "deploy"}
    )
    assert status == 201, made
    served.store.enqueue_alert("ops", "a", opened(), EPOCH)
    served.store.enqueue_alert("ops", "b", opened(monitor="web"), EPOCH)
    assert outbox.deliver_due(EPOCH + 0.5) == (2, 0)
    ops.close()
    assert len(receiver.got) == 1
    (kept,) = served.json("/api/alerts/suppressed")["alerts"]
    assert kept == {
        "id": kept["id"],
        "channel": "ops",
        "event": "incident.opened",
        "monitor": "api",
        "incident": 7,
        "at": "2027-01-15T08:00:00Z",
        "why": f"silenced by #{made['id']} (deploy, by local)",
    }


def test_a_visitor_and_a_reader_cannot_make_or_expire_one(lab: Lab, tmp_path: Path) -> None:
    """With users and tokens configured: no credential is a 401, the read token a 403 (it may list);
    the write token makes one, named as its maker."""
    tokens = [
        {"name": "ci-read", "hash": hash_token(READ_TOKEN), "scope": "read"},
        {"name": "ci-write", "hash": hash_token(WRITE_TOKEN), "scope": "write"},
    ]
    users = [{"name": "bob", "password_hash": hash_password(PASSWORD, n=FAST), "scopes": ["read"]}]
    served = Served(tmp_path / "tokens.db", lab, extra={"tokens": tokens, "users": users})
    try:
        body = {"matchers": ["team=db"], "for": "1h", "comment": "x"}
        reader = {"Authorization": f"Bearer {READ_TOKEN}"}
        writer = {"Authorization": f"Bearer {WRITE_TOKEN}"}
        assert served.request("POST", "/api/silences", body=body).status == 401
        assert served.request("GET", "/api/silences").status == 401
        assert served.request("GET", "/api/alerts/suppressed").status == 401
        refused = served.request("POST", "/api/silences", body=body, headers=reader)
        assert refused.status == 403, refused.body
        listed = served.request("GET", "/api/silences", headers=reader)
        assert (listed.status, listed.json()["silences"]) == (200, [])
        made = served.request("POST", "/api/silences", body=body, headers=writer)
        assert made.status == 201, made.body
        number = made.json()["id"]
        assert made.json()["created_by"] == "token:ci-write"
        gone = served.request("POST", f"/api/silences/{number}/expire", headers=reader)
        assert gone.status == 403
        state = served.request("GET", "/api/silences", headers=reader).json()["silences"][0]
        assert state["state"] == "active"
    finally:
        served.close()
