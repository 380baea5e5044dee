"""``pat()`` and ``re()``: the two patterns a condition may compare a value with.

``[BODY] == pat(*ok*)`` matches a glob: ``*`` any run of characters, ``?`` any one,
nothing else special (no ``[...]`` classes, no escapes, case counts).  ``pat()`` is a glob
and not a regular expression, as in gatus: a glob cannot blow up.  The glob matcher
(:func:`_glob_match`) never backtracks over a ``*``: it finds each piece between stars at
its leftmost place, so it takes at most ``len(value) x len(pattern)`` character steps,
usually one ``str.find`` per piece.

For what a glob cannot say, ``[BODY] == re("^ok( [0-9]+)?$")`` searches a regular expression
(the ``regex`` package's syntax, which is ``re``'s; unanchored, so ``^`` and ``$`` ask for
the whole value).  A separate function, not a ``pat()`` spelling, so no glob can be read as
one.  It is compiled when the configuration loads (a bad one is a config error naming the
condition) and each search is bounded in time: the ``regex`` package checks its
``timeout=`` while it backtracks, so ``(a|aa)+$`` on a long run of a's stops after
:data:`REGEX_TIMEOUT_S` and the condition fails saying so, instead of stalling the monitor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

MAX_PATTERN: Final = 256
"""Characters in a ``pat()``: the matcher's worst case is the value's length times this."""


@dataclass(frozen=True, slots=True)
class Glob:
    """A ``pat()``: ``*`` any run of characters, ``?`` any one character."""

    pattern: str
    pieces: tuple[_Piece, ...] = ()
    """The pattern split at each ``*``; a piece with ``?`` compiled (see :func:`_piece`)."""

    def __post_init__(self) -> None:
        pieces = tuple((_piece(p), len(p)) for p in self.pattern.split("*"))
        object.__setattr__(self, "pieces", pieces)

    def matches(self, text: str) -> bool:
        return _glob_match(self.pieces, text)


def glob_matcher(pattern: str) -> Callable[[str], bool]:
    """Whether a text is all of ``pattern`` (``*`` any run, ``?`` any one character),
    as ``pat()`` matches: a traffic monitor's ``endpoint`` uses it too."""
    return Glob(pattern).matches


def _piece(piece: str) -> str | re.Pattern[str]:
    """A piece without ``*``: as is, or with ``?`` as a regular expression's ``.``.

    The expression has no quantifier, group or alternation, so ``re`` cannot backtrack
    into a blow-up: a search tries each start once, at most ``len(piece)`` steps each, in C.
    """
    if "?" not in piece:
        return piece
    return re.compile(".".join(re.escape(run) for run in piece.split("?")), re.DOTALL)


_Piece = tuple[str | re.Pattern[str], int]
"""A piece of a glob between stars, and how many characters it matches."""


def _glob_match(pieces: tuple[_Piece, ...], text: str) -> bool:
    """Whether ``text`` is all of the pattern; no backtracking over a ``*``.

    The pieces between stars are found each at its leftmost place after the one before:
    if a piece fits anywhere further on, it fits there too, so the leftmost place never
    loses a match.  The first piece must fit at the start and the last at the end, so the
    work is at most ``len(text) x len(pattern)`` steps, usually one ``str.find`` a piece.
    """
    if len(pieces) == 1:
        return _fits(pieces[0][0], text, 0, len(text))
    (first, at), *middle, (last, last_size) = pieces
    stop = len(text) - last_size
    if at > stop or not _fits(first, text, 0, at) or not _fits(last, text, stop, len(text)):
        return False
    for piece, size in middle:
        if isinstance(piece, str):
            found = text.find(piece, at, stop)
        else:
            hit = piece.search(text, at, stop)
            found = hit.start() if hit else -1
        if found < 0:
            return False
        at = found + size
    return True


def _fits(piece: str | re.Pattern[str], text: str, start: int, stop: int) -> bool:
    """``piece`` is exactly ``text[start:stop]``."""
    if isinstance(piece, str):
        return stop - start == len(piece) and text.startswith(piece, start)
    return piece.fullmatch(text, start, stop) is not None


REGEX_TIMEOUT_S: float = 0.05
"""How long one ``re()`` may search one value (seconds); past it the condition fails.
A module setting, so a test can make it small rather than wait."""


class PatternTimeout(Exception):
    """A ``re()`` search ran past :data:`REGEX_TIMEOUT_S`."""


@dataclass(frozen=True, slots=True)
class Regex:
    """A ``re()``: a regular expression searched with a time bound (the ``regex`` package)."""

    pattern: str
    compiled: Any = None

    def __post_init__(self) -> None:
        import regex  # the monitor extra's; only conditions that use re() need it

        try:
            compiled = regex.compile(self.pattern)
        except (regex.error, OverflowError, RecursionError) as exc:
            raise ValueError(str(exc)) from None
        object.__setattr__(self, "compiled", compiled)

    def matches(self, text: str) -> bool:
        try:
            return self.compiled.search(text, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            raise PatternTimeout(self.pattern) from None
