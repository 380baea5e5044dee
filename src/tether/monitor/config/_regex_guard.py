"""Whether a regular expression someone typed can be run over labels without freezing the
process.

Alertmanager's matchers are RE2's, which runs in linear time; Python's ``re`` backtracks,
and holds the interpreter lock while it does, so one expression such as ``(a*)*b``
matched against a label value of forty ``a`` takes hours, and every thread of the monitor
(its checks, its pages) waits for it.  A matcher from a configuration is the operator's
own; one typed into a page or an API body is anyone's with read access, so those are
read through :func:`backtracking_problem` first, which refuses the shapes that backtrack
without bound: a repetition inside a repetition (``(a+)+``, ``(a*)*``), an alternation
inside a repetition (``(a|a)*``), a back-reference (``\\1``, which RE2 has not either),
and more than :data:`REPEATS_MAX` unbounded repetitions in all (``.*a.*b.*c.*d``: each
one multiplies the work by the value's length).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Final

__all__ = ["BOUND", "REPEATS_MAX", "backtracking_problem"]

REPEATS_MAX: Final = 3
"""Unbounded repetitions (``*``, ``+``, ``{n,}``, or ``{n,m}`` past :data:`BOUND`) one
expression may hold."""
BOUND: Final = 16
"""A repetition of more than this many is counted as unbounded."""

# The parser ``re`` itself uses (``sre_parse`` warns that it is deprecated).
_PARSER: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")
_REPEATS: Final = frozenset({_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT})
_BACKREFS: Final = frozenset({_C.GROUPREF, _C.GROUPREF_EXISTS})


def backtracking_problem(pattern: str) -> str | None:
    """Why ``pattern`` could backtrack without bound, or None (also None for what is not
    a regular expression: compiling it says why)."""
    try:
        parsed = _PARSER.parse(pattern, re.DOTALL)
    except re.error:
        return None
    found = _walk(list(parsed), inside=False)
    if isinstance(found, str):
        return f"{pattern!r}: {found}; write it without (as RE2 would run it in linear time)"
    if found > REPEATS_MAX:
        return (
            f"{pattern!r} repeats without bound {found} times: at most {REPEATS_MAX} "
            "(each one multiplies the work by the value's length)"
        )
    return None


def _walk(items: list[tuple[Any, Any]], *, inside: bool) -> int | str:
    """How many unbounded repetitions ``items`` hold, or what is wrong with them
    (``inside``: they are repeated themselves)."""
    count = 0
    for op, arg in items:
        children: list[list[tuple[Any, Any]]] = []
        nested = inside
        if op in _BACKREFS:
            return "a back-reference"
        if op in _REPEATS:
            _, high, body = arg
            if high > 1:
                if inside:
                    return "a repetition inside a repetition"
                nested = True
                count += high > BOUND
            children = [list(body)]
        elif op == _C.BRANCH:
            if inside:
                return "an alternation inside a repetition"
            children = [list(b) for b in arg[1]]
        elif op == _C.SUBPATTERN:
            children = [list(arg[-1])]
        elif op in (_C.ASSERT, _C.ASSERT_NOT):
            children = [list(arg[1])]
        elif op == _C.ATOMIC_GROUP:
            children = [list(arg)]
        for child in children:
            found = _walk(child, inside=nested)
            if isinstance(found, str):
                return found
            count += found
    return count
