"""Friendlier early words about a regular expression someone wrote for a label matcher.

The matchers run on RE2 (``labels/_regex.py``), which cannot backtrack, so nothing here
is what keeps the monitor safe: these are the messages a person can act on, said before
the engine's own terse ones.

* :func:`re2_problem`: what Python's ``re`` has and RE2 (Alertmanager's engine) has not,
  a back-reference, a lookahead or lookbehind, an atomic group, a possessive repetition,
  ``\\Z``; refused on either engine, so an expression means the same wherever it runs.
* :func:`backtracking_problem`: the shapes that make a backtracking engine take time
  without bound: a repetition inside a repetition (``(a+)+``), an alternation inside a
  repetition (``(a|a)*``), and more than :data:`REPEATS_MAX` repetitions of varying
  length in all (``.*a.*b.*c.*d``, or ``\\w{0,16}`` eleven times: each one multiplies the
  work by the value's length).  Only where a backtracking engine runs what someone typed:
  label matchers on the fallback (``regex``, when google-re2 cannot be had) and the
  expressions a multi-step check extracts values with (``config/_steps.py``).
"""

from __future__ import annotations

import importlib
import re
import warnings
from typing import Any, Final

__all__ = ["REPEATS_MAX", "backtracking_problem", "re2_problem"]

REPEATS_MAX: Final = 3
"""Repetitions of varying length (``*``, ``+``, ``{n,m}``; not ``?``) one expression may
hold on a backtracking engine."""

# The parser ``re`` itself uses (``sre_parse`` warns that it is deprecated).
_PARSER: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")
_REPEATS: Final = frozenset({_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT})
_BACKREFS: Final = frozenset({_C.GROUPREF, _C.GROUPREF_EXISTS})
_LACKS: Final = {
    _C.GROUPREF: "a back-reference",
    _C.GROUPREF_EXISTS: "a conditional group",
    _C.ASSERT: "a lookahead or lookbehind",
    _C.ASSERT_NOT: "a lookahead or lookbehind",
    _C.ATOMIC_GROUP: "an atomic group",
    _C.POSSESSIVE_REPEAT: "a possessive repetition",
}


def _parsed(pattern: str) -> list[tuple[Any, Any]] | None:
    """``pattern`` as ``re`` parses it, or None where ``re`` cannot (RE2 may: ``\\pL``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible nested set": [[:alpha:]] is RE2's
        try:
            return list(_PARSER.parse(pattern, re.DOTALL))
        except (re.error, OverflowError, RecursionError, Warning):
            return None


def re2_problem(pattern: str) -> str | None:
    """What ``pattern`` uses that RE2 has not, said so a person can rewrite it (the caller
    names the expression), or None (None too for what RE2 alone can say: its own error
    does)."""
    items = _parsed(pattern)
    found = None if items is None else _lacking(items)
    if found is None:
        return None
    return f"{found}, which RE2 (Alertmanager's engine, and tether's) has not: write it without"


def _lacking(items: list[tuple[Any, Any]]) -> str | None:
    for op, arg in items:
        if op in _LACKS:
            return str(_LACKS[op])
        if op == _C.AT and arg == _C.AT_END_STRING:
            return "\\Z, the end of the text (a matcher is anchored at both ends already)"
        for child in _children(op, arg):
            found = _lacking(child)
            if found is not None:
                return found
    return None


def _children(op: Any, arg: Any) -> list[list[tuple[Any, Any]]]:
    if op in _REPEATS:
        return [list(arg[2])]
    if op == _C.BRANCH:
        return [list(b) for b in arg[1]]
    if op == _C.SUBPATTERN:
        return [list(arg[-1])]
    if op in (_C.ASSERT, _C.ASSERT_NOT):
        return [list(arg[1])]
    if op == _C.ATOMIC_GROUP:
        return [list(arg)]
    if op == _C.GROUPREF_EXISTS:
        return [list(b) for b in arg[1:] if b is not None]
    return []


def backtracking_problem(pattern: str) -> str | None:
    """Why ``pattern`` could backtrack without bound, or None (also None for what is not
    a regular expression: compiling it says why)."""
    items = _parsed(pattern)
    if items is None:
        return None
    found = _walk(items, inside=False)
    if isinstance(found, str):
        return f"{pattern!r}: {found}; write it without (as RE2 would run it in linear time)"
    if found > REPEATS_MAX:
        return (
            f"{pattern!r} repeats {found} times with a varying length: at most "
            f"{REPEATS_MAX} (each one multiplies the work by the value's length)"
        )
    return None


def _walk(items: list[tuple[Any, Any]], *, inside: bool) -> int | str:
    """How many repetitions of varying length ``items`` hold, or what is wrong with them
    (``inside``: they are repeated themselves)."""
    count = 0
    for op, arg in items:
        nested = inside
        if op in _BACKREFS:
            return "a back-reference"
        if op in _REPEATS:
            low, high, _ = arg
            if high > 1:
                if inside:
                    return "a repetition inside a repetition"
                nested = True
                count += low != high
        elif op == _C.BRANCH and inside:
            return "an alternation inside a repetition"
        for child in _children(op, arg):
            found = _walk(child, inside=nested)
            if isinstance(found, str):
                return found
            count += found
    return count
