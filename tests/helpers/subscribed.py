"""A status page with subscribers, served for the subscriber tests (issue 48, 72, 73): a
real Runner over the lab served by make_app (tests/helpers/status_harness.py), its page
``public`` taking e-mail (through a real SMTP server's port) and webhooks, a Herald and a
Deliverer on the test's clock; and ``Hook``, a webhook receiver that keeps each body with
its signature.  The ``hook`` fixture is in tests/monitor/web/conftest.py."""

from __future__ import annotations

import http.server
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

import yaml

from tests.helpers.status_harness import CHECKED, ROUNDS, config_data
from tests.helpers.web_harness import ServedRunner
from tether.lab import Lab
from tether.monitor.alerts._subscribers import Deliverer
from tether.monitor.config import parse_config
from tether.monitor.runtime._heralds import Herald
from tether.monitor.store import SQLiteStore
from tether.monitor.web.status._statuspage import Sight

SITE = "https://status.example.com"


class Hook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver: keeps each body with its signature header."""

    got: ClassVar[list[tuple[bytes, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((body, self.headers.get("X-Tether-Signature-256", "")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class Subscribed(ServedRunner):
    """The status harness's runner with ``public`` taking subscribers."""

    def __init__(
        self,
        tmp: Path,
        lab: Lab,
        smtp_port: int,
        per_hour: int = 5,
        maintenance: bool = False,
        subscribe: dict[str, Any] | None = None,
        **served: Any,
    ) -> None:
        data = config_data(lab)
        data["alerts"] = [
            {
                "name": "mail",
                "type": "email",
                "host": "127.0.0.1",
                "port": smtp_port,
                "from": "status@example.com",
                "to": "ops@example.com",
                "starttls": False,
            }
        ]
        data["status_pages"][0]["subscribe"] = {
            "url": SITE,
            "email": "mail",
            "webhook": True,
            "webhook_networks": ["127.0.0.0/8"],
            "per_hour": per_hour,
            **(subscribe or {}),
        }
        data["maintenance"] = maintenance and [
            {"name": "db-upgrade-secret", "monitors": ["checkout-internal"],
             "start": "2027-01-17T02:00:00Z", "end": "2027-01-17T03:00:00Z"},
            {"name": "admin-only", "monitors": ["admin-secret-panel"],
             "start": "2027-01-16T02:00:00Z", "end": "2027-01-16T03:00:00Z"},
        ]  # fmt: skip
        if not maintenance:
            del data["maintenance"]
        store = SQLiteStore(tmp / "status.db")
        super().__init__(parse_config(yaml.safe_dump(data)), store, **served)
        self.herald = Herald(self.runner)
        self.deliverer = Deliverer(store, lambda: self.runner.config, "test", lambda: self.now)

    def look(self) -> int:
        seen = self.call(sight(self))
        page = self.runner.config.status_page("public")
        assert page is not None
        return self.herald.look(page, seen)

    def post(self, path: str, body: Any, form: bool = False) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode()
        kind = "application/json"
        if form:
            data, kind = urllib.parse.urlencode(body).encode(), "application/x-www-form-urlencoded"
        request = urllib.request.Request(
            self.base + path, data=data, method="POST", headers={"Content-Type": kind}
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


async def sight(s: Subscribed) -> Sight:
    return Sight.of(s.runner)


def started(tmp: Path, lab: Lab, port: int, per_hour: int = 5) -> Subscribed:
    s = Subscribed(tmp, lab, port, per_hour)
    for _ in range(ROUNDS):
        s.check(*CHECKED)
        s.now += 60
    return s


def token_in(text: str) -> str:
    found = re.search(r"token=([A-Za-z0-9_-]+)", text)
    assert found is not None, text
    return found.group(1)


def incident_of(s: Subscribed) -> int:
    status, _, body = s.get("/status/public.json")
    assert status == 200
    ids = [i["id"] for i in json.loads(body)["incidents"] if i["id"] is not None]
    assert ids
    return int(ids[0])
