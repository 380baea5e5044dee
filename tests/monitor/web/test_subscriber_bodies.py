"""What a webhook subscriber is posted, and the order of a page's updates, as the docs say
(issue 73 §7): ``at`` in ISO 8601 as an alert webhook's, a confirmation with the fields
every body has (``key``, ``at``, ``subject``, ``text``), and ``updates`` in the page's
JSON newest first.  A real Runner served on loopback and a real HTTP receiver."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.subscribed import Hook, incident_of, started, token_in
from tether.lab import Lab


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver()
    server.start()
    yield server
    server.stop()


def _iso_at(text: object) -> float:
    assert isinstance(text, str), text
    return dt.datetime.fromisoformat(text).timestamp()


def test_webhook_bodies_have_the_fields_the_docs_list_and_iso_times(
    tmp_path: Path, lab: Lab, smtp: SMTPReceiver, hook: tuple[str, type[Hook]]
) -> None:
    """The confirmation has ``key``, ``at`` (when it was asked), ``subject`` and
    ``text``; a piece of news has ``at`` in ISO 8601 with its offset, the moment of the
    update."""
    url, got = hook
    s = started(tmp_path, lab, smtp.port)
    try:
        asked = s.now
        assert s.post("/status/public/subscribe", {"webhook": url})[0] == 202
        s.deliverer.deliver_due()
        confirm = json.loads(got.got[0][0])
        for field in ("event", "key", "at", "page", "title", "subject", "text", "confirm"):
            assert confirm.get(field), field
        assert _iso_at(confirm["at"]) == asked
        assert confirm["subject"] == "Confirm your subscription to Example Shop status"
        assert s.post("/status/public/confirm", {"token": token_in(confirm["confirm"])})[0] == 200
        number = incident_of(s)
        s.now += 10
        posted = s.now
        s.post(f"/api/incidents/{number}/updates", {"state": "identified", "text": "Found."})
        s.now += 5
        s.look()
        s.deliverer.deliver_due()
        news = json.loads(got.got[-1][0])
        assert news["event"] == "incident.update"
        assert news["at"].endswith("+00:00")
        assert _iso_at(news["at"]) == posted
    finally:
        s.close()


def test_a_pages_updates_are_newest_first(tmp_path: Path, lab: Lab, smtp: SMTPReceiver) -> None:
    """Three updates posted in turn are listed newest first in the page's JSON, and the
    page shows them in that order."""
    s = started(tmp_path, lab, smtp.port)
    try:
        number = incident_of(s)
        for state in ("investigating", "identified", "monitoring"):
            s.now += 10
            s.post(f"/api/incidents/{number}/updates", {"state": state, "text": state})
        doc = json.loads(s.get("/status/public.json")[2])
        mine = next(i for i in doc["incidents"] if i["id"] == number)
        assert [u["state"] for u in mine["updates"]] == [
            "monitoring",
            "identified",
            "investigating",
        ]
        page = s.get("/status/public")[2].decode()
        shown = [
            page.index(f"update-{state}") for state in ("monitoring", "identified", "investigating")
        ]
        assert shown == sorted(shown)
    finally:
        s.close()
