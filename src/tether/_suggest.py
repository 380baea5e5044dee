"""Did-you-mean: the one home of the suggestion a message makes when a name is close to one
that exists (an unknown key, alert channel, placeholder, failure kind).

Closeness is :func:`difflib.get_close_matches` at its default cutoff of 0.6, the ratio of
matching characters, so ``opz`` suggests ``ops`` and ``colour`` suggests nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]

_CUTOFF = 0.6


def closest(word: str, choices: Iterable[str], *, ignore_case: bool = False) -> str | None:
    """The choice closest to ``word``, or None when none is close.  With ``ignore_case``,
    a choice equal but for case wins, then the closest to ``word`` upper- or lower-cased
    (for names such as ``STATUS`` or ``len`` that have one case)."""
    known = list(choices)
    if not ignore_case:
        return next(iter(difflib.get_close_matches(word, known, n=1, cutoff=_CUTOFF)), None)
    by_case = {choice.lower(): choice for choice in known}
    if word.lower() in by_case:
        return by_case[word.lower()]
    for variant in (word.upper(), word.lower()):
        match = difflib.get_close_matches(variant, known, n=1, cutoff=_CUTOFF)
        if match:
            return match[0]
    return None


def did_you_mean(
    word: str,
    choices: Iterable[str],
    *,
    sep: str = ", ",
    prefix: str = "",
    suffix: str = "",
    ignore_case: bool = False,
) -> str:
    """``", did you mean ops?"`` to end a message, or ``""`` when nothing is close;
    ``prefix`` and ``suffix`` write the choice as the reader would (``[STATUS]``, ``len()``)."""
    match = closest(word, choices, ignore_case=ignore_case)
    return "" if match is None else f"{sep}did you mean {prefix}{match}{suffix}?"
