"""The importers' small readings as pure functions: Go's durations, tether's way of
writing them, Gatus's environment references and conditions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.config import parse_config
from tether.monitor.importers._values import go_duration, seconds_text, with_env_references
from tether.monitor.importers.gatus._endpoints import gatus_condition


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("30s", 30.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("1m0.5s", 60.5),
        ("0", 0.0),
        ("1d", 86400.0),
        ("soon", None),
        ("30", None),
        ("5 m", None),
        (True, None),
    ],
)
def test_go_durations(written: object, seconds: float | None) -> None:
    """Go's and Prometheus's units; anything else is not a duration."""
    assert go_duration(written) == seconds


@given(st.integers(min_value=1, max_value=36500 * 86_400_000))
def test_seconds_text_is_a_duration_tether_reads_back(millis: int) -> None:
    """Whatever the milliseconds, seconds_text writes a duration tether's loader reads
    as the same time (so an interval is never refused or changed)."""
    text = seconds_text(millis / 1000)
    assert go_duration(text) == pytest.approx(millis / 1000)
    config = parse_config(f"monitors: [{{name: a, type: push, token: {'t' * 16}, grace: {text}}}]")
    assert config.monitors[0].grace == pytest.approx(millis / 1000)


@pytest.mark.parametrize(
    ("gatus", "tether"),
    [
        ("${TOKEN}", "${TOKEN}"),
        ("Bearer $TOKEN", "Bearer ${TOKEN}"),
        ("pa$$word", "pa$word"),
        ("$${NOT}", "$${NOT}"),
        ("cost: 5$", "cost: 5$"),
    ],
)
def test_environment_references(gatus: str, tether: str) -> None:
    """$NAME and ${NAME} read the environment in both; Gatus's $$ is a dollar, which
    tether writes as $, or $${ before a brace."""
    assert with_env_references(gatus) == tether


@pytest.mark.parametrize(
    ("gatus", "tether"),
    [
        ("[RESPONSE_TIME] < 500", "[RESPONSE_TIME] < 500ms"),
        ("[RESPONSE_TIME] < 500ms", "[RESPONSE_TIME] < 500ms"),
        ("[BODY] == pat(*served by*)", '[BODY] == pat("*served by*")'),
        ("[IP] == pat(127.0.*)", "[IP] == pat(127.0.*)"),
        ("[STATUS] == 200", "[STATUS] == 200"),
    ],
)
def test_gatus_conditions_in_tethers_spelling(gatus: str, tether: str) -> None:
    """Gatus's bare milliseconds and unquoted patterns, written as tether's parser reads
    them; the rest as written."""
    assert gatus_condition(gatus) == tether
