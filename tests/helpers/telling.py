"""A page whose news a test follows on every surface (issue 73, "What people are told"):
a real Runner served by make_app on a wall clock the test moves
(tests/helpers/web_harness.py), its monitors probed for real against the lab, each
routed to the lab's healthy target or its refusing one as the test says (``down``); a
confirmed webhook subscriber on a real receiver on loopback; the Atom feed read as a
reader reads it; the alert channel's webhook on the same receiver.

Monitors: ``checkout`` (public as "Checkout") and ``cart`` (public as "Cart"), both on
the page ``public`` and on the alert channel ``ops``."""

from __future__ import annotations

import http.server
import json
import re
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from tests.helpers.web_harness import ServedRunner
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor._agent_wire import AgentCheck, Batch, new_batch_id
from tether.monitor._records import ProbeRecord
from tether.monitor.alerts._subscribers import Deliverer
from tether.monitor.alerts._webhook import WebhookChannel
from tether.monitor.config import parse_config
from tether.monitor.runtime._heralds import Herald
from tether.monitor.store import SQLiteStore
from tether.monitor.web.status._statuspage import Sight
from tether.probe import ProbeOptions, ProbeResult, probe_async

SITE = "https://status.example.com"
ATOM = "{http://www.w3.org/2005/Atom}"


TWO_LOCATIONS: dict[str, Any] = {
    "locations": ["local", "branch-1"],
    "tokens": [
        {"name": "b1", "hash": "sha256$" + "ab" * 32, "scope": "agent", "location": "branch-1"}
    ],
}
"""The configuration's extra for monitors at ``local`` (the runner's own checks) and at
``branch-1``, whose agent reports through :meth:`Told.agent`."""


class Receiver(http.server.BaseHTTPRequestHandler):
    """Keeps each body posted, by path: ``/sub`` the subscriber's, ``/ops`` the alerts'."""

    got: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((self.path, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Entry:
    """An Atom entry as a reader keeps it."""

    id: str
    title: str
    updated: str
    text: str


class Told(ServedRunner):
    """The runner, its page, its subscriber, its feed and its alert channel."""

    def __init__(self, tmp: Path, lab: Lab, *, hidden: bool = False, **extra: Any) -> None:
        """``extra``: more of the configuration; ``hidden``: a monitor ``internal`` too,
        on no page, alerting ``ops``."""

        class Mine(Receiver):
            got: ClassVar[list[tuple[str, bytes]]] = []

        self.received = Mine
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mine)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        hook = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.down: set[str] = set()
        self.down_at: dict[str, set[str]] = {}
        """The monitors each agent location finds down (:meth:`agent`)."""
        healthy, refused = lab["healthy"].url, lab["refused"].url
        self.urls = {f"{healthy}checkout": "checkout", f"{healthy}cart": "cart"}
        if hidden:
            self.urls[f"{healthy}internal"] = "internal"
        data: dict[str, Any] = {
            "alerts": [{"name": "ops", "type": "webhook", "url": f"{hook}/ops"}],
            "monitors": [
                {"name": name, "url": url, "interval": "30s", "timeout": "2s",
                 "failure_threshold": 1, "success_threshold": 1, "alerts": ["ops"]}
                for url, name in self.urls.items()
            ],
            "status_pages": [
                {
                    "slug": "public",
                    "title": "Shop status",
                    "groups": [
                        {"name": "Shop", "monitors": [
                            {"monitor": "checkout", "name": "Checkout"},
                            {"monitor": "cart", "name": "Cart"},
                        ]},
                    ],
                    "subscribe": {"url": SITE, "webhook": True,
                                  "webhook_networks": ["127.0.0.0/8"]},
                }
            ],
            **extra,
        }  # fmt: skip

        async def probe(target: str, options: ProbeOptions) -> ProbeResult:
            name = self.urls.get(target)
            return await probe_async(refused if name in self.down else target, options)

        store = SQLiteStore(tmp / "told.db")
        here = {"location": "local"} if "locations" in extra else {}
        super().__init__(parse_config(yaml.safe_dump(data)), store, probe=probe, **here)
        self.runner.outbox.channels = {"ops": WebhookChannel("ops", f"{hook}/ops")}
        self.herald = Herald(self.runner)
        self.deliverer = Deliverer(store, lambda: self.runner.config, "test", lambda: self.now)
        self.hook = hook
        self.feeds: dict[str, Entry] = {}
        """Every feed entry a reader has seen, by id, as first seen."""
        self.rewritten: list[tuple[Entry, Entry]] = []
        """Entries seen again with another text and the same id and updated."""

    # -- moving the world ------------------------------------------------------------

    def checks(self, *names: str) -> None:
        """A check of each monitor (all: none named), then the news told and delivered
        and the feed read, as the herald, the deliverer and a feed reader do."""
        self.check(*(names or tuple(self.urls.values())))
        self.tell()

    def agent(self, location: str = "branch-1", *names: str) -> None:
        """A batch from ``location``'s agent (its token's), as the intake takes it from
        the wire: a check of each monitor (all: none named) as it finds it, down for those
        it is told are down there (``down_at``), then the news told."""
        checks = []
        for name in names or tuple(self.urls.values()):
            ok = name not in self.down_at.get(location, set())
            kind = None if ok else Kind.CONNECT_REFUSED
            record = ProbeRecord(name, self.now, ok, kind, 3.0, None if ok else "refused")
            checks.append(AgentCheck(record, "127.0.0.1:9"))
        sent = Batch(new_batch_id(), location, self.now, tuple(checks), agent="a1", version="t")
        self.call(self.runner.agents.take(sent, location))
        self.tell()

    def seen(self, monitor: str, *, local: bool | None = None, branch: bool | None = None) -> None:
        """``monitor`` as each location finds it from now (True: up; None: as before),
        then each location's checks (:data:`TWO_LOCATIONS`), 15 s apart: the feed is built
        at most every 5 s of the runner's clock, so each step's news is read."""
        self.now += 15
        if local is not None:
            (self.down.discard if local else self.down.add)(monitor)
        if branch is not None:
            found = self.down_at.setdefault("branch-1", set())
            (found.discard if branch else found.add)(monitor)
        self.checks()
        self.now += 15
        self.agent()

    def tell(self) -> None:
        sight = self.call(_sight(self))
        page = self.runner.config.status_page("public")
        assert page is not None
        self.on_loop(self.runner.tick)  # what is due: grouped updates, held alerts
        self.store.flush()
        self.herald.look(page, sight)
        self.deliverer.deliver_due()
        self.on_loop(self.runner.outbox.deliver_due, self.now)
        self.read_feed()

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def subscribe(self) -> None:
        """A webhook subscriber, confirmed."""
        status, _ = self.post("/status/public/subscribe", {"webhook": f"{self.hook}/sub"})
        assert status == 202
        self.deliverer.deliver_due()
        confirm = json.loads(self.bodies("/sub")[-1])["confirm"]
        token = re.search(r"token=([A-Za-z0-9_-]+)", confirm)
        assert token is not None
        assert self.post("/status/public/confirm", {"token": token.group(1)})[0] == 200

    # -- what was told -----------------------------------------------------------------

    def bodies(self, path: str) -> list[bytes]:
        return [b for p, b in list(self.received.got) if p == path]

    def news(self) -> list[dict[str, Any]]:
        """What the subscriber was told, its confirmation left out, by when it happened
        (deliveries run side by side: they may arrive in any order)."""
        said = [json.loads(b) for b in self.bodies("/sub")]
        news = [n for n in said if n["event"] != "subscription.confirm"]
        return sorted(news, key=lambda n: (n["at"], n["key"]))

    def alerts(self) -> list[dict[str, Any]]:
        """What the alert channel was sent."""
        return [json.loads(b) for b in self.bodies("/ops")]

    def page(self) -> Any:
        return self.json("/status/public.json")

    def read_feed(self) -> list[Entry]:
        """The feed now, newest first, remembering every entry seen."""
        status, _, body = self.get("/status/public/feed.atom")
        assert status == 200
        entries = []
        for e in ET.fromstring(body).iter(f"{ATOM}entry"):
            entry = Entry(
                e.findtext(f"{ATOM}id") or "",
                e.findtext(f"{ATOM}title") or "",
                e.findtext(f"{ATOM}updated") or "",
                e.findtext(f"{ATOM}content") or "",
            )
            seen = self.feeds.setdefault(entry.id, entry)
            if (seen.title, seen.text) != (
                entry.title,
                entry.text,
            ) and seen.updated == entry.updated:
                self.rewritten.append((seen, entry))
            entries.append(entry)
        return entries

    def close(self) -> None:
        super().close()
        self.server.shutdown()
        self.server.server_close()


async def _sight(s: Told) -> Sight:
    return Sight.of(s.runner)


def told(tmp: Path, lab: Lab, *, hidden: bool = False, **extra: Any) -> Iterator[Told]:
    t = Told(tmp, lab, hidden=hidden, **extra)
    try:
        yield t
    finally:
        t.close()
