"""What a status page's subscribers are told (engine/_status_news.py), held to properties
over random incidents, updates and maintenance: each piece of news once, nothing before it
happened, one message per update, and news once told never taken back as time goes on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.status_news_draws import T0, incidents, maintenance, times
from tether.monitor.engine._status_news import (
    IncidentShown,
    MaintenanceShown,
    StatusNews,
    news_of,
)


@settings(max_examples=200, deadline=None, database=None)
@given(incidents(), maintenance(), times, st.floats(0, 86400.0))
def test_news_is_told_once_never_early_and_never_taken_back(
    told: list[IncidentShown], planned: list[MaintenanceShown], now: float, later: float
) -> None:
    """Every key once, nothing dated after ``now``, one piece per update that has happened,
    an opening and a resolution each once; at a later time every piece told before is
    still there (but a maintenance's announcement, which is made before it begins)."""
    news = news_of("public", "Shop", told, planned, now)
    keys = [n.key for n in news]
    assert len(keys) == len(set(keys))
    assert all(n.at <= now for n in news)
    assert [n.at for n in news] == sorted(n.at for n in news)
    for i in told:
        mine = [n for n in news if n.incident == i.incident]
        assert sum(n.event == "incident.opened" for n in mine) == (i.opened <= now)
        done = i.resolved is not None and i.resolved <= now
        assert sum(n.event == "incident.resolved" for n in mine) == done
        assert sum(n.event == "incident.update" for n in mine) == sum(
            u.at <= now for u in i.updates
        )
    for m in planned:
        mine = {n.event for n in news if n.key.startswith(f"maintenance:{m.key}:")}
        assert ("maintenance.scheduled" in mine) == (now < m.start)
        assert ("maintenance.started" in mine) == (m.start <= now)
        assert ("maintenance.ended" in mine) == (m.end <= now)
    after = {n.key for n in news_of("public", "Shop", told, planned, now + later)}
    kept = {n.key for n in news if n.event != "maintenance.scheduled"}
    assert kept <= after


def test_a_piece_of_news_round_trips_through_its_stored_json() -> None:
    """What the store keeps of a piece of news reads back as the same value."""
    n = StatusNews(
        "incident:1:update:7",
        T0,
        "incident.update",
        "public",
        "Shop",
        "Identified: x",
        "words",
        1,
        "identified",
    )
    assert StatusNews.from_json(n.to_json()) == n
