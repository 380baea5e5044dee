"""Secrets never appear in a configuration error nor in ``repr()``; they stay usable."""

from __future__ import annotations

import pytest

from tests.helpers.config_text import URL, dump, errors_of
from tether.monitor.config import (
    ConfigError,
    EmailChannelConfig,
    MonitorConfig,
    WebhookChannelConfig,
    parse_config,
)

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
            'monitors[0].url: unsupported scheme "ftp": '
            "use http, https, ws, wss, tcp, tls, dns, ssh, smtp, smtps, grpc, grpcs, icmp, "
            "postgresql, mysql, mariadb, redis or rediss",
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


def test_a_100_kb_value_is_reported_at_once_and_cut() -> None:
    """A 100 KB value (a run of letters, the scheme pattern's worst case) in four fields
    is reported, each message cut and marked, well within the test's time limit (on
    quadratic redaction this took minutes); a password in it never shows."""
    big = "a" * 100_000
    errors = errors_of(
        dump(
            {"name": "a", "url": URL, "interval": big},
            {"name": "b", "url": big},
            storage={"postgres": f"host=db password=hunter2 {big}"},
            alerts=[{"name": "w", "type": "webhook", "url": big}],
        )
    )
    assert len(errors) == 4
    assert all(len(e) < 300 for e in errors), [e[:300] for e in errors]
    assert all("characters cut]" in e for e in errors), errors
    assert not any("hunter2" in e for e in errors)
