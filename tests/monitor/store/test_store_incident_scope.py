"""An incident whose scope changes (issue 73 item 9: partial, full, partial again) is
stored as it is now: its key written with each change, its membership history telling
its partial stints from the others, and carried on after a restart in the scope it was
in; on SQLite and PostgreSQL, through the writer's merged batches.  The engine's events
are written as the runner writes them (``commit_incidents``); real databases, nothing
mocked."""

from __future__ import annotations

import pytest

from tests.helpers.partial_world import World
from tests.helpers.stores import open_target
from tether.monitor._records import Incident, stints
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.runtime._decided import commit_incidents
from tether.monitor.store.postgres import _store as pg
from tether.monitor.store.sqlite import _store as sqlite_store


def _world() -> World:
    return World(("local", "branch-1"))


def _scope(incident: Incident | None) -> tuple[object, ...] | None:
    """What an engine holds of an incident, its timeline left out (the engine keeps only
    its opening line; the store, every line)."""
    if incident is None:
        return None
    return (incident.id, incident.key, incident.kind, incident.detail, dict(incident.members))


def test_each_scope_is_stored_and_carried_on_after_a_restart(target: str) -> None:
    """Partial, then full, then partial: after each change the stored incident has the
    engine's key, kind and detail, and an engine started from the store (a restart, a new
    leader) finds it where the running one had it."""
    with open_target(target) as store:
        w = _world()
        steps = [
            lambda: w.cut("local"),
            lambda: w.cut("branch-1"),
            lambda: w.mend("local"),
            lambda: w.cut("local"),
        ]
        for step in steps:
            commit_incidents(store, step(), w.now)
            store.flush()
            (running,) = w.e.open_incidents()
            stored = store.incident(running.id)
            assert stored is not None
            assert (stored.key, stored.kind, stored.detail, stored.hint) == (
                running.key,
                running.kind,
                running.detail,
                running.hint,
            )
            assert dict(stored.members) == dict(running.members)
            again = IncidentEngine(
                w.e.routes, lambda: 99, incidents=store.incidents(open_only=True)
            )
            assert _scope(again.partial_of("api")) == _scope(w.e.partial_of("api"))
            assert _scope(again.incident_of("api")) == _scope(w.e.incident_of("api"))
        commit_incidents(store, w.mend("local"), w.now)
        commit_incidents(store, w.mend("branch-1"), w.now)
        store.flush()
        (done,) = store.incidents()
        assert done.resolved == w.now
        assert done.is_partial
        spans = stints(store.membership([done.id])[done.id])["api"]
        assert [s.why for s in spans] == ["partial", "down", "partial", "down", "partial"]
        assert [s.left for s in spans] == ["down", "partial", "down", "partial", "up"]


def test_a_batch_of_rescoped_incidents_is_written_as_each_change_alone(target: str) -> None:
    """Several incidents changing scope in one batch of the writer (PostgreSQL writes
    their headers in one statement): each keeps its own key."""
    with open_target(target) as store:
        worlds = [_world() for _ in range(3)]
        ids = iter(range(1, 100))
        for w in worlds:
            w.e.new_id = ids.__next__
            commit_incidents(store, w.cut("local"), w.now)
        store.flush()
        for w in worlds:  # queued together, flushed once
            commit_incidents(store, w.cut("branch-1"), w.now)
        commit_incidents(store, worlds[1].mend("local"), worlds[1].now)
        store.flush()
        for w in worlds:
            (running,) = w.e.open_incidents()
            stored = store.incident(running.id)
            assert stored is not None
            assert stored.key == running.key
        assert [store.incident(i).key for i in (1, 2, 3)] == [  # type: ignore[union-attr]
            "host:api.example.com:connect.timeout",
            "partial:api",
            "host:api.example.com:connect.timeout",
        ]


def test_schema_19_marks_the_stints_of_partial_incidents_written_before(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database of schema 18 holds a partial incident whose monitor joined it "down"
    (as every join was written then) and a full one: migrated, the partial one's stint is
    ``partial`` (a status page does not tell it), the full one's is still ``down``."""
    with monkeypatch.context() as patch:
        patch.setattr(pg, "MIGRATIONS", pg.MIGRATIONS[:18])
        patch.setattr(sqlite_store, "MIGRATIONS", sqlite_store.MIGRATIONS[:18])
        with open_target(target) as store:
            partial, full = World(("local", "branch-1")), World(("local",))
            full.e.new_id = iter(range(2, 9)).__next__
            commit_incidents(store, partial.cut("local"), partial.now)
            commit_incidents(store, full.cut("local"), full.now)
            store.flush()
            store._call(  # type: ignore[attr-defined]
                lambda conn: store._execute(conn, "UPDATE incident_membership SET why = 'down'")  # type: ignore[attr-defined]
            )
    with open_target(target) as store:
        moves = store.membership([1, 2])
    assert [(m.event, m.why) for m in moves[1]] == [("joined", "partial")]
    assert [(m.event, m.why) for m in moves[2]] == [("joined", "down")]
