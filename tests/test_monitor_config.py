"""The monitor's configuration: defaults, every error's key path and message, ``${ENV}``,
redaction, YAML mistakes, maintenance windows, and ``tether check-config``.

Everything here is pure: YAML text in, models or :class:`ConfigError` out; the CLI tests
read files under ``tmp_path``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import sys
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tether.cli import main
from tether.monitor._baseline import Latency
from tether.monitor._detect import Rules
from tether.monitor.config import (
    AppriseChannelConfig,
    ConfigError,
    EmailChannelConfig,
    Escalation,
    Monitor,
    MonitorConfig,
    MonitorDefaults,
    WebhookChannelConfig,
    default_timeout,
    load_config,
    parse_config,
)

URL = "http://127.0.0.1:8080/health"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def dump(*monitors: dict[str, Any], **sections: Any) -> str:
    """YAML for ``sections`` plus ``monitors`` (one plain HTTP monitor when none is given)."""
    doc = {**sections, "monitors": list(monitors) or [{"name": "api", "url": URL}]}
    return yaml.safe_dump(doc, sort_keys=False)


def errors_of(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, **kwargs)
    return caught.value.errors


def monitor_errors(**fields: Any) -> list[str]:
    return errors_of(dump({"name": "api", "url": URL, **fields}))


def accept_any(text: str) -> None:
    """A condition validator that accepts everything."""


# --- defaults ---------------------------------------------------------------------------


def test_minimal_file_takes_every_default() -> None:
    """A file with one name and URL gets the documented default for every other key."""
    config = parse_config(dump())
    assert config.storage.model_dump() == {
        "path": "tether.db",
        "postgres": None,
        "raw_retention": 7 * 86400,
        "rollup_retention": 365 * 86400,
    }
    assert (config.server.listen, config.server.host, config.server.port) == (
        "127.0.0.1:8800",
        "127.0.0.1",
        8800,
    )
    assert (config.alerts, config.maintenance) == ((), ())
    monitor = config.monitors[0]
    assert monitor.model_dump() == {
        "name": "api",
        "url": URL,
        "method": "GET",
        "headers": {},
        "body": None,
        "follow_redirects": True,
        "max_redirects": 10,
        "interval": 60.0,
        "timeout": 10.0,
        "conditions": (),
        "failure_threshold": 3,
        "success_threshold": 2,
        "alerts": (),
        "depends_on": (),
        "resolver": None,
        "dns": None,
        "tls": None,
        "latency_margin": 3.0,
        "remind_every": None,
        "escalate": (),
        "paused": False,
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


# --- one error per field, exact ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"interval": "5"}, 'monitors[0].interval: "5" is not a duration, write 5s'),
        ({"interval": 5}, "monitors[0].interval: 5 is not a duration, write 5s"),
        ({"interval": 0.5}, "monitors[0].interval: 0.5 is not a duration, write 0.5s"),
        ({"interval": True}, "monitors[0].interval: true is not a duration, write e.g. 30s"),
        ({"interval": None}, "monitors[0].interval: null is not a duration, write e.g. 30s"),
        ({"interval": "500ms"}, "monitors[0].interval: 500ms is too short: the minimum is 1s"),
        ({"interval": "5 min"}, 'monitors[0].interval: "5 min" is not a duration, write 5m'),
        ({"timeout": "0s"}, "monitors[0].timeout: 0s is too short: give a duration above zero"),
        (
            {"timeout": -1},
            "monitors[0].timeout: -1 is not a duration: write a positive one, as in 30s",
        ),
        (
            {"failure_threshold": 0},
            "monitors[0].failure_threshold: 0 is too small: the minimum is 1",
        ),
        (
            {"success_threshold": "two"},
            'monitors[0].success_threshold: "two" is not a whole number',
        ),
        ({"failure_threshold": 2.5}, "monitors[0].failure_threshold: 2.5 is not a whole number"),
        ({"max_redirects": 51}, "monitors[0].max_redirects: 51 is too large: the maximum is 50"),
        ({"max_redirects": -1}, "monitors[0].max_redirects: -1 is too small: the minimum is 0"),
        ({"paused": "maybe"}, 'monitors[0].paused: "maybe" is not true or false'),
        ({"follow_redirects": 7}, "monitors[0].follow_redirects: 7 is not true or false"),
        ({"latency_margin": 0}, "monitors[0].latency_margin: 0 is too small: it must be above 0"),
        ({"latency_margin": "wide"}, 'monitors[0].latency_margin: "wide" is not a number'),
        ({"name": 5}, 'monitors[0].name: 5 is not text (quote it: "5")'),
        ({"name": ""}, "monitors[0].name: is empty: give a name"),
        ({"name": " api"}, 'monitors[0].name: " api" starts or ends with spaces'),
        ({"name": "a\tb"}, 'monitors[0].name: "a\\tb" contains a control character'),
        (
            {"url": "127.0.0.1:80"},
            'monitors[0].url: "127.0.0.1:80" has no scheme: '
            "write http://, https://, tcp://, tls:// or dns://",
        ),
        (
            {"url": "ftp://x/"},
            'monitors[0].url: unsupported scheme "ftp": use http, https, tcp, tls or dns',
        ),
        (
            {"url": "http:/x"},
            'monitors[0].url: "http:/x": write http:// with two slashes, as in http://host',
        ),
        (
            {"url": "tcp://127.0.0.1"},
            'monitors[0].url: "tcp://127.0.0.1": a tcp:// target needs a port, as in tcp://host:port',
        ),
        (
            {"url": "http://127.0.0.1:99999/"},
            "monitors[0].url: \"http://127.0.0.1:99999/\": the port '99999' is not a number "
            "from 1 to 65535",
        ),
        (
            {"url": "dns://127.0.0.1"},
            'monitors[0].url: "dns://127.0.0.1" names an address; '
            "a dns:// monitor asks about a name",
        ),
        (
            {"url": "dns://lab.test/x"},
            'monitors[0].url: "dns://lab.test/x": write dns://NAME, as in dns://example.com '
            "(the server to ask goes in resolver)",
        ),
        ({"method": "GE T"}, 'monitors[0].method: "GE T" is not an HTTP method, as in GET or POST'),
        (
            {"headers": {"bad header": "x"}},
            'monitors[0].headers: "bad header" is not a header name',
        ),
        (
            {"headers": {"X-A": "a\nb"}},
            'monitors[0].headers: the value of X-A ("a\\nb") contains a line break',
        ),
        ({"headers": {"X-A": 5}}, 'monitors[0].headers.X-A: 5 is not text (quote it: "5")'),
        ({"headers": ["X-A: b"]}, "monitors[0].headers: a list is not a mapping of keys"),
        (
            {"resolver": "dns.google"},
            'monitors[0].resolver: "dns.google": give the DNS server\'s IP address, '
            "as in 127.0.0.1:5353",
        ),
        (
            {"resolver": "127.0.0.1:0"},
            'monitors[0].resolver: "127.0.0.1:0": the port must be a number from 1 to 65535',
        ),
        ({"dns": 5}, "monitors[0].dns: 5 is not a mapping of keys"),
        (
            {"tls": {"min_days_left": -1}},
            "monitors[0].tls.min_days_left: -1 is too small: the minimum is 0",
        ),
        ({"conditions": [5]}, 'monitors[0].conditions[0]: 5 is not text (quote it: "5")'),
        ({"alerts": [{"name": "x"}]}, "monitors[0].alerts[0]: a mapping is not text"),
        ({"depends_on": 3}, "monitors[0].depends_on: 3 is not a list"),
    ],
)
def test_monitor_field_error(fields: dict[str, Any], error: str) -> None:
    """Each bad monitor value gives exactly one line: its key path, the value, the fix."""
    assert monitor_errors(**fields) == [error]


@pytest.mark.parametrize(
    ("dns", "error"),
    [
        (
            {"record_type": "AAA"},
            'monitors[0].dns.record_type: "AAA" is not one of A, AAAA, CNAME, MX, TXT, NS, '
            "did you mean AAAA?",
        ),
        (
            {"record_type": "SOA"},
            'monitors[0].dns.record_type: "SOA" is not one of A, AAAA, CNAME, MX, TXT, NS',
        ),
        (
            {"rcode": "NXDOMAN"},
            'monitors[0].dns.rcode: "NXDOMAN" is not one of NOERROR, FORMERR, SERVFAIL, '
            "NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN, YXRRSET, NXRRSET, NOTAUTH, NOTZONE, "
            "did you mean NXDOMAIN?",
        ),
        (
            {"answers": ["127.0.0.1", "lab.test"]},
            'monitors[0].dns.answers[1]: "lab.test" is not an IPv4 address, '
            "which an A record holds",
        ),
        (
            {"record_type": "AAAA", "answers": ["127.0.0.1"]},
            'monitors[0].dns.answers[0]: "127.0.0.1" is not an IPv6 address, '
            "which an AAAA record holds",
        ),
        (
            {"resolver": "127.0.0.1"},
            "monitors[0].dns.resolver: unknown key: resolver is set on the monitor, beside url, "
            "and serves every scheme",
        ),
    ],
)
def test_dns_option_error(dns: dict[str, Any], error: str) -> None:
    """dns options name the record type, rcode or answer that is wrong."""
    assert errors_of(dump({"name": "n", "url": "dns://lab.test", "dns": dns})) == [error]


@pytest.mark.parametrize(
    ("sections", "error"),
    [
        ({"storage": {"path": ""}}, "storage.path: is empty"),
        (
            {"storage": {"postgres": "mysql://u:pw@127.0.0.1/db"}},
            'storage.postgres: "mysql://u:***@127.0.0.1/db" is not a PostgreSQL URL, '
            "as in postgresql://127.0.0.1:5432/tether",
        ),
        (
            {"storage": {"raw_retention": "7"}},
            'storage.raw_retention: "7" is not a duration, write 7s',
        ),
        (
            {"storage": {"rollup_retention": "0d"}},
            "storage.rollup_retention: 0s is too short: give a duration above zero",
        ),
        ({"storage": "tether.db"}, 'storage: "tether.db" is not a mapping of keys'),
        ({"server": {"listen": 8800}}, 'server.listen: 8800 is not text (quote it: "8800")'),
        (
            {"server": {"listen": "8800"}},
            'server.listen: "8800" has no host: write HOST:PORT, as in 127.0.0.1:8800',
        ),
        (
            {"server": {"listen": ":8800"}},
            'server.listen: ":8800" has no host, as in 127.0.0.1:8800',
        ),
        (
            {"server": {"listen": "localhost"}},
            'server.listen: "localhost" has no port: write HOST:PORT, as in 127.0.0.1:8800',
        ),
        (
            {"server": {"listen": "::1:8800"}},
            'server.listen: "::1:8800": an IPv6 address needs brackets, as in [::1]:8800',
        ),
        (
            {"server": {"listen": "127.0.0.1:99999"}},
            'server.listen: "127.0.0.1:99999": the port must be a number from 0 to 65535',
        ),
        (
            {"server": {"port": 8800}},
            "server.port: unknown key; expected one of: listen",
        ),
        (
            {"defaults": {"interval": "5"}},
            'defaults.interval: "5" is not a duration, write 5s',
        ),
        (
            {"defaults": {"method": "GET"}},
            "defaults.method: unknown key; expected one of: interval, timeout, failure_threshold, "
            "success_threshold, alerts, headers, resolver, latency_margin, remind_every, "
            "escalate",
        ),
        ({"monitorz": []}, "monitorz: unknown key, did you mean monitors?"),
        ({"alert": []}, "alert: unknown key, did you mean alerts?"),
        (
            {"a.b": 1},
            '["a.b"]: unknown key; expected one of: storage, server, alerts, defaults, '
            "maintenance, monitors",
        ),
    ],
)
def test_section_error(sections: dict[str, Any], error: str) -> None:
    """storage, server, defaults and top-level keys report their own key path."""
    assert errors_of(dump(**sections)) == [error]


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        (
            {"name": "ops", "type": "webhok", "url": "http://127.0.0.1/h"},
            'alerts[0].type: "webhok" is not one of apprise, email, webhook, did you mean webhook?',
        ),
        (
            {"name": "ops", "url": "http://127.0.0.1/h"},
            "alerts[0].type: is required: apprise, email, webhook",
        ),
        ({"name": "ops", "type": "webhook"}, "alerts[0].url: is required"),
        ({"type": "webhook", "url": "http://127.0.0.1/h"}, "alerts[0].name: is required"),
        (
            {"name": "ops", "type": "webhook", "url": "ftp://127.0.0.1/h"},
            'alerts[0].url: "ftp://127.0.0.1/h" is not an http:// or https:// URL',
        ),
        (
            {"name": "ops", "type": "webhook", "url": "http://127.0.0.1/h", "secret": 1234},
            "alerts[0].secret: the value is a number, not text: quote it",
        ),
        (
            {"name": "ops", "type": "webhook", "url": "http://127.0.0.1/h", "headers": {}},
            "alerts[0].headers: unknown key; expected one of: name, type, url, secret",
        ),
        (
            {"name": "chat", "type": "apprise", "url": "not a url"},
            'alerts[0].url: "***" is not an apprise URL, as in slack://TOKEN_A/TOKEN_B/TOKEN_C '
            "or discord://WEBHOOK_ID/TOKEN",
        ),
        (
            {"name": "chat", "type": "apprise"},
            "alerts[0].url: is required: an apprise URL (or urls: a list of them)",
        ),
        (
            {"name": "mail", "type": "email", "host": "h", "from": "me", "to": "a@lab.test"},
            'alerts[0].from: "me" is not an email address, as in ops@example.com',
        ),
        (
            {"name": "mail", "type": "email", "host": "h", "from": "t@lab.test", "to": []},
            "alerts[0].to: is empty",
        ),
        (
            {
                "name": "mail",
                "type": "email",
                "host": "h",
                "from": "t@lab.test",
                "to": "x",
            },
            'alerts[0].to[0]: "x" is not an email address, as in ops@example.com',
        ),
        (
            {
                "name": "mail",
                "type": "email",
                "host": "h",
                "from": "t@lab.test",
                "to": "a@lab.test",
                "usrname": "u",
            },
            "alerts[0].usrname: unknown key, did you mean username?",
        ),
        (
            {
                "name": "mail",
                "type": "email",
                "host": "h",
                "from": "t@lab.test",
                "to": "a@lab.test",
                "password": "p",
            },
            "alerts[0].username: is required with a password",
        ),
        (
            {
                "name": "mail",
                "type": "email",
                "host": "h",
                "from": "t@lab.test",
                "to": "a@lab.test",
                "username": "u",
            },
            "alerts[0].password: is required with a username",
        ),
    ],
)
def test_alert_channel_error(channel: Any, error: str) -> None:
    """Alert channel errors use the channel's index, never pydantic's union tag."""
    assert errors_of(dump(alerts=[channel])) == [error]


def test_a_service_name_as_type_points_to_apprise() -> None:
    """`type: slack` or `type: teams` says which apprise URL scheme reaches that service."""
    channels = [
        {"name": "a", "type": "slack", "url": "https://hooks.example.com/x"},
        {"name": "b", "type": "Teams", "url": "https://hooks.example.com/y"},
    ]
    assert errors_of(dump(alerts=channels)) == [
        'alerts[0].type: "slack" is not one of apprise, email, webhook; '
        "for slack, write type: apprise with a slack:// URL",
        'alerts[1].type: "Teams" is not one of apprise, email, webhook; '
        "for Teams, write type: apprise with a msteams:// URL",
    ]


def test_the_documented_example_is_valid() -> None:
    """The complete example in docs/monitor-config.md loads, every condition included."""
    doc = (Path(__file__).parent.parent / "docs/monitor-config.md").read_text()
    example = doc.split("## A complete example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    env = dict.fromkeys(
        (
            "WEBHOOK_SECRET",
            "SLACK_TOKEN_A",
            "SLACK_TOKEN_B",
            "SLACK_TOKEN_C",
            "SMTP_PASSWORD",
            "API_TOKEN",
        ),
        "x",
    )
    config = parse_config(example, env=env)
    assert [m.name for m in config.monitors] == ["api", "login", "db", "www-cert", "mx", "legacy"]
    assert [c.name for c in config.alerts] == ["ops", "chat", "mail"]
    assert config.monitor("login").headers["User-Agent"] == "tether-monitor"


def test_a_bare_string_alert_is_not_a_channel() -> None:
    """An alert written as a name alone is reported as not a mapping."""
    assert errors_of(dump(alerts=["ops"])) == ['alerts[0]: "ops" is not a mapping of keys']


def test_every_error_is_reported_at_once_in_file_order() -> None:
    """Several mistakes give one line each, sorted by where they are in the file."""
    text = """\
monitors:
  - name: api
    url: http://127.0.0.1:8080/
    interval: "5"
  - name: db
    url: tcp://127.0.0.1
    intervl: 30s
server: {listen: 8800}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="tether.yaml")
    assert caught.value.located == [
        'tether.yaml:4:5: monitors[0].interval: "5" is not a duration, write 5s',
        'tether.yaml:6:5: monitors[1].url: "tcp://127.0.0.1": a tcp:// target needs a port, '
        "as in tcp://host:port",
        "tether.yaml:7:5: monitors[1].intervl: unknown key, did you mean interval?",
        'tether.yaml:8:10: server.listen: 8800 is not text (quote it: "8800")',
    ]
    assert caught.value.errors == [line.split(": ", 1)[1] for line in caught.value.located]
    assert str(caught.value) == "\n".join(caught.value.errors)


def test_the_issue_error_line_at_index_three() -> None:
    """`monitors[3].interval: "5" is not a duration, write 5s`, as the issue writes it."""
    monitors = [{"name": f"m{i}", "url": URL} for i in range(3)]
    text = dump(*monitors, {"name": "m3", "url": URL, "interval": "5"})
    assert errors_of(text) == ['monitors[3].interval: "5" is not a duration, write 5s']


def test_unknown_key_without_a_close_match_lists_the_keys() -> None:
    """An unknown key far from any real one lists what the monitor takes."""
    assert monitor_errors(colour="blue") == [
        "monitors[0].colour: unknown key; expected one of: name, url, method, headers, body, "
        "follow_redirects, max_redirects, interval, timeout, conditions, failure_threshold, "
        "success_threshold, alerts, depends_on, resolver, dns, tls, latency_margin, "
        "remind_every, escalate, paused"
    ]


def test_missing_monitors_and_empty_monitors() -> None:
    """A file without monitors, or with an empty list, says so."""
    assert errors_of("") == ["monitors: is required"]
    assert errors_of("server: {}\n") == ["monitors: is required"]
    assert errors_of("monitors:\n") == ["monitors: is empty: list at least one monitor"]
    assert errors_of("monitors: []\n") == ["monitors: is empty: list at least one monitor"]
    assert errors_of("monitors:\n  - {name: a}\n") == ["monitors[0].url: is required"]


# --- checks across the file ----------------------------------------------------------


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
            "monitors[0].tls: only https:// and tls:// monitors have a certificate; this is tcp://",
        ),
    ],
)
def test_options_must_fit_the_scheme(url: str, fields: dict[str, Any], error: str) -> None:
    """HTTP, DNS and TLS options on a monitor of another scheme are reported."""
    assert errors_of(dump({"name": "m", "url": url, **fields})) == [error]


def test_default_headers_do_not_make_tcp_monitors_invalid() -> None:
    """defaults.headers skip non-HTTP monitors instead of failing them."""
    config = parse_config(
        dump({"name": "db", "url": "tcp://127.0.0.1:5432"}, defaults={"headers": {"X": "y"}})
    )
    assert config.monitors[0].headers == {}


# --- reminders and escalation ---------------------------------------------------------

CHANNELS = [
    {"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/ops"},
    {"name": "pager", "type": "webhook", "url": "http://127.0.0.1:9/pager"},
    {"name": "boss", "type": "webhook", "url": "http://127.0.0.1:9/boss"},
]


def test_reminders_and_escalation_are_typed_frozen_values() -> None:
    """remind_every is seconds; each escalate step an Escalation of seconds and channels."""
    config = parse_config(
        dump(
            {
                "name": "api",
                "url": URL,
                "alerts": "ops",
                "remind_every": "30m",
                "escalate": [
                    {"after": "10m", "alerts": "pager"},
                    {"after": "1h", "alerts": ["pager", "boss"]},
                ],
            },
            alerts=CHANNELS,
        )
    )
    api = config.monitor("api")
    assert api.remind_every == 1800.0
    assert api.escalate == (
        Escalation(after=600.0, alerts=("pager",)),
        Escalation(after=3600.0, alerts=("pager", "boss")),
    )
    step = api.escalate[0]
    assert hash(step) == hash(Escalation(600.0, ("pager",)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.after = 1.0  # type: ignore[misc]
    assert repr(step) == "Escalation(after=600.0, alerts=('pager',))"


def test_reminders_and_escalation_are_off_unless_set() -> None:
    """Without the keys, a monitor is never reminded nor escalated."""
    api = parse_config(dump()).monitors[0]
    assert (api.remind_every, api.escalate) == (None, ())


def test_reminders_and_escalation_come_from_defaults_unless_a_monitor_says_otherwise() -> None:
    """Both keys are inherited like the others; a monitor's null or [] switches them off."""
    config = parse_config(
        dump(
            {"name": "a", "url": URL},
            {"name": "b", "url": URL, "remind_every": None, "escalate": []},
            {"name": "c", "url": URL, "escalate": [{"after": "5m", "alerts": "boss"}]},
            alerts=CHANNELS,
            defaults={"remind_every": "1h", "escalate": [{"after": "15m", "alerts": "pager"}]},
        )
    )
    a, b, c = config.monitors
    assert (a.remind_every, a.escalate) == (3600.0, (Escalation(900.0, ("pager",)),))
    assert (b.remind_every, b.escalate) == (None, ())
    assert (c.remind_every, c.escalate) == (3600.0, (Escalation(300.0, ("boss",)),))


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"remind_every": "30s"}, "monitors[0].remind_every: 30s is too short: the minimum is 1m"),
        ({"remind_every": "0s"}, "monitors[0].remind_every: 0s is too short: the minimum is 1m"),
        ({"remind_every": 5}, "monitors[0].remind_every: 5 is not a duration, write 5s"),
        ({"escalate": {"after": "1m"}}, "monitors[0].escalate: a mapping is not a list"),
        ({"escalate": ["pager"]}, 'monitors[0].escalate[0]: "pager" is not a mapping of keys'),
        (
            {"escalate": [{"after": "0s", "alerts": "ops"}]},
            "monitors[0].escalate[0].after: 0s is too short: give a duration above zero",
        ),
        (
            {"escalate": [{"after": "10", "alerts": "ops"}]},
            'monitors[0].escalate[0].after: "10" is not a duration, write 10s',
        ),
        ({"escalate": [{"alerts": "ops"}]}, "monitors[0].escalate[0].after: is required"),
        ({"escalate": [{"after": "1m"}]}, "monitors[0].escalate[0].alerts: is required"),
        (
            {"escalate": [{"after": "1m", "alerts": []}]},
            "monitors[0].escalate[0].alerts: is empty",
        ),
        (
            {"escalate": [{"after": "1m", "alerts": "ops", "channels": "boss"}]},
            "monitors[0].escalate[0].channels: unknown key; expected one of: after, alerts",
        ),
    ],
)
def test_reminder_and_escalation_field_error(fields: dict[str, Any], error: str) -> None:
    """Each mistake in remind_every or an escalate step is reported at its key path."""
    assert errors_of(dump({"name": "api", "url": URL, **fields}, alerts=CHANNELS)) == [error]


def test_a_misspelled_escalation_key_suggests_the_real_one() -> None:
    """An unknown key in a step is named with the key it is close to."""
    text = dump({"name": "api", "url": URL, "escalate": [{"aftr": "1m", "alerts": "ops"}]})
    assert errors_of(text) == [
        "monitors[0].escalate[0].after: is required",
        "monitors[0].escalate[0].aftr: unknown key, did you mean after?",
    ]


def test_escalation_must_name_channels_and_go_forward_in_time() -> None:
    """Each step's channels exist (with a did-you-mean) and each step comes after the last,
    in the defaults as in a monitor."""
    text = dump(
        {
            "name": "api",
            "url": URL,
            "escalate": [
                {"after": "10m", "alerts": ["pager", "bos"]},
                {"after": "10m", "alerts": "boss"},
                {"after": "5m", "alerts": "team"},
            ],
        },
        alerts=CHANNELS,
        defaults={
            "escalate": [{"after": "1h", "alerts": "pagr"}, {"after": "30m", "alerts": "ops"}]
        },
    )
    assert errors_of(text) == [
        'defaults.escalate[0].alerts[0]: no alert channel named "pagr", did you mean pager?',
        "defaults.escalate[1].after: 30m is not after the step before it (1h): "
        "list the steps in the order they happen",
        'monitors[0].escalate[0].alerts[1]: no alert channel named "bos", did you mean boss?',
        "monitors[0].escalate[1].after: 10m is not after the step before it (10m): "
        "list the steps in the order they happen",
        "monitors[0].escalate[2].after: 5m is not after the step before it (10m): "
        "list the steps in the order they happen",
        'monitors[0].escalate[2].alerts[0]: no alert channel named "team"; define it under alerts',
    ]


def test_escalation_errors_are_located_at_their_keys() -> None:
    """check-config's FILE:LINE:COLUMN points at the step's own key."""
    text = (
        "alerts:\n"
        "  - {name: ops, type: webhook, url: 'http://127.0.0.1:9/h'}\n"
        "monitors:\n"
        "  - name: api\n"
        f"    url: {URL}\n"
        "    remind_every: 10s\n"
        "    escalate:\n"
        "      - after: 5m\n"
        "        alerts: [opz]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml")
    assert caught.value.located == [
        "t.yaml:6:5: monitors[0].remind_every: 10s is too short: the minimum is 1m"
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config(text.replace("10s", "10m"), source="t.yaml")
    assert caught.value.located == [
        't.yaml:9:18: monitors[0].escalate[0].alerts[0]: no alert channel named "opz", '
        "did you mean ops?"
    ]


# --- conditions ------------------------------------------------------------------------


def test_condition_validator_sees_each_condition_and_its_error_is_the_message() -> None:
    """A ValueError from the validator becomes `conditions[i]: "text": message`."""
    seen: list[str] = []

    def validator(text: str) -> None:
        seen.append(text)
        if "bad" in text:
            raise ValueError("no such\n   placeholder")

    text = dump(
        {"name": "api", "url": URL, "conditions": ["[STATUS] == 200", "[bad] == 1"]},
        {"name": "web", "url": URL, "conditions": ["[STATUS] == 200", "[bad] == 1"]},
    )
    assert errors_of(text, condition_validator=validator) == [
        'monitors[0].conditions[1]: "[bad] == 1": no such placeholder',
        'monitors[1].conditions[1]: "[bad] == 1": no such placeholder',
    ]
    # A condition that passed is not parsed again for the next monitor; a failing one is.
    assert seen == ["[STATUS] == 200", "[bad] == 1", "[bad] == 1"]


def test_condition_message_that_quotes_the_condition_is_not_prefixed() -> None:
    """When the validator's message already shows the text, it is not repeated."""

    def validator(text: str) -> None:
        raise ValueError(f"{text}: unknown")

    text = dump({"name": "api", "url": URL, "conditions": ["[X] == 1"]})
    assert errors_of(text, condition_validator=validator) == [
        "monitors[0].conditions[0]: [X] == 1: unknown"
    ]


def test_a_permissive_validator_accepts_any_condition() -> None:
    """Passing a validator that accepts all switches the check off."""
    text = dump({"name": "api", "url": URL, "conditions": ["[STATUS] = 200"]})
    config = parse_config(text, condition_validator=accept_any)
    assert config.monitors[0].conditions == ("[STATUS] = 200",)


def test_conditions_are_checked_by_the_condition_parser_by_default() -> None:
    """Without a validator, tether.monitor._conditions rejects a condition that does not parse."""
    pytest.importorskip("tether.monitor._conditions")
    text = dump({"name": "api", "url": URL, "conditions": ["[STATUS] == 200", "[STATUS] = 200"]})
    (error,) = errors_of(text)
    assert error.startswith('monitors[0].conditions[1]: "[STATUS] = 200": ')
    assert "\n" not in error


# --- ${ENV} ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "env", "value"),
    [
        ("${TOKEN}", {"TOKEN": "abc"}, "abc"),
        ("Bearer ${TOKEN}", {"TOKEN": "abc"}, "Bearer abc"),
        ("${A}-${B}", {"A": "1", "B": "2"}, "1-2"),
        ("${TOKEN:-dflt}", {}, "dflt"),
        ("${TOKEN:-dflt}", {"TOKEN": ""}, "dflt"),
        ("${TOKEN:-dflt}", {"TOKEN": "set"}, "set"),
        ("${TOKEN:-}", {}, ""),
        ("${TOKEN}", {"TOKEN": ""}, ""),
        ("$${TOKEN}", {"TOKEN": "abc"}, "${TOKEN}"),
        ("pa$$word $HOME", {}, "pa$$word $HOME"),
    ],
)
def test_interpolation(written: str, env: dict[str, str], value: str) -> None:
    """${NAME} and ${NAME:-default} follow the shell; $${ is a literal ${; lone $ is text."""
    config = parse_config(dump({"name": "api", "url": URL, "body": written}), env=env)
    assert config.monitors[0].body == value


def test_interpolated_values_are_then_validated() -> None:
    """A variable's text is validated like written text: numbers convert, durations need units."""
    text = dump({"name": "api", "url": URL, "interval": "${EVERY}", "failure_threshold": "${N}"})
    monitor = parse_config(text, env={"EVERY": "30s", "N": "4"}).monitors[0]
    assert (monitor.interval, monitor.failure_threshold) == (30.0, 4)
    assert errors_of(text, env={"EVERY": "30", "N": "4"}) == [
        'monitors[0].interval: "30" is not a duration, write 30s'
    ]


def test_missing_variable_is_one_error_naming_it() -> None:
    """An unset variable without a default is reported once, not again as a bad value."""
    text = dump(
        {"name": "api", "url": URL, "interval": "${EVERY}"},
        alerts=[
            {
                "name": "ops",
                "type": "webhook",
                "url": "http://127.0.0.1/h",
                "secret": "${HOOK_SECRET}",
            }
        ],
    )
    assert errors_of(text, env={}) == [
        "alerts[0].secret: ${HOOK_SECRET} is not set in the environment "
        "(set it, or write ${HOOK_SECRET:-default})",
        "monitors[0].interval: ${EVERY} is not set in the environment "
        "(set it, or write ${EVERY:-default})",
    ]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("${ TOKEN }", '"${ TOKEN }"'),
        ("${}", '"${}"'),
        ("x ${TOKEN", '"${TOKEN"'),
        ("${A:B}", '"${A:B}"'),
    ],
)
def test_malformed_reference_is_an_error(written: str, shown: str) -> None:
    """Anything after ${ that is not NAME or NAME:-default is reported, with the escape."""
    assert errors_of(dump({"name": "api", "url": URL, "body": written}), env={}) == [
        f"monitors[0].body: {shown} is not a ${{NAME}} or ${{NAME:-default}} reference "
        "(write $${ for a literal ${)"
    ]


def test_interpolation_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """env=None means the process environment."""
    monkeypatch.setenv("TETHER_TEST_LISTEN", "127.0.0.1:9100")
    config = parse_config(dump(server={"listen": "${TETHER_TEST_LISTEN}"}))
    assert config.server.port == 9100


def test_keys_and_non_strings_are_not_interpolated() -> None:
    """Only string values are interpolated: a key written as ${X} stays an unknown key."""
    text = "${X}: 1\n" + dump()
    assert errors_of(text, env={"X": "server"}) == [
        '["${X}"]: unknown key; expected one of: storage, server, alerts, defaults, '
        "maintenance, monitors"
    ]


# --- redaction -------------------------------------------------------------------------

SECRETS = ("hunter2", "s3cr3t", "T000B000", "dbpass", "urlpass", "bearer-xyz", "tok123")


def secret_config() -> MonitorConfig:
    return parse_config(
        dump(
            {
                "name": "api",
                "url": "https://alice:urlpass@127.0.0.1/health?token=tok123",
                "headers": {"Authorization": "Bearer ${BEARER}"},
            },
            storage={"postgres": "postgresql://tether:dbpass@127.0.0.1/tether"},
            alerts=[
                {
                    "name": "hook",
                    "type": "webhook",
                    "url": "http://127.0.0.1/h?token=tok123",
                    "secret": "${HOOK_SECRET}",
                },
                {
                    "name": "chat",
                    "type": "apprise",
                    "url": "slack://T000B000/B/C",
                    "urls": ["discord://T000B000/x"],
                },
                {
                    "name": "mail",
                    "type": "email",
                    "host": "127.0.0.1",
                    "from": "t@lab.test",
                    "to": "o@lab.test",
                    "username": "u",
                    "password": "${SMTP_PASSWORD}",
                },
            ],
        ),
        env={"BEARER": "bearer-xyz", "HOOK_SECRET": "s3cr3t", "SMTP_PASSWORD": "hunter2"},
    )


def test_repr_shows_no_secret() -> None:
    """repr() of the whole configuration and of each part hides every secret."""
    config = secret_config()
    shown = repr(config) + str(config) + "".join(repr(c) for c in config.alerts)
    shown += repr(config.monitors[0]) + repr(config.storage)
    for secret in SECRETS:
        assert secret not in shown, secret
    assert "https://alice:***@127.0.0.1/health?token=***" in shown
    assert "slack://***" in shown
    assert "postgresql://tether:***@127.0.0.1/tether" in shown


def test_secrets_stay_usable() -> None:
    """Redaction is for display only: the models keep the real values."""
    config = secret_config()
    monitor = config.monitors[0]
    assert monitor.url == "https://alice:urlpass@127.0.0.1/health?token=tok123"
    assert monitor.headers == {"Authorization": "Bearer bearer-xyz"}
    mail, hook = config.channel("mail"), config.channel("hook")
    assert isinstance(mail, EmailChannelConfig)
    assert isinstance(hook, WebhookChannelConfig)
    assert mail.password is not None
    assert hook.secret is not None
    assert (mail.password.get_secret_value(), hook.secret.get_secret_value()) == (
        "hunter2",
        "s3cr3t",
    )
    assert config.storage.postgres == "postgresql://tether:dbpass@127.0.0.1/tether"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            dump({"name": "a", "url": "ftp://alice:urlpass@127.0.0.1/"}),
            'monitors[0].url: unsupported scheme "ftp": use http, https, tcp, tls or dns',
        ),
        (
            dump({"name": "a", "url": "tcp://alice:urlpass@127.0.0.1"}),
            'monitors[0].url: "tcp://alice:***@127.0.0.1": a tcp:// target needs a port, '
            "as in tcp://host:port",
        ),
        (
            dump({"name": "a", "url": "tcp://u:urlpass-" + "x" * 80 + "@127.0.0.1"}),
            'monitors[0].url: "tcp://u:***@127.0.0.1": a tcp:// target needs a port, '
            "as in tcp://host:port",
        ),
        (
            dump({"name": "a", "url": URL, "interval": "http://u:urlpass@h/" + "x" * 80}),
            'monitors[0].interval: "http://u:***@h/' + "x" * 40 + '…" is not a duration: '
            "write a number and a unit, as in 500ms, 30s, 5m, 1h or 14d",
        ),
        (
            dump({"name": "a", "url": URL, "headers": {"Authorization": "Bearer\nbearer-xyz"}}),
            "monitors[0].headers: the value of Authorization (***) contains a line break",
        ),
        (
            dump({"name": "a", "url": URL, "headers": {"X-Api-Key": 12345}}),
            "monitors[0].headers.X-Api-Key: the value is a number, not text: quote it",
        ),
        (
            dump(
                alerts=[
                    {
                        "name": "m",
                        "type": "email",
                        "host": "h",
                        "from": "t@lab.test",
                        "to": "o@lab.test",
                        "username": "u",
                        "password": 12345,
                    }
                ]
            ),
            "alerts[0].password: the value is a number, not text: quote it",
        ),
        (
            dump(alerts=[{"name": "c", "type": "apprise", "urls": ["slack:/T000B000/B/C"]}]),
            'alerts[0].urls[0]: "***" is not an apprise URL, as in '
            "slack://TOKEN_A/TOKEN_B/TOKEN_C or discord://WEBHOOK_ID/TOKEN",
        ),
        (
            dump(
                alerts=[{"name": "h", "type": "webhook", "url": "ftp://u:urlpass@h/?token=tok123"}]
            ),
            'alerts[0].url: "ftp://u:***@h/?token=***" is not an http:// or https:// URL',
        ),
        (
            dump(storage={"postgres": "mysql://u:p@ss@h/db"}),
            'storage.postgres: "mysql://u:***@h/db" is not a PostgreSQL URL, '
            "as in postgresql://127.0.0.1:5432/tether",
        ),
    ],
    ids=[
        "bad-scheme",
        "tcp-no-port",
        "long-password",
        "cut-url-value",
        "auth-header-line-break",
        "api-key-number",
        "smtp-password-number",
        "apprise-url",
        "webhook-url",
        "at-in-password",
    ],
)
def test_errors_show_no_secret(text: str, error: str) -> None:
    """Passwords, tokens, secret headers and apprise URLs are masked in error lines."""
    errors = errors_of(text)
    assert errors == [error]
    for secret in (*SECRETS, "12345", "p@ss"):
        assert secret not in "\n".join(errors)


def test_an_interpolated_secret_is_not_echoed() -> None:
    """A secret from the environment does not appear when the file has another error."""
    text = dump(
        {"name": "a", "url": URL, "interval": "5"},
        alerts=[
            {
                "name": "m",
                "type": "email",
                "host": "h",
                "from": "t@lab.test",
                "to": "o@lab.test",
                "username": "u",
                "password": "${PW}",
            }
        ],
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env={"PW": "hunter2"})
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in "\n".join(caught.value.located)


# --- YAML -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "monitors:\n  - name: a\n\turl: http://x/\n",
            "tether.yaml:3:1: a tab character: YAML is indented with spaces, not tabs",
        ),
        (
            "monitors: [1, 2\n",
            "tether.yaml:2:1: expected ',' or ']', but got '<stream end>' "
            "(while parsing a flow sequence on line 1)",
        ),
        (
            "monitors:\n  - name: a\n   url: x\n",
            "tether.yaml:3:4: this line is indented differently from the lines above it",
        ),
        (
            "monitors:\n  - name: a\n    url: http://x: y\n",
            "tether.yaml:3:18: mapping values are not allowed here "
            "(a value that contains ': ' needs quotes)",
        ),
        (
            "monitors: []\n---\nmonitors: []\n",
            "tether.yaml:2:1: a second YAML document (---): tether reads one document per file",
        ),
        (
            "monitors: !!python/object:os.system x\n",
            "tether.yaml:1:11: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
        ),
        (
            'monitors: "\\q"\n',
            "tether.yaml:1:13: found unknown escape character 'q' "
            "(while scanning a double-quoted scalar on line 1)",
        ),
    ],
    ids=[
        "tab-indent",
        "unclosed-list",
        "misindented",
        "colon-in-value",
        "two-documents",
        "python-tag",
        "bad-escape",
    ],
)
def test_yaml_syntax_errors_name_line_and_column(text: str, error: str) -> None:
    """Malformed YAML gives FILE:LINE:COLUMN and the problem, on one line."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="tether.yaml")
    assert caught.value.errors == [error]
    assert caught.value.located == [error]


def test_duplicate_key_is_an_error() -> None:
    """A key written twice is reported with both lines instead of the last silently winning."""
    text = f"monitors:\n  - name: a\n    url: {URL}\n    url: http://127.0.0.1:9/\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml")
    assert caught.value.located == ["t.yaml:4:5: monitors[0].url: is written twice (lines 3 and 4)"]


def test_keys_are_read_as_written() -> None:
    """YAML 1.1 turns `on:` into True; a tether key stays the text written."""
    text = f"monitors:\n  - name: a\n    url: {URL}\n    on: 1\n"
    (error,) = errors_of(text)
    assert error.startswith("monitors[0].on: unknown key")


def test_merge_keys_share_settings_and_own_keys_win() -> None:
    """`<<: *anchor` merges a mapping: the first merged source wins, the monitor's own keys last."""
    text = f"""\
monitors:
  - &base {{name: a, url: "{URL}", interval: 5s, timeout: 1s, paused: true}}
  - <<: [*base, {{interval: 9s, failure_threshold: 7}}]
    name: b
    timeout: 2s
"""
    b = parse_config(text).monitor("b")
    assert (b.interval, b.timeout, b.paused, b.failure_threshold) == (5.0, 2.0, True, 7)


def test_recursive_alias_is_an_error() -> None:
    """A structure that contains itself is refused instead of recursing forever."""
    assert errors_of("monitors: &a [*a]\n") == ["monitors[0]: refers to itself through an alias"]


def test_top_level_must_be_a_mapping() -> None:
    """A list or a scalar at the top is reported at `(top level)`."""
    assert errors_of("- a\n- b\n") == [
        "(top level): a list is not a mapping of keys such as monitors and alerts"
    ]
    assert errors_of("hello\n") == [
        '(top level): "hello" is not a mapping of keys such as monitors and alerts'
    ]


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    """load_config takes a str or Path, and a UTF-8 byte-order mark is fine."""
    path = tmp_path / "tether.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + dump().encode())
    assert load_config(path) == load_config(str(path)) == parse_config(dump())


def test_load_config_non_utf8_and_missing(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are a ConfigError with the line; a missing file an OSError."""
    path = tmp_path / "tether.yaml"
    path.write_bytes(b"monitors:\n  - name: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.errors == [f"{path}:2: not UTF-8 text (byte 0xe9)"]
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


def test_located_errors_point_at_the_key() -> None:
    """Each located error has the line and column of its key, or of the nearest parent."""
    text = """\
alerts:
  - name: ops
    type: webhook
monitors:
  - name: api
    url: dns://lab.test
    dns:
      record_type: MXX
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="f.yaml")
    assert caught.value.located == [
        "f.yaml:2:5: alerts[0].url: is required",
        'f.yaml:8:7: monitors[0].dns.record_type: "MXX" is not one of A, AAAA, CNAME, MX, TXT, '
        "NS, did you mean MX?",
    ]


def test_columns_count_characters_not_bytes() -> None:
    """A key after non-ASCII text on its line gets the column an editor shows."""
    with pytest.raises(ConfigError) as caught:
        parse_config(f"monitors:\n  - {{name: café→, url: '{URL}', intervl: 5s}}\n", source="f")
    assert caught.value.located == [
        "f:2:56: monitors[0].intervl: unknown key, did you mean interval?"
    ]


# --- maintenance windows -------------------------------------------------------------


def window_config(**window: Any) -> MonitorConfig:
    return parse_config(
        dump(
            {"name": "a", "url": URL},
            {"name": "b", "url": URL},
            maintenance=[{"name": "w", **window}],
        )
    )


def at(text: str, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


def test_one_off_window_is_start_inclusive_end_exclusive() -> None:
    """A start/end window covers [start, end) and every monitor when none is listed."""
    config = window_config(start="2025-07-01T22:00:00Z", end="2025-07-02T01:00:00Z")
    window = config.maintenance[0]
    assert [
        window.active(at(t))
        for t in ("2025-07-01 21:59", "2025-07-01 22:00", "2025-07-02 00:59", "2025-07-02 01:00")
    ] == [
        False,
        True,
        True,
        False,
    ]
    assert config.in_maintenance("a", at("2025-07-01 23:00"))
    assert config.in_maintenance("b", at("2025-07-01 23:00"))


def test_naive_times_are_read_in_the_window_timezone() -> None:
    """A start without an offset is local time in `timezone`, stored timezone-aware."""
    window = window_config(
        start="2025-07-01 22:00", end="2025-07-01 23:00", timezone="Europe/Paris"
    ).maintenance[0]
    assert window.start == at("2025-07-01 20:00")
    assert window.active(at("2025-07-01 20:30"))
    assert not window.active(at("2025-07-01 22:30"))


def test_weekly_window_in_its_timezone() -> None:
    """`30 2 * * mon-fri` for 1h covers 02:30-03:30 Paris time on weekdays only."""
    config = window_config(
        schedule="30 2 * * mon-fri", duration="1h", timezone="Europe/Paris", monitors=["a"]
    )
    window = config.maintenance[0]
    cases = {
        "2025-07-07 02:29": False,  # Monday
        "2025-07-07 02:30": True,
        "2025-07-07 03:29": True,
        "2025-07-07 03:30": False,
        "2025-07-06 02:45": False,  # Sunday
        "2025-07-08 02:45": True,
    }
    assert {t: window.active(at(t, PARIS)) for t in cases} == cases
    assert config.in_maintenance("a", at("2025-07-07 02:45", PARIS))
    assert not config.in_maintenance("b", at("2025-07-07 02:45", PARIS))


def test_weekly_window_across_midnight_and_with_steps() -> None:
    """A window runs past midnight into the next day; `*/15` starts every quarter hour."""
    late = window_config(schedule="0 23 * * sun", duration="2h").maintenance[0]
    assert late.active(at("2025-07-07 00:30"))  # Monday, from Sunday's start
    assert not late.active(at("2025-07-07 01:00"))
    quarter = window_config(schedule="*/15 * * * *", duration="5m").maintenance[0]
    assert [quarter.active(at(f"2025-07-07 10:{m:02d}")) for m in (3, 7, 16, 44, 45)] == [
        True,
        False,
        True,
        False,
        True,
    ]


def test_weekly_window_lasts_its_duration_across_a_dst_change() -> None:
    """A 3h window starting 01:00 on the spring-forward night ends at 05:00 local (3 real hours)."""
    window = window_config(
        schedule="0 1 * * sun", duration="3h", timezone="Europe/Paris"
    ).maintenance[0]
    assert window.active(at("2025-03-30 04:30", PARIS))
    assert not window.active(at("2025-03-30 05:00", PARIS))


def test_active_needs_an_aware_datetime() -> None:
    """A naive datetime is refused rather than guessed."""
    window = window_config(schedule="0 1 * * *", duration="1h").maintenance[0]
    with pytest.raises(ValueError, match="timezone-aware"):
        window.active(dt.datetime(2025, 7, 1, 1, 30))


@pytest.mark.parametrize(
    ("window", "error"),
    [
        (
            {"schedule": "0 2 * *", "duration": "1h"},
            'maintenance[0].schedule: "0 2 * *" is not a weekly schedule: '
            "write MINUTE HOUR * * DAYS, as in 0 2 * * sun",
        ),
        (
            {"schedule": "0 25 * * *", "duration": "1h"},
            'maintenance[0].schedule: "0 25 * * *": hour "25" is not from 0 to 23',
        ),
        (
            {"schedule": "0 2 1 * *", "duration": "1h"},
            'maintenance[0].schedule: "0 2 1 * *": a maintenance schedule repeats weekly, '
            "so day of month and month must be *",
        ),
        (
            {"schedule": "0 2 * * funday", "duration": "1h"},
            'maintenance[0].schedule: "0 2 * * funday": day of week "funday" is not from 0 to 7',
        ),
        (
            {"schedule": "50-10 2 * * *", "duration": "1h"},
            'maintenance[0].schedule: "50-10 2 * * *": the range "50-10" runs backwards',
        ),
        (
            {"schedule": "*/0 2 * * *", "duration": "1h"},
            'maintenance[0].schedule: "*/0 2 * * *": the step in "*/0" must be at least 1',
        ),
        (
            {"schedule": "0 2 * * *", "duration": "8d"},
            "maintenance[0].duration: 8d is more than a week",
        ),
        ({"schedule": "0 2 * * *"}, "maintenance[0].duration: is required"),
        ({"start": "2025-07-01T00:00:00Z"}, "maintenance[0].end: is required"),
        (
            {},
            "maintenance[0]: give start and end (once), or schedule and duration (weekly)",
        ),
        (
            {"start": "2025-07-01T00:00:00Z", "duration": "1h"},
            "maintenance[0]: give start and end, or schedule and duration, not both",
        ),
        (
            {"start": "2025-07-02T00:00:00Z", "end": "2025-07-01T00:00:00Z"},
            "maintenance[0].end: 2025-07-01T00:00:00+00:00 is not after start "
            "(2025-07-02T00:00:00+00:00)",
        ),
        (
            {"start": "soon", "end": "2025-07-01T00:00:00Z"},
            'maintenance[0].start: "soon" is not a date and time, as in 2025-07-01T22:00:00Z',
        ),
        (
            {"schedule": "0 2 * * *", "duration": "1h", "timezone": "Mars/Base"},
            'maintenance[0].timezone: "Mars/Base" is not a time zone, as in UTC or Europe/Paris',
        ),
        (
            {"schedule": "0 2 * * *", "duration": "1h", "monitors": ["a", "c"]},
            'maintenance[0].monitors[1]: no monitor named "c"; define it under monitors',
        ),
    ],
)
def test_maintenance_window_error(window: dict[str, Any], error: str) -> None:
    """A maintenance window reports its schedule, times, zone and monitors precisely."""
    text = dump({"name": "a", "url": URL}, maintenance=[{"name": "w", **window}])
    assert errors_of(text) == [error]


# --- tether check-config -------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "tether.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_config_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid file exits 0 with a one-line summary on stdout."""
    path = write(
        tmp_path,
        dump(
            {"name": "a", "url": URL},
            {"name": "b", "url": "tcp://127.0.0.1:5432"},
            {"name": "c", "url": "dns://lab.test"},
            alerts=[{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9000/hook"}],
        ),
    )
    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr() == (f"{path}: 3 monitors, 1 alert channel, OK\n", "")


def test_check_config_counts_windows_and_plurals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary says 1 monitor, 0 alert channels, and counts maintenance windows."""
    window = {"name": "w", "schedule": "0 2 * * sun", "duration": "1h"}
    path = write(tmp_path, dump(maintenance=[window]))
    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: 1 monitor, 0 alert channels, 1 maintenance window, OK\n"
    )


def test_check_config_defaults_to_tether_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without FILE, check-config reads ./tether.yaml."""
    write(tmp_path, dump())
    monkeypatch.chdir(tmp_path)
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out == "tether.yaml: 1 monitor, 0 alert channels, OK\n"


def test_check_config_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid file exits 1 with each located error on its own stderr line."""
    path = write(
        tmp_path,
        f"monitors:\n  - name: api\n    url: {URL}\n    interval: '5'\n    colour: red\n",
    )
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f'{path}:4:5: monitors[0].interval: "5" is not a duration, write 5s',
        f"{path}:5:5: monitors[0].colour: unknown key; expected one of: name, url, method, "
        "headers, body, follow_redirects, max_redirects, interval, timeout, conditions, "
        "failure_threshold, success_threshold, alerts, depends_on, resolver, dns, tls, "
        "latency_margin, remind_every, escalate, paused",
    ]


def test_check_config_yaml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tab indentation exits 1 with FILE:LINE:COL and no traceback."""
    path = write(tmp_path, "monitors:\n\t- name: a\n")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"{path}:2:1: a tab character: YAML is indented with spaces, not tabs\n"


def test_check_config_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file or a directory exits 2 with one line saying why."""
    missing = tmp_path / "nope.yaml"
    assert main(["check-config", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"tether check-config: cannot read {missing}: No such file or directory\n"
    )
    assert main(["check-config", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err == f"tether check-config: cannot read {tmp_path}: Is a directory\n"
    )


def test_check_config_non_utf8_is_invalid_not_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that reads but is not UTF-8 exits 1, like any other invalid content."""
    path = tmp_path / "tether.yaml"
    path.write_bytes(b"\xff\xfe")
    assert main(["check-config", str(path)]) == 1
    assert capsys.readouterr().err == f"{path}:1: not UTF-8 text (byte 0xff)\n"


def test_cli_import_stays_light() -> None:
    """Importing tether.cli loads neither pydantic nor yaml: check-config imports them lazily."""
    code = "import sys, tether.cli; print(sorted({'pydantic', 'yaml'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


def test_every_configuration_snippet_in_monitor_md_is_valid() -> None:
    """Each YAML snippet of tether.yaml in docs/monitor.md validates (with one monitor added
    where the snippet shows only a section); Prometheus's own YAML is left out."""
    doc = (Path(__file__).parent.parent / "docs/monitor.md").read_text()
    snippets = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    ours = [s for s in snippets if "scrape_configs" not in s]
    assert len(ours) >= 4
    for snippet in ours:
        text = snippet
        if not re.search(r"^monitors:", text, re.M):
            text += "monitors:\n  - {name: api, url: 'http://127.0.0.1:8080/'}\n"
        env = dict.fromkeys(re.findall(r"\$\{(\w+)", text), "x")
        config = parse_config(text, env=env)
        assert config.monitors
