"""The agents that report to this monitor (``tether agent``), as ``/metrics`` exports them,
``GET /api/agents`` lists them and the dashboard warns of their clocks: read when asked
from the runtime's agent intake (``runtime/agents/_intake.py``) through :class:`AgentsView`.

    tether_agent_up{location}                           1 while its agent reported within the lease
    tether_agent_last_report_timestamp_seconds{location} the server's clock at its last word
    tether_agent_clock_offset_seconds{location}         the server's clock minus the agent's
    tether_agent_results_total{location}                checks taken from it
    tether_agent_late_results_total{location}           of those, stored but too late to detect on
    tether_agent_dropped_total{location}                checks its spool dropped, as it said
    tether_agent_skipped_results_total{location}        checks of a monitor not placed there
    tether_agent_monitors_not_run{location}             monitors placed there its agent says it
                                                        does not run (only agents that say)
    tether_agent_duplicate_batches_total                batches sent again, taken once
    tether_agent_polls_open                             assignment long polls held open now

The banner every page shows says an agent's clock off, and each agent that does not run
monitors assigned to it (which, and why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from markupsafe import Markup
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tether._durations import format_duration
from tether._plural import and_more, count
from tether._version import __version__
from tether.monitor._agent_wire import PROTOCOL
from tether.monitor.reports._documents import iso
from tether.monitor.store._agents import AgentRow

__all__ = [
    "AgentMetrics",
    "AgentsView",
    "agent_banner",
    "agent_document",
    "clock_notices",
    "not_run_notices",
]

_NAMED: Final = 3
"""Monitors named in a banner line of what an agent does not run; the rest counted."""


@dataclass(frozen=True, slots=True)
class AgentsView:
    """The agent locations now: each one's row, which are live, and the intake's counts."""

    rows: tuple[AgentRow, ...] = ()
    live: frozenset[str] = frozenset()
    duplicates: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)
    max_offset: float = 5.0
    """``agents.max_clock_offset``: an offset beyond it is a warning."""
    polls: int = 0
    """Assignment long polls the server holds open now (released at once on a stop)."""


def agent_document(view: AgentsView) -> dict[str, Any]:
    """``GET /api/agents``: each agent location with its agent, as JSON; ``cannot_run``
    is what it last said it does not run of its assignment (null: it never said, an
    older agent), and this server's own version and protocol are beside them."""
    return {
        "server_version": __version__,
        "protocol": PROTOCOL,
        "agents": [
            {
                "location": row.location,
                "agent": row.agent,
                "version": row.version,
                "last_report": row.last_seen,
                "live": row.location in view.live,
                "clock_offset": row.offset,
                "clock_warning": abs(row.offset) > view.max_offset,
                "results": row.results,
                "late": row.late,
                "dropped": row.dropped,
                "skipped": view.skipped.get(row.location, 0),
                "cannot_run": None
                if row.cannot_run is None
                else [
                    {"monitor": n.monitor, "why": n.why, "since": iso(n.since)}
                    for n in row.cannot_run
                ],
            }
            for row in view.rows
        ],
        "duplicate_batches": view.duplicates,
    }


def clock_notices(view: AgentsView) -> list[str]:
    """The dashboard's lines about agents whose clock is off by more than the bound."""
    return [
        f"The clock of the agent at {row.location} ({row.agent or 'unnamed'}) is "
        f"{format_duration(abs(row.offset))} {'behind' if row.offset > 0 else 'ahead of'} "
        f"this server's (more than {format_duration(view.max_offset)}): its results are "
        "placed on the server's time; set its clock right (NTP)"
        for row in view.rows
        if abs(row.offset) > view.max_offset
    ]


def not_run_notices(view: AgentsView) -> list[str]:
    """The dashboard's lines about agents that do not run monitors assigned to them."""
    out = []
    for row in view.rows:
        if not row.cannot_run:
            continue
        named = [f"{n.monitor} ({n.why})" for n in row.cannot_run[:_NAMED]]
        out.append(
            f"The agent at {row.location} ({row.agent or 'unnamed'}) does not run "
            f"{count(len(row.cannot_run), 'monitor')} assigned to it: "
            f"{and_more(named, len(row.cannot_run))}; they are not checked from "
            f"{row.location} (GET /api/agents lists them all)"
        )
    return out


def agent_banner(view: AgentsView) -> Markup:
    """The banner every page shows while an agent's clock is off, or an agent does not
    run monitors assigned to it (a line each); empty otherwise."""
    lines = clock_notices(view) + not_run_notices(view)
    if not lines:
        return Markup("")
    shown = Markup("").join(Markup("<p>{}</p>").format(line) for line in lines)
    return Markup('<div id="agents" class="banner">{}</div>\n').format(shown)


class AgentMetrics(Collector):
    """The ``tether_agent_*`` families, read from ``view`` when scraped (none while no
    intake is attached)."""

    def __init__(self) -> None:
        self.view: Callable[[], AgentsView] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.view is None:
            return
        view = self.view()
        families: list[tuple[str, str, Callable[[AgentRow], float], bool]] = [
            ("tether_agent_up", "1 while the location's agent reported within its lease",
             lambda r: float(r.location in view.live), False),
            ("tether_agent_last_report_timestamp_seconds",
             "The server's clock at the agent's last batch or poll", lambda r: r.last_seen, False),
            ("tether_agent_clock_offset_seconds",
             "The server's clock minus the agent's, at its last batch", lambda r: r.offset, False),
            ("tether_agent_results", "Checks taken from the location's agent",
             lambda r: float(r.results), True),
            ("tether_agent_late_results",
             "Checks stored but not detected on: they came later than agents.late_after",
             lambda r: float(r.late), True),
            ("tether_agent_dropped", "Checks the agent's spool dropped, as it said",
             lambda r: float(r.dropped), True),
            ("tether_agent_skipped_results",
             "Checks of a monitor not placed at the agent's location, left out",
             lambda r: float(view.skipped.get(r.location, 0)), True),
        ]  # fmt: skip
        for name, doc, value, counter in families:
            family: GaugeMetricFamily | CounterMetricFamily
            if counter:
                family = CounterMetricFamily(name, doc, labels=["location"])
            else:
                family = GaugeMetricFamily(name, doc, labels=["location"])
            for row in view.rows:
                family.add_metric([row.location], value(row))
            yield family
        not_run = GaugeMetricFamily(
            "tether_agent_monitors_not_run",
            "Monitors placed at the location that its agent says it does not run",
            labels=["location"],
        )
        for row in view.rows:
            if row.cannot_run is not None:  # an older agent says nothing
                not_run.add_metric([row.location], float(len(row.cannot_run)))
        yield not_run
        yield CounterMetricFamily(
            "tether_agent_duplicate_batches",
            "Batches sent again by an agent (a lost answer): answered, stored once",
            view.duplicates,
        )
        yield GaugeMetricFamily(
            "tether_agent_polls_open",
            "Agents' assignment long polls held open now (answered at once on a stop)",
            float(view.polls),
        )
