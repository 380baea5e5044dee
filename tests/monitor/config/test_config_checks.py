"""What one field cannot see, checked across the file: unique names, references that
exist, no dependency cycle, timeouts against intervals, options that fit the scheme."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.config_text import URL, dump, errors_of
from tether.monitor.config import parse_config


def test_names_must_be_unique() -> None:
    """A second monitor, channel or window with the same name points at the first."""
    hook = {"type": "webhook", "url": "http://127.0.0.1/h"}
    once = {"start": "2025-07-01T00:00:00Z", "end": "2025-07-01T01:00:00Z"}
    text = dump(
        {"name": "api", "url": URL},
        {"name": "api", "url": URL},
        alerts=[{"name": "ops", **hook}, {"name": "ops", **hook}],
        maintenance=[{"name": "w", **once}, {"name": "w", **once}],
    )
    assert errors_of(text) == [
        'alerts[1].name: "ops" is already the name of alerts[0]; each alert channel needs its own',
        'maintenance[1].name: "w" is already the name of maintenance[0]; '
        "each maintenance window needs its own",
        'monitors[1].name: "api" is already the name of monitors[0]; each monitor needs its own',
    ]


def test_alerts_must_name_a_channel() -> None:
    """A monitor's or the defaults' alert names must exist under alerts."""
    text = dump(
        {"name": "api", "url": URL, "alerts": ["ops", "opz"]},
        {"name": "b", "url": URL, "alerts": ["pager"]},
        alerts=[{"name": "ops", "type": "webhook", "url": "http://127.0.0.1/h"}],
        defaults={"alerts": ["team"]},
    )
    assert errors_of(text) == [
        'defaults.alerts[0]: no alert channel named "team"; define it under alerts',
        'monitors[0].alerts[1]: no alert channel named "opz", did you mean ops?',
        'monitors[1].alerts[0]: no alert channel named "pager"; define it under alerts',
    ]


def test_depends_on_must_name_another_monitor() -> None:
    """depends_on names an existing monitor other than itself."""
    text = dump(
        {"name": "db", "url": "tcp://127.0.0.1:5432"},
        {"name": "api", "url": URL, "depends_on": ["dbb", "api", "cache"]},
    )
    assert errors_of(text) == [
        'monitors[1].depends_on[0]: no monitor named "dbb", did you mean db?',
        "monitors[1].depends_on[1]: a monitor cannot depend on itself",
        'monitors[1].depends_on[2]: no monitor named "cache"; define it under monitors',
    ]


def test_dependency_cycles_are_reported_once_from_the_first_monitor() -> None:
    """A cycle is one error, told from the monitor written first, whatever its length."""
    text = dump(
        {"name": "edge", "url": URL, "depends_on": "api"},
        {"name": "api", "url": URL, "depends_on": ["db"]},
        {"name": "db", "url": URL, "depends_on": ["edge"]},
        {"name": "x", "url": URL, "depends_on": ["y"]},
        {"name": "y", "url": URL, "depends_on": ["x"]},
        {"name": "leaf", "url": URL, "depends_on": ["x", "api"]},
    )
    assert errors_of(text) == [
        "monitors[0].depends_on[0]: dependency cycle: edge -> api -> db -> edge",
        "monitors[3].depends_on[0]: dependency cycle: x -> y -> x",
    ]


def test_a_diamond_of_dependencies_is_not_a_cycle() -> None:
    """Two monitors sharing a parent, and a child of both, is a valid graph."""
    config = parse_config(
        dump(
            {"name": "db", "url": URL},
            {"name": "a", "url": URL, "depends_on": "db"},
            {"name": "b", "url": URL, "depends_on": "db"},
            {"name": "c", "url": URL, "depends_on": ["a", "b"]},
        )
    )
    assert config.monitor("c").depends_on == ("a", "b")


@pytest.mark.parametrize(
    ("monitor", "defaults", "error"),
    [
        (
            {"interval": "10s", "timeout": "10s"},
            {},
            "monitors[0].timeout: 10s must be shorter than the interval (10s)",
        ),
        (
            {"timeout": "30s"},
            {"interval": "20s"},
            "monitors[0].timeout: 30s must be shorter than the interval "
            "(20s, from defaults.interval)",
        ),
        (
            {"interval": "5s"},
            {"timeout": "8s"},
            "monitors[0].interval: 5s must be longer than the timeout (8s, from defaults.timeout)",
        ),
        (
            {},
            {"interval": "5s", "timeout": "1m"},
            "defaults.timeout: 1m must be shorter than the interval (5s)",
        ),
        (
            {"interval": "2m"},
            {"interval": "5s", "timeout": "1m"},
            "defaults.timeout: 1m must be shorter than the interval (5s)",
        ),
    ],
)
def test_timeout_must_be_shorter_than_interval(
    monitor: dict[str, Any], defaults: dict[str, Any], error: str
) -> None:
    """The timeout-versus-interval error lands on the key the user wrote, once."""
    assert errors_of(dump({"name": "api", "url": URL, **monitor}, defaults=defaults)) == [error]


@pytest.mark.parametrize(
    ("url", "fields", "error"),
    [
        (
            "tcp://127.0.0.1:5432",
            {"method": "POST"},
            "monitors[0].method: only http:// and https:// monitors send a request; this is tcp://",
        ),
        (
            "tls://127.0.0.1:443",
            {"body": "x"},
            "monitors[0].body: only http:// and https:// monitors send a request; this is tls://",
        ),
        (
            "dns://lab.test",
            {"headers": {"X": "y"}},
            "monitors[0].headers: only http:// and https:// monitors send a request; this is dns://",
        ),
        (
            URL,
            {"dns": {"record_type": "A"}},
            "monitors[0].dns: only dns:// monitors take dns options; this is http://",
        ),
        (
            "tcp://127.0.0.1:5432",
            {"tls": {"min_days_left": 30}},
            "monitors[0].tls: only https://, wss://, tls://, smtp://, smtps://, grpcs:// and "
            "database monitors have a certificate; this is tcp://",
        ),
        (
            "ws://127.0.0.1:8080/live",
            {"method": "POST"},
            "monitors[0].method: a ws:// upgrade is a GET (RFC 6455); to send something, "
            "write body: it goes as a message once the connection is upgraded",
        ),
        (
            "wss://127.0.0.1/live",
            {"follow_redirects": False},
            "monitors[0].follow_redirects: a wss:// check follows no redirect: "
            "remove follow_redirects",
        ),
        (
            "ws://127.0.0.1/live",
            {"max_redirects": 3},
            "monitors[0].max_redirects: a ws:// check follows no redirect: remove max_redirects",
        ),
        (
            "ws://127.0.0.1/live",
            {"tls": {"min_days_left": 30}},
            "monitors[0].tls: only https://, wss://, tls://, smtp://, smtps://, grpcs:// and "
            "database monitors have a certificate; this is ws://",
        ),
    ],
)
def test_options_must_fit_the_scheme(url: str, fields: dict[str, Any], error: str) -> None:
    """HTTP, DNS and TLS options on a monitor of another scheme are reported."""
    assert errors_of(dump({"name": "m", "url": url, **fields})) == [error]


def test_a_websocket_monitor_takes_headers_a_body_and_tls() -> None:
    """ws:// sends headers with the upgrade and body as its message; wss:// takes tls; GET
    written out is the upgrade's own method, so it is no error."""
    fields = {"headers": {"X-Token": "t"}, "body": "ping", "method": "GET"}
    (plain,) = parse_config(dump({"name": "m", "url": "ws://127.0.0.1/live", **fields})).monitors
    assert (plain.headers, plain.body) == ({"X-Token": "t"}, "ping")
    secure = {"name": "m", "url": "wss://127.0.0.1/live", "tls": {"min_days_left": 7}}
    (monitor,) = parse_config(dump(secure)).monitors
    assert monitor.tls is not None
    assert monitor.tls.min_days_left == 7


def test_default_headers_do_not_make_tcp_monitors_invalid() -> None:
    """defaults.headers skip non-HTTP monitors instead of failing them."""
    config = parse_config(
        dump({"name": "db", "url": "tcp://127.0.0.1:5432"}, defaults={"headers": {"X": "y"}})
    )
    assert config.monitors[0].headers == {}
