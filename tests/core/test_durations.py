"""``tether._durations``: the one duration grammar, read in seconds (with the fix for a
mistake) or milliseconds, and written back exactly, rounded, or for people.  Pure."""

from __future__ import annotations

import re

import pytest

from tether._durations import (
    DURATION,
    UNIT_SECONDS,
    duration_ms,
    format_duration,
    format_ms,
    human_duration,
    human_ms,
    parse_duration,
)

# -- reading, in seconds: the configuration --------------------------------------------


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("14d", 14 * 86400.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("0s", 0.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    """Each unit, decimals and sums read as seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5", '"5" is not a duration, write 5s'),
        ("2.5", '"2.5" is not a duration, write 2.5s'),
        ("5 s", '"5 s" is not a duration, write 5s'),
        ("5min", '"5min" is not a duration, write 5m'),
        ("10 seconds", '"10 seconds" is not a duration, write 10s'),
        ("2 hours", '"2 hours" is not a duration, write 2h'),
        ("3days", '"3days" is not a duration, write 3d'),
        ("250msec", '"250msec" is not a duration, write 250ms'),
        ("2w", '"2w" is not a duration, write 14d'),
        (
            "soon",
            '"soon" is not a duration: write a number and a unit, as in 500ms, 30s, 5m, 1h or 14d',
        ),
        (
            "-5s",
            '"-5s" is not a duration: write a number and a unit, as in 500ms, 30s, 5m, 1h or 14d',
        ),
        ("", '"" is not a duration: write a number and a unit, as in 500ms, 30s, 5m, 1h or 14d'),
    ],
)
def test_parse_duration_says_what_to_write(text: str, message: str) -> None:
    """A bare number or a spelled-out unit is refused with the duration meant."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "500ms"),
        (30, "30s"),
        (90, "1m30s"),
        (3600, "1h"),
        (14 * 86400, "14d"),
        (1.25, "1s250ms"),
        (0, "0s"),
    ],
)
def test_format_duration_round_trips(seconds: float, text: str) -> None:
    """format_duration writes what parse_duration reads back to the same value."""
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


# -- reading, in milliseconds: the conditions -----------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500.0),
        ("0ms", 0.0),
        ("2s", 2000.0),
        ("1.5s", 1500.0),
        ("1m", 60_000.0),
        ("1h", 3_600_000.0),
        ("14d", 14 * 86_400_000.0),
        ("1h30m", 5_400_000.0),
        ("1m30s500ms", 90_500.0),
    ],
)
def test_durations_read_in_milliseconds(text: str, ms: float) -> None:
    """Every unit (ms, s, m, h, d), fractions and combinations convert to milliseconds."""
    assert duration_ms(text) == ms


@pytest.mark.parametrize("text", ["500", "5 s", "5sec", "-1s", "1.s", "ms", "1w", "s5", ""])
def test_non_durations_are_refused(text: str) -> None:
    """Bare numbers, spaces, unknown units and signs are not durations."""
    assert duration_ms(text) is None


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (0.0, "0ms"),
        (0.04, "0ms"),
        (12.34, "12.3ms"),
        (734.0, "734ms"),
        (999.96, "1s"),
        (1250.0, "1.25s"),
        (59_999.0, "1m"),
        (250_000.0, "4m10s"),
        (3 * 3_600_000.0 + 5 * 60_000.0, "3h5m"),
        (7_200_000.0, "2h"),
        (29 * 86_400_000.0 + 4 * 3_600_000.0, "29d4h"),
        (-3 * 86_400_000.0, "-3d"),
    ],
)
def test_durations_are_shown_as_conditions_write_them(ms: float, shown: str) -> None:
    """Resolved durations are short, and read back by the duration grammar."""
    assert format_ms(ms) == shown
    back = duration_ms(shown.lstrip("-"))
    assert back is not None
    assert abs(back - abs(ms)) <= max(abs(ms) * 0.01, 0.05)


# -- one grammar ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["500ms", "0s", "1.5s", "2m", "1h30m", "14d", "1m30s500ms", "0.25h", "3d12h"]
)
def test_both_readers_take_the_same_grammar_to_the_same_value(text: str) -> None:
    """parse_duration and duration_ms read every duration alike, 1000 apart."""
    assert DURATION.fullmatch(text)
    ms = duration_ms(text)
    assert ms is not None
    assert ms == pytest.approx(parse_duration(text) * 1000)


@pytest.mark.parametrize("text", ["5", "5 s", "5sec", "-1s", "1w", "soon", ""])
def test_both_readers_refuse_the_same_texts(text: str) -> None:
    """What duration_ms refuses, parse_duration refuses with a message."""
    assert duration_ms(text) is None
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_every_unit_of_the_table_is_in_the_grammar() -> None:
    """Each unit the table converts is one the grammar reads, and written back as itself."""
    for unit, seconds in UNIT_SECONDS.items():
        assert DURATION.fullmatch(f"1{unit}")
        assert format_duration(seconds) == f"1{unit}"


def test_a_secret_in_a_refused_duration_is_masked() -> None:
    """A URL with a password where a duration belongs is shown without the password."""
    with pytest.raises(ValueError, match=re.escape('"http://u:***@h/" is not a duration')):
        parse_duration("http://u:hunter2@h/")


# -- writing, for people ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (-3, "0 s"),
        (42.4, "42 s"),
        (59.5, "1 min 0 s"),
        (182, "3 min 2 s"),
        (5 * 3600 + 12 * 60 + 29, "5 h 12 min"),
        (2 * 86400 + 3 * 3600, "2 d 3 h"),
    ],
)
def test_human_duration(seconds: float, shown: str) -> None:
    """Whole seconds, halves rounded up, then the two largest units with their words."""
    assert human_duration(seconds) == shown


@pytest.mark.parametrize(
    ("ms", "shown"), [(0.0, "0.0 ms"), (12.34, "12.3 ms"), (999.9, "999.9 ms"), (1250.0, "1.25 s")]
)
def test_human_ms(ms: float, shown: str) -> None:
    """A phase's time: one decimal in milliseconds, two in seconds from one second."""
    assert human_ms(ms) == shown


# -- what the grammar refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1s1s", "write each unit once, the largest first, as in 1h30m"),
        ("30m1h", "write each unit once, the largest first"),
        ("1ms1s", "write each unit once, the largest first"),
        ("３０s", "write its number with the digits 0-9"),
        ("١٢s", "write its number with the digits 0-9"),
        ("36501d", "is too long: the longest duration is 36500d"),
        ("9" * 400 + "s", "is too long: the longest duration is 36500d"),
    ],
)
def test_nonsense_durations_are_refused_with_the_fix(text: str, message: str) -> None:
    """A repeated or out-of-order unit, digits of another script, and a duration longer
    than a hundred years (400 nines read as infinity) are refused, by both readers."""
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(text)
    assert duration_ms(text) is None


def test_the_longest_duration_is_read() -> None:
    """36500d is the bound itself, and read."""
    assert parse_duration("36500d") == 36500 * 86400
