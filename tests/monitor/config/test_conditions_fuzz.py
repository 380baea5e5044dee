"""The condition parser on text nobody meant: it returns a Condition or raises
ConditionError, quickly, for any text at all and for valid conditions with characters
inserted, dropped or swapped.  A stray ``]`` once made the tokenizer loop for ever."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.monitor.config._conditions import Condition, ConditionError, parse_condition

VALID = (
    "[STATUS] == 200",
    "[STATUS] in (200, 204)",
    "[RESPONSE_TIME] < 500ms",
    "[CERTIFICATE_EXPIRATION] > 14d",
    '[BODY].status == "ok"',
    "[BODY].items[0].id == 3",
    '[BODY]["with space"] != "x"',
    "len([BODY].items) >= 1",
    "has([BODY].id)",
    "[HEADER].content-type contains json",
    "[PHASE].connect < 1h30m",
    "[DNS_RCODE] == NOERROR",
    "[IP] in (10.0.0.0/8, ::1)",
    "[CONNECTED]",
    "[BODY] not contains 'error'",
    "[STATUS] == any(200, pat(3?4))",
    "[BODY] != pat('*error*')",
)
# What the grammar gives meaning to, and a few characters it does not.
SIGNIFICANT = "[]().,\"'<>=! \\-0123456789msdh٢３\t\n*?"

FUZZ = settings(
    max_examples=400,
    # No per-example deadline: on a busy CI machine one slow example is not a bug.  A hang
    # (the old tokenizer loop) still fails the test at its pytest timeout.
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def outcome(text: str) -> None:
    """A Condition, or a ConditionError placed inside the text; anything else propagates."""
    error: ConditionError | None = None
    try:
        parsed = parse_condition(text)
    except ConditionError as exc:
        error = exc
    if error is None:
        assert isinstance(parsed, Condition)
    else:
        assert 0 <= error.position <= len(text)
        assert str(error)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid condition with a few characters inserted, dropped or replaced."""
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        change = draw(st.sampled_from(("insert", "drop", "replace")))
        char = draw(st.sampled_from(SIGNIFICANT) | st.characters())
        if change == "insert" or at == len(text):
            text = text[:at] + char + text[at:]
        elif change == "drop":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    return text


@pytest.mark.timeout(30)
@FUZZ
@given(st.text() | st.text(alphabet=SIGNIFICANT + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"))
def test_any_text_parses_or_raises_condition_error(text: str) -> None:
    """Arbitrary text: a Condition or a ConditionError with a position, nothing else."""
    outcome(text)


@pytest.mark.timeout(30)
@FUZZ
@given(mutated())
def test_mutated_conditions_parse_or_raise_condition_error(text: str) -> None:
    """Valid conditions, mutated: a Condition or a ConditionError, nothing else."""
    outcome(text)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        "[STATUS] == 200]",
        "]",
        "[STATUS]] == 200",
        "[BODY].a] == 1",
        "len([BODY]]) > 1",
    ],
)
def test_a_stray_closing_bracket_is_refused_where_it_stands(text: str) -> None:
    """A ']' that closes nothing is a ConditionError at its own column (it used to make
    the tokenizer spin for ever, allocating)."""
    with pytest.raises(ConditionError, match=r"'\]' at column \d+ closes nothing") as caught:
        parse_condition(text)
    assert text[caught.value.position] == "]"


@pytest.mark.parametrize(
    "text",
    ["[STATUS] == ٢٠٠", "[STATUS] == ３００", "[BODY].items[١] == 1", "[RESPONSE_TIME] < ５s"],
)
def test_digits_are_ascii_digits(text: str) -> None:
    """A number, an index or a duration is written with 0-9; other scripts' digits,
    which Python's int() would read, are refused."""
    with pytest.raises(ConditionError):
        parse_condition(text)


def test_a_number_too_long_for_int_is_a_condition_error() -> None:
    """5,000 digits: a ConditionError, not int()'s own ValueError about digit limits."""
    with pytest.raises(ConditionError, match="is not one"):
        parse_condition("[STATUS] == " + "9" * 5000)
    with pytest.raises(ConditionError, match="expected an index"):
        parse_condition("[BODY].items[" + "9" * 5000 + "] == 1")
