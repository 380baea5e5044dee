"""Label matchers' regular expressions (``config/labels/_regex.py``): run on RE2 here (the
monitor extra installs google-re2 on this platform), in RE2's syntax, with a bound on the
work of any decision; on the fallback (``regex`` with a time bound, a Python without
google-re2) the same expressions, the backtracking ones typed into the API refused, and a
search past its bound decided as "does not match"."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from tether.monitor.config.labels._labels import VALUE_MAX, Matcher, parse_matchers
from tether.monitor.config.labels._regex import (
    ENGINE,
    PATTERN_MAX,
    PROGRAM_MAX,
    compile_label_regex,
    untrusted_problem,
)
from tether.monitor.web.api._silences import matchers_of
from tether.monitor.web.documents._overview import BadMatch, _matchers

ROOT = Path(__file__).parents[3]
ATTACK = "\\w{0,16}" * 11 + "x"


def test_this_machine_runs_matchers_on_re2() -> None:
    """Where pyproject's marker installs google-re2 (as on this machine), matchers run on
    RE2, not on the fallback."""
    monitor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["monitor"]
    (re2,) = (Requirement(r) for r in monitor if r.startswith("google-re2"))
    assert re2.marker is not None
    assert re2.marker.evaluate()
    assert ENGINE == "re2"


@pytest.mark.parametrize(
    ("platform", "wanted"),
    [
        ({"sys_platform": "linux", "platform_machine": "x86_64"}, True),
        ({"sys_platform": "linux", "platform_machine": "aarch64"}, True),
        ({"sys_platform": "darwin", "platform_machine": "arm64"}, True),
        ({"sys_platform": "win32", "platform_machine": "AMD64"}, True),
        ({"sys_platform": "linux", "platform_machine": "armv7l"}, False),
        ({"sys_platform": "linux", "platform_machine": "i686"}, False),
        ({"sys_platform": "freebsd14", "platform_machine": "amd64"}, False),
        ({"sys_platform": "linux", "platform_python_implementation": "PyPy"}, False),
        ({"sys_platform": "linux", "python_version": "3.15"}, False),
    ],
)
def test_google_re2_is_asked_for_only_where_it_has_wheels(
    platform: dict[str, str], wanted: bool
) -> None:
    """pyproject's marker names google-re2 on the platforms its wheels cover, so a
    platform without one installs the monitor extra without building it."""
    monitor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["monitor"]
    (re2,) = (Requirement(r) for r in monitor if r.startswith("google-re2"))
    env = {
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "python_version": "3.11",
        **platform,
    }
    assert re2.marker is not None
    assert re2.marker.evaluate(env) is wanted


def test_the_issues_expression_is_decided_at_once() -> None:
    """The expression that held ``re`` for hours against 40 characters is decided by RE2
    (no match), and a value it matches is matched."""
    (m,) = parse_matchers('monitor=~"' + ATTACK.replace("\\", "\\\\") + '"')
    assert m.pattern is not None
    assert m.pattern.engine == "re2"
    assert m.pattern.cost <= PROGRAM_MAX
    assert not m.matches({"monitor": "a" * 40})
    assert m.matches({"monitor": "a" * 40 + "x"})
    assert m.matches({"monitor": "x"})


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('tier=~"("', 'tier=~"(": not a regular expression RE2 can run: missing ): ('),
        ('a=~"(x)\\\\1"', "a back-reference, which RE2 (Alertmanager's engine"),
        ('a=~"x(?=y)"', "a lookahead or lookbehind"),
        ('a=~"x(?<=y)"', "a lookahead or lookbehind"),
        ('a=~"(?>x)"', "an atomic group"),
        ('a=~"x*+"', "a possessive repetition"),
        ('a=~"x\\\\Z"', "\\Z, the end of the text"),
        ('a=~"\\\\pL{300}"', "too large: its program passes RE2's 64 KiB"),
        ('a=~"[a-z]{1,1500}"', "invalid repetition size"),
        ('a=~"(?:\\\\w{0,16}){0,35}x"', f"instructions: at most {PROGRAM_MAX}"),
        ('a=~"' + "x" * (PATTERN_MAX + 1) + '"', f"characters long: at most {PATTERN_MAX}"),
    ],
)
def test_what_re2_cannot_run_is_one_clear_error(text: str, said: str) -> None:
    """Each expression RE2 cannot compile, or past the bounds, is one error naming it."""
    with pytest.raises(ValueError, match=r"^a=~|^tier=~") as caught:
        parse_matchers(text)
    assert said in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "value", "wanted"),
    [
        ("pay.*|web", "payments", True),
        ("pay.*|web", "webx", False),
        ("a.c", "a\nc", True),  # . is any character, a newline too
        ("\\w+", "été", False),  # \w is ASCII, as Go's
        ("\\pL+", "été", True),
        ("(?i)PROD", "prod", True),
        ("[[:alpha:]]+", "abc", True),
        ("a\\z", "a", True),
        ("", "", True),
        ("x?", "\udc80", False),  # a lone surrogate is decided, not raised
    ],
)
def test_re2s_syntax_decides_as_alertmanager(pattern: str, value: str, wanted: bool) -> None:
    """RE2's syntax, anchored at both ends; ``.`` matches a newline."""
    assert compile_label_regex(pattern).fullmatch(value) is wanted


# --- the bound on work ------------------------------------------------------------------


def _regexes() -> st.SearchStrategy[str]:
    atoms = st.sampled_from(["a", "b", "x", ".", "\\w", "\\d", "[a-z]", "\\pL", "[^x]", "é"])
    counts = st.integers(0, 40).flatmap(
        lambda low: st.tuples(st.just(low), st.integers(low, low + 40))
    )

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        repeat = st.tuples(inner, st.sampled_from(["*", "+", "?", "{"]), counts).map(
            lambda t: f"(?:{t[0]}){{{t[2][0]},{t[2][1]}}}" if t[1] == "{" else f"(?:{t[0]}){t[1]}"
        )
        joined = st.lists(inner, min_size=2, max_size=4).map("".join)
        either = st.lists(inner, min_size=2, max_size=3).map(lambda xs: f"(?:{'|'.join(xs)})")
        return repeat | joined | either

    return st.recursive(atoms, grow, max_leaves=24)


def _values() -> st.SearchStrategy[str]:
    return st.text(max_size=64) | st.builds(
        lambda c, n, end: c * n + end,
        st.sampled_from(["a", "é", "\U0001f600", "ab", "x"]),
        st.integers(0, VALUE_MAX - 1),
        st.sampled_from(["", "!", "x"]),
    ).map(lambda v: v[:VALUE_MAX])


def _accepted(text: str) -> tuple[Matcher, ...] | None:
    """The matchers ``?match=`` or a silence's body takes from ``text``, or None."""
    for read in (_matchers, lambda t: matchers_of([t])):
        try:
            return read(text)
        except (BadMatch, web.HTTPException):
            continue
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_regexes(), st.lists(_values(), min_size=1, max_size=3))
def test_any_matcher_the_api_takes_decides_any_value_within_the_bound(
    pattern: str, values: list[str]
) -> None:
    """Whatever expression ``?match=`` or a silence takes (hypothesis over nested
    repetitions and alternations), it runs on RE2 within the documented bound: at most
    PATTERN_MAX characters compiled to at most PROGRAM_MAX instructions, so deciding a
    value of at most VALUE_MAX characters (4 bytes each) is at most PROGRAM_MAX * 4 *
    VALUE_MAX steps of RE2's automaton, whatever the shape; and it decides every value."""
    text = 'note=~"' + pattern.replace("\\", "\\\\") + '"'
    accepted = _accepted(text)
    if accepted is None:
        return
    (m,) = accepted
    assert m.pattern is not None
    assert m.pattern.engine == "re2"
    assert len(m.pattern.pattern) <= PATTERN_MAX
    assert m.pattern.cost <= PROGRAM_MAX
    for value in values:
        assert len(value) <= VALUE_MAX
        assert m.pattern.cost * len(value.encode("utf-8", "surrogatepass")) <= (
            PROGRAM_MAX * 4 * VALUE_MAX
        )
        assert m.matches({"note": value}) in (True, False)


# --- the fallback -----------------------------------------------------------------------

_FALLBACK = """
import sys
sys.modules["re2"] = None  # as on a platform without google-re2's wheel
import logging, time
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from tether.monitor.config.labels import _regex as _label_regex
from tether.monitor.config.labels._labels import parse_matchers
from tether.monitor.web.documents._overview import BadMatch, _matchers

assert _label_regex.ENGINE == "regex", _label_regex.ENGINE
(m,) = parse_matchers('monitor=~"pay.*|web"')
assert m.pattern.engine == "regex"
assert m.matches({"monitor": "payments"}) and not m.matches({"monitor": "webx"})
assert parse_matchers('a=~"a.c"')[0].matches({"a": "a\\nc"})
assert not parse_matchers('a=~"\\\\\\\\w+"')[0].matches({"a": "été"})
for bad in ('a=~"x(?=y)"', 'a=~"(x)\\\\\\\\1"'):
    try:
        parse_matchers(bad)
    except ValueError as exc:
        print("refused:", exc)
for typed in ('a=~"(a+)+b"', 'monitor=~"' + "\\\\\\\\w{0,16}" * 11 + 'x"'):
    try:
        _matchers(typed)
    except BadMatch as exc:
        print("typed:", exc.why)
(slow,) = parse_matchers('a=~"(?:a|aa)+b"')
for op in ("=~", "!~"):
    m = type(slow).of("a", op, "(?:a|aa)+b")
    print(op, m.matches({"a": "a" * 60}), m.matches({"a": "a" * 61}))
"""


def test_without_google_re2_the_fallback_decides_within_its_time_bound() -> None:
    """A Python without google-re2 (its import blocked, as on a platform with no wheel)
    runs matchers on ``regex``: the same syntax and refusals, the backtracking shapes
    typed into the API refused (the issue's expression too), and a search past the time
    bound decided as "does not match" whatever the operator, said once in the log."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FALLBACK)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith('refused: a=~"x(?=y)": a lookahead or lookbehind'), lines
    assert "a back-reference" in lines[1]
    assert lines[2].startswith("typed: match: '(a+)+b': a repetition inside a repetition")
    assert "repeats 11 times with a varying length" in lines[3]
    assert lines[4:] == ["=~ False False", "!~ False False"]
    (warning,) = [line for line in done.stderr.splitlines() if "ran past" in line]
    assert "'(?:a|aa)+b' ran past 0.05 s" in warning
    assert "install google-re2" in warning


def test_on_re2_what_the_api_takes_is_not_refused_for_its_shape() -> None:
    """On RE2 a nested repetition cannot backtrack, so the API takes it (as Alertmanager
    does); the guard's refusal is the fallback's alone."""
    assert untrusted_problem("(a+)+b") is None
    (m,) = _matchers('note=~"(a+)+b"')
    assert not m.matches({"note": "a" * 1000})
