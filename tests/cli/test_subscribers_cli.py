"""`tether update` against a real Runner served on loopback (tests/helpers/status_harness.py)
and `tether subscribers export|import` on real stores, as processes: one line and a stable
exit code for bad input (issue 48)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.status_harness import started
from tests.helpers.tether_processes import tether
from tether.lab import Lab
from tether.monitor.store import SQLiteStore
from tether.monitor.store._subscribers import Subscriber

PAGE = """
storage: {{path: "{db}"}}
monitors: [{{name: web, url: "http://127.0.0.1:9/"}}]
status_pages:
  - slug: public
    title: Shop
    groups: [{{name: G, monitors: [web]}}]
    subscribe: {{url: "https://status.example.com", webhook: true}}
"""


def _config(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(PAGE.format(db=tmp / f"{name}.db"))
    return path


def test_update_posts_to_a_running_monitor_and_says_what_it_did(tmp_path: Path, lab: Lab) -> None:
    """`tether update ID --state S TEXT` posts the update (shown on the page after); an
    unknown incident is one line and exit 2."""
    s = started(tmp_path, lab)
    try:
        doc = json.loads(s.get("/status/public.json")[2])
        number = next(i["id"] for i in doc["incidents"] if i["id"] is not None)
        code, out, err = tether(
            "update", str(number), "--state", "identified", "Rolling back.", "--server", s.base
        )
        assert (code, err) == (0, "")
        assert out == f"update 1 posted to incident {number}: identified\n"
        s.now += 10
        doc = json.loads(s.get("/status/public.json")[2])
        mine = next(i for i in doc["incidents"] if i["id"] == number)
        assert [(u["state"], u["text"]) for u in mine["updates"]] == [
            ("identified", "Rolling back.")
        ]
        code, out, err = tether("update", "9999", "--state", "identified", "x", "--server", s.base)
        assert (code, out) == (2, "")
        assert err == "tether update: no incident #9999\n"
    finally:
        s.close()


def test_subscribers_export_and_import_between_stores(tmp_path: Path) -> None:
    """An export holds each subscriber as stored; importing it into another store adds them
    once; a file that is not an export, or names a page that takes no subscribers, is one
    line and exit 2."""
    first, second = _config(tmp_path, "first"), _config(tmp_path, "second")
    store = SQLiteStore(tmp_path / "first.db")
    with store:
        store.import_subscribers(
            [Subscriber(0, "public", "email", "ann@example.com", "t" * 43, None, 1.0, 2.0)]
        )
    code, out, err = tether("subscribers", "export", "--config", str(first))
    assert (code, err) == (0, "")
    exported = json.loads(out)
    assert exported["subscribers"] == [
        {
            "page": "public",
            "kind": "email",
            "address": "ann@example.com",
            "token": "t" * 43,
            "secret": None,
            "created": 1.0,
            "confirmed": 2.0,
        }
    ]
    dump = tmp_path / "subscribers.json"
    dump.write_text(out)
    code, out, err = tether("subscribers", "import", str(dump), "--config", str(second))
    assert (code, out, err) == (0, "1 subscribers imported (0 were there already)\n", "")
    code, out, _ = tether("subscribers", "import", str(dump), "--config", str(second))
    assert out == "0 subscribers imported (1 were there already)\n"
    exported["subscribers"][0]["page"] = "internal"
    dump.write_text(json.dumps(exported))
    code, out, err = tether("subscribers", "import", str(dump), "--config", str(second))
    assert (code, out) == (2, "")
    assert err == (
        "tether subscribers import: subscribers[0].page: no status page 'internal' takes "
        "subscribers in this configuration\n"
    )
    dump.write_text("[1, 2]")
    code, _, err = tether("subscribers", "import", str(dump), "--config", str(second))
    assert code == 2
    assert err.count("\n") == 1
    assert "is not an export of tether subscribers" in err
