"""The objectives of a configuration fed checks and calls (``engine/objectives/_book.py``):
which checks count, which do not (maintenance, pauses, a traffic monitor's verdicts), and
the alerts with their channels and the monitors and kinds that spent the budget."""

from __future__ import annotations

from tether._kinds import Kind
from tether.monitor._records import OpenedWindow, ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.engine._holds import opened_window
from tether.monitor.engine._traffic import TrafficCall
from tether.monitor.engine.objectives._book import ObjectiveBook, Spender

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z

CONFIG = """\
alerts:
  - {name: oncall, type: webhook, url: "http://127.0.0.1:9/page"}
maintenance:
  - {name: upgrade, start: "2026-01-01T00:00:00Z", end: "2026-01-01T01:00:00Z", monitors: [db]}
monitors:
  - {name: api, url: "http://127.0.0.1:8080/"}
  - {name: login, url: "http://127.0.0.1:8081/"}
  - {name: db, url: "tcp://127.0.0.1:5432"}
  - {name: shop, type: traffic, app: shop}
  - {name: other, url: "http://127.0.0.1:8082/"}
objectives:
  - {name: front, match: 'monitor=~"api|login|db"', target: 99.9%, window: 3d,
     alerts: [oncall]}
  - {name: calls, monitors: [shop], target: 99%, window: 3d}
"""


def record(monitor: str, at: float, kind: Kind | None = None, ok: bool = False) -> ProbeRecord:
    return ProbeRecord(monitor, at, ok, kind, 12.0)


def test_an_outage_pages_to_the_objectives_channels_naming_who_spent_the_budget() -> None:
    """After the 1,000 passing checks a 99.9% budget needs, api refused for 2 minutes,
    login failing one check in four: the page goes to oncall, naming api's
    connect.refused first, then login's http.server_error."""
    book = ObjectiveBook(parse_config(CONFIG))
    assert book.members == {
        "api": ["front"],
        "login": ["front"],
        "db": ["front"],
        "shop": ["calls"],
    }
    book.ledgers["front"].record(START + 3600, good=1000, total=1000)
    now = START + 7200
    for second in range(120):
        now = START + 7200 + second
        book.observe(record("api", now, Kind.CONNECT_REFUSED))
        book.observe(record("login", now, Kind.HTTP_SERVER_ERROR, ok=second % 4 != 0))
        book.observe(record("other", now, Kind.CONNECT_REFUSED))
    alerts = book.evaluate(now)
    assert {(a.objective, a.event.type, a.event.severity) for a in alerts} >= {
        ("front", "fired", "page")
    }
    page = next(a for a in alerts if a.event.rule.long == 3600)
    assert page.channels == ("oncall",)
    assert page.spenders == (
        Spender("api", "connect.refused", 120),
        Spender("login", "http.server_error", 30),
    )
    assert book.status("front", now).counts == (1090, 1240)


def test_maintenance_and_pauses_spend_nothing() -> None:
    """db failing inside its maintenance window, api failing while paused: not counted."""
    book = ObjectiveBook(parse_config(CONFIG))
    for second in range(600):
        book.observe(record("db", START + second, Kind.CONNECT_REFUSED))
        book.observe(record("api", START + second, Kind.CONNECT_REFUSED), paused=True)
    assert book.status("front", START + 600).counts == (0, 0)
    assert book.evaluate(START + 600) == []
    # After the window, db's failures count.
    book.observe(record("db", START + 3600 + 1, Kind.CONNECT_REFUSED))
    assert book.status("front", START + 3602).counts == (0, 1)


def test_a_window_opened_at_run_time_spends_nothing_either() -> None:
    """A maintenance window opened through the write API (``ObjectiveBook.opened``, kept up to
    date by the running monitor) excludes its monitors' checks while it is open, as the
    file's windows do; the others, and the same monitor after it, count."""
    book = ObjectiveBook(parse_config(CONFIG))
    window = opened_window(OpenedWindow(1, ("login",), START + 7200, START + 7800, "deploy", "ana"))
    book.opened = (window,)
    for second in range(600):
        book.observe(record("login", START + 7200 + second, Kind.HTTP_SERVER_ERROR))
    assert book.status("front", START + 7800).counts == (0, 0)
    book.observe(record("api", START + 7300, Kind.CONNECT_REFUSED))
    book.observe(record("login", START + 7800 + 1, Kind.HTTP_SERVER_ERROR))
    assert book.status("front", START + 7802).counts == (0, 2)


def test_a_traffic_monitor_counts_its_calls_not_its_verdicts() -> None:
    """shop's reported calls are its events; the checks its verdicts make are not."""
    book = ObjectiveBook(parse_config(CONFIG))
    calls = [
        TrafficCall(START + i, "pay.internal:443", None if i % 10 else "read.timeout", 80.0)
        for i in range(100)
    ]
    book.observe_calls("shop", calls)
    book.observe(record("shop", START + 100, Kind.READ_TIMEOUT))
    assert book.status("calls", START + 100).counts == (90, 100)
    assert book.spenders("calls", START + 100) == (Spender("shop", "read.timeout", 10),)
    book.observe_calls("other", calls)  # in no objective
    assert book.status("front", START + 100).counts == (0, 0)
