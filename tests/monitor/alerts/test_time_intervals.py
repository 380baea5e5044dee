"""Time intervals (``alerts/_routes.py``: ``in_spec``, ``in_interval``): an instant is
inside exactly when its wall-clock fields in the spec's zone are, across zones and DST
changes, whatever zone the instant is written in."""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.alerts._routes import in_interval, in_spec
from tether.monitor.config._routes import MONTHS, WEEKDAYS, TimeInterval, TimeSpec

ZONES = (
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",  # a DST change of half an hour
    "America/St_Johns",
    "Asia/Kolkata",
    "Pacific/Chatham",
)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def spec(**fields: Any) -> TimeSpec:
    return TimeSpec.model_validate(fields)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


ranges = st.tuples(st.integers(0, 1439), st.integers(1, 1440)).filter(lambda r: r[0] < r[1])
weekday_spans = st.tuples(st.integers(0, 6), st.integers(0, 6)).map(sorted)
month_spans = st.tuples(st.integers(1, 12), st.integers(1, 12)).map(sorted)
day = st.integers(1, 31) | st.integers(-31, -1)
specs = st.fixed_dictionaries(
    {"location": st.sampled_from(ZONES)},
    optional={
        "times": st.lists(ranges, min_size=1, max_size=2),
        "weekdays": st.lists(weekday_spans, min_size=1, max_size=2),
        "days_of_month": st.lists(st.tuples(day, day), min_size=1, max_size=2),
        "months": st.lists(month_spans, min_size=1, max_size=2),
        "years": st.lists(st.integers(2020, 2030), min_size=1, max_size=2),
    },
).filter(
    lambda s: all(
        (a if a > 0 else 31 + a) <= (b if b > 0 else 31 + b) for a, b in s.get("days_of_month", [])
    )
)
instants = st.datetimes(
    min_value=dt.datetime(2020, 1, 1),
    max_value=dt.datetime(2030, 12, 31),
    timezones=st.sampled_from([zoneinfo.ZoneInfo(z) for z in ZONES]),
)


def written(raw: dict[str, Any]) -> dict[str, Any]:
    """The spec as a user writes it: names, `a:b` ranges, HH:MM times."""
    out: dict[str, Any] = {"location": raw["location"]}
    if "times" in raw:
        out["times"] = [{"start_time": clock(a), "end_time": clock(b)} for a, b in raw["times"]]
    if "weekdays" in raw:
        out["weekdays"] = [f"{WEEKDAYS[a]}:{WEEKDAYS[b]}" for a, b in raw["weekdays"]]
    if "days_of_month" in raw:
        out["days_of_month"] = [f"{a}:{b}" for a, b in raw["days_of_month"]]
    if "months" in raw:
        out["months"] = [f"{MONTHS[a - 1]}:{b}" for a, b in raw["months"]]
    if "years" in raw:
        out["years"] = [str(y) for y in raw["years"]]
    return out


def expected(raw: dict[str, Any], at: dt.datetime) -> bool:
    """The reference: the local wall clock's fields, each read against the sets the
    spec's ranges name (a negative day counted back from the month's last)."""
    local = at.astimezone(zoneinfo.ZoneInfo(raw["location"]))
    minute = local.hour * 60 + local.minute
    name = calendar.day_name[local.weekday()].lower()
    last = calendar.monthrange(local.year, local.month)[1]

    def days(a: int, b: int) -> set[int]:
        first, final = (last + a + 1 if a < 0 else a), (last + b + 1 if b < 0 else b)
        return set(range(max(first, 1), min(final, last) + 1))

    checks = {
        "times": lambda: any(a <= minute < b for a, b in raw["times"]),
        "weekdays": lambda: (
            name in {WEEKDAYS[d] for a, b in raw["weekdays"] for d in range(a, b + 1)}
        ),
        "days_of_month": lambda: (
            local.day in set().union(*(days(a, b) for a, b in raw["days_of_month"]))
        ),
        "months": lambda: local.month in {m for a, b in raw["months"] for m in range(a, b + 1)},
        "years": lambda: local.year in raw["years"],
    }
    return all(check() for key, check in checks.items() if key in raw)


@given(specs, instants)
def test_an_instant_is_inside_exactly_when_its_wall_clock_fields_are(
    raw: dict[str, Any], at: dt.datetime
) -> None:
    """in_spec agrees with the local fields read one by one, in any zone, across DST."""
    assert in_spec(spec(**written(raw)), at) is expected(raw, at)


@given(specs, instants, st.sampled_from(ZONES))
def test_the_zone_an_instant_is_written_in_does_not_matter(
    raw: dict[str, Any], at: dt.datetime, other: str
) -> None:
    """The same instant written in another zone (or UTC) is inside or not alike."""
    parsed = spec(**written(raw))
    assert in_spec(parsed, at) is in_spec(parsed, at.astimezone(zoneinfo.ZoneInfo(other)))


def test_the_hour_repeated_at_autumns_change_is_inside_both_times() -> None:
    """Paris, 25 Oct 2026: 02:30 happens twice (00:30 and 01:30 UTC); both are in
    02:00-03:00, and the hour that follows neither."""
    night = spec(times=[{"start_time": "02:00", "end_time": "03:00"}], location="Europe/Paris")
    utc = [dt.datetime(2026, 10, 25, h, 30, tzinfo=dt.UTC) for h in (0, 1, 2)]
    assert [in_spec(night, t) for t in utc] == [True, True, False]


def test_the_hour_skipped_at_springs_change_is_never_inside() -> None:
    """Paris, 29 Mar 2026: 02:00-03:00 does not happen; 00:59 UTC is 01:59 local, 01:00
    UTC is already 03:00."""
    night = spec(times=[{"start_time": "02:00", "end_time": "03:00"}], location="Europe/Paris")
    at = dt.datetime(2026, 3, 29, 0, 0, tzinfo=dt.UTC)
    minutes = [in_spec(night, at + dt.timedelta(minutes=m)) for m in range(0, 180)]
    assert not any(minutes)


def test_alertmanagers_examples() -> None:
    """The forms its docs show: business hours in a zone, the last week of a month (days
    -7:-1), a range of years, a month by number, and `24:00` as a day's end."""
    business = spec(
        weekdays=["monday:friday"],
        times=[{"start_time": "09:00", "end_time": "17:00"}],
        location="Australia/Sydney",
    )
    sydney = zoneinfo.ZoneInfo("Australia/Sydney")
    assert in_spec(business, dt.datetime(2026, 11, 25, 9, 0, tzinfo=sydney))
    assert not in_spec(business, dt.datetime(2026, 11, 25, 17, 0, tzinfo=sydney))
    assert not in_spec(business, dt.datetime(2026, 11, 28, 10, 0, tzinfo=sydney))  # Saturday
    last_week = spec(days_of_month=["-7:-1"])
    assert in_spec(last_week, dt.datetime(2026, 2, 22, tzinfo=dt.UTC))
    assert not in_spec(last_week, dt.datetime(2026, 2, 21, tzinfo=dt.UTC))
    assert in_spec(
        spec(years=["2025:2027"], months=["12"]), dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    )
    evening = spec(times=[{"start_time": "17:00", "end_time": "24:00"}])
    assert in_spec(evening, dt.datetime(2026, 1, 1, 23, 59, 59, tzinfo=dt.UTC))
    everything = TimeInterval.model_validate({"name": "always", "time_intervals": [{}]})
    assert in_interval(everything, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
