"""``Store.acknowledgements()``: what a running monitor reads each second to take the
acknowledgements made with ``tether ack`` or the write API, the same on SQLite and on a
real PostgreSQL (``[sqlite]``, ``[postgres]``: see tests/monitor/store/test_store.py).  It
says which open incidents are acknowledged and when, and nothing else: a mass outage's
incident of thousands of monitors costs this read no more than an incident of one."""

from __future__ import annotations

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import Incident, Member, TimelineEntry

T0 = 1_700_000_000.0


def opened(incident_id: int, monitors: tuple[str, ...]) -> Incident:
    detail = f"connection refused on {monitors[0]}"
    return Incident(
        incident_id,
        f"host:{monitors[0]}",
        Kind.CONNECT_REFUSED,
        detail,
        "start it",
        T0,
        monitors=monitors,
        timeline=(TimelineEntry(T0, "opened", detail),),
        members={m: Member(T0, alerted=True) for m in monitors},
    )


def test_only_open_acknowledged_incidents_are_listed_with_their_time(target: str) -> None:
    """Open and acknowledged: listed with when.  Open and not acknowledged, resolved after
    its acknowledgement, or none at all: not listed."""
    with open_target(target) as store:
        assert store.acknowledgements() == {}
        big = opened(store.new_incident_id(), tuple(f"m{i}" for i in range(2000)))
        quiet = opened(store.new_incident_id(), ("q",))
        over = opened(store.new_incident_id(), ("o",))
        for incident in (big, quiet, over):
            store.open_incident(incident)
        assert store.acknowledgements() == {}
        assert store.acknowledge_incident(big.id, TimelineEntry(T0 + 5, "acknowledged", "by a"))
        assert store.acknowledge_incident(over.id, TimelineEntry(T0 + 6, "acknowledged", "by b"))
        assert store.acknowledgements() == {big.id: T0 + 5, over.id: T0 + 6}
        store.note_incident(
            over.id, TimelineEntry(T0 + 9, "resolved", "o is back"), resolved=T0 + 9
        )
        assert store.acknowledgements() == {big.id: T0 + 5}
    with open_target(target) as store:  # read back by a new store: it is in the database
        assert store.acknowledgements() == {big.id: T0 + 5}
