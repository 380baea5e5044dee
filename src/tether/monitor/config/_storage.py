"""Where the monitor keeps its history, and for how long (``storage:``); and the check
of those retentions against what reads the history back (issue 44 §7).

Every table that grows with time has a retention here, applied by the store's prune
(``store/_retention.py``, whose table says which key keeps which rows, and what is never
deleted).  The defaults follow Alertmanager's and Prometheus's reasoning: what only
delivery needs (the outbox's delivered alerts, expired silences) is kept a short while
past its use, longer than Alertmanager's 120 h because a person reads it back in the
dashboard; what reports read back (incidents, maintenance windows) as long as the
roll-ups they are shown beside; the audit log a year, as an access log is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final

from pydantic import AfterValidator, BeforeValidator, Field

from tether._durations import format_duration
from tether.monitor.config._base import _Model
from tether.monitor.config._errors import KeyPath, Problem, fail
from tether.monitor.config._fields import Dsn, PositiveDuration, _duration
from tether.monitor.config._objectives import ObjectiveConfig

__all__ = ["RETENTION_MINIMUM", "Storage", "check_retention"]

_DAY: Final = 86400.0

RETENTION_MINIMUM: Final = 3600.0
"""The shortest retention of alerts, silences, incidents and audit entries: an hour, so
that what a restart reads back (the alerts of the last 10 minutes a channel may still
fire, the claims of alerts in delivery) is never pruned from under it, and a typo
(``1s``) cannot empty the dashboard's history."""


def _at_least_an_hour(seconds: float) -> float:
    if seconds < RETENTION_MINIMUM:
        raise fail(f"{format_duration(seconds)} is too short: the minimum is 1h")
    return seconds


Retention = Annotated[float, BeforeValidator(_duration), AfterValidator(_at_least_an_hour)]
"""How long a kind of history is kept: a duration of an hour or more."""


class Storage(_Model):
    """Where results, incidents and the alert outbox are kept, and for how long."""

    path: Annotated[str, Field(min_length=1)] = "tether.db"
    """The SQLite database file."""
    postgres: Dsn | None = None
    """A PostgreSQL URL to use instead of SQLite."""
    raw_retention: PositiveDuration = 7 * _DAY
    """Seconds raw results are kept."""
    rollup_retention: PositiveDuration = 365 * _DAY
    """Seconds the per-hour and per-day roll-ups are kept (per-minute ones go with raw results)."""
    alert_retention: Retention = 30 * _DAY
    """Seconds an alert stays in the outbox after it was delivered, or kept back by a
    silence or a muted route.  An alert not yet delivered, and every alert of an open
    incident, are kept whatever their age."""
    silence_retention: Retention = 30 * _DAY
    """Seconds a silence is kept after it ended or was expired."""
    incident_retention: Retention | None = None
    """Seconds a resolved incident (its timeline, members and membership history) and a
    maintenance window opened at run time are kept after they ended; by default as long
    as ``rollup_retention``.  An open incident is kept whatever its age."""
    audit_retention: Retention = 365 * _DAY
    """Seconds an entry of the audit log is kept."""
    spill: Annotated[str, Field(min_length=1)] | None = None
    """The file results wait in while the database cannot be written, past what memory
    holds: by default the SQLite file's name plus ``.spill``, or, with PostgreSQL,
    ``$XDG_STATE_HOME/tether/postgres-HASH.spill`` (``~/.local/state`` by default)."""

    @property
    def incidents_kept(self) -> float:
        """Seconds resolved incidents and ended windows are kept (``incident_retention``,
        else ``rollup_retention``)."""
        kept = self.incident_retention
        return self.rollup_retention if kept is None else kept


def check_retention(storage: Storage, objectives: Sequence[ObjectiveConfig]) -> list[Problem]:
    """What an ``incident_retention`` would take from under a reader: an objective's report
    and burn-down read the incidents and maintenance windows of its whole window back.
    (Left unset, it follows ``rollup_retention``, which the objectives' own roll-ups need
    as long.)"""
    kept = storage.incident_retention
    longest = max(objectives, key=lambda o: o.window, default=None)
    if kept is None or longest is None or longest.window <= kept:
        return []
    at: KeyPath = ("storage", "incident_retention")
    index = list(objectives).index(longest)
    window = format_duration(longest.window)
    return [
        (
            at,
            f"{format_duration(kept)} keeps resolved incidents and maintenance windows for "
            f"less than objectives[{index}].window ({window}), whose reports read them back "
            "over the whole window: keep them at least as long",
        )
    ]
