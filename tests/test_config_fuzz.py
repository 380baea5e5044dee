"""The configuration loader on files nobody meant: YAML-ish text, mutations of the
documented example, and generated data in the file's shape.  parse_config returns a
configuration or raises ConfigError with one located line per problem; never anything
else, and quickly.  ``pytest --hypothesis-show-statistics`` counts the outcomes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tether.monitor.config import ConfigError, MonitorConfig, parse_config

DOC = (Path(__file__).parent.parent / "docs/monitor-config.md").read_text()
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
        assert all(line and "\n" not in line for line in error.located)
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
