"""What agents do not run of their assignments (issue 44, section 3), as the server takes
it: every batch may list the monitors its agent does not run and why
(``Batch.cannot_run``: a monitor its tether's model refuses, a check it lacks the extra
for, a file it names that is not on the agent's machine).  The intake keeps each
location's last list on its agent's row (``/api/agents``, the dashboard,
``tether_agent_monitors_not_run``); here each change of it is said in the log and
alerted to the monitor's channels, once per episode:

- ``agent.skipped`` when an agent begins not running a monitor assigned to it;
- ``agent.running`` when it runs it again, or the monitor is no longer placed there.

A list counts only when it is about the assignment the server holds now for the
location: one about an older assignment (the agent has not yet fetched the new one)
changes nothing.  An episode is known by the agent's ``since``, which the agent keeps
across its restarts: the alerts' dedup keys are made of it, so two instances of a
cluster that each take a batch saying the same queue one alert per channel.  An older
agent says nothing (``cannot_run`` is None): its row says "not said", and nothing alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from tether._redact import redact_text, redact_url
from tether.monitor._agent_wire import NotRun
from tether.monitor._records import AlertPayload
from tether.monitor.runtime._monitor_terms import incident_routes

if TYPE_CHECKING:
    from tether.monitor.alerts import Outbox
    from tether.monitor.config import Monitor, MonitorConfig
    from tether.monitor.engine.incidents._events import IncidentRoute

__all__ = ["RUNNING", "SKIPPED", "NotRunAlerts", "not_run_changes"]

log = logging.getLogger("tether.monitor")

SKIPPED: Final = "agent.skipped"
"""The event of a monitor an agent began not running."""
RUNNING: Final = "agent.running"
"""The event of a monitor an agent runs again (or that is no longer placed there)."""


def not_run_changes(
    old: tuple[NotRun, ...] | None, new: tuple[NotRun, ...]
) -> tuple[list[NotRun], list[NotRun]]:
    """What began and what ended from ``old`` to ``new`` (by monitor: a monitor in both is
    the same episode, whatever its reason now)."""
    before = {n.monitor: n for n in old or ()}
    after = {n.monitor: n for n in new}
    began = [n for name, n in after.items() if name not in before]
    ended = [n for name, n in before.items() if name not in after]
    return began, ended


def _payload(
    event: str,
    location: str,
    n: NotRun,
    m: Monitor | None,
    text: str,
    since: float | None,
    now: float,
) -> AlertPayload:
    labels = dict(m.labels) if m is not None else {}
    labels["location"] = location  # tether's own label: no monitor's labels may take it
    return AlertPayload(
        event=event,
        monitor=n.monitor,
        text=text,
        at=now,
        url=None if m is None else redact_url(m.url),
        detail=redact_text(n.why),
        hint=(
            "install what it names on the agent's machine, or run there the tether version "
            "the server runs (docs/agents.md)"
            if event == SKIPPED
            else ""
        ),
        since=since,
        labels=labels,
    )


class NotRunAlerts:
    """The log lines and alerts of what the agents do not run."""

    def __init__(self, outbox: Callable[[], Outbox]) -> None:
        self._outbox = outbox
        self._routes: Mapping[str, IncidentRoute] = {}
        self._monitors: Mapping[str, Monitor] = {}

    def configure(self, config: MonitorConfig) -> None:
        """Take ``config``'s monitors and their routes (at start and on reload)."""
        self._routes = incident_routes(config)
        self._monitors = {m.name: m for m in config.monitors}

    def began(self, location: str, n: NotRun, offset: float, now: float) -> None:
        """The agent at ``location`` began not running ``n.monitor`` (``offset``: the
        server's clock minus the agent's, to place its ``since``)."""
        log.warning(
            "agent at %s does not run %s: %s",
            location,
            n.monitor,
            redact_text(n.why),
            extra={"event": SKIPPED, "location": location, "monitor": n.monitor},
        )
        text = f"{n.monitor} is not checked from {location}: its agent cannot run it: {n.why}"
        self._queue(SKIPPED, location, n, text, n.since + offset, now)

    def ended(self, location: str, n: NotRun, now: float, *, placed: bool = True) -> None:
        """The agent at ``location`` runs ``n.monitor`` again (``placed``), or the monitor
        is no longer placed there."""
        what = "runs it again" if placed else "is no longer placed there"
        log.info(
            "agent at %s: %s %s",
            location,
            n.monitor,
            "runs again" if placed else "is no longer placed there",
            extra={"event": RUNNING, "location": location, "monitor": n.monitor},
        )
        text = (
            f"{n.monitor} is checked from {location} again: its agent {what}"
            if placed
            else f"{n.monitor} {what} ({location}): its agent no longer has to run it"
        )
        self._queue(RUNNING, location, n, text, None, now)

    def _queue(
        self, event: str, location: str, n: NotRun, text: str, since: float | None, now: float
    ) -> None:
        m = self._monitors.get(n.monitor)
        route = self._routes.get(n.monitor)
        if route is None:
            return
        payload = _payload(event, location, n, m, redact_text(text), since, now)
        # The agent's own since, unplaced: the same on every instance of a cluster.
        dedup = f"{event} {location} {n.monitor} {n.since:.3f}"
        outbox = self._outbox()
        for channel in route.channels_for(event):
            if channel in outbox.channels:  # checked with the file; a reload may race it
                outbox.post(channel, dedup, payload, now)
