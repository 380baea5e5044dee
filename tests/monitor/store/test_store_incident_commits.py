"""An incident change and the alerts it sends are one write: both land, both wait, or
neither, on SQLite and PostgreSQL.

Before, opening an incident and queueing each of its alerts were separate commits, so a
``kill -9`` between them left an incident whose members say "alerted" with no alert
queued, and nobody was ever told.  Refusals are made real with a trigger or a check
constraint on the outbox; the outage with a PostgreSQL server of the test's own,
halted and resumed.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.helpers.alert_payloads import opened, resolved
from tests.helpers.incident_rows import one_member
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.stores import open_target, schema_of
from tether.monitor._records import Alert, Incident, TimelineEntry
from tether.monitor.store import PostgresStore, Store, StoreError

T0 = 1_700_000_000.0


def incident(store: Store) -> Incident:
    return one_member(store, T0)


def alerts(dedup: str, *channels: str, back: bool = False) -> list[Alert]:
    payload = resolved() if back else opened()
    return [Alert(channel, dedup, payload) for channel in channels]


def queued(store: Store) -> list[tuple[str, str]]:
    """Every alert queued, delivered or not, as (channel, dedup), oldest first."""
    out: list[tuple[str, str]] = []
    while heads := store.alert_heads():
        for head in heads:
            out.append((head.channel, head.dedup))
            store.mark_delivered(head.id, T0)
    return out


def test_an_incident_and_its_alerts_are_written_together(target: str) -> None:
    """Opening writes the incident and queues its alerts; a later change adds its entry,
    resolution and members and queues its own; an alert a channel already has is left
    out without failing the rest."""
    with open_target(target) as store:
        new = incident(store)
        store.commit_incident(new, alerts("1:open", "ops", "mail"), T0, opened=True)
        store.flush()
        assert store.incident(new.id) == new
        back = TimelineEntry(T0 + 60, "resolved", "api is back up")
        done = Incident(
            new.id,
            new.key,
            new.kind,
            new.detail,
            new.hint,
            new.opened,
            resolved=T0 + 60,
            monitors=("api",),
            timeline=(*new.timeline, back),
            members={},
        )
        store.commit_incident(
            done,
            [*alerts("1:open", "ops"), *alerts("1:back", "ops", back=True)],
            T0 + 60,
            entry=back,
        )
        store.flush()
        assert store.incident(new.id) == done
        assert store.incidents(open_only=True) == []
        assert queued(store) == [("ops", "1:open"), ("mail", "1:open"), ("ops", "1:back")]


def refuse_alerts_to(target: str, channel: str, server: PostgresServer | None) -> None:
    """Make the database refuse any alert queued for ``channel``."""
    if server is not None:
        server.execute(
            f"ALTER TABLE {schema_of(target)}.outbox ADD CONSTRAINT refused "
            f"CHECK (channel <> '{channel}')"
        )
        return
    conn = sqlite3.connect(target)
    conn.execute(
        "CREATE TRIGGER refused BEFORE INSERT ON outbox "
        f"WHEN NEW.channel = '{channel}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    conn.commit()
    conn.close()


def test_an_incident_whose_alert_is_refused_is_not_written_either(
    target: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """The database refuses one of an opening's alerts: the whole write is refused (and
    said so in the log, naming the incident), not an incident without its alerts; the
    next incident goes through."""
    server = request.getfixturevalue("postgres_server") if target.startswith("postgresql") else None
    with open_target(target) as store:
        refuse_alerts_to(target, "broken", server)
        first = incident(store)
        store.commit_incident(first, alerts("1:open", "ops", "broken"), T0, opened=True)
        store.flush()
        said = [r.getMessage() for r in caplog.records]
        refused = [m for m in said if m.startswith("store: the database refused")]
        assert len(refused) == 1
        assert f"refused a change of incident #{first.id}, left out" in refused[0]
        assert store.incident(first.id) is None
        assert store.alert_heads() == []
        assert store.health().refused == 1
        second = incident(store)
        store.commit_incident(second, alerts("2:open", "ops"), T0, opened=True)
        store.flush()
        assert [i.id for i in store.incidents()] == [second.id]
        assert queued(store) == [("ops", "2:open")]


def test_an_incident_and_its_alerts_are_held_together_while_postgres_is_stopped(
    own_postgres: PostgresServer,
) -> None:
    """With the server stopped, an opening and a resolution return at once, each held as
    one write (a flush says the server is away); once the server is back, the incident and
    all three alerts are there, in order."""
    with PostgresStore(own_postgres.dsn(), retry_min=0.0, retry_max=0.0) as store:
        new = incident(store)
        own_postgres.halt()
        store.commit_incident(new, alerts("1:open", "ops", "mail"), T0, opened=True)
        with pytest.raises(StoreError):
            store.flush()
        assert store.health().held_writes == 1
        back = TimelineEntry(T0 + 60, "resolved", "api is back up")
        done = Incident(
            new.id,
            new.key,
            new.kind,
            new.detail,
            new.hint,
            new.opened,
            resolved=T0 + 60,
            monitors=("api",),
            timeline=(*new.timeline, back),
        )
        store.commit_incident(done, alerts("1:back", "ops", back=True), T0 + 60, entry=back)
        with pytest.raises(StoreError):
            store.flush()
        assert store.health().held_writes == 2
        assert not store.health().up
        own_postgres.resume()
        store.flush()
        assert store.health().up
        assert store.incident(new.id) == done
        assert queued(store) == [("ops", "1:open"), ("mail", "1:open"), ("ops", "1:back")]
