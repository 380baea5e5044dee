"""``tether.monitor.config._cron``: weekly schedules (``MINUTE HOUR * * DAYS``) read, and the last
start at or before a time found.  Pure: every time is given."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from tether.monitor.config._cron import Cron, parse_cron

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SUN, MON, TUE, WED, THU, FRI, SAT = range(7)


@pytest.mark.parametrize(
    ("text", "minutes", "hours", "days"),
    [
        ("0 2 * * sun", (0,), (2,), {SUN}),
        ("30 2 * * mon-fri", (30,), (2,), {MON, TUE, WED, THU, FRI}),
        ("*/15 * * * *", (0, 15, 30, 45), tuple(range(24)), set(range(7))),
        ("0,30 1-3 * * 0", (0, 30), (1, 2, 3), {SUN}),
        ("0 0 * * 7", (0,), (0,), {SUN}),  # 7 is Sunday too, as in cron
        ("5 0 * * 5-7", (5,), (0,), {FRI, SAT, SUN}),
        ("0-30/10 12 * * Sat,Monday", (0, 10, 20, 30), (12,), {SAT, MON}),
        ("0 */6 * * *", (0,), (0, 6, 12, 18), set(range(7))),
        ("0 20/2 * * *", (0,), (20, 22), set(range(7))),  # a step from a number runs on
    ],
)
def test_parse_cron(
    text: str, minutes: tuple[int, ...], hours: tuple[int, ...], days: set[int]
) -> None:
    """Numbers, names, ranges, steps and lists, sorted; days 0 and 7 are both Sunday."""
    assert parse_cron(text) == Cron(minutes, hours, frozenset(days))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "0 2 * *",
            '"0 2 * *" is not a weekly schedule: write MINUTE HOUR * * DAYS, as in 0 2 * * sun',
        ),
        ("0 25 * * *", '"0 25 * * *": hour "25" is not from 0 to 23'),
        ("60 1 * * *", '"60 1 * * *": minute "60" is not from 0 to 59'),
        ("0 1 * * funday", '"0 1 * * funday": day of week "funday" is not from 0 to 7'),
        ("0 1 * * 8", '"0 1 * * 8": day of week "8" is not from 0 to 7'),
        ("x 1 * * *", '"x 1 * * *": minute "x" is not from 0 to 59'),
        ("² 1 * * *", '"² 1 * * *": minute "²" is not from 0 to 59'),
        (
            "0 2 1 * *",
            '"0 2 1 * *": a maintenance schedule repeats weekly, '
            "so day of month and month must be *",
        ),
        (
            "0 2 * 6 *",
            '"0 2 * 6 *": a maintenance schedule repeats weekly, '
            "so day of month and month must be *",
        ),
        ("50-10 2 * * *", '"50-10 2 * * *": the range "50-10" runs backwards'),
        ("*/0 2 * * *", '"*/0 2 * * *": the step in "*/0" must be at least 1'),
    ],
)
def test_parse_cron_says_what_is_wrong(text: str, message: str) -> None:
    """Each mistake names the schedule as written, then the field and its range."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_cron(text)


def test_parse_cron_quotes_a_long_schedule_short_and_masks_secrets() -> None:
    """The schedule is shown as messages show any value: redacted, then cut."""
    with pytest.raises(ValueError, match=r"^\"http://u:\*\*\*@h/x\" is not a weekly schedule"):
        parse_cron("http://u:hunter2@h/x")
    shown = '"every sunday at two in the morning, for the backups of …"'
    with pytest.raises(ValueError, match=f"^{re.escape(shown)} is not a weekly schedule"):
        parse_cron("every sunday at two in the morning, for the backups of the database")


def at(day: int, hour: int, minute: int = 0, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    """A time in the week of Sunday 2025-07-06 (day 0) to Saturday 2025-07-12 (day 6)."""
    return dt.datetime(2025, 7, 6 + day, hour, minute, tzinfo=zone)


def test_last_start_is_the_latest_start_at_or_before() -> None:
    """The start itself counts; a start a minute later does not."""
    cron = parse_cron("0 2 * * sun")
    assert cron.last_start(at(SUN, 2), within=3600) == at(SUN, 2)
    assert cron.last_start(at(SUN, 2, 59), within=3600) == at(SUN, 2)
    assert cron.last_start(at(SUN, 1, 59), within=3600) is None


def test_last_start_looks_back_over_midnight() -> None:
    """A start late on Sunday is found early on Monday."""
    cron = parse_cron("0 23 * * sun")
    assert cron.last_start(at(MON, 0, 30), within=7200) == at(SUN, 23)


def test_last_start_looks_back_only_as_far_as_it_is_asked() -> None:
    """Beyond ``within`` (and a day more), an older start is not searched for."""
    cron = parse_cron("0 2 * * sun")
    assert cron.last_start(at(WED, 2), within=3600) is None
    assert cron.last_start(at(WED, 2), within=3 * 86400) == at(SUN, 2)


def test_last_start_picks_the_latest_of_many() -> None:
    """With several hours and minutes, the latest one not after the time."""
    cron = parse_cron("0,30 1-3 * * *")
    assert cron.last_start(at(TUE, 2, 45), within=3600) == at(TUE, 2, 30)
    assert cron.last_start(at(TUE, 0, 10), within=86400) == at(MON, 3, 30)


def test_last_start_is_in_the_zone_of_the_time_given() -> None:
    """The start keeps the zone of ``local``: 02:00 in Paris is 00:00 UTC in summer."""
    start = parse_cron("0 2 * * sun").last_start(at(SUN, 3, zone=PARIS), within=3600)
    assert start == at(SUN, 2, zone=PARIS)
    assert start is not None
    assert start.astimezone(dt.UTC) == at(SUN, 0)


def test_parsed_schedules_are_shared() -> None:
    """The same text parses to the same frozen value, once."""
    assert parse_cron("0 2 * * sun") is parse_cron("0 2 * * sun")
    with pytest.raises(AttributeError):
        parse_cron("0 2 * * sun").hours = (3,)  # type: ignore[misc]
