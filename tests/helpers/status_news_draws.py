"""Random status pages' incidents, updates and maintenance, for the properties of what
subscribers are told (tests/monitor/engine/test_status_news.py, test_status_news_told.py)."""

from __future__ import annotations

from hypothesis import strategies as st

from tether.monitor.engine._status_news import (
    STATES,
    IncidentShown,
    MaintenanceShown,
    UpdateShown,
)

__all__ = ["T0", "incidents", "maintenance", "times"]

T0 = 1_800_000_000.0
times = st.floats(T0, T0 + 86400.0)


@st.composite
def incidents(draw: st.DrawFn) -> list[IncidentShown]:
    out = []
    for number in range(1, draw(st.integers(0, 5)) + 1):
        opened = draw(times)
        resolved = draw(st.none() | st.floats(opened, T0 + 86400.0))
        ups = tuple(
            UpdateShown(
                number * 100 + i,
                draw(st.floats(opened, T0 + 86400.0)),
                draw(st.sampled_from(STATES)),
                f"update {i}",
            )
            for i in range(draw(st.integers(0, 4)))
        )
        out.append(IncidentShown(number, opened, resolved, f"Checkout #{number}", ups))
    return out


@st.composite
def maintenance(draw: st.DrawFn) -> list[MaintenanceShown]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(times)
        out.append(
            MaintenanceShown(f"m{i}", start, draw(st.floats(start + 1, start + 7200)), f"M{i}")
        )
    return out
