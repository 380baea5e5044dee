"""Maintenance windows: once or weekly, in their time zone, across midnight and DST, and
their mistakes."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest

from tests.helpers.config_text import URL, dump, errors_of
from tether.monitor.config import MonitorConfig, parse_config

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def window_config(**window: Any) -> MonitorConfig:
    return parse_config(
        dump(
            {"name": "a", "url": URL},
            {"name": "b", "url": URL},
            maintenance=[{"name": "w", **window}],
        )
    )


def at(text: str, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


def test_one_off_window_is_start_inclusive_end_exclusive() -> None:
    """A start/end window covers [start, end) and every monitor when none is listed."""
    config = window_config(start="2025-07-01T22:00:00Z", end="2025-07-02T01:00:00Z")
    window = config.maintenance[0]
    assert [
        window.active(at(t))
        for t in ("2025-07-01 21:59", "2025-07-01 22:00", "2025-07-02 00:59", "2025-07-02 01:00")
    ] == [
        False,
        True,
        True,
        False,
    ]
    assert config.in_maintenance("a", at("2025-07-01 23:00"))
    assert config.in_maintenance("b", at("2025-07-01 23:00"))


def test_naive_times_are_read_in_the_window_timezone() -> None:
    """A start without an offset is local time in `timezone`, stored timezone-aware."""
    window = window_config(
        start="2025-07-01 22:00", end="2025-07-01 23:00", timezone="Europe/Paris"
    ).maintenance[0]
    assert window.start == at("2025-07-01 20:00")
    assert window.active(at("2025-07-01 20:30"))
    assert not window.active(at("2025-07-01 22:30"))


def test_weekly_window_in_its_timezone() -> None:
    """`30 2 * * mon-fri` for 1h covers 02:30-03:30 Paris time on weekdays only."""
    config = window_config(
        schedule="30 2 * * mon-fri", duration="1h", timezone="Europe/Paris", monitors=["a"]
    )
    window = config.maintenance[0]
    cases = {
        "2025-07-07 02:29": False,  # Monday
        "2025-07-07 02:30": True,
        "2025-07-07 03:29": True,
        "2025-07-07 03:30": False,
        "2025-07-06 02:45": False,  # Sunday
        "2025-07-08 02:45": True,
    }
    assert {t: window.active(at(t, PARIS)) for t in cases} == cases
    assert config.in_maintenance("a", at("2025-07-07 02:45", PARIS))
    assert not config.in_maintenance("b", at("2025-07-07 02:45", PARIS))


def test_weekly_window_across_midnight_and_with_steps() -> None:
    """A window runs past midnight into the next day; `*/15` starts every quarter hour."""
    late = window_config(schedule="0 23 * * sun", duration="2h").maintenance[0]
    assert late.active(at("2025-07-07 00:30"))  # Monday, from Sunday's start
    assert not late.active(at("2025-07-07 01:00"))
    quarter = window_config(schedule="*/15 * * * *", duration="5m").maintenance[0]
    assert [quarter.active(at(f"2025-07-07 10:{m:02d}")) for m in (3, 7, 16, 44, 45)] == [
        True,
        False,
        True,
        False,
        True,
    ]


def test_weekly_window_lasts_its_duration_across_a_dst_change() -> None:
    """A 3h window starting 01:00 on the spring-forward night ends at 05:00 local (3 real hours)."""
    window = window_config(
        schedule="0 1 * * sun", duration="3h", timezone="Europe/Paris"
    ).maintenance[0]
    assert window.active(at("2025-03-30 04:30", PARIS))
    assert not window.active(at("2025-03-30 05:00", PARIS))


def test_active_needs_an_aware_datetime() -> None:
    """A naive datetime is refused rather than guessed."""
    window = window_config(schedule="0 1 * * *", duration="1h").maintenance[0]
    with pytest.raises(ValueError, match="timezone-aware"):
        window.active(dt.datetime(2025, 7, 1, 1, 30))


@pytest.mark.parametrize(
    ("window", "error"),
    [
        (
            {"schedule": "0 2 * *", "duration": "1h"},
            'maintenance[0].schedule: "0 2 * *" is not a weekly schedule: '
            "write MINUTE HOUR * * DAYS, as in 0 2 * * sun",
        ),
        (
            {"schedule": "0 25 * * *", "duration": "1h"},
            'maintenance[0].schedule: "0 25 * * *": hour "25" is not from 0 to 23',
        ),
        (
            {"schedule": "0 2 1 * *", "duration": "1h"},
            'maintenance[0].schedule: "0 2 1 * *": a maintenance schedule repeats weekly, '
            "so day of month and month must be *",
        ),
        (
            {"schedule": "0 2 * * funday", "duration": "1h"},
            'maintenance[0].schedule: "0 2 * * funday": day of week "funday" is not from 0 to 7',
        ),
        (
            {"schedule": "50-10 2 * * *", "duration": "1h"},
            'maintenance[0].schedule: "50-10 2 * * *": the range "50-10" runs backwards',
        ),
        (
            {"schedule": "*/0 2 * * *", "duration": "1h"},
            'maintenance[0].schedule: "*/0 2 * * *": the step in "*/0" must be at least 1',
        ),
        (
            {"schedule": "0 2 * * *", "duration": "8d"},
            "maintenance[0].duration: 8d is more than a week",
        ),
        ({"schedule": "0 2 * * *"}, "maintenance[0].duration: is required"),
        ({"start": "2025-07-01T00:00:00Z"}, "maintenance[0].end: is required"),
        (
            {},
            "maintenance[0]: give start and end (once), or schedule and duration (weekly)",
        ),
        (
            {"start": "2025-07-01T00:00:00Z", "duration": "1h"},
            "maintenance[0]: give start and end, or schedule and duration, not both",
        ),
        (
            {"start": "2025-07-02T00:00:00Z", "end": "2025-07-01T00:00:00Z"},
            "maintenance[0].end: 2025-07-01T00:00:00+00:00 is not after start "
            "(2025-07-02T00:00:00+00:00)",
        ),
        (
            {"start": "soon", "end": "2025-07-01T00:00:00Z"},
            'maintenance[0].start: "soon" is not a date and time, as in 2025-07-01T22:00:00Z',
        ),
        (
            {"schedule": "0 2 * * *", "duration": "1h", "timezone": "Mars/Base"},
            'maintenance[0].timezone: "Mars/Base" is not a time zone, as in UTC or Europe/Paris',
        ),
        (
            # A name past the file system's limit: the tzdata package's loader raises
            # OSError (ENAMETOOLONG) for it, which is this key's error too (issue 70).
            {"schedule": "0 2 * * *", "duration": "1h", "timezone": "Europe/" + "x" * 300},
            'maintenance[0].timezone: "Europe/' + "x" * 48 + '…" is not a time zone, '
            "as in UTC or Europe/Paris",
        ),
        (
            {"schedule": "0 2 * * *", "duration": "1h", "monitors": ["a", "c"]},
            'maintenance[0].monitors[1]: no monitor named "c"; define it under monitors',
        ),
    ],
)
def test_maintenance_window_error(window: dict[str, Any], error: str) -> None:
    """A maintenance window reports its schedule, times, zone and monitors precisely."""
    text = dump({"name": "a", "url": URL}, maintenance=[{"name": "w", **window}])
    assert errors_of(text) == [error]
