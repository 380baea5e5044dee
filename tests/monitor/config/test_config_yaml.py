"""YAML as tether reads it: syntax errors in plain words, keys as written, merge keys,
duplicates, aliases, files and encodings, and every error located at FILE:LINE:COLUMN."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.config_text import URL, dump, errors_of
from tether.monitor.config import ConfigError, load_config, parse_config


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


def test_a_date_the_calendar_does_not_have_is_a_located_error() -> None:
    """YAML reads `2025-17-02T01:00:00Z` as a timestamp by its shape, and datetime then
    refuses month 17: one located error per such value, never datetime's ValueError (the
    configuration fuzz test found it in a mutated docs example); a real date still loads."""
    text = f"""\
maintenance:
  - name: migration
    start: 2025-07-01T22:00:00Z
    end: 2025-17-02T01:00:00Z
  - name: other
    start: 2025-02-30
    end: 2025-03-01T00:00:00Z
monitors:
  - {{name: a, url: "{URL}"}}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml")
    assert caught.value.located == [
        't.yaml:4:5: maintenance[0].end: "2025-17-02T01:00:00Z" is not a date: '
        "month must be in 1..12",
        't.yaml:6:5: maintenance[1].start: "2025-02-30" is not a date: '
        "day is out of range for month",
    ]
    fixed = text.replace("2025-17-02", "2025-07-02").replace("2025-02-30", "2025-02-28")
    assert [w.name for w in parse_config(fixed).maintenance] == ["migration", "other"]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("!!timestamp foo", '"foo" is not a date'),
        ("!!int abc", '"abc" is not a whole number'),
        ("!!int 0x", '"0x" is not a whole number'),
        ("!!float .", '"." is not a number'),
        ("!!bool maybe", '"maybe" is not true or false'),
        ("2024-02-29T25:00:00Z", '"2024-02-29T25:00:00Z" is not a date: hour must be in 0..23'),
        ("0000-01-01", '"0000-01-01" is not a date: year 0 is out of range'),
    ],
)
def test_a_value_its_tag_cannot_read_is_a_located_error(value: str, error: str) -> None:
    """A value that does not fit its YAML tag, written (`!!int abc`) or read from its
    shape (a timestamp), is one located error, where PyYAML's constructors raise whatever
    int(), float(), datetime, a dict or a failed match raise."""
    text = f"monitors:\n  - name: a\n    url: {URL}\n    timeout: {value}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml")
    assert caught.value.located == [f"t.yaml:4:5: monitors[0].timeout: {error}"]


def test_a_credential_its_tag_cannot_read_is_not_shown() -> None:
    """A secret key's value, a credential header's and an alert channel's URL (an Apprise
    URL carries its tokens) are named "the value" when their tag cannot read them."""
    text = f"""\
alerts:
  - {{name: chat, type: apprise, url: !!int "slack://SECRET-A/SECRET-B/SECRET-C"}}
monitors:
  - name: a
    url: {URL}
    headers: {{Authorization: !!bool "Bearer SECRET-D"}}
    token: !!timestamp SECRET-E
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml")
    located = "\n".join(caught.value.located)
    assert "SECRET" not in located, located
    assert "t.yaml:2:33: alerts[0].url: the value is not a whole number" in located
    assert "monitors[0].headers.Authorization: the value is not true or false" in located
    assert "t.yaml:7:5: monitors[0].token: the value is not a date" in located


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
