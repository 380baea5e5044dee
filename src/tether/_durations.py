"""Durations, read and written in one place.

One grammar, for the configuration and the conditions alike, so a user learns it once:
a number and a unit (``500ms``, ``30s``, ``5m``, ``1h``, ``14d``) or a sum of them
(``1h30m``).  A bare number is never a duration: ``5`` could be seconds or minutes.

Read by :func:`parse_duration` (seconds; a mistake raises with the fix) and
:func:`duration_ms` (milliseconds, or ``None``: the conditions phrase their own errors).
Written three ways, for three readers:

- :func:`format_duration`: seconds written back exactly as the grammar reads them
  (``1m30s``, ``1s250ms``), for the configuration's messages and pages;
- :func:`format_ms`: a measured time, rounded and still in the grammar (``12.3ms``,
  ``1.25s``, ``4m10s``), for a condition's resolved value, which can be pasted back;
- :func:`human_duration` and :func:`human_ms`: for people, in logs, alerts, pages and
  reports (``3 min 2 s``, ``12.3 ms``).
"""

from __future__ import annotations

import math
import re
from typing import Final

from tether._redact import quote

__all__ = [
    "DURATION",
    "MAX_SECONDS",
    "UNIT_SECONDS",
    "duration_ms",
    "format_duration",
    "format_ms",
    "human_duration",
    "human_ms",
    "parse_duration",
]

UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
"""Each unit of the grammar, in seconds."""
_UNIT_MS: Final = {unit: seconds * 1000 for unit, seconds in UNIT_SECONDS.items()}
# Largest first, in whole milliseconds, for writing a duration back.
_WRITTEN_MS: Final = tuple(
    (unit, round(ms)) for unit, ms in sorted(_UNIT_MS.items(), key=lambda u: -u[1])
)

_N: Final = r"[0-9]+(?:\.[0-9]+)?"
DURATION: Final = re.compile(
    rf"(?=[0-9])(?:{_N}d)?(?:{_N}h)?(?:{_N}m(?!s))?(?:{_N}s)?(?:{_N}ms)?", re.ASCII
)
"""The grammar: one or more of a number and a unit, nothing between them, each unit once
and the largest first (``1h30m``, not ``30m1h`` or ``1s1s``); the digits are 0-9 (Python's
``\\d`` and ``int()`` would also read ``١٢`` and ``３０``)."""
MAX_SECONDS: Final = 36500 * 86400.0
"""The longest duration read: 36500d, a hundred years.  Anything longer is a mistake, and
an unbounded one overflows the clocks and timers it is handed to."""
_PART: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)", re.ASCII)
_NUMBER: Final = re.compile(r"\s*[0-9]+(?:\.[0-9]+)?\s*")
_NUMBER_AND_WORD: Final = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*")
# Every part in the grammar's alphabet, only not in its order: 1s1s, 30m1h.
_PARTS: Final = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+", re.ASCII)
# What people write instead of the five units, mapped to the unit they meant.
_UNIT_ALIASES: Final = {
    **dict.fromkeys(("msec", "msecs", "millis", "millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("sec", "secs", "second", "seconds", "S"), "s"),
    **dict.fromkeys(("min", "mins", "minute", "minutes", "M"), "m"),
    **dict.fromkeys(("hr", "hrs", "hour", "hours", "H"), "h"),
    **dict.fromkeys(("day", "days", "D"), "d"),
}


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``500ms``, ``30s``, ``5m``, ``1h``, ``14d`` or a sum (``1h30m``).

    A bare number is refused: ``5`` could mean seconds or minutes, so the text must say.
    Raises :class:`ValueError` with the fix, as in ``"5" is not a duration, write 5s``.
    """
    shown = quote(text)
    if DURATION.fullmatch(text):
        seconds = _sum(text, UNIT_SECONDS)
        if seconds > MAX_SECONDS:  # inf too: float() reads 400 nines as infinity
            raise ValueError(f"{shown} is too long: the longest duration is 36500d")
        return seconds
    if _PARTS.fullmatch(text):
        raise ValueError(
            f"{shown} is not a duration: write each unit once, the largest first, as in 1h30m"
        )
    if any(c.isdigit() and not c.isascii() for c in text):
        raise ValueError(f"{shown} is not a duration: write its number with the digits 0-9")
    if _NUMBER.fullmatch(text):
        raise ValueError(f"{shown} is not a duration, write {text.strip()}s")
    written = _NUMBER_AND_WORD.fullmatch(text)
    if written:
        number_text, word = written.groups()
        unit = _UNIT_ALIASES.get(word) or _UNIT_ALIASES.get(word.lower()) or word.lower()
        if unit in UNIT_SECONDS:
            raise ValueError(f"{shown} is not a duration, write {number_text}{unit}")
        if word.lower() in ("w", "wk", "week", "weeks"):
            days = float(number_text) * 7
            raise ValueError(f"{shown} is not a duration, write {days:g}d")
    raise ValueError(
        f"{shown} is not a duration: write a number and a unit, as in 500ms, 30s, 5m, 1h or 14d"
    )


def duration_ms(text: str) -> float | None:
    """``500ms``, ``2s``, ``1.5m``, ``1h30m``, ``14d`` in milliseconds; None if not one
    (or longer than 36500d)."""
    if not DURATION.fullmatch(text):
        return None
    ms = _sum(text, _UNIT_MS)
    return ms if ms <= MAX_SECONDS * 1000 else None


def _sum(text: str, units: dict[str, float]) -> float:
    return sum(float(n) * units[unit] for n, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """``seconds`` written back as :func:`parse_duration` reads it: ``1m30s``, ``500ms``."""
    millis = round(seconds * 1000)
    if millis <= 0:
        return "0s"
    parts = []
    for unit, size in _WRITTEN_MS:
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_ms(ms: float) -> str:
    """``734ms``, ``12.3ms``, ``1.25s``, ``4m10s``, ``3h5m``, ``29d4h``: a measured time,
    short, and in the grammar, so a condition's resolved value can be pasted back."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    if round(ms, 1) < 1000:
        return f"{sign}{round(ms, 1):g}ms"
    if round(ms / 1000, 2) < 60:
        return f"{sign}{round(ms / 1000, 2):g}s"
    seconds = round(ms / 1000)  # at least 60 here
    # The two largest units that fit: 29d4h, 3h5m, 4m10s.
    units = [(unit, round(UNIT_SECONDS[unit])) for unit in ("d", "h", "m", "s")]
    i = next(i for i, (_, size) in enumerate(units) if seconds >= size)
    (big_unit, big), (small_unit, small) = units[i], units[i + 1]
    whole, rest = divmod(seconds, big)
    part = rest // small
    return f"{sign}{whole}{big_unit}" + (f"{part}{small_unit}" if part else "")


def human_duration(seconds: float) -> str:
    """``42 s``, ``3 min 2 s``, ``5 h 12 min``, ``2 d 3 h``: for people, in logs, alerts and
    pages (halves round up, so the same moment reads the same everywhere)."""
    seconds = max(0, math.floor(seconds + 0.5))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def human_ms(ms: float) -> str:
    """``12.3 ms``, ``1.25 s``: one phase's time for people, as ``tether diagnose`` prints
    it (fixed decimals, so a column of them lines up)."""
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"
