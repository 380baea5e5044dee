"""One error per field, exact: each key's mistakes and their messages, unknown keys with a
did-you-mean, several errors at once in file order, and conditions checked as the file
loads."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.config_text import URL, accept_any, dump, errors_of, monitor_errors
from tether.monitor.config import ConfigError, parse_config


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"interval": "5"}, 'monitors[0].interval: "5" is not a duration, write 5s'),
        ({"interval": 5}, "monitors[0].interval: 5 is not a duration, write 5s"),
        ({"interval": 0.5}, "monitors[0].interval: 0.5 is not a duration, write 0.5s"),
        ({"interval": True}, "monitors[0].interval: true is not a duration, write e.g. 30s"),
        # Not "write nans": a number that is no number has no unit to add.
        ({"interval": float("nan")}, "monitors[0].interval: nan is not a duration, write e.g. 30s"),
        ({"interval": float("inf")}, "monitors[0].interval: inf is not a duration, write e.g. 30s"),
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
        (
            {"name": "a\tb"},
            (
                'monitors[0].name: "a\\tb" contains a control character (U+0009) at '
                "character 2, which a name may not hold"
            ),
        ),
        (
            {"url": "127.0.0.1:80"},
            'monitors[0].url: "127.0.0.1:80" has no scheme: '
            "write http://, https://, ws://, wss://, tcp://, tls://, dns://, ssh://, smtp://, "
            "smtps://, grpc://, grpcs://, icmp://, postgresql://, mysql://, mariadb://, redis:// "
            "or rediss://",
        ),
        (
            {"url": "ftp://x/"},
            'monitors[0].url: unsupported scheme "ftp": '
            "use http, https, ws, wss, tcp, tls, dns, ssh, smtp, smtps, grpc, grpcs, icmp, "
            "postgresql, mysql, mariadb, redis or rediss",
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
        (
            {"headers": {"X-A": "café"}},
            'monitors[0].headers: the value of X-A ("café") is not ASCII (encode it, as in '
            "RFC 8187's UTF-8''...)",
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
            "server.port: unknown key; expected one of: listen, require_token, session_idle, "
            "session_max, secure_cookies, trust_forwarded_proto, header_timeout, body_timeout, "
            "idle_timeout, max_connections, metrics_monitor_limit",
        ),
        (
            {"defaults": {"interval": "5"}},
            'defaults.interval: "5" is not a duration, write 5s',
        ),
        (
            {"defaults": {"method": "GET"}},
            "defaults.method: unknown key; expected one of: interval, timeout, failure_threshold, "
            "success_threshold, alert_when, alerts, headers, resolver, rdap, latency_margin, "
            "remind_every, escalate, locations, quorum, partial_alerts, labels",
        ),
        ({"monitorz": []}, "monitorz: unknown key, did you mean monitors?"),
        ({"alert": []}, "alert: unknown key, did you mean alerts?"),
        (
            {"a.b": 1},
            '["a.b"]: unknown key; expected one of: storage, server, probe, locations, alerts, '
            "defaults, maintenance, cluster, agents, users, tokens, oidc, workers, discover, "
            "monitors, status_pages, objectives, modules, routes, time_intervals, inhibit_rules",
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
            'alerts[0].type: "webhok" is not one of alertmanager, apprise, email, webhook, '
            "did you mean webhook?",
        ),
        (
            {"name": "ops", "url": "http://127.0.0.1/h"},
            "alerts[0].type: is required: alertmanager, apprise, email, webhook",
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
        (
            {
                "name": "mail",
                "type": "email",
                "host": "h" * 64,
                "from": "t@lab.test",
                "to": "a@t.x",
            },
            f"alerts[0].host: \"{'h' * 55}…\" is not a host: the label '{'h' * 39}…' must "
            "have 1 to 63 characters",
        ),
        (
            {"name": "ops", "type": "webhook", "url": f"https://{'b' * 63}.{'c' * 200}.test/"},
            f"alerts[0].url: \"https://{'b' * 47}…\": its host: the label '{'c' * 39}…' must "
            "have 1 to 63 characters",
        ),
        (
            {"name": "ops", "type": "webhook", "url": f"https://{('d' * 60 + '.') * 5}test/"},
            f'alerts[0].url: "https://{"d" * 47}…": its host: the name has 309 characters; '
            "the most is 253",
        ),
        (
            {"name": "am", "type": "alertmanager", "url": "http://u:pw@127.0.0.1:9093"},
            "alerts[0].url: holds credentials: write them as username and password (or "
            "bearer_token), which tether keeps out of its logs",
        ),
        (
            {"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9093", "password": "p"},
            "alerts[0].username: is required with a password",
        ),
        (
            {
                "name": "am",
                "type": "alertmanager",
                "url": "http://127.0.0.1:9093",
                "username": "u",
                "password": "p",
                "bearer_token": "t",
            },
            "alerts[0].bearer_token: goes alone: give username and password, or bearer_token, "
            "not both",
        ),
        (
            {
                "name": "am",
                "type": "alertmanager",
                "url": "http://127.0.0.1:9093",
                "insecure": True,
            },
            "alerts[0].insecure: unknown key; expected one of: name, type, url, username, "
            "password, bearer_token, ca_file, dashboard_url",
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
        'alerts[0].type: "slack" is not one of alertmanager, apprise, email, webhook; '
        "for slack, write type: apprise with a slack:// URL",
        'alerts[1].type: "Teams" is not one of alertmanager, apprise, email, webhook; '
        "for Teams, write type: apprise with a msteams:// URL",
    ]


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
        "monitors[0].colour: unknown key; expected one of: name, type, url, token, cron, "
        "grace, timezone, app, endpoint, consecutive, failure_ratio, window, min_calls, "
        "method, headers, body, follow_redirects, max_redirects, http_version, "
        "interval, timeout, conditions, failure_threshold, "
        "success_threshold, alert_when, alerts, depends_on, resolver, dns, rdap, tls, browser, "
        "query, role, latency_margin, remind_every, escalate, locations, quorum, "
        "partial_alerts, labels, paused, steps"
    ]


def test_missing_monitors_and_empty_monitors() -> None:
    """A file without monitors, or with an empty list, says so."""
    assert errors_of("") == ["monitors: is required"]
    assert errors_of("server: {}\n") == ["monitors: is required"]
    assert errors_of("monitors:\n") == ["monitors: is empty: list at least one monitor"]
    assert errors_of("monitors: []\n") == ["monitors: is empty: list at least one monitor"]
    assert errors_of("monitors:\n  - {name: a}\n") == ["monitors[0].url: is required"]


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
    """Without a validator, config._conditions rejects a condition that does not parse."""
    pytest.importorskip("tether.monitor.config._conditions")
    text = dump({"name": "api", "url": URL, "conditions": ["[STATUS] == 200", "[STATUS] = 200"]})
    (error,) = errors_of(text)
    assert error.startswith('monitors[0].conditions[1]: "[STATUS] = 200": ')
    assert "\n" not in error


def test_a_regular_expression_that_does_not_compile_is_a_config_error() -> None:
    """re()'s pattern is compiled as the file loads: a bad one is one line naming the
    monitor's condition, the column and the regex package's own reason."""
    pytest.importorskip("regex")
    text = dump({"name": "api", "url": URL, "conditions": ['[BODY] == re("(ok")']})
    assert errors_of(text) == [
        'monitors[0].conditions[0]: "[BODY] == re(\\"(ok\\")": the regular expression in '
        "re( at column 14 does not compile: missing ) at position 3"
    ]
