"""The regular expressions of label matchers, run by an engine that cannot backtrack.

Alertmanager's matchers are Go's ``regexp``, which is RE2: the syntax tether takes for
``=~`` and ``!~`` is RE2's, and so is the engine where it can be had (google-re2, the
``monitor`` extra's on the platforms that have its wheels).  RE2 compiles an expression
into a program of instructions and runs it over the value without backtracking: its
work is at most the program's size times the value's length in bytes, whatever either
holds.  So the bound on one decision is written down here rather than hoped for:

* an expression is at most :data:`PATTERN_MAX` characters, compiles to at most
  :data:`PROGRAM_MAX` RE2 instructions, and its engine holds at most :data:`MEMORY_MAX`
  bytes (RE2's ``max_mem``: past it RE2 leaves its DFA for its NFA, slower but still
  linear), or :data:`SCAN_MEMORY_MAX` for one run over every monitor for one request
  (``?match=``), where the DFA's states, kept between monitors, make the scan fast;
* a label's value is at most 1,024 characters (``config/labels/_labels.py``'s ``VALUE_MAX``),
  so at most 4,096 bytes;
* one decision is therefore at most ``PROGRAM_MAX * 4096`` steps of RE2's NFA: about
  5 ms on this project's machine for the largest program over the longest value
  (``benchmarks/bench_matchers.py``), and RE2 lets go of the interpreter lock while it
  runs, so the monitor's other threads go on.

Where google-re2 cannot be installed (no wheel for the platform), the ``regex`` package
is the fallback: the same expressions (what RE2 does not have is refused on both, by
``_regex_guard.re2_problem``), searched with a time bound, :data:`TIMEOUT_S`; a search
that runs past it decides "does not match" (whatever the operator: a silence that
cannot decide keeps nothing, a route that cannot decide takes nothing) and is logged
once per expression.  An expression typed by a reader or a writer of the API is also
read by ``_regex_guard.backtracking_problem`` on the fallback, so the shapes that
backtrack are refused before they can spend the time bound at every label.

Anchored at both ends, as Alertmanager anchors them (``^(?:...)$``); ``.`` matches any
character, a newline too (as Prometheus's own matchers, ``(?s:...)``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from tether.monitor.config._regex_guard import backtracking_problem, re2_problem

__all__ = [
    "ENGINE",
    "MEMORY_MAX",
    "PATTERN_MAX",
    "PROGRAM_MAX",
    "SCAN_MEMORY_MAX",
    "TIMEOUT_S",
    "Engine",
    "LabelRegex",
    "compile_label_regex",
    "untrusted_problem",
]

Engine = Literal["re2", "regex"]

PATTERN_MAX: Final = 1024
"""Characters one matcher's regular expression may have."""
PROGRAM_MAX: Final = 2000
"""RE2 instructions one matcher's regular expression may compile to: ``prod|staging|dev``
is 16, ``[a-z0-9-]{1,63}`` 255, ``\\pL+`` 1,201, ``.{0,140}`` 1,124 (``.`` is several, one
for each length of a character in UTF-8)."""
MEMORY_MAX: Final = 64 * 1024
"""RE2's ``max_mem`` for one expression kept by the process (bytes): its program and its
DFA's cache.  Small, since a thousand silences of sixteen matchers each may be in force;
most expressions never need more than a few KiB of it."""
SCAN_MEMORY_MAX: Final = 1024 * 1024
"""RE2's ``max_mem`` for an expression compiled for one request and run over every
monitor (``?match=``): with 64 KiB the DFA of a costly expression is thrown away again and
again and 10,000 monitors take seconds; with this, tens of milliseconds."""
TIMEOUT_S: Final = 0.05
"""The fallback's time bound on one decision (seconds)."""

_log = logging.getLogger("tether.monitor")


def _re2() -> Any:
    """google-re2's module where the monitor extra installed it (its wheels' platforms),
    else None: the fallback runs."""
    try:
        import re2
    except ImportError:
        return None
    return re2


_RE2: Final[Any] = _re2()
ENGINE: Final[Engine] = "re2" if _RE2 is not None else "regex"
"""The engine this process runs matchers on: ``re2`` where google-re2 is installed."""


@dataclass(frozen=True, slots=True, eq=False)
class LabelRegex:
    """One matcher's expression, compiled: :meth:`fullmatch` decides a value."""

    pattern: str
    engine: Engine
    cost: int
    """RE2's instructions (0 on the fallback, which cannot say)."""
    _decide: Callable[[str], bool | None] = field(repr=False)

    def fullmatch(self, text: str) -> bool | None:
        """Whether the expression matches all of ``text``; None when the fallback's time
        bound ran out first (logged once per expression)."""
        return self._decide(text)


def untrusted_problem(pattern: str) -> str | None:
    """Why an expression typed into the API is refused beyond what compiling says: on
    RE2 nothing (it cannot backtrack); on the fallback, a shape that backtracks without
    bound (``(a+)+``), which would spend the time bound at every label it is tried on."""
    return None if ENGINE == "re2" else backtracking_problem(pattern)


def compile_label_regex(
    pattern: str, engine: Engine | None = None, *, memory: int = MEMORY_MAX
) -> LabelRegex:
    """``pattern`` compiled for :data:`ENGINE` (or ``engine``), with ``memory`` bytes for
    RE2; raises :class:`ValueError` saying what is wrong with it in one line (the caller
    names the expression)."""
    if len(pattern) > PATTERN_MAX:
        raise ValueError(f"{len(pattern)} characters long: at most {PATTERN_MAX}")
    problem = re2_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    if (engine or ENGINE) == "re2":
        return _compile_re2(pattern, memory)
    return _compile_regex(pattern)


def _compile_re2(pattern: str, memory: int) -> LabelRegex:
    if _RE2 is None:
        raise ValueError("google-re2 is not installed")
    options = _RE2.Options()
    options.max_mem = memory
    options.log_errors = False
    options.dot_nl = True
    options.never_capture = True
    try:
        compiled = _RE2.compile(pattern.encode("utf-8"), options)
    except UnicodeEncodeError:
        raise ValueError("not text: it holds a lone surrogate") from None
    except _RE2.error as exc:
        why = exc.args[0].decode("utf-8", "replace") if exc.args else "invalid"
        if "too large" in why:
            why = f"too large: its program passes RE2's {memory // 1024} KiB for one matcher"
        raise ValueError(f"not a regular expression RE2 can run: {why}") from None
    if compiled.programsize > PROGRAM_MAX:
        raise ValueError(
            f"compiles to {compiled.programsize} RE2 instructions: at most {PROGRAM_MAX} "
            "(a repetition such as .{0,500} costs its body once for each time)"
        )
    full = compiled.fullmatch

    def decide(text: str) -> bool:
        # Bytes in, so a value with a lone surrogate is matched rather than raising.
        return full(text.encode("utf-8", "surrogatepass")) is not None

    return LabelRegex(pattern, "re2", int(compiled.programsize), decide)


_warned: set[str] = set()
_warned_lock = threading.Lock()
_WARNED_MAX: Final = 1000


def _compile_regex(pattern: str) -> LabelRegex:
    import regex  # the monitor extra's, as conditions' re() has it

    try:
        # ASCII: \w, \d, \s and \b as RE2 reads them.
        compiled = regex.compile(pattern, regex.DOTALL | regex.ASCII)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    full = compiled.fullmatch

    def decide(text: str) -> bool | None:
        try:
            return full(text, timeout=TIMEOUT_S) is not None
        except TimeoutError:
            with _warned_lock:
                first = pattern not in _warned and len(_warned) < _WARNED_MAX
                if first:
                    _warned.add(pattern)
            if first:
                _log.warning(
                    "the matcher's regular expression %r ran past %g s on a value of %d "
                    "characters: read as not matching (install google-re2 to run it in "
                    "linear time)",
                    pattern,
                    TIMEOUT_S,
                    len(text),
                    extra={"event": "matcher.timeout"},
                )
            return None

    return LabelRegex(pattern, "regex", 0, decide)
