"""The monitor's configuration, loaded: every default, the ``defaults`` section and what
it gives each monitor (each default written once), the models' shapes and lookups."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.helpers.config_text import URL, dump
from tether.monitor.config import (
    AppriseChannelConfig,
    EmailChannelConfig,
    Monitor,
    MonitorDefaults,
    WebhookChannelConfig,
    default_timeout,
    parse_config,
)
from tether.monitor.config._rules import Latency, Rules


def test_minimal_file_takes_every_default() -> None:
    """A file with one name and URL gets the documented default for every other key."""
    config = parse_config(dump())
    assert config.storage.model_dump() == {
        "path": "tether.db",
        "postgres": None,
        "raw_retention": 7 * 86400,
        "rollup_retention": 365 * 86400,
        "alert_retention": 30 * 86400,
        "silence_retention": 30 * 86400,
        "incident_retention": None,
        "audit_retention": 365 * 86400,
        "spill": None,
    }
    assert config.storage.incidents_kept == 365 * 86400
    assert (config.server.listen, config.server.host, config.server.port) == (
        "127.0.0.1:8800",
        "127.0.0.1",
        8800,
    )
    assert (config.alerts, config.maintenance) == ((), ())
    monitor = config.monitors[0]
    assert monitor.model_dump() == {
        "name": "api",
        "type": "probe",
        "url": URL,
        "token": None,
        "cron": None,
        "grace": 60.0,
        "timezone": "UTC",
        "app": None,
        "endpoint": "*",
        "consecutive": 3,
        "failure_ratio": None,
        "window": 300.0,
        "min_calls": 10,
        "method": "GET",
        "headers": {},
        "body": None,
        "follow_redirects": True,
        "max_redirects": 10,
        "http_version": "1.1",
        "interval": 60.0,
        "timeout": 10.0,
        "conditions": (),
        "failure_threshold": 3,
        "success_threshold": 2,
        "alert_when": None,
        "alerts": (),
        "depends_on": (),
        "resolver": None,
        "dns": None,
        "rdap": None,
        "tls": None,
        "browser": None,
        "query": None,
        "role": "any",
        "latency_margin": 3.0,
        "remind_every": None,
        "escalate": (),
        "locations": ("local",),
        "quorum": "majority",
        "partial_alerts": False,
        "labels": {},
        "paused": False,
        "steps": None,
    }
    assert monitor.scheme == "http"


def test_the_issue_example_parses_to_its_values() -> None:
    """The YAML of issue 5 loads as written: durations in seconds, the alert resolved."""
    text = """
storage: {path: tether.db}            # SQLite by default
server: {listen: 127.0.0.1:8800}      # metrics and the HTTP API
alerts:
  - {name: ops, type: webhook, url: http://127.0.0.1:9000/hook}
monitors:
  - name: api
    url: http://127.0.0.1:8080/health  # http(s)://, tcp://host:port, dns://name, tls://host:port
    interval: 30s
    timeout: 5s
    conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < 500ms"]
    failure_threshold: 3
    success_threshold: 2
    alerts: [ops]
"""
    config = parse_config(text)
    api = config.monitor("api")
    assert (api.interval, api.timeout) == (30.0, 5.0)
    assert api.conditions == ("[STATUS] == 200", "[RESPONSE_TIME] < 500ms")
    assert api.alerts == ("ops",)
    ops = config.channel("ops")
    assert isinstance(ops, WebhookChannelConfig)
    assert (ops.url, ops.secret) == ("http://127.0.0.1:9000/hook", None)


@pytest.mark.parametrize(
    ("interval", "timeout"),
    [("1s", 0.8), ("5s", 4.0), ("12s", 9.6), ("12.5s", 10.0), ("30s", 10.0), ("1h", 10.0)],
)
def test_unset_timeout_stays_under_a_short_interval(interval: str, timeout: float) -> None:
    """Without a timeout, a monitor gets 10s or 80% of a shorter interval, never an error."""
    monitor = parse_config(dump({"name": "a", "url": URL, "interval": interval})).monitors[0]
    assert monitor.timeout == pytest.approx(timeout)


def test_every_key_of_defaults_is_a_monitor_key_with_the_same_default() -> None:
    """The defaults section takes only monitor keys, each typed and defaulted alike."""
    monitor_fields = Monitor.model_fields
    for name, field in MonitorDefaults.model_fields.items():
        assert name in monitor_fields, name
        assert field.annotation == monitor_fields[name].annotation, name
        assert field.metadata == monitor_fields[name].metadata, name
        assert field.get_default(call_default_factory=True) == monitor_fields[name].get_default(
            call_default_factory=True
        ), name


def test_a_monitor_that_sets_nothing_is_judged_as_the_detectors_defaults() -> None:
    """Thresholds and latency margin left out are the detector's own Rules and Latency."""
    monitor = parse_config(dump()).monitors[0]
    rules = Rules()
    assert (monitor.failure_threshold, monitor.success_threshold) == (
        rules.failure_threshold,
        rules.success_threshold,
    )
    assert monitor.latency_margin == rules.latency.k == Latency().k


@pytest.mark.parametrize(("interval", "timeout"), [(1, 0.8), (12.5, 10.0), (3600, 10.0)])
def test_default_timeout(interval: float, timeout: float) -> None:
    """default_timeout is what parse_config gives a monitor without a timeout."""
    assert default_timeout(interval) == pytest.approx(timeout)
    written = parse_config(dump({"name": "a", "url": URL, "interval": f"{interval}s"}))
    assert written.monitors[0].timeout == default_timeout(interval)


def test_empty_sections_mean_their_defaults() -> None:
    """`server:` with nothing under it is the default server, not a type error."""
    config = parse_config(
        "storage:\nserver:\nalerts:\ndefaults:\nmaintenance:\n"
        f"monitors:\n  - {{name: a, url: '{URL}'}}\n"
    )
    assert config.server.listen == "127.0.0.1:8800"
    assert config.storage.path == "tether.db"
    assert (config.alerts, config.maintenance) == ((), ())


def test_defaults_fill_what_a_monitor_leaves_out() -> None:
    """`defaults` applies to each monitor key left unset; a monitor's own value wins."""
    config = parse_config(
        dump(
            {"name": "a", "url": URL},
            {"name": "b", "url": URL, "interval": "2m", "alerts": [], "failure_threshold": 5},
            alerts=[{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/h"}],
            defaults={
                "interval": "10s",
                "timeout": "3s",
                "failure_threshold": 2,
                "success_threshold": 4,
                "alerts": ["ops"],
                "resolver": "127.0.0.1:5353",
                "latency_margin": 4.5,
            },
        )
    )
    a, b = config.monitors
    assert (a.interval, a.timeout, a.failure_threshold, a.success_threshold) == (10, 3, 2, 4)
    assert (a.alerts, a.resolver, a.latency_margin) == (("ops",), "127.0.0.1:5353", 4.5)
    assert (b.interval, b.timeout, b.failure_threshold, b.alerts) == (120, 3, 5, ())


def test_default_headers_merge_case_insensitively_into_http_monitors() -> None:
    """Default headers join an HTTP monitor's own; its `user-agent` replaces `User-Agent`."""
    config = parse_config(
        dump(
            {"name": "web", "url": URL, "headers": {"user-agent": "mine"}},
            {"name": "port", "url": "tcp://127.0.0.1:5432"},
            defaults={"headers": {"User-Agent": "tether", "X-Team": "ops"}},
        )
    )
    web, port = config.monitors
    assert web.headers == {"X-Team": "ops", "user-agent": "mine"}
    assert port.headers == {}


def test_dns_and_tls_options_defaults_and_case() -> None:
    """dns options default to A/NOERROR and take lower case; tls to 14 days left."""
    config = parse_config(
        dump(
            {
                "name": "n",
                "url": "dns://lab.test",
                "dns": {"record_type": "aaaa", "rcode": "nxdomain"},
            },
            {"name": "d", "url": "dns://lab.test", "dns": {}},
            {"name": "t", "url": "tls://127.0.0.1:443", "tls": {}},
        )
    )
    n, d, t = config.monitors
    assert n.dns is not None
    assert (n.dns.record_type, n.dns.rcode, n.dns.answers) == ("AAAA", "NXDOMAIN", ())
    assert d.dns is not None
    assert (d.dns.record_type, d.dns.rcode) == ("A", "NOERROR")
    assert t.tls is not None
    assert (t.tls.min_days_left, t.tls.ca_file, t.tls.insecure) == (14, None, False)
    assert [m.scheme for m in config.monitors] == ["dns", "dns", "tls"]


def test_a_single_string_is_a_list_of_one() -> None:
    """alerts, depends_on, conditions, dns answers and email `to` take one string or a list."""
    config = parse_config(
        dump(
            {"name": "db", "url": "tcp://127.0.0.1:5432"},
            {
                "name": "api",
                "url": URL,
                "alerts": "mail",
                "depends_on": "db",
                "conditions": "[STATUS] == 200",
            },
            {"name": "n", "url": "dns://lab.test", "dns": {"answers": "127.0.0.1"}},
            alerts=[
                {
                    "name": "mail",
                    "type": "email",
                    "host": "smtp.lab.test",
                    "from": "t@lab.test",
                    "to": "ops@lab.test",
                }
            ],
        )
    )
    api = config.monitor("api")
    assert (api.alerts, api.depends_on, api.conditions) == (
        ("mail",),
        ("db",),
        ("[STATUS] == 200",),
    )
    assert config.monitor("n").dns.answers == ("127.0.0.1",)  # type: ignore[union-attr]
    assert config.channel("mail").to == ("ops@lab.test",)  # type: ignore[union-attr]


def test_alert_channel_types_and_their_defaults() -> None:
    """Each `type` builds its channel; email defaults to port 587 with STARTTLS."""
    config = parse_config(
        dump(
            alerts=[
                {"name": "hook", "type": "webhook", "url": "https://127.0.0.1/h", "secret": "k"},
                {
                    "name": "chat",
                    "type": "apprise",
                    "url": "json://127.0.0.1/a",
                    "urls": ["xml://127.0.0.1/b"],
                },
                {
                    "name": "mail",
                    "type": "email",
                    "host": "127.0.0.1",
                    "from": "t@lab.test",
                    "to": ["a@lab.test", "Ops <b@lab.test>"],
                    "username": "u",
                    "password": "p",
                },
            ]
        )
    )
    hook, chat, mail = config.alerts
    assert isinstance(hook, WebhookChannelConfig)
    assert hook.secret is not None
    assert hook.secret.get_secret_value() == "k"
    assert isinstance(chat, AppriseChannelConfig)
    assert chat.targets == ("json://127.0.0.1/a", "xml://127.0.0.1/b")
    assert isinstance(mail, EmailChannelConfig)
    assert (mail.port, mail.starttls, mail.from_, mail.username) == (587, True, "t@lab.test", "u")
    assert mail.password is not None
    assert mail.password.get_secret_value() == "p"


def test_server_listen_forms() -> None:
    """listen takes IPv6 in brackets and port 0 (any free port)."""
    server = parse_config(dump(server={"listen": "[::1]:0"})).server
    assert (server.host, server.port) == ("::1", 0)


def test_models_are_frozen() -> None:
    """A loaded configuration cannot be changed in place."""
    config = parse_config(dump())
    with pytest.raises(ValidationError):
        config.monitors[0].interval = 5.0  # type: ignore[misc]


def test_monitor_and_channel_lookups_raise_keyerror() -> None:
    """config.monitor(name) and config.channel(name) raise KeyError for an unknown name."""
    config = parse_config(dump())
    with pytest.raises(KeyError):
        config.monitor("nope")
    with pytest.raises(KeyError):
        config.channel("nope")
