"""Weekly schedules, written as cron's ``MINUTE HOUR * * DAYS``: when a maintenance window
starts.

A field is ``*``, a number, a range (``1-5``, ``mon-fri``), a step (``*/15``, ``0-30/10``)
or a list of them (``0,30``); days are ``0``-``7`` (0 and 7 are Sunday, as in cron) or
``sun``-``sat``.  Day of month and month must be ``*``: a window repeats weekly.

Pure: :func:`parse_cron` reads the text, :meth:`Cron.last_start` finds the start at or
before a local time it is given; neither reads a clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Final

from tether._redact import quote

__all__ = ["Cron", "parse_cron"]

_DAY_NAMES: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclasses.dataclass(frozen=True, slots=True)
class Cron:
    """The minutes, hours and days of the week a weekly schedule starts on."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    """0 = Sunday, as cron counts."""

    def last_start(self, local: dt.datetime, within: float) -> dt.datetime | None:
        """The latest start at or before ``local`` (in the schedule's zone), looking back
        ``within`` seconds at most (and a day more, for a start late the day before)."""
        horizon = int(within // 86400) + 2
        for back in range(horizon):
            day = local.date() - dt.timedelta(days=back)
            if (day.isoweekday() % 7) not in self.days:
                continue
            for hour in reversed(self.hours):
                for minute in reversed(self.minutes):
                    start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=local.tzinfo)
                    if start <= local:
                        return start
        return None


@functools.lru_cache(maxsize=256)
def parse_cron(text: str) -> Cron:
    """The weekly schedule ``text`` (``0 2 * * sun``); :class:`ValueError` says what is
    wrong, starting with the text as written."""
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"{quote(text)} is not a weekly schedule: write MINUTE HOUR * * DAYS, as in 0 2 * * sun"
        )
    minute, hour, day_of_month, month, weekday = fields
    if day_of_month != "*" or month != "*":
        raise ValueError(
            f"{quote(text)}: a maintenance schedule repeats weekly, so day of month and "
            "month must be *"
        )
    days = {d % 7 for d in _field(text, weekday, "day of week", 0, 7, names=_DAY_NAMES)}
    return Cron(
        minutes=tuple(sorted(_field(text, minute, "minute", 0, 59))),
        hours=tuple(sorted(_field(text, hour, "hour", 0, 23))),
        days=frozenset(days),
    )


def _field(
    text: str, spec: str, what: str, low: int, high: int, names: tuple[str, ...] = ()
) -> set[int]:
    def number(word: str) -> int:
        if word.lower()[:3] in names and word.isalpha():
            return names.index(word.lower()[:3])
        if not (word.isascii() and word.isdigit()) or not low <= int(word) <= high:
            raise ValueError(f"{quote(text)}: {what} {quote(word)} is not from {low} to {high}")
        return int(word)

    values: set[int] = set()
    for item in spec.split(","):
        span, _, step_text = item.partition("/")
        step = number(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"{quote(text)}: the step in {quote(item)} must be at least 1")
        if span == "*":
            first, last = low, high
        else:
            first_text, dash, last_text = span.partition("-")
            first = number(first_text)
            last = number(last_text) if dash else (high if step_text else first)
            if last < first:
                raise ValueError(f"{quote(text)}: the range {quote(span)} runs backwards")
        values.update(range(first, last + 1, step))
    return values
