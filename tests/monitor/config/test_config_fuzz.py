"""The configuration loader on files nobody meant: YAML-ish text, mutations of the
documented example, and generated data in the file's shape.  parse_config returns a
configuration or raises ConfigError with one located line per problem; never anything
else, and quickly.  ``pytest --hypothesis-show-statistics`` counts the outcomes."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tether.cli import main
from tether.monitor.config import ConfigError, MonitorConfig, parse_config

DOC = (Path(__file__).parents[3] / "docs/monitor-config.md").read_text()
EXAMPLE = DOC.split("## A complete example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
ENV = dict.fromkeys(re.findall(r"\$\{(\w+)", EXAMPLE), "x")
# What YAML and tether's values give meaning to.
YAML_CHARS = " \n-:[]{},&*!|>'\"%@`#?<=.$\\0123456789msdh٣"

FUZZ = settings(
    max_examples=120,
    # No per-example deadline: on a busy CI machine one slow example is not a bug.  A hang
    # (the old tokenizer loop) still fails the test at its pytest timeout.
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcome(text: str) -> None:
    """A MonitorConfig, or a ConfigError of located one-line problems; nothing else."""
    error: ConfigError | None = None
    try:
        config = parse_config(text, env=ENV)
    except ConfigError as exc:
        error = exc
    if error is None:
        assert isinstance(config, MonitorConfig)
        event("accepted")
    else:
        assert error.located
        # One line each, whatever breaks a line: \n, \v, \x1c, U+2028...
        assert all(line and line.splitlines() == [line] for line in error.located)
        event("refused")


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    """The documented example with lines dropped, doubled, moved or re-indented, and
    characters inserted or replaced."""
    lines = EXAMPLE.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        change = draw(st.sampled_from(("drop", "double", "move", "indent", "char")))
        if change == "drop" and len(lines) > 1:
            del lines[i]
        elif change == "double":
            lines.insert(i, lines[i])
        elif change == "move":
            lines.insert(draw(st.integers(0, len(lines) - 1)), lines.pop(i))
        elif change == "indent":
            lines[i] = " " * draw(st.integers(0, 12)) + lines[i].lstrip()
        else:
            line = lines[i]
            at = draw(st.integers(0, len(line)))
            char = draw(st.sampled_from(YAML_CHARS) | st.characters())
            replace = draw(st.booleans())
            lines[i] = line[:at] + char + line[at + int(replace) :]
    return "\n".join(lines) + "\n"


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**40), 10**40)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["30s", "1s1s", "３０s", "0s", "99999999999d", "127.0.0.1:0", "[::1]:80"])
    | st.sampled_from(["http://127.0.0.1:9/", "dns://lab.test", "tcp://999.1.1.1:80"])
    | st.sampled_from(["[STATUS] == 200", "[STATUS] == 200]", "0 2 * * sun", "UTC"])
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.dates()
)
MONITOR_KEYS = st.sampled_from(
    [
        "name", "url", "method", "headers", "body", "follow_redirects", "max_redirects",
        "interval", "timeout", "conditions", "failure_threshold", "success_threshold",
        "alerts", "depends_on", "resolver", "dns", "tls", "latency_margin", "remind_every",
        "escalate", "paused", "unknown",
    ]
)  # fmt: skip
WINDOW_KEYS = st.sampled_from(
    ["name", "start", "end", "schedule", "duration", "timezone", "monitors", "every"]
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@st.composite
def shaped(draw: st.DrawFn) -> str:
    """Data in the file's shape (sections, monitors with their keys) with any values."""
    monitors = draw(
        st.lists(
            st.dictionaries(MONITOR_KEYS, VALUES, max_size=6).map(
                lambda m: {"name": "m", "url": "http://127.0.0.1:9/", **m}
            ),
            min_size=1,
            max_size=3,
        )
    )
    doc: dict[str, Any] = {"monitors": monitors}
    windows = st.dictionaries(WINDOW_KEYS, SCALARS, max_size=5)
    doc["maintenance"] = draw(st.lists(windows.map(lambda w: {"name": "w", **w}), max_size=2))
    for section in draw(st.sets(st.sampled_from(["storage", "server", "defaults", "alerts"]))):
        doc[section] = draw(VALUES)
    return yaml.safe_dump(doc, allow_unicode=True)


@pytest.mark.timeout(60)
@FUZZ
@given(st.text(alphabet=YAML_CHARS + "abcmonitorsnameurl", max_size=300) | st.text(max_size=300))
def test_yaml_ish_text_loads_or_raises_config_error(text: str) -> None:
    """Arbitrary YAML-ish text: a configuration or a ConfigError, nothing else."""
    outcome(text)


@pytest.mark.timeout(60)
@FUZZ
@given(mutated_example())
def test_the_mutated_example_loads_or_raises_config_error(text: str) -> None:
    """The documented example, mutated: a configuration or a ConfigError, nothing else."""
    outcome(text)


@pytest.mark.timeout(60)
@FUZZ
@given(shaped())
def test_any_values_in_the_file_shape_load_or_raise_config_error(text: str) -> None:
    """The file's sections and keys with values of any type and size: a configuration or
    a ConfigError, nothing else."""
    outcome(text)


# --- hostile values at every scalar position of a valid file --------------------------
#
# Each family below was once found by a user, not by the fuzz: a lone surrogate from a
# "\ud800" escape (UnicodeEncodeError), a 400-digit integer (OverflowError), control and
# bidirectional characters in a name, a host with a 300-character label, an allowed-target
# pattern of "[[[[" or 200,000 characters.  Here each is written into every scalar
# position (and key) of the documented example, so the next family is found here.

PLACEHOLDER = "HOSTILE-VALUE-PLACEHOLDER"
VALID: dict[str, Any] = {
    **yaml.safe_load(EXAMPLE),
    "probe": {"allowed_targets": ["*.example.com", "10.0.0.0/8", "api.example.com"]},
    "modules": {"http_2xx": {"prober": "http", "timeout": "5s"}},
}
HIDDEN_CHARS = (
    [chr(c) for c in (*range(0x00, 0x20), 0x7F, 0x85, 0x9B, 0x9F)]
    + ["\u2028", "\u2029", "\u061c", "\u200e", "\u200f"]
    + [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
)


def positions(data: object, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The path of every scalar value in ``data``, and of every mapping key (as
    ``(*path, KEY)`` with the key's name in a one-item tuple)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append((*path, (key,)))
            found += positions(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += positions(value, (*path, index))
    else:
        found.append(path)
    return found


POSITIONS = positions(VALID)


def placed(position: tuple[Any, ...], scalar: str) -> str:
    """The valid file with the YAML scalar text ``scalar`` written at ``position`` (a
    value, or a key when the last part is a one-item tuple)."""
    data = copy.deepcopy(VALID)
    *parents, last = position
    holder: Any = data
    for part in parents:
        holder = holder[part]
    if isinstance(last, tuple):
        holder[PLACEHOLDER] = holder.pop(last[0])
    else:
        holder[last] = PLACEHOLDER
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).replace(PLACEHOLDER, scalar)


def original(position: tuple[Any, ...]) -> str:
    """What the valid file writes at ``position``, as text."""
    holder: Any = VALID
    for part in position:
        holder = part[0] if isinstance(part, tuple) else holder[part]
    return holder if isinstance(holder, str) else str(holder)


def quoted(text: str, *, escaped: bool = True) -> str:
    """``text`` as a YAML double-quoted scalar: JSON's escapes are YAML's; unescaped, any
    character but a control one is written as it is (a raw lone surrogate makes the file
    text no UTF-8 can carry, which is one more case)."""
    return json.dumps(text, ensure_ascii=escaped)


@st.composite
def lone_surrogates(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    char = chr(draw(st.integers(0xD800, 0xDFFF)))
    return quoted(text[:at] + char + text[at:], escaped=draw(st.booleans()))


@st.composite
def huge_numbers(draw: st.DrawFn, text: str) -> str:
    digits = draw(st.integers(20, 5_000))
    number = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=1, max_size=8)))
    body = ("9" + number * (digits // len(number) + 1))[:digits]
    return draw(
        st.sampled_from(
            [body, f"-{body}", f"+{body}", f"0x{body}", f"0o{body[:500].replace('9', '7')}",
             f"{body}.5", f"1.0e{body[:6]}", f"-1.0e{body[:6]}", f"{body}s", f"{body}d",
             f"{text}{body}", ".inf", "-.inf", ".nan", f"{body[:40]}", f"{body[:39]}"]
        )
    )  # fmt: skip


@st.composite
def hidden_characters(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(HIDDEN_CHARS)) + text[at:]
    return quoted(text, escaped=draw(st.booleans()))


@st.composite
def long_labels(draw: st.DrawFn, text: str) -> str:
    """A host name over a bound: a label of 64 or more characters, or 254 or more in all."""
    if draw(st.booleans()):
        host = "a" * draw(st.integers(64, 300)) + ".example"
    else:
        host = ".".join(["b" * 63] * draw(st.integers(5, 8)))
    shape = draw(
        st.sampled_from(
            ["{}", "{}:80", "http://{}/", "https://u:p@{}:8443/x", "tcp://{}:5432", "*.{}",
             "dns://{}", "tls://{}:443", "ops@{}", "postgresql://{}/db", "slack://{}/b/c"]
        )
    )  # fmt: skip
    return quoted(shape.format(host))


@st.composite
def invalid_patterns(draw: st.DrawFn, text: str) -> str:
    fixed = st.sampled_from(
        ["[[[[[[[[[[", "[", "]", "[a-z]", "*[", "a..b", "..", ".", "a b", "*.*.[", "[!a]",
         "a\\*", "http://x/", "x@y", "*:*", "[::1", "::1]"]
    )  # fmt: skip
    wild = st.text(alphabet="[]*?.-!^\\ab", min_size=1, max_size=30)
    long = st.integers(128, 100_000).map(lambda n: "a*" * n)
    return quoted(draw(fixed | wild | long))


FAMILIES = {
    "lone surrogates": lone_surrogates,
    "huge integers": huge_numbers,
    "control and bidi characters": hidden_characters,
    "over-long labels": long_labels,
    "invalid patterns": invalid_patterns,
}


def check_config_outcome(text: str) -> None:
    """``tether check-config FILE`` on ``text``: exit 0 and the one summary line, or exit
    1 and only located lines on stderr; output UTF-8 can carry, and never a traceback."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tether.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        out, err = io.StringIO(), io.StringIO()
        with (
            mock.patch.dict(os.environ, ENV),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = main(["check-config", str(path)])
    stdout, stderr = out.getvalue(), err.getvalue()
    (stdout + stderr).encode("utf-8")  # a lone surrogate here fails the real process
    assert "Traceback" not in stderr
    if code == 0:
        assert stdout.startswith(f"{path}: ")
        assert stdout.endswith(", OK\n")
        assert all(line.startswith("warning: ") for line in stderr.splitlines())
    else:
        assert code == 1, (code, stderr[-500:])
        assert stdout == ""
        lines = stderr.splitlines()
        assert lines
        assert all(line.startswith(f"{path}:") for line in lines), lines[:3]


@st.composite
def hostile_files(draw: st.DrawFn) -> str:
    position = draw(st.sampled_from(POSITIONS))
    family = draw(st.sampled_from(sorted(FAMILIES)))
    event(family)
    return placed(position, draw(FAMILIES[family](original(position))))


@pytest.mark.timeout(300)
@settings(FUZZ, max_examples=400)
@given(hostile_files())
def test_hostile_values_at_any_position_load_or_give_one_clear_error(text: str) -> None:
    """A lone surrogate, a huge number, a control or bidi character, an over-long label or
    an invalid pattern at any scalar position or key of the documented example: the
    loader returns a configuration or a ConfigError, and `tether check-config` exits 0 or
    1 with located lines, never a traceback."""
    outcome(text)
    check_config_outcome(text)


# One representative of each family, written at every position: no position is left to
# chance.
REPRESENTATIVES = {
    "lone surrogate": '"30s\\ud800"',
    "a vertical tab": '"h\\u000bttp"',
    "a line separator": '"h\u2028ttp"',
    "400-digit integer": "9" * 400,
    "5,000-digit integer": "9" * 5_000,
    "right-to-left override": '"api\\u202eprod"',
    "a control character": '"a\\u0007b"',
    "300-character label": f'"http://{"a" * 300}.example/"',
    "[[[[ pattern": '"[[[[[[[[[["',
    "200,000-character pattern": '"' + "a*" * 100_000 + '"',
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("family", sorted(REPRESENTATIVES))
def test_each_family_at_every_position_gives_one_clear_error(family: str) -> None:
    """Each family's representative, at each of the example's scalar positions and keys:
    never an exception other than ConfigError, never a line that UTF-8 cannot carry."""
    for position in POSITIONS:
        for line in located_problems(placed(position, REPRESENTATIVES[family])):
            assert line
            assert line.splitlines() == [line], (position, line)
            line.encode("utf-8")


def located_problems(text: str) -> list[str]:
    """The located lines of the ConfigError that ``text`` raises; none if it loads."""
    try:
        parse_config(text, env=ENV)
    except ConfigError as exc:
        return exc.located
    return []
