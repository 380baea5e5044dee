"""What subscribers are told, held to issue 73's promises over random incidents, updates
and maintenance (engine/_status_news.py): one "Resolved" per incident, the monitors'
(items 5), and every maintenance notice says when (item 3)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.status_news_draws import T0, incidents, maintenance, times
from tether.monitor.engine._status_news import (
    IncidentShown,
    MaintenanceShown,
    moment,
    news_of,
)


@settings(max_examples=200, deadline=None, database=None)
@given(incidents(), times, st.floats(0, 86400.0))
def test_one_resolved_subject_per_incident_whatever_the_team_posts(
    told: list[IncidentShown], now: float, later: float
) -> None:
    """However many ``resolved`` updates a team posts, before or after the monitors are
    back: at most one message per incident has a subject starting "Resolved", the
    resolution's, and no two messages of an incident share a subject and a moment."""
    for at in (now, now + later):
        news = news_of("public", "Shop", told, [], at)
        for i in told:
            mine = [n for n in news if n.incident == i.incident]
            resolved = [n for n in mine if n.subject.startswith("Resolved")]
            assert [n.event for n in resolved] == ["incident.resolved"] * len(resolved)
            assert len(resolved) == (i.resolved is not None and i.resolved <= at)


@settings(max_examples=200, deadline=None, database=None)
@given(maintenance(), st.floats(T0 - 86400.0, T0 + 2 * 86400.0))
def test_every_maintenance_notice_gives_its_start_and_end(
    planned: list[MaintenanceShown], now: float
) -> None:
    """Announced, begun or over: the text gives the window's start and end as the page
    shows them, and the subject says when too."""
    for n in news_of("public", "Shop", [], planned, now):
        (m,) = [m for m in planned if n.key.startswith(f"maintenance:{m.key}:")]
        assert n.text == f"{m.text}, from {moment(m.start)} to {moment(m.end)}."
        assert moment(m.end) in n.subject
