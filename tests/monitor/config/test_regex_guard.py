"""The guard's friendlier words over regular expressions (``config/_regex_guard.py``): what
RE2 has not is named; on a backtracking engine the shapes that backtrack without bound are
refused, saying why; what label matchers are written with passes."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.config._regex_guard import REPEATS_MAX, backtracking_problem, re2_problem


@pytest.mark.parametrize(
    "pattern",
    ["pay.*|web", "(pay|web).*", "[a-z]+-[0-9]+-.*", "x{2,5}", "(ab){3}", "(?=a.*)b", "", "("],
)
def test_what_labels_are_matched_with_passes(pattern: str) -> None:
    """The expressions label matchers are written with pass the backtracking guard."""
    assert backtracking_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        ("(a)\\1", "a back-reference"),
        ("(?P<x>a)(?P=x)", "a back-reference"),
        ("a(?=b)", "a lookahead or lookbehind"),
        ("(?<!a)b", "a lookahead or lookbehind"),
        ("x|(?!y)z", "a lookahead or lookbehind"),
        ("(?>ab)c", "an atomic group"),
        ("a*+", "a possessive repetition"),
        ("(ab\\Z)", "\\Z"),
    ],
)
def test_what_re2_has_not_is_named(pattern: str, what: str) -> None:
    """What Python's re has and RE2 has not is said by name, so it can be rewritten."""
    problem = re2_problem(pattern)
    assert problem is not None
    assert what in problem
    assert "RE2" in problem


@pytest.mark.parametrize(
    "pattern", ["pay.*|web", "(?i)prod", "[[:alpha:]]+", "\\pL+", "\\z", "(", "(a+)+", ""]
)
def test_what_re2_has_passes_its_guard(pattern: str) -> None:
    """RE2's own syntax, and what neither parser reads (its error says why), is not named."""
    assert re2_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(a*)*b", "a repetition inside a repetition"),
        ("(a+)+", "a repetition inside a repetition"),
        ("(?>a*)*", "a repetition inside a repetition"),
        ("(x{1,3}){2,}", "a repetition inside a repetition"),
        ("(a|a)*", "an alternation inside a repetition"),
        ("(a)\\1", "a back-reference"),
        (".*a.*b.*c.*d", f"repeats 4 times with a varying length: at most {REPEATS_MAX}"),
        (".{0,900}a.{0,900}b.{0,900}c.{0,900}", "repeats 4 times"),
        ("\\w{0,16}" * 11 + "x", "repeats 11 times"),
    ],
)
def test_what_backtracks_without_bound_is_refused(pattern: str, why: str) -> None:
    """Each shape that multiplies a backtracking engine's work is refused, saying which
    (issue 45: eleven ``\\w{0,16}`` held the monitor, each bound being under 16)."""
    problem = backtracking_problem(pattern)
    assert problem is not None
    assert why in problem


@given(
    st.lists(
        st.sampled_from(["a", "b", ".", "*", "+", "?", "(", ")", "|", "[ab]", "{2,}"]),
        max_size=10,
    ),
    st.integers(1, 60),
)
def test_what_passes_matches_a_long_value_quickly(parts: list[str], n: int) -> None:
    """Any expression the guard lets through (hypothesis over random ones) matches a
    value of ``n`` times ``a`` in well under a second, where one it refuses can take
    2**60 steps (``(a*)*b``): a bound on the work, not a timing to the millisecond."""
    pattern = "".join(parts)
    try:
        compiled = re.compile(f"(?:{pattern})\\Z", re.DOTALL)
    except re.error:
        return
    if backtracking_problem(pattern) is not None:
        return
    start = time.perf_counter()
    compiled.match("a" * n + "!")
    assert time.perf_counter() - start < 0.5
