"""The burn-down chart's numbers (web/pages/_objective_pages.py ``burn_chart``), pure: it starts
where the data starts, not weeks of a full budget before monitoring began; its axis stays
readable (never below -100%) however overspent the budget, and says by how much; with
too few checks for a budget it says so instead of drawing -63,000%.  Issue 44 §2 measured
on main a line at 100% for the weeks before the first check, on an axis down to
-63,429%."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.config import parse_config
from tether.monitor.engine.objectives._budget import BudgetLedger, from_config
from tether.monitor.reports.objectives._history import (
    MAX_STEPS,
    STEP,
    History,
    HistoryStep,
    burn_down,
    live_history,
)
from tether.monitor.web.pages._objective_pages import (
    AXIS_FLOORS,
    CHART_WIDTH,
    PLOT_BOTTOM,
    PLOT_TOP,
    burn_chart,
)

END = 1_800_000_000.0
WINDOW = 30 * 86400.0


def history(steps: list[HistoryStep], target: float = 0.999) -> History:
    return History(
        "checkout",
        target,
        "availability",
        END - WINDOW,
        END,
        ("api",),
        tuple(burn_down(steps, target)),
        (),
    )


def points(path: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in path.split())]


def test_the_line_starts_where_the_data_starts() -> None:
    """Two days of checks at the end of a 30-day window: the line runs from the first
    one's hour, at the chart's left, to the window's end; the days before are not drawn
    as a full budget."""
    first = END - 2 * 86400
    steps = [HistoryStep(first + i * STEP, 3600, 3600) for i in range(48)]
    chart = burn_chart(history(steps))
    line = points(chart["path"])
    assert line[0] == (0.0, PLOT_TOP)
    assert line[1][0] == CHART_WIDTH / 48  # the first hour's end
    assert line[-1][0] == CHART_WIDTH
    assert chart["label"].startswith("error budget left from 2027-01-13 08:00 UTC")


def test_an_overspent_budget_is_drawn_on_a_readable_axis() -> None:
    """Ten hours of 1,000 checks, six of them all failed, at 99.9%: a budget of 10
    failures spent 600 times (-59,900% left).  The axis ends at -100% with round ticks,
    the line leaves the chart there, and a note says by how much."""
    steps = [HistoryStep(END - 3600 * (10 - i), 0 if i < 6 else 1000, 1000) for i in range(10)]
    h = history(steps)
    assert round(h.remaining, 6) == -599
    chart = burn_chart(h)
    assert chart["low"] == -1.0
    assert [label for _, label in chart["yticks"]] == ["100%", "50%", "0%", "-50%", "-100%"]
    assert all(PLOT_TOP <= y <= PLOT_BOTTOM for _, y in points(chart["path"]))
    assert chart["note"] is not None
    assert chart["note"].startswith("overspent by 59,900%")
    assert chart["note"].endswith("the line leaves the chart at -100%")


@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=1, max_size=80))
def test_the_axis_is_one_of_the_round_floors_and_holds_the_line(
    counts: list[tuple[int, int]],
) -> None:
    """Whatever the hours hold, the axis ends at 0%, -25%, -50% or -100%, every point is
    inside the plot, and the line's end is the budget left, clipped to the axis."""
    steps = [
        HistoryStep(END - STEP * (len(counts) - i), min(g, t), t) for i, (g, t) in enumerate(counts)
    ]
    h = history(steps, 0.99)
    chart = burn_chart(h)
    assert chart["low"] in AXIS_FLOORS
    assert all(PLOT_TOP <= y <= PLOT_BOTTOM for _, y in points(chart["path"]))
    if chart["end"] is not None:
        share = max(h.remaining, chart["low"])
        expected = PLOT_TOP + (1 - share) / (1 - chart["low"]) * (PLOT_BOTTOM - PLOT_TOP)
        assert abs(chart["end"][1] - expected) < 0.01


def test_too_few_checks_say_so_instead_of_a_line() -> None:
    """54 checks, 19 failed, of a 99.9% objective: a budget of 0.054 failures, spent 350
    times.  No line, no -35,000%: the chart says there are too few checks, since when,
    and how many one failure needs."""
    steps = [HistoryStep(END - 3600, 35, 54)]
    h = history(steps)
    assert h.little_data
    chart = burn_chart(h)
    assert chart["end"] is None
    assert chart["note"] is None
    assert chart["empty"] == (
        "Too few checks for a budget yet: 54 counted since 2027-01-15 07:00 UTC; at "
        "99.900% a single failed one is within budget after 1,000."
    )
    assert chart["label"].endswith(": too few checks: 54 of 1,000 needed")


def test_a_year_of_hours_is_drawn_in_at_most_the_charts_width_and_ends_at_the_figure() -> None:
    """A 1-year objective's 8,762 hour buckets (its ledger's, as the page reads them) are
    merged a few at a time into at most 720 steps, and the line still ends at the budget
    its figure says is left."""
    config = parse_config(
        yaml.safe_dump(
            {
                "monitors": [{"name": "api", "url": "http://127.0.0.1:9/"}],
                "objectives": [
                    {"name": "o", "monitors": ["api"], "target": "99%", "window": "365d"}
                ],
            }
        )
    )
    objective = config.objectives[0]
    ledger = BudgetLedger(from_config(objective))
    for hour in range(365 * 24):
        ledger.record(
            END - (365 * 24 - hour) * 3600 + 1, good=59 if hour % 100 == 0 else 60, total=60
        )
    status = ledger.status(END)
    h = live_history(objective, status, ledger.steps(END), ledger.window_width, ("api",))
    assert len(h.points) <= MAX_STEPS
    assert (h.good, h.total) == status.counts
    assert abs(h.remaining - status.remaining) < 1e-9
    assert burn_chart(h)["end"] is not None
