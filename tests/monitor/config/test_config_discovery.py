"""``discover:`` as the file is read: each mistake one located line, a template tried on
a sample target, credentials never shown."""

from __future__ import annotations

import pytest

from tether.monitor.config import ConfigError, parse_config

SOURCE = """\
alerts:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9/hook"}
discover:
  - name: web
    file_sd: {files: [targets/*.json]}
    template:
%s
"""
GOOD = '      url: "http://{{address}}/health"'


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return list(caught.value.errors)


def test_a_file_of_sources_alone_needs_no_monitors() -> None:
    """``monitors:`` may be left out, or empty, when sources are given; without them it
    may not."""
    config = parse_config(SOURCE % GOOD)
    assert config.monitors == ()
    (source,) = config.discover
    assert source.kind == "file_sd"
    assert source.file_sd is not None
    assert source.file_sd.refresh_interval == 300.0
    assert source.grace == 600.0
    assert parse_config(SOURCE % GOOD + "monitors: []\n").monitors == ()
    assert errors("discover: []\nmonitors: []\n") == [
        "monitors: is empty: list at least one monitor"
    ]


def test_the_defaults_of_http_sd_and_its_authorization() -> None:
    """``http_sd`` polls every 60 s by default; a bearer authorization is sent as
    Prometheus sends it, with the refresh interval."""
    config = parse_config(
        "discover:\n  - name: inv\n    http_sd:\n      url: http://127.0.0.1:9/sd\n"
        "      authorization: {credentials: s3cret-token}\n"
        "    template: {url: 'tcp://{{address}}'}\n"
    )
    sd = config.discover[0].http_sd
    assert sd is not None
    assert sd.refresh_interval == 60.0
    assert sd.headers() == {
        "Authorization": "Bearer s3cret-token",
        "X-Prometheus-Refresh-Interval-Seconds": "60",
    }
    assert "s3cret-token" not in repr(config)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  - name: a\n    template: {url: 'tcp://{{address}}'}\n",
            "discover[0]: give one of file_sd and http_sd",
        ),
        (
            "  - name: a\n    file_sd: {files: [t.txt]}\n    template: {url: 'tcp://{{address}}'}\n",
            'discover[0].file_sd.files: "t.txt" must end .json, .yml or .yaml, as '
            "Prometheus's file_sd",
        ),
        (
            "  - name: a\n    file_sd: {files: [t.json]}\n    template: {url: '{{adress}}'}\n",
            'discover[0].template: "{{adress}}" is not a placeholder: write {{address}} or '
            "{{labels.NAME}}",
        ),
        (
            "  - name: a\n    file_sd: {files: [t.json]}\n    template: {url: 'ftp://{{address}}'}\n",
            "discover[0].template: on a sample target (127.0.0.1:9100): url:",
        ),
        (
            "  - name: a\n    file_sd: {files: [t.json]}\n"
            "    template: {url: 'tcp://{{address}}', alerts: [opz]}\n",
            'discover[0].template.alerts[0]: no alert channel named "opz", did you mean ops?',
        ),
        (
            "  - name: a\n    file_sd: {files: [t.json]}\n"
            "    template: {url: 'tcp://{{address}}', intervall: 5s}\n",
            "discover[0].template: on a sample target (127.0.0.1:9100): intervall:",
        ),
        (
            "  - name: a\n    file_sd: {files: [t.json]}\n    match: 'team=~\"(\"'\n"
            "    template: {url: 'tcp://{{address}}'}\n",
            "discover[0].match:",
        ),
        (
            "  - name: a\n    file_sd: {files: [t.json]}\n    template: {url: 'tcp://{{address}}'}\n"
            "  - name: a\n    file_sd: {files: [u.json]}\n    template: {url: 'tcp://{{address}}'}\n",
            'discover[1].name: "a" names another source too',
        ),
    ],
)
def test_each_mistake_is_one_line(body: str, expected: str) -> None:
    """A source that is neither kind, a file Prometheus would not read, a placeholder
    misspelt, a template that makes no valid monitor, an unknown channel, a bad matcher,
    a name twice: one line each, naming the key."""
    head = "alerts:\n  - {name: ops, type: webhook, url: 'http://127.0.0.1:9/h'}\ndiscover:\n"
    (line,) = errors(head + body)
    assert line.startswith(expected), line


def test_credentials_are_never_shown() -> None:
    """A wrong value beside a credential, or a credential of the wrong type, is said
    without the secret."""
    text = (
        "discover:\n  - name: inv\n    http_sd:\n      url: http://127.0.0.1:9/sd\n"
        "      authorization: {credentials: [s3cret-token]}\n"
        "      basic_auth: {username: u, password: [hunter2-pass]}\n"
        "    template: {url: 'tcp://{{address}}'}\n"
    )
    lines = errors(text)
    assert len(lines) == 2
    assert not any("s3cret" in line or "hunter2" in line for line in lines), lines
    # A token of digits alone is not text, and is said so without being shown.
    (line,) = errors(text.replace("[s3cret-token]", "84736251").replace("[hunter2-pass]", "x"))
    assert line.startswith("discover[0].http_sd.authorization.credentials: ")
    assert "84736251" not in line
    both = (
        "discover:\n  - name: inv\n    http_sd:\n      url: http://127.0.0.1:9/sd\n"
        "      authorization: {credentials: s3cret-token}\n"
        "      basic_auth: {username: u, password: hunter2-pass}\n"
        "    template: {url: 'tcp://{{address}}'}\n"
    )
    (line,) = errors(both)
    assert "cannot both be set" in line
    assert "s3cret" not in line
    assert "hunter2" not in line
