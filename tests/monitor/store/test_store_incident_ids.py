"""Incident ids on PostgreSQL shared by several instances: a new leader never hands out
an id an earlier one did, and the leader still opens incidents while the server is away.

Each instance is a store of its own on one database (or a server of the test's own, to
halt); leadership is who calls ``reserve_incident_ids``.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers.postgres_server import PostgresServer
from tether._kinds import Kind
from tether.monitor._records import Incident, TimelineEntry
from tether.monitor.store import PostgresStore

T0 = 1_700_000_000.0


def opened(incident_id: int) -> Incident:
    return Incident(
        incident_id,
        f"key:{incident_id}",
        Kind.CONNECT_REFUSED,
        "refused",
        "start it",
        T0,
        monitors=("api",),
        timeline=(TimelineEntry(T0, "opened", "refused"),),
    )


def test_a_new_leader_never_reuses_an_id_an_old_one_handed_out(postgres_dsn: str) -> None:
    """The first leader opens one incident and hands out two more ids whose incidents
    never reach the database (held, then lost with the process); the next leader, which
    cannot know of them, hands out none of those, nor any the first one had reserved."""
    with PostgresStore(postgres_dsn) as first, PostgresStore(postgres_dsn) as second:
        first.reserve_incident_ids()
        handed = [first.new_incident_id() for _ in range(3)]
        first.open_incident(opened(handed[0]))
        reserved = set(first._reserve)
        second.reserve_incident_ids()
        taken = [second.new_incident_id() for _ in range(20)]
    assert handed == sorted(handed)
    assert not set(taken) & (set(handed) | reserved)
    assert min(taken) > max(reserved)
    assert len(set(taken)) == 20


def test_leaders_reserving_at_once_get_disjoint_ids(postgres_dsn: str) -> None:
    """Four stores reserving at the same moment (a moment of two leaders, or a test of
    the lock) get ids no two of them share."""
    stores = [PostgresStore(postgres_dsn) for _ in range(4)]
    barrier = threading.Barrier(4)

    def lead(store: PostgresStore) -> list[int]:
        barrier.wait(timeout=10)
        store.reserve_incident_ids()
        return [store.new_incident_id() for _ in range(16)]

    try:
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lead, stores))
    finally:
        for store in stores:
            store.close()
    every = [i for ids in got for i in ids]
    assert len(every) == len(set(every)) == 64


def test_ids_counted_before_leading_are_skipped_by_the_sequence(postgres_dsn: str) -> None:
    """A store that never reserved counts on from the highest id stored, as a lone tether
    always did; once it reserves, the sequence goes on past what it counted, and another
    store reserving after sees the incidents stored and starts past them too."""
    with PostgresStore(postgres_dsn) as lone:
        counted = [lone.new_incident_id() for _ in range(3)]
        assert counted == [1, 2, 3]
        for n in counted:
            lone.open_incident(opened(n))
        lone.reserve_incident_ids()
        assert lone.new_incident_id() == 4
    with PostgresStore(postgres_dsn) as later:
        later.reserve_incident_ids()
        assert later.new_incident_id() > 4


def test_a_leader_opens_incidents_from_its_reserve_while_the_server_is_away(
    own_postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The reserve is topped up in the background once half of it is used; with the
    server halted the leader goes on handing out reserved ids (rising, none twice)
    without counting on its own, and past the reserve it counts on and says so once."""
    caplog.set_level(logging.WARNING, logger="tether.monitor")
    with PostgresStore(own_postgres.dsn(), retry_min=0.0, retry_max=0.0) as store:
        store.reserve_incident_ids()
        ids = [store.new_incident_id() for _ in range(9)]  # below half: a refill goes
        store.flush()  # ... and has landed
        assert len(store._reserve) == 16
        own_postgres.halt()
        ids += [store.new_incident_id() for _ in range(16)]
        assert "counting on" not in caplog.text
        ids += [store.new_incident_id() for _ in range(3)]
        own_postgres.resume()
    assert ids == sorted(set(ids))
    assert caplog.text.count("no incident id left in reserve") == 1
