"""What every store keeps and promises: :class:`Store`, the protocol both backends
(SQLite, PostgreSQL) satisfy, made of one protocol per concern, each in its module with
the value types and the row helpers of that concern:

- ``_results.py``: results, roll-ups, state changes, location states, detector state
  (the roll-up maths in ``_rollups.py``);
- ``_outbox.py``: the alert outbox, one queue per channel;
- ``incidents/_sql.py``: incidents (their rows, and the writes that change them, in
  ``incidents/_rows.py``);
- ``_controls.py``: changes made at run time through the write API, and the audit log;
- ``_silences.py``: silences made at run time, and the alerts they kept;
- ``_retention.py``: how long each table's rows are kept, and the prune that deletes the
  rest;
- ``_agents.py``: the agents' batches and rows; ``_screenshots.py``: browser monitors'
  screenshots; ``_instances.py``: the instances on this store and the certificates
  their checks saw (what ``/api/status`` and ``tether status`` read alike);
- ``_values.py``: what they all share (:class:`StoreError`, :class:`StoreHealth`, ...).

The SQL both backends share is written once, per concern, beside the protocol it
implements (``_dialect.py`` says what a backend's dialect supplies to it).  This module
also names every shared value again, so that ``from tether.monitor.store._base import``
keeps finding them.
"""

from __future__ import annotations

from typing import Protocol, Self

from tether.monitor.store._agents import AgentRow, AgentStore
from tether.monitor.store._controls import (
    AUDIT_COLUMNS,
    CONTROL_COLUMNS,
    WINDOW_COLUMNS,
    ControlStore,
    audit_record,
    audit_values,
    controls_of,
    incident_note,
    window_record,
)
from tether.monitor.store._discovered import DiscoveredRow, DiscoveredStore, SourceRow
from tether.monitor.store._instances import CertificateStore, Instance, InstanceStore
from tether.monitor.store._outbox import ALERT_COLUMNS, OutboxStore, queued_alert
from tether.monitor.store._results import (
    LOCATION_COLUMNS,
    RESULT_COLUMNS,
    ResultStore,
    location_row,
    location_values,
    probe_record,
)
from tether.monitor.store._retention import Pruned, Retention, RetentionStore
from tether.monitor.store._rollups import (
    PERIODS,
    TALLY_COLUMNS,
    RollupKey,
    Tally,
    bucket_start,
    merge_tallies,
    tally,
)
from tether.monitor.store._screenshots import ScreenshotStore
from tether.monitor.store._sessions import SessionStore
from tether.monitor.store._silences import SilenceStore, Suppressed
from tether.monitor.store._subscribers import SubscriberStore
from tether.monitor.store._values import (
    Decode,
    Fence,
    LocationRead,
    LocationRow,
    Rollup,
    StoreError,
    StoreHealth,
    instance_id,
    too_new,
)
from tether.monitor.store.incidents._rows import (
    FIRST_READ,
    INCIDENT_COLUMNS,
    LISTED_COLUMNS,
    MEMBERS_KEPT,
    IncidentWrite,
    Listed,
    earliest,
    first_members,
    first_names,
    incident_record,
    incident_write,
    listed_record,
    merged_writes,
    moves_of,
    note_write,
)
from tether.monitor.store.incidents._sql import IncidentStore

__all__ = [
    "ALERT_COLUMNS",
    "AUDIT_COLUMNS",
    "CONTROL_COLUMNS",
    "FIRST_READ",
    "INCIDENT_COLUMNS",
    "LISTED_COLUMNS",
    "LOCATION_COLUMNS",
    "MEMBERS_KEPT",
    "PERIODS",
    "RESULT_COLUMNS",
    "TALLY_COLUMNS",
    "WINDOW_COLUMNS",
    "AgentRow",
    "AgentStore",
    "CertificateStore",
    "ControlStore",
    "Decode",
    "DiscoveredRow",
    "DiscoveredStore",
    "Fence",
    "IncidentStore",
    "IncidentWrite",
    "Instance",
    "InstanceStore",
    "Listed",
    "LocationRead",
    "LocationRow",
    "OutboxStore",
    "Pruned",
    "ResultStore",
    "Retention",
    "RetentionStore",
    "Rollup",
    "RollupKey",
    "SilenceStore",
    "SourceRow",
    "Store",
    "StoreError",
    "StoreHealth",
    "Suppressed",
    "Tally",
    "audit_record",
    "audit_values",
    "bucket_start",
    "controls_of",
    "earliest",
    "first_members",
    "first_names",
    "incident_note",
    "incident_record",
    "incident_write",
    "instance_id",
    "listed_record",
    "location_row",
    "location_values",
    "merge_tallies",
    "merged_writes",
    "moves_of",
    "note_write",
    "probe_record",
    "queued_alert",
    "tally",
    "too_new",
    "window_record",
]


class Store(
    ResultStore,
    OutboxStore,
    IncidentStore,
    ControlStore,
    SilenceStore,
    AgentStore,
    ScreenshotStore,
    RetentionStore,
    InstanceStore,
    CertificateStore,
    DiscoveredStore,
    SubscriberStore,
    SessionStore,
    Protocol,
):
    """The monitor's history: results, roll-ups, state changes, the alert outbox,
    incidents and detector state, each kept for its retention (:meth:`prune`).

    Writes are serialised by one writer; :meth:`record`, :meth:`record_state` and
    :meth:`save_state` are batched, every other write is committed before it returns.
    While the database cannot be written, the writes of results, state changes,
    alerts and incidents are held and written once it can (see :meth:`health`);
    reads and other writes raise :class:`StoreError`.  Times are passed in (Unix
    seconds), never read.
    """

    def flush(self) -> None:
        """Wait until everything queued so far is committed and the hour's and the day's
        roll-ups folded (StoreError while the database cannot be written: what is queued
        is held, not lost)."""

    def health(self) -> StoreHealth:
        """How writing goes: up or holding, and the figures behind it."""

    def close(self) -> None:
        """Commit what is queued and release the database."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
