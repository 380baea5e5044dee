"""Text already in a store that no page can carry (issue 72 §1): a lone surrogate, a
control character or a noncharacter written into the rows before the one gate existed
(``incident_timeline``, ``tether_audit``, a pause's reason, an incident's detail) is shown
escaped on every read route, never a 500, and the Atom feed stays XML.

The rows are written straight into the SQLite file (as a monitor before the gate stored
them: JSON columns hold a lone surrogate as its ``\\ud800`` escape, text columns a
noncharacter or a control character as it is), then a fresh Runner is started on it, so
every page reads them back from the store."""

from __future__ import annotations

import http.client
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
import yaml

from tests.helpers.web_harness import EPOCH, ServedRunner
from tether.lab import Lab
from tether.monitor.config import parse_config
from tether.monitor.config._passwords import hash_token, new_token
from tether.monitor.store import SQLiteStore

READ: Final = new_token()
WRITE: Final = new_token()
BAD_JSON: Final = "x\\ud800 \\uffff \\ufffe \\u0001 \\udfff!"
"""What a JSON column held once ``{"reason": "x\\ud800 ..."}`` was taken: escapes."""
BAD_TEXT: Final = "x\uffff \ufffe \x01 \x0b!"
"""What a text column held (SQLite takes a noncharacter and a control character)."""
READS: Final = (
    "/api/status",
    "/api/incidents",
    "/api/monitors/down",
    "/api/monitors/web",
    "/api/audit",
    "/",
    "/monitors/down",
    "/monitors/web",
    "/incidents",
    "/status/s",
    "/status/s.json",
)


def _config(lab: Lab) -> str:
    return yaml.safe_dump(
        {
            "tokens": [
                {"name": "reader", "hash": hash_token(READ), "scope": "read"},
                {"name": "writer", "hash": hash_token(WRITE), "scope": "write"},
            ],
            "monitors": [
                {"name": "web", "url": lab["healthy"].url, "interval": "1h"},
                {
                    "name": "down",
                    "url": lab["refused"].url,
                    "interval": "1h",
                    "failure_threshold": 1,
                },
            ],
            "status_pages": [
                {
                    "slug": "s",
                    "title": "Shop",
                    "groups": [{"name": "All", "monitors": ["web", "down"]}],
                    "subscribe": {"url": "https://status.example.com", "webhook": True},
                }
            ],
        }
    )


def _post(s: ServedRunner, path: str, body: object) -> None:
    got = s.request("POST", path, headers={"Authorization": f"Bearer {WRITE}"}, body=body)
    assert got.status in (200, 201), (path, got.status, got.body[:200])


def _read(s: ServedRunner, path: str) -> tuple[int, bytes]:
    """The status and raw bytes of a GET of ``path`` with the read token."""
    conn = http.client.HTTPConnection(s.host, s.port, timeout=20)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {READ}"})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def restarted(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRunner]:
    """A monitor whose store holds bad text in each table a page reads, started afresh."""
    db: Path = tmp_path_factory.mktemp("stored") / "t.db"
    config = parse_config(_config(lab))
    first = ServedRunner(config, SQLiteStore(db))
    first.now = EPOCH + 10
    first.check("web", "down")
    incident = first.json("/api/incidents")["incidents"][0]["id"]
    _post(first, "/api/monitors/web/pause", {"reason": "MARK"})
    _post(first, f"/api/incidents/{incident}/notes", {"text": "MARK"})
    _post(first, f"/api/incidents/{incident}/updates", {"state": "identified", "text": "MARK"})
    first.store.flush()
    first.close()
    with sqlite3.connect(db) as conn:
        for table, column in (("incident_timeline", "entry"), ("tether_audit", "params")):
            conn.execute(f"UPDATE {table} SET {column} = replace({column}, 'MARK', ?)", (BAD_JSON,))
        conn.execute("UPDATE incidents SET detail = ?", (BAD_TEXT,))
        conn.execute("UPDATE tether_incident_updates SET text = ?", (BAD_TEXT,))
        conn.execute("UPDATE tether_controls SET paused_by = ?", (BAD_TEXT,))
        conn.execute("UPDATE results SET detail = ?", (BAD_TEXT,))
        conn.execute("UPDATE tether_location_states SET detail = ?", (BAD_TEXT,))
        # What the feed reads: the page's news as it was told (issue 73 §4), one piece
        # holding the update's text as a monitor before the gate would have told it.
        told = {
            "key": "update:1",
            "at": EPOCH + 15,
            "event": "incident.updated",
            "subject": "Update: Shop",
            "text": BAD_TEXT,
        }
        conn.execute(
            "INSERT INTO tether_status_news (page, key, at, noted, body) VALUES (?, ?, ?, ?, ?)",
            ("s", "update:1", EPOCH + 15, EPOCH + 15, json.dumps(told)),
        )
        held = conn.execute("SELECT count(*) FROM incident_timeline WHERE entry LIKE '%ud800%'")
        assert held.fetchone()[0] >= 2
    s = ServedRunner(parse_config(_config(lab)), SQLiteStore(db))
    s.now = EPOCH + 20
    yield s
    s.close()


@pytest.mark.parametrize("path", READS)
def test_every_read_route_shows_stored_bad_text_escaped(restarted: ServedRunner, path: str) -> None:
    """Each read route answers 200 over rows holding lone surrogates, noncharacters and
    control characters, in UTF-8 that decodes, showing a lone surrogate as its escape
    (before: /api/status, /api/incidents, /api/audit, / and the monitor's page were 500)."""
    status, body = _read(restarted, path)
    assert status == 200, (path, body[:300])
    text = body.decode("utf-8")
    if path.startswith("/api/") or path.endswith(".json"):
        json.loads(text)


def test_a_surrogate_is_shown_as_its_escape(restarted: ServedRunner) -> None:
    """The note reads back with ``\\ud800`` written out, six characters, not a lone
    surrogate a strict JSON reader refuses."""
    text = _read(restarted, "/api/incidents")[1].decode("utf-8")
    assert "\\\\ud800" in text
    assert "\ud800" not in json.loads(text)


def test_the_feed_stays_xml_over_stored_noncharacters(restarted: ServedRunner) -> None:
    """The Atom feed parses as XML (xml.etree) with an update holding ``\\uffff``, a lone
    surrogate and a control character among its newest entries (before: not XML)."""
    status, _, body = restarted.get("/status/s/feed.atom")
    assert status == 200
    feed = ET.fromstring(body)
    texts = "".join(feed.itertext())
    assert "x\\uffff \\ufffe \\u0001 \\u000b!" in texts
