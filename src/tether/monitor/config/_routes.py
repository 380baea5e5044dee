"""``routes:`` and ``time_intervals:``: Alertmanager's route tree and its named time
intervals, as a configuration writes them (docs/routing.md).

A route names the ``channels`` its alerts go to, the ``matchers`` an alert's labels must
satisfy, how alerts are grouped (``group_by``, ``group_wait``, ``group_interval``,
``repeat_interval``), whether matching goes on past it (``continue``), its child
``routes``, and the named time intervals it sends in (``active_time_intervals``) or not
(``mute_time_intervals``).  A child that leaves a setting out has its parent's, as in
Alertmanager; the time intervals are a route's own (Alertmanager does not pass them on
either).  The tree is walked in ``tether.monitor.alerts._routes``.

A time interval is Alertmanager's ``<time_interval>``: a name and a list of specs, each
of ``times``, ``weekdays``, ``days_of_month``, ``months``, ``years`` and ``location``; an
instant is inside the interval when, read on the wall clock of the spec's ``location``,
it satisfies every field one of its specs gives.  The specs are parsed here into plain
ranges, so that reading them needs no parsing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from tether._suggest import did_you_mean
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import (
    Interval,
    Name,
    Names,
    Reminder,
    TimeZone,
    _to_seconds,
    one_or_many,
)
from tether.monitor.config.labels._labels import LABEL_NAME, MatcherList

__all__ = [
    "GROUP_ALL",
    "WEEKDAYS",
    "RouteConfig",
    "TimeInterval",
    "TimeIntervals",
    "TimeRange",
    "TimeSpec",
    "check_routes",
]

GROUP_ALL: Final = "..."
"""``group_by: ['...']``: every label, so each distinct alert is a group of its own."""

WEEKDAYS: Final = (
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
)
"""Alertmanager's order (sunday is 0): a range runs forward in it, ``monday:friday``."""
MONTHS: Final = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

Span = tuple[int, int]
"""An inclusive range: ``(1, 5)`` for ``monday:friday`` or ``1:5``."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- time intervals --------------------------------------------------------------------

_CLOCK: Final = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")


def _minutes(value: object) -> int:
    """``"09:30"`` as minutes after midnight; ``"24:00"`` (the end of the day) is 1440."""
    found = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise fail(f'{show(value)} is not a time of day: write HH:MM in quotes, as "09:00"')
    minutes = int(found.group(1)) * 60 + int(found.group(2))
    if minutes > 24 * 60:
        raise fail(f"{show(value)} is past the end of the day: 24:00 is the latest")
    return minutes


Clock = Annotated[int, BeforeValidator(_minutes)]


class TimeRange(_Section):
    """``{start_time: "09:00", end_time: "17:00"}``: from the start's minute, inclusive,
    to the end's, exclusive (Alertmanager's ``times``), in minutes after midnight."""

    start_time: Clock
    end_time: Clock

    @model_validator(mode="after")
    def _in_order(self) -> TimeRange:
        if self.start_time >= self.end_time:
            raise fail(
                "start_time must be before end_time: a range across midnight is two, "
                'as [{start_time: "22:00", end_time: "24:00"}, '
                '{start_time: "00:00", end_time: "06:00"}]'
            )
        return self


@dataclass(frozen=True, slots=True)
class _Field:
    """How one field of a spec is written: its words (if any), its numbers, an example."""

    what: str
    names: tuple[str, ...]
    low: int
    high: int
    example: str
    order: str
    negative: bool = False

    def one(self, text: str) -> int:
        word = text.strip().lower()
        if word in self.names:
            return self.names.index(word) + self.low
        if self.names and not self.high:  # weekdays go by name alone, as Alertmanager's
            hint = did_you_mean(word, self.names)
            raise fail(f"{show(text)} is not {self.what}{hint or ': write e.g. ' + self.example}")
        try:
            number = int(word)
        except ValueError:
            hint = did_you_mean(word, self.names) if self.names else ""
            raise fail(
                f"{show(text)} is not {self.what}: write e.g. {self.example}{hint}"
            ) from None
        if not self.low <= (abs(number) if self.negative else number) <= self.high:
            sign = f" (or -{self.high} to -1 from the end)" if self.negative else ""
            raise fail(f"{show(text)} is out of range: {self.low} to {self.high}{sign}")
        return number

    def spans(self, value: object) -> tuple[Span, ...]:
        items = one_or_many(value)
        if not isinstance(items, list | tuple):
            raise fail(f"{show(value)} is not a list: write e.g. [{self.example}]")
        out: list[Span] = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise fail(f"{show(item)} is not {self.what}: write e.g. {self.example}")
            parts = str(item).split(":")
            if len(parts) > 2:
                raise fail(f"{show(item)} is not a range: write start:end, as {self.example}")
            begin, end = self.one(parts[0]), self.one(parts[-1])
            if _ordinal(begin) > _ordinal(end):
                raise fail(f"{show(item)} ends before it begins: {self.order}")
            out.append((begin, end))
        return tuple(out)


def _ordinal(day: int) -> int:
    """A value for ordering a range: a day counted from the month's end (-1, the last)
    comes after 30, as Alertmanager orders them; it catches blatant mistakes alone."""
    return day if day >= 0 else 31 + day


_WEEKDAY = _Field(
    "a day of the week",
    WEEKDAYS,
    0,
    0,
    "monday:friday",
    "weeks run sunday to saturday, as Alertmanager's; write saturday:sunday as [saturday, sunday]",
)
_DAY = _Field(
    "a day of the month",
    (),
    1,
    31,
    "'1:7' or '-1'",
    "write the earlier day first (-1 is the month's last day)",
    negative=True,
)
_MONTH = _Field(
    "a month",
    MONTHS,
    1,
    12,
    "january:march",
    "write the earlier month first; december:january is [december, january]",
)
_YEAR = _Field("a year", (), 1, 9999, "'2026:2027'", "write the earlier year first")

Weekdays = Annotated[tuple[Span, ...], BeforeValidator(_WEEKDAY.spans)]
DaysOfMonth = Annotated[tuple[Span, ...], BeforeValidator(_DAY.spans)]
Months = Annotated[tuple[Span, ...], BeforeValidator(_MONTH.spans)]
Years = Annotated[tuple[Span, ...], BeforeValidator(_YEAR.spans)]


class TimeSpec(_Section):
    """One of a time interval's specs; a field left out (or empty) admits every value."""

    times: Annotated[tuple[TimeRange, ...], BeforeValidator(one_or_many)] = ()
    weekdays: Weekdays = ()
    """Alertmanager's numbers: sunday 0 to saturday 6."""
    days_of_month: DaysOfMonth = ()
    """1 to 31, or -31 to -1 counted from the month's end (-1 is its last day)."""
    months: Months = ()
    years: Years = ()
    location: TimeZone = "UTC"
    """The IANA time zone whose wall clock the spec reads."""


def _some_specs(value: tuple[TimeSpec, ...]) -> tuple[TimeSpec, ...]:
    if not value:
        raise fail("is empty: give at least one spec, e.g. [{weekdays: [saturday, sunday]}]")
    return value


class TimeInterval(_Section):
    """A named time interval (Alertmanager's ``time_intervals:`` entry)."""

    name: Name
    time_intervals: Annotated[tuple[TimeSpec, ...], AfterValidator(_some_specs)]


TimeIntervals = Annotated[tuple[TimeInterval, ...], BeforeValidator(one_or_many)]
"""The file's ``time_intervals:`` (null: none)."""


# -- routes ------------------------------------------------------------------------------


def _group_by(value: object) -> tuple[str, ...]:
    items = one_or_many(value)
    if not isinstance(items, list | tuple):
        raise fail(f"{show(value)} is not a list of label names: write e.g. [incident, team]")
    seen: dict[str, int] = {}
    for j, name in enumerate(items):
        if name == GROUP_ALL:
            if len(items) > 1:
                raise fail("'...' groups by every label: it cannot be listed with others")
            continue
        if not isinstance(name, str) or not LABEL_NAME.fullmatch(name):
            raise fail(f"{show(name)} is not a label name (or '...' for every label)")
        if name in seen:
            raise fail(f"{show(name)} is listed twice (at [{seen[name]}] and [{j}])")
        seen[name] = j
    return tuple(items)


def _wait(value: object) -> float:
    if not isinstance(value, bool) and value in (0, "0"):  # Alertmanager's "0"
        return 0.0
    return _to_seconds(value)


GroupBy = Annotated[tuple[str, ...], BeforeValidator(_group_by)]
GroupWait = Annotated[float, BeforeValidator(_wait)]


class RouteConfig(_Section):
    """A node of the route tree; ``None`` is "as the parent's" (the root's defaults are
    in ``tether.monitor.alerts._routes.DEFAULT_GROUPING``)."""

    channels: Names = ()
    matchers: MatcherList = ()
    group_by: GroupBy | None = None
    group_wait: GroupWait | None = None
    group_interval: Interval | None = None
    repeat_interval: Reminder | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[RouteConfig, ...] = ()
    active_time_intervals: Names = ()
    mute_time_intervals: Names = ()


# -- across the file ------------------------------------------------------------------


def check_routes(
    root: RouteConfig | None,
    intervals: tuple[TimeInterval, ...],
    channels: list[str],
) -> list[Problem]:
    """What the models cannot see: interval names once each, a root that sends somewhere
    and selects everything, and channels and intervals that exist."""
    errors: list[Problem] = []
    first: dict[str, int] = {}
    for i, interval in enumerate(intervals):
        if interval.name in first:
            errors.append(
                (
                    ("time_intervals", i, "name"),
                    f"{show(interval.name)} is already the name of "
                    f"time_intervals[{first[interval.name]}]; each needs its own",
                )
            )
        first.setdefault(interval.name, i)
    if root is None:
        return errors
    at: KeyPath = ("routes",)
    if not root.channels:
        errors.append(((*at, "channels"), _ROOT_CHANNELS))
    for key in ("matchers", "active_time_intervals", "mute_time_intervals"):
        if getattr(root, key):
            errors.append(((*at, key), _ROOT_ALL[key]))
    if root.continue_:
        errors.append(((*at, "continue"), "the root route has no sibling to go on to"))
    errors += _walk(root, at, channels, list(first))
    return errors


_ROOT_CHANNELS: Final = (
    "the root route sends every alert no other route takes: name at least one channel, "
    "as channels: [ops]"
)
_ROOT_ALL: Final[Mapping[str, str]] = {
    "matchers": "the root route takes every alert: put matchers on a child route",
    "active_time_intervals": "the root route always takes alerts: put time intervals on "
    "a child route",
    "mute_time_intervals": "the root route always takes alerts: put time intervals on "
    "a child route",
}


def _walk(
    route: RouteConfig, at: KeyPath, channels: list[str], intervals: list[str]
) -> list[Problem]:
    errors: list[Problem] = []
    for j, name in enumerate(route.channels):
        if name not in channels:
            hint = did_you_mean(name, channels) or "; define it under alerts"
            errors.append(((*at, "channels", j), f"no alert channel named {show(name)}{hint}"))
    for key in ("active_time_intervals", "mute_time_intervals"):
        for j, name in enumerate(getattr(route, key)):
            if name not in intervals:
                hint = did_you_mean(name, intervals) or "; define it under time_intervals"
                errors.append(((*at, key, j), f"no time interval named {show(name)}{hint}"))
    for i, child in enumerate(route.routes):
        errors += _walk(child, (*at, "routes", i), channels, intervals)
    return errors
